"""Releases as a project's events name them: each version's first and last event, its event count,
the issues that first appeared in it; and the release an issue first appeared in.

Nothing is written for releases at ingest beyond the event row: everything is read from error_events
through the partial index (project_id, release, created_at) of migration 0011 (index-only scans: one
probe per version for the list, one range per version shown for its counts), and from issue_facets,
which the event trigger already keeps (the issues seen in a release). An issue's first release is
its first stored event's release (the (issue_id, id) index's first entry); once retention deleted
that event, it is the oldest one kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class ReleaseSummary:
    version: str
    first_seen: datetime
    last_seen: datetime
    events: int
    new_issues: int


@dataclass(frozen=True)
class ReleasePage:
    releases: list[ReleaseSummary]
    # The (first_seen, version) of the last release shown, when older ones follow.
    next_after: tuple[datetime, str] | None


# Every version of the project with its first event, by a loose index scan: each step jumps to the
# next version's first index entry, so the cost grows with the number of versions, not of events.
_VERSIONS = text(
    """
    WITH RECURSIVE v AS (
        (SELECT release, created_at FROM error_events
         WHERE project_id = :project_id AND release IS NOT NULL
         ORDER BY release, created_at LIMIT 1)
        UNION ALL
        SELECT n.release, n.created_at FROM v CROSS JOIN LATERAL (
            SELECT e.release, e.created_at FROM error_events e
            WHERE e.project_id = :project_id AND e.release IS NOT NULL AND e.release > v.release
            ORDER BY e.release, e.created_at LIMIT 1
        ) n
    )
    SELECT release, created_at FROM v
    WHERE CAST(:after_seen AS timestamptz) IS NULL
       OR (created_at, release) < (CAST(:after_seen AS timestamptz), CAST(:after_version AS text))
    ORDER BY created_at DESC, release DESC
    LIMIT :limit
    """
)

_COUNTS = text(
    """
    SELECT v.version,
        (SELECT count(*) FROM error_events e
         WHERE e.project_id = :project_id AND e.release = v.version) AS events,
        (SELECT max(e.created_at) FROM error_events e
         WHERE e.project_id = :project_id AND e.release = v.version) AS last_seen
    FROM unnest(CAST(:versions AS text[])) AS v(version)
    """
)

# Issues new in a version: of the issues seen in any version shown (issue_facets), those whose first
# event has one of them; each issue's first event is looked up once (the (issue_id, id) index).
_NEW_ISSUES = text(
    """
    SELECT first_event.release, count(*) FROM (
        SELECT DISTINCT issue_id FROM issue_facets
        WHERE project_id = :project_id AND key = 'release' AND value = ANY(CAST(:versions AS text[]))
    ) AS seen
    CROSS JOIN LATERAL (
        SELECT e.release FROM error_events e WHERE e.issue_id = seen.issue_id ORDER BY e.id LIMIT 1
    ) AS first_event
    WHERE first_event.release = ANY(CAST(:versions AS text[]))
    GROUP BY first_event.release
    """
)


async def list_releases(
    session: AsyncSession, project_id: int, *, after: tuple[datetime, str] | None, limit: int
) -> ReleasePage:
    """A page of the project's releases, newest first (by first event), after `after` if given."""
    params = {
        "project_id": project_id,
        "after_seen": after[0] if after else None,
        "after_version": after[1] if after else None,
        "limit": limit + 1,
    }
    versions = (await session.execute(_VERSIONS, params)).all()
    shown = versions[:limit]
    if not shown:
        return ReleasePage([], None)
    names = [version for version, _ in shown]
    counted = {
        row.version: row
        for row in await session.execute(_COUNTS, {"project_id": project_id, "versions": names})
    }
    new = dict((await session.execute(_NEW_ISSUES, {"project_id": project_id, "versions": names})).all())
    releases = [
        ReleaseSummary(
            version=version,
            first_seen=first_seen,
            last_seen=counted[version].last_seen or first_seen,
            events=counted[version].events,
            new_issues=new.get(version, 0),
        )
        for version, first_seen in shown
    ]
    last = releases[-1]
    return ReleasePage(releases, (last.first_seen, last.version) if len(versions) > limit else None)


async def first_release(session: AsyncSession, issue_id: int) -> str | None:
    """The release of the issue's first stored event (None when that event named none)."""
    found = await session.execute(
        text("SELECT release FROM error_events WHERE issue_id = :issue_id ORDER BY id LIMIT 1"),
        {"issue_id": issue_id},
    )
    return found.scalar()
