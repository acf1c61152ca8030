"""On-demand re-analysis of an issue (CLI, dashboard, API): a fresh pending analysis generation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis import repository as analysis_repository
from app.errors import AppError
from app.models import ErrorEvent, Issue


@dataclass(frozen=True)
class ReanalysisRequest:
    analysis_id: int
    error_event_id: int  # what to hand the dispatcher once the caller has committed


async def request_reanalysis(session: AsyncSession, issue_id: int) -> ReanalysisRequest:
    """Open a new analysis generation for the issue, on its latest event; the caller commits, then
    dispatches `error_event_id`."""
    issue = await session.scalar(select(Issue).where(Issue.id == issue_id).with_for_update())
    if issue is None:
        raise AppError("issue not found", 404)
    latest_event_id = await session.scalar(
        select(ErrorEvent.id).where(ErrorEvent.issue_id == issue_id).order_by(ErrorEvent.id.desc()).limit(1)
    )
    if latest_event_id is None:
        raise AppError("issue has no events to analyse", 409)
    generation = issue.analysis_generation + 1
    analysis_id = await analysis_repository.create_pending(
        session,
        project_id=issue.project_id,
        issue_id=issue.id,
        generation=generation,
        error_event_id=latest_event_id,
        trigger="manual",
    )
    assert analysis_id is not None  # the issue row lock makes this generation ours
    await session.execute(
        update(Issue)
        .where(Issue.id == issue.id)
        .values(analysis_generation=generation, current_analysis_id=analysis_id)
    )
    await session.execute(
        update(ErrorEvent).where(ErrorEvent.id == latest_event_id).values(analysis_id=analysis_id)
    )
    return ReanalysisRequest(analysis_id, latest_event_id)
