"""`python -m app create-user` / `create-token` and the first admin `make run` prints: what they
print works for logging in and reading the API."""

from __future__ import annotations

import re

import httpx

from app.cli_setup import FIRST_ADMIN_EMAIL, ensure_first_run_objects
from tests.support.dashboard import csrf_of, make_project
from tests.support.db import scalar
from tests.support.processes import run_cli


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


def sees_projects(base_url: str, email: str, password: str) -> str:
    """The projects page as this user sees it."""
    client = httpx.Client(base_url=base_url)
    form = client.get("/login").text
    client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(form)})
    return client.get("/projects").text


def test_create_user_as_a_member_of_projects_and_add_member(live_server):
    shop, billing = make_project("shop"), make_project("billing")
    made = run_cli("create-user", "ann@example.com", "--password", "long-enough", "--project", str(shop.id))
    assert made.returncode == 0, made.stderr
    assert f"member of project(s) {shop.id}" in made.stdout
    page = sees_projects(live_server.url, "ann@example.com", "long-enough")
    assert shop.public_key in page and billing.public_key not in page

    added = run_cli("add-member", "ANN@example.com", str(billing.id))
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"user 'ann@example.com' is a member of project {billing.id}"
    assert billing.public_key in sees_projects(live_server.url, "ann@example.com", "long-enough")
    again = run_cli("add-member", "ann@example.com", str(billing.id))
    assert again.returncode == 0 and "is already a member" in again.stdout

    # Bad input: one line on stderr, exit status 1, nothing made.
    for args, message in (
        (
            ("create-user", "bob@example.com", "--password", "long-enough", "--project", "999"),
            "no such project: 999",
        ),
        (("add-member", "nobody@example.com", str(shop.id)), "no user 'nobody@example.com'"),
        (("add-member", "ann@example.com", "999"), "no such project: 999"),
    ):
        refused = run_cli(*args)
        assert refused.returncode == 1, args
        assert refused.stderr.strip() == f"error: {message}", refused.stderr
    assert scalar("SELECT count(*) FROM users WHERE email = 'bob@example.com'") == 0
    assert scalar("SELECT count(*) FROM project_members") == 2
    not_a_number = run_cli("add-member", "ann@example.com", "shop")
    assert not_a_number.returncode == 2 and "invalid int value: 'shop'" in not_a_number.stderr


def test_create_token_for_a_member_names_only_their_projects(live_server):
    shop, billing = make_project("shop"), make_project("billing")
    run_cli("create-user", "ann@example.com", "--password", "long-enough", "--project", str(shop.id))
    run_cli("create-user", "root@example.com", "--password", "long-enough", "--admin")

    refused = run_cli("create-token", "peek", "--project", str(billing.id), "--user", "ann@example.com")
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"error: ann@example.com is not a member of project {billing.id}"
    unknown = run_cli("create-token", "peek", "--project", str(shop.id), "--user", "nobody@example.com")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: no user 'nobody@example.com'"
    assert scalar("SELECT count(*) FROM api_tokens") == 0

    made = run_cli("create-token", "mine", "--project", str(shop.id), "--user", "ann@example.com")
    assert made.returncode == 0, made.stderr
    answer = httpx.get(
        f"{live_server.url}/api/v1/projects", headers={"Authorization": f"Bearer {made.stdout.strip()}"}
    )
    assert [p["name"] for p in answer.json()] == ["shop"]
    owner = scalar("SELECT u.email FROM api_tokens t JOIN users u ON u.id = t.user_id")
    assert owner == "ann@example.com"
    admin = run_cli(
        "create-token", "all", "--project", str(shop.id), str(billing.id), "--user", "root@example.com"
    )
    assert admin.returncode == 0, admin.stderr
