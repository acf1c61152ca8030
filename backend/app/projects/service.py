"""Projects: creation, lookup by key, and the DSN SDKs are configured with."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import AppError
from app.models import Project
from app.projects import repository
from app.projects.cache import project_cache


def new_public_key() -> str:
    return secrets.token_hex(16)


def dsn_for(project: Project, public_url: str | None = None) -> str:
    """Sentry-style DSN: http://<public_key>@<host:port>/<project_id>."""
    parts = urlsplit(public_url or get_settings().public_url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{project.public_key}@{parts.netloc}{path}/{project.id}"


async def get_or_create_by_key(
    session: AsyncSession, project_key: str, *, auto_create: bool
) -> Project | None:
    """The seed's `project_key` names a project; unknown names are created when auto-create is on.

    Ingest calls this for every event, so lookups are cached for a few seconds (app/projects/cache.py).
    """

    async def load() -> Project | None:
        project = await repository.get_by_name(session, project_key)
        if project is None and auto_create:
            project = await repository.insert_if_absent(session, project_key, new_public_key())
        return project

    return await project_cache.get(("name", project_key), load)


async def get_by_id_cached(session: AsyncSession, project_id: int) -> Project | None:
    """The project with this id, cached for a few seconds (ingest looks it up for every event)."""
    return await project_cache.get(
        ("id", project_id), lambda: repository.get_by_id(session, project_id), shared=True
    )


async def create_project(session: AsyncSession, name: str) -> Project:
    """Create (or return the existing) project called `name`."""
    existing = await repository.get_by_name(session, name)
    if existing is not None:
        return existing
    project = Project(name=name, public_key=new_public_key())
    await repository.add(session, project)
    return project


def sync_create_project(session: Session, name: str) -> Project:
    """`create_project` in a sync session (the CLI, first-run setup)."""
    existing = repository.sync_get_by_name(session, name)
    if existing is not None:
        return existing
    project = Project(name=name, public_key=new_public_key())
    repository.sync_add(session, project)
    return project


def sync_set_scrub_user_data(session: Session, project_id: int, scrub: bool | None) -> Project:
    """Set a project's `scrub_user_data` (None: follow the SCRUB_USER_DATA setting).

    Raises AppError (404) for an unknown project. Applies to events stored from now on.
    """
    project = repository.sync_get_by_id(session, project_id)
    if project is None:
        raise AppError(f"no project with id {project_id}", status_code=404)
    project.scrub_user_data = scrub
    session.flush()
    return project
