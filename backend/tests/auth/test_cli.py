"""`python -m app create-user` / `create-token` and the first admin `make run` prints: what they
print works for logging in and reading the API."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx

from app.cli_setup import FIRST_ADMIN_EMAIL, ensure_first_run_objects
from tests.support.dashboard import csrf_of, make_project
from tests.support.db import scalar
from tests.support.processes import BACKEND_DIR


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=BACKEND_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
    )


def can_log_in(base_url: str, email: str, password: str) -> bool:
    client = httpx.Client(base_url=base_url)
    form = client.get("/login").text
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(form)})
    return answer.status_code == 303


def test_create_user_with_and_without_a_password(live_server):
    given = run_cli("create-user", "ops@example.com", "--password", "s3cret-enough", "--admin")
    assert given.returncode == 0, given.stderr
    assert "ops@example.com" in given.stdout and "admin" in given.stdout and "s3cret" not in given.stdout
    assert can_log_in(live_server.url, "ops@example.com", "s3cret-enough")
    assert scalar("SELECT password_hash FROM users WHERE email = 'ops@example.com'").startswith("$argon2id$")

    made = run_cli("create-user", "dev@example.com")
    password = re.search(r"^password: (\S+)$", made.stdout, re.M).group(1)
    assert can_log_in(live_server.url, "dev@example.com", password)
    assert scalar("SELECT is_admin FROM users WHERE email = 'dev@example.com'") is False

    again = run_cli("create-user", "DEV@example.com", "--password", "another-one")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = run_cli("create-user", "x@example.com", "--password", "short")
    assert short.returncode == 1 and "at least 8" in short.stderr


def test_create_token_prints_a_working_token_once(live_server):
    shop = make_project("shop")
    make_project("other")
    made = run_cli("create-token", "ci", "--project", str(shop.id))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("flt_") and "shown once" in made.stderr
    assert scalar("SELECT count(*) FROM api_tokens WHERE token_hash = :t", t=token) == 0
    answer = httpx.get(f"{live_server.url}/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert [p["name"] for p in answer.json()] == ["shop"]
    missing = run_cli("create-token", "ci", "--project", "999")
    assert missing.returncode == 1 and "no such project: 999" in missing.stderr


def test_first_run_creates_one_admin_and_prints_its_credentials(live_server):
    dsn, key, lines = ensure_first_run_objects()
    # The seed's curl in the banner carries the default project's DSN key: its name opens nothing.
    assert key == scalar("SELECT public_key FROM projects WHERE name = 'default'") and dsn.endswith("/1")
    password = re.search(rf"{re.escape(FIRST_ADMIN_EMAIL)} / (\S+)", "\n".join(lines)).group(1)
    assert can_log_in(live_server.url, FIRST_ADMIN_EMAIL, password)
    assert scalar("SELECT is_admin FROM users") is True
    _, _, later = ensure_first_run_objects()
    assert scalar("SELECT count(*) FROM users") == 1
    assert password not in "\n".join(later)
