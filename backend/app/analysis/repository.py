"""Queries over issue_analyses: creating pending rows, claiming them, recording outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import IssueAnalysis


async def create_pending(
    session: AsyncSession,
    *,
    project_id: int,
    issue_id: int,
    generation: int,
    error_event_id: int,
    trigger: str,
) -> int | None:
    """Mark an analysis as wanted (the outbox row); None if this generation already has one."""
    stmt = (
        insert(IssueAnalysis)
        .values(
            project_id=project_id,
            issue_id=issue_id,
            generation=generation,
            error_event_id=error_event_id,
            trigger=trigger,
            status="pending",
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[IssueAnalysis.issue_id, IssueAnalysis.generation])
        .returning(IssueAnalysis.id)
    )
    return await session.scalar(stmt)


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
) -> None:
    """Record a final outcome: done (with the result fields), failed or skipped (with the reason)."""
    session.execute(
        update(IssueAnalysis)
        .where(IssueAnalysis.id == analysis_id)
        .values(status=status, status_reason=reason, finished_at=datetime.now(UTC), claimed_by=None, **fields)
    )


# First key of the two-key advisory lock that serialises budget checks per project.
_BUDGET_LOCK_CLASS = 0x6641  # "fA"


def lock_project_budget(session: Session, project_id: int) -> None:
    """Serialise budget checks of one project until the transaction ends.

    Without it two workers could each count the other's claim as not yet made and both call.
    """
    session.execute(
        text("SELECT pg_advisory_xact_lock(:cls, :project_id)"),
        {"cls": _BUDGET_LOCK_CLASS, "project_id": project_id},
    )


def _today_utc() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def llm_calls_today(session: Session, project_id: int) -> int:
    """Paid-provider calls attempted for this project since UTC midnight (the daily calls budget).

    `attempts` counts claims that went on to call the provider: a claim that ends without a call
    (skipped over budget, unusable settings) gives its attempt back.
    """
    stmt = select(func.coalesce(func.sum(IssueAnalysis.attempts), 0)).where(
        IssueAnalysis.project_id == project_id,
        IssueAnalysis.claimed_at >= _today_utc(),
        IssueAnalysis.provider.is_not(None),
        IssueAnalysis.provider != "heuristic",
    )
    return int(session.scalar(stmt) or 0)


def llm_tokens_today(session: Session, project_id: int) -> int:
    """Tokens in + out that paid-provider analyses of this project reported since UTC midnight."""
    stmt = select(
        func.coalesce(
            func.sum(func.coalesce(IssueAnalysis.tokens_in, 0) + func.coalesce(IssueAnalysis.tokens_out, 0)),
            0,
        )
    ).where(
        IssueAnalysis.project_id == project_id,
        IssueAnalysis.finished_at >= _today_utc(),
        IssueAnalysis.provider.is_not(None),
        IssueAnalysis.provider != "heuristic",
    )
    return int(session.scalar(stmt) or 0)
