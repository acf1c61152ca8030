"""Grouping v2: two builds of one bug resolved through their maps are one issue; an event with no
resolved frame keeps its v1 fingerprint, so issues made before source maps keep their events."""

from __future__ import annotations

from datetime import UTC, datetime

from app.events.normalize import normalize_sentry_event
from app.grouping.fingerprint import CURRENT_VERSION, compute_grouping
from app.sourcemaps.resolve import FoundMap, parse_map, resolve_event
from tests.support.js_events import BUNDLE_URL, FIXTURES, fixture_stack, minified_event

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def event_of(build: str, *, resolve: bool, url: str = BUNDLE_URL):
    event = normalize_sentry_event(minified_event(fixture_stack(build), url=url), received_at=NOW)
    if resolve:
        folder = FIXTURES / build
        parsed = parse_map(
            (folder / "app.min.js").read_bytes(), (folder / "app.min.js.map").read_bytes(), "m"
        )
        assert parsed is not None
        assert resolve_event(event, {url: FoundMap(parsed, "release")}) == 4
    return event


def test_two_builds_of_one_bug_are_one_issue_once_resolved() -> None:
    a = compute_grouping(event_of("build-a", resolve=True))
    b = compute_grouping(event_of("build-b", resolve=True))
    assert a.version == b.version == CURRENT_VERSION == "v2"
    assert a.fingerprint == b.fingerprint
    assert a.components == [
        "type:TypeError",
        "frame:src/main.ts:run",
        "frame:src/main.ts:checkout",
        "frame:src/order.ts:parseOrder",
    ]


def test_minified_builds_split_without_maps() -> None:
    # What source maps fix: the minified names differ between the builds.
    a = compute_grouping(event_of("build-a", resolve=False))
    b = compute_grouping(event_of("build-b", resolve=False))
    assert a.fingerprint != b.fingerprint


def test_the_deploy_url_does_not_matter_once_resolved() -> None:
    here = compute_grouping(event_of("build-a", resolve=True))
    there = compute_grouping(event_of("build-a", resolve=True, url="https://cdn.example/v2/app.min.js"))
    assert here.fingerprint == there.fingerprint


def test_an_unresolved_event_keeps_its_v1_fingerprint() -> None:
    event = event_of("build-a", resolve=False)
    assert compute_grouping(event).fingerprint == compute_grouping(event, "v1").fingerprint


def test_v1_is_still_there_for_its_issues() -> None:
    # v1 of a resolved event reads the resolved frames as v1 always read frames; v2 ignores where
    # the map placed the source (its ../ prefix) and the library frame stays out of the in-app set.
    event = event_of("build-a", resolve=True)
    assert compute_grouping(event, "v1").version == "v1"
    assert "frame:node_modules/tiny-lib/index.js:withEach" not in compute_grouping(event).components
