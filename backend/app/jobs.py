"""Jobs for the Celery worker, and the one way they are sent: after the commit that asked for them.

Code that writes rows needing work (a pending analysis) registers a `Job` with the unit of work's
`AfterCommit` collector. When the unit of work commits, the collector hands its jobs to the
process's `JobDispatcher`; on rollback it drops them. So a job never names a row that was not
committed, and nobody writes "commit, then submit" by hand.

The dispatcher publishes from a background thread: publishing never runs on an event loop and never
fails a request or a batch. If the broker is down the publish fails fast, is logged, and the row
simply stays `pending` in PostgreSQL for the sweeper (app/analysis/sweeper.py). After a failure the
dispatcher stops trying for a few seconds and drops what arrives meanwhile: those rows are pending
too, and publishing them one by one into a dead broker would only queue stale duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

ANALYSIS_QUEUE = "ai_analysis"
PERFORM_AI_ANALYSIS = "app.tasks.perform_ai_analysis"
# Alerts have a queue of their own, so a backlog of analyses never delays one (app/alerts).
NOTIFICATIONS_QUEUE = "notifications"
DELIVER_ALERT = "app.tasks.deliver_alert"

MAX_BACKLOG = 10_000  # past this, drop: the rows are pending in PostgreSQL and the sweeper has them
PAUSE_AFTER_FAILURE_S = 5.0


@dataclass(frozen=True)
class Job:
    """One Celery task to send: its registered name, its arguments (ids only) and its queue."""

    task: str
    args: tuple[Any, ...]
    queue: str


def analysis_job(error_event_id: int) -> Job:
    """Analyse the issue of this stored event (app/tasks.py perform_ai_analysis)."""
    return Job(PERFORM_AI_ANALYSIS, (error_event_id,), ANALYSIS_QUEUE)


def alert_job(delivery_id: int) -> Job:
    """Send this alert delivery (app/tasks.py deliver_alert)."""
    return Job(DELIVER_ALERT, (delivery_id,), NOTIFICATIONS_QUEUE)


Publish = Callable[[Job], None]


class JobDispatcher:
    """Publishes jobs from a background thread (see the module docstring)."""

    def __init__(self, publish: Publish, *, pause_after_failure_s: float = PAUSE_AFTER_FAILURE_S) -> None:
        self._publish = publish
        self._pause_s = pause_after_failure_s
        self._paused_until = 0.0
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=MAX_BACKLOG)
        self._thread: threading.Thread | None = None

    def start(self) -> JobDispatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="job-dispatcher", daemon=True)
            self._thread.start()
        return self

    def submit(self, jobs: list[Job]) -> None:
        """Queue the jobs for publishing; what does not fit is left to the sweeper."""
        for job in jobs:
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                logger.warning("dispatch backlog full; %s%s left to the sweeper", job.task, job.args)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish what is queued (bounded by timeout_s), then stop the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):  # a full backlog is pending in PostgreSQL anyway
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if time.monotonic() < self._paused_until:
                continue
            try:
                self._publish(job)
            except Exception as exc:
                self._paused_until = time.monotonic() + self._pause_s
                logger.warning(
                    "could not send %s%s (%s); not publishing for %.0fs, the sweeper sends what is pending",
                    job.task,
                    job.args,
                    exc,
                    self._pause_s,
                )


class AfterCommit:
    """The jobs one unit of work registered: sent when it commits, dropped when it rolls back."""

    def __init__(self, dispatcher: JobDispatcher | None) -> None:
        self._dispatcher = dispatcher
        self._jobs: list[Job] = []

    def add(self, job: Job) -> None:
        self._jobs.append(job)

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def committed(self) -> None:
        """The unit of work committed: send its jobs (without a dispatcher the sweeper sends them)."""
        jobs, self._jobs = self._jobs, []
        if jobs and self._dispatcher is not None:
            self._dispatcher.submit(jobs)

    def rolled_back(self) -> None:
        self._jobs = []


# The process's dispatcher, installed by its entry point (the API's lifespan, a digester, the CLI,
# the worker); units of work send their jobs through it.
_installed: JobDispatcher | None = None


def install_dispatcher(dispatcher: JobDispatcher | None) -> None:
    global _installed
    _installed = dispatcher


def installed_dispatcher() -> JobDispatcher | None:
    return _installed
