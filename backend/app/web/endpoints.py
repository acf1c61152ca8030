"""Dashboard pages: login/logout, projects (with DSN and setup snippets), issues list, issue detail
with its analysis and events, triage actions, API tokens, users (admins). Every POST carries the
session's CSRF token; every page shows only the user's projects (app/web/access.py).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from app.analysis.reanalyse import request_reanalysis
from app.auth import repository as auth_repository
from app.auth.cookies import (
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE_S,
    SESSION_COOKIE,
    clear_cookie,
    same_token,
    set_cookie,
    sign,
    unsign,
)
from app.auth.dependencies import SESSION_MAX_AGE_S, CsrfUser, CurrentUser, DbSession, Work
from app.auth.service import (
    LoggedIn,
    add_member,
    authenticate,
    close_session,
    create_api_token,
    create_user_async,
    load_session,
    open_session,
)
from app.auth.throttle import LoginAttempt, LoginThrottled, count_attempt, succeeded
from app.auth.tokens import new_secret
from app.config import get_settings
from app.db import unit_of_work
from app.errors import AppError
from app.events.model import NormalizedEvent
from app.issues import repository as issues
from app.issues.schemas import LEVEL_CHOICES, SORT_KEYS, STATUS_CHOICES, Cursor, IssueFilters
from app.issues.service import set_status
from app.projects import repository as projects
from app.projects.service import create_project, dsn_for
from app.releases import repository as releases
from app.releases.schemas import decode_cursor, encode_cursor
from app.web.access import AdminUser, AdminViewer, VisibleIssue, VisibleProject, not_found
from app.web.issue_view import issue_markdown
from app.web.rendering import render
from app.web.snippets import project_snippets, sourcemap_commands

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
NOTICES = {
    "resolved": "Issue resolved. It reopens as a regression if the error comes back.",
    "ignored": "Issue ignored.",
    "unresolved": "Issue reopened.",
    "reanalyse": "A fresh analysis was requested; this page refreshes until it is ready.",
    "revoked": "Token revoked.",
    "created": "Project created.",
    "user": "User created.",
    "member": "Membership added.",
}


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other, the answer to a POST that worked."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never `//host` or a scheme, so the login can't bounce users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/projects"


# -- login ------------------------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    status_code: int = 200,
    email: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    raw = unsign("login", request.cookies.get(LOGIN_CSRF_COOKIE), LOGIN_CSRF_MAX_AGE_S) or new_secret()
    next_url = safe_next(request.query_params.get("next"))
    response = render(
        request,
        "login.html",
        {"login_csrf": raw, "next": next_url, "error": error, "email": email},
        status_code,
    )
    set_cookie(response, LOGIN_CSRF_COOKIE, sign("login", raw), LOGIN_CSRF_MAX_AGE_S)
    response.headers.update(headers or {})
    return response


def _wait_text(seconds: int) -> str:
    minutes = -(-seconds // 60)
    return f"{seconds} seconds" if seconds < 60 else f"{minutes} minute{'s' if minutes > 1 else ''}"


@router.get("/login")
async def login_form(request: Request, session: DbSession) -> Response:
    """The login form (or straight on, when already logged in)."""
    token = unsign("session", request.cookies.get(SESSION_COOKIE), SESSION_MAX_AGE_S)
    if token and await load_session(session, token):
        return redirect(safe_next(request.query_params.get("next")))
    return _login_page(request)


@router.post("/login")
async def login(
    request: Request,
    session: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/projects",
) -> Response:
    """Check the form's CSRF token, the throttle (app/auth/throttle.py) and the password, then open a
    session. The attempt is counted in its own transaction, committed before the password is checked."""
    expected = unsign("login", request.cookies.get(LOGIN_CSRF_COOKIE), LOGIN_CSRF_MAX_AGE_S)
    if not same_token(expected, csrf_token):
        return _login_page(request, error="The form expired. Please try again.", status_code=403, email=email)
    attempt = LoginAttempt(email, request.client.host if request.client else "unknown")
    try:
        async with unit_of_work() as counting:
            await count_attempt(counting.session, attempt)
    except LoginThrottled as exc:
        wait = exc.retry_after_s
        message = f"Too many failed logins. Try again in {_wait_text(wait)}."
        headers = {"Retry-After": str(wait)}
        return _login_page(request, error=message, status_code=429, email=email, headers=headers)
    user = await authenticate(session, email, password)
    if user is None:
        return _login_page(request, error="Wrong email or password.", status_code=401, email=email)
    await succeeded(session, attempt)
    opened = await open_session(session, user)
    response = redirect(safe_next(next))
    set_cookie(response, SESSION_COOKIE, sign("session", opened.cookie_token), opened.max_age_s)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(session: DbSession, user: CsrfUser) -> Response:
    """End the session and clear its cookie."""
    await close_session(session, user.session_hash)
    response = redirect("/login")
    clear_cookie(response, SESSION_COOKIE)
    return response


# -- projects ---------------------------------------------------------------------------------


@router.get("/")
async def home(_user: CurrentUser) -> Response:
    """The dashboard starts at the projects."""
    return redirect("/projects")


async def _projects_page(
    request: Request, session: DbSession, user: LoggedIn, error: str | None = None, status: int = 200
) -> Response:
    shown = await projects.list_visible(session, user.project_ids)
    stats = await projects.activity(session, [p.id for p in shown])
    cards = [
        {"project": p, "stats": stats[p.id], "dsn": dsn_for(p), "snippets": project_snippets(p)}
        for p in shown
    ]
    return render(request, "projects.html", {"cards": cards, "error": error}, status)


@router.get("/projects")
async def projects_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """The user's projects (every project for an admin) with their DSN and setup snippets."""
    return await _projects_page(request, session, user)


