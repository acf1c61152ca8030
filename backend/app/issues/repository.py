"""Queries over issues for the dashboard and the read API: the reads that list, page and break down
issues and their events, and the triage update. (Ingest's issue upsert is in app/events/repository.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    cast,
    exists,
    extract,
    func,
    literal,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from app.issues.schemas import (
    Cursor,
    EventNeighbours,
    EventSummary,
    IssueFilters,
    IssuePage,
    TagSummary,
    TagValueCount,
)
from app.models import ErrorEvent, Issue, IssueAnalysis, IssueFacet, IssueSearch

SORT_COLUMNS = {"last_seen": Issue.last_seen, "first_seen": Issue.first_seen, "frequency": Issue.times_seen}
SPARK_HOURS = 24
_SEARCH_WORD = re.compile(r"[^\W_]+")


def search_tsquery(text_query: str | None) -> str | None:
    """The user's words as a prefix-matching AND query; only letters and digits reach to_tsquery."""
    words = _SEARCH_WORD.findall(text_query or "")[:12]
    return " & ".join(f"{w.lower()}:*" for w in words) if words else None


def _list_conditions(project_id: int, filters: IssueFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Issue.project_id == project_id]
    if filters.level:
        conditions.append(Issue.level == filters.level)
    for key, value in (("environment", filters.environment), ("release", filters.release)):
        if value:
            facet = (IssueFacet.issue_id == Issue.id, IssueFacet.key == key, IssueFacet.value == value)
            conditions.append(exists().where(*facet))
    if tsquery := search_tsquery(filters.query):
        matching = select(IssueSearch.issue_id).where(
            IssueSearch.project_id == project_id,
            IssueSearch.document.op("@@")(func.to_tsquery("simple", tsquery)),
        )
        conditions.append(Issue.id.in_(matching))
    return conditions


async def list_issues(
    session: AsyncSession, project_id: int, filters: IssueFilters, *, cursor: Cursor | None, limit: int
) -> IssuePage:
    """One page of a project's issues in keyset order (sort value, id), newest/most frequent first.

    Each status is read from its own (project, status, sort, id) index and the few rows merged, so
    a page costs the same on page 1 and page 4,000, with any number of statuses selected.
    """
    column = SORT_COLUMNS[filters.sort]
    if cursor is not None and cursor.sort != filters.sort:
        cursor = None
    backwards = cursor is not None and cursor.direction == "before"
    conditions = _list_conditions(project_id, filters)
    parts = []
    for status in filters.statuses:
        stmt = select(Issue.id.label("id"), column.label("sort_value"))
        stmt = stmt.where(*conditions, Issue.status == status)
        if cursor is not None:
            key = tuple_(column, Issue.id)
            bound = tuple_(literal(cursor.value, column.type), literal(cursor.issue_id, BigInteger()))
            stmt = stmt.where(key > bound if backwards else key < bound)
        order = (column.asc(), Issue.id.asc()) if backwards else (column.desc(), Issue.id.desc())
        parts.append(stmt.order_by(*order).limit(limit + 1).subquery())
    if not parts:
        return IssuePage([], None, None)
    merged = union_all(*(select(p.c.id, p.c.sort_value) for p in parts)).subquery()
    outer_order = (
        (merged.c.sort_value.asc(), merged.c.id.asc())
        if backwards
        else (merged.c.sort_value.desc(), merged.c.id.desc())
    )
    ids = list(await session.scalars(select(merged.c.id).order_by(*outer_order).limit(limit + 1)))
    more = len(ids) > limit
    ids = ids[:limit]
    if backwards:
        ids.reverse()
    issues_by_id = {i.id: i for i in await session.scalars(select(Issue).where(Issue.id.in_(ids)))}
    issues = [issues_by_id[i] for i in ids if i in issues_by_id]
    if not issues:
        return IssuePage([], None, None)
    first, last = issues[0], issues[-1]
    has_next = more if not backwards else True
    has_prev = more if backwards else cursor is not None
    return IssuePage(
        issues,
        next_cursor=Cursor.at(filters.sort, "after", last) if has_next else None,
        prev_cursor=Cursor.at(filters.sort, "before", first) if has_prev else None,
    )


