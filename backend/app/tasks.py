"""Celery tasks: thin wrappers that take ids and delegate to the analysis runner, the alert runner
(queue `notifications`), the sweepers and retention."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import celeryd_after_setup, worker_init, worker_process_shutdown, worker_shutdown

from app.alerts import runner as alerts_runner
from app.alerts.delivery import Recorded
from app.alerts.sweeper import sweep_alerts
from app.analysis import runner, service
from app.analysis.sweeper import sweep
from app.celery_app import HARD_TIME_LIMIT_S, MAX_RETRIES, SOFT_TIME_LIMIT_S, celery_app, publish_job
from app.config import get_settings
from app.ingest.inbox import MAX_ATTEMPTS as INBOX_MAX_ATTEMPTS
from app.jobs import JobDispatcher, install_dispatcher, installed_dispatcher
from app.metrics import process_exited, process_started
from app.retention.cleanup import run_cleanup
from app.runtime.cpu_priority import lower_cpu_priority

logger = logging.getLogger(__name__)


@celeryd_after_setup.connect
def _announce_provider(**_kwargs: Any) -> None:
    # Built once in the main process, before the pool forks, so a fallback or a settings error
    # is said once, at start, where whoever started the worker is looking.
    logger.info("%s", service.describe_provider(get_settings()))


@worker_init.connect
def _give_way_to_ingest(**_kwargs: Any) -> None:
    # In the worker's main process before its pool starts: prefork children and green threads inherit it.
    lower_cpu_priority(get_settings().worker_nice)
    process_started("worker")


@worker_shutdown.connect
@worker_process_shutdown.connect
def _leave_metrics(**_kwargs: Any) -> None:
    # The worker (or one of its prefork children) no longer counts among the running processes.
    process_exited()


@celery_app.task(
    bind=True,
    name="app.tasks.perform_ai_analysis",
    max_retries=MAX_RETRIES,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=HARD_TIME_LIMIT_S,
)
def perform_ai_analysis(self: Task, error_event_id: int) -> str:
    """Analyse the issue of error event `error_event_id` (skips non-5xx and finished analyses)."""
    _ensure_dispatcher()
    retries_done = self.request.retries
    try:
        outcome = runner.analyse_event(
            error_event_id, task_id=self.request.id or "", retries_done=retries_done, max_retries=MAX_RETRIES
        )
    except SoftTimeLimitExceeded:
        outcome = runner.fail_after_time_limit(
            error_event_id, retries_done=retries_done, max_retries=MAX_RETRIES
        )
    except service.TRANSIENT_DB_ERRORS as exc:
        # PostgreSQL unreachable: nothing was recorded, so retry; the sweeper is the backstop.
        delay = service.backoff_s(retries_done, get_settings())
        logger.warning("database error analysing event %s: %s; retrying in %.0fs", error_event_id, exc, delay)
        raise self.retry(exc=exc, countdown=delay) from exc
    if outcome.status == "retry":
        assert outcome.retry_in_s is not None
        raise self.retry(countdown=outcome.retry_in_s)
    logger.info("analysis of event %s: %s %s", error_event_id, outcome.status, outcome.reason)
    return outcome.status


@celery_app.task(name="app.tasks.sweep_pending_analyses", ignore_result=True)
def sweep_pending_analyses() -> int:
    """Re-enqueue analyses left pending (Redis was down, a worker died, an ETA task was lost)."""
    return sweep(publish_job)


def _ensure_dispatcher() -> None:
    """Jobs a task's unit of work asks for (alerts an analysis made due) go through a dispatcher of
    this process, started on first use (after any fork of the pool)."""
    if installed_dispatcher() is None:
        install_dispatcher(JobDispatcher(publish_job).start())


@celery_app.task(
    bind=True,
    name="app.tasks.deliver_alert",
    max_retries=None,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=None,
    time_limit=120,
)
def deliver_alert(self: Task, delivery_id: int) -> str:
    """Send alert delivery `delivery_id` once (a sent, folded or held row makes this a no-op)."""
    try:
        outcome = alerts_runner.deliver(delivery_id, task_id=self.request.id or "")
    except service.TRANSIENT_DB_ERRORS as exc:
        logger.warning("database error sending alert %s: %s; the sweeper retries it", delivery_id, exc)
        raise
    if isinstance(outcome, Recorded) and outcome.status == "retry":
        assert outcome.retry_in_s is not None
        raise self.retry(countdown=outcome.retry_in_s)
    return outcome.status if isinstance(outcome, Recorded) else outcome.reason


@celery_app.task(name="app.tasks.sweep_alert_deliveries", ignore_result=True)
def sweep_alert_deliveries() -> int:
    """Queue alerts that are due: written by digesters, past their wait cap, or left by a dead worker."""
    return sweep_alerts(publish_job)


# A retention pass stops (the next one carries on) well before the task's soft time limit.
RETENTION_PASS_BUDGET_S = 0.75 * (SOFT_TIME_LIMIT_S or HARD_TIME_LIMIT_S)


@celery_app.task(name="app.tasks.delete_expired_events", ignore_result=True)
def delete_expired_events() -> str:
    """One retention pass (app/retention/cleanup.py), within RETENTION_PASS_BUDGET_S."""
    report = run_cleanup(
        get_settings(), inbox_max_attempts=INBOX_MAX_ATTEMPTS, max_seconds=RETENTION_PASS_BUDGET_S
    )
    return str(report)
