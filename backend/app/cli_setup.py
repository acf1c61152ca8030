"""First-run objects `make run` prints: the default project (and its DSN) and a first admin login."""

from __future__ import annotations

import secrets

from app.auth.repository import sync_count_users
from app.auth.service import create_user
from app.db import sync_session
from app.projects.service import dsn_for, sync_create_project

DEFAULT_PROJECT = "default"
FIRST_ADMIN_EMAIL = "admin@faultline.local"


def ensure_first_run_objects() -> tuple[str, str, list[str]]:
    """Create the default project and, on an empty user table, an admin with a random password;
    returns (DSN, the project's key for the seed endpoint, extra banner lines)."""
    with sync_session() as session:
        project = sync_create_project(session, DEFAULT_PROJECT)
        dsn = dsn_for(project)
        if sync_count_users(session) == 0:
            password = secrets.token_urlsafe(12)
            create_user(session, FIRST_ADMIN_EMAIL, password, is_admin=True)
            lines = [
                f"  Log in            : {FIRST_ADMIN_EMAIL} / {password}",
                "                      (shown once; more users: python -m app create-user EMAIL)",
            ]
        else:
            lines = [
                "  Log in            : with an existing user (new ones: python -m app create-user EMAIL)"
            ]
    return dsn, project.public_key, lines