async def hourly_counts(session: AsyncSession, issue_ids: list[int]) -> dict[int, list[int]]:
    """Events per hour over the last 24 hours for each issue, oldest hour first."""
    if not issue_ids:
        return {}
    age_hours = cast(
        func.least(SPARK_HOURS - 1, func.floor(extract("epoch", func.now() - ErrorEvent.created_at) / 3600)),
        Integer,
    )
    rows = await session.execute(
        select(ErrorEvent.issue_id, age_hours, func.count())
        .where(
            ErrorEvent.issue_id.in_(issue_ids),
            ErrorEvent.created_at > func.now() - timedelta(hours=SPARK_HOURS),
        )
        .group_by(ErrorEvent.issue_id, age_hours)
    )
    counts = {i: [0] * SPARK_HOURS for i in issue_ids}
    for issue_id, age, n in rows:
        counts[issue_id][SPARK_HOURS - 1 - age] += n
    return counts


async def latest_analyses(session: AsyncSession, issue_ids: list[int]) -> dict[int, IssueAnalysis]:
    """Each issue's newest analysis generation (pending, running, done, failed or skipped)."""
    if not issue_ids:
        return {}
    stmt = (
        select(IssueAnalysis)
        .where(IssueAnalysis.issue_id.in_(issue_ids))
        .ext(distinct_on(IssueAnalysis.issue_id))
        .order_by(IssueAnalysis.issue_id, IssueAnalysis.generation.desc())
    )
    return {a.issue_id: a for a in await session.scalars(stmt)}


async def get_issue(session: AsyncSession, issue_id: int) -> Issue | None:
    """The issue, fresh from the database."""
    return await session.get(Issue, issue_id, populate_existing=True)


async def update_issue(session: AsyncSession, issue_id: int, values: dict[str, object]) -> Issue | None:
    """Set columns of one issue; returns it as updated, or None when there is no such issue."""
    return await session.scalar(update(Issue).where(Issue.id == issue_id).values(**values).returning(Issue))


# A loose index scan: one probe of (project_id, key, value) per distinct value, instead of reading
# every issue's facet row (PostgreSQL has no skip scan before version 18).
_FACET_VALUES = text(
    """
    WITH RECURSIVE found(value) AS (
        (SELECT value FROM issue_facets WHERE project_id = :project_id AND key = :key ORDER BY value LIMIT 1)
        UNION ALL
        SELECT (
            SELECT f.value FROM issue_facets f
            WHERE f.project_id = :project_id AND f.key = :key AND f.value > found.value
            ORDER BY f.value LIMIT 1
        )
        FROM found WHERE found.value IS NOT NULL
    )
    SELECT value FROM found WHERE value IS NOT NULL LIMIT :limit
    """
)


async def facet_values(session: AsyncSession, project_id: int, key: str, limit: int = 200) -> list[str]:
    """Environments or releases seen in a project (first `limit` in order), for the filter choices."""
    params = {"project_id": project_id, "key": key, "limit": limit}
    return list((await session.execute(_FACET_VALUES, params)).scalars())


async def get_event(session: AsyncSession, event_pk: int) -> ErrorEvent | None:
    """One event by its primary key."""
    return await session.get(ErrorEvent, event_pk)


async def find_event(session: AsyncSession, project_id: int, event_id: str) -> ErrorEvent | None:
    """The stored event with the client's id in this project."""
    return await session.scalar(
        select(ErrorEvent).where(ErrorEvent.project_id == project_id, ErrorEvent.event_id == event_id)
    )


async def issue_event(session: AsyncSession, issue_id: int, event_pk: int | None) -> ErrorEvent | None:
    """The given event of this issue, or its latest event when event_pk is None."""
    stmt = select(ErrorEvent).where(ErrorEvent.issue_id == issue_id)
    if event_pk is not None:
        return await session.scalar(stmt.where(ErrorEvent.id == event_pk))
    return await session.scalar(stmt.order_by(ErrorEvent.id.desc()).limit(1))


