"""NormalizedEvent: the one shape every ingest path (seed JSON, Sentry envelope, Sentry store) produces.

Grouping, analysis and the dashboard read only this shape; the raw client payload is kept beside it
in `error_events.payload`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

LEVELS = ("fatal", "error", "warning", "info", "debug")
# The free-form parts of `NormalizedEvent.request` (the rest is the request line and headers).
REQUEST_TREES = ("data", "env", "cookies")


@dataclass
class Frame:
    """One stack frame; frames are ordered caller first, the last one is where it raised."""

    filename: str | None = None
    abs_path: str | None = None
    module: str | None = None
    function: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool | None = None
    context_line: str | None = None
    pre_context: list[str] = field(default_factory=list)
    post_context: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    # Processing's notes, as Sentry keeps them: a frame resolved through a source map has
    # {"sourcemap": the map's URL, "resolved_with": "debug_id" | "release", "minified": the frame's
    # fields as the SDK sent them} (app/sourcemaps/resolve.py); empty otherwise.
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExceptionInfo:
    """One exception of a chain; chains are ordered oldest (the cause) first."""

    type: str | None = None
    value: str | None = None
    module: str | None = None
    mechanism_type: str | None = None
    handled: bool | None = None
    synthetic: bool = False
    frames: list[Frame] = field(default_factory=list)


@dataclass
class NormalizedEvent:
    """An error event in the form the rest of Faultline works with."""

    event_id: str  # 32 lowercase hex characters, no dashes
    timestamp: datetime
    platform: str = "other"
    level: str = "error"
    message: str | None = None
    # The unformatted message (logentry.message, e.g. "order %s failed"): grouping prefers it.
    message_template: str | None = None
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    fingerprint: list[str] | None = None
    status_code: int | None = None
    logger: str | None = None
    transaction: str | None = None
    server_name: str | None = None
    release: str | None = None
    dist: str | None = None
    environment: str | None = None
    request: dict[str, Any] = field(default_factory=dict)  # method, url, path, headers, query_string, data
    user: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    breadcrumbs: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    sdk: dict[str, Any] = field(default_factory=dict)
    # What processing changed or could not use, in the shape of Sentry's event `errors`
    # ({"type": "past_timestamp", "name": "timestamp", "value": "0001-01-01T00:00:00Z"}).
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (timestamps as ISO 8601), stored in `error_events.data`."""
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalizedEvent:
        """Inverse of `to_dict`."""
        values = dict(data)
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        values["exceptions"] = [
            ExceptionInfo(**{**exc, "frames": [Frame(**f) for f in exc.get("frames", [])]})
            for exc in values.get("exceptions", [])
        ]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def is_error(self) -> bool:
        return self.level in ("error", "fatal")

    @property
    def needs_analysis(self) -> bool:
        """What gets analysed: status >= 500, or no status code and level error/fatal."""
        if self.status_code is not None:
            return self.status_code >= 500
        return self.is_error
