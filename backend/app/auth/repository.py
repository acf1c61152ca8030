"""Queries over users, project memberships, login sessions and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from app.models import ApiToken, Project, ProjectMember, User, UserSession

TOUCH_EVERY = timedelta(minutes=1)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this email, case-insensitively."""
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def sync_get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email, case-insensitively (sync session)."""
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def sync_count_users(session: Session) -> int:
    """How many users exist (first-run setup makes an admin when none)."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def sync_add_user(session: Session, user: User) -> None:
    """Insert a new user (its id is set on return)."""
    session.add(user)
    session.flush()


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    """The user with this id."""
    return await session.get(User, user_id)


async def list_users(session: AsyncSession) -> list[User]:
    """Every user, oldest first."""
    return list(await session.scalars(select(User).order_by(User.id)))


async def add_user(session: AsyncSession, user: User) -> None:
    """Insert a new user (its id is set on return)."""
    session.add(user)
    await session.flush()


# -- project memberships --------------------------------------------------------------------------


async def member_project_ids(session: AsyncSession, user_id: int) -> frozenset[int]:
    """The projects a user belongs to."""
    stmt = select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
    return frozenset(await session.scalars(stmt))


def sync_member_project_ids(session: Session, user_id: int) -> frozenset[int]:
    """`member_project_ids` in a sync session."""
    stmt = select(ProjectMember.project_id).where(ProjectMember.user_id == user_id)
    return frozenset(session.scalars(stmt))


async def memberships(session: AsyncSession) -> dict[int, list[int]]:
    """Every user's projects: user id -> project ids, in project order."""
    rows = await session.execute(
        select(ProjectMember.user_id, ProjectMember.project_id).order_by(ProjectMember.project_id)
    )
    found: dict[int, list[int]] = {}
    for user_id, project_id in rows:
        found.setdefault(user_id, []).append(project_id)
    return found


def _add_members_stmt(user_id: int, project_ids: list[int]) -> ReturningInsert[tuple[int]]:
    rows = [{"user_id": user_id, "project_id": p} for p in project_ids]
    return (
        insert(ProjectMember)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["project_id", "user_id"])
        .returning(ProjectMember.project_id)
    )


async def add_members(session: AsyncSession, user_id: int, project_ids: list[int]) -> set[int]:
    """Make the user a member of these (existing) projects; returns those it was not a member of yet."""
    if not project_ids:
        return set()
    return set(await session.scalars(_add_members_stmt(user_id, project_ids)))


def sync_add_members(session: Session, user_id: int, project_ids: list[int]) -> set[int]:
    """`add_members` in a sync session."""
    if not project_ids:
        return set()
    return set(session.scalars(_add_members_stmt(user_id, project_ids)))


# -- projects and tokens ----------------------------------------------------------------------------


async def existing_project_ids(session: AsyncSession, project_ids: list[int]) -> set[int]:
    """Those of `project_ids` that name a project."""
    return set(await session.scalars(select(Project.id).where(Project.id.in_(project_ids))))


def sync_existing_project_ids(session: Session, project_ids: list[int]) -> set[int]:
    """`existing_project_ids` in a sync session."""
    return set(session.scalars(select(Project.id).where(Project.id.in_(project_ids))))


async def add_token(session: AsyncSession, token: ApiToken) -> None:
    """Insert a new API token (its id is set on return)."""
    session.add(token)
    await session.flush()


def sync_add_token(session: Session, token: ApiToken) -> None:
    """`add_token` in a sync session."""
    session.add(token)
    session.flush()


async def insert_session(
    session: AsyncSession, *, user_id: int, token_hash: str, csrf_token: str, expires_at: datetime
) -> None:
    """Store a login session (only the hash of its token)."""
    row = UserSession(user_id=user_id, token_hash=token_hash, csrf_token=csrf_token, expires_at=expires_at)
    session.add(row)
    await session.flush()


async def get_live_session(session: AsyncSession, token_hash: str) -> tuple[UserSession, User] | None:
    """The unexpired session with this token hash and its user."""
    row = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash, UserSession.expires_at > func.now())
        )
    ).first()
    return (row[0], row[1]) if row else None


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    """Forget the session with this token hash."""
    await session.execute(delete(UserSession).where(UserSession.token_hash == token_hash))


async def delete_expired_sessions(session: AsyncSession, user_id: int) -> None:
    """Drop a user's expired sessions (done at each login)."""
    await session.execute(
        delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= func.now())
    )


async def get_active_token(session: AsyncSession, token_hash: str) -> ApiToken | None:
    """The unrevoked API token with this hash."""
    return await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    )


async def touch_token(session: AsyncSession, token_id: int) -> None:
    """Record use, at most once a minute, so reads do not turn into a write each."""
    await session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < func.now() - TOUCH_EVERY),
        )
        .values(last_used_at=func.now())
    )


async def list_tokens(session: AsyncSession, user_id: int | None) -> list[ApiToken]:
    """Tokens a user made (all tokens when user_id is None), newest first."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    return list(await session.scalars(stmt))


async def revoke_token(session: AsyncSession, token_id: int, user_id: int | None) -> bool:
    """Revoke a token (only the user's own unless user_id is None); False when there is none."""
    stmt = update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    result = await session.execute(stmt.values(revoked_at=func.now()).returning(ApiToken.id))
    return result.first() is not None
