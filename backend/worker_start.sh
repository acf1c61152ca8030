#!/usr/bin/env sh
# Start the analysis worker on macOS/Linux (run from backend/ with the venv active).
# gevent pool: analyses wait on the LLM, so one process keeps 100 in flight; time limits still hold
# (see app/celery_app.py). Flags given after it win, e.g. `./worker_start.sh --pool=prefork --concurrency=2`.
cd "$(dirname "$0")" && exec celery -A app.celery_worker worker --loglevel=info --queues=ai_analysis \
  --pool=gevent --concurrency=100 "$@"
