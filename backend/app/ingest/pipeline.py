"""The ingest unit of work shared by every endpoint: scrub, normalize, group, store (group commit), dispatch.

Accepted means stored: callers answer 2xx only after `accept_event` returns, which is after the
commit of the transaction that holds the event (many concurrent events share one; see
app/ingest/batcher.py). A database that cannot be reached becomes a fast 503 with Retry-After,
never a hang and never a 2xx for an event we do not have.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

import psycopg
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.dispatch import AnalysisDispatcher
from app.config import get_settings
from app.db import get_async_sessionmaker
from app.errors import AppError
from app.events.normalize import Normalizer
from app.events.prepare import prepare_event
from app.events.store import StoredEvent
from app.ingest.batcher import get_batcher
from app.ingest.deadline import deadline
from app.models import Project

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
        """Close the session, if it was ever created."""
        if self._session is not None:
            await self._session.close()


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
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # from a group commit
        raise _unavailable(exc) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise  # a bug of ours (constraint, SQL): a 500 that gets logged, not a disguised outage
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> AppError:
    logger.warning("database unavailable during ingest: %s", exc)
    retry_after = str(get_settings().db_unavailable_retry_after_s)
    return AppError("event store temporarily unavailable; retry later", 503, {"Retry-After": retry_after})


async def accept_event(
    session: AsyncSession,
    dispatcher: AnalysisDispatcher,
    project: Project,
    payload: dict[str, Any],
    normalize: Normalizer,
    *,
    received_at: datetime,
) -> StoredEvent:
    """Scrub the payload, normalize and group the event, store it (committed when this returns),
    then dispatch a new analysis.

    Call it inside `ingest_session()`, once the request is authenticated and within its rate limit:
    the CPU work of an event is spent only on events that will be stored. Database failures, here
    those of the shared transaction, become the answers described there.
    """
    prepared = prepare_event(project.id, payload, normalize, received_at=received_at)
    # The request's own writes (a project auto-created for it) must be visible to the batch's
    # transaction. Usually there are none and no session was even created (see LazySession).
    await session.commit()
    stored = await get_batcher().store(prepared)
    if stored.analysis_created and stored.id is not None:
        dispatcher.submit(stored.id)
    return stored
