"""Counting what a peer has stored and grouped, straight from its database, and waiting for the drain.

Bugsink: its SQLite file (`events_event`, `issues_issue`, the digest time in `events_event.digested_at`).
Faultline: PostgreSQL (`error_events`, `issues`, `error_events.created_at`), through psycopg when it
is importable, else through the `psql` client.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass
class Counts:
    """Rows stored for one project, and the wall-clock time (epoch s) the newest event row landed."""

    events: int
    issues: int
    last_landed: float | None


class StoreCounter(Protocol):
    """Anything that can count a project's stored events and issues."""

    def counts(self) -> Counts:
        """Current counts."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class BugsinkSqliteCounter:
    """Counts in Bugsink's SQLite DB, read-only (WAL: readers do not block its single writer)."""

    def __init__(self, path: str, project_id: int) -> None:
        self.project_id = project_id
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)

    def counts(self) -> Counts:
        """Events digested (stored and grouped) and issues of the project."""
        cur = self.conn.execute(
            "SELECT count(*), max(digested_at) FROM events_event WHERE project_id = ?", (self.project_id,)
        )
        events, last = cur.fetchone()
        (issues,) = self.conn.execute(
            "SELECT count(*) FROM issues_issue WHERE project_id = ?", (self.project_id,)
        ).fetchone()
        landed = datetime.fromisoformat(last).replace(tzinfo=UTC).timestamp() if last else None
        return Counts(events, issues, landed)

    def close(self) -> None:
        """Close the SQLite connection."""
        self.conn.close()


def _plain_pg_url(url: str) -> str:
    """postgresql+psycopg://… (SQLAlchemy style) → postgresql://… (libpq style)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


class FaultlinePgCounter:
    """Counts in Faultline's PostgreSQL: `error_events` and `issues` of one project."""

    EVENTS_SQL = (
        "SELECT count(*), extract(epoch FROM max(created_at))::float8"
        " FROM error_events WHERE project_id = {pid}"
    )
    ISSUES_SQL = "SELECT count(*) FROM issues WHERE project_id = {pid}"

    def __init__(self, url: str, project_id: int) -> None:
        self.url = _plain_pg_url(url)
        self.project_id = int(project_id)
        self.conn = None
        try:
            import psycopg

            self.conn = psycopg.connect(self.url, autocommit=True)
        except ImportError:
            if not shutil.which("psql"):
                raise RuntimeError("need psycopg (pip) or the psql client to count in PostgreSQL") from None

    def _query(self, sql: str) -> list[str]:
        sql = sql.format(pid=self.project_id)
        if self.conn is not None:
            row = self.conn.execute(sql).fetchone()
            return ["" if v is None else str(v) for v in row]
        out = subprocess.run(
            ["psql", self.url, "-At", "-F", "|", "-c", sql], check=True, capture_output=True, text=True
        ).stdout
        return out.strip().split("|")

    def counts(self) -> Counts:
        """Events stored (each with its issue upserted in the same transaction) and issues of the project."""
        events, last = self._query(self.EVENTS_SQL)
        (issues,) = self._query(self.ISSUES_SQL)
        return Counts(int(events), int(issues), float(last) if last else None)

    def close(self) -> None:
        """Close the PostgreSQL connection."""
        if self.conn is not None:
            self.conn.close()


def project_id_for_key(url: str, public_key: str) -> int:
    """Faultline project id owning a public key (for the seed JSON mode, which only knows the key)."""
    import psycopg

    with psycopg.connect(_plain_pg_url(url)) as conn:
        row = conn.execute("SELECT id FROM projects WHERE public_key = %s", (public_key,)).fetchone()
    if row is None:
        raise LookupError(f"no project with public_key {public_key}")
    return int(row[0])


@dataclass
class DrainResult:
    """How far the peer got storing what it accepted, and when the last event landed."""

    stored: int  # events stored beyond the baseline
    issues: int  # issues created beyond the baseline
    t_last_landed: float  # wall clock, epoch s
    complete: bool  # stored >= expected
    waited_s: float


def wait_drained(
    counter: StoreCounter,
    baseline: Counts,
    expected: int,
    timeout_s: float,
    stall_s: float = 30.0,
    interval_s: float = 0.1,
) -> DrainResult:
    """Poll until `expected` new events are stored, progress stalls for `stall_s`, or `timeout_s` passes.

    The last-landed time comes from the DB's own row timestamp when it has one (precise even if the
    drain finished before polling began), else from when the poll first saw the final count.
    """
    t_start = time.monotonic()
    last_progress = t_start
    seen = -1
    observed_at = time.time()
    while True:
        c = counter.counts()
        stored = c.events - baseline.events
        now = time.monotonic()
        if stored != seen:
            seen, last_progress, observed_at = stored, now, time.time()
        if stored >= expected or now - t_start > timeout_s or now - last_progress > stall_s:
            break
        time.sleep(interval_s)
    landed = c.last_landed if c.last_landed is not None else observed_at
    return DrainResult(
        stored=stored,
        issues=c.issues - baseline.issues,
        t_last_landed=landed,
        complete=stored >= expected,
        waited_s=time.monotonic() - t_start,
    )
