"""The ingest inbox: Sentry events accepted and not yet stored and grouped (table `ingest_inbox`).

An SDK's event is answered as soon as its inbox row has committed: a durable copy of the event as
the client sent it. The digester (app/ingest/digester.py) then stores and groups it into
`error_events` and deletes the row in one transaction, so every accepted event is either still in
the inbox or stored, whatever crashes in between.

The inbox holds the client's bytes before any scrubbing, so it holds them sealed: encrypted and
authenticated (XSalsa20-Poly1305, PyNaCl's SecretBox) with a key derived from SECRET_KEY, which
never enters the database. A dump, a replica or the WAL of the inbox shows no secret in clear.
They are LZ4-compressed first (7 µs for a 7 KB event, to 3 KB): the inbox's WAL is the cost of
every accepted event, and encrypted bytes would not compress later.

This module is shared by the API and the digester process, which imports no ORM: psycopg only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lz4.frame
from nacl.secret import SecretBox
from psycopg import AsyncConnection

MAX_ATTEMPTS = 5  # a row that failed this often is kept (not lost) and no longer retried


@dataclass(frozen=True)
class InboxEvent:
    """One accepted event, as it waits in the inbox."""

    project_id: int
    event_id: str  # the id the client was answered with, and the one the event is stored under
    received_at: datetime
    payload: bytes  # the event JSON as the client sent it


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
INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed)
SELECT project_id, event_id, received_at, sealed
FROM unnest(%(project)b::int[], %(event_id)b::text[], %(received_at)b::timestamptz[], %(sealed)b::bytea[])
     WITH ORDINALITY AS r(project_id, event_id, received_at, sealed, ord)
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
        },
    )
    # bigserial ids are drawn as the ordered rows are inserted, so ascending id is the order given.
    return sorted(row[0] for row in await cur.fetchall())


# The oldest rows no other digester holds; a row is claimed for the claiming transaction only.
CLAIM_SQL = """
SELECT id, project_id, event_id, received_at, sealed FROM ingest_inbox
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
