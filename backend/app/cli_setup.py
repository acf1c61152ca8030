"""First-run objects `make run` prints: the default project (and its DSN)."""

from __future__ import annotations

from app.db import sync_session
from app.projects.service import create_project, dsn_for

DEFAULT_PROJECT = "default"


def ensure_first_run_objects() -> tuple[str, str, list[str]]:
    """Create the default project if missing; returns (DSN, project key, extra banner lines)."""
    with sync_session() as session:
        project = create_project(session, DEFAULT_PROJECT)
        dsn = dsn_for(project)
    return dsn, DEFAULT_PROJECT, []
