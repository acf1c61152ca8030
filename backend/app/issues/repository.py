"""Queries over issues. The upsert is the heart of grouping under concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, null, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Issue


@dataclass(frozen=True)
class IssueRow:
    id: int
    current_analysis_id: int | None
    analysis_generation: int
    is_regressed: bool


async def upsert_for_event(
    session: AsyncSession,
    *,
    project_id: int,
    fingerprint: str,
    grouping_version: str,
    title: str,
    culprit: str,
    level: str,
    seen_at: datetime,
) -> IssueRow:
    """Insert the issue or count one more event on it, in one statement.

    The row lock taken by ON CONFLICT DO UPDATE serialises concurrent events of one issue, so
    `times_seen` stays exact. A resolved issue that sees an event regresses: it reopens, its
    analysis generation is bumped and its current analysis cleared, so the next qualifying event
    asks for a fresh analysis.
    """
    was_resolved = Issue.status == "resolved"
    stmt = insert(Issue).values(
        project_id=project_id,
        fingerprint=fingerprint,
        grouping_version=grouping_version,
        title=title,
        culprit=culprit,
        level=level,
        status="unresolved",
        is_regressed=False,
        first_seen=seen_at,
        last_seen=seen_at,
        times_seen=1,
        analysis_generation=1,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Issue.project_id, Issue.fingerprint],
        set_={
            "times_seen": Issue.times_seen + 1,
            "last_seen": func.greatest(Issue.last_seen, stmt.excluded.last_seen),
            "status": case((was_resolved, "unresolved"), else_=Issue.status),
            "is_regressed": case((was_resolved, True), else_=Issue.is_regressed),
            "resolved_at": case((was_resolved, null()), else_=Issue.resolved_at),
            "analysis_generation": case(
                (was_resolved, Issue.analysis_generation + 1), else_=Issue.analysis_generation
            ),
            "current_analysis_id": case((was_resolved, null()), else_=Issue.current_analysis_id),
        },
    ).returning(Issue.id, Issue.current_analysis_id, Issue.analysis_generation, Issue.is_regressed)
    row = (await session.execute(stmt)).one()
    return IssueRow(*row)


async def set_current_analysis(session: AsyncSession, issue_id: int, analysis_id: int) -> None:
    await session.execute(update(Issue).where(Issue.id == issue_id).values(current_analysis_id=analysis_id))
