"""The Celery app and its settings (the seed's retry, timeout and queue contract lives here)."""

from __future__ import annotations

from celery import Celery

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
