"""`python -m app digest`: one digester process (app/ingest/digester.py)."""

from __future__ import annotations

import asyncio

from app.config import get_settings
from app.ingest.digester import DigesterConfig, digest_forever
from app.logging_setup import configure_logging
from app.metrics import process_exited, process_started
from app.privacy.redact import configure_redactor
from app.runtime.gc_tuning import tune_gc_for_serving


def run_digester(parent_pid: int | None = None) -> int:
    """Digest until SIGTERM/SIGINT, or until `parent_pid` (the API that started it) is gone."""
    configure_logging()
    settings = get_settings()
    configure_redactor(settings.redact_extra_patterns, settings.redact_extra_fields)
    tune_gc_for_serving()  # it allocates even more per event than the API does
    process_started("digester")
    try:
        asyncio.run(digest_forever(DigesterConfig.from_settings(settings), parent_pid))
    finally:
        process_exited()
    return 0
