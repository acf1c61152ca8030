"""AnalysisDispatcher: hands analysis tasks to Celery from a background thread.

Ingest calls `submit()` after its commit and returns at once: publishing to Redis never runs on
the event loop and never fails a request. If Redis is down the publish fails here (fast: the broker
is tried once, with a short connect timeout), is logged, and the analysis simply stays `pending` in
PostgreSQL for the sweeper to re-enqueue. After a failure the dispatcher stops trying for a few
seconds and drops what arrives meanwhile: those rows are pending too, and publishing them one by one
into a dead broker would only turn the backlog into a queue of stale duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

MAX_BACKLOG = 10_000  # past this, drop: the rows are pending in PostgreSQL and the sweeper has them
PAUSE_AFTER_FAILURE_S = 5.0


class AnalysisDispatcher:
    def __init__(
        self, publish: Callable[[int], None], *, pause_after_failure_s: float = PAUSE_AFTER_FAILURE_S
    ) -> None:
        self._publish = publish
        self._pause_s = pause_after_failure_s
        self._paused_until = 0.0
        self._queue: queue.Queue[int | None] = queue.Queue(maxsize=MAX_BACKLOG)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="analysis-dispatcher", daemon=True)
            self._thread.start()

    def submit(self, error_event_id: int) -> bool:
        """Queue the event's analysis task for publishing; False if the backlog is full."""
        try:
            self._queue.put_nowait(error_event_id)
            return True
        except queue.Full:
            logger.warning("dispatch backlog full; analysis for event %s left to the sweeper", error_event_id)
            return False

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
            error_event_id = self._queue.get()
            if error_event_id is None:
                return
            if time.monotonic() < self._paused_until:
                continue
            try:
                self._publish(error_event_id)
            except Exception as exc:
                self._paused_until = time.monotonic() + self._pause_s
                logger.warning(
                    "could not enqueue analysis of event %s (%s); not publishing for %.0fs, "
                    "the sweeper will enqueue what is pending",
                    error_event_id,
                    exc,
                    self._pause_s,
                )


def publish_with_celery(error_event_id: int) -> None:
    """Send perform_ai_analysis to the ai_analysis queue, without Celery's own publish retries."""
    from app.tasks import perform_ai_analysis

    perform_ai_analysis.apply_async(args=[error_event_id], retry=False)
