"""Queries over issue_analyses: opening a generation (re-analysis), what a task reads, claiming,
recording outcomes, the daily budget, and the sweeper's pick of overdue analyses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import AlertDelivery, ErrorEvent, Issue, IssueAnalysis, Project

# Re-analysis opens the issue's next generation on its latest event, following the rule in
# app/models/issue_analysis.py (ingest's batch version: app/events/repository.py). One statement:
# the issue row is locked first, so no other writer (a regression in an ingest batch, another
# re-analysis) opens the same generation; nothing is written when the issue has no event.
OPEN_GENERATION_SQL = text(
    """
    WITH target AS (
        SELECT i.id AS issue_id, i.project_id, i.analysis_generation + 1 AS generation,
               (SELECT e.id FROM error_events e WHERE e.issue_id = i.id ORDER BY e.id DESC LIMIT 1)
                   AS error_event_id
        FROM issues i WHERE i.id = :issue_id
        FOR UPDATE OF i
    ),
    created AS (
        INSERT INTO issue_analyses (project_id, issue_id, generation, error_event_id, trigger, status,
                                    attempts)
        SELECT project_id, issue_id, generation, error_event_id, :trigger, 'pending', 0
        FROM target WHERE error_event_id IS NOT NULL
        ON CONFLICT (issue_id, generation) DO NOTHING
        RETURNING id, issue_id, generation, error_event_id
    ),
    set_current AS (
        UPDATE issues SET analysis_generation = c.generation, current_analysis_id = c.id
        FROM created c WHERE issues.id = c.issue_id
    ),
    linked AS (
        UPDATE error_events e SET analysis_id = c.id FROM created c WHERE e.id = c.error_event_id
    )
    SELECT t.error_event_id, c.id AS analysis_id FROM target t LEFT JOIN created c ON true
    """
)


@dataclass(frozen=True)
class OpenedGeneration:
    """What OPEN_GENERATION_SQL found: no row means no such issue."""

    error_event_id: int | None  # None: the issue has no event to analyse (nothing was written)
    analysis_id: int | None


def _opened(row: Row[Any] | None) -> OpenedGeneration | None:
    return OpenedGeneration(row.error_event_id, row.analysis_id) if row is not None else None


async def open_generation(session: AsyncSession, issue_id: int, trigger: str) -> OpenedGeneration | None:
    """Open the issue's next analysis generation on its latest event (OPEN_GENERATION_SQL)."""
    result = await session.execute(OPEN_GENERATION_SQL, {"issue_id": issue_id, "trigger": trigger})
    return _opened(result.one_or_none())


def sync_open_generation(session: Session, issue_id: int, trigger: str) -> OpenedGeneration | None:
    """`open_generation` in a sync session (the CLI)."""
    result = session.execute(OPEN_GENERATION_SQL, {"issue_id": issue_id, "trigger": trigger})
    return _opened(result.one_or_none())


def claim(
    session: Session, analysis_id: int, *, task_id: str, lease_s: int, provider: str
) -> IssueAnalysis | None:
    """Take the analysis for this task, or None when it is finished or another task holds it.

    The conditional UPDATE is the idempotency anchor: of two deliveries racing, exactly one
    sees its row come back. The same task id (a Celery retry or a redelivery after a lost
    worker) may re-claim at once; a different task only after the lease has run out.
    """
    now = datetime.now(UTC)
    stmt = (
        update(IssueAnalysis)
        .where(
            IssueAnalysis.id == analysis_id,
            or_(
                IssueAnalysis.status == "pending",
                (IssueAnalysis.status == "running")
                & or_(
                    IssueAnalysis.claimed_by == task_id,
                    IssueAnalysis.claimed_at < now - timedelta(seconds=lease_s),
                ),
            ),
        )
        .values(
            status="running",
            claimed_at=now,
            claimed_by=task_id,
            provider=provider,
            attempts=IssueAnalysis.attempts + 1,
        )
        .returning(IssueAnalysis)
    )
    return session.scalar(stmt)


def release_for_retry(session: Session, analysis_id: int, *, reason: str, retry_in_s: float) -> None:
    """Give the claim back; the sweeper leaves it alone until the retry is due."""
    session.execute(
        update(IssueAnalysis)
        .where(IssueAnalysis.id == analysis_id)
        .values(
            status="pending",
            status_reason=reason,
            claimed_by=None,
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=retry_in_s),
        )
    )