async def event_neighbours(session: AsyncSession, issue_id: int, event_pk: int) -> EventNeighbours:
    """Ids of the older/newer events next to `event_pk`, and the issue's oldest and latest."""
    ids = select(ErrorEvent.id).where(ErrorEvent.issue_id == issue_id)
    older = ids.where(ErrorEvent.id < event_pk).order_by(ErrorEvent.id.desc()).limit(1).scalar_subquery()
    newer = ids.where(ErrorEvent.id > event_pk).order_by(ErrorEvent.id.asc()).limit(1).scalar_subquery()
    oldest = ids.order_by(ErrorEvent.id.asc()).limit(1).scalar_subquery()
    latest = ids.order_by(ErrorEvent.id.desc()).limit(1).scalar_subquery()
    row = (await session.execute(select(older, newer, oldest, latest))).one()
    return EventNeighbours(*row)


EVENT_SUMMARY_COLUMNS = (
    ErrorEvent.id,
    ErrorEvent.event_id,
    ErrorEvent.project_id,
    ErrorEvent.issue_id,
    ErrorEvent.level,
    ErrorEvent.status_code,
    ErrorEvent.environment,
    ErrorEvent.release,
    ErrorEvent.timestamp,
    ErrorEvent.created_at,
    ErrorEvent.data["message"].astext.label("message"),
)


async def list_events(
    session: AsyncSession, issue_id: int, *, before_id: int | None, limit: int
) -> tuple[list[EventSummary], int | None]:
    """A page of the issue's events, newest first, and the cursor (an event id) of the next page."""
    stmt = select(*EVENT_SUMMARY_COLUMNS).where(ErrorEvent.issue_id == issue_id)
    if before_id is not None:
        stmt = stmt.where(ErrorEvent.id < before_id)
    rows = (await session.execute(stmt.order_by(ErrorEvent.id.desc()).limit(limit + 1))).all()
    events = [EventSummary(**row._mapping) for row in rows[:limit]]
    return events, (events[-1].id if len(rows) > limit else None)


TAG_SAMPLE = 1000
_TAG_BREAKDOWN = text(
    """
    WITH recent AS (
        SELECT data, environment, release, level FROM error_events
        WHERE issue_id = :issue_id ORDER BY id DESC LIMIT :sample
    )
    SELECT key, value, count(*) AS n, (SELECT count(*) FROM recent) AS total FROM (
        SELECT t.key, t.value
        FROM recent, jsonb_each_text(
            CASE WHEN jsonb_typeof(recent.data->'tags') = 'object' THEN recent.data->'tags' ELSE '{}' END
        ) AS t
        WHERE t.key NOT IN ('environment', 'release', 'level')
        UNION ALL SELECT 'environment', environment FROM recent WHERE environment IS NOT NULL
        UNION ALL SELECT 'release', release FROM recent WHERE release IS NOT NULL
        UNION ALL SELECT 'level', level FROM recent
    ) AS kv
    GROUP BY key, value
    """
)


async def tag_breakdown(session: AsyncSession, issue_id: int, *, top: int = 5) -> list[TagSummary]:
    """How the issue's latest events (up to TAG_SAMPLE) split by each tag's values, commonest first."""
    rows = (await session.execute(_TAG_BREAKDOWN, {"issue_id": issue_id, "sample": TAG_SAMPLE})).all()
    by_key: dict[str, list[tuple[str, int]]] = {}
    total = 0
    for key, value, n, sample_total in rows:
        by_key.setdefault(key, []).append((value, n))
        total = sample_total
    summaries = []
    for key in sorted(by_key):
        values = sorted(by_key[key], key=lambda item: (-item[1], item[0]))
        shown = [TagValueCount(value, n, n / total if total else 0.0) for value, n in values[:top]]
        summaries.append(TagSummary(key, total, shown, len(values) - len(shown)))
    return summaries
