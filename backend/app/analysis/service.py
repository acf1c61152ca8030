"""The steps of analysing one event's issue: claim the pending analysis, ask the provider, record
the outcome; and which provider the settings ask for.

The steps take the session of a unit of work and never commit: app/analysis/runner.py runs them,
the claim and the record each in a short transaction of its own, and the provider call between
them outside any. Every step re-reads the database, so a redelivered or duplicate task finds the
work done (or taken) and returns quietly.

Every way an analysis can end is recorded on its row: `done` with the result, `skipped` over the
project's daily budget, `failed` with the reason (permanent provider error, invalid answer, last
retry spent, unusable LLM settings, an unexpected error). Retries go back to the task, which
schedules them with a countdown; nothing here sleeps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.analysis import repository
from app.analysis.markdown import render_markdown
from app.analysis.providers.base import (
    AnalysisInput,
    AnalysisProvider,
    PermanentProviderError,
    ProviderAnswer,
    RetryableProviderError,
)
from app.analysis.providers.factory import ProviderConfigError, build_provider_or_fallback
from app.config import Settings
from app.events.model import NormalizedEvent
from app.models import IssueAnalysis, Project
from app.privacy.redact import redact_for_prompt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # done | failed | skipped | retry | noop
    reason: str = ""
    retry_in_s: float | None = None
    # Alert deliveries the outcome made due (analysis_done); their jobs go once the caller commits.
    alerts: tuple[int, ...] = ()


def backoff_s(retries_done: int, settings: Settings, retry_after_s: float | None = None) -> float:
    """Exponential backoff capped at the configured maximum, never sooner than Retry-After."""
    delay = min(settings.analysis_retry_cap_s, settings.analysis_retry_base_s * 2**retries_done)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.analysis_retry_cap_s))
    return delay


_providers: dict[tuple[Any, ...], AnalysisProvider | ProviderConfigError] = {}


def current_provider(settings: Settings) -> AnalysisProvider:
    """The provider the settings ask for, built once per process (see Settings for the fallback).

    Raises ProviderConfigError when the LLM settings are present but unusable.
    """
    key = (
        settings.llm_provider,
        settings.llm_base_url,
        settings.llm_api_key,
        settings.llm_model,
        settings.llm_timeout_s,
        settings.llm_max_tokens,
        settings.llm_max_input_tokens,
    )
    built = _providers.get(key)
    if built is None:
        try:
            provider, note = build_provider_or_fallback(settings)
        except ProviderConfigError as exc:
            logger.error("LLM settings are unusable, analyses will fail: %s", exc.reason)
            built = exc
        else:
            if note:
                logger.warning("%s", note)
            built = provider
        _providers.clear()  # one configuration per process; keep no stale clients around
        _providers[key] = built
    if isinstance(built, ProviderConfigError):
        raise built
    return built


def describe_provider(settings: Settings) -> str:
    """One line for the worker's start-up log: which provider writes analyses."""
    try:
        provider = current_provider(settings)
    except ProviderConfigError as exc:
        return f"analysis provider: none usable ({exc.reason})"
    if provider.name == "heuristic":
        return "analysis provider: heuristic (offline, rule-based)"
    return f"analysis provider: {provider!r}"


@dataclass(frozen=True)
class Claimed:
    """A claimed analysis and everything the provider call needs, read in the claim's transaction."""

    analysis_id: int
    provider: AnalysisProvider
    analysis_input: AnalysisInput


def claim(session: Session, error_event_id: int, *, task_id: str, settings: Settings) -> Claimed | Outcome:
    """Claim the analysis the event links to and read its input, or say why there is nothing to call.

    An analysis that ends here (unusable LLM settings, over budget) is recorded in this session.
    """
    config_error: str | None = None
    provider: AnalysisProvider | None
    try:
        provider = current_provider(settings)
    except ProviderConfigError as exc:
        provider, config_error = None, exc.reason
    event = repository.get_event(session, error_event_id)
    if event is None:
        return Outcome("noop", "event not found")
    if event.analysis_id is None:
        return Outcome("noop", "event needs no analysis")
    wanted = repository.get_analysis(session, event.analysis_id)
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
        provider=provider.name if provider is not None else settings.llm_provider,
    )
    if analysis is None:
        return Outcome("noop", "analysis already done or taken")
    if provider is None:
        reason = f"LLM settings are unusable: {config_error}"
        alerts = _finish_without_call(session, analysis.id, "failed", reason)
        return Outcome("failed", reason, alerts=alerts)
    issue, project = repository.get_issue_and_project(session, analysis)
    over = _over_budget(session, provider, project, settings)
    if over:
        alerts = _finish_without_call(session, analysis.id, "skipped", over)
        return Outcome("skipped", over, alerts=alerts)
    analysis_input = analysis_input_for(event.data, issue.title, issue.times_seen, project.name)
    return Claimed(analysis.id, provider, analysis_input)


def analysis_input_for(data: dict[str, Any], title: str, times_seen: int, project_name: str) -> AnalysisInput:
    """What a provider gets for a stored event (`error_events.data`) of an issue.

    Stored events were scrubbed at ingest; they are scrubbed again with today's rules before they
    leave, and without the user: an LLM never gets a user's email, username or address.
    """
    event, issue_title = redact_for_prompt(NormalizedEvent.from_dict(data), title)
    return AnalysisInput(
        event=event, issue_title=issue_title, times_seen=times_seen, project_name=project_name
    )


