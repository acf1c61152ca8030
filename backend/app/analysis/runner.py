"""Run one analysis task's work: the units of work around the steps of app/analysis/service.py.

The claim commits before the provider is called and the outcome is recorded after, each in its own
short transaction, so no transaction stays open for the length of an LLM call.

Each run is counted by its outcome (faultline_analyses_total), the provider call timed
(faultline_analysis_duration_seconds) and its tokens added up (faultline_llm_tokens_total).
"""

from __future__ import annotations

import time

from app.analysis import service
from app.analysis.service import Answered, Outcome
from app.config import get_settings
from app.db import SyncUnitOfWork, sync_unit_of_work
from app.jobs import alert_job
from app.metrics import analyses, analysis_duration, llm_tokens


def analyse_event(error_event_id: int, *, task_id: str, retries_done: int, max_retries: int) -> Outcome:
    """Run (or skip) the analysis the event links to."""
    outcome = _analyse_event(
        error_event_id, task_id=task_id, retries_done=retries_done, max_retries=max_retries
    )
    analyses.labels(outcome.status).inc()
    return outcome


def _analyse_event(error_event_id: int, *, task_id: str, retries_done: int, max_retries: int) -> Outcome:
    settings = get_settings()
    with sync_unit_of_work() as work:
        claimed = service.claim(work.session, error_event_id, task_id=task_id, settings=settings)
        if isinstance(claimed, Outcome):
            return _send_alerts(work, claimed)
    started = time.monotonic()
    result = service.ask_provider(claimed)
    analysis_duration.observe(time.monotonic() - started)
    if isinstance(result, Answered):
        llm_tokens.labels("in").inc(result.answer.tokens_in or 0)
        llm_tokens.labels("out").inc(result.answer.tokens_out or 0)
    with sync_unit_of_work() as work:
        outcome = service.record(
            work.session,
            claimed.analysis_id,
            result,
            retries_done=retries_done,
            max_retries=max_retries,
            settings=settings,
        )
        return _send_alerts(work, outcome)


def _send_alerts(work: SyncUnitOfWork, outcome: Outcome) -> Outcome:
    """The analysis_done alerts the outcome made due go once its transaction commits."""
    for delivery_id in outcome.alerts:
        work.jobs.add(alert_job(delivery_id))
    return outcome


def fail_after_time_limit(error_event_id: int, *, retries_done: int, max_retries: int) -> Outcome:
    """The soft time limit fired mid-analysis: release the claim for a retry, or fail it."""
    with sync_unit_of_work() as work:
        outcome = service.time_limit_exceeded(
            work.session,
            error_event_id,
            retries_done=retries_done,
            max_retries=max_retries,
            settings=get_settings(),
        )
        analyses.labels(outcome.status).inc()
        return _send_alerts(work, outcome)
