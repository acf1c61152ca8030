"""The Celery app and its settings (the seed's retry, timeout and queue contract lives here)."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun
from kombu.transport import redis as kombu_redis

from app.config import get_settings
from app.jobs import ANALYSIS_QUEUE, NOTIFICATIONS_QUEUE, PERFORM_AI_ANALYSIS, Job

settings = get_settings()


def _survive_broker_loss_with_unacked_messages() -> None:
    """Keep the worker alive when the broker drops while it holds unacknowledged messages.

    On a lost connection Celery collects the connection (the transport forgets its client), then
    closes it; closing the Redis channel tries to put unacked messages back through a new client
    built from that forgotten client, and kombu 5.7 fails with AttributeError. Celery only ignores
    connection errors there, so the worker exits "unrecoverable". Raising the connection error
    instead lets Celery ignore it and reconnect; the messages stay in Redis's unacked set and come
    back after the visibility timeout (the sweeper re-enqueues their analyses long before).
    """
    original = kombu_redis.Channel._connparams
    if getattr(original, "faultline_guard", False):
        return

    def connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError("broker connection already closed")
        return original(self, asynchronous=asynchronous)

    connparams.faultline_guard = True  # type: ignore[attr-defined]
    kombu_redis.Channel._connparams = connparams


_survive_broker_loss_with_unacked_messages()

SOFT_TIME_LIMIT_S = settings.analysis_soft_time_limit_s or None  # 240 s; 0 = only the hard limit
HARD_TIME_LIMIT_S = settings.analysis_hard_time_limit_s  # 300 s
MAX_RETRIES = 3
# Longest countdown a task can be scheduled with is the 600 s backoff cap; Redis must not
# redeliver an ETA task the worker still holds, so the visibility timeout is well beyond it.
VISIBILITY_TIMEOUT_S = 3600

celery_app = Celery("faultline", broker=settings.celery_broker_url, include=["app.tasks"])
celery_app.conf.update(
    task_default_queue=ANALYSIS_QUEUE,
    task_routes={
        "app.tasks.deliver_alert": {"queue": NOTIFICATIONS_QUEUE},
        "app.tasks.sweep_alert_deliveries": {"queue": NOTIFICATIONS_QUEUE},
        "app.tasks.*": {"queue": ANALYSIS_QUEUE},
    },
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_soft_time_limit=SOFT_TIME_LIMIT_S,
    task_time_limit=HARD_TIME_LIMIT_S,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    # Celery's own formats, with the process id.
    worker_log_format="[%(asctime)s: pid=%(process)d %(levelname)s/%(processName)s] %(message)s",
    worker_task_log_format=(
        "[%(asctime)s: pid=%(process)d %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"
    ),
    broker_connection_retry_on_startup=True,
    # The worker outlives any broker outage: it keeps reconnecting instead of exiting after 100 tries.
    broker_connection_max_retries=None,
    # Tasks running when the broker goes away finish their work (it lands in PostgreSQL, not Redis);
    # cancelling them would throw away a paid LLM call. A redelivery later finds the analysis done.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    broker_connection_timeout=2,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "socket_connect_timeout": settings.enqueue_timeout_s,
        "socket_timeout": 2,
        # Publishing (the API's dispatcher, the sweeper) tries a down broker once and gives up at
        # once; kombu's default is a second try after 2 s. The analysis stays pending for the sweeper.
        "max_retries": 0,
    },
    beat_schedule={
        "sweep-pending-analyses": {
            "task": "app.tasks.sweep_pending_analyses",
            "schedule": settings.sweeper_interval_s,
        },
        # Sends the alerts the digesters wrote (they have no broker client), fires analysis_done
        # alerts whose wait cap passed, and re-sends what a dead worker left.
        "sweep-alert-deliveries": {
            "task": "app.tasks.sweep_alert_deliveries",
            "schedule": settings.alert_sweeper_interval_s,
        },
        "delete-expired-events": {
            "task": "app.tasks.delete_expired_events",
            "schedule": settings.retention_interval_s,
        },
    },
)


# The soft time limit in green pools. Celery's gevent pool enforces only the hard limit (a
# gevent.Timeout around each task); the soft one, which lets the task record why it stopped and
# retry, is a signal that only the prefork pool sends. So under gevent each task gets a Timeout of
# its own that raises SoftTimeLimitExceeded in its greenlet at the soft limit: the task sees the same
# exception at the same moment as under prefork. (`celery worker -P gevent`, see runtime/supervisor.py.)
_soft_deadlines: dict[str, Any] = {}


def _green_pool() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def soft_time_limit_of(task: Task) -> float | None:
    """The soft limit this run of the task has: from its message, else the task's, else the app's."""
    _hard, soft = task.request.timelimit or (None, None)
    return soft or task.soft_time_limit or celery_app.conf.task_soft_time_limit


@task_prerun.connect
def _arm_soft_time_limit(task_id: str | None = None, task: Task | None = None, **_: Any) -> None:
    if task is None or task_id is None or not _green_pool():
        return
    soft = soft_time_limit_of(task)
    if soft:
        from gevent import Timeout

        deadline = Timeout(soft, SoftTimeLimitExceeded(f"soft time limit ({soft:g} s) exceeded"))
        deadline.start()  # raises in the current greenlet: the one running the task
        _soft_deadlines[task_id] = deadline


@task_postrun.connect
def _disarm_soft_time_limit(task_id: str | None = None, **_: Any) -> None:
    deadline = _soft_deadlines.pop(task_id, None) if task_id else None
    if deadline is not None:
        deadline.close()


# What a task's decorator would add to its message (apply_async does): its time limits travel with it.
_TASK_OPTIONS: dict[str, dict[str, Any]] = {
    PERFORM_AI_ANALYSIS: {"soft_time_limit": SOFT_TIME_LIMIT_S, "time_limit": HARD_TIME_LIMIT_S},
}


def publish_job(job: Job) -> None:
    """Send one job by its task name, without Celery's own publish retries (app/jobs.py)."""
    celery_app.send_task(
        job.task, args=job.args, queue=job.queue, retry=False, **_TASK_OPTIONS.get(job.task, {})
    )
