"""Database engines and sessions: async for the API, sync for the Celery worker and the CLI.

Services take a session and never commit; whoever owns the unit of work (a request, a task,
a CLI command) commits or rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings
from app.jsonb import dumps_jsonb
from app.pg import CONNECT_ARGS, FAST_TOAST_SQL


def _use_fast_toast(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(FAST_TOAST_SQL)
    cursor.close()
    dbapi_connection.commit()  # a setting made in a rolled-back transaction would be undone


@lru_cache
def get_async_engine() -> AsyncEngine:
    settings = get_settings()
    # Ingest keeps one connection per process for its group commits (app/ingest/batcher.py); the
    # rest serve project lookups on a cache miss and the read API.
    engine = create_async_engine(
        settings.async_database_url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=2,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=CONNECT_ARGS,
        json_serializer=dumps_jsonb,
    )
    event.listen(engine.sync_engine, "connect", _use_fast_toast)
    return engine


@lru_cache
def get_async_sessionmaker() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_async_engine(), expire_on_commit=False)


@lru_cache
def get_sync_engine() -> Engine:
    # The analysis worker runs dozens of tasks at once in the gevent pool, each taking a connection
    # three times briefly (claim, record, result); a pool that size avoids reconnecting under load.
    return create_engine(
        get_settings().database_url,
        pool_size=20,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args=CONNECT_ARGS,
    )


@lru_cache
def get_sync_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(get_sync_engine(), expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one session per request; commits on success, rolls back on error."""
    async with get_async_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@contextmanager
def sync_session() -> Iterator[Session]:
    """A worker/CLI unit of work: commits on success, rolls back on error."""
    with get_sync_sessionmaker()() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def libpq_conninfo(database_url: str, **changes: Any) -> str:
    """DATABASE_URL (our SQLAlchemy spelling) as libpq takes it, with `changes` (database=...) made."""
    return (
        make_url(database_url).set(drivername="postgresql", **changes).render_as_string(hide_password=False)
    )


def ensure_database_exists(database_url: str) -> None:
    """Create the target database when missing, so `alembic upgrade head` works on a bare server."""
    name = make_url(database_url).database
    if not name:
        return
    conninfo = libpq_conninfo(database_url, database="postgres")
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
