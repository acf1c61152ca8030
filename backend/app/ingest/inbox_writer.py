"""Group commit into the ingest inbox: concurrent SDK events share one INSERT and one commit.

A request hands its event to `put()` and waits for the commit of the transaction holding it; only
then is the event accepted (app/ingest/inbox.py). Batches form on their own while the previous
commit is in flight, with no timer (app/ingest/group_commit.py); a batch that takes longer than
INGEST_DB_TIMEOUT_S (a frozen database) is cut off and its connection dropped. After the commit the
rows are handed to the digest waiter (app/ingest/digest_waiter.py), which says whether the answers
may wait for them, the answers go, and the digesters are woken (inbox.notify_inbox).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from nacl.secret import SecretBox

from app.config import get_settings
from app.ingest.deadline import deadline
from app.ingest.group_commit import GroupCommitQueue, HeldConnection
from app.ingest.inbox import InboxEvent, RowKey, insert_events, notify_inbox

logger = logging.getLogger(__name__)

# Told the rows of each committed batch; answers whether nothing else was queued ahead of them,
# so the answers may wait for the digester (DigestWaiter.committed).
CommitListener = Callable[[list[RowKey]], bool]
Accepted = tuple[RowKey, bool]  # the row, and whether to wait for the digester


class InboxWriter(GroupCommitQueue[InboxEvent, Accepted]):
    """Queues events and inserts them into the inbox in shared transactions."""

    def __init__(self, box: SecretBox, on_commit: CommitListener) -> None:
        super().__init__()
        self.box = box
        self.on_commit = on_commit

    async def put(self, event: InboxEvent) -> Accepted:
        """Insert the event; returns once committed: its row, and whether to wait for the digester."""
        return await self.submit(event)

    async def _flush(
        self, held: HeldConnection, batch: list[tuple[InboxEvent, asyncio.Future[Accepted]]]
    ) -> None:
        try:
            async with deadline(get_settings().ingest_db_timeout_s):
                conn = await held.get()
                try:
                    # One statement is its own transaction: in autocommit it is committed (and
                    # flushed) when it returns, one round trip instead of BEGIN, INSERT, COMMIT.
                    if not conn.autocommit:
                        await conn.set_autocommit(True)
                    ids = await insert_events(conn, self.box, [event for event, _ in batch])
                except psycopg.Error:
                    await held.recover(conn)
                    raise
                except BaseException:
                    await held.discard()  # cut off mid-statement (a frozen database): never reuse it
                    raise
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                logger.warning("inbox commit cut off: %s", exc)
            self._fail(batch, exc)
            return
        rows = [(inbox_id, event.event_id) for (event, _), inbox_id in zip(batch, ids, strict=True)]
        wait = self.on_commit(rows)
        for (_, future), row in zip(batch, rows, strict=True):
            if not future.done():  # else the client left; its event is accepted all the same
                future.set_result((row, wait))
        try:
            async with deadline(get_settings().ingest_db_timeout_s):
                await notify_inbox(await held.get())
        except (psycopg.Error, TimeoutError) as exc:  # the digesters' poll finds the rows all the same
            logger.warning("could not wake the digesters: %s", exc)
            await held.discard()
