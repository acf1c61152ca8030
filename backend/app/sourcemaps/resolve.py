"""Resolving minified JavaScript frames through source maps (pure: the maps are handed in).

Which map a frame needs (`wanted_maps`, read from the payload as the SDK sent it): the debug id the
event's `debug_meta.images` give the frame's file (`{"type": "sourcemap", "code_file": URL,
"debug_id": …}`, from `sentry-cli sourcemaps inject`), else, for an event with a release, the file's
`~/path` URLs (an upload made with `--release`). app/sourcemaps/lookup.py finds those maps.

`resolve_event` then rewrites each frame it has a map for with symbolic's SourceMapCache (the
Rust parser Sentry uses; given the minified source as well it knows the scope around a position,
so the function is the original enclosing one, not the identifier at the position): original
file, line, column, function, source lines from the map's `sourcesContent`, and in_app (a library
under node_modules is not). The frame's minified fields are kept in `frame.data["minified"]`, so it
can be resolved afresh (app/sourcemaps/reprocess.py) and shown as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from symbolic.sourcemapcache import SourceMapCache

from app.events.model import Frame, NormalizedEvent
from app.events.text import MAX_LINE, MAX_NAME, MAX_PATH, capped
from app.sourcemaps.archive import canonical_debug_id

CONTEXT_LINES = 5
MINIFIED_FIELDS = ("filename", "abs_path", "module", "function", "lineno", "colno", "in_app", "context_line")
# Names a scope lookup may give that say nothing (Sentry's list, less the empty name).
_USELESS_FUNCTIONS = frozenset(("<anonymous>", "__webpack_require__", "__webpack_modules__"))
_SOURCE_PREFIX = re.compile(r"^(?:webpack|webpack-internal|rollup|vite|file):(?://[^/]*)?/|^(?:\.\.?/)+")
_LIBRARY = ("node_modules/", "/~/", "webpack/bootstrap", "(webpack)/")


@dataclass(frozen=True)
class ParsedMap:
    """A source map parsed with its minified source, and the URL it was uploaded as."""

    url: str
    cache: SourceMapCache


def parse_map(minified: bytes, sourcemap: bytes, url: str) -> ParsedMap | None:
    """The parsed map of a minified file; None when symbolic cannot read it."""
    try:
        return ParsedMap(url, SourceMapCache.from_bytes(minified, sourcemap))
    except Exception:  # symbolic raises its own error types for any malformed map
        return None


@dataclass
class MapWants:
    """The maps an event's frames need: by debug id, else by `~/` URL within its release."""

    release: str | None
    dist: str | None
    debug_ids: dict[str, str] = field(default_factory=dict)  # frame location -> debug id
    urls: dict[str, list[str]] = field(default_factory=dict)  # frame location -> candidate URLs

    def __bool__(self) -> bool:
        return bool(self.debug_ids or self.urls)


def frame_location(frame: dict[str, Any] | Frame) -> str | None:
    """The file a frame ran in, as the SDK names it (browser SDKs put the URL in `filename`)."""
    get = frame.get if isinstance(frame, dict) else frame.__dict__.get
    for key in ("abs_path", "filename"):
        value = get(key)
        if isinstance(value, str) and value:
            return value[:MAX_PATH]
    return None


def release_urls(location: str) -> list[str]:
    """The URLs a file may have been uploaded as with `--release`: "~/path", then the URL itself."""
    without_query = location.split("#", 1)[0].split("?", 1)[0]
    parts = urlsplit(without_query)
    path = parts.path if parts.scheme else without_query
    urls = []
    if path.startswith("/"):
        urls.append("~" + path)
    urls.append(without_query)
    return list(dict.fromkeys(urls))


def _payload_frames(payload: dict[str, Any]) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    exception = payload.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    for exc in values if isinstance(values, list) else []:
        stacktrace = exc.get("stacktrace") if isinstance(exc, dict) else None
        listed = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
        if isinstance(listed, list):
            frames.extend(f for f in listed if isinstance(f, dict))
    return frames


def _debug_images(payload: dict[str, Any]) -> dict[str, str]:
    """code_file -> debug id of the event's source-map images."""
    meta = payload.get("debug_meta")
    images = meta.get("images") if isinstance(meta, dict) else None
    found = {}
    for image in images if isinstance(images, list) else []:
        if not isinstance(image, dict) or image.get("type") != "sourcemap":
            continue
        debug_id = canonical_debug_id(image.get("debug_id"))
        code_file = image.get("code_file")
        if debug_id and isinstance(code_file, str) and code_file:
            found[code_file[:MAX_PATH]] = debug_id
    return found


