"""The Celery app and its settings (the seed's retry, timeout and queue contract lives here)."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun

from app.config import get_settings

ANALYSIS_QUEUE = "ai_analysis"
SOFT_TIME_LIMIT_S = 240
HARD_TIME_LIMIT_S = 300
MAX_RETRIES = 3
# Longest countdown a task can be scheduled with is the 600 s backoff cap; Redis must not
# redeliver an ETA task the worker still holds, so the visibility timeout is well beyond it.
VISIBILITY_TIMEOUT_S = 3600

settings = get_settings()

celery_app = Celery("faultline", broker=settings.celery_broker_url, include=["app.tasks"])
celery_app.conf.update(
    task_default_queue=ANALYSIS_QUEUE,
    task_routes={"app.tasks.*": {"queue": ANALYSIS_QUEUE}},
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_soft_time_limit=SOFT_TIME_LIMIT_S,
    task_time_limit=HARD_TIME_LIMIT_S,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=2,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "socket_connect_timeout": 1,
        "socket_timeout": 2,
    },
    beat_schedule={
        "sweep-pending-analyses": {
            "task": "app.tasks.sweep_pending_analyses",
            "schedule": settings.sweeper_interval_s,
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
