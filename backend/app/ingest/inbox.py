"""The ingest inbox: events accepted and not yet stored and grouped (table `ingest_inbox`).

Every accepted event, from a Sentry SDK or the seed's JSON endpoint, is first an inbox row: a
durable copy of the event as the client sent it. A digester (app/ingest/digester.py) then stores
and groups it into `error_events` and deletes the row in one transaction, so every accepted event
is either still in the inbox or stored, whatever crashes in between.

Digesters and API processes speak through PostgreSQL's LISTEN/NOTIFY only: an inbox commit notifies
INBOX_CHANNEL (every digester wakes), a digester's commit notifies DIGESTED_CHANNEL with what became
of each row it took (the API answers whoever waits for one). A notification is sent with the commit
of its transaction and never without it.

The inbox holds the client's bytes before any scrubbing, so it holds them sealed: encrypted and
authenticated (XSalsa20-Poly1305, PyNaCl's SecretBox) with a key derived from SECRET_KEY, which
never enters the database. A dump, a replica or the WAL of the inbox shows no secret in clear.
They are LZ4-compressed first (a few microseconds, to less than half the size): the inbox's WAL is
the cost of every accepted event, and encrypted bytes would not compress later.

This module is shared by the API and the digester process: psycopg only, no ORM.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lz4.frame
import orjson
from nacl.secret import SecretBox
from psycopg import AsyncConnection

MAX_ATTEMPTS = 5  # a row that failed this often is kept (not lost) and no longer retried
INBOX_CHANNEL = "faultline_inbox"
DIGESTED_CHANNEL = "faultline_digested"
SENTRY = "sentry"  # `kind`: which normalizer reads the row (app/events/normalize.py)
SEED = "seed"


@dataclass(frozen=True)
class InboxEvent:
    """One accepted event, as it waits in the inbox."""

    project_id: int
    event_id: str  # the id the client was answered with, and the one the event is stored under
    received_at: datetime
    payload: bytes  # the event JSON as the client sent it
    kind: str = SENTRY


def inbox_box(secret_key: str) -> SecretBox:
    """The sealing box of this installation: its key is derived from SECRET_KEY."""
    key = hashlib.blake2b(secret_key.encode(), digest_size=32, person=b"faultline-inbox").digest()
    return SecretBox(key)


def seal(box: SecretBox, payload: bytes) -> bytes:
    """The payload compressed, then encrypted."""
    return bytes(box.encrypt(lz4.frame.compress(payload)))


def unseal(box: SecretBox, sealed: bytes) -> bytes:
    """The payload `seal` was given; raises if the bytes were not sealed with this box."""
    return bytes(lz4.frame.decompress(box.decrypt(sealed)))


INSERT_SQL = """
INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed, kind)
SELECT project_id, event_id, received_at, sealed, kind
FROM unnest(%(project)b::int[], %(event_id)b::text[], %(received_at)b::timestamptz[], %(sealed)b::bytea[],
            %(kind)b::text[])
     WITH ORDINALITY AS r(project_id, event_id, received_at, sealed, kind, ord)
ORDER BY ord
RETURNING id
"""


async def insert_events(conn: AsyncConnection[Any], box: SecretBox, events: list[InboxEvent]) -> list[int]:
    """Insert sealed events in the caller's transaction; their inbox ids, in the order given."""
    cur = await conn.execute(
        INSERT_SQL,
        {
            "project": [e.project_id for e in events],
            "event_id": [e.event_id for e in events],
            "received_at": [e.received_at for e in events],
            "sealed": [seal(box, e.payload) for e in events],
            "kind": [e.kind for e in events],
        },
    )
    # bigserial ids are drawn as the ordered rows are inserted, so ascending id is the order given.
    return sorted(row[0] for row in await cur.fetchall())


# The wake-up after an inbox commit, in a transaction of its own that waits for no disk flush. Not in
# the inserting transaction: PostgreSQL serialises the commits of notifying transactions (a lock held
# through the commit's flush), and the digesters' commits, which notify too, would queue behind every
# inbox flush. A wake-up lost in a crash is made up for by the digesters' poll.
NOTIFY_INBOX_SQL = (
    f"BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{INBOX_CHANNEL}', ''); COMMIT"
)


async def notify_inbox(conn: AsyncConnection[Any]) -> None:
    """Wake the digesters: rows were committed (call on an autocommit connection)."""
    await conn.execute(NOTIFY_INBOX_SQL)


# The oldest rows no other digester holds; a row is claimed for the claiming transaction only.
# Each comes with its project's scrub_user_data (NULL: the SCRUB_USER_DATA setting decides).
CLAIM_SQL = """
SELECT id, project_id, event_id, received_at, sealed, kind,
       (SELECT scrub_user_data FROM projects WHERE projects.id = ingest_inbox.project_id)
FROM ingest_inbox
WHERE attempts < %(max_attempts)s
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""
DELETE_SQL = "DELETE FROM ingest_inbox WHERE id = ANY(%(ids)s)"
FAILED_SQL = """
UPDATE ingest_inbox SET attempts = attempts + 1, last_error = f.error
FROM unnest(%(ids)s::bigint[], %(errors)s::text[]) AS f(id, error)
WHERE ingest_inbox.id = f.id
"""


@dataclass(frozen=True)
class InboxRow:
    """A claimed row, as a digester takes it."""

    id: int
    project_id: int
    event_id: str
    received_at: datetime
    sealed: bytes
    kind: str
    scrub_user_data: bool | None = None  # the project's override of SCRUB_USER_DATA


async def claim(conn: AsyncConnection[Any], limit: int) -> list[InboxRow]:
    """Take up to `limit` rows for the caller's transaction, oldest first, skipping rows others hold."""
    cur = await conn.execute(CLAIM_SQL, {"limit": limit, "max_attempts": MAX_ATTEMPTS})
    return [InboxRow(*row) for row in await cur.fetchall()]


