"""Minified frames resolved through a real esbuild map: the original file, function, line, column,
source lines and in-app flag, the minified frame kept, and which map each frame needs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.events.model import NormalizedEvent
from app.events.normalize import normalize_sentry_event
from app.events.prepare import prepare_event
from app.sourcemaps.resolve import (
    FoundMap,
    MapWants,
    parse_map,
    release_urls,
    resolve_event,
    restore_minified,
    source_filename,
    wanted_maps,
)
from tests.support.js_events import BUNDLE_URL, FIXTURES, fixture_stack, minified_event

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
DEBUG_ID = "895f946f-5224-5070-afb3-e1ff9bd9170c"


def build_map(build: str) -> FoundMap:
    folder = FIXTURES / build
    parsed = parse_map(
        (folder / "app.min.js").read_bytes(), (folder / "app.min.js.map").read_bytes(), "~/app.min.js.map"
    )
    assert parsed is not None
    return FoundMap(parsed, "debug_id")


def resolved(build: str) -> NormalizedEvent:
    event = normalize_sentry_event(minified_event(fixture_stack(build), debug_id=DEBUG_ID), received_at=NOW)
    assert resolve_event(event, {BUNDLE_URL: build_map(build)}) == 4
    return event


def test_each_frame_gets_its_original_file_function_and_line() -> None:
    frames = resolved("build-a").exceptions[0].frames
    assert [(f.filename, f.function, f.lineno) for f in frames] == [
        ("src/main.ts", "run", 10),
        ("node_modules/tiny-lib/index.js", "withEach", 4),
        ("src/main.ts", "checkout", 5),
        ("src/order.ts", "parseOrder", 17),
    ]
    raising = frames[-1]
    assert raising.abs_path == "../src/order.ts"
    assert raising.context_line == "  return { id: data.customer.id, items: [first] };"
    assert raising.pre_context[-2:] == ["  const data = JSON.parse(raw);", "  const first = data.items[0];"]
    assert raising.post_context[0] == "}"
    assert raising.colno is not None and raising.colno > 0


def test_library_frames_are_not_in_app() -> None:
    frames = resolved("build-a").exceptions[0].frames
    assert [f.in_app for f in frames] == [True, False, True, True]


def test_the_minified_frame_is_kept_and_can_be_put_back() -> None:
    frame = resolved("build-a").exceptions[0].frames[-1]
    assert frame.data["minified"] == {
        "filename": BUNDLE_URL,
        "function": "i",
        "lineno": 1,
        "colno": 206,
        "in_app": True,
    }
    assert frame.data["sourcemap"] == "~/app.min.js.map"
    assert frame.data["resolved_with"] == "debug_id"
    restore_minified(frame)
    assert (frame.filename, frame.function, frame.lineno, frame.colno) == (BUNDLE_URL, "i", 1, 206)
    assert frame.data == {} and frame.context_line is None and frame.pre_context == []


def test_a_resolved_event_survives_storage() -> None:
    event = resolved("build-a")
    again = NormalizedEvent.from_dict(event.to_dict())
    assert again.exceptions[0].frames == event.exceptions[0].frames


def test_frames_of_files_without_a_map_stay_as_sent() -> None:
    stack = fixture_stack("build-a")
    event = normalize_sentry_event(minified_event(stack, url="https://cdn.example/other.js"), received_at=NOW)
    assert resolve_event(event, {BUNDLE_URL: build_map("build-a")}) == 0
    assert [f.function for f in event.exceptions[0].frames] == [f["function"] for f in stack]


def test_frames_at_impossible_positions_stay_as_sent() -> None:
    stack = [{"function": "i", "lineno": -1, "colno": 206}, {"function": "i", "lineno": 1, "colno": 2**40}]
    event = normalize_sentry_event(minified_event(stack, debug_id=DEBUG_ID), received_at=NOW)
    assert resolve_event(event, {BUNDLE_URL: build_map("build-a")}) == 0
    assert not wanted_maps(minified_event(stack, debug_id=DEBUG_ID))


def test_a_map_symbolic_cannot_read_is_no_map() -> None:
    assert parse_map(b"x", b"{not json", "~/a.js.map") is None


def test_prepare_event_resolves_before_grouping_and_scrubs_the_source_lines() -> None:
    payload = minified_event(fixture_stack("build-a"), debug_id=DEBUG_ID)
    prepared = prepare_event(
        1, payload, normalize_sentry_event, received_at=NOW, source_maps={BUNDLE_URL: build_map("build-a")}
    )
    assert prepared.grouping_version == "v2"
    assert prepared.culprit == "src/order.ts in parseOrder"
    assert '"context_line":"  return { id: data.customer.id, items: [first] };"' in prepared.data_json


def test_debug_ids_come_from_the_events_debug_images() -> None:
    wants = wanted_maps(minified_event(fixture_stack("build-a"), debug_id=DEBUG_ID, release="1.0"))
    assert wants.debug_ids == {BUNDLE_URL: DEBUG_ID}
    assert wants.urls == {}


def test_without_a_debug_id_the_release_urls_are_wanted() -> None:
    wants = wanted_maps(minified_event(fixture_stack("build-a"), release="shop@1.0"))
    assert wants == MapWants(
        release="shop@1.0", dist=None, urls={BUNDLE_URL: ["~/assets/app.min.js", BUNDLE_URL]}
    )


def test_nothing_is_wanted_without_a_release_or_debug_id_or_position() -> None:
    assert not wanted_maps(minified_event(fixture_stack("build-a")))
    no_position = [{"function": "i", "lineno": 1}]
    assert not wanted_maps(minified_event(no_position, debug_id=DEBUG_ID))
    assert not wanted_maps({"exception": "not a list", "debug_meta": []})
    # PostgreSQL text holds no NUL: nothing is looked up for such a file or release.
    assert not wanted_maps(minified_event(fixture_stack("build-a"), release="1.0", url="https://x/a\x00.js"))
    assert not wanted_maps(minified_event(fixture_stack("build-a"), release="1.0\x00"))


@pytest.mark.parametrize(
    ("location", "urls"),
    [
        (
            "https://shop.example/assets/app.min.js?v=3#x",
            ["~/assets/app.min.js", "https://shop.example/assets/app.min.js"],
        ),
        ("app:///dist/main.js", ["~/dist/main.js", "app:///dist/main.js"]),
        ("/srv/app/dist/main.js", ["~/srv/app/dist/main.js", "/srv/app/dist/main.js"]),
        ("main.js", ["main.js"]),
    ],
)
def test_release_urls(location: str, urls: list[str]) -> None:
    assert release_urls(location) == urls


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("../src/order.ts", "src/order.ts"),
        ("webpack://shop/./src/order.ts", "src/order.ts"),
        ("webpack:///src/order.ts?abc", "src/order.ts"),
        ("./src/order.ts", "src/order.ts"),
        ("src/order.ts", "src/order.ts"),
    ],
)
def test_source_filename(source: str, name: str) -> None:
    assert source_filename(source) == name
