"""Queries over alert_rules and alert_deliveries: rules for the dashboard, API and CLI; the claim,
rate limit, folding and outcomes of a delivery; the sweeper's pick; a rule's delivery log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import AlertDelivery, AlertRule, Issue, IssueAnalysis, Project

RATE_WINDOW = timedelta(hours=1)

# -- rules (async: dashboard and API) --------------------------------------------------------------


async def list_rules(session: AsyncSession, project_id: int) -> list[AlertRule]:
    """A project's rules, oldest first."""
    stmt = select(AlertRule).where(AlertRule.project_id == project_id).order_by(AlertRule.id)
    return list(await session.scalars(stmt))


async def get_rule(session: AsyncSession, project_id: int, rule_id: int) -> AlertRule | None:
    """One rule of the project, or None."""
    rule = await session.get(AlertRule, rule_id, populate_existing=True)
    return rule if rule is not None and rule.project_id == project_id else None


async def add_rule(session: AsyncSession, rule: AlertRule) -> AlertRule:
    """Insert a rule (its id is set on return)."""
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return rule


async def delete_rule(session: AsyncSession, rule_id: int) -> None:
    """Delete a rule and (cascade) its deliveries."""
    await session.execute(delete(AlertRule).where(AlertRule.id == rule_id))


async def delivery_log(session: AsyncSession, rule_id: int, limit: int = 50) -> list[AlertDelivery]:
    """A rule's newest deliveries."""
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.rule_id == rule_id)
        .order_by(AlertDelivery.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))


# -- rules and tests (sync: CLI and worker) ---------------------------------------------------------


def sync_add_rule(session: Session, rule: AlertRule) -> AlertRule:
    """`add_rule` in a sync session."""
    session.add(rule)
    session.flush()
    return rule


def sync_get_rule(session: Session, rule_id: int) -> AlertRule | None:
    return session.get(AlertRule, rule_id)


def sync_get_project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


TEST_DELIVERY_SQL = text(
    """
    INSERT INTO alert_deliveries (rule_id, project_id, issue_id, trigger, occurrence, status, enqueued_at)
    SELECT r.id, r.project_id,
           (SELECT i.id FROM issues i WHERE i.project_id = r.project_id ORDER BY i.last_seen DESC LIMIT 1),
           'test', 0, 'pending', now()
    FROM alert_rules r WHERE r.id = :rule_id
    RETURNING id
    """
)


def sync_add_test_delivery(session: Session, rule_id: int) -> int | None:
    """A test delivery of the rule (about the project's latest issue, if any); None: no such rule."""
    return session.execute(TEST_DELIVERY_SQL, {"rule_id": rule_id}).scalar()


async def add_test_delivery(session: AsyncSession, rule_id: int) -> int | None:
    """`sync_add_test_delivery` in an async session."""
    return (await session.execute(TEST_DELIVERY_SQL, {"rule_id": rule_id})).scalar()


# -- one delivery (sync: the worker) ------------------------------------------------------------------


def claim(session: Session, delivery_id: int, *, task_id: str, lease_s: float) -> AlertDelivery | None:
    """Take the delivery for this task, or None when it is finished, not due, or held by another.

    As with analyses, the conditional UPDATE is the idempotency anchor: of two tasks racing, one
    gets the row. The same task id may re-claim at once; another only once the lease ran out.
    """
    now = datetime.now(UTC)
    stmt = (
        update(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_id,
            or_(
                and_(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now),
                and_(
                    AlertDelivery.status == "sending",
                    or_(
                        AlertDelivery.claimed_by == task_id,
                        AlertDelivery.claimed_at < now - timedelta(seconds=lease_s),
                    ),
                ),
            ),
        )
        .values(status="sending", claimed_at=now, claimed_by=task_id, attempts=AlertDelivery.attempts + 1)
        .returning(AlertDelivery)
    )
    return session.scalar(stmt)


def lock_rule(session: Session, rule_id: int) -> AlertRule | None:
    """The rule, locked until the transaction ends: rate-limit decisions of one rule are serial."""
    return session.scalar(select(AlertRule).where(AlertRule.id == rule_id).with_for_update())


@dataclass(frozen=True)
class WindowUse:
    used: int  # alerts counted against the limit in the last hour
    oldest: datetime | None  # when the oldest of them took its slot


def window_use(session: Session, rule_id: int) -> WindowUse:
    """How much of the rule's hourly limit is used."""
    row = session.execute(
        select(func.count(), func.min(AlertDelivery.slot_at)).where(
            AlertDelivery.rule_id == rule_id, AlertDelivery.slot_at > datetime.now(UTC) - RATE_WINDOW
        )
    ).one()
    return WindowUse(int(row[0]), row[1])


