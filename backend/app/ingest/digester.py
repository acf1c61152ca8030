"""The digester: stores and groups the events waiting in the inbox (`python -m app digest`).

For each batch of inbox rows (app/ingest/inbox.py), in one transaction: unseal each event, scrub,
normalize and group it (app/events/prepare.py), store the batch with its issues and pending analyses
(app/events/store.py), delete the rows, and notify DIGESTED_CHANNEL with what became of each row.
The API processes listen: each answers the requests waiting for its events and, once the commit has
made them real, sends the analysis jobs of the events it accepted (app/ingest/digest_waiter.py). So
a digester needs no broker client: it stays a lean process (psycopg, the event core, its settings).

Any number of digesters, on any hosts, share one inbox: a batch claims its rows FOR UPDATE SKIP
LOCKED, so no row is taken twice, and an event already stored (a crash after the commit, a client's
resend) is recognised by its (project, event_id) and not counted again. Each digester LISTENs on
INBOX_CHANNEL, which every inbox commit notifies, and drains the inbox batch after batch while it
finds full batches or hears of new rows; it also looks every DIGEST_POLL_S unasked (rows a failed
attempt left, rows another digester let go).

Where it runs: `python -m app up` supervises digesters as peers of the API; with EMBEDDED_DIGESTER
(the default) each API process starts one as its child (app/ingest/digester_process.py), so the
seed's own commands (uvicorn + celery) store everything.

While PostgreSQL stores a chunk of a batch, this process prepares the next chunk (STORE_CHUNK). During
a burst it gives way to the API between batches (yield_pause): the burst's events are durable in the
inbox, and each costs the API a third of what it costs to digest, so answers come first and the digester
catches up after, within DIGEST_MAX_DELAY_S of each event's arrival at most (plus its own time). It
never gives way while a seed request waits for an event of the batch it just stored.

A row whose event cannot be prepared or stored (a bug, a value PostgreSQL refuses) is not lost:
it stays in the inbox with the error and is retried by later batches up to MAX_ATTEMPTS times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from nacl.secret import SecretBox

from app import pg
from app.config import Settings
from app.events.normalize import normalize_seed_event, normalize_sentry_event
from app.events.prepare import PreparedEvent, prepare_event
from app.events.store import StoredEvent, number_new_issues, store_batch, store_each_once
from app.ingest import inbox
from app.ingest.envelope import parse_json_payload
from app.ingest.inbox import INBOX_CHANNEL, SEED, Digested, InboxRow, inbox_box, unseal
from app.metrics import events_stored
from app.pg import FAST_TOAST_SQL, libpq_url
from app.sourcemaps.lookup import DIGEST_MISS_TTL_S, SourceMapStore
from app.sourcemaps.resolve import FoundMap, wanted_maps

logger = logging.getLogger(__name__)

RECONNECT_DELAY_S = 1.0
# The digester's commits do not wait for their WAL to reach the disk. Safe: its transaction stores
# events and deletes their inbox rows together, and the rows were durable before the client got an
# answer; a crash that loses the transaction leaves the rows in the inbox, digested again later.
# The API's inbox commits then wait for fewer flushes.
NO_FLUSH_WAIT_SQL = "SET synchronous_commit = off"
# A batch is stored in chunks of this many events, each written while the next one is prepared.
STORE_CHUNK = 16
NORMALIZERS = {SEED: normalize_seed_event}  # every other kind is a Sentry event


@dataclass(frozen=True)
class DigesterConfig:
    conninfo: str
    secret_key: str
    batch: int
    poll_s: float
    yield_ratio: float  # see yield_pause
    max_delay_s: float
    source_map_cache_size: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> DigesterConfig:
        return cls(
            conninfo=libpq_url(settings.database_url),
            secret_key=settings.secret_key,
            batch=settings.digest_batch,
            poll_s=settings.digest_poll_s,
            yield_ratio=settings.digest_yield_ratio,
            max_delay_s=settings.digest_max_delay_s,
            source_map_cache_size=settings.sourcemap_cache_size,
        )


@dataclass
class BatchOutcome:
    oldest_received_at: datetime  # of the rows this batch took
    taken: int  # rows claimed
    rows: list[Digested] = field(default_factory=list)  # every row taken: stored (and deleted) or failed
    failed: dict[int, str] = field(default_factory=dict)  # inbox id -> error, kept for a later attempt
    answer_waits: bool = False  # a seed request waits for an event of this batch
    stored: list[StoredEvent] = field(default_factory=list)  # what the batch wrote (numbered at the end)


# The API must have been taking in events this long, the inbox never empty meanwhile, before the
# digester gives way: a short burst is stored as it comes, as if there were no pauses at all.
YIELD_AFTER_BUSY_S = 0.3


def yield_pause(config: DigesterConfig, batch_s: float, oldest_wait_s: float, *, busy_s: float) -> float:
    """Seconds to wait before the next batch: the digester gives way to ingest during a burst.

    An event costs the API a third of what it costs to digest (here and in PostgreSQL), and a burst's
    events are safe once in the inbox. So once the API has been taking in events for `busy_s` >=
    YIELD_AFTER_BUSY_S (it notified new rows during every batch since), the digester pauses
    `yield_ratio` times as long as its batch took and leaves the CPU to the answers; it catches up
    when the burst is over. It pauses no further than until the events it took have waited
    `max_delay_s`: a load that does not stop leaves no event undigested longer than that (beyond the
    time the digester needs), and the digester then runs flat out as before.
    """
    if busy_s < YIELD_AFTER_BUSY_S:
        return 0.0
    return max(0.0, min(batch_s * config.yield_ratio, config.max_delay_s - oldest_wait_s))


class Digester:
    """Digests inbox rows in batches over one connection; a second one LISTENs for new rows."""

    def __init__(self, config: DigesterConfig) -> None:
        self.config = config
        self.box: SecretBox = inbox_box(config.secret_key)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._wake = asyncio.Event()
        self.inbox_notices = 0  # inbox commits heard of so far (yield_pause reads how busy ingest is)
        self.source_maps = SourceMapStore(config.source_map_cache_size, remember_misses_s=DIGEST_MISS_TTL_S)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the inbox whenever notified (or every poll_s) until `stop` is set."""
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.drain()
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    logger.warning("digester: database unavailable (%s); retrying", exc)
                    await self.close()
                    await _sleep_unless(stop, RECONNECT_DELAY_S)
                    continue
                except Exception:  # a bug of ours: the batch rolled back and stays in the inbox
                    logger.exception("digester: batch failed; retrying")
                    await _sleep_unless(stop, RECONNECT_DELAY_S)
                    continue
                await _wait_any(self._wake, stop, self.config.poll_s)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await self.close()

    async def _listen(self, stop: asyncio.Event) -> None:
        """Hear of every inbox commit, on a connection of its own that does nothing else."""
        while not stop.is_set():
            try:
                conn = await pg.connect(self.config.conninfo, autocommit=True)
                async with conn:
                    await inbox.listen(conn, INBOX_CHANNEL)
                    self._wake.set()  # rows may have come while nobody listened
                    async for _ in conn.notifies():
                        self.inbox_notices += 1
                        self._wake.set()
            except psycopg.Error as exc:
                logger.warning("digester: cannot listen for new events (%s); polling meanwhile", exc)
                await _sleep_unless(stop, RECONNECT_DELAY_S)

    async def drain(self) -> None:
        """Digest batches back to back until the inbox has nothing this digester may take."""
        busy_since: float | None = None  # since when the API notified new rows during every batch
        while True:
            notices_before, started = self.inbox_notices, time.monotonic()
            outcome = await self.digest_batch()
            if outcome is None:
                await self._say_inbox_empty()
                return
            now = time.monotonic()
            if self.inbox_notices == notices_before:
                busy_since = None
            elif busy_since is None:
                busy_since = started
            if outcome.taken < self.config.batch and self.inbox_notices == notices_before:
                # Less than a batch was there and nothing was committed since: the inbox is empty (or
                # another digester holds the rest). The next notification wakes us; no empty claim.
                return
            if outcome.answer_waits:
                continue
            pause = yield_pause(
                self.config,
                batch_s=now - started,
                oldest_wait_s=time.time() - outcome.oldest_received_at.timestamp(),
                busy_s=0.0 if busy_since is None else now - busy_since,
            )
            if pause > 0:
                await asyncio.sleep(pause)

    async def digest_batch(self) -> BatchOutcome | None:
        """Digest one batch in one transaction; None when there was nothing to take."""
        conn = await self._connection()
        async with conn.transaction():
            outcome = await self._digest_claimed(conn)
        if outcome is not None:  # committed: count the events stored for the first time
            events_stored.inc(sum(1 for row in outcome.rows if row.stored and row.error_event_id is not None))
        return outcome

    async def _digest_claimed(self, conn: psycopg.AsyncConnection[Any]) -> BatchOutcome | None:
        rows = await inbox.claim(conn, self.config.batch)
        if not rows:
            return None
        outcome = BatchOutcome(
            oldest_received_at=min(row.received_at for row in rows),
            taken=len(rows),
            answer_waits=any(row.kind == SEED for row in rows),
        )
        # PostgreSQL stores one chunk while this process prepares the next (see _prepare_chunk).
        storing: asyncio.Task[None] | None = None
        try:
            for start in range(0, len(rows), STORE_CHUNK):
                ready = await self._prepare_chunk(conn, rows[start : start + STORE_CHUNK], outcome)
                if storing is not None:
                    await storing
                storing = asyncio.create_task(self._store(conn, ready, outcome))
            if storing is not None:
                await storing
        finally:
            if storing is not None and not storing.done():  # cancelled, or a prepare raised
                storing.cancel()
                with contextlib.suppress(BaseException):
                    await storing
        await number_new_issues(conn, outcome.stored)  # the last lock the transaction takes
        done = [row.inbox_id for row in outcome.rows if row.stored]
        if done:
            await inbox.delete(conn, done)
        if outcome.failed:
            await inbox.record_failures(conn, outcome.failed)
            event_ids = {row.id: row.event_id for row in rows}
            outcome.rows.extend(Digested(i, event_ids[i], stored=False) for i in outcome.failed)
        await inbox.notify_digested(conn, outcome.rows)
        return outcome

    async def _say_inbox_empty(self) -> None:
        """Tell the API processes that nothing they committed before now still waits (digest_waiter)."""
        conn = await self._connection()
        await inbox.notify_digested(conn, [])
        await conn.commit()

    async def _prepare_chunk(
        self, conn: psycopg.AsyncConnection[Any], rows: list[InboxRow], outcome: BatchOutcome
    ) -> list[tuple[int, PreparedEvent]]:
        """Unseal, scrub, normalize, resolve and group inbox rows; a row that fails is recorded in
        `outcome`. The source maps of minified frames are looked up on the batch's connection (an
        event without such frames costs no query; found maps are cached, app/sourcemaps/lookup.py).

        After each event it lets the event loop run, so the chunk being stored meanwhile moves on
        through its round trips: the database's work on one chunk overlaps this CPU work on the next.
        """
        ready: list[tuple[int, PreparedEvent]] = []
        for row in rows:
            try:
                raw = unseal(self.box, row.sealed)
                data = parse_json_payload(raw, max_bytes=len(raw))
                normalize = NORMALIZERS.get(row.kind, normalize_sentry_event)
                if normalize is normalize_sentry_event:
                    data["event_id"] = row.event_id  # a Sentry event's payload names its id, as answered
                maps = await self._source_maps(conn, row.project_id, data)
                prepared = prepare_event(
                    row.project_id,
                    data,
                    normalize,
                    received_at=row.received_at,
                    event_id=row.event_id,
                    scrub_user_data=row.scrub_user_data,
                    source_maps=maps,
                )
                ready.append((row.id, prepared))
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise  # the connection is gone: the batch is retried, not the row failed
            except Exception as exc:  # a bug of ours on a strange event: keep the row, say why
                logger.exception("inbox row %s could not be prepared", row.id)
                outcome.failed[row.id] = f"prepare: {exc!r}"[:1000]
            await asyncio.sleep(0)
        return ready

    async def _source_maps(
        self, conn: psycopg.AsyncConnection[Any], project_id: int, data: dict[str, Any]
    ) -> dict[str, FoundMap] | None:
        """The uploaded source maps of the event's minified frames (none looked for when it has none)."""
        wants = wanted_maps(data)
        if not wants:
            return None
        return await self.source_maps.find(conn, project_id, wants)

    async def _store(
        self,
        conn: psycopg.AsyncConnection[Any],
        ready: list[tuple[int, PreparedEvent]],
        outcome: BatchOutcome,
    ) -> None:
        """Store the prepared events, each write under a savepoint, and record each row's outcome."""
        # A resend within the batch is stored once; its copies are done as duplicates.
        first: dict[tuple[int, str], PreparedEvent] = {}
        inbox_ids: dict[tuple[int, str], list[int]] = {}
        for inbox_id, event in ready:
            first.setdefault(event.key, event)
            inbox_ids.setdefault(event.key, []).append(inbox_id)

        async def under_savepoint(events: list[PreparedEvent]) -> list[StoredEvent]:
            async with conn.transaction():
                return await store_batch(conn, events)

        for key, result in (await store_each_once(under_savepoint, list(first.values()))).items():
            if isinstance(result, psycopg.Error):  # refused: kept in the inbox for a later attempt
                outcome.failed.update(dict.fromkeys(inbox_ids[key], f"store: {result!r}"[:1000]))
                continue
            outcome.stored.append(result)
            first_id, *copies = inbox_ids[key]
            event_id = key[1]
            to_send = result.analysis_created and result.id is not None
            outcome.rows.append(
                Digested(first_id, event_id, True, result.id, result.issue_id, result.analysis_id, to_send)
            )
            outcome.rows.extend(Digested(copy, event_id, True) for copy in copies)  # answered as duplicates

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            await self.close()
        if self._conn is None:
            conn = await pg.connect(self.config.conninfo)
            await conn.execute(FAST_TOAST_SQL)  # new JSONB with lz4, as the API's pool writes it
            await conn.execute(NO_FLUSH_WAIT_SQL)
            await conn.commit()
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


async def _wait_any(wake: asyncio.Event, stop: asyncio.Event, timeout_s: float) -> None:
    """Until `wake` or `stop` is set, at most timeout_s."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """An embedded digester ends with the API process that started it, however that one ended."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logger.warning("digester: API process %s is gone; stopping", parent_pid)
            stop.set()
            return
        await _sleep_unless(stop, 1.0)


async def digest_forever(config: DigesterConfig, parent_pid: int | None) -> None:
    """Run one digester until SIGTERM/SIGINT (or, when given, until `parent_pid` is gone)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid else None
    await Digester(config).run(stop)
    if watcher is not None:
        watcher.cancel()
