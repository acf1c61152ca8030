"""Analyse one event's issue: claim the pending analysis, ask the provider, store the outcome.

Called by the Celery task with ids only; every step re-reads the database, so a redelivered or
duplicate task finds the work done (or taken) and returns quietly. The provider call runs
outside any transaction: the claim is committed before it and the result after it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from app.analysis import repository
from app.analysis.markdown import render_markdown
from app.analysis.providers.base import (
    AnalysisInput,
    AnalysisProvider,
    PermanentProviderError,
    ProviderAnswer,
    RetryableProviderError,
)
from app.analysis.providers.factory import build_provider
from app.config import Settings, get_settings
from app.db import sync_session
from app.ingest.event import NormalizedEvent
from app.models import ErrorEvent, Issue, IssueAnalysis, Project
from app.privacy.redact import redact_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | skipped | retry | noop
    reason: str = ""
    retry_in_s: float | None = None


def backoff_s(retries_done: int, settings: Settings, retry_after_s: float | None = None) -> float:
    """Exponential backoff capped at the configured maximum, never sooner than Retry-After."""
    delay = min(settings.analysis_retry_cap_s, settings.analysis_retry_base_s * 2**retries_done)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.analysis_retry_cap_s))
    return delay


def analyse_event(error_event_id: int, *, task_id: str, retries_done: int, max_retries: int) -> Outcome:
    """Run (or skip) the analysis the event links to; see the module docstring."""
    settings = get_settings()
    provider = build_provider(settings)
    with sync_session() as session:
        event = session.get(ErrorEvent, error_event_id)
        if event is None:
            return Outcome("noop", "event not found")
        if event.analysis_id is None:
            return Outcome("noop", "event needs no analysis")
        wanted = session.get(IssueAnalysis, event.analysis_id)
        # A client error is analysed only when a user asked for it (re-analyse).
        if (
            event.status_code is not None
            and event.status_code < 500
            and (wanted is None or wanted.trigger != "manual")
        ):
            return Outcome("noop", f"status {event.status_code} is not a server error")
        analysis = repository.claim(
            session,
            event.analysis_id,
            task_id=task_id,
            lease_s=settings.analysis_lease_s,
            provider=provider.name,
        )
        if analysis is None:
            return Outcome("noop", "analysis already done or taken")
        issue = session.get(Issue, analysis.issue_id)
        project = session.get(Project, analysis.project_id)
        assert issue is not None and project is not None
        if _over_budget(session, provider, project, settings):
            repository.finish(
                session, analysis.id, status="skipped", reason="project's daily LLM budget is spent"
            )
            return Outcome("skipped", "daily LLM budget spent")
        analysis_input = AnalysisInput(
            event=redact_event(NormalizedEvent.from_dict(event.data)),
            issue_title=issue.title,
            times_seen=issue.times_seen,
            project_name=project.name,
        )
        analysis_id = analysis.id

    return _call_provider(provider, analysis_input, analysis_id, retries_done, max_retries, settings)


def _over_budget(session: object, provider: AnalysisProvider, project: Project, settings: Settings) -> bool:
    if provider.name == "heuristic":
        return False
    budget = project.llm_daily_budget_calls
    if budget is None:
        budget = settings.llm_daily_budget_calls
    if budget <= 0:
        return False
    # The claim above already counted this attempt.
    return repository.llm_calls_today(session, project.id) > budget  # type: ignore[arg-type]


def _call_provider(
    provider: AnalysisProvider,
    analysis_input: AnalysisInput,
    analysis_id: int,
    retries_done: int,
    max_retries: int,
    settings: Settings,
) -> Outcome:
    started = time.monotonic()
    try:
        answer = provider.analyze(analysis_input)
    except RetryableProviderError as exc:
        return _retry_or_fail(analysis_id, exc.reason, exc.retry_after_s, retries_done, max_retries, settings)
    except PermanentProviderError as exc:
        with sync_session() as session:
            repository.finish(session, analysis_id, status="failed", reason=exc.reason)
        return Outcome("failed", exc.reason)
    latency_ms = int((time.monotonic() - started) * 1000)
    _store_answer(analysis_id, answer, latency_ms)
    return Outcome("done")


def _retry_or_fail(
    analysis_id: int,
    reason: str,
    retry_after_s: float | None,
    retries_done: int,
    max_retries: int,
    settings: Settings,
) -> Outcome:
    with sync_session() as session:
        if retries_done >= max_retries:
            final = f"gave up after {retries_done + 1} attempts: {reason}"
            repository.finish(session, analysis_id, status="failed", reason=final)
            return Outcome("failed", final)
        delay = backoff_s(retries_done, settings, retry_after_s)
        repository.release_for_retry(session, analysis_id, reason=f"retrying: {reason}", retry_in_s=delay)
    return Outcome("retry", reason, retry_in_s=delay)


def _store_answer(analysis_id: int, answer: ProviderAnswer, latency_ms: int) -> None:
    result = answer.result
    with sync_session() as session:
        repository.finish(
            session,
            analysis_id,
            status="done",
            summary=result.summary,
            root_cause=result.root_cause,
            suggested_fix=result.suggested_fix,
            severity=result.severity,
            category=result.category,
            confidence=result.confidence,
            analysis_text=render_markdown(result, provider=answer.provider, model=answer.model),
            provider=answer.provider,
            model=answer.model,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
            latency_ms=latency_ms,
        )


def fail_after_time_limit(error_event_id: int, *, retries_done: int, max_retries: int) -> Outcome:
    """The soft time limit fired mid-analysis: retry like a timeout, or fail after the last retry."""
    settings = get_settings()
    with sync_session() as session:
        event = session.get(ErrorEvent, error_event_id)
        analysis_id = event.analysis_id if event is not None else None
        if analysis_id is None or session.get(IssueAnalysis, analysis_id) is None:
            return Outcome("noop")
    return _retry_or_fail(
        analysis_id, "analysis exceeded the 240 s soft time limit", None, retries_done, max_retries, settings
    )


TRANSIENT_DB_ERRORS = (DBAPIError,)
