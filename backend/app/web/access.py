"""Who may see what on the dashboard: the one place pages find their project or issue.

An admin sees every project; any other user only the projects they are a member of
(`LoggedIn.project_ids`, loaded with the session). Pages take their project or issue through
`VisibleProject` / `VisibleIssue`, which answer 404, as the read API does, for anything outside the
user's projects, exactly as for something that does not exist. Admin-only actions take `AdminUser`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from app.auth.dependencies import CsrfUser, CurrentUser, DbSession
from app.auth.service import LoggedIn
from app.issues import repository as issues
from app.models import Issue, Project
from app.projects import repository as projects
from app.web.rendering import render


class PageNotFound(Exception):
    """Nothing the user may see answers to this address: the 404 page."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class AdminOnly(Exception):
    """A non-admin asked for something only admins do: the 403 page."""


async def visible_project(project_id: int, session: DbSession, user: CurrentUser) -> Project:
    """The project, when it exists and the user may see it."""
    project = await projects.get_by_id(session, project_id) if user.sees(project_id) else None
    if project is None:
        raise PageNotFound("project")
    return project


async def visible_issue(issue_id: int, session: DbSession, user: CurrentUser) -> Issue:
    """The issue, when it exists and lies in a project the user may see."""
    issue = await issues.get_issue(session, issue_id)
    if issue is None or not user.sees(issue.project_id):
        raise PageNotFound("issue")
    return issue


async def admin_user(user: CsrfUser) -> LoggedIn:
    """The logged-in user of a state-changing form, when an admin (CSRF checked first)."""
    if not user.is_admin:
        raise AdminOnly()
    return user


async def admin_viewer(user: CurrentUser) -> LoggedIn:
    """The logged-in user of an admin-only page."""
    if not user.is_admin:
        raise AdminOnly()
    return user


VisibleProject = Annotated[Project, Depends(visible_project)]
VisibleIssue = Annotated[Issue, Depends(visible_issue)]
AdminUser = Annotated[LoggedIn, Depends(admin_user)]
AdminViewer = Annotated[LoggedIn, Depends(admin_viewer)]


def not_found(request: Request, what: str) -> Response:
    """The 404 page."""
    return render(request, "error.html", {"title": "Not found", "message": f"No such {what}."}, 404)


async def handle_page_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageNotFound)
    return not_found(request, exc.what)


async def handle_admin_only(request: Request, _exc: Exception) -> Response:
    message = "Only an admin can do this: ask one to create projects, users and memberships."
    return render(request, "error.html", {"title": "Admins only", "message": message}, 403)
