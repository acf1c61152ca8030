"""Minified JavaScript errors as @sentry/browser sends them, for the source-map tests of both tiers.

FIXTURES holds two esbuild builds of one small TypeScript app (tests/unit/sourcemaps/fixtures/
README.md says how they were made) and the stacks Node printed for their error.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "sourcemaps" / "fixtures"
BUNDLE_URL = "https://shop.example/assets/app.min.js"
ERROR_TYPE = "TypeError"
ERROR_VALUE = "Cannot read properties of undefined (reading 'id')"
_V8_FRAME = re.compile(r"^\s*at (?:(?P<function>\S+) \()?(?P<file>[^()\s]+?):(?P<line>\d+):(?P<col>\d+)\)?$")


def fixture_stack(build: str) -> list[dict[str, Any]]:
    """The recorded stack of a fixture build (caller first)."""
    return json.loads((FIXTURES / "stacks.json").read_text())[build]


def v8_stack(text: str, file_name: str) -> list[dict[str, Any]]:
    """The frames of a V8 `error.stack` that ran in `file_name`, caller first (as Sentry orders them)."""
    frames = []
    for line in text.splitlines():
        match = _V8_FRAME.match(line)
        if match and match["file"].endswith(file_name):
            frames.append(
                {"function": match["function"], "lineno": int(match["line"]), "colno": int(match["col"])}
            )
    return list(reversed(frames))


def minified_event(
    stack: list[dict[str, Any]],
    *,
    debug_id: str | None = None,
    release: str | None = None,
    url: str = BUNDLE_URL,
) -> dict[str, Any]:
    """The event @sentry/browser sends for the error: frames in the bundle at `url`, with the debug
    id `sourcemaps inject` put in the bundle when given."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "platform": "javascript",
        "level": "error",
        "sdk": {"name": "sentry.javascript.browser", "version": "10.0.0"},
        "exception": {
            "values": [
                {
                    "type": ERROR_TYPE,
                    "value": ERROR_VALUE,
                    "mechanism": {"type": "onerror", "handled": False},
                    "stacktrace": {"frames": [{"filename": url, "in_app": True, **frame} for frame in stack]},
                }
            ]
        },
    }
    if release is not None:
        event["release"] = release
    if debug_id is not None:
        event["debug_meta"] = {"images": [{"type": "sourcemap", "code_file": url, "debug_id": debug_id}]}
    return event
