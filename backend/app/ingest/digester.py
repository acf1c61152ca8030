"""The digester: a child process of the API that stores and groups the events waiting in the inbox.

For each batch of inbox rows (app/ingest/inbox.py), in one transaction: unseal each event, scrub,
normalize and group it (app/events/prepare.py, the same code the seed endpoint runs inline), store
the batch with its issues and pending analyses (app/events/store.py), and delete the rows. After
the commit it reports to the API on stdout which inbox rows are done and which stored events need
an analysis enqueued; the API answers requests waiting for them and hands the analyses to Celery.

Why a separate process: the CPU work of an event (about half of the API's per-event cost) then runs
on another core, while the API only authenticates, rate-limits and seals. It imports no web
framework, ORM or settings library, so it costs little memory; the API passes it its settings on
stdin (app/ingest/digester_process.py) and wakes it with a byte there after each inbox commit. It
also looks at the inbox every DIGEST_POLL_S on its own (rows left by a crash, or by another API
process), and ends when its stdin closes (the API stopped), after the batch in hand.

While PostgreSQL stores a chunk of a batch, this process prepares the next chunk (STORE_CHUNK). During
a burst it gives way to the API between batches (yield_pause): the burst's events are durable in the
inbox, and each costs the API a third of what it costs to digest, so answers come first and the digester
catches up after, within DIGEST_MAX_DELAY_S of each event's arrival at most (plus its own time).

A row whose event cannot be prepared or stored (a bug, a value PostgreSQL refuses) is not lost:
it stays in the inbox with the error and is retried by later batches up to MAX_ATTEMPTS times.

Run by the API as `python -m app.ingest.digester`; not meant to be started by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from nacl.secret import SecretBox

from app.events.normalize import normalize_sentry_event
from app.events.prepare import PreparedEvent, prepare_event
from app.events.store import StoredEvent, store_batch, store_each_once
from app.ingest.envelope import parse_json_payload
from app.ingest.inbox import CLAIM_SQL, DELETE_SQL, FAILED_SQL, MAX_ATTEMPTS, inbox_box, unseal
from app.pg import CONNECT_ARGS, FAST_TOAST_SQL
from app.privacy.redact import configure_redactor
from app.runtime.gc_tuning import tune_gc_for_serving

logger = logging.getLogger("app.ingest.digester")

RECONNECT_DELAY_S = 1.0
# The digester's commits do not wait for their WAL to reach the disk. Safe: its transaction stores
# events and deletes their inbox rows together, and the rows were durable before the client got an
# answer; a crash that loses the transaction leaves the rows in the inbox, digested again later.
# The API's inbox commits then wait for fewer flushes.
NO_FLUSH_WAIT_SQL = "SET synchronous_commit = off"
# A batch is stored in chunks of this many events, each written while the next one is prepared.
STORE_CHUNK = 16


@dataclass(frozen=True)
class DigesterConfig:
    """What the API passes on the first line of stdin."""

    conninfo: str
    secret_key: str
    redact_extra_patterns: list[str]
    redact_extra_fields: list[str]
    batch: int
    poll_s: float
    yield_ratio: float  # see yield_pause
    max_delay_s: float


@dataclass
class BatchOutcome:
    oldest_received_at: datetime  # of the rows this batch took
    done: list[int] = field(default_factory=list)  # inbox ids stored (or found already stored), deleted
    analyses: list[int] = field(default_factory=list)  # error_events ids whose new analysis to enqueue
    failed: dict[int, str] = field(default_factory=dict)  # inbox id -> error, kept for a later attempt


# The API must have been taking in events this long, the inbox never empty meanwhile, before the
# digester gives way: a short burst is stored as it comes, as if there were no pauses at all.
YIELD_AFTER_BUSY_S = 0.3


def yield_pause(config: DigesterConfig, batch_s: float, oldest_wait_s: float, *, busy_s: float) -> float:
    """Seconds to wait before the next batch: the digester gives way to ingest during a burst.

    An event costs the API a third of what it costs to digest (here and in PostgreSQL), and a burst's
    events are safe once in the inbox. So once the API has been taking in events for `busy_s` >=
    YIELD_AFTER_BUSY_S (it woke us during every batch since), the digester pauses `yield_ratio`
    times as long as its batch took and leaves the CPU to the answers; it catches up when the burst
    is over. It pauses no further than until the events it took have waited `max_delay_s`: a load
    that does not stop leaves no event undigested longer than that (beyond the time the digester
    needs), and the digester then runs flat out as before.
    """
    if busy_s < YIELD_AFTER_BUSY_S:
        return 0.0
    return max(0.0, min(batch_s * config.yield_ratio, config.max_delay_s - oldest_wait_s))


class Digester:
    """Digests inbox rows in batches over one connection (see the module docstring)."""

    def __init__(self, config: DigesterConfig) -> None:
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.configure(config)

    def configure(self, config: DigesterConfig) -> None:
        """Take (new) settings: they apply from the next batch on."""
        self.config = config
        self.box: SecretBox = inbox_box(config.secret_key)
        configure_redactor(config.redact_extra_patterns, config.redact_extra_fields)

    async def drain(self, wakes_read: Callable[[], int]) -> None:
        """Digest batches, reporting each, until the inbox has nothing this digester may take.

        `wakes_read` counts the API's wake-ups so far: one came during a batch if the API committed
        new events meanwhile (see yield_pause).
        """
        busy_since: float | None = None  # since when the API woke us during every batch
        while True:
            wakes_before, started = wakes_read(), time.monotonic()
            outcome = await self.digest_batch()
            if outcome is None:
                return
            report(outcome)
            now = time.monotonic()
            if wakes_read() == wakes_before:
                busy_since = None
            elif busy_since is None:
                busy_since = started
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
            cur = await conn.execute(CLAIM_SQL, {"limit": self.config.batch, "max_attempts": MAX_ATTEMPTS})
            rows = await cur.fetchall()
            if not rows:
                return None
            outcome = BatchOutcome(oldest_received_at=min(received_at for _, _, _, received_at, _ in rows))
            # PostgreSQL stores one chunk while this process prepares the next (see _prepare_chunk).
            storing: asyncio.Task[None] | None = None
            try:
                for start in range(0, len(rows), STORE_CHUNK):
                    ready = await self._prepare_chunk(rows[start : start + STORE_CHUNK], outcome)
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
            if outcome.done:
                await conn.execute(DELETE_SQL, {"ids": outcome.done})
            if outcome.failed:
                await conn.execute(
                    FAILED_SQL, {"ids": list(outcome.failed), "errors": list(outcome.failed.values())}
                )
        return outcome

    async def _prepare_chunk(
        self, rows: list[tuple[Any, ...]], outcome: BatchOutcome
    ) -> list[tuple[int, PreparedEvent]]:
        """Unseal, scrub, normalize and group inbox rows; a row that fails is recorded in `outcome`.

        After each event it lets the event loop run, so the chunk being stored meanwhile moves on
        through its round trips: the database's work on one chunk overlaps this CPU work on the next.
        """
        ready: list[tuple[int, PreparedEvent]] = []
        for inbox_id, project_id, event_id, received_at, sealed in rows:
            try:
                raw = unseal(self.box, sealed)
                data = parse_json_payload(raw, max_bytes=len(raw))
                data["event_id"] = event_id  # the id the client was answered with
                prepared = prepare_event(project_id, data, normalize_sentry_event, received_at=received_at)
                ready.append((inbox_id, prepared))
            except Exception as exc:  # a bug of ours on a strange event: keep the row, say why
                logger.exception("inbox row %s could not be prepared", inbox_id)
                outcome.failed[inbox_id] = f"prepare: {exc!r}"[:1000]
            await asyncio.sleep(0)
        return ready

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
            outcome.done.extend(inbox_ids[key])
            if result.analysis_created and result.id is not None:
                outcome.analyses.append(result.id)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._conn = None
        if self._conn is None:
            self._conn = await psycopg.AsyncConnection.connect(self.config.conninfo, **CONNECT_ARGS)
            await self._conn.execute(FAST_TOAST_SQL)  # new JSONB with lz4, as the API's pool writes it
            await self._conn.execute(NO_FLUSH_WAIT_SQL)
            await self._conn.commit()
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


def report(outcome: BatchOutcome) -> None:
    """Tell the API what a committed batch did."""
    report_line({"done": outcome.done, "analyses": outcome.analyses, "failed": list(outcome.failed)})


def report_line(line: dict[str, Any]) -> None:
    """One JSON line to the API, on stdout."""
    sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
    sys.stdout.buffer.flush()


async def run(config: DigesterConfig) -> None:
    """Digest whenever woken (a byte on stdin) or every poll_s, until stdin closes."""
    digester = Digester(config)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    parent_gone = asyncio.Event()
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)

    pending = bytearray()
    wakes_read = 0  # newlines read: each is one wake-up the API sent

    def on_stdin() -> None:
        nonlocal wakes_read
        try:
            data = os.read(stdin, 65536)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(stdin)
            parent_gone.set()
        pending.extend(data)
        wakes_read += data.count(b"\n")
        *lines, rest = pending.split(b"\n")
        pending[:] = rest
        for line in lines:
            if line:  # new settings; an empty line only wakes us
                digester.configure(DigesterConfig(**orjson.loads(line)))
        wake.set()

    loop.add_reader(stdin, on_stdin)
    while True:
        wake.clear()
        drained_wakes = wakes_read
        try:
            await digester.drain(lambda: wakes_read)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            logger.warning("digester: database unavailable (%s); retrying", exc)
            await asyncio.sleep(RECONNECT_DELAY_S)
            continue
        except Exception:  # a bug of ours: the batch rolled back and stays in the inbox
            logger.exception("digester: batch failed; retrying")
            await asyncio.sleep(RECONNECT_DELAY_S)
            continue
        report_line({"drained": drained_wakes})  # every row committed before those wake-ups is done
        if parent_gone.is_set():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), config.poll_s)
    await digester.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    tune_gc_for_serving()  # it allocates even more per event than the API does
    asyncio.run(run(DigesterConfig(**orjson.loads(read_first_line(sys.stdin.fileno())))))


def read_first_line(fd: int) -> bytes:
    """The settings line, read unbuffered: the wake-ups after it must be counted (see run)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            raise SystemExit("digester: stdin closed before the settings line")
        line += byte
    return bytes(line)


if __name__ == "__main__":
    main()
