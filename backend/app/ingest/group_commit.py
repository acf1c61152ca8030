"""Group commit: concurrent ingest requests share one transaction and one commit.

A request hands its item to `submit()` and waits. A flusher task takes everything queued so far (up
to MAX_BATCH items), writes it in one transaction (the subclass's `_flush`), commits, and only then
answers each waiting request, so "accepted means stored" holds for every item of the batch. Batches
form on their own while the previous commit is in flight; a lone item on an idle server is written
at once (there is no timer and no added latency). The inbox writer (app/ingest/inbox_writer.py) is
the one user.

Each flusher keeps one pooled connection between batches (`HeldConnection`). A batch that takes
longer than INGEST_DB_TIMEOUT_S (a frozen database) is cut off and its connection dropped. Errors
reach the waiting requests as they are; app/ingest/session.py turns them into answers (503, 400).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Generic, TypeVar

import psycopg
from psycopg import AsyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection as SAConnection

from app.db import get_async_engine

logger = logging.getLogger(__name__)

MAX_BATCH = 128
FLUSHERS = 1  # one flusher forms larger batches than two, for the same latency
Item = TypeVar("Item")
Answer = TypeVar("Answer")


class HeldConnection:
    """A connection from the app's pool that a flusher keeps between batches."""

    def __init__(self) -> None:
        self._sa_conn: SAConnection | None = None
        self._conn: AsyncConnection[Any] | None = None

    async def get(self) -> AsyncConnection[Any]:
        """The held psycopg connection, checked out of the pool on first use or after a failure."""
        if self._conn is not None and self._conn.closed:
            await self.discard()
        if self._conn is None:
            self._sa_conn = await get_async_engine().connect()
            raw = await self._sa_conn.get_raw_connection()
            self._conn = raw.driver_connection  # type: ignore[assignment]
        assert self._conn is not None
        return self._conn

    async def recover(self, conn: AsyncConnection[Any]) -> None:
        """After a failed statement: roll back, or give up the connection when it is broken."""
        if not (conn.closed or conn.broken):
            try:
                await conn.rollback()
                return
            except psycopg.Error:
                pass
        await self.discard()

    async def discard(self) -> None:
        """Give up a connection that failed: the pool replaces it."""
        if self._sa_conn is not None:
            with contextlib.suppress(Exception):
                await self._sa_conn.invalidate()
            with contextlib.suppress(Exception):
                await self._sa_conn.close()
        self._sa_conn = self._conn = None


class GroupCommitQueue(Generic[Item, Answer]):
    """Items queued by concurrent requests, written by flusher tasks in shared transactions.

    A request `submit`s its item and waits; a flusher takes everything queued so far (up to
    max_batch) and `_flush`es it, which answers each item's future once its transaction committed.
    """

    def __init__(self, max_batch: int = MAX_BATCH, flushers: int = FLUSHERS) -> None:
        self.max_batch = max_batch
        self.flushers = flushers
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Answer]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def submit(self, item: Item) -> Answer:
        """Queue the item; returns its answer once the transaction holding it has committed."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._flush_forever()) for _ in range(self.flushers)]
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def _flush_forever(self) -> None:
        held = HeldConnection()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._flush(held, batch)

    async def _flush(self, held: HeldConnection, batch: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        raise NotImplementedError

    @staticmethod
    def _fail(batch: list[tuple[Item, asyncio.Future[Answer]]], exc: BaseException) -> None:
        """Answer every request of a failed batch with its error (re-raised unless an Exception)."""
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise exc
