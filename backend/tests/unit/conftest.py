"""The unit tier: pure functions, no PostgreSQL, no Redis, no server, no worker.

The root conftest sets no services up when only tests/unit is run. Here every test also gets
settings naming a port nothing listens on, and any connection it opens (a socket, or libpq through
psycopg) raises ServiceUsedInUnitTest at once, so a unit test that starts needing a service fails
the same way whether or not the integration tiers' services happen to be up in the same run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import psycopg
import pytest

from app.config import get_settings

NOWHERE = {
    "DATABASE_URL": "postgresql://unit-tests-use-no-database@127.0.0.1:1/none",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
}


class ServiceUsedInUnitTest(AssertionError):
    pass


def _refuse(*_args: object, **_kwargs: object) -> NoReturn:
    raise ServiceUsedInUnitTest("a unit test opened a connection: it belongs in an integration tier")


@pytest.fixture(autouse=True)
def clean_database() -> None:
    """Replaces the root conftest's clean slate, which truncates tables and flushes Redis."""


@pytest.fixture(autouse=True)
def no_services(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in NOWHERE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("socket.socket.connect", _refuse)
    monkeypatch.setattr("socket.socket.connect_ex", _refuse)
    # psycopg connects through libpq, not Python sockets; psycopg.connect is bound at its import.
    monkeypatch.setattr(psycopg, "connect", _refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", _refuse)
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", _refuse)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test, maybe an integration one, reads the real settings
