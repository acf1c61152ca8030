"""Suite-wide setup. The unit tier (tests/unit) needs nothing running; every other test talks to a
real PostgreSQL (a fresh database, migrated), a real Redis and, where it asks, the live API server and
a real Celery worker process, and starts from a clean slate.

The services are found (or started, tests/support/services.py) in pytest_configure, before any test
module is imported, because app modules read the environment as they are imported (app.celery_app).
A run whose paths all lie in tests/unit skips that: `pytest tests/unit` needs no PostgreSQL or Redis
and starts no embedded one; tests/unit/conftest.py makes any connection attempt there fail loudly.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.config import get_settings
from app.db import get_sync_engine
from app.projects.cache import project_cache
from app.runtime.migrate import upgrade_head
from tests.support.processes import LiveServer, WorkerProcess
from tests.support.services import (
    fresh_database,
    resolve_postgres_server,
    resolve_redis_url,
    stop_started_servers,
)

UNIT_DIR = Path(__file__).resolve().parent / "unit"

os.environ.update(
    {
        # Never the checkout's .data/ (a `make run` there, its stack file): `up` in a test gets its own.
        "FAULTLINE_DATA_DIR": os.path.join(tempfile.gettempdir(), f"faultline-test-data-{os.getpid()}"),
        "PUBLIC_URL": "http://testserver.local:9000",
        "LLM_PROVIDER": "heuristic",
        "AUTO_CREATE_PROJECTS": "true",
        "SWEEPER_MIN_AGE_S": "1",
        "ANALYSIS_RETRY_BASE_S": "0.2",
    }
)

TABLES = (
    "ingest_inbox, upload_chunks, artifact_bundle_files, artifact_bundles, alert_deliveries, alert_rules, "
    "error_events, issue_analyses, issues, api_tokens, "
    "login_failures, project_members, users, projects"
)


def runs_only_unit_tests(config: pytest.Config) -> bool:
    """True when every path the run was given (testpaths when none) lies in tests/unit."""
    base = config.invocation_params.dir
    paths = [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]
    return bool(paths) and all(path.is_relative_to(UNIT_DIR) for path in paths)


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (a CI timeout, `kill`) ends the run as Ctrl-C does: fixtures' finalizers stop the
    # servers and processes they started instead of dying with them still running.
    signal.signal(signal.SIGTERM, _interrupted)
    # The metrics of this run (the live server, its digester, the workers: they inherit it), apart from
    # any other run's; before any app module settles a default (app/metrics.py).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="faultline-test-metrics-")
    if runs_only_unit_tests(config):
        return
    database_url = fresh_database(resolve_postgres_server())
    redis_url = resolve_redis_url()
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url})
    get_settings.cache_clear()
    upgrade_head(database_url)


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_started_servers()
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)


# Digesters cache parsed source maps by bundle file id for as long as they run (the live server's
# digester: the whole session), as production may, where an id is never given twice. So these ids
# go on counting across tests: after a restart another test's upload would get a cached map's id.
KEEP_COUNTING = ("artifact_bundles", "artifact_bundle_files")
_NEXT_ID = "SELECT nextval(pg_get_serial_sequence(:t, 'id'))"
_SET_ID = "SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"


def empty_tables() -> None:
    """TRUNCATE every table. A worker's beat tasks (sweepers, retention) may be writing meanwhile, and
    TRUNCATE takes its tables' locks one by one, so PostgreSQL may pick it as a deadlock's victim:
    then it is simply done again."""
    for attempt in range(5):
        try:
            with get_sync_engine().begin() as conn:
                kept = {t: conn.execute(text(_NEXT_ID), {"t": t}).scalar() for t in KEEP_COUNTING}
                conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
                for table, value in kept.items():
                    conn.execute(text(_SET_ID), {"t": table, "v": value})
            return
        except OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise


@pytest.fixture(autouse=True)
def clean_database() -> Iterator[None]:
    """Every test starts from empty tables and an empty queue (tests/unit overrides this)."""
    empty_tables()
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
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
