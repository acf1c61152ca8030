"""Queries over projects, and the activity figures the project list shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import Project, project_slug


async def get_by_name(session: AsyncSession, name: str) -> Project | None:
    return await session.scalar(select(Project).where(Project.name == name))


async def get_by_id(session: AsyncSession, project_id: int) -> Project | None:
    return await session.get(Project, project_id)


async def get_by_ingest_key(session: AsyncSession, key: str, key_hash: str) -> Project | None:
    """The project whose DSN public key is `key`, or that the seed endpoint created with it."""
    return await session.scalar(
        select(Project).where(or_(Project.public_key == key, Project.seed_key_hash == key_hash))
    )


# First key of the advisory lock that serialises auto-creation, so the count it checks stays true.
_AUTO_CREATE_LOCK_CLASS = 0x6650  # "fP"


async def lock_auto_create(session: AsyncSession) -> None:
    """Serialise project auto-creation until the transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:cls, 0)"), {"cls": _AUTO_CREATE_LOCK_CLASS})


async def count_auto_created(session: AsyncSession) -> int:
    """Projects that the seed endpoint created (they have a seed key)."""
    stmt = select(func.count()).select_from(Project).where(Project.seed_key_hash.is_not(None))
    return int(await session.scalar(stmt) or 0)


async def insert_seed_project(
    session: AsyncSession, name: str, public_key: str, seed_key_hash: str
) -> Project | None:
    """Create a project with a seed key, unless its name or key is taken; return it, or None."""
    await session.execute(
        insert(Project)
        .values(name=name, public_key=public_key, seed_key_hash=seed_key_hash)
        .on_conflict_do_nothing()
    )
    return await session.scalar(select(Project).where(Project.seed_key_hash == seed_key_hash))


async def list_all(session: AsyncSession) -> list[Project]:
    return list(await session.scalars(select(Project).order_by(Project.id)))


async def get_by_slug(session: AsyncSession, slug: str) -> Project | None:
    """The project sentry-cli names: by its numeric id, else by its slug (the oldest, should two
    names share one)."""
    if slug.isdigit() and int(slug) <= 2**31 - 1:
        return await session.get(Project, int(slug))
    wanted = slug.strip().lower()
    return next((p for p in await list_all(session) if project_slug(p) == wanted), None)


async def list_visible(session: AsyncSession, project_ids: frozenset[int] | None) -> list[Project]:
    """The projects among `project_ids` (every project when None), in id order."""
    stmt = select(Project).order_by(Project.id)
    if project_ids is not None:
        stmt = stmt.where(Project.id.in_(sorted(project_ids)))
    return list(await session.scalars(stmt))


@dataclass(frozen=True)
class ProjectStats:
    """What the project list shows of a project's activity."""

    unresolved: int  # unresolved issues
    events_24h: int  # events stored in the last 24 hours
    last_event: datetime | None  # when its latest event came in (its issues' latest last_seen)


# One statement for every project shown (not one per project). Each figure reads an index: the
# unresolved count (project_id, status, …) of the issues list; the last event, the project's issues'
# last_seen; the events of the last 24 h, per issue seen lately, by (issue_id, created_at), as the
# issue pages count theirs. An issue's last_seen is when its latest event was received, a little
# before it was stored (created_at), so issues seen up to an hour before the window are looked at.
_STATS_SQL = text(
    """
    SELECT p.id,
           (SELECT count(*) FROM issues i WHERE i.project_id = p.id AND i.status = 'unresolved'),
           (SELECT count(*) FROM issues i
              JOIN error_events e ON e.issue_id = i.id AND e.created_at > now() - interval '24 hours'
             WHERE i.project_id = p.id AND i.last_seen > now() - interval '25 hours'),
           (SELECT max(i.last_seen) FROM issues i WHERE i.project_id = p.id)
    FROM projects p
    WHERE p.id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))


async def activity(session: AsyncSession, project_ids: list[int]) -> dict[int, ProjectStats]:
    """{project id: its unresolved issues, events in the last 24 h and last event}, in one query."""
    if not project_ids:
        return {}
    result = await session.execute(_STATS_SQL, {"ids": project_ids})
    return {pid: ProjectStats(int(unresolved), int(events), last) for pid, unresolved, events, last in result}


async def add(session: AsyncSession, project: Project) -> None:
    """Insert a new project (its id is set on return)."""
    session.add(project)
    await session.flush()


def sync_get_by_name(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def sync_add(session: Session, project: Project) -> None:
    """Insert a new project (its id is set on return)."""
    session.add(project)
    session.flush()


def sync_get_by_id(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)
