"""Builders for the events the heuristic analyser's unit tests feed it."""

from __future__ import annotations

from datetime import UTC, datetime

from app.events.model import ExceptionInfo, Frame, NormalizedEvent


def frame(filename: str, function: str, lineno: int, context_line: str | None = None) -> Frame:
    return Frame(filename=filename, function=function, lineno=lineno, context_line=context_line, in_app=True)


def exc(
    type_: str, value: str, *, module: str | None = None, frames: tuple[Frame, ...] = ()
) -> ExceptionInfo:
    return ExceptionInfo(type=type_, value=value, module=module, frames=list(frames))


def event(
    message: str | None = None,
    *exceptions: ExceptionInfo,
    status: int | None = 500,
    method: str = "GET",
    path: str | None = "/api/orders",
    level: str = "error",
    logger: str | None = None,
    extra: dict | None = None,
) -> NormalizedEvent:
    return NormalizedEvent(
        event_id="0" * 32,
        timestamp=datetime(2024, 1, 15, 12, 0, tzinfo=UTC),
        message=message,
        exceptions=list(exceptions),
        status_code=status,
        level=level,
        logger=logger,
        request={"method": method, "path": path} if path else {},
        extra=extra or {},
    )
