"""What the analysis gets from an event resolved at ingest: the original file, function and source
line (the issue page: tests/sourcemaps/test_sentry_cli_upload.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.analysis.prompt import build_prompt
from app.analysis.service import analysis_input_for
from app.events.normalize import normalize_sentry_event
from app.events.prepare import prepare_event
from app.sourcemaps.resolve import FoundMap, parse_map
from tests.support.js_events import BUNDLE_URL, FIXTURES, fixture_stack, minified_event

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RAISING_LINE = "return { id: data.customer.id, items: [first] };"


def stored_data() -> dict:
    folder = FIXTURES / "build-a"
    parsed = parse_map((folder / "app.min.js").read_bytes(), (folder / "app.min.js.map").read_bytes(), "~/m")
    assert parsed is not None
    payload = minified_event(fixture_stack("build-a"), release="1.0")
    prepared = prepare_event(
        1,
        payload,
        normalize_sentry_event,
        received_at=NOW,
        source_maps={BUNDLE_URL: FoundMap(parsed, "release")},
    )
    return json.loads(prepared.data_json)


def test_the_prompt_shows_the_original_source() -> None:
    prompt = build_prompt(analysis_input_for(stored_data(), "TypeError: x", 1, "shop"))
    assert "src/order.ts" in prompt.user and "parseOrder" in prompt.user
    assert RAISING_LINE in prompt.user
    assert "app.min.js" not in prompt.user
