"""Every write to POST /api/v1/events needs the project's key: its DSN public key, or the key the seed
endpoint auto-created it with. A project's name opens nothing, a wrong key costs no quota, and
auto-creation is bounded."""

from __future__ import annotations

import httpx
import pytest

from app.config import get_settings
from app.db import sync_session
from app.projects.service import sync_create_project
from tests.support.db import rows, scalar

EVENT = {"message": "Checkout failed", "status_code": 500}


def post(base_url: str, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/events", json=body, timeout=10, **kwargs)


def cli_project(name: str, rate_limit_per_minute: int | None = None) -> tuple[int, str]:
    with sync_session() as session:
        project = sync_create_project(session, name)
        project.rate_limit_per_minute = rate_limit_per_minute
        return project.id, project.public_key


def test_an_auto_created_project_is_opened_by_the_key_it_was_created_with(live_server) -> None:
    first = post(live_server.url, {**EVENT, "project_key": "test"})
    second = post(live_server.url, {**EVENT, "project_key": "test"})
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert rows("SELECT name FROM projects") == [{"name": "test"}]
    assert scalar("SELECT count(DISTINCT project_id) FROM error_events") == 1
    # Its DSN key opens it too, as it does for any project.
    public_key = scalar("SELECT public_key FROM projects")
    assert post(live_server.url, {**EVENT, "project_key": public_key}).status_code == 201
    assert scalar("SELECT count(*) FROM projects") == 1


def test_a_projects_name_opens_nothing_its_dsn_key_does(live_server) -> None:
    project_id, public_key = cli_project("shop")

    refused = post(live_server.url, {**EVENT, "project_key": "shop"})
    assert refused.status_code == 403
    assert "DSN public key" in refused.json()["detail"]
    accepted = post(live_server.url, {**EVENT, "project_key": public_key})
    assert accepted.status_code == 201, accepted.text
    assert rows("SELECT project_id FROM error_events") == [{"project_id": project_id}]
    assert scalar("SELECT count(*) FROM projects") == 1


def test_sentry_credentials_are_accepted_instead_of_project_key(live_server) -> None:
    project_id, public_key = cli_project("api")

    by_header = post(
        live_server.url, EVENT, headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={public_key}"}
    )
    by_query = post(live_server.url, EVENT, params={"sentry_key": public_key})
    assert (by_header.status_code, by_query.status_code) == (201, 201), by_query.text
    assert scalar("SELECT count(*) FROM error_events WHERE project_id = :p", p=project_id) == 2

    unknown = post(live_server.url, EVENT, params={"sentry_key": "0" * 32})
    assert unknown.status_code == 403  # credentials never create a project
    malformed = post(live_server.url, EVENT, headers={"X-Sentry-Auth": "Sentry sentry_version=7"})
    assert malformed.status_code == 401
    assert "sentry_key" in malformed.json()["detail"]
    _, other_key = cli_project("other")
    crossed = post(live_server.url, {**EVENT, "project_key": other_key}, params={"sentry_key": public_key})
    assert crossed.status_code == 403
    assert "different projects" in crossed.json()["detail"]
    missing = post(live_server.url, EVENT)
    assert missing.status_code == 401
    assert "project_key" in missing.json()["detail"]
    assert scalar("SELECT count(*) FROM projects") == 2


def test_a_wrong_key_is_refused_before_any_quota_is_counted(live_server) -> None:
    _, public_key = cli_project("billing", rate_limit_per_minute=2)
    for _ in range(10):
        assert post(live_server.url, {**EVENT, "project_key": "billing"}).status_code == 403
    # The real client still has its whole quota.
    answers = [post(live_server.url, {**EVENT, "project_key": public_key}).status_code for _ in range(3)]
    assert answers == [201, 201, 429]


def test_auto_creation_stops_at_its_cap(live_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTO_CREATE_MAX_PROJECTS", "2")
    get_settings.cache_clear()
    cli_project("made-by-an-admin")  # projects created elsewhere do not count

    assert [post(live_server.url, {**EVENT, "project_key": k}).status_code for k in ("a", "b")] == [201, 201]
    refused = post(live_server.url, {**EVENT, "project_key": "c"})
    assert refused.status_code == 403
    assert "AUTO_CREATE_MAX_PROJECTS (2)" in refused.json()["detail"]
    assert post(live_server.url, {**EVENT, "project_key": "a"}).status_code == 201  # known keys still work
    assert sorted(r["name"] for r in rows("SELECT name FROM projects")) == ["a", "b", "made-by-an-admin"]
