"""The read API: GET projects, their releases, issues (filtered, paged), one issue with its analysis,
its events, one event; PATCH an issue's status; POST a re-analysis. Everything outside the token's
projects is a 404."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from app.analysis.reanalyse import request_reanalysis
from app.api.schemas import (
    AnalysisOut,
    ErrorOut,
    EventOut,
    EventPageOut,
    EventSummaryOut,
    IssueDetailOut,
    IssueOut,
    IssuePageOut,
    ProjectOut,
    ReanalysisOut,
    ReleaseOut,
    ReleasePageOut,
    StatusIn,
)
from app.auth.dependencies import ApiScope, DbSession, Work
from app.auth.service import TokenScope
from app.errors import AppError
from app.issues import repository as issues
from app.issues.schemas import LEVEL_CHOICES, STATUS_CHOICES, Cursor, IssueFilters, SortKey
from app.issues.service import set_status
from app.models import ErrorEvent, Issue, Project
from app.projects import repository as projects
from app.projects.service import dsn_for
from app.releases import repository as releases
from app.releases.schemas import decode_cursor, encode_cursor

NOT_FOUND = {"model": ErrorOut, "description": "No such object within this token's projects"}
UNAUTHORIZED = {"model": ErrorOut, "description": "Missing, invalid or revoked bearer token"}

router = APIRouter(prefix="/api/v1", tags=["read API"], responses={401: UNAUTHORIZED})

# Ids as the columns hold them (projects.id is an integer, issue and event ids are bigints): anything
# larger is a 422 from validation, not a query PostgreSQL refuses with a 500.
ProjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PageLimit = Annotated[int, Query(ge=1, le=100)]
NextCursor = Annotated[str | None, Query(description="`next_cursor` of the previous page")]


async def _project_in_scope(session: DbSession, scope: TokenScope, project_id: int) -> Project:
    project = await projects.get_by_id(session, project_id) if scope.allows(project_id) else None
    if project is None:
        raise AppError("project not found", 404)
    return project


async def _issue_in_scope(session: DbSession, scope: TokenScope, issue_id: int) -> Issue:
    issue = await issues.get_issue(session, issue_id)
    if issue is None or not scope.allows(issue.project_id):
        raise AppError("issue not found", 404)
    return issue


async def _event_in_scope(session: DbSession, scope: TokenScope, event_id: int) -> ErrorEvent:
    event = await issues.get_event(session, event_id)
    if event is None or not scope.allows(event.project_id):
        raise AppError("event not found", 404)
    return event


async def _issue_detail(session: DbSession, issue: Issue) -> IssueDetailOut:
    analysis = (await issues.latest_analyses(session, [issue.id])).get(issue.id)
    counts = await issues.hourly_counts(session, [issue.id])
    latest = await issues.issue_event(session, issue.id, None)
    project = await projects.get_by_id(session, issue.project_id)
    assert project is not None  # issues go with their project (ON DELETE CASCADE)
    base = IssueOut.of(issue, project, None, sum(counts[issue.id])).model_dump(exclude={"analysis"})
    return IssueDetailOut(
        **base,
        analysis=AnalysisOut.of(analysis) if analysis else None,
        latest_event_id=latest.id if latest else None,
        first_release=await releases.first_release(session, issue.id),
    )


@router.get("/projects", response_model=list[ProjectOut], summary="Projects this token may read")
async def list_projects(session: DbSession, scope: ApiScope) -> list[ProjectOut]:
    """The projects this token may read, with their DSNs."""
    found = [await projects.get_by_id(session, pid) for pid in scope.project_ids]
    return [ProjectOut.of(p, dsn_for(p)) for p in found if p is not None]


@router.get(
    "/projects/{project_id}", response_model=ProjectOut, responses={404: NOT_FOUND}, summary="One project"
)
async def get_project(project_id: ProjectId, session: DbSession, scope: ApiScope) -> ProjectOut:
    """One project of this token's, with its DSN."""
    project = await _project_in_scope(session, scope, project_id)
    return ProjectOut.of(project, dsn_for(project))


@router.get(
    "/projects/{project_id}/issues",
    response_model=IssuePageOut,
    responses={404: NOT_FOUND},
    summary="A project's issues, filtered and paged (keyset)",
)
async def list_project_issues(
    project_id: ProjectId,
    session: DbSession,
    scope: ApiScope,
    status: Annotated[Literal[STATUS_CHOICES], Query()] = "unresolved",  # type: ignore[valid-type]
    level: Annotated[Literal[LEVEL_CHOICES] | None, Query()] = None,  # type: ignore[valid-type]
    environment: Annotated[str | None, Query(description="Issues seen in this environment")] = None,
    release: Annotated[str | None, Query(description="Issues seen in this release")] = None,
    query: Annotated[str | None, Query(description="Words of the title or message (prefix match)")] = None,
    sort: SortKey = "last_seen",
    cursor: Annotated[str | None, Query(description="`next_cursor` or `prev_cursor` of a page")] = None,
    limit: PageLimit = 25,
) -> IssuePageOut:
    """Issues by last seen, first seen or frequency; send `next_cursor` back as `cursor` for more."""
    project = await _project_in_scope(session, scope, project_id)
    filters = IssueFilters.parse(
        status=status, level=level, environment=environment, release=release, query=query, sort=sort
    )
    page = await issues.list_issues(session, project_id, filters, cursor=Cursor.decode(cursor), limit=limit)
    ids = [i.id for i in page.issues]
    analyses = await issues.latest_analyses(session, ids)
    counts = await issues.hourly_counts(session, ids)
    return IssuePageOut(
        items=[IssueOut.of(i, project, analyses.get(i.id), sum(counts[i.id])) for i in page.issues],
        next_cursor=page.next_cursor.encode() if page.next_cursor else None,
        prev_cursor=page.prev_cursor.encode() if page.prev_cursor else None,
    )


