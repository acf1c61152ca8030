"""Grouping v1: the components that decide which issue an event belongs to.

RELEASED — never edit the behaviour of this module: existing issues' fingerprints were computed
with it, and any change would split them or merge unrelated ones. A change in grouping is a new
module (v2.py) registered in fingerprint.py beside this one.

Order:
1. the client's `fingerprint`, with `{{ default }}` expanded to the components below;
2. the exception chain: each exception's type (unless its mechanism is synthetic) and its in-app
   frames as "module-or-file:function" (all frames when no frame is in-app; an anonymous function
   is known by its context line), never line numbers or absolute paths; an exception without
   usable frames, or a synthetic one, contributes its folded value; when no frame contributes at
   all, the folded message is added if it says something else;
3. the folded message (the logging template when there is one);
4. the transaction or request route, then a constant.
"""

from __future__ import annotations

import re

from app.events.model import ExceptionInfo, Frame, NormalizedEvent
from app.grouping.normalize import FOLD_RULES_V1, fold_variables

GROUPING_VERSION = "v1"

_VARIABLE = re.compile(r"^\{\{\s*([\w.]+)\s*\}\}$")
_URL_PREFIX = re.compile(r"^[a-zA-Z][\w+.-]*://[^/]*")
_LIBRARY_ROOTS = ("node_modules/", "site-packages/", "dist-packages/")
_BUNDLE_HASH = re.compile(r"[.-][0-9a-fA-F]{8,}(?=\.\w+$)")
_GENERATED = re.compile(r"\$\$Lambda\$\d+|/0x[0-9a-fA-F]+|0x[0-9a-fA-F]+")
_MAX_CONTEXT_LINE = 120


def _fold(text: str) -> str:
    return fold_variables(text, FOLD_RULES_V1)


def _symbol(name: str | None) -> str | None:
    """A module or function name without generated parts (JVM lambda ids, addresses)."""
    if not name:
        return None
    name = _GENERATED.sub(lambda m: "$$Lambda" if m.group(0).startswith("$") else "", name.strip())
    name = name.removeprefix("async ").strip()
    # JavaScript's anonymous functions: "?", "Object.?", "<anonymous>", "Object.<anonymous>".
    return None if not name or name.endswith(("?", "<anonymous>")) else name


def _file(frame: Frame) -> str | None:
    """The frame's file without scheme, host, query, deploy directory or bundle hash."""
    name = frame.filename or frame.abs_path
    if not name:
        return None
    name = _URL_PREFIX.sub("", name.strip().replace("\\", "/")).split("?")[0].split("#")[0]
    for root in _LIBRARY_ROOTS:
        if root in name:
            name = name.rsplit(root, 1)[1]
            break
    else:
        if name.startswith("/") or re.match(r"^[A-Za-z]:/", name):
            # Where the app is deployed changes between hosts and releases; the file name does not.
            name = name.rsplit("/", 1)[-1]
    while name.startswith("./"):
        name = name[2:]
    return _BUNDLE_HASH.sub(".<hash>", name) or None


def _frame_component(frame: Frame) -> str | None:
    location = _symbol(frame.module) or _file(frame)
    function = _symbol(frame.function)
    if function is None and frame.context_line and frame.context_line.strip():
        # An anonymous function is known by its code, as Sentry does for JavaScript.
        function = "{" + " ".join(frame.context_line.split())[:_MAX_CONTEXT_LINE] + "}"
    if location is None and function is None:
        return None
    return f"frame:{location or '?'}:{function or '?'}"


def _frame_components(frames: list[Frame], in_app_only: bool) -> list[str]:
    parts: list[str] = []
    for frame in frames:
        if in_app_only and frame.in_app is not True:
            continue
        part = _frame_component(frame)
        if part and (not parts or parts[-1] != part):  # direct recursion counts once
            parts.append(part)
    return parts


def _exception_components(event: NormalizedEvent) -> list[str]:
    chain: list[ExceptionInfo] = event.exceptions
    in_app_only = any(frame.in_app is True for exc in chain for frame in exc.frames)
    parts: list[str] = []
    any_frames = False
    last_value: str | None = None
    for exc in chain:
        if exc.type and not exc.synthetic:
            # A synthetic exception's type is made up by the SDK (e.g. a signal name or "Error").
            parts.append(f"type:{exc.type}")
        frames = _frame_components(exc.frames, in_app_only)
        any_frames = any_frames or bool(frames)
        parts.extend(frames)
        # The value counts when no frame does, and always for a synthetic exception: its frames
        # are where the SDK was called (captureMessage, captureException("text")), and its
        # value is the only account of what went wrong.
        if (not frames or exc.synthetic) and exc.value and exc.value.strip():
            last_value = _fold(exc.value)
            parts.append(f"value:{last_value}")
    if parts and not any_frames:
        # Without code locations the message may be the only thing telling two errors apart
        # (the seed's {"message": ..., "stack": "Error: Connection timeout"}).
        message = _message(event)
        if message and message != last_value:
            parts.append(f"message:{message}")
    return parts


def _message(event: NormalizedEvent) -> str | None:
    text = event.message_template or event.message
    return _fold(text) if text and text.strip() else None


def default_components(event: NormalizedEvent) -> list[str]:
    """The components of an event when the client gave no fingerprint."""
    parts = _exception_components(event)
    if parts:
        return parts
    message = _message(event)
    if message:
        return [f"message:{message}"]
    if event.transaction:
        return [f"transaction:{_fold(event.transaction)}"]
    path = event.request.get("path") if isinstance(event.request.get("path"), str) else None
    if path:
        method = event.request.get("method")
        return [f"request:{method} {_fold(path)}" if method else f"request:{_fold(path)}"]
    return ["fallback"]


def _variable(name: str, event: NormalizedEvent) -> str:
    if name == "transaction":
        return f"transaction:{event.transaction or ''}"
    if name == "type":
        types = [exc.type for exc in event.exceptions if exc.type]
        return f"type:{types[-1] if types else ''}"
    if name == "level":
        return f"level:{event.level}"
    if name == "logger":
        return f"logger:{event.logger or ''}"
    return f"fingerprint:{{{{ {name} }}}}"  # unknown variables count as literal text


def components(event: NormalizedEvent) -> list[str]:
    """The human-readable grouping components of `event`; equal components mean the same issue."""
    default = default_components(event)
    entries = [entry.strip() for entry in event.fingerprint or [] if entry.strip()]
    if not entries:
        return default
    parts: list[str] = []
    for entry in entries:
        variable = _VARIABLE.match(entry)
        if variable is None:
            parts.append(f"fingerprint:{entry}")
        elif variable.group(1).lower() == "default":
            parts.extend(default)
        else:
            parts.append(_variable(variable.group(1).lower(), event))
    return parts
