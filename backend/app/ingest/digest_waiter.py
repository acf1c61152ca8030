"""The API's ear for the digesters: which inbox rows are stored, so answers and jobs can go.

Every digester notifies DIGESTED_CHANNEL with the fate of each row of a batch it committed
(app/ingest/inbox.py, `Digested`). Each API process LISTENs on one connection of its own and
resolves the requests waiting for those rows:
- the seed endpoint always waits for its event, to answer with its `error_events` id and issue;
- a Sentry event's answer waits (up to INGEST_ACK_WAIT_S) only when nothing this process committed
  was still waiting ahead of it, so a client that sends one event and then looks for it finds it,
  while under load answers go out at once and the wait does not grow with the backlog.

It also sends the analysis jobs of the digested batches: a notification arrives only with the commit
of the batch, so the pending analyses it names are there to be claimed. Each job is sent once, by the
API process that accepted the event (the row is among the ones it committed); a row whose API process
is gone (or whose notification was lost) leaves its analysis pending for the sweeper.

A notification may be read before the request that waits for it has registered (both are on this
event loop, and a busy loop may read the digester's socket first), so recent results are kept for
a while. A notification can also be lost (sent while the listener was reconnecting): a waiter that
has heard nothing for LOOK_UP_AFTER_S reads the row's fate from the tables. A digester that finds
the inbox empty says so (an empty list): rows that left the inbox otherwise (deleted by hand) then
no longer count as waiting ahead; rows whose notification was lost are forgotten after STALE_AFTER_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from app import pg
from app.ingest import inbox
from app.ingest.inbox import DIGESTED_CHANNEL, Digested, RowKey, look_up_stored, parse_digested
from app.jobs import Job, analysis_job

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = 1.0
LOOK_UP_AFTER_S = 1.0  # no word from a digester this long: read the row's fate from the tables
STALE_AFTER_S = 30.0
KEEP_RECENT = 4096  # results read before their waiter came
# Rows whose jobs this process sends when they are digested; past this many (a long outage of every
# digester) the oldest are left to the sweeper.
KEEP_MINE = 200_000


@dataclass
class _Waiter:
    future: asyncio.Future[Digested]
    project_id: int
    since: float  # monotonic


class DigestWaiter:
    """Listens for digested rows (see the module docstring); one per API process."""

    def __init__(self, conninfo: str, send_jobs: Callable[[list[Job]], None]) -> None:
        self._conninfo = conninfo
        self._send_jobs = send_jobs
        self._listening = False
        self._tasks: list[asyncio.Task[None]] = []
        self._outstanding: dict[RowKey, float] = {}  # row -> when committed (monotonic)
        # Every row this process committed and has not heard of yet: it sends their analyses' jobs. Not
        # `_outstanding`, which an empty inbox clears: a digester's empty claim may not yet see a row
        # committed a moment before, whose notification comes later.
        self._mine: dict[RowKey, None] = {}
        self._waiters: dict[RowKey, _Waiter] = {}
        self._recent: OrderedDict[RowKey, Digested] = OrderedDict()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever()),
            asyncio.create_task(self._look_up_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def committed(self, rows: list[RowKey]) -> bool:
        """Rows this process just committed; True if nothing else of ours was waiting ahead of them."""
        now = time.monotonic()
        # Rows are kept in the order committed, so the stale ones are at the front.
        while self._outstanding:
            oldest = next(iter(self._outstanding))
            if now - self._outstanding[oldest] <= STALE_AFTER_S:
                break
            del self._outstanding[oldest]
        idle = not self._outstanding
        heard_already = []  # a row's notification may come before its commit's answer (see the docstring)
        for key in rows:
            known = self._recent.get(key)
            if known is not None:
                heard_already.append(known)
            else:
                self._outstanding[key] = now
                self._mine[key] = None
        while len(self._mine) > KEEP_MINE:
            del self._mine[next(iter(self._mine))]
        self._send_analyses(heard_already)
        return idle and self._listening

    async def wait(self, row: RowKey, timeout_s: float, *, project_id: int) -> Digested | None:
        """What became of the row, once a digester says (or the tables do); None if not within timeout_s."""
        known = self._recent.pop(row, None)
        if known is not None:
            return known
        waiter = self._waiters.get(row)
        if waiter is None:
            future = asyncio.get_running_loop().create_future()
            waiter = self._waiters[row] = _Waiter(future, project_id, time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter.future), timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(row, None)

    async def _look_up_forever(self) -> None:
        """Every LOOK_UP_AFTER_S, read the fate of rows whose waiters heard nothing for that long.

        One query for all of them, on one connection of its own, so a slow digester never turns into
        a query (let alone a connection) per waiting request.
        """
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            await asyncio.sleep(LOOK_UP_AFTER_S)
            now = time.monotonic()
            overdue = {key: w for key, w in self._waiters.items() if now - w.since >= LOOK_UP_AFTER_S}
            if not overdue:
                continue
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = await pg.connect(self._conninfo, autocommit=True)
                found = await look_up_stored(conn, {key: w.project_id for key, w in overdue.items()})
            except psycopg.Error as exc:
                logger.warning("cannot read whether %d waiting events are stored: %s", len(overdue), exc)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
                continue
            self.found_in_tables(found)

    async def _listen_forever(self) -> None:
        while True:
            try:
                conn = await pg.connect(self._conninfo, autocommit=True)
                async with conn:
                    await inbox.listen(conn, DIGESTED_CHANNEL)
                    self._listening = True
                    async for notify in conn.notifies():
                        self.notified(notify.payload)
            except psycopg.Error as exc:
                logger.warning("cannot listen for stored events (%s); answers will not wait for them", exc)
            finally:
                self._listening = False
                self._outstanding.clear()  # their notifications may be lost: wait for none of them
            await asyncio.sleep(RECONNECT_DELAY_S)

    def notified(self, payload: str) -> None:
        """A digester's notification (see inbox.digested_payloads) reached this process."""
        rows = parse_digested(payload)
        if not rows:  # a digester found the inbox empty: nothing committed before is still waiting
            self._outstanding.clear()
            return
        ours = [row for row in rows if row.key in self._mine]
        for row in ours:
            del self._mine[row.key]
        self._send_analyses(ours)
        for row in rows:
            self._outstanding.pop(row.key, None)
            waiter = self._waiters.pop(row.key, None)
            if waiter is not None:
                if not waiter.future.done():
                    waiter.future.set_result(row)
                continue
            self._recent[row.key] = row
        while len(self._recent) > KEEP_RECENT:
            self._recent.popitem(last=False)

    def found_in_tables(self, rows: list[Digested]) -> None:
        """Answer the waiters of rows found stored in the tables.

        Their notification may still be on its way: the rows stay counted as this process's, so that
        it still sends their analyses' jobs when the notification comes.
        """
        for row in rows:
            waiter = self._waiters.pop(row.key, None)
            if waiter is not None and not waiter.future.done():
                waiter.future.set_result(row)

    def _send_analyses(self, rows: list[Digested]) -> None:
        jobs = [
            analysis_job(row.error_event_id) for row in rows if row.analysis_to_send and row.error_event_id
        ]
        if jobs:
            self._send_jobs(jobs)