async def delete(conn: AsyncConnection[Any], ids: list[int]) -> None:
    """Rows whose events are stored leave the inbox (in the transaction that stored them)."""
    await conn.execute(DELETE_SQL, {"ids": ids})


async def record_failures(conn: AsyncConnection[Any], errors: dict[int, str]) -> None:
    """Rows that could not be stored stay, with one more attempt counted and the reason."""
    await conn.execute(FAILED_SQL, {"ids": list(errors), "errors": list(errors.values())})


async def listen(conn: AsyncConnection[Any], channel: str) -> None:
    """Subscribe an autocommit connection to INBOX_CHANNEL or DIGESTED_CHANNEL."""
    assert channel in (INBOX_CHANNEL, DIGESTED_CHANNEL)
    await conn.execute(f"LISTEN {channel}")


RowKey = tuple[int, str]  # (inbox id, event_id)


@dataclass(frozen=True)
class Digested:
    """What became of one inbox row, as a digester's notification tells it."""

    inbox_id: int
    event_id: str  # with the inbox id, names the row even where ids were reset (TRUNCATE … RESTART)
    stored: bool  # False: it failed and waits in the inbox for another attempt
    error_event_id: int | None = None  # None for a resend of a stored event
    issue_id: int | None = None
    analysis_id: int | None = None
    # The store opened a pending analysis of this event: its job is to be sent (digest_waiter.py).
    analysis_to_send: bool = False

    @property
    def key(self) -> RowKey:
        return (self.inbox_id, self.event_id)


NOTIFY_DIGESTED_SQL = f"SELECT pg_notify('{DIGESTED_CHANNEL}', %(payload)s)"
# PostgreSQL refuses notification payloads of 8000 bytes or more.
MAX_NOTIFY_PAYLOAD = 7900


def digested_payloads(rows: list[Digested]) -> Iterator[str]:
    """The rows as notification payloads, each under PostgreSQL's limit.

    One row is `[inbox_id, event_id, error_event_id, issue_id, analysis_id, analysis_to_send]`, or
    `[inbox_id, event_id]` when it failed.
    """
    chunk: list[bytes] = []
    size = 2
    for row in rows:
        ids = [row.error_event_id, row.issue_id, row.analysis_id]
        fields = [row.inbox_id, row.event_id, *ids, row.analysis_to_send]
        item = orjson.dumps(fields if row.stored else fields[:2])
        if chunk and size + len(item) + 1 > MAX_NOTIFY_PAYLOAD:
            yield (b"[" + b",".join(chunk) + b"]").decode()
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        yield (b"[" + b",".join(chunk) + b"]").decode()


async def notify_digested(conn: AsyncConnection[Any], rows: list[Digested]) -> None:
    """Tell the API processes, with the commit of the caller's transaction, what became of these rows.

    No rows: the caller found the inbox empty (app/ingest/digest_waiter.py).
    """
    for payload in digested_payloads(rows) if rows else ["[]"]:
        await conn.execute(NOTIFY_DIGESTED_SQL, {"payload": payload})


def parse_digested(payload: str) -> list[Digested]:
    """The inverse of `digested_payloads`, for one payload."""
    return [
        Digested(item[0], item[1], True, *item[2:]) if len(item) == 6 else Digested(item[0], item[1], False)
        for item in orjson.loads(payload)
    ]


# Where a notification went missing (the API's listener was reconnecting): a row is stored once it
# has left the inbox and its event is in error_events.
STORED_SQL = """
SELECT r.inbox_id, r.event_id, e.id, e.issue_id, e.analysis_id
FROM unnest(%(inbox_ids)s::bigint[], %(event_ids)s::text[], %(project_ids)s::int[])
     AS r(inbox_id, event_id, project_id)
JOIN error_events e ON e.project_id = r.project_id AND e.event_id = r.event_id
WHERE NOT EXISTS (SELECT 1 FROM ingest_inbox i WHERE i.id = r.inbox_id)
"""


async def look_up_stored(conn: AsyncConnection[Any], rows: dict[RowKey, int]) -> list[Digested]:
    """The fate of these rows (row -> project id) read from the tables: those that are stored."""
    cur = await conn.execute(
        STORED_SQL,
        {
            "inbox_ids": [inbox_id for inbox_id, _ in rows],
            "event_ids": [event_id for _, event_id in rows],
            "project_ids": list(rows.values()),
        },
    )
    return [Digested(inbox_id, event_id, True, *ids) for inbox_id, event_id, *ids in await cur.fetchall()]


# What /metrics shows of the inbox (app/monitoring.py): rows waiting for a digester, the age of the
# oldest of them (how far the digesters lag behind ingest), and rows that used up their attempts.
BACKLOG_SQL = """
SELECT count(*) FILTER (WHERE attempts < %(max_attempts)s),
       coalesce(extract(epoch FROM now() - min(received_at) FILTER (WHERE attempts < %(max_attempts)s)), 0),
       count(*) FILTER (WHERE attempts >= %(max_attempts)s)
FROM ingest_inbox
"""


@dataclass(frozen=True)
class Backlog:
    waiting: int
    oldest_wait_s: float
    given_up: int  # rows kept after MAX_ATTEMPTS failures, until retention prunes them


async def backlog(conn: AsyncConnection[Any]) -> Backlog:
    """The inbox's backlog now."""
    cur = await conn.execute(BACKLOG_SQL, {"max_attempts": MAX_ATTEMPTS})
    row = await cur.fetchone()
    assert row is not None
    return Backlog(int(row[0]), max(0.0, float(row[1])), int(row[2]))
