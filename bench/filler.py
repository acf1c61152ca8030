"""Rows for the size benches, written by PostgreSQL itself: a project of their own, one issue per 100
events, small payloads (what grows with the table is its indexes, which inserts and issue upserts
walk). bench/scaling.py fills to a size; bench/retention.py fills with expired events."""

from __future__ import annotations

import sys
from datetime import datetime

import psycopg

EVENTS_PER_ISSUE = 100

ISSUES_SQL = """
INSERT INTO issues (project_id, fingerprint, grouping_version, title, culprit, level, status,
                    is_regressed, first_seen, last_seen, times_seen, analysis_generation)
SELECT %(project)s::int, md5(%(label)s || '-issue-' || i), 'v1', %(label)s || ' ' || i, 'filler.py',
       'error', 'unresolved', false, %(first_seen)s, %(last_seen)s, %(times_seen)s, 1
FROM generate_series(%(first)s::int, %(last)s::int) AS i
ON CONFLICT DO NOTHING
"""

# Event g is stored at start + g * step seconds (a negative step: newest first).
EVENTS_SQL = f"""
INSERT INTO error_events (project_id, issue_id, event_id, status_code, level, environment, release,
                          timestamp, created_at, payload, data)
SELECT i.project_id, i.id, md5(%(label)s || '-event-' || g), 500, 'error', 'production', 'filler@1.0',
       t.at, t.at, '{{"message": "filler"}}', '{{"message": "filler"}}'
FROM generate_series(%(first)s::int, %(last)s::int) AS g
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + make_interval(secs => g * %(step)s::float)) AS t(at)
JOIN issues i ON i.project_id = %(project)s::int
             AND i.fingerprint = md5(%(label)s || '-issue-' || (g / {EVENTS_PER_ISSUE}))
"""  # noqa: S608 - a constant; values go as parameters


def project_named(conn: psycopg.Connection, name: str) -> int:
    """The id of the project owning the filler rows (made when missing)."""
    row = conn.execute(
        "INSERT INTO projects (name, public_key) VALUES (%s, md5(%s))"
        " ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        (name, name),
    ).fetchone()
    assert row is not None
    return int(row[0])


def insert_events(
    conn: psycopg.Connection,
    project: int,
    first: int,
    count: int,
    *,
    label: str,
    start: datetime,
    step_s: float,
    issues_seen: tuple[datetime, datetime],
    times_seen: int,
    chunk: int = 200_000,
) -> None:
    """Events number `first` to `first + count - 1` of `label`, with their issues, in chunks."""
    done = 0
    while done < count:
        lo = first + done
        hi = lo + min(chunk, count - done) - 1
        conn.execute(
            ISSUES_SQL,
            {"project": project, "label": label, "first": lo // EVENTS_PER_ISSUE, "last": hi // EVENTS_PER_ISSUE,
             "first_seen": issues_seen[0], "last_seen": issues_seen[1], "times_seen": times_seen},
        )  # fmt: skip
        conn.execute(
            EVENTS_SQL,
            {"project": project, "label": label, "first": lo, "last": hi, "start": start, "step": step_s},
        )
        done += hi - lo + 1
        print(f"[{label}] filled {done:,} / {count:,}", file=sys.stderr)


def settle(conn: psycopg.Connection) -> None:
    """What a server that grew to this size has long done: the autovacuum of a million new rows and a
    checkpoint writing them out. Done before the clock, so loads measure the size of the tables and
    not the aftermath of the fill (run during the first load, they tripled its p99 here)."""
    conn.execute("VACUUM (ANALYZE) error_events, issues, issue_search, issue_facets")
    conn.execute("CHECKPOINT")
