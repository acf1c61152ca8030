"""The rule registry: every heuristic rule by id. Family modules under `rules/` register theirs at import.

An id registered twice is an error at import (DuplicateRuleError). Which rule is tried first is not the
registry's business: `catalogue.PRECEDENCE` orders the registered ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.analysis.providers.heuristic.rule import Rule


class DuplicateRuleError(ValueError):
    """Two rules were registered under one id."""


class UnorderedRuleError(ValueError):
    """The precedence list and the registered rules disagree (an id missing, unknown or listed twice)."""


class Registry:
    """Rules by id, in registration order."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def add(self, *rules: Rule) -> tuple[Rule, ...]:
        """Register rules; raises DuplicateRuleError if an id is taken (nothing from this call is kept)."""
        ids = [rule.id for rule in rules]
        for rule_id in ids:
            if rule_id in self._rules or ids.count(rule_id) > 1:
                raise DuplicateRuleError(f"heuristic rule id {rule_id!r} is registered twice")
        self._rules.update((rule.id, rule) for rule in rules)
        return rules

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def ids(self) -> frozenset[str]:
        return frozenset(self._rules)

    def ordered(self, precedence: Iterable[str]) -> tuple[Rule, ...]:
        """The rules in `precedence` order, which must name every registered id exactly once."""
        order = list(precedence)
        duplicated = sorted({rule_id for rule_id in order if order.count(rule_id) > 1})
        unknown = sorted(set(order) - self._rules.keys())
        unlisted = sorted(self._rules.keys() - set(order))
        if duplicated or unknown or unlisted:
            raise UnorderedRuleError(
                f"rule precedence: listed twice {duplicated}, not registered {unknown}, not listed {unlisted}"
            )
        return tuple(self._rules[rule_id] for rule_id in order)


REGISTRY = Registry()


def register(*rules: Rule) -> tuple[Rule, ...]:
    """Register rules in the global registry (see Registry.add)."""
    return REGISTRY.add(*rules)
