"""The ingest unit of work shared by every endpoint: one transaction, commit, then dispatch.

Accepted means stored: callers answer 2xx only after `accept_event` returns, which is after
the commit. A database that cannot be reached becomes a fast 503 with Retry-After, never a hang
and never a 2xx for an event we do not have.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError
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


@asynccontextmanager
async def ingest_session() -> AsyncIterator[AsyncSession]:
    """A session for one ingest request; database outages surface as AppError(503)."""
    try:
        async with get_async_sessionmaker()() as session:
            yield session
    except (DBAPIError, PoolTimeoutError, OSError) as exc:
        logger.warning("database unavailable during ingest: %s", exc)
        retry_after = str(get_settings().db_unavailable_retry_after_s)
        raise AppError(
            "event store temporarily unavailable; retry later", 503, {"Retry-After": retry_after}
        ) from exc


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
