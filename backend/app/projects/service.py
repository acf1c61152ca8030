"""Projects: creation, lookup by key, and the DSN SDKs are configured with."""

from __future__ import annotations

import hashlib
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


class ProjectKeyRejected(Exception):
    """The key opens no project and none may be created for it; the message says why (a 403)."""


def seed_key_hash(key: str) -> str:
    """What a seed-created project keeps of the key it was created with."""
    return hashlib.sha256(key.encode()).hexdigest()


async def get_or_create_by_key(
    session: AsyncSession, key: str, *, auto_create: bool, max_auto_created: int
) -> Project:
    """The project a seed event's key opens: its DSN public key, or the key the seed endpoint created
    it with. An unknown key creates a project named after it when `auto_create` is on, while fewer
    than `max_auto_created` exist (0 = no cap). A project's *name* opens nothing: a key that names a
    project created elsewhere is refused, so knowing a name grants no write.

    Ingest calls this for every event, so hits are cached for a few seconds (app/projects/cache.py).
    Raises ProjectKeyRejected.
    """
    key_hash = seed_key_hash(key)

    async def find() -> Project | None:
        return await repository.get_by_ingest_key(session, key, key_hash)

    async def find_or_create() -> Project | None:
        project = await find()
        if project is None:
            project = await _auto_create(session, key, key_hash, max_auto_created)
        return project

    # The plain lookup is shared: when the entry expires under load, the requests in flight wait for
    # one query rather than each taking a pooled connection for its own (a burst of connections every
    # few seconds). Creating is not: the others must not see a project before its creator commits.
    project = await project_cache.get(("key", key), find, shared=True)
    if project is None and auto_create:
        project = await project_cache.get(("key", key), find_or_create)
    if project is None:
        raise ProjectKeyRejected(
            "unknown project_key: send the project's DSN public key (the dashboard and "
            "`python -m app create-project` show it)"
        )
    return project


async def _auto_create(session: AsyncSession, key: str, key_hash: str, max_auto_created: int) -> Project:
    await repository.lock_auto_create(session)
    if max_auto_created > 0 and await repository.count_auto_created(session) >= max_auto_created:
        raise ProjectKeyRejected(
            f"unknown project_key, and no project may be created for it: AUTO_CREATE_MAX_PROJECTS "
            f"({max_auto_created}) projects were already created by this endpoint. Send an existing "
            "project's DSN public key, or create the project in the dashboard"
        )
    project = await repository.insert_seed_project(session, key, new_public_key(), key_hash)
    if project is None:  # the name belongs to a project created elsewhere, whose key this is not
        raise ProjectKeyRejected(
            "project_key is not this project's key: a project's name opens nothing; send its DSN "
            "public key (the dashboard and `python -m app create-project` show it)"
        )
    return project


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


def sync_set_event_retention(session: Session, project_id: int, days: int | None) -> Project:
    """Keep the project's events `days` days (0: forever; None: EVENT_RETENTION_DAYS); 404 if unknown."""
    project = repository.sync_get_by_id(session, project_id)
    if project is None:
        raise AppError(f"no project with id {project_id}", 404)
    project.event_retention_days = days
    session.flush()
    return project
