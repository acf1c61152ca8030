"""Writing a batch of events: their issues upserted and the events inserted, in one statement.

Ingest talks to PostgreSQL through psycopg directly here (the connection comes from the app's
SQLAlchemy pool): one constant statement with array parameters, prepared by psycopg after a few
uses, however many events a batch holds. Everything runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from app.issues.upsert import UPSERT_ISSUES_SQL, issue_rows

if TYPE_CHECKING:
    from app.ingest.prepare import PreparedEvent


@dataclass(frozen=True)
class InsertedEvent:
    """An event row just inserted, with what its issue looked like after the upsert."""

    id: int
    project_id: int
    event_id: str
    issue_id: int
    issue_analysis_id: int | None  # the issue's current analysis (the event links to it if analysed)
    issue_generation: int


# The issue upsert runs first (a CTE); each event is inserted with its issue's id and, when it needs
# analysis, the issue's current analysis. A (project, event_id) already stored is skipped, so the
# caller sees fewer rows than it sent and knows which events were resends.
INSERT_EVENTS_WITH_ISSUES_SQL = f"""
WITH upserted AS ({UPSERT_ISSUES_SQL}),
inserted AS (
    INSERT INTO error_events (project_id, issue_id, event_id, status_code, level, environment,
                              release, timestamp, payload, data, analysis_id)
    SELECT ev.project_id, u.id, ev.event_id, ev.status_code, ev.level, ev.environment, ev.release,
           ev.timestamp, ev.payload::jsonb, ev.data::jsonb,
           CASE WHEN ev.needs_analysis THEN u.current_analysis_id END
    FROM unnest(%(e_project)b::int[], %(e_fingerprint)b::text[], %(e_event_id)b::text[],
                %(e_status)b::int[], %(e_level)b::text[], %(e_environment)b::text[],
                %(e_release)b::text[], %(e_timestamp)b::timestamptz[], %(e_payload)b::text[],
                %(e_data)b::text[], %(e_needs_analysis)b::bool[])
         WITH ORDINALITY AS ev(project_id, fingerprint, event_id, status_code, level, environment,
                               release, timestamp, payload, data, needs_analysis, ord)
    JOIN upserted u ON u.project_id = ev.project_id AND u.fingerprint = ev.fingerprint
    ORDER BY ev.ord
    ON CONFLICT (project_id, event_id) DO NOTHING
    RETURNING id, project_id, event_id, issue_id
)
SELECT ins.id, ins.project_id, ins.event_id, ins.issue_id, u.current_analysis_id, u.analysis_generation
FROM inserted ins JOIN upserted u ON u.id = ins.issue_id
"""  # noqa: S608 - constant fragments; every value goes as a parameter


async def insert_events_with_issues(
    conn: AsyncConnection[Any], events: list[PreparedEvent]
) -> list[InsertedEvent]:
    """Upsert the events' issues and insert the events; returns the rows inserted (resends are not)."""
    params = issue_rows(events)
    params.update(
        e_project=[e.project_id for e in events],
        e_fingerprint=[e.fingerprint for e in events],
        e_event_id=[e.event_id for e in events],
        e_status=[e.status_code for e in events],
        e_level=[e.level for e in events],
        e_environment=[e.environment for e in events],
        e_release=[e.release for e in events],
        e_timestamp=[e.timestamp for e in events],
        e_payload=[e.payload_json for e in events],
        e_data=[e.data_json for e in events],
        e_needs_analysis=[e.needs_analysis for e in events],
    )
    cur = await conn.execute(INSERT_EVENTS_WITH_ISSUES_SQL, params)
    return [InsertedEvent(*row) for row in await cur.fetchall()]
