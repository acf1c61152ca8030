"""SourceMapStore's caches, driven as the digester drives its lookup but answered here: a debug id's
files are looked up once, a release URL's again after a while (a later upload may replace them),
nothing found is asked again at once, and each map is parsed once."""

from __future__ import annotations

from typing import Any

import pytest

from app.sourcemaps import lookup
from app.sourcemaps.lookup import CONTENT_SQL, FIND_SQL, Query, SourceMapStore
from app.sourcemaps.resolve import MapWants
from tests.support.js_events import BUNDLE_URL, FIXTURES

DEBUG_ID = "895f946f-5224-5070-afb3-e1ff9bd9170c"
CONTENT = {
    1: (FIXTURES / "build-a" / "app.min.js").read_bytes(),
    2: (FIXTURES / "build-a" / "app.min.js.map").read_bytes(),
}


def run(store: SourceMapStore, wants: MapWants, found: list[tuple[Any, ...]]) -> tuple[list[str], dict]:
    """Drive one lookup; FIND_SQL answers `found`, CONTENT_SQL the fixture files. The queries asked."""
    steps = store.lookup(1, wants)
    asked: list[str] = []
    try:
        query: Query = next(steps)
        while True:
            asked.append("find" if query.sql == FIND_SQL else "content")
            contents = [(i, CONTENT[i]) for i in query.params.get("ids", [])]
            query = steps.send(contents if query.sql == CONTENT_SQL else found)
    except StopIteration as done:
        return asked, done.value


def by_debug_id() -> MapWants:
    return MapWants(release=None, dist=None, debug_ids={BUNDLE_URL: DEBUG_ID})


def by_release() -> MapWants:
    return MapWants(release="1.0", dist=None, urls={BUNDLE_URL: ["~/assets/app.min.js"]})


def test_a_debug_ids_files_are_found_and_parsed_once() -> None:
    store = SourceMapStore()
    asked, maps = run(store, by_debug_id(), [("debug_id", DEBUG_ID, 1, 2, "~/app.min.js.map")])
    assert asked == ["find", "content"] and maps[BUNDLE_URL].resolved_with == "debug_id"
    asked, maps = run(store, by_debug_id(), [])
    assert asked == [] and maps[BUNDLE_URL].map.url == "~/app.min.js.map"


def test_nothing_found_is_asked_again() -> None:
    store = SourceMapStore()
    assert run(store, by_debug_id(), []) == (["find"], {})
    assert run(store, by_debug_id(), []) == (["find"], {})


def test_a_release_urls_files_are_looked_up_again_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    store = SourceMapStore()
    row = ("release", "~/assets/app.min.js", 1, 2, "~/assets/app.min.js.map")
    assert run(store, by_release(), [row])[0] == ["find", "content"]
    assert run(store, by_release(), [row])[0] == []
    later = lookup.time.monotonic() + lookup.RELEASE_PAIR_TTL_S + 1
    monkeypatch.setattr(lookup.time, "monotonic", lambda: later)
    asked, maps = run(store, by_release(), [row])
    assert asked == ["find"] and maps[BUNDLE_URL].resolved_with == "release"  # the parsed map is kept


def test_the_digesters_store_asks_again_for_what_was_missing_only_after_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SourceMapStore(remember_misses_s=lookup.DIGEST_MISS_TTL_S)
    assert run(store, by_release(), []) == (["find"], {})
    assert run(store, by_release(), []) == ([], {})  # the next events of a burst cost no query
    later = lookup.time.monotonic() + lookup.DIGEST_MISS_TTL_S + 1
    monkeypatch.setattr(lookup.time, "monotonic", lambda: later)
    row = ("release", "~/assets/app.min.js", 1, 2, "~/assets/app.min.js.map")
    asked, maps = run(store, by_release(), [row])  # uploaded meanwhile: seen
    assert asked == ["find", "content"] and maps[BUNDLE_URL].resolved_with == "release"
