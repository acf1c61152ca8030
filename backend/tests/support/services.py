"""Find or start the real PostgreSQL and Redis the suite talks to.

Order: TEST_DATABASE_URL / TEST_REDIS_URL if set; else the machine's 127.0.0.1 services if they
answer; else the embedded PostgreSQL and Valkey from PyPI under a temp directory. The suite gets a
database of its own (dropped and re-created per run) and a Redis database index of its own.

Embedded servers started here die with the test process: they are its children, bound to it with a
parent-death signal (app/runtime/lifeline.py), and stopped cleanly at exit (stop_started_servers,
called from pytest_unconfigure and atexit), so no run leaves one behind, however it ends.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import make_url

BACKEND_DIR = Path(__file__).resolve().parents[2]


_started: list[Any] = []  # EmbeddedPostgres / EmbeddedValkey, in start order


def stop_started_servers() -> None:
    """Stop the embedded servers this process started, the broker first (idempotent)."""
    while _started:
        _started.pop().stop()


atexit.register(stop_started_servers)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _suffix() -> str:
    """Distinct per checkout, so two worktrees running the suite at once do not collide."""
    return hashlib.sha1(str(BACKEND_DIR).encode()).hexdigest()[:8]


def resolve_postgres_server() -> str:
    """A URL (without database name semantics) of a PostgreSQL server we may create databases on."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url
    if _answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    from app.runtime.embedded import start_postgres

    server = start_postgres(Path(tempfile.gettempdir()) / f"faultline-test-pg-{_suffix()}")
    _started.append(server)
    return server.url("postgres")


def resolve_redis_url() -> str:
    if url := os.environ.get("TEST_REDIS_URL"):
        return url
    db_index = 1 + int(_suffix(), 16) % 15
    if _answers("127.0.0.1", 6379):
        return f"redis://127.0.0.1:6379/{db_index}"
    from app.runtime.embedded import start_valkey

    server = start_valkey(Path(tempfile.gettempdir()) / f"faultline-test-valkey-{_suffix()}")
    _started.append(server)
    return server.url.rsplit("/", 1)[0] + f"/{db_index}"


def fresh_database(server_url: str) -> str:
    """Drop and create this checkout's test database; returns its URL."""
    name = f"faultline_test_{_suffix()}"
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.set(database=name).render_as_string(hide_password=False)