def finish(
    session: Session, analysis_id: int, *, status: str, reason: str | None = None, **fields: object
) -> list[int]:
    """Record a final outcome: done (with the result fields), failed or skipped (with the reason).

    Returns the alert deliveries it made due: the analysis_done alerts that waited for this analysis
    (app/alerts), in this transaction, so the caller sends their jobs once it commits.
    """
    session.execute(
        update(IssueAnalysis)
        .where(IssueAnalysis.id == analysis_id)
        .values(status=status, status_reason=reason, finished_at=datetime.now(UTC), claimed_by=None, **fields)
    )
    now = datetime.now(UTC)
    woken = session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.analysis_id == analysis_id,
            AlertDelivery.status == "pending",
            AlertDelivery.trigger == "analysis_done",
            AlertDelivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now, enqueued_at=now)
        .returning(AlertDelivery.id)
    )
    return list(woken.scalars())


# First key of the two-key advisory lock that serialises budget checks per project; the global
# ceiling's lock is (_BUDGET_LOCK_CLASS, _GLOBAL), taken after a project's, always in that order.
_BUDGET_LOCK_CLASS = 0x6641  # "fA"
_GLOBAL = -1


def lock_budget(session: Session, project_id: int | None) -> None:
    """Serialise budget checks of one project (None: of the global ceiling) until the transaction ends.

    Without it two workers could each count the other's claim as not yet made and both call.
    """
    session.execute(
        text("SELECT pg_advisory_xact_lock(:cls, :key)"),
        {"cls": _BUDGET_LOCK_CLASS, "key": _GLOBAL if project_id is None else project_id},
    )


def _today_utc() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _paid(project_id: int | None) -> list[ColumnElement[bool]]:
    # Spelled as the partial indexes' predicate (migration 0006), so the all-projects counts use them.
    conditions = [IssueAnalysis.provider.is_not(None), IssueAnalysis.provider != "heuristic"]
    if project_id is not None:
        conditions.append(IssueAnalysis.project_id == project_id)
    return conditions


def llm_calls_today(session: Session, project_id: int | None) -> int:
    """Paid-provider calls attempted since UTC midnight by one project, or by all (None).

    `attempts` counts claims that went on to call the provider: a claim that ends without a call
    (skipped over budget, unusable settings) gives its attempt back.
    """
    stmt = select(func.coalesce(func.sum(IssueAnalysis.attempts), 0)).where(
        IssueAnalysis.claimed_at >= _today_utc(), *_paid(project_id)
    )
    return int(session.scalar(stmt) or 0)


def llm_tokens_today(session: Session, project_id: int | None) -> int:
    """Tokens in + out that paid-provider analyses reported since UTC midnight, of one project or all."""
    stmt = select(
        func.coalesce(
            func.sum(func.coalesce(IssueAnalysis.tokens_in, 0) + func.coalesce(IssueAnalysis.tokens_out, 0)),
            0,
        )
    ).where(IssueAnalysis.finished_at >= _today_utc(), *_paid(project_id))
    return int(session.scalar(stmt) or 0)


def get_event(session: Session, error_event_id: int) -> ErrorEvent | None:
    """The stored event a task names."""
    return session.get(ErrorEvent, error_event_id)


def get_analysis(session: Session, analysis_id: int) -> IssueAnalysis | None:
    """One analysis row."""
    return session.get(IssueAnalysis, analysis_id)


def get_issue_and_project(session: Session, analysis: IssueAnalysis) -> tuple[Issue, Project]:
    """The issue an analysis is of, and its project (both exist: they cascade-delete the analysis)."""
    issue = session.get(Issue, analysis.issue_id)
    project = session.get(Project, analysis.project_id)
    assert issue is not None and project is not None
    return issue, project


@dataclass(frozen=True)
class DueAnalysis:
    analysis_id: int
    error_event_id: int | None


def take_due(session: Session, *, min_age_s: float, lease_s: float, limit: int) -> list[DueAnalysis]:
    """Overdue analyses: pending, or running with a lapsed lease, for longer than min_age_s.

    The rows are locked with SKIP LOCKED and stamped (next_attempt_at = now), so a concurrent
    sweeper skips them now and a later pass waits min_age_s again.
    """
    now = datetime.now(UTC)
    not_recent = IssueAnalysis.next_attempt_at < now - timedelta(seconds=min_age_s)
    due_pending = and_(IssueAnalysis.status == "pending", not_recent)
    lease_expired = and_(
        IssueAnalysis.status == "running",
        IssueAnalysis.claimed_at < now - timedelta(seconds=lease_s),
        not_recent,
    )
    rows = session.execute(
        select(IssueAnalysis.id, IssueAnalysis.error_event_id)
        .where(or_(due_pending, lease_expired))
        .order_by(IssueAnalysis.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        session.execute(
            update(IssueAnalysis)
            .where(IssueAnalysis.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now)
        )
    return [DueAnalysis(r.id, r.error_event_id) for r in rows]
