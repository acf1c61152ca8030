#!/usr/bin/env sh
# Start the analysis worker on macOS/Linux (run from backend/ with the venv active).
cd "$(dirname "$0")" && exec celery -A app.celery_worker worker --loglevel=info --queues=ai_analysis --concurrency=2 "$@"
