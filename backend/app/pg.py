"""PostgreSQL connections: the settings and the one way to open an async connection, shared by the
API's engines (app/db.py), the ingest digester (app/ingest/digester.py, which imports no ORM), the
digest waiter and the metrics endpoint."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import psycopg

# Fail fast when PostgreSQL is gone, so ingest can answer 503 within its budget instead of hanging
# (2 s is libpq's minimum; ingest also has its own deadline, INGEST_DB_TIMEOUT_S). TCP keepalives and
# tcp_user_timeout let an open connection to a host that vanished (network partition) error out in
# about half a minute instead of hanging a worker until its hard time limit.
CONNECT_ARGS = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


# New JSONB values (event payloads, several KB each) are TOAST-compressed with lz4 where the server
# supports it: several times less CPU than the default pglz for a similar size. Reads are unaffected.
FAST_TOAST_SQL = (
    "SELECT set_config('default_toast_compression', 'lz4', false) FROM pg_settings"
    " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def libpq_url(database_url: str) -> str:
    """DATABASE_URL in our SQLAlchemy spelling (`postgresql+psycopg://…`) as libpq takes it.

    For the processes that speak psycopg only (the digester): SQLAlchemy's URL parser would cost them
    the whole ORM's memory for one string. Percent-escapes and query parameters pass through as they are.
    """
    scheme, separator, rest = database_url.partition("://")
    if separator and scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return f"postgresql://{rest}"
    return database_url


# Attempts a caller stopped waiting for, held until they end (see connect).
_abandoned: set[asyncio.Future[Any]] = set()


async def connect(conninfo: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    """Open an async connection (with CONNECT_ARGS) so that no attempt leaves a socket behind.

    Two ways an attempt would otherwise outlive its caller, each seen as connections nobody uses
    after a PostgreSQL freeze (the woken server accepts the socket and keeps a session for it):
    - A caller cancelled midway (the ingest deadline, a timeout) leaves the attempt to the garbage
      collector. Here the attempt runs in a task of its own, bounded by connect_timeout; a caller's
      cancellation stops its waiting, not the attempt, and a connection that opens after its caller
      left is closed at once.
    - psycopg raises a timed-out attempt's error from the frame that holds it among its locals,
      beside the suspended generator that owns the half-open libpq connection: a reference cycle,
      which only a full collection would break (rare, with the serving GC settings of
      app/runtime/gc_tuning.py). Clearing the finished frames of the error's traceback breaks it,
      and reference counting closes the socket at once.
    """
    attempt = asyncio.ensure_future(psycopg.AsyncConnection.connect(conninfo, **{**CONNECT_ARGS, **kwargs}))
    try:
        return await asyncio.shield(attempt)
    except psycopg.Error as exc:
        traceback.clear_frames(exc.__traceback__)
        raise
    except asyncio.CancelledError:
        _abandoned.add(attempt)
        attempt.add_done_callback(_close_abandoned)
        raise


def _close_abandoned(attempt: asyncio.Future[psycopg.AsyncConnection[Any]]) -> None:
    _abandoned.discard(attempt)
    if attempt.cancelled():
        return
    if (error := attempt.exception()) is not None:
        traceback.clear_frames(error.__traceback__)
        return
    # Closing a connection nobody used sends only a Terminate message: no waiting on the server.
    closing = asyncio.ensure_future(attempt.result().close())
    _abandoned.add(closing)
    closing.add_done_callback(_abandoned.discard)
