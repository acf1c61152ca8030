"""`compute_grouping`: an event's fingerprint (which issue it belongs to), title and culprit.

The fingerprint comes from a released, never-edited grouping version (v1.py …); the title and
culprit are only what an issue is labelled with, so they may improve without moving any event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from app.events.model import Frame, NormalizedEvent
from app.grouping import v1, v2

CURRENT_VERSION = v2.GROUPING_VERSION
VERSIONS: dict[str, Callable[[NormalizedEvent], list[str]]] = {
    v1.GROUPING_VERSION: v1.components,
    v2.GROUPING_VERSION: v2.components,
}
MAX_TITLE = 255
MAX_CULPRIT = 255


@dataclass(frozen=True)
class Grouping:
    """Which issue an event belongs to (fingerprint, under a grouping version) and how to label it."""

    fingerprint: str  # sha256 hex of the components
    version: str
    components: list[str] = field(default_factory=list)  # human-readable, for debugging
    title: str = ""
    culprit: str = ""


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hash_components(components: list[str]) -> str:
    """sha256 hex of the components (JSON-encoded, so no two lists share a hash by concatenation)."""
    return hashlib.sha256(json.dumps(components, ensure_ascii=False).encode("utf-8")).hexdigest()


def event_title(event: NormalizedEvent) -> str:
    """ "Type: value" of the exception finally raised, else the message, else the route."""
    for exc in reversed(event.exceptions):
        value = (exc.value or "").strip()
        if exc.type and value:
            return _shorten(f"{exc.type}: {value}", MAX_TITLE)
        if exc.type or value:
            return _shorten(exc.type or value, MAX_TITLE)
    message = event.message or event.message_template
    if message and message.strip():
        return _shorten(message, MAX_TITLE)
    return _shorten(event.transaction or _route(event) or "<unlabeled event>", MAX_TITLE)


def _route(event: NormalizedEvent) -> str:
    path = event.request.get("path") or event.request.get("url")
    if not isinstance(path, str) or not path:
        return ""
    method = event.request.get("method")
    return f"{method} {path}" if isinstance(method, str) and method else path


def _raising_frame(frames: list[Frame]) -> Frame | None:
    for frame in reversed(frames):
        if frame.in_app is True:
            return frame
    return frames[-1] if frames else None


def event_culprit(event: NormalizedEvent) -> str:
    """ "module in function" of the frame that raised (in-app if any), else transaction, else route."""
    for exc in reversed(event.exceptions):
        frame = _raising_frame(exc.frames)
        if frame is None:
            continue
        location = frame.module or frame.filename or frame.abs_path
        function = frame.function
        if location and function:
            return _shorten(f"{location} in {function}", MAX_CULPRIT)
        if location or function:
            return _shorten(location or function or "", MAX_CULPRIT)
    return _shorten(event.transaction or _route(event) or event.logger or "", MAX_CULPRIT)


def compute_grouping(event: NormalizedEvent, version: str = CURRENT_VERSION) -> Grouping:
    """The grouping of `event` under `version` (the current one unless asked)."""
    components = VERSIONS[version](event)
    return Grouping(
        fingerprint=hash_components(components),
        version=version,
        components=components,
        title=event_title(event),
        culprit=event_culprit(event),
    )
