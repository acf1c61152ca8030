"""The access log: one compact line per HTTP request, written by every web worker.

    2026-12-06 20:31:07,114 pid=4242 INFO access: POST /api/1/envelope/ 429 1.8ms project=1 in=2218
    out=58 "project rate limit exceeded"   (one line in the log)

Time and process id come from the log format (app/logging_setup.py). The query string is scrubbed by
the same policy as events (app/privacy): `sentry_key=…`, `token=…` are written as `[Filtered]`.
Every 4xx and 5xx line ends with the reason the client was given (the `detail` of the JSON answer);
successful lines can be sampled (ACCESS_LOG_SUCCESS_SAMPLE), so a log under load stays readable
while every refusal is in it.
"""

from __future__ import annotations

import logging
import random
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.privacy import redact_text

logger = logging.getLogger("access")

_REASON_BYTES = 2048  # enough of an error answer to find its detail
_MAX_REASON_CHARS = 200


def filtered_query(query: str) -> str:
    """The query string with credentials filtered by the scrubbing policy (app/privacy), as in events."""
    return redact_text(query) if query else ""


def error_reason(body: bytes) -> str | None:
    """The `detail` of a JSON error answer, on one line; None if there is none."""
    try:
        detail = orjson.loads(body).get("detail")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    if detail is None:
        return None
    text = detail if isinstance(detail, str) else orjson.dumps(detail).decode()
    return " ".join(text.split())[:_MAX_REASON_CHARS]


class AccessLog:
    """ASGI middleware writing the access log line of each HTTP request."""

    def __init__(self, app: ASGIApp, success_sample: float = 1.0) -> None:
        self.app = app
        self.success_sample = success_sample

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        received = sent = 0
        error_body = bytearray()

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def watching_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                sent += len(body)
                if status >= 400 and len(error_body) < _REASON_BYTES:
                    error_body.extend(body[: _REASON_BYTES - len(error_body)])
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        finally:
            if status >= 400 or status == 0 or self._sampled():
                elapsed_ms = (time.perf_counter() - started) * 1000
                self._write(scope, status, elapsed_ms, received, sent, bytes(error_body))

    def _sampled(self) -> bool:
        return self.success_sample >= 1 or (self.success_sample > 0 and random.random() < self.success_sample)

    @staticmethod
    def _write(
        scope: Scope, status: int, elapsed_ms: float, received: int, sent: int, error_body: bytes
    ) -> None:
        query = filtered_query(scope.get("query_string", b"").decode("latin-1"))
        path = scope["path"] + (f"?{query}" if query else "")
        project = scope.get("state", {}).get("project_id")
        line = (
            f"{scope['method']} {path} {status or '-'} {elapsed_ms:.1f}ms "
            f"project={project if project is not None else '-'} in={received} out={sent}"
        )
        reason = error_reason(error_body) if error_body else None
        if status == 0:
            reason = "no answer was sent"
        if reason:
            line += f' "{reason}"'
        logger.info("%s", line)
