"""The alert sweeper: send deliveries that are due and not queued (written by a digester, which has no
broker client; analysis_done alerts whose wait cap passed), and re-send those a dead worker left
(queued long ago and still pending, or `sending` with a lapsed lease).

Runs as the beat entry `sweep-alert-deliveries` every ALERT_SWEEPER_INTERVAL_S (5 s), or once via
`python -m app sweep`. Rows are taken FOR UPDATE SKIP LOCKED and stamped, so concurrent sweepers never
queue one row twice in a pass; the worker's claim makes any duplicate task a no-op anyway.
"""

from __future__ import annotations

import logging

from app.alerts import repository
from app.config import get_settings
from app.db import sync_session
from app.jobs import Publish, alert_job

logger = logging.getLogger(__name__)


def sweep_alerts(publish: Publish, limit: int = 500) -> int:
    """Publish the jobs of due deliveries; returns how many were sent (the first failure ends the pass)."""
    settings = get_settings()
    with sync_session() as session:
        due = repository.take_due(
            session, min_age_s=settings.alert_sweeper_min_age_s, lease_s=settings.alert_lease_s, limit=limit
        )
    sent = 0
    for delivery_id in due:
        try:
            publish(alert_job(delivery_id))
            sent += 1
        except Exception as exc:
            logger.warning("alert sweeper could not enqueue delivery %s: %s", delivery_id, exc)
            break
    if sent:
        logger.info("alert sweeper queued %d deliveries", sent)
    return sent
