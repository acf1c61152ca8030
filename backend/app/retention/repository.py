"""The SQL of retention: expired events, the issues they leave without events, and dead inbox rows.

Expired events are found through the index ingest already keeps, (issue_id, created_at): for each
issue that can hold one (an issue's first_seen is the receive time of its first event, never later
than that event's created_at), its events older than the cutoff. Every statement deletes a bounded
number of rows and commits, so no lock is held longer than one small batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# pg_try_advisory_lock key of a retention pass: two passes at once would only trip over each other.
PASS_LOCK_KEY = 0x6661756C74_0018  # "fault", issue 18


@dataclass(frozen=True)
class ProjectCutoff:
    project_id: int
    cutoff: datetime  # events created before this are expired


PROJECT_CUTOFFS_SQL = text(
    """
    SELECT id, now() - make_interval(days => coalesce(event_retention_days, :default_days))
    FROM projects
    WHERE coalesce(event_retention_days, :default_days) > 0
    ORDER BY id
    """
)


def project_cutoffs(session: Session, default_days: int) -> list[ProjectCutoff]:
    """Each project that keeps its events for a limited time, with the cutoff of its retention."""
    rows = session.execute(PROJECT_CUTOFFS_SQL, {"default_days": default_days})
    return [ProjectCutoff(project_id, cutoff) for project_id, cutoff in rows]


ISSUE_PAGE_SQL = text(
    """
    SELECT id FROM issues
    WHERE project_id = :project_id AND first_seen < :cutoff AND id > :after
    ORDER BY id
    LIMIT :limit
    """
)


def issues_seen_before(
    session: Session, project_id: int, cutoff: datetime, after: int, limit: int
) -> list[int]:
    """The next `limit` issues (by id, after `after`) of the project first seen before `cutoff`."""
    params = {"project_id": project_id, "cutoff": cutoff, "after": after, "limit": limit}
    return list(session.scalars(ISSUE_PAGE_SQL, params))


DELETE_EXPIRED_OF_ISSUES_SQL = text(
    """
    DELETE FROM error_events WHERE id IN (
        SELECT e.id
        FROM unnest(CAST(:issue_ids AS bigint[])) AS i(id)
        CROSS JOIN LATERAL (
            SELECT id FROM error_events
            WHERE issue_id = i.id AND created_at < :cutoff
            LIMIT :limit
        ) e
        LIMIT :limit
    )
    """
)


def delete_expired_events_of_issues(
    session: Session, issue_ids: list[int], cutoff: datetime, limit: int
) -> int:
    """Delete at most `limit` events of these issues created before `cutoff`; how many went."""
    params = {"issue_ids": issue_ids, "cutoff": cutoff, "limit": limit}
    return int(session.execute(DELETE_EXPIRED_OF_ISSUES_SQL, params).rowcount)  # type: ignore[attr-defined]


DELETE_EXPIRED_UNGROUPED_SQL = text(
    """
    DELETE FROM error_events WHERE id IN (
        SELECT id FROM error_events
        WHERE issue_id IS NULL AND project_id = :project_id AND created_at < :cutoff
        LIMIT :limit
    )
    """
)


def delete_expired_ungrouped_events(session: Session, project_id: int, cutoff: datetime, limit: int) -> int:
    """Delete at most `limit` of the project's expired events that belong to no issue; how many went."""
    params = {"project_id": project_id, "cutoff": cutoff, "limit": limit}
    return int(session.execute(DELETE_EXPIRED_UNGROUPED_SQL, params).rowcount)  # type: ignore[attr-defined]


# The issues are locked first, skipping those a digester is writing to (it is adding an event). The
# emptiness check is a statement of its own, so it sees every event committed before the lock was
# taken; while the lock is held no event can be added (its foreign key check waits for the lock).
LOCK_ISSUES_SQL = text("SELECT id FROM issues WHERE id = ANY(:issue_ids) ORDER BY id FOR UPDATE SKIP LOCKED")
DELETE_EMPTY_ISSUES_SQL = text(
    """
    DELETE FROM issues i
    WHERE i.id = ANY(:issue_ids)
      AND NOT EXISTS (SELECT 1 FROM error_events e WHERE e.issue_id = i.id)
    """
)


def delete_issues_without_events(session: Session, issue_ids: list[int]) -> int:
    """Delete those of these issues that have no event left, with their analyses, search and facet rows
    (ON DELETE CASCADE); how many went."""
    locked = list(session.scalars(LOCK_ISSUES_SQL, {"issue_ids": issue_ids}))
    if not locked:
        return 0
    return int(session.execute(DELETE_EMPTY_ISSUES_SQL, {"issue_ids": locked}).rowcount)  # type: ignore[attr-defined]


PRUNE_INBOX_SQL = text(
    """
    DELETE FROM ingest_inbox WHERE id IN (
        SELECT id FROM ingest_inbox i
        WHERE received_at < now() - make_interval(secs => :grace_s)
          AND (attempts >= :max_attempts OR NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = i.project_id))
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)


def prune_inbox(session: Session, *, grace_s: float, max_attempts: int, limit: int) -> int:
    """Delete at most `limit` inbox rows received over `grace_s` ago that no digester will store: their
    project is gone, or they failed `max_attempts` times. How many went."""
    params = {"grace_s": grace_s, "max_attempts": max_attempts, "limit": limit}
    return int(session.execute(PRUNE_INBOX_SQL, params).rowcount)  # type: ignore[attr-defined]


@contextmanager
def pass_lock(engine: Engine) -> Iterator[bool]:
    """Hold the retention pass lock (True), or learn that another pass holds it (False).

    A session-level advisory lock on an autocommit connection of its own: it holds no transaction
    open (nothing for vacuum to wait for) and goes away with the connection if the process dies.
    """
    conn: Connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        got = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": PASS_LOCK_KEY}))
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PASS_LOCK_KEY})
    finally:
        conn.close()


# Chunks sentry-cli uploaded for a bundle it never asked to assemble (an upload cut short).
PRUNE_UPLOAD_CHUNKS_SQL = text(
    "DELETE FROM upload_chunks WHERE created_at < now() - make_interval(secs => :grace_s)"
)


def prune_upload_chunks(session: Session, *, grace_s: float) -> int:
    """Delete the upload chunks left unassembled over `grace_s`; how many went."""
    return int(session.execute(PRUNE_UPLOAD_CHUNKS_SQL, {"grace_s": grace_s}).rowcount)  # type: ignore[attr-defined]
