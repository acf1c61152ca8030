"""The seed's commands work as written from backend/: alembic, the CLI, the worker scripts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import psycopg
from sqlalchemy import make_url

from tests.support.db import scalar
from tests.support.processes import BACKEND_DIR


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=BACKEND_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_alembic_upgrade_head_creates_a_missing_database_and_the_seed_tables():
    url = make_url(os.environ["DATABASE_URL"]).set(database=f"faultline_fresh_{uuid.uuid4().hex[:8]}")
    plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    alembic = [sys.executable, "-m", "alembic", "upgrade", "head"]
    result = run(alembic, DATABASE_URL=plain_url)
    assert result.returncode == 0, result.stderr
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain_url) as conn:
            relations = {
                name
                for (name,) in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            }
        assert {"error_events", "error_analysis", "issues", "issue_analyses", "projects"} <= relations
        assert run(alembic, DATABASE_URL=plain_url).returncode == 0  # idempotent
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def test_create_project_prints_the_dsn_as_its_last_line():
    result = run([sys.executable, "-m", "app", "create-project", "checkout-service"])
    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"http://([0-9a-f]{32})@testserver\.local:9000/(\d+)", last_line)
    assert match, last_line
    key, project_id = match.groups()
    assert scalar("SELECT public_key FROM projects WHERE id = :id", id=int(project_id)) == key
    # Running it again returns the same project, not a second one.
    again = run([sys.executable, "-m", "app", "create-project", "checkout-service"])
    assert again.stdout.strip().splitlines()[-1] == last_line


def test_worker_start_scripts_start_the_seed_worker():
    unix = (BACKEND_DIR / "worker_start.sh").read_text()
    windows = (BACKEND_DIR / "worker_start.bat").read_text()
    assert os.access(BACKEND_DIR / "worker_start.sh", os.X_OK)
    assert "celery -A app.celery_worker worker" in unix and "--queues=ai_analysis" in unix
    assert "--pool=solo" in windows and "--queues=ai_analysis" in windows
