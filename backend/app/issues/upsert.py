"""The issue upsert of an ingest batch: its SQL and its parameters (no ORM: the digester uses it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.ingest.prepare import PreparedEvent


# Insert each issue of a batch of events or count its new events on it, in one statement (used as a
# CTE by app/ingest/repository.py). The row lock taken by ON CONFLICT DO UPDATE serialises
# concurrent batches touching one issue, so `times_seen` stays exact, and rows are taken in one
# order (project, fingerprint) in every batch, so two batches never deadlock. A resolved issue that
# sees an event regresses: it reopens, its analysis generation is bumped and its current analysis
# cleared, so the next qualifying event asks for a fresh analysis; an ignored issue stays ignored
# (as in Sentry). (SET expressions read the row as it was before this update.)
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
                                   ELSE i.current_analysis_id END
    RETURNING i.id, i.project_id, i.fingerprint, i.current_analysis_id, i.analysis_generation
"""


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
