"""Suite-wide fixtures: a real PostgreSQL (fresh database, migrated), a real Redis, the live API
server, a real Celery worker process, and a clean slate before each test.

The environment is set at import time, before any `app` module reads its settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import text

from tests.support.services import fresh_database, resolve_postgres_server, resolve_redis_url

DATABASE_URL = fresh_database(resolve_postgres_server())
REDIS_URL = resolve_redis_url()
os.environ.update(
    {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "PUBLIC_URL": "http://testserver.local:9000",
        "LLM_PROVIDER": "heuristic",
        "AUTO_CREATE_PROJECTS": "true",
        "SWEEPER_MIN_AGE_S": "1",
        "ANALYSIS_RETRY_BASE_S": "0.2",
    }
)

from app.config import get_settings  # noqa: E402
from app.db import get_sync_engine  # noqa: E402
from app.projects.cache import project_cache  # noqa: E402
from app.runtime.migrate import upgrade_head  # noqa: E402
from tests.support.processes import LiveServer, WorkerProcess  # noqa: E402

upgrade_head(DATABASE_URL)

TABLES = "ingest_inbox, error_events, issue_analyses, issues, api_tokens, users, projects"


@pytest.fixture(autouse=True)
def clean_database() -> Iterator[None]:
    """Every test starts from empty tables and an empty queue."""
    with get_sync_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    redis.Redis.from_url(REDIS_URL).flushdb()
    get_settings.cache_clear()
    project_cache.clear()  # ids and names are reused after the truncate
    yield


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    server = LiveServer().start()
    yield server
    server.stop()


class WorkerManager:
    """Keeps at most one worker alive, restarting it when a test asks for other settings."""

    def __init__(self) -> None:
        self.current: WorkerProcess | None = None

    def ensure(
        self, env_overrides: dict[str, str] | None = None, extra_args: list[str] | None = None
    ) -> WorkerProcess:
        env_overrides = env_overrides or {}
        wanted = (env_overrides, extra_args or ["--concurrency=2"])
        if self.current is not None:
            running = (self.current.env_overrides, self.current.extra_args)
            if running == wanted and self.current.process and self.current.process.poll() is None:
                return self.current
            self.current.stop()
        self.current = WorkerProcess(env_overrides, extra_args).start()
        return self.current

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture(scope="session")
def workers() -> Iterator[WorkerManager]:
    manager = WorkerManager()
    yield manager
    manager.stop()


@pytest.fixture
def worker(workers: WorkerManager) -> WorkerProcess:
    """A Celery worker with the default (heuristic) provider, as the seed starts it."""
    return workers.ensure()
