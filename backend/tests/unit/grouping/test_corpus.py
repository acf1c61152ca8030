"""Grouping against real SDK events (tests/corpus/events, see tests/corpus/README.md).

Events with the same `expected_group` must share a fingerprint, events with different ones must
not, and v1's fingerprints of the corpus are pinned in expected_v1.json: a released grouping
version never changes. Regenerate that file (`PYTHONPATH=. python tests/unit/grouping/test_corpus.py`)
only when the corpus itself is refreshed, never to make a grouping change pass.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.events.model import NormalizedEvent
from app.events.normalize import normalize_sentry_event
from app.grouping.fingerprint import Grouping, compute_grouping

INPUTS = Path(__file__).parents[2] / "corpus" / "events"
PINNED = Path(__file__).parent / "expected_v1.json"
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _load() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(INPUTS.glob("*.json"))}


CORPUS = _load()


def _grouping(name: str) -> Grouping:
    return compute_grouping(normalize_sentry_event(CORPUS[name]["event"], received_at=RECEIVED))


def test_corpus_holds_real_events_from_both_sdks() -> None:
    sdks = {record["sdk"].split("/")[0] for record in CORPUS.values()}
    assert len(CORPUS) >= 20
    assert sdks == {"sentry.python", "sentry.javascript.node"}
    groups = defaultdict(list)
    for name, record in CORPUS.items():
        groups[record["expected_group"]].append(name)
    # enough pairs that must group together, and enough groups that must stay apart
    assert sum(1 for members in groups.values() if len(members) > 1) >= 10
    assert len(groups) >= 10


def test_events_of_one_expected_group_share_a_fingerprint() -> None:
    by_group: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, record in CORPUS.items():
        by_group[record["expected_group"]][_grouping(name).fingerprint].append(name)
    split = {group: dict(fps) for group, fps in by_group.items() if len(fps) > 1}
    assert not split, f"groups split across fingerprints: {split}"


def test_events_of_different_expected_groups_never_share_a_fingerprint() -> None:
    by_fingerprint: dict[str, set[str]] = defaultdict(set)
    for name, record in CORPUS.items():
        by_fingerprint[_grouping(name).fingerprint].add(record["expected_group"])
    merged = [groups for groups in by_fingerprint.values() if len(groups) > 1]
    assert not merged, f"different groups merged: {merged}"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_event_has_title_and_survives_storage(name: str) -> None:
    event = normalize_sentry_event(CORPUS[name]["event"], received_at=RECEIVED)
    grouping = compute_grouping(event)
    assert grouping.version == "v2"
    # No frame of the corpus is resolved through a source map: v2 groups it exactly as v1 did.
    assert grouping.fingerprint == compute_grouping(event, "v1").fingerprint
    assert 0 < len(grouping.title) <= 255
    # what is stored (to_dict, as JSON without NaN) and re-read regroups the same way
    stored = json.loads(json.dumps(event.to_dict(), allow_nan=False))
    assert compute_grouping(NormalizedEvent.from_dict(stored)) == grouping


def test_titles_and_culprits_of_known_events() -> None:
    add_to_cart = _grouping("py_a_valueerror_add_to_cart")
    assert add_to_cart.title == "ValueError: invalid literal for int() with base 10: 'abc'"
    assert add_to_cart.culprit == "shop.inventory in parse_quantity"
    chained = _grouping("py_a_order_not_found_chained")
    assert chained.title == "OrderError: order 4711 not found"
    assert chained.culprit == "shop.inventory in load_order"
    logged = _grouping("py_a_log_sync_store")
    assert logged.title == "Failed to sync inventory for store 17 after 3 retries"
    assert logged.culprit == "shop.inventory"  # the logger, for lack of frames or a route
    node = _grouping("node_a_typeerror_load_user")
    assert node.title == "TypeError: Cannot read properties of undefined (reading 'profile')"
    assert node.culprit == "shop in Object.loadUser"


def test_v1_fingerprints_of_the_corpus_are_pinned() -> None:
    pinned = json.loads(PINNED.read_text())
    current = {name: _grouping(name).fingerprint for name in CORPUS}
    assert current == pinned


if __name__ == "__main__":
    PINNED.write_text(json.dumps({name: _grouping(name).fingerprint for name in CORPUS}, indent=1) + "\n")
    print(f"pinned {len(CORPUS)} fingerprints in {PINNED}", file=sys.stderr)
