"""The SQL of storing a batch of prepared events: issues upserted, events inserted, analyses pending.

Ingest talks to PostgreSQL through psycopg directly here (the connection comes from the digester or
the app's pool): constant statements with array parameters, prepared by psycopg after a few uses,
however many events a batch holds. Everything runs in the caller's transaction. No ORM: the
digester process imports none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from app.events.alert_match import AlertRuleRow, WantedDelivery

if TYPE_CHECKING:
    from app.events.prepare import PreparedEvent


# Insert each issue of a batch of events or count its new events on it, in one statement (used as a
# CTE by INSERT_EVENTS_WITH_ISSUES_SQL below). The row lock taken by ON CONFLICT DO UPDATE serialises
# concurrent batches touching one issue, so `times_seen` stays exact, and rows are taken in one
# order (project, fingerprint) in every batch, so two batches never deadlock. A resolved issue that
# sees an event regresses: it reopens, its analysis generation is bumped and its current analysis
# cleared, so the next qualifying event asks for a fresh analysis; an ignored issue stays ignored
# (as in Sentry). (SET expressions read the row as it was before this update.) `created` tells a row
# this statement inserted (xmax is 0) from one it updated: only those get a short number, afterwards.
UPSERT_ISSUES_SQL = """
    INSERT INTO issues AS i (project_id, fingerprint, grouping_version, title, culprit, level, status,
                             is_regressed, first_seen, last_seen, times_seen, analysis_generation)
    SELECT project_id, fingerprint, grouping_version, title, culprit, level, 'unresolved',
           false, first_seen, last_seen, events, 1
    FROM unnest(%(i_project)b::int[], %(i_fingerprint)b::text[], %(i_version)b::text[],
                %(i_title)b::text[], %(i_culprit)b::text[], %(i_level)b::text[],
                %(i_first_seen)b::timestamptz[], %(i_last_seen)b::timestamptz[], %(i_events)b::int[])
         AS b(project_id, fingerprint, grouping_version, title, culprit, level, first_seen,
              last_seen, events)
    ORDER BY project_id, fingerprint
    ON CONFLICT (project_id, fingerprint) DO UPDATE SET
        times_seen = i.times_seen + excluded.times_seen,
        last_seen = greatest(i.last_seen, excluded.last_seen),
        status = CASE WHEN i.status = 'resolved' THEN 'unresolved' ELSE i.status END,
        is_regressed = CASE WHEN i.status = 'resolved' THEN true ELSE i.is_regressed END,
        resolved_at = CASE WHEN i.status = 'resolved' THEN NULL ELSE i.resolved_at END,
        analysis_generation = CASE WHEN i.status = 'resolved' THEN i.analysis_generation + 1
                                   ELSE i.analysis_generation END,
        current_analysis_id = CASE WHEN i.status = 'resolved' THEN NULL
                                   ELSE i.current_analysis_id END,
        regressed_at = CASE WHEN i.status = 'resolved' THEN now() ELSE i.regressed_at END
    RETURNING i.id, i.project_id, i.fingerprint, i.current_analysis_id, i.analysis_generation,
              (i.xmax = 0) AS created, (i.regressed_at IS NOT DISTINCT FROM now()) AS regressed
"""
# (`created`: the row was inserted by this statement; `regressed`: this transaction reopened it, as
# now() is the transaction's start time and an issue cannot regress twice in one transaction.)


@dataclass
class _BatchIssue:
    first: PreparedEvent  # labels a new issue (title, culprit, level), as the first event would
    first_seen: datetime
    last_seen: datetime
    events: int = 1


def issue_rows(events: list[PreparedEvent]) -> dict[str, list[Any]]:
    """UPSERT_ISSUES_SQL's parameters: one row per issue of the batch, in lock order."""
    issues: dict[tuple[int, str], _BatchIssue] = {}
    for e in events:
        issue = issues.get((e.project_id, e.fingerprint))
        if issue is None:
            issues[(e.project_id, e.fingerprint)] = _BatchIssue(e, e.received_at, e.received_at)
        else:
            issue.first_seen = min(issue.first_seen, e.received_at)
            issue.last_seen = max(issue.last_seen, e.received_at)
            issue.events += 1
    rows = [issues[key] for key in sorted(issues)]
    return {
        "i_project": [r.first.project_id for r in rows],
        "i_fingerprint": [r.first.fingerprint for r in rows],
        "i_version": [r.first.grouping_version for r in rows],
        "i_title": [r.first.title for r in rows],
        "i_culprit": [r.first.culprit for r in rows],
        "i_level": [r.first.level for r in rows],
        "i_first_seen": [r.first_seen for r in rows],
        "i_last_seen": [r.last_seen for r in rows],
        "i_events": [r.events for r in rows],
    }


@dataclass(frozen=True)
class InsertedEvent:
    """An event row just inserted, with what its issue looked like after the upsert."""

    id: int
    project_id: int
    event_id: str
    issue_id: int
    issue_analysis_id: int | None  # the issue's current analysis (the event links to it if analysed)
    issue_generation: int
    issue_created: bool = False  # the batch created the issue
    issue_regressed: bool = False  # the batch reopened the resolved issue


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
SELECT ins.id, ins.project_id, ins.event_id, ins.issue_id, u.current_analysis_id, u.analysis_generation,
       u.created, u.regressed
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