@router.post("/projects")
async def create_project_form(
    request: Request, session: DbSession, user: AdminUser, name: Annotated[str, Form()] = ""
) -> Response:
    """Create a project and open its (empty) issues list (admins only)."""
    name = name.strip()
    if not name or len(name) > 200:
        return await _projects_page(request, session, user, "A project name is 1 to 200 characters.", 422)
    project = await create_project(session, name)
    return redirect(f"/projects/{project.id}/issues?done=created")


@router.get("/projects/{project_id}")
async def project_home(project: VisibleProject) -> Response:
    """A project opens on its issues."""
    return redirect(f"/projects/{project.id}/issues")


@router.get("/projects/{project_id}/issues")
async def issues_page(
    request: Request,
    project: VisibleProject,
    session: DbSession,
    status: str | None = None,
    level: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """A project's issues: filters, search, sort and keyset pages."""
    project_id = project.id
    filters = IssueFilters.parse(
        status=status, level=level, environment=environment, release=release, query=q, sort=sort
    )
    page = await issues.list_issues(
        session, project_id, filters, cursor=Cursor.decode(cursor), limit=PAGE_SIZE
    )
    ids = [i.id for i in page.issues]
    analyses = await issues.latest_analyses(session, ids)
    counts = await issues.hourly_counts(session, ids)
    query = {
        "status": filters.status,
        "level": filters.level or "",
        "environment": filters.environment or "",
        "release": filters.release or "",
        "q": filters.query or "",
        "sort": filters.sort,
    }
    base = f"/projects/{project_id}/issues?"
    kept = {k: v for k, v in query.items() if v}

    def page_url(c: Cursor | None) -> str | None:
        return base + urlencode({**kept, "cursor": c.encode()}) if c else None

    rows = [{"issue": i, "analysis": analyses.get(i.id), "hourly": counts[i.id]} for i in page.issues]
    filtered = (
        any(kept.get(k) for k in ("level", "environment", "release", "q")) or filters.status != "unresolved"
    )
    empty_project = (
        not rows and not filtered and cursor is None and not await _has_any_issue(session, project_id)
    )
    return render(
        request,
        "issues.html",
        {
            "project": project,
            "rows": rows,
            "filters": query,
            "statuses": STATUS_CHOICES,
            "levels": LEVEL_CHOICES,
            "sorts": SORT_KEYS,
            "environments": await issues.facet_values(session, project_id, "environment"),
            "releases": await issues.facet_values(session, project_id, "release"),
            "next_url": page_url(page.next_cursor),
            "prev_url": page_url(page.prev_cursor),
            "first_url": base + urlencode(kept) if cursor else None,
            "empty_project": empty_project,
            "snippets": project_snippets(project) if empty_project else [],
            "dsn": dsn_for(project),
            "notice": NOTICES.get(done or ""),
        },
    )


RELEASES_PAGE_SIZE = 25


@router.get("/projects/{project_id}/releases")
async def releases_page(
    request: Request, project: VisibleProject, session: DbSession, cursor: str | None = None
) -> Response:
    """A project's releases, newest first: first and last event, events, issues new in each; and the
    sentry-cli commands that upload a build's source maps."""
    page = await releases.list_releases(
        session, project.id, after=decode_cursor(cursor), limit=RELEASES_PAGE_SIZE
    )
    base = f"/projects/{project.id}/releases"
    older = urlencode({"cursor": encode_cursor(page.next_after)}) if page.next_after else None
    return render(
        request,
        "releases.html",
        {
            "project": project,
            "releases": page.releases,
            "next_url": f"{base}?{older}" if older else None,
            "first_url": base if cursor else None,
            "upload": sourcemap_commands(project),
        },
    )


async def _has_any_issue(session: DbSession, project_id: int) -> bool:
    page = await issues.list_issues(
        session, project_id, IssueFilters.parse(status="all"), cursor=None, limit=1
    )
    return bool(page.issues)


# -- issue detail -------------------------------------------------------------------------------


def _normalized(data: dict) -> NormalizedEvent | None:
    try:
        return NormalizedEvent.from_dict(data)
    except (KeyError, TypeError, ValueError):
        return None


@router.get("/issues/{issue_id}")
async def issue_page(
    request: Request,
    issue: VisibleIssue,
    session: DbSession,
    event: Annotated[int | None, Query()] = None,
    done: str | None = None,
) -> Response:
    """An issue: its analysis first, then an event (latest unless `event` is given) and tag breakdown."""
    issue_id = issue.id
    project = await projects.get_by_id(session, issue.project_id)
    assert project is not None
    shown = await issues.issue_event(session, issue_id, event)
    if shown is None and event is not None:
        return not_found(request, "event in this issue")
    analysis = (await issues.latest_analyses(session, [issue_id])).get(issue_id)
    neighbours = await issues.event_neighbours(session, issue_id, shown.id) if shown else None
    hourly = (await issues.hourly_counts(session, [issue_id]))[issue_id]
    normalized = _normalized(shown.data) if shown else None
    url = f"{get_settings().public_url.rstrip('/')}/issues/{issue_id}"
    first_release = await releases.first_release(session, issue_id)
    return render(
        request,
        "issue.html",
        {
            "project": project,
            "issue": issue,
            "analysis": analysis,
            "event": shown,
            "normalized": normalized,
            "markdown": issue_markdown(project, issue, analysis, normalized, url),
            "neighbours": neighbours,
            "tags": await issues.tag_breakdown(session, issue_id),
            "first_release": first_release,
            "hourly": hourly,
            "refresh": analysis is not None and analysis.status in ("pending", "running"),
            "notice": NOTICES.get(done or ""),
        },
    )


@router.post("/issues/{issue_id}/status")
async def change_status(
    request: Request,
    session: DbSession,
    _user: CsrfUser,
    issue: VisibleIssue,
    status: Annotated[str, Form()] = "",
) -> Response:
    """Resolve, ignore or reopen the issue."""
    issue_id = issue.id
    try:
        await set_status(session, issue_id, status)
    except AppError as exc:
        return render(
            request, "error.html", {"title": "Not changed", "message": exc.message}, exc.status_code
        )
    return redirect(f"/issues/{issue_id}?done={quote(status)}")


@router.post("/issues/{issue_id}/reanalyse")
async def reanalyse(request: Request, work: Work, _user: CsrfUser, issue: VisibleIssue) -> Response:
    """Ask for a fresh analysis (queued once the request's unit of work commits)."""
    issue_id = issue.id
    try:
        await request_reanalysis(work, issue_id)
    except AppError as exc:
        return render(
            request, "error.html", {"title": "Not re-analysed", "message": exc.message}, exc.status_code
        )
    return redirect(f"/issues/{issue_id}?done=reanalyse")


# -- API tokens -------------------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    session: DbSession,
    user: LoggedIn,
    *,
    new_token: str | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tokens = await auth_repository.list_tokens(session, None if user.is_admin else user.user_id)
    shown = await projects.list_visible(session, user.project_ids)
    names = {p.id: p.name for p in shown}
    return render(
        request,
        "tokens.html",
        {
            "tokens": tokens,
            "projects": shown,
            "names": names,
            "new_token": new_token,
            "error": error,
            "notice": notice,
        },
        status_code,
    )


@router.get("/tokens")
async def tokens_page(
    request: Request, session: DbSession, user: CurrentUser, done: str | None = None
) -> Response:
    """The user's API tokens (every token for an admin) and the form to make one."""
    return await _tokens_page(request, session, user, notice=NOTICES.get(done or ""))


@router.post("/tokens")
async def create_token_form(
    request: Request,
    session: DbSession,
    user: CsrfUser,
    name: Annotated[str, Form()] = "",
    project: Annotated[list[int] | None, Form()] = None,
    scope: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Make a token for some of the user's projects (read, or read and write) and show it once."""
    try:
        made = await create_api_token(
            session, name, project or [], user_id=user.user_id, allowed=user.project_ids, scopes=scope
        )
    except AppError as exc:
        return await _tokens_page(request, session, user, error=exc.message, status_code=exc.status_code)
    return await _tokens_page(request, session, user, new_token=made.secret, status_code=201)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token_form(token_id: int, session: DbSession, user: CsrfUser) -> Response:
    """Revoke a token (the user's own; any for an admin)."""
    await auth_repository.revoke_token(session, token_id, None if user.is_admin else user.user_id)
    return redirect("/tokens?done=revoked")


# -- users and memberships (admins) ---------------------------------------------------------------


async def _users_page(
    request: Request,
    session: DbSession,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    all_projects = await projects.list_visible(session, None)
    return render(
        request,
        "users.html",
        {
            "users": await auth_repository.list_users(session),
            "memberships": await auth_repository.memberships(session),
            "projects": all_projects,
            "names": {p.id: p.name for p in all_projects},
            "notice": notice,
            "error": error,
        },
        status_code,
    )


@router.get("/users")
async def users_page(
    request: Request, session: DbSession, _admin: AdminViewer, done: str | None = None
) -> Response:
    """Every user with their projects, and the forms to add users and memberships (admins only)."""
    return await _users_page(request, session, notice=NOTICES.get(done or ""))


@router.post("/users")
async def create_user_form(
    request: Request,
    session: DbSession,
    _admin: AdminUser,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    admin: Annotated[bool, Form()] = False,
    project: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Create a user, an admin or a member of the chosen projects (admins only)."""
    try:
        await create_user_async(session, email, password, is_admin=admin, project_ids=project or [])
    except AppError as exc:
        return await _users_page(request, session, error=exc.message, status_code=exc.status_code)
    return redirect("/users?done=user")


@router.post("/members")
async def add_member_form(
    request: Request,
    session: DbSession,
    _admin: AdminUser,
    user: Annotated[int, Form()] = 0,
    project: Annotated[int, Form()] = 0,
) -> Response:
    """Make a user a member of a project (admins only)."""
    try:
        await add_member(session, user, project)
    except AppError as exc:
        return await _users_page(request, session, error=exc.message, status_code=exc.status_code)
    return redirect("/users?done=member")
