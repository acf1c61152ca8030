"""The stack file `up` writes: what Settings take from it (below the environment and `.env`), and the
one line a command prints when the database or broker it was pointed at can't be reached."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import redis

from app.config import Settings, get_settings, read_stack_file, setting_origin
from app.runtime.stack import (
    env_command,
    no_database_configured,
    remove_stack_file,
    shown_url,
    unreachable_message,
    write_stack_file,
)

STACK_DB = "postgresql://postgres@/faultline?host=/somewhere/.data/postgres"
STACK_REDIS = "redis://127.0.0.1:16379/0"


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory, a working directory without .env, and no URLs in the environment."""
    monkeypatch.setenv("FAULTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_the_stack_file_is_private_and_feeds_the_unset_urls(data: Path):
    path = write_stack_file(
        {"FAULTLINE_URL": "http://127.0.0.1:8000", "DATABASE_URL": STACK_DB, "REDIS_URL": STACK_REDIS}
    )
    assert path == data / "stack.env"
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_stack_file()["UP_PID"] == str(os.getpid())
    settings = Settings()
    assert settings.database_url == STACK_DB.replace("postgresql://", "postgresql+psycopg://")
    assert settings.redis_url == settings.celery_broker_url == STACK_REDIS
    assert setting_origin("DATABASE_URL") == "stack file"
    lines, problem, code = env_command()
    assert code == 0 and problem is None
    assert f"export DATABASE_URL='{STACK_DB}'" in lines and f"export REDIS_URL={STACK_REDIS}" in lines

    remove_stack_file()
    assert not path.exists()


def test_an_explicit_setting_wins_over_the_stack_file(data: Path, monkeypatch: pytest.MonkeyPatch):
    write_stack_file({"DATABASE_URL": STACK_DB, "REDIS_URL": STACK_REDIS})
    Path(".env").write_text("REDIS_URL=redis://dotenv:6379/3\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://me@db.example/mine")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://me@db.example/mine"
    assert settings.redis_url == "redis://dotenv:6379/3"
    assert (setting_origin("DATABASE_URL"), setting_origin("REDIS_URL")) == ("environment", ".env")
    assert no_database_configured() is None


def test_without_url_or_stack_file_a_command_refuses_to_guess(data: Path):
    problem = no_database_configured()
    assert problem is not None and "DATABASE_URL is unset" in problem and str(data / "stack.env") in problem
    assert env_command()[2] == 1


def test_an_unreachable_server_is_one_line_with_the_url_and_where_it_came_from(
    data: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@10.0.0.9:5432/faultline")
    refused = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.9", port 5432 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )
    line = unreachable_message(refused)
    assert line is not None and "\n" not in line and "s3cret" not in line
    assert line.startswith("error: cannot reach PostgreSQL at postgresql://app:***@10.0.0.9:5432/faultline")
    assert "(Connection refused)" in line and "DATABASE_URL from the environment" in line

    write_stack_file({"REDIS_URL": "redis://127.0.0.1:16379/0"})
    get_settings.cache_clear()  # a command reads its settings once; this test plays two
    broker = unreachable_message(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:16379."))
    assert broker is not None and "redis://127.0.0.1:16379/0" in broker and "stack.env" in broker
    assert unreachable_message(ValueError("a bug")) is None


def test_urls_are_shown_as_users_write_them_without_passwords():
    assert shown_url("postgresql+psycopg://u:pw@h:1/db") == "postgresql://u:***@h:1/db"
    assert shown_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert shown_url(STACK_DB) == STACK_DB
