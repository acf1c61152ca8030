"""The outbox sweeper: re-enqueue analyses that are pending (or whose claim expired) for too long.

It is what makes the outbox durable: a Redis outage, a crash between commit and publish, a
hard-time-limit kill (which Celery acks), or a retry's ETA task lost with its worker all leave the
row `pending` (or `running` with a lapsed lease), and the sweeper enqueues it again.

Runs periodically as the beat entry `sweep-pending-analyses` (`make run` starts the worker with
`--beat`; elsewhere run `celery -A app.celery_worker beat`), or once via `python -m app sweep`. Rows
are picked with FOR UPDATE SKIP LOCKED and stamped, so concurrent sweepers never enqueue the same
row twice in one pass; the worker's claim makes any duplicate task harmless anyway.
"""

from __future__ import annotations

import logging

from app.analysis import repository
from app.config import get_settings
from app.db import sync_session
from app.jobs import Publish, analysis_job

logger = logging.getLogger(__name__)


def sweep(publish: Publish, limit: int = 500) -> int:
    """Send the jobs of due analyses with `publish` (celery_app.publish_job); returns how many were sent.

    It publishes directly, not through a dispatcher: the count is the answer, and the first
    failure ends the pass (the rest stay due for the next one).
    """
    settings = get_settings()
    with sync_session() as session:
        due = repository.take_due(
            session, min_age_s=settings.sweeper_min_age_s, lease_s=settings.analysis_lease_s, limit=limit
        )
    enqueued = 0
    for analysis in due:
        if analysis.error_event_id is None:
            continue
        try:
            publish(analysis_job(analysis.error_event_id))
            enqueued += 1
        except Exception as exc:
            logger.warning("sweeper could not enqueue analysis %s: %s", analysis.analysis_id, exc)
            break
    if enqueued:
        logger.info("sweeper re-enqueued %d analyses", enqueued)
    return enqueued
