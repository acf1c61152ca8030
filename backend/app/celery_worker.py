"""Entry module for `celery -A app.celery_worker worker --queues=ai_analysis` (as the seed runs it)."""

from app.celery_app import celery_app
from app.tasks import perform_ai_analysis

app = celery_app
celery = celery_app

__all__ = ["app", "celery", "celery_app", "perform_ai_analysis"]
