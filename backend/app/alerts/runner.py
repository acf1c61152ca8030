"""Run one delivery task's work: the units of work around the steps of app/alerts/delivery.py.

The claim commits before anything is sent and the outcome is recorded after, each in a short
transaction of its own, so no transaction stays open while a receiver takes its time. Each attempt is
counted by channel and outcome (faultline_notifications_total).
"""

from __future__ import annotations

import logging

from app.alerts import channels, delivery, repository
from app.alerts.delivery import Recorded, Skipped
from app.config import get_settings
from app.db import sync_session, sync_unit_of_work
from app.jobs import alert_job
from app.metrics import notifications

logger = logging.getLogger(__name__)


def deliver(delivery_id: int, *, task_id: str) -> Recorded | Skipped:
    """Send (or skip) the delivery; a retry's delay comes back for the task to schedule."""
    settings = get_settings()
    with sync_session() as session:
        claimed = delivery.claim(session, delivery_id, task_id=task_id, settings=settings)
    if isinstance(claimed, Skipped):
        return claimed
    result = channels.send(claimed.target, claimed.facts, claimed.delivery_id, settings)
    with sync_session() as session:
        recorded = delivery.record(
            session, delivery_id, task_id, result, attempts=claimed.attempts, settings=settings
        )
    notifications.labels(claimed.target.channel, recorded.status).inc()
    logger.info(
        "alert delivery %s (%s via %s): %s %s",
        delivery_id,
        claimed.facts.trigger,
        claimed.target.channel,
        recorded.status,
        result.error or result.response_code,
    )
    return recorded


def queue_test_alert(rule_id: int) -> int | None:
    """Write a test delivery of the rule and queue it; its id, or None when there is no such rule."""
    with sync_unit_of_work() as work:
        delivery_id = repository.sync_add_test_delivery(work.session, rule_id)
        if delivery_id is not None:
            work.jobs.add(alert_job(delivery_id))
    return delivery_id
