"""The unit tier's guard (tests/unit/conftest.py): reaching for PostgreSQL or Redis fails loudly."""

from __future__ import annotations

import asyncio
import os

import psycopg
import pytest
import redis
from sqlalchemy import create_engine, text

from app.config import get_settings, to_sqlalchemy_url
from tests.unit.conftest import ServiceUsedInUnitTest


def test_settings_name_no_reachable_service() -> None:
    settings = get_settings()
    assert ":1/" in settings.database_url and ":1/" in settings.redis_url


def test_redis_refuses() -> None:
    with pytest.raises(ServiceUsedInUnitTest):
        redis.Redis.from_url(os.environ["REDIS_URL"], retry=None).ping()


def test_psycopg_refuses_sync_async_and_through_sqlalchemy() -> None:
    with pytest.raises(ServiceUsedInUnitTest):
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    with pytest.raises(ServiceUsedInUnitTest):
        asyncio.run(psycopg.AsyncConnection.connect("postgresql://postgres@127.0.0.1:5432/postgres"))
    engine = create_engine(to_sqlalchemy_url("postgresql://postgres@127.0.0.1:5432/postgres"))
    with pytest.raises(ServiceUsedInUnitTest), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
