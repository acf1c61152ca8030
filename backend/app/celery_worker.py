"""Entry module for `celery -A app.celery_worker worker --queues=ai_analysis,notifications` (the seed ran
it with `--queues=ai_analysis`; alerts go to `notifications`)."""

from app.celery_app import celery_app
from app.tasks import deliver_alert, perform_ai_analysis

app = celery_app
celery = celery_app

__all__ = ["app", "celery", "celery_app", "deliver_alert", "perform_ai_analysis"]
