"""Queries over projects."""

from __future__ import annotations

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import Project


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
