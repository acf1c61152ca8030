"""On-demand re-analysis of an issue (CLI, dashboard, API): a fresh pending analysis generation.

The generation is opened by the repository (app/analysis/repository.py OPEN_GENERATION_SQL) on the
issue's latest event, which is first re-processed (its minified frames resolved afresh through the
source maps uploaded by now, app/sourcemaps/reprocess.py), so the analysis reads the original
source; its job is registered with the unit of work, which sends it once both are committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.analysis import repository
from app.db import SyncUnitOfWork, UnitOfWork
from app.errors import AppError
from app.jobs import analysis_job
from app.sourcemaps.reprocess import reprocess_event, sync_reprocess_event

MANUAL = "manual"


@dataclass(frozen=True)
class ReanalysisRequest:
    analysis_id: int
    error_event_id: int


def _requested(opened: repository.OpenedGeneration | None) -> ReanalysisRequest:
    if opened is None:
        raise AppError("issue not found", 404)
    if opened.error_event_id is None:
        raise AppError("issue has no events to analyse", 409)
    assert opened.analysis_id is not None  # the issue row lock makes this generation ours
    return ReanalysisRequest(opened.analysis_id, opened.error_event_id)


async def request_reanalysis(work: UnitOfWork, issue_id: int) -> ReanalysisRequest:
    """Open a new analysis generation on the issue's latest event; its job leaves after the commit.

    AppError 404 (no such issue) or 409 (no event) are raised before anything is written.
    """
    request = _requested(await repository.open_generation(work.session, issue_id, MANUAL))
    await reprocess_event(work.session, request.error_event_id)
    work.jobs.add(analysis_job(request.error_event_id))
    return request


def sync_request_reanalysis(work: SyncUnitOfWork, issue_id: int) -> ReanalysisRequest:
    """`request_reanalysis` in a sync unit of work (the CLI)."""
    request = _requested(repository.sync_open_generation(work.session, issue_id, MANUAL))
    sync_reprocess_event(work.session, request.error_event_id)
    work.jobs.add(analysis_job(request.error_event_id))
    return request
