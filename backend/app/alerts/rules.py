"""Alert rules as users give them (dashboard form, API body, CLI flags): checked, with defaults, and
stored. Services take the session and never commit. Bad input is an AppError with a 422 and a
message saying what is wrong.

Defaults: triggers [analysis_done] (the default rule), a 120 s wait cap, at most 20 alerts an hour,
and for a webhook a generated signing secret (shown to whoever made the rule).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.alerts import repository
from app.errors import AppError
from app.events.alert_match import DEFAULT_TRIGGERS, LEVELS, TRIGGERS
from app.models import AlertRule

CHANNELS = ("webhook", "slack", "email")
DEFAULT_WAIT_CAP_S = 120
DEFAULT_RATE_LIMIT = 20
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$|^[^@\s,;<>]+@localhost$")


@dataclass(frozen=True)
class RuleInput:
    """A rule as asked for; None means "the default" (create) or "unchanged" (update)."""

    channel: str | None = None
    target: str | None = None
    secret: str | None = None
    triggers: list[str] | None = None
    min_level: str | None = None
    environment: str | None = None
    frequency_count: int | None = None
    frequency_minutes: int | None = None
    wait_cap_s: int | None = None
    rate_limit_per_hour: int | None = None
    enabled: bool | None = None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_target(channel: str, target: str) -> str:
    target = target.strip()
    if channel == "email":
        if not _EMAIL.match(target) or len(target) > 254:
            raise AppError("email target must be one address like name@example.com", 422)
        return target
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AppError(f"{channel} target must be an http(s) URL", 422)
    if len(target) > 2000:
        raise AppError(f"{channel} URL is too long (2000 characters at most)", 422)
    return target


def _check(rule: AlertRule) -> None:
    """Every field of a complete rule, after defaults and changes are applied."""
    for name in ("channel", "target", "secret", "min_level", "environment"):
        value = getattr(rule, name)
        if value is not None and not isinstance(value, str):
            raise AppError(f"{name} must be text", 422)
        if value and "\x00" in value:
            raise AppError(f"{name} must not contain NUL characters", 422)
    if any("\x00" in t for t in rule.triggers or []):
        raise AppError("triggers must not contain NUL characters", 422)
    if rule.channel not in CHANNELS:
        raise AppError(f"channel must be one of {', '.join(CHANNELS)}", 422)
    rule.target = _check_target(rule.channel, rule.target or "")
    if not rule.triggers:
        raise AppError("a rule needs at least one trigger", 422)
    if unknown := [t for t in rule.triggers if t not in TRIGGERS]:
        raise AppError(f"unknown trigger {unknown[0]!r} (allowed: {', '.join(TRIGGERS)})", 422)
    rule.triggers = sorted(set(rule.triggers), key=TRIGGERS.index)
    if rule.min_level is not None and rule.min_level not in LEVELS:
        raise AppError(f"level must be one of {', '.join(LEVELS)}", 422)
    if rule.environment is not None:
        rule.environment = rule.environment.strip() or None
        if rule.environment and len(rule.environment) > 64:
            raise AppError("environment is 64 characters at most", 422)
    if "frequency" in rule.triggers:
        if not rule.frequency_count:
            raise AppError("the frequency trigger needs frequency_count N (1 to 1000000)", 422)
        if not rule.frequency_minutes:
            raise AppError("the frequency trigger needs frequency_minutes M (1 to 1440)", 422)
    if rule.frequency_count is not None and not 1 <= rule.frequency_count <= 1_000_000:
        raise AppError("frequency_count must be 1 to 1000000", 422)
    if rule.frequency_minutes is not None and not 1 <= rule.frequency_minutes <= 1440:
        raise AppError("frequency_minutes must be 1 to 1440", 422)
    if not 0 <= rule.wait_cap_s <= 3600:
        raise AppError("wait_cap_s must be 0 to 3600", 422)
    if not 0 <= rule.rate_limit_per_hour <= 10_000:
        raise AppError("rate_limit_per_hour must be 0 (unlimited) to 10000", 422)
    if rule.channel == "webhook":
        if not rule.secret:
            rule.secret = new_secret()
        if len(rule.secret) > 128:
            raise AppError("secret is 128 characters at most", 422)
    else:
        rule.secret = None


def build_rule(project_id: int, wanted: RuleInput) -> AlertRule:
    """A new rule from what was asked, with the defaults; AppError(422) on bad input."""
    if wanted.channel is None or wanted.target is None:
        raise AppError("a rule needs a channel (webhook, slack or email) and its target", 422)
    rule = AlertRule(
        project_id=project_id,
        enabled=True if wanted.enabled is None else wanted.enabled,
        triggers=list(wanted.triggers or DEFAULT_TRIGGERS),
        min_level=wanted.min_level or None,
        environment=wanted.environment,
        frequency_count=wanted.frequency_count,
        frequency_minutes=wanted.frequency_minutes,
        wait_cap_s=DEFAULT_WAIT_CAP_S if wanted.wait_cap_s is None else wanted.wait_cap_s,
        channel=wanted.channel,
        target=wanted.target,
        secret=wanted.secret or None,
        rate_limit_per_hour=(
            DEFAULT_RATE_LIMIT if wanted.rate_limit_per_hour is None else wanted.rate_limit_per_hour
        ),
    )
    _check(rule)
    return rule


_NULLABLE = {"secret", "min_level", "environment", "frequency_count", "frequency_minutes"}


def apply_changes(rule: AlertRule, changes: dict[str, Any]) -> None:
    """Set the given fields (a PATCH or the edit form), then check the whole rule again."""
    allowed = {f.name for f in fields(RuleInput)}
    for name, value in changes.items():
        if name not in allowed:
            raise AppError(f"unknown field {name!r}", 422)
        if value is None and name not in _NULLABLE:
            raise AppError(f"{name} cannot be null", 422)
        setattr(rule, name, value)
    if "channel" in changes and rule.channel != "webhook":
        rule.secret = None
    _check(rule)


async def create_rule(session: AsyncSession, project_id: int, wanted: RuleInput) -> AlertRule:
    """A new rule of the project (the caller checked the project exists and may be changed)."""
    return await repository.add_rule(session, build_rule(project_id, wanted))


def sync_create_rule(session: Session, project_id: int, wanted: RuleInput) -> AlertRule:
    """`create_rule` in a sync session (the CLI); AppError(422) when there is no such project."""
    if repository.sync_get_project(session, project_id) is None:
        raise AppError(f"no such project: {project_id}", 422)
    return repository.sync_add_rule(session, build_rule(project_id, wanted))
