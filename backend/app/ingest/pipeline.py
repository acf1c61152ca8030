"""The ingest unit of work shared by every endpoint: one transaction, commit, then dispatch.

Accepted means stored: callers answer 2xx only after `accept_event` returns, which is after
the commit. A database that cannot be reached becomes a fast 503 with Retry-After, never a hang
and never a 2xx for an event we do not have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.dispatch import AnalysisDispatcher
from app.config import get_settings
from app.db import get_async_sessionmaker
from app.errors import AppError
from app.ingest.event import NormalizedEvent
from app.ingest.service import DuplicateEvent, StoredEvent, store_event
from app.models import Project

logger = logging.getLogger(__name__)


# psycopg answers a cancellation by asking the server to cancel the query and waiting up to 10 s for
# it, which a frozen server never does; a second cancellation makes it drop the connection at once.
_SECOND_CANCEL_AFTER_S = 0.1


@asynccontextmanager
async def ingest_session() -> AsyncIterator[AsyncSession]:
    """A session for one ingest request; database outages surface as AppError(503).

    A database that refuses connections fails within milliseconds; one that accepts them and then
    says nothing (frozen, partitioned) is cut off after INGEST_DB_TIMEOUT_S, so no request hangs.
    """
    settings = get_settings()
    try:
        async with _deadline(settings.ingest_db_timeout_s), get_async_sessionmaker()() as session:
            yield session
    except DataError as exc:
        # Client data PostgreSQL refuses (a NUL character in a project_key, say): the client's
        # mistake, and retrying would not help, so not a 503.
        raise AppError("the event holds a value the database cannot store", 400) from exc
    except (OperationalError, InterfaceError, PoolTimeoutError, OSError) as exc:  # OSError: TimeoutError too
        raise _unavailable(exc) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise  # a bug of ours (constraint, SQL): a 500 that gets logged, not a disguised outage
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> AppError:
    logger.warning("database unavailable during ingest: %s", exc)
    retry_after = str(get_settings().db_unavailable_retry_after_s)
    return AppError("event store temporarily unavailable; retry later", 503, {"Retry-After": retry_after})


@asynccontextmanager
async def _deadline(seconds: float) -> AsyncIterator[None]:
    """Like asyncio.timeout (raises TimeoutError), but cancels the block a second time shortly after
    the first, so a driver that waits on the server to acknowledge a cancellation gives up at once."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    cancels = 0
    handles: list[asyncio.TimerHandle] = []

    def cancel() -> None:
        nonlocal cancels
        cancels += 1
        task.cancel()

    def expire() -> None:
        cancel()
        handles.append(loop.call_later(_SECOND_CANCEL_AFTER_S, cancel))

    handles.append(loop.call_later(seconds, expire))
    try:
        yield
    except asyncio.CancelledError:
        if cancels == 0:
            raise
        cancelled_from_outside = task.cancelling() > cancels
        for _ in range(cancels):
            task.uncancel()
        cancels = 0
        if cancelled_from_outside:
            raise
        raise TimeoutError(f"database work took longer than {seconds:g}s") from None
    finally:
        for handle in handles:
            handle.cancel()
        for _ in range(cancels):
            task.uncancel()


async def accept_event(
    session: AsyncSession,
    dispatcher: AnalysisDispatcher,
    project: Project,
    event: NormalizedEvent,
    payload: dict[str, Any],
) -> StoredEvent:
    """Store the event, commit, and only then hand a new analysis to the dispatcher."""
    try:
        stored = await store_event(session, project, event, payload)
        await session.commit()
    except DuplicateEvent:
        await session.rollback()
        return StoredEvent(None, event.event_id, None, None, analysis_created=False)
    if stored.analysis_created and stored.id is not None:
        dispatcher.submit(stored.id)
    return stored
