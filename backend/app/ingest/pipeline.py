"""The ingest unit of work shared by every endpoint: scrub and group, store (group commit), dispatch.

Accepted means stored: callers answer 2xx only after `accept_event` returns, which is after the
commit of the transaction that holds the event (many concurrent events share one; see
app/ingest/batcher.py). A database that cannot be reached becomes a fast 503 with Retry-After,
never a hang and never a 2xx for an event we do not have. Scrubbing and grouping run in a helper
process when it has room (app/ingest/prepare_helper.py), so ingest uses a second core.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from app.analysis.dispatch import AnalysisDispatcher
from app.config import get_settings
from app.db import get_async_sessionmaker
from app.errors import AppError
from app.ingest.batcher import StoreUnavailable, get_batcher
from app.ingest.event import NormalizedEvent
from app.ingest.prepare import prepare_event
from app.ingest.service import StoredEvent
from app.models import Project

logger = logging.getLogger(__name__)


def store_unavailable() -> AppError:
    """The 503 every ingest endpoint answers while PostgreSQL cannot take events."""
    retry_after = str(get_settings().db_unavailable_retry_after_s)
    return AppError("event store temporarily unavailable; retry later", 503, {"Retry-After": retry_after})


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
    """A session for one ingest request (project lookups); database outages surface as AppError(503)."""
    try:
        session = LazySession()
        try:
            yield cast(AsyncSession, session)
        finally:
            await session.close()
    except (DBAPIError, PoolTimeoutError, OSError) as exc:
        logger.warning("database unavailable during ingest: %s", exc)
        raise store_unavailable() from exc


async def accept_event(
    session: AsyncSession,
    dispatcher: AnalysisDispatcher,
    project: Project,
    event: NormalizedEvent,
    payload: dict[str, Any],
) -> StoredEvent:
    """Scrub and group the event, store it (committed when this returns), then dispatch a new analysis."""
    prepared = prepare_event(project.id, event, payload)
    # The request's own writes (a project auto-created for it) must be visible to the batch's
    # transaction. Usually there are none and no session was even created (see LazySession).
    await session.commit()
    try:
        stored = await get_batcher().store(prepared)
    except StoreUnavailable as exc:
        raise store_unavailable() from exc
    if stored.analysis_created and stored.id is not None:
        dispatcher.submit(stored.id)
    return stored
