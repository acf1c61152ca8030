"""Small helpers for tests to read what a user would read: rows in PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from app.db import get_sync_engine

SEED_SQL = """
SELECT e.id, e.status_code, a.analysis_text
FROM error_events e
LEFT JOIN error_analysis a ON e.id = a.error_event_id
WHERE e.status_code >= 500
"""

SEED_VERIFY_SQL = """
SELECT
    e.id as error_id,
    e.status_code,
    e.payload->>'message' as error_message,
    a.analysis_text,
    a.model,
    a.confidence,
    a.created_at
FROM error_events e
LEFT JOIN error_analysis a ON e.id = a.error_event_id
WHERE e.status_code >= 500
ORDER BY e.created_at DESC
LIMIT 5
"""


def rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    with get_sync_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def scalar(sql: str, **params: Any) -> Any:
    with get_sync_engine().connect() as conn:
        return conn.execute(text(sql), params).scalar()


def wait_until(predicate: Callable[[], Any], timeout_s: float = 60.0, interval_s: float = 0.1) -> Any:
    """Poll until predicate() is truthy; returns its value or fails the test with what it last saw."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {value!r})")


def wait_until_digested(timeout_s: float = 60.0) -> None:
    """Wait until every accepted Sentry event has left the inbox for error_events.

    A lone event is stored before its answer; of many sent at once, some are answered as soon as
    they are in the inbox (app/ingest/digest_waiter.py) and stored a moment later.
    """
    wait_until(lambda: scalar("SELECT count(*) FROM ingest_inbox") == 0, timeout_s=timeout_s, interval_s=0.05)
