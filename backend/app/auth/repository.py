"""Queries over users, project memberships, failed logins, login sessions and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from app.models import ApiToken, LoginFailure, Project, ProjectMember, User, UserSession

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


# -- failed logins ----------------------------------------------------------------------------------

# A key is locked once it has `free` failures: for `first_s` seconds after the last one, doubling
# with each further failure up to `cap_s` (the same expression, "locked until", in both statements).
# Attempts refused while locked are not counted.
_COUNT_ATTEMPT = text(
    """
    INSERT INTO login_failures AS f (key, failures, last_failure_at) VALUES (:key, 1, :now)
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN f.last_failure_at <= :now - make_interval(secs => :forget_s) THEN 1
                        ELSE f.failures + 1 END,
        last_failure_at = :now
    WHERE f.failures < :free
       OR f.last_failure_at
          + make_interval(secs => least(:cap_s, :first_s * power(2, least(f.failures - :free, 40)))) <= :now
    RETURNING f.failures
    """
)
_LOCKED_FOR = text(
    """
    SELECT extract(epoch FROM
        f.last_failure_at
        + make_interval(secs => least(:cap_s, :first_s * power(2, least(f.failures - :free, 40))))
        - :now)
    FROM login_failures AS f
    WHERE f.key = :key AND f.failures >= :free
    """
)


async def count_login_attempt(
    session: AsyncSession,
    key: str,
    now: datetime,
    *,
    free: int,
    first_s: float,
    cap_s: float,
    forget_s: float,
) -> int | None:
    """Count one attempt against `key` as a failure, atomically (one upsert): the key's failures
    now, or None when the key is locked (and nothing was counted). Failures older than `forget_s`
    are forgotten."""
    params = {"key": key, "now": now, "free": free, "first_s": first_s, "cap_s": cap_s, "forget_s": forget_s}
    return await session.scalar(_COUNT_ATTEMPT, params)


async def locked_for_s(
    session: AsyncSession, key: str, now: datetime, *, free: int, first_s: float, cap_s: float
) -> float:
    """How many seconds `key` stays locked (0 when it is not)."""
    params = {"key": key, "now": now, "free": free, "first_s": first_s, "cap_s": cap_s}
    return max(0.0, float(await session.scalar(_LOCKED_FOR, params) or 0))


async def forget_login_failures(session: AsyncSession, key: str) -> None:
    """Drop a key's failures (an account after a successful login)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key))


async def uncount_login_attempt(session: AsyncSession, key: str) -> None:
    """Take back one attempt counted by `count_login_attempt` (it turned out to be a success)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == key, LoginFailure.failures <= 1))
    await session.execute(
        update(LoginFailure).where(LoginFailure.key == key).values(failures=LoginFailure.failures - 1)
    )


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
