"""Which alert deliveries a stored batch of events asks for: pure rule matching, no I/O.

The digester stores a batch (app/events/store.py), reads the enabled rules of its projects, and
hands each issue the batch touched to `wanted_deliveries`: a new issue asks for `new_issue` (at once)
and `analysis_done` (when its analysis ends, or after the rule's wait cap; at once when it gets no
analysis), a reopened one for `regression`, and any touched issue for `frequency` (the SQL then
counts its events in the rule's window). Filters: the rule's minimum level, and its environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TRIGGERS = ("analysis_done", "new_issue", "regression", "frequency")
DEFAULT_TRIGGERS = ("analysis_done",)
LEVELS = ("debug", "info", "warning", "error", "fatal")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class AlertRuleRow:
    """What matching needs of an enabled rule (app/events/repository.py ALERT_RULES_SQL)."""

    id: int
    project_id: int
    triggers: list[str]
    min_level: str | None
    environment: str | None
    frequency_count: int | None
    frequency_minutes: int | None
    wait_cap_s: int


@dataclass(frozen=True)
class TouchedIssue:
    """An issue a batch stored events of, with one event's level and environment (one per pair)."""

    project_id: int
    issue_id: int
    created: bool
    regressed: bool
    generation: int
    analysis_id: int | None  # the analysis a new issue awaits (None: it gets none)
    level: str
    environment: str | None


@dataclass(frozen=True)
class WantedDelivery:
    """A delivery to write; `wait_s` after now it is due (the analysis_done cap), else at once."""

    rule_id: int
    project_id: int
    issue_id: int
    trigger: str
    occurrence: int
    analysis_id: int | None = None
    wait_s: int = 0
    frequency_count: int = 0
    frequency_minutes: int = 1


def level_at_least(level: str, minimum: str | None) -> bool:
    """True when `level` is `minimum` or worse (unknown levels rank as error)."""
    if minimum is None:
        return True
    return _RANK.get(level, _RANK["error"]) >= _RANK.get(minimum, _RANK["error"])


def rule_matches(rule: AlertRuleRow, level: str, environment: str | None) -> bool:
    """The rule's filters: its minimum level, and its environment when it names one."""
    if not level_at_least(level, rule.min_level):
        return False
    return rule.environment is None or rule.environment == environment


def wanted_deliveries(rules: Iterable[AlertRuleRow], touched: Iterable[TouchedIssue]) -> list[WantedDelivery]:
    """The deliveries the batch asks for, one per (rule, issue, trigger) at most."""
    by_project: dict[int, list[AlertRuleRow]] = {}
    for rule in rules:
        by_project.setdefault(rule.project_id, []).append(rule)
    wanted: dict[tuple[int, int, str], WantedDelivery] = {}
    for issue in touched:
        for rule in by_project.get(issue.project_id, []):
            if not rule_matches(rule, issue.level, issue.environment):
                continue
            for trigger in _triggers_for(rule, issue):
                key = (rule.id, issue.issue_id, trigger)
                if key in wanted:
                    continue
                wanted[key] = WantedDelivery(
                    rule_id=rule.id,
                    project_id=issue.project_id,
                    issue_id=issue.issue_id,
                    trigger=trigger,
                    occurrence=issue.generation if trigger == "regression" else 1,
                    analysis_id=issue.analysis_id if trigger == "analysis_done" else None,
                    wait_s=rule.wait_cap_s if trigger == "analysis_done" and issue.analysis_id else 0,
                    frequency_count=max(1, rule.frequency_count or 1),
                    frequency_minutes=max(1, rule.frequency_minutes or 1),
                )
    return list(wanted.values())


def _triggers_for(rule: AlertRuleRow, issue: TouchedIssue) -> list[str]:
    found = []
    if issue.created:
        found += [t for t in ("new_issue", "analysis_done") if t in rule.triggers]
    if issue.regressed and "regression" in rule.triggers:
        found.append("regression")
    if "frequency" in rule.triggers and rule.frequency_count and rule.frequency_minutes:
        found.append("frequency")
    return found
