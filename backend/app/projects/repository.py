"""Queries over projects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.models import Project


async def get_by_name(session: AsyncSession, name: str) -> Project | None:
    return await session.scalar(select(Project).where(Project.name == name))


async def get_by_id(session: AsyncSession, project_id: int) -> Project | None:
    return await session.get(Project, project_id)


async def insert_if_absent(session: AsyncSession, name: str, public_key: str) -> Project:
    """Create the project unless a concurrent request just did; either way return it."""
    await session.execute(
        insert(Project)
        .values(name=name, public_key=public_key)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    project = await get_by_name(session, name)
    assert project is not None
    return project


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