def _finish_without_call(session: Session, analysis_id: int, status: str, reason: str) -> tuple[int, ...]:
    # No call was made on this claim, so it gives its attempt back to the calls budget.
    return tuple(
        repository.finish(
            session, analysis_id, status=status, reason=reason, attempts=IssueAnalysis.attempts - 1
        )
    )


def _over_budget(
    session: Session, provider: AnalysisProvider, project: Project, settings: Settings
) -> str | None:
    """Why this project may not make another paid call today, or None: its own daily budget first,
    then the ceiling over all projects, which no number of projects can raise."""
    if provider.name == "heuristic":
        return None
    calls_budget = project.llm_daily_budget_calls
    if calls_budget is None:
        calls_budget = settings.llm_daily_budget_calls
    over = _over(session, project.id, calls_budget, settings.llm_daily_budget_tokens, "daily LLM budget")
    return over or _over(
        session,
        None,
        settings.llm_global_daily_budget_calls,
        settings.llm_global_daily_budget_tokens,
        "global daily LLM ceiling (all projects)",
    )


def _over(
    session: Session, project_id: int | None, calls_budget: int, tokens_budget: int, name: str
) -> str | None:
    if calls_budget <= 0 and tokens_budget <= 0:
        return None
    repository.lock_budget(session, project_id)
    if calls_budget > 0:
        # The claim above already counted this attempt.
        calls = repository.llm_calls_today(session, project_id)
        if calls > calls_budget:
            return f"{name} spent: {calls - 1} of {calls_budget} calls used today (UTC)"
    if tokens_budget > 0:
        tokens = repository.llm_tokens_today(session, project_id)
        if tokens >= tokens_budget:
            return f"{name} spent: {tokens} of {tokens_budget} tokens used today (UTC)"
    return None


@dataclass(frozen=True)
class Answered:
    answer: ProviderAnswer
    latency_ms: int


@dataclass(frozen=True)
class CallFailed:
    reason: str
    retryable: bool
    retry_after_s: float | None = None


def ask_provider(claimed: Claimed) -> Answered | CallFailed:
    """The provider call; no database here, so it runs outside any transaction."""
    provider = claimed.provider
    started = time.monotonic()
    try:
        answer = provider.analyze(claimed.analysis_input)
    except RetryableProviderError as exc:
        return CallFailed(exc.reason, retryable=True, retry_after_s=exc.retry_after_s)
    except PermanentProviderError as exc:
        return CallFailed(exc.reason, retryable=False)
    except SoftTimeLimitExceeded:
        raise  # the task turns it into a retry or a final failure
    except Exception as exc:
        # A bug must not leave the analysis `running` until its lease expires, only to fail again.
        logger.exception("analysis %s: unexpected error from provider %s", claimed.analysis_id, provider.name)
        return CallFailed(f"{provider.name}: unexpected error: {type(exc).__name__}", retryable=False)
    return Answered(answer, int((time.monotonic() - started) * 1000))


def record(
    session: Session,
    analysis_id: int,
    result: Answered | CallFailed,
    *,
    retries_done: int,
    max_retries: int,
    settings: Settings,
) -> Outcome:
    """Store what the call gave: the answer, a final failure, or the claim released for a retry."""
    if isinstance(result, Answered):
        alerts = _store_answer(session, analysis_id, result.answer, result.latency_ms)
        return Outcome("done", alerts=alerts)
    if not result.retryable:
        alerts = repository.finish(session, analysis_id, status="failed", reason=result.reason)
        return Outcome("failed", result.reason, alerts=tuple(alerts))
    return _retry_or_fail(
        session, analysis_id, result.reason, result.retry_after_s, retries_done, max_retries, settings
    )


def _retry_or_fail(
    session: Session,
    analysis_id: int,
    reason: str,
    retry_after_s: float | None,
    retries_done: int,
    max_retries: int,
    settings: Settings,
) -> Outcome:
    if retries_done >= max_retries:
        final = f"gave up after {retries_done + 1} attempts: {reason}"
        alerts = repository.finish(session, analysis_id, status="failed", reason=final)
        return Outcome("failed", final, alerts=tuple(alerts))
    delay = backoff_s(retries_done, settings, retry_after_s)
    repository.release_for_retry(session, analysis_id, reason=f"retrying: {reason}", retry_in_s=delay)
    return Outcome("retry", reason, retry_in_s=delay)


def _store_answer(
    session: Session, analysis_id: int, answer: ProviderAnswer, latency_ms: int
) -> tuple[int, ...]:
    result = answer.result
    return tuple(
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
    )


def time_limit_exceeded(
    session: Session, error_event_id: int, *, retries_done: int, max_retries: int, settings: Settings
) -> Outcome:
    """The soft time limit fired mid-analysis: retry like a timeout, or fail after the last retry."""
    event = repository.get_event(session, error_event_id)
    analysis_id = event.analysis_id if event is not None else None
    if analysis_id is None or repository.get_analysis(session, analysis_id) is None:
        return Outcome("noop")
    return _retry_or_fail(
        session,
        analysis_id,
        "analysis exceeded the 240 s soft time limit",
        None,
        retries_done,
        max_retries,
        settings,
    )


TRANSIENT_DB_ERRORS = (DBAPIError,)
