"""Queries over error_events used by ingest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ErrorEvent


async def insert_event(
    session: AsyncSession,
    *,
    project_id: int,
    issue_id: int,
    event_id: str,
    status_code: int | None,
    level: str,
    environment: str | None,
    release: str | None,
    timestamp: datetime,
    payload: dict[str, Any],
    data: dict[str, Any],
    analysis_id: int | None,
) -> int | None:
    """Insert the event; None when (project, event_id) is already stored (a client resend)."""
    # The Core table, not the ORM class: an ORM-enabled INSERT runs the ORM's bulk-insert machinery,
    # which costs a quarter of an ingest request's CPU and gives nothing back here.
    table = ErrorEvent.__table__
    stmt = (
        insert(table)
        .values(
            project_id=project_id,
            issue_id=issue_id,
            event_id=event_id,
            status_code=status_code,
            level=level,
            environment=environment,
            release=release,
            timestamp=timestamp,
            payload=payload,
            data=data,
            analysis_id=analysis_id,
        )
        .on_conflict_do_nothing(index_elements=[table.c.project_id, table.c.event_id])
        .returning(table.c.id)
    )
    return await session.scalar(stmt)


async def link_analysis(session: AsyncSession, event_pk: int, analysis_id: int) -> None:
    await session.execute(update(ErrorEvent).where(ErrorEvent.id == event_pk).values(analysis_id=analysis_id))
