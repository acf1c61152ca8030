"""The database session of one ingest request, and what its failures answer.

Accepted means stored: callers answer 2xx only after the commit of the transaction that holds the
event's inbox row (many concurrent events share one; see app/ingest/group_commit.py). A database
that cannot be reached becomes a fast 503 with Retry-After, never a hang and never a 2xx for an
event we do not have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db import get_async_sessionmaker
from app.errors import AppError
from app.ingest.deadline import deadline

logger = logging.getLogger(__name__)


class LazySession:
    """Stands in for an AsyncSession and creates it on first use.

    Most ingest requests find their project in the cache and never need a session; creating and
    closing one would cost more than the rest of the request's bookkeeping.
    """

    def __init__(self) -> None:
        self._session: AsyncSession | None = None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = get_async_sessionmaker()()
        return getattr(self._session, name)

    async def commit(self) -> None:
        """Commit what the request wrote through the session, if it ever used one."""
        if self._session is not None:
            await self._session.commit()

    async def close(self) -> None:
        """Close the session, if it was ever created, even if this request is cancelled meanwhile.

        The ingest deadline cancels a request stuck on a frozen server, and may do so while the
        session returns its connection (a rollback the server does not answer). Cut off there, the
        connection is neither back in the pool nor closed, and stays open on the server long after it
        wakes: a leak past the pool's cap. So the close goes on in a task of its own, which the
        request stops waiting for when cancelled, and which ends once the server answers (the
        connection goes back to the pool) or the connection fails (it is discarded).
        """
        if self._session is None:
            return
        closing = asyncio.ensure_future(self._session.close())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
        await asyncio.shield(closing)


# Closes still running after their request gave up on them (held here so they are not collected).
_closing: set[asyncio.Future[None]] = set()


@asynccontextmanager
async def ingest_session() -> AsyncIterator[AsyncSession]:
    """A session for one ingest request; database outages surface as AppError(503).

    A database that refuses connections fails within milliseconds; one that accepts them and then
    says nothing (frozen, partitioned) is cut off after INGEST_DB_TIMEOUT_S, so no request hangs.
    """
    settings = get_settings()
    try:
        async with deadline(settings.ingest_db_timeout_s):
            session = LazySession()
            try:
                yield cast(AsyncSession, session)
            finally:
                await session.close()
    except (DataError, psycopg.DataError) as exc:
        # Client data PostgreSQL refuses (a NUL character in a project_key, say): the client's
        # mistake, and retrying would not help, so not a 503.
        raise AppError("the event holds a value the database cannot store", 400) from exc
    except (OperationalError, InterfaceError, PoolTimeoutError, OSError) as exc:  # OSError: TimeoutError too
        raise _unavailable(exc) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # from the inbox's group commit
        raise _unavailable(exc) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise  # a bug of ours (constraint, SQL): a 500 that gets logged, not a disguised outage
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> AppError:
    logger.warning("database unavailable during ingest: %s", exc)
    retry_after = str(get_settings().db_unavailable_retry_after_s)
    return AppError("event store temporarily unavailable; retry later", 503, {"Retry-After": retry_after})
