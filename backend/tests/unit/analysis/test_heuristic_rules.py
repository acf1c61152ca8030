"""Every heuristic rule by id: its fixture fires it, ids are unique, a few full analyses are snapshots.

The fixtures (rule_fixtures.FIXTURES) must cover exactly the registered ids, so a rule added without a
fixture, or shadowed by a rule tried before it, fails here. Snapshots live in snapshots/<rule id>.json;
after an intended change of a rule's text, rewrite them with `UPDATE_SNAPSHOTS=1 pytest <this file>`
and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from app.analysis.providers.heuristic import PRECEDENCE, REGISTRY, RULES, analyse_event, match_rule
from app.analysis.providers.heuristic.registry import DuplicateRuleError, Registry, UnorderedRuleError
from tests.unit.analysis.rule_fixtures import FIXTURES

SNAPSHOTS = Path(__file__).parent / "snapshots"

# Representative rules: exact driver messages, each kind of derive hook, a config guess, an upstream
# status, and a guess from wording alone (which says it is only a lead).
SNAPSHOT_RULES = (
    "db-connect-refused",
    "db-schema-mismatch",
    "null-reference",
    "bad-json",
    "recursion",
    "missing-config",
    "upstream-5xx",
    "db-connect-timeout-wording",
)


@pytest.mark.parametrize("rule_id", sorted(FIXTURES))
def test_the_fixture_fires_its_rule(rule_id: str) -> None:
    rule = match_rule(FIXTURES[rule_id])
    assert rule is not None, f"no rule recognised the {rule_id} fixture"
    assert rule.id == rule_id
    assert analyse_event(FIXTURES[rule_id]).category == REGISTRY[rule_id].category


def test_the_fixtures_cover_exactly_the_registered_rules() -> None:
    assert set(FIXTURES) == REGISTRY.ids()


def test_no_two_rules_share_an_id() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids)) == len(REGISTRY)
    assert tuple(ids) == PRECEDENCE


def test_registering_an_id_twice_is_an_error() -> None:
    registry = Registry()
    first = REGISTRY["missing-key"]
    registry.add(first)
    with pytest.raises(DuplicateRuleError, match="missing-key"):
        registry.add(dataclasses.replace(first, category="other"))
    with pytest.raises(DuplicateRuleError, match="division-by-zero"):
        registry.add(REGISTRY["division-by-zero"], REGISTRY["division-by-zero"])
    assert [rule.category for rule in registry] == [first.category]


def test_the_precedence_must_list_every_registered_rule_once() -> None:
    registry = Registry()
    registry.add(REGISTRY["missing-key"], REGISTRY["division-by-zero"])
    assert [rule.id for rule in registry.ordered(["division-by-zero", "missing-key"])] == [
        "division-by-zero",
        "missing-key",
    ]
    for precedence in (["missing-key"], ["missing-key", "division-by-zero", "missing-key"], ["x"]):
        with pytest.raises(UnorderedRuleError):
            registry.ordered(precedence)


@pytest.mark.parametrize("rule_id", SNAPSHOT_RULES)
def test_the_full_analysis_matches_its_snapshot(rule_id: str) -> None:
    result = analyse_event(FIXTURES[rule_id])
    rendered = {"rule": match_rule(FIXTURES[rule_id]).id, **result.model_dump()}
    path = SNAPSHOTS / f"{rule_id}.json"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(json.dumps(rendered, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    assert path.exists(), f"no snapshot for {rule_id}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == json.loads(path.read_text())