# Short numbers for the issues a transaction created, from their projects' counters: a counter moves
# only by the issues really created (a repeated event creates none), and a rollback takes back both,
# so numbers never skip. Run once, as the transaction's last write before its commit: the counter
# rows, locked in project id order, are then the last locks it takes, so a transaction holding one
# never waits for another lock and concurrent digesters creating issues in one project queue for it
# only briefly, without deadlocking. The UPDATE reads each counter's latest committed value once its
# lock is granted. A transaction that created no issue (the common case) never runs this and never
# touches the projects' rows.
NUMBER_NEW_ISSUES_SQL = """
WITH new AS (
    SELECT id, project_id,
           row_number() OVER (PARTITION BY project_id ORDER BY first_seen, id) AS n
    FROM issues WHERE id = ANY(%(ids)s::bigint[])
),
counted AS (SELECT project_id, count(*) AS created FROM new GROUP BY project_id),
locked AS MATERIALIZED (
    SELECT p.id FROM projects p WHERE p.id IN (SELECT project_id FROM counted)
    ORDER BY p.id FOR NO KEY UPDATE
),
bumped AS (
    UPDATE projects p SET last_issue_number = p.last_issue_number + c.created
    FROM counted c JOIN locked l ON l.id = c.project_id
    WHERE p.id = c.project_id
    RETURNING p.id, p.last_issue_number - c.created AS before
)
UPDATE issues i SET short_number = b.before + new.n
FROM new JOIN bumped b ON b.id = new.project_id
WHERE i.id = new.id
"""


async def number_new_issues(conn: AsyncConnection[Any], issue_ids: list[int]) -> None:
    """Give the issues this transaction created their short numbers (NUMBER_NEW_ISSUES_SQL)."""
    if issue_ids:
        await conn.execute(NUMBER_NEW_ISSUES_SQL, {"ids": sorted(set(issue_ids))})


@dataclass
class WantedAnalysis:
    """A pending analysis ingest wants for an issue: of its first qualifying event, shared by the rest."""

    project_id: int
    issue_id: int
    generation: int
    error_event_id: int  # the event analysed
    trigger: str  # first | regression
    linked_event_ids: list[int] = field(default_factory=list)  # events that show this analysis


# The outbox rows for a batch (app/analysis/sweeper.py re-enqueues what stays pending): the pending
# analyses, each issue pointed at its new analysis, and the qualifying events of the batch linked to it.
# The issues' rows are locked by the batch's upsert, so no other transaction can have opened these
# generations (the unique constraint guards it all the same).
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


# The enabled alert rules of a batch's projects (app/events/alert_match.py picks the deliveries).
ALERT_RULES_SQL = """
SELECT id, project_id, triggers, min_level, environment, frequency_count, frequency_minutes, wait_cap_s
FROM alert_rules WHERE enabled AND project_id = ANY(%(projects)s::int[])
"""


async def alert_rules_for(conn: AsyncConnection[Any], project_ids: list[int]) -> list[AlertRuleRow]:
    """The enabled alert rules of these projects."""
    cur = await conn.execute(ALERT_RULES_SQL, {"projects": project_ids})
    return [AlertRuleRow(*row) for row in await cur.fetchall()]


# The deliveries a batch caused, in its transaction (the outbox of app/alerts: the alert sweeper sends
# them, as the digester has no broker client). A frequency delivery is written only when the issue
# has at least N events in the rule's last M minutes and no frequency alert of the rule for it within
# them; the unique (rule, issue, trigger, occurrence) makes a second writer of an occurrence a no-op.
CREATE_ALERT_DELIVERIES_SQL = """
INSERT INTO alert_deliveries (rule_id, project_id, issue_id, trigger, occurrence, analysis_id, status,
                              next_attempt_at)
SELECT w.rule_id, w.project_id, w.issue_id, w.trigger,
       CASE WHEN w.trigger = 'frequency'
            THEN floor(extract(epoch FROM now()) / (60 * w.minutes))::bigint ELSE w.occurrence END,
       w.analysis_id, 'pending', now() + make_interval(secs => w.wait_s)
FROM unnest(%(rule)s::int[], %(project)s::int[], %(issue)s::bigint[], %(trigger)s::text[],
            %(occurrence)s::bigint[], %(analysis)s::bigint[], %(wait)s::int[], %(count)s::int[],
            %(minutes)s::int[])
     AS w(rule_id, project_id, issue_id, trigger, occurrence, analysis_id, wait_s, count, minutes)
WHERE w.trigger <> 'frequency' OR (
    (SELECT count(*) FROM (
        SELECT 1 FROM error_events e
        WHERE e.issue_id = w.issue_id AND e.created_at > now() - make_interval(mins => w.minutes)
        LIMIT w.count) AS recent) >= w.count
    AND NOT EXISTS (
        SELECT 1 FROM alert_deliveries d
        WHERE d.rule_id = w.rule_id AND d.issue_id = w.issue_id AND d.trigger = 'frequency'
          AND d.created_at > now() - make_interval(mins => w.minutes)))
ON CONFLICT DO NOTHING
RETURNING id
"""


async def create_alert_deliveries(conn: AsyncConnection[Any], wanted: list[WantedDelivery]) -> list[int]:
    """Write the wanted deliveries (those a conflict or the frequency count does not rule out)."""
    if not wanted:
        return []
    cur = await conn.execute(
        CREATE_ALERT_DELIVERIES_SQL,
        {
            "rule": [w.rule_id for w in wanted],
            "project": [w.project_id for w in wanted],
            "issue": [w.issue_id for w in wanted],
            "trigger": [w.trigger for w in wanted],
            "occurrence": [w.occurrence for w in wanted],
            "analysis": [w.analysis_id for w in wanted],
            "wait": [w.wait_s for w in wanted],
            "count": [w.frequency_count for w in wanted],
            "minutes": [w.frequency_minutes for w in wanted],
        },
    )
    return [row[0] for row in await cur.fetchall()]