@router.get(
    "/projects/{project_id}/releases",
    response_model=ReleasePageOut,
    responses={404: NOT_FOUND},
    summary="A project's releases, newest first",
)
async def list_project_releases(
    project_id: ProjectId,
    session: DbSession,
    scope: ApiScope,
    cursor: NextCursor = None,
    limit: PageLimit = 25,
) -> ReleasePageOut:
    """The releases the project's events named, by their first event, newest first: first and last
    event, events stored, and issues whose first event came from each."""
    await _project_in_scope(session, scope, project_id)
    page = await releases.list_releases(session, project_id, after=decode_cursor(cursor), limit=limit)
    return ReleasePageOut(
        items=[ReleaseOut.model_validate(r) for r in page.releases],
        next_cursor=encode_cursor(page.next_after) if page.next_after else None,
    )


@router.get(
    "/issues/{issue_id}",
    response_model=IssueDetailOut,
    responses={404: NOT_FOUND},
    summary="One issue with its latest analysis",
)
async def get_issue(issue_id: RowId, session: DbSession, scope: ApiScope) -> IssueDetailOut:
    """The issue, its latest analysis (any status) and the id of its latest event."""
    return await _issue_detail(session, await _issue_in_scope(session, scope, issue_id))


@router.get(
    "/issues/{issue_id}/events",
    response_model=EventPageOut,
    responses={404: NOT_FOUND},
    summary="An issue's events, newest first",
)
async def list_issue_events(
    issue_id: RowId,
    session: DbSession,
    scope: ApiScope,
    cursor: NextCursor = None,
    limit: PageLimit = 25,
) -> EventPageOut:
    """The issue's events, newest first, without their bodies (see GET /api/v1/events/{id})."""
    await _issue_in_scope(session, scope, issue_id)
    # ASCII digits that fit an event id; anything else starts from the newest ("²".isdigit() is True).
    before = int(cursor) if cursor and cursor.isascii() and cursor.isdigit() and len(cursor) < 19 else None
    events, next_id = await issues.list_events(session, issue_id, before_id=before, limit=limit)
    return EventPageOut(
        items=[EventSummaryOut.of(e) for e in events], next_cursor=str(next_id) if next_id else None
    )


@router.get(
    "/events/{event_id}",
    response_model=EventOut,
    responses={404: NOT_FOUND},
    summary="One event: normalized data and scrubbed payload",
)
async def get_event(event_id: RowId, session: DbSession, scope: ApiScope) -> EventOut:
    """One event with its normalized data and the payload as received (both scrubbed)."""
    return EventOut.of(await _event_in_scope(session, scope, event_id))


async def _change_status(
    issue_id: int, body: StatusIn, session: DbSession, scope: ApiScope
) -> IssueDetailOut:
    await _issue_in_scope(session, scope, issue_id)
    issue = await set_status(session, issue_id, body.status)
    return await _issue_detail(session, issue)


STATUS_DOC = {
    "response_model": IssueDetailOut,
    "responses": {
        400: {"model": ErrorOut, "description": "A body that cannot be parsed at all"},
        404: NOT_FOUND,
        # Our own answer for an unknown status, or FastAPI's for a body that is not {"status": …}.
        422: {
            "description": "Unknown status, or a malformed body",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/ErrorOut"},
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                        ]
                    }
                }
            },
        },
    },
}


@router.patch("/issues/{issue_id}", summary="Resolve, ignore or reopen an issue", **STATUS_DOC)
async def patch_issue(issue_id: RowId, body: StatusIn, session: DbSession, scope: ApiScope) -> IssueDetailOut:
    """Set the status: `resolved` (reopens as a regression if the error recurs), `ignored` or `unresolved`."""
    return await _change_status(issue_id, body, session, scope)


@router.post(
    "/issues/{issue_id}/status", summary="Resolve, ignore or reopen an issue (POST form)", **STATUS_DOC
)
async def post_issue_status(
    issue_id: RowId, body: StatusIn, session: DbSession, scope: ApiScope
) -> IssueDetailOut:
    """The same as PATCH /api/v1/issues/{id}, for clients that only POST."""
    return await _change_status(issue_id, body, session, scope)


@router.post(
    "/issues/{issue_id}/reanalyse",
    status_code=202,
    response_model=ReanalysisOut,
    responses={404: NOT_FOUND, 409: {"model": ErrorOut, "description": "The issue has no event to analyse"}},
    summary="Ask for a fresh analysis of the issue's latest event",
)
async def reanalyse_issue(issue_id: RowId, work: Work, scope: ApiScope) -> ReanalysisOut:
    """Queue a fresh analysis of the latest event (one more LLM call); poll the issue for it."""
    await _issue_in_scope(work.session, scope, issue_id)
    wanted = await request_reanalysis(work, issue_id)
    return ReanalysisOut(analysis_id=wanted.analysis_id, error_event_id=wanted.error_event_id)
