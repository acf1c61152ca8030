"""Tenant isolation at ingest: a DSN key writes only to its own project, and no answer tells a caller
whether a project it has no key for exists (not even a 429 of a rate-limited project)."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import text

from app.db import sync_session
from app.projects.service import sync_create_project
from tests.support.db import rows, scalar

EVENT = {"message": "cross-tenant write attempt", "level": "error"}


@pytest.fixture
def projects() -> dict[str, tuple[int, str]]:
    with sync_session() as session:
        made = {name: sync_create_project(session, name) for name in ("alpha", "beta")}
        return {name: (p.id, p.public_key) for name, p in made.items()}


def store(url: str, project_id: int | str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/{project_id}/store/", json=EVENT, headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"}
    )


def envelope(
    url: str, project_id: int | str, key: str, dsn_project: int | str | None = None
) -> httpx.Response:
    header = {"dsn": f"http://{key}@testserver/{dsn_project}"} if dsn_project is not None else {}
    body = f'{json.dumps(header)}\n{{"type": "event"}}\n{json.dumps(EVENT)}\n'
    return httpx.post(f"{url}/api/{project_id}/envelope/", content=body, params={"sentry_key": key})


def answer(response: httpx.Response) -> tuple[int, str, str | None]:
    return response.status_code, response.text, response.headers.get("X-Sentry-Error")


def test_a_key_writes_only_to_its_own_project(live_server, projects):
    (alpha_id, alpha_key), (beta_id, _beta_key) = projects["alpha"], projects["beta"]
    assert store(live_server.url, alpha_id, alpha_key).status_code == 200
    assert envelope(live_server.url, alpha_id, alpha_key).status_code == 200

    assert store(live_server.url, beta_id, alpha_key).status_code == 403
    assert envelope(live_server.url, beta_id, alpha_key).status_code == 403
    # The envelope's own dsn cannot redirect the write to another project either.
    assert envelope(live_server.url, alpha_id, alpha_key, dsn_project=beta_id).status_code == 401
    assert envelope(live_server.url, beta_id, alpha_key, dsn_project=beta_id).status_code == 403

    assert rows("SELECT p.name, count(*) AS n FROM error_events e JOIN projects p ON p.id = e.project_id "
                "GROUP BY p.name") == [{"name": "alpha", "n": 2}]  # fmt: skip


def test_wrong_key_and_missing_project_answer_alike(live_server, projects):
    (_, alpha_key), (beta_id, _) = projects["alpha"], projects["beta"]
    missing = 10_000 + beta_id
    for send in (store, envelope):
        wrong_key = answer(send(live_server.url, beta_id, alpha_key))
        assert wrong_key[0] == 403
        assert answer(send(live_server.url, missing, alpha_key)) == wrong_key
        assert answer(send(live_server.url, "not-a-number", alpha_key)) == wrong_key
    assert scalar("SELECT count(*) FROM error_events") == 0


def test_a_rate_limited_project_still_answers_403_to_strangers(live_server, projects):
    (beta_id, beta_key), (_, alpha_key) = projects["beta"], projects["alpha"]
    with sync_session() as session:
        session.execute(text("UPDATE projects SET rate_limit_per_minute = 1 WHERE id = :id"), {"id": beta_id})
    assert store(live_server.url, beta_id, beta_key).status_code == 200
    assert store(live_server.url, beta_id, beta_key).status_code == 429
    assert store(live_server.url, beta_id, alpha_key).status_code == 403
    assert store(live_server.url, 10_000 + beta_id, alpha_key).status_code == 403
