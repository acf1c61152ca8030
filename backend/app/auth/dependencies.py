"""FastAPI dependencies: the request's unit of work and its session, the logged-in user, CSRF checks,
API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.cookies import SESSION_COOKIE, same_token, unsign
from app.auth.service import SESSION_LIFETIME, LoggedIn, TokenScope, authenticate_token, load_session
from app.db import UnitOfWork, request_unit_of_work
from app.errors import AppError

# Scope "function": the unit of work commits (and sends its jobs) before the response leaves, so a
# redirect after a POST never races its own transaction.
Work = Annotated[UnitOfWork, Depends(request_unit_of_work, scope="function")]


def request_session(work: Work) -> AsyncSession:
    """The session of the request's unit of work (one per request: FastAPI caches dependencies)."""
    return work.session


DbSession = Annotated[AsyncSession, Depends(request_session)]

SESSION_MAX_AGE_S = int(SESSION_LIFETIME.total_seconds())


class LoginRequired(Exception):
    """No valid session: the web handler redirects to the login page."""


class CsrfRejected(Exception):
    """A state-changing form arrived without this session's CSRF token."""


async def current_user(request: Request, session: DbSession) -> LoggedIn:
    """The logged-in user, from the signed session cookie and its server-side row."""
    token = unsign("session", request.cookies.get(SESSION_COOKIE), SESSION_MAX_AGE_S)
    who = await load_session(session, token) if token else None
    if who is None:
        raise LoginRequired()
    request.state.user = who
    return who


CurrentUser = Annotated[LoggedIn, Depends(current_user)]


async def csrf_checked_user(request: Request, user: CurrentUser) -> LoggedIn:
    """The logged-in user, once the form's `csrf_token` (or X-CSRF-Token header) matches the session's."""
    form = await request.form()
    given = form.get("csrf_token") or request.headers.get("X-CSRF-Token")
    if not same_token(user.csrf_token, given if isinstance(given, str) else None):
        raise CsrfRejected()
    return user


CsrfUser = Annotated[LoggedIn, Depends(csrf_checked_user)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An API token (`flt_…`) made with `python -m app create-token` or on the Tokens page.",
)


async def api_scope(
    session: DbSession, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> TokenScope:
    """The projects the bearer token may read; 401 without a valid, unrevoked token."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or not credentials.credentials:
        raise AppError("missing bearer token (Authorization: Bearer <token>)", 401, challenge)
    scope = await authenticate_token(session, credentials.credentials.strip())
    if scope is None:
        raise AppError("invalid or revoked token", 401, challenge)
    return scope


ApiScope = Annotated[TokenScope, Depends(api_scope)]
