"""Users and their projects, login sessions and API tokens. Services take the session and never commit.

Users are made by the CLI and first-run setup (sync) and by admins on the dashboard (async); tokens
by the dashboard (async) and the CLI (`sync_create_api_token`); logins and token checks are
asynchronous. A user is an admin (sees and manages every project) or a member of some projects
(sees only those): `LoggedIn.project_ids` is what the dashboard may show a logged-in user.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from app.auth.tokens import display_prefix, new_api_token, new_secret, token_hash
from app.errors import AppError
from app.models import ApiToken, User

SESSION_LIFETIME = timedelta(days=14)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _checked_user_fields(email: str, password: str) -> str:
    email = email.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise AppError("email must look like name@host", 422)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AppError(f"password must be at least {MIN_PASSWORD_LENGTH} characters", 422)
    return email


def _no_such_projects(wanted: Iterable[int], found: set[int]) -> None:
    if missing := sorted(set(wanted) - found):
        raise AppError(f"no such project: {', '.join(map(str, missing))}", 422)


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    is_admin: bool = False,
    project_ids: Iterable[int] = (),
) -> User:
    """A new user with an Argon2id hash, a member of `project_ids`; AppError(409) when the email is
    taken, 422 for a malformed email, a short password or a project that does not exist."""
    email = _checked_user_fields(email, password)
    wanted = sorted(set(project_ids))
    _no_such_projects(wanted, repository.sync_existing_project_ids(session, wanted) if wanted else set())
    if repository.sync_get_user_by_email(session, email) is not None:
        raise AppError(f"a user {email!r} already exists", 409)
    user = User(email=email, password_hash=hash_password(password), is_admin=is_admin)
    repository.sync_add_user(session, user)
    repository.sync_add_members(session, user.id, wanted)
    return user


async def create_user_async(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    is_admin: bool = False,
    project_ids: Iterable[int] = (),
) -> User:
    """`create_user` for the dashboard (Argon2 runs in a thread)."""
    email = _checked_user_fields(email, password)
    wanted = sorted(set(project_ids))
    _no_such_projects(wanted, await repository.existing_project_ids(session, wanted) if wanted else set())
    if await repository.get_user_by_email(session, email) is not None:
        raise AppError(f"a user {email!r} already exists", 409)
    password_hash = await asyncio.to_thread(hash_password, password)
    user = User(email=email, password_hash=password_hash, is_admin=is_admin)
    await repository.add_user(session, user)
    await repository.add_members(session, user.id, wanted)
    return user


@dataclass(frozen=True)
class Membership:
    user: User
    project_id: int
    added: bool  # False: the user was a member already


def sync_add_member(session: Session, email: str, project_id: int) -> Membership:
    """Make the user with this email a member of the project (the CLI's `add-member`)."""
    user = repository.sync_get_user_by_email(session, email.strip())
    if user is None:
        raise AppError(f"no user {email.strip()!r}", 404)
    _no_such_projects([project_id], repository.sync_existing_project_ids(session, [project_id]))
    added = repository.sync_add_members(session, user.id, [project_id])
    return Membership(user, project_id, bool(added))


async def add_member(session: AsyncSession, user_id: int, project_id: int) -> Membership:
    """Make the user a member of the project (an admin on the dashboard)."""
    user = await repository.get_user(session, user_id)
    if user is None:
        raise AppError("no such user", 422)
    _no_such_projects([project_id], await repository.existing_project_ids(session, [project_id]))
    added = await repository.add_members(session, user.id, [project_id])
    return Membership(user, project_id, bool(added))


@dataclass(frozen=True)
class NewApiToken:
    token: ApiToken
    secret: str  # shown once, never stored


def _token_projects(name: str, project_ids: list[int]) -> tuple[str, list[int]]:
    name = name.strip()
    if not name or len(name) > 200:
        raise AppError("token name must be 1 to 200 characters", 422)
    wanted = sorted(set(project_ids))
    if not wanted:
        raise AppError("a token needs at least one project", 422)
    return name, wanted


READ_SCOPE = "project:read"
WRITE_SCOPE = "project:write"
TOKEN_SCOPES = (READ_SCOPE, WRITE_SCOPE)


def token_scopes(asked: list[str] | tuple[str, ...] | None) -> list[str]:
    """The scopes a new token gets: always project:read, plus project:write when asked for."""
    asked = list(asked or [])
    if unknown := [s for s in asked if s not in TOKEN_SCOPES]:
        raise AppError(f"unknown scope {unknown[0]!r} (allowed: {', '.join(TOKEN_SCOPES)})", 422)
    return [READ_SCOPE] + ([WRITE_SCOPE] if WRITE_SCOPE in asked else [])


def _new_token(
    name: str, wanted: list[int], found: set[int], user_id: int | None, scopes: list[str] | None = None
) -> NewApiToken:
    _no_such_projects(wanted, found)
    secret = new_api_token()
    token = ApiToken(
        name=name,
        token_hash=token_hash(secret),
        token_prefix=display_prefix(secret),
        user_id=user_id,
        project_ids=wanted,
        scopes=token_scopes(scopes),
    )
    return NewApiToken(token, secret)


async def create_api_token(
    session: AsyncSession,
    name: str,
    project_ids: list[int],
    *,
    user_id: int | None = None,
    allowed: frozenset[int] | None = None,
    scopes: list[str] | None = None,
) -> NewApiToken:
    """A bearer token allowed to read (and triage) only `project_ids`, which must lie within
    `allowed` (its creator's projects; None: any, for an admin), and with project:write to manage
    their alert rules. A project outside them is refused as if it did not exist."""
    name, wanted = _token_projects(name, project_ids)
    found = await repository.existing_project_ids(session, wanted)
    if allowed is not None:
        found &= allowed
    made = _new_token(name, wanted, found, user_id, scopes)
    await repository.add_token(session, made.token)
    return made


def sync_create_api_token(
    session: Session,
    name: str,
    project_ids: list[int],
    *,
    owner_email: str | None = None,
    scopes: list[str] | None = None,
) -> NewApiToken:
    """`create_api_token` in a sync session (the CLI). With `owner_email`, the token is that user's
    and may name only their projects (any, for an admin); without, it belongs to no user."""
    name, wanted = _token_projects(name, project_ids)
    found = repository.sync_existing_project_ids(session, wanted)
    _no_such_projects(wanted, found)
    user_id = None
    if owner_email is not None:
        owner = repository.sync_get_user_by_email(session, owner_email.strip())
        if owner is None:
            raise AppError(f"no user {owner_email.strip()!r}", 404)
        user_id = owner.id
        if not owner.is_admin:
            outside = sorted(set(wanted) - repository.sync_member_project_ids(session, owner.id))
            if outside:
                listed = ", ".join(map(str, outside))
                raise AppError(f"{owner.email} is not a member of project {listed}", 403)
    made = _new_token(name, wanted, found, user_id, scopes)
    repository.sync_add_token(session, made.token)
    return made


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The user when the password matches; Argon2 runs in a thread, and unknown emails cost the same."""
    user = await repository.get_user_by_email(session, email.strip())
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
    return user if ok and user is not None else None


@dataclass(frozen=True)
class OpenedSession:
    cookie_token: str  # goes (signed) into the cookie; only its hash is stored
    csrf_token: str
    max_age_s: int


async def open_session(session: AsyncSession, user: User) -> OpenedSession:
    """A fresh server-side session (a new token on every login, so a planted one is useless)."""
    await repository.delete_expired_sessions(session, user.id)
    cookie_token = new_secret()
    csrf = new_secret()
    await repository.insert_session(
        session,
        user_id=user.id,
        token_hash=token_hash(cookie_token),
        csrf_token=csrf,
        expires_at=datetime.now(UTC) + SESSION_LIFETIME,
    )
    return OpenedSession(cookie_token, csrf, int(SESSION_LIFETIME.total_seconds()))


@dataclass(frozen=True)
class LoggedIn:
    user_id: int
    email: str
    is_admin: bool
    csrf_token: str
    session_hash: str
    project_ids: frozenset[int] | None  # the projects this user may see; None: every one (an admin)

    def sees(self, project_id: int) -> bool:
        """True when the project is this user's to see and act on."""
        return self.project_ids is None or project_id in self.project_ids


async def load_session(session: AsyncSession, cookie_token: str) -> LoggedIn | None:
    """Who holds this (unsigned) session token, if its session is alive, and what they may see."""
    found = await repository.get_live_session(session, token_hash(cookie_token))
    if found is None:
        return None
    user_session, user = found
    visible = None if user.is_admin else await repository.member_project_ids(session, user.id)
    return LoggedIn(
        user.id, user.email, user.is_admin, user_session.csrf_token, user_session.token_hash, visible
    )


async def close_session(session: AsyncSession, session_hash: str) -> None:
    """End the session server-side: the cookie is worthless afterwards."""
    await repository.delete_session(session, session_hash)


@dataclass(frozen=True)
class TokenScope:
    """What an API request may see: the projects its bearer token names."""

    token_id: int
    project_ids: tuple[int, ...]
    scopes: tuple[str, ...] = (READ_SCOPE,)

    def allows(self, project_id: int) -> bool:
        """True when the token names this project."""
        return project_id in self.project_ids

    @property
    def can_write(self) -> bool:
        """True for a token with project:write (it may manage its projects' alert rules)."""
        return WRITE_SCOPE in self.scopes


async def authenticate_token(session: AsyncSession, bearer: str) -> TokenScope | None:
    """The scope of an active API token, or None; records its use. A member's token is limited to
    the projects its owner belongs to now; an admin's or an ownerless (CLI) token to its own list."""
    token = await repository.get_active_token(session, token_hash(bearer))
    if token is None:
        return None
    await repository.touch_token(session, token.id)
    project_ids = tuple(token.project_ids)
    owner = await repository.get_user(session, token.user_id) if token.user_id is not None else None
    if owner is not None and not owner.is_admin:
        # A member's token reads only what its owner still may: not a project they have left.
        still = await repository.member_project_ids(session, owner.id)
        project_ids = tuple(p for p in project_ids if p in still)
    return TokenScope(token.id, project_ids, tuple(token.scopes or (READ_SCOPE,)))
