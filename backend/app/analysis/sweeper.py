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
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from app.analysis.dispatch import publish_with_celery
from app.config import get_settings
from app.db import sync_session
from app.models import IssueAnalysis

logger = logging.getLogger(__name__)


def sweep(limit: int = 500) -> int:
    """Enqueue due analyses; returns how many were enqueued."""
    settings = get_settings()
    now = datetime.now(UTC)
    due_pending = and_(
        IssueAnalysis.status == "pending",
        IssueAnalysis.next_attempt_at < now - timedelta(seconds=settings.sweeper_min_age_s),
    )
    lease_expired = and_(
        IssueAnalysis.status == "running",
        IssueAnalysis.claimed_at < now - timedelta(seconds=settings.analysis_lease_s),
        IssueAnalysis.next_attempt_at < now - timedelta(seconds=settings.sweeper_min_age_s),
    )
    with sync_session() as session:
        rows = session.execute(
            select(IssueAnalysis.id, IssueAnalysis.error_event_id)
            .where(or_(due_pending, lease_expired))
            .order_by(IssueAnalysis.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            session.execute(
                update(IssueAnalysis)
                .where(IssueAnalysis.id.in_([r.id for r in rows]))
                .values(next_attempt_at=now)
            )
    enqueued = 0
    for row in rows:
        if row.error_event_id is None:
            continue
        try:
            publish_with_celery(row.error_event_id)
            enqueued += 1
        except Exception as exc:
            logger.warning("sweeper could not enqueue analysis %s: %s", row.id, exc)
            break
    if enqueued:
        logger.info("sweeper re-enqueued %d analyses", enqueued)
    return enqueued