def _position(value: Any) -> bool:
    """A line or column symbolic can look up (1-based, an unsigned 32-bit number)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**32


def _text(value: Any) -> str | None:
    # PostgreSQL text holds no NUL: such a value matches nothing stored, and is never sent to look up.
    return value if isinstance(value, str) and value and "\x00" not in value else None


def wanted_maps(payload: dict[str, Any]) -> MapWants:
    """The maps the payload's frames need (none for a frame without line and column)."""
    wants = MapWants(release=_text(payload.get("release")), dist=_text(payload.get("dist")))
    images: dict[str, str] | None = None
    for frame in _payload_frames(payload):
        location = frame_location(frame)
        positioned = _position(frame.get("lineno")) and _position(frame.get("colno"))
        if _text(location) is None or not positioned:
            continue
        if images is None:
            images = _debug_images(payload)
        if location in images:
            wants.debug_ids[location] = images[location]
        elif wants.release is not None:
            wants.urls[location] = release_urls(location)
    return wants


@dataclass(frozen=True)
class FoundMap:
    map: ParsedMap
    resolved_with: str  # "debug_id" | "release"


def source_filename(source: str) -> str:
    """A map's source name as a path in the project: "webpack://shop/./src/a.ts" and "../src/a.ts"
    are "src/a.ts"."""
    name = source.replace("\\", "/")
    while (trimmed := _SOURCE_PREFIX.sub("", name)) != name:
        name = trimmed
    return name.split("?", 1)[0] or source


def is_library(source: str) -> bool:
    return any(marker in source for marker in _LIBRARY)


def _minified(frame: Frame) -> dict[str, Any]:
    return {name: getattr(frame, name) for name in MINIFIED_FIELDS if getattr(frame, name) is not None}


def restore_minified(frame: Frame) -> None:
    """Put back the fields a frame was sent with, before it is resolved afresh."""
    minified = frame.data.get("minified")
    if not isinstance(minified, dict):
        return
    for name in MINIFIED_FIELDS:
        setattr(frame, name, minified.get(name))
    frame.pre_context, frame.post_context = [], []
    frame.data = {k: v for k, v in frame.data.items() if k not in ("minified", "sourcemap", "resolved_with")}


def _line(text: str) -> str:
    return capped(text.rstrip("\r\n"), MAX_LINE)


def _useful(name: str | None) -> str | None:
    return name if name and name not in _USELESS_FUNCTIONS else None


def resolve_frames(frames: list[Frame], maps: dict[str, FoundMap]) -> int:
    """Resolve, in place, the frames (caller first) whose file has a map; how many were resolved."""
    resolved = 0
    caller_name: str | None = None  # the name the calling frame's position maps to
    for frame in frames:
        location = frame_location(frame)
        found = maps.get(location) if location else None
        if found is None or not _position(frame.lineno) or not _position(frame.colno):
            caller_name = None
            continue
        try:
            token = found.map.cache.lookup(frame.lineno, frame.colno, CONTEXT_LINES)
        except Exception:  # symbolic's own errors: the frame stays as sent, the event is stored
            token = None
        if token is None or token.src is None:
            caller_name = None
            continue
        minified = _minified(frame)
        # The enclosing function the scope lookup finds; else the name the caller called it by.
        function = _useful(token.function_name) or _useful(caller_name) or frame.function
        caller_name = token.name
        frame.abs_path = capped(token.src, MAX_PATH)
        frame.filename = capped(source_filename(token.src), MAX_PATH)
        frame.module = None  # the SDK's module named the minified file
        frame.function = capped(function, MAX_NAME) if function else None
        frame.lineno, frame.colno = token.line, token.col
        frame.in_app = not is_library(token.src)
        frame.context_line = _line(token.context_line) if token.context_line else None
        frame.pre_context = [_line(line) for line in token.pre_context]
        frame.post_context = [_line(line) for line in token.post_context]
        frame.data = {
            **frame.data,
            "sourcemap": found.map.url,
            "resolved_with": found.resolved_with,
            "minified": minified,
        }
        resolved += 1
    return resolved


def resolve_event(event: NormalizedEvent, maps: dict[str, FoundMap]) -> int:
    """Resolve the frames of every exception of the event; how many frames were resolved."""
    if not maps:
        return 0
    return sum(resolve_frames(exc.frames, maps) for exc in event.exceptions)


def is_resolved(frame: Frame) -> bool:
    """True for a frame resolved through a source map."""
    return "minified" in frame.data
