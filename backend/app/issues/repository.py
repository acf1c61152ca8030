"""Queries over issues. The upsert is the heart of grouping under concurrency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, null, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Issue


@dataclass(frozen=True)
class IssueRow:
    id: int
    current_analysis_id: int | None
    analysis_generation: int
    is_regressed: bool


def _build_upsert() -> Insert:
    """INSERT … ON CONFLICT DO UPDATE on the issues table, built once with bind parameters.

    Built at import rather than per event: constructing it (the `excluded` alias above all) and
    computing its cache key cost more CPU than the rest of an ingest request's SQL. It targets the
    Core table, not the ORM class, so execution skips the ORM's bulk-insert machinery.
    """
    issues = Issue.__table__
    was_resolved = issues.c.status == "resolved"
    stmt = insert(issues).values(
        project_id=bindparam("project_id"),
        fingerprint=bindparam("fingerprint"),
        grouping_version=bindparam("grouping_version"),
        title=bindparam("title"),
        culprit=bindparam("culprit"),
        level=bindparam("level"),
        status="unresolved",
        is_regressed=False,
        first_seen=bindparam("seen_at"),
        last_seen=bindparam("seen_at"),
        times_seen=1,
        analysis_generation=1,
    )
    return stmt.on_conflict_do_update(
        index_elements=[issues.c.project_id, issues.c.fingerprint],
        set_={
            "times_seen": issues.c.times_seen + 1,
            "last_seen": func.greatest(issues.c.last_seen, stmt.excluded.last_seen),
            # An ignored issue stays ignored (as in Sentry); only a resolved one reopens.
            "status": case((was_resolved, "unresolved"), else_=issues.c.status),
            "is_regressed": case((was_resolved, True), else_=issues.c.is_regressed),
            "resolved_at": case((was_resolved, null()), else_=issues.c.resolved_at),
            "analysis_generation": case(
                (was_resolved, issues.c.analysis_generation + 1), else_=issues.c.analysis_generation
            ),
            "current_analysis_id": case((was_resolved, null()), else_=issues.c.current_analysis_id),
        },
    ).returning(
        issues.c.id, issues.c.current_analysis_id, issues.c.analysis_generation, issues.c.is_regressed
    )


_UPSERT = _build_upsert()


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
    params = {
        "project_id": project_id,
        "fingerprint": fingerprint,
        "grouping_version": grouping_version,
        "title": title,
        "culprit": culprit,
        "level": level,
        "seen_at": seen_at,
    }
    row = (await session.execute(_UPSERT, params)).one()
    return IssueRow(*row)


async def set_current_analysis(session: AsyncSession, issue_id: int, analysis_id: int) -> None:
    await session.execute(update(Issue).where(Issue.id == issue_id).values(current_analysis_id=analysis_id))
