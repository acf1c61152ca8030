"""Grouping v2: v1 on the original frames of events resolved through source maps.

RELEASED once merged — never edit its behaviour (see v1.py).

A frame resolved through a source map (app/sourcemaps/resolve.py) is grouped by its original
source file, as a path in the project ("webpack://shop/./src/a.ts" and "../src/a.ts" are both
"src/a.ts"), and its original function; its minified file, position and the module the SDK derived
from the bundle's name take no part. So two builds of one bug, whose minified names and positions
differ, are one issue. Everything else is exactly v1: an event with no resolved frame gets v1's
components, so its fingerprint is the one v1 gives and it joins the issue v1 made for it.
"""

from __future__ import annotations

from dataclasses import replace

from app.events.model import ExceptionInfo, Frame, NormalizedEvent
from app.grouping import v1
from app.sourcemaps.resolve import is_resolved, source_filename

GROUPING_VERSION = "v2"


def _original(frame: Frame) -> Frame:
    if not is_resolved(frame):
        return frame
    original = source_filename(frame.abs_path or frame.filename or "")
    return replace(frame, module=None, abs_path=None, filename=original)


def _with_original_frames(event: NormalizedEvent) -> NormalizedEvent:
    exceptions: list[ExceptionInfo] = [
        replace(exc, frames=[_original(f) for f in exc.frames]) for exc in event.exceptions
    ]
    return replace(event, exceptions=exceptions)


def components(event: NormalizedEvent) -> list[str]:
    """The grouping components of `event`; equal components mean the same issue."""
    if not any(is_resolved(f) for exc in event.exceptions for f in exc.frames):
        return v1.components(event)
    return v1.components(_with_original_frames(event))
