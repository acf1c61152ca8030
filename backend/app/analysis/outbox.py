"""Ingest's outbox for analyses: the pending rows a stored batch of events asks for (psycopg only,
no ORM: the ingest digester uses it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection


@dataclass
class WantedAnalysis:
    """A pending analysis ingest wants for an issue: of its first qualifying event, shared by the rest."""

    project_id: int
    issue_id: int
    generation: int
    error_event_id: int  # the event analysed
    trigger: str  # first | regression
    linked_event_ids: list[int] = field(default_factory=list)  # events that show this analysis


# Ingest's outbox rows for a batch: the pending analyses, each issue pointed at its new analysis,
# and the qualifying events of the batch linked to it. The issues' rows are locked by the batch's
# upsert, so no other transaction can have opened these generations (the unique constraint guards
# it all the same).
CREATE_PENDING_FOR_EVENTS_SQL = """
WITH created AS (
    INSERT INTO issue_analyses (project_id, issue_id, generation, error_event_id, trigger, status,
                                attempts)
    SELECT project_id, issue_id, generation, error_event_id, trigger, 'pending', 0
    FROM unnest(%(project)b::int[], %(issue)b::bigint[], %(generation)b::int[],
                %(event)b::bigint[], %(trigger)b::text[])
         AS w(project_id, issue_id, generation, error_event_id, trigger)
    ON CONFLICT (issue_id, generation) DO NOTHING
    RETURNING id, issue_id
),
set_current AS (
    UPDATE issues SET current_analysis_id = c.id FROM created c WHERE issues.id = c.issue_id
),
linked AS (
    UPDATE error_events e SET analysis_id = c.id
    FROM created c, unnest(%(link_event)b::bigint[], %(link_issue)b::bigint[]) AS l(event_id, issue_id)
    WHERE c.issue_id = l.issue_id AND e.id = l.event_id
)
SELECT issue_id, id FROM created
"""


async def create_pending_for_events(
    conn: AsyncConnection[Any], wanted: list[WantedAnalysis]
) -> dict[int, int]:
    """Create the wanted pending analyses and link their events; returns {issue_id: analysis_id}."""
    if not wanted:
        return {}
    cur = await conn.execute(
        CREATE_PENDING_FOR_EVENTS_SQL,
        {
            "project": [w.project_id for w in wanted],
            "issue": [w.issue_id for w in wanted],
            "generation": [w.generation for w in wanted],
            "event": [w.error_event_id for w in wanted],
            "trigger": [w.trigger for w in wanted],
            "link_event": [e for w in wanted for e in w.linked_event_ids],
            "link_issue": [w.issue_id for w in wanted for _ in w.linked_event_ids],
        },
    )
    created = {issue_id: analysis_id for issue_id, analysis_id in await cur.fetchall()}
    assert len(created) == len(wanted)  # the issue row locks make these generations ours
    return created
