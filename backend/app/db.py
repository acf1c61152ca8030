"""Database engines and the units of work: async for the API, sync for the Celery worker and the CLI.

A unit of work is one transaction and the jobs it asked for (app/jobs.py): the helpers here are the
only code that commits or rolls back. Services and repositories take the session (or the unit of
work, to register jobs) and never commit. On commit the jobs go to the process's installed
dispatcher; on rollback they are dropped, so no job ever names a row that was not committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings
from app.jobs import AfterCommit, installed_dispatcher
from app.jsonb import dumps_jsonb
from app.pg import CONNECT_ARGS, FAST_TOAST_SQL, connect


def _use_fast_toast(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(FAST_TOAST_SQL)
    cursor.close()
    dbapi_connection.commit()  # a setting made in a rolled-back transaction would be undone


@lru_cache
def get_async_engine() -> AsyncEngine:
    settings = get_settings()
    # Project lookups on a cache miss, the dashboard, the read API and ingest's inbox writes (one
    # held connection); the digest waiter has connections of its own. Past the 2 kept, connections
    # opened during a burst (or while a frozen server held every request) are closed as they come
    # back, so the count returns to what the load needs. Each API process opens at most 20 here
    # (README, "Connections").
    conninfo = libpq_conninfo(settings.async_database_url)
    engine = create_async_engine(
        settings.async_database_url,
        async_creator=partial(connect, conninfo),
        pool_size=2,
        max_overflow=18,
        pool_timeout=2,
        pool_pre_ping=False,
        pool_recycle=1800,
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
    # three times briefly (claim, record, result), never across an LLM call: 20 at most serve them.
    return create_engine(
        get_settings().database_url,
        pool_size=5,
        max_overflow=15,
        pool_pre_ping=True,
        connect_args=CONNECT_ARGS,
    )


@lru_cache
def get_sync_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(get_sync_engine(), expire_on_commit=False)


@dataclass(frozen=True)
class UnitOfWork:
    """A request's transaction (async) and the jobs to send once it commits."""

    session: AsyncSession
    jobs: AfterCommit


@dataclass(frozen=True)
class SyncUnitOfWork:
    """A worker or CLI transaction (sync) and the jobs to send once it commits."""

    session: Session
    jobs: AfterCommit


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """Commit on success, then send the jobs; roll back on error and drop them."""
    async with get_async_sessionmaker()() as session:
        work = UnitOfWork(session, AfterCommit(installed_dispatcher()))
        try:
            yield work
            await session.commit()
        except BaseException:
            await session.rollback()
            work.jobs.rolled_back()
            raise
    work.jobs.committed()


async def request_unit_of_work() -> AsyncIterator[UnitOfWork]:
    """FastAPI dependency: one unit of work per request (see app/auth/dependencies.py)."""
    async with unit_of_work() as work:
        yield work


@contextmanager
def sync_unit_of_work() -> Iterator[SyncUnitOfWork]:
    """Commit on success, then send the jobs; roll back on error and drop them."""
    with get_sync_sessionmaker()() as session:
        work = SyncUnitOfWork(session, AfterCommit(installed_dispatcher()))
        try:
            yield work
            session.commit()
        except BaseException:
            session.rollback()
            work.jobs.rolled_back()
            raise
    work.jobs.committed()


@contextmanager
def sync_session() -> Iterator[Session]:
    """A sync unit of work for callers that register no jobs."""
    with sync_unit_of_work() as work:
        yield work.session


def api_pool_usage() -> dict[str, int]:
    """The API pool's connections: checked out, idle in the pool, and the most it opens."""
    pool: Any = get_async_engine().pool
    return {"in_use": pool.checkedout(), "idle": pool.checkedin(), "cap": pool.size() + pool._max_overflow}


async def ping_database() -> None:
    """One trivial round trip (the readiness probe); raises when the database cannot be reached."""
    async with get_async_engine().connect() as conn:
        await conn.execute(text("SELECT 1"))


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