def take_slot(session: Session, delivery_id: int) -> None:
    session.execute(
        update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(slot_at=datetime.now(UTC))
    )


def fold(session: Session, delivery: AlertDelivery, *, summary_due: datetime) -> int:
    """Fold the delivery into its rule's open summary (opened, due at summary_due, when none is)."""
    session.execute(
        text(
            """
            INSERT INTO alert_deliveries (rule_id, project_id, trigger, occurrence, status, next_attempt_at)
            VALUES (:rule, :project, 'summary', 0, 'pending', :due)
            ON CONFLICT (rule_id) WHERE trigger = 'summary' AND status = 'pending' DO NOTHING
            """
        ),
        {"rule": delivery.rule_id, "project": delivery.project_id, "due": summary_due},
    )
    summary_id = session.scalar(
        select(AlertDelivery.id).where(
            AlertDelivery.rule_id == delivery.rule_id,
            AlertDelivery.trigger == "summary",
            AlertDelivery.status == "pending",
        )
    )
    assert summary_id is not None  # the rule's row lock keeps it open until this commits
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery.id)
        .values(status="folded", summary_id=summary_id, claimed_by=None, last_error="over the rate limit")
    )
    return summary_id


def folded_into(session: Session, summary_id: int) -> list[AlertDelivery]:
    """The deliveries a summary stands for, oldest first."""
    stmt = select(AlertDelivery).where(AlertDelivery.summary_id == summary_id).order_by(AlertDelivery.id)
    return list(session.scalars(stmt))


def get_issue(session: Session, issue_id: int) -> Issue | None:
    return session.get(Issue, issue_id)


def latest_analysis(session: Session, issue_id: int) -> IssueAnalysis | None:
    """The issue's newest analysis generation."""
    stmt = (
        select(IssueAnalysis)
        .where(IssueAnalysis.issue_id == issue_id)
        .order_by(IssueAnalysis.generation.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def get_analysis(session: Session, analysis_id: int) -> IssueAnalysis | None:
    return session.get(IssueAnalysis, analysis_id)


def _finish(session: Session, delivery_id: int, task_id: str, **values: object) -> bool:
    """Record an outcome, if this task still holds the claim."""
    result = session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.claimed_by == task_id)
        .values(claimed_by=None, **values)
        .returning(AlertDelivery.id)
    )
    return result.first() is not None


def record_sent(session: Session, delivery_id: int, task_id: str, response_code: int | None) -> bool:
    return _finish(
        session,
        delivery_id,
        task_id,
        status="sent",
        sent_at=datetime.now(UTC),
        response_code=response_code,
        last_error=None,
    )


def record_failed(
    session: Session, delivery_id: int, task_id: str, response_code: int | None, error: str
) -> bool:
    return _finish(
        session, delivery_id, task_id, status="failed", response_code=response_code, last_error=error[:2000]
    )


def release_for_retry(
    session: Session, delivery_id: int, task_id: str, response_code: int | None, error: str, retry_in_s: float
) -> bool:
    """Back to pending, due in retry_in_s; the task's own retry sends it then, the sweeper if that is lost."""
    due = datetime.now(UTC) + timedelta(seconds=retry_in_s)
    return _finish(
        session,
        delivery_id,
        task_id,
        status="pending",
        response_code=response_code,
        last_error=error[:2000],
        next_attempt_at=due,
        enqueued_at=due,
    )


def take_due(session: Session, *, min_age_s: float, lease_s: float, limit: int) -> list[int]:
    """Deliveries to (re)send now: pending and due, never queued or queued over min_age_s ago; or
    sending with a lapsed lease. Locked SKIP LOCKED and stamped as queued, so concurrent sweepers
    never take the same row in one pass."""
    now = datetime.now(UTC)
    not_recent = or_(
        AlertDelivery.enqueued_at.is_(None), AlertDelivery.enqueued_at < now - timedelta(seconds=min_age_s)
    )
    due_pending = and_(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now, not_recent)
    lease_expired = and_(
        AlertDelivery.status == "sending",
        AlertDelivery.claimed_at < now - timedelta(seconds=lease_s),
        not_recent,
    )
    ids = list(
        session.scalars(
            select(AlertDelivery.id)
            .where(or_(due_pending, lease_expired))
            .order_by(AlertDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(update(AlertDelivery).where(AlertDelivery.id.in_(ids)).values(enqueued_at=now))
    return ids
