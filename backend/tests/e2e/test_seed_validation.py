"""Bad input to POST /api/v1/events gets a clear 4xx naming the problem, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support.db import scalar

GOOD = {"project_key": "test", "message": "Server error", "status_code": 500}


@pytest.mark.parametrize(
    ("body", "status", "mentions"),
    [
        ({"message": "x", "status_code": 500}, 401, "project_key"),  # the key is a credential
        ({"project_key": "test", "status_code": 500}, 422, "message"),
        ({**GOOD, "status_code": "five hundred"}, 422, "status_code"),
        ({**GOOD, "status_code": 999}, 422, "status_code"),
        ({**GOOD, "timestamp": "yesterday-ish"}, 422, "timestamp"),
        ({**GOOD, "project_key": ""}, 422, "project_key"),
        ({**GOOD, "message": 12}, 422, "message"),
    ],
)
def test_invalid_fields_are_named(live_server, body, status, mentions):
    response = httpx.post(f"{live_server.url}/api/v1/events", json=body)
    assert response.status_code == status, response.text
    assert mentions in response.json()["detail"]
    assert scalar("SELECT count(*) FROM error_events") == 0


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"", 400), (b"{not json", 400), (b"[1, 2]", 400), (b'"just a string"', 400), (b"null", 400)],
)
def test_malformed_bodies(live_server, content, status):
    response = httpx.post(
        f"{live_server.url}/api/v1/events", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert response.json()["detail"]


def test_oversized_body_is_413(live_server):
    body = {**GOOD, "stack": "x" * (2 * 1024 * 1024)}
    response = httpx.post(f"{live_server.url}/api/v1/events", json=body)
    assert response.status_code == 413
    assert scalar("SELECT count(*) FROM error_events") == 0


def test_extra_fields_are_kept_in_payload(live_server):
    body = {**GOOD, "service": "billing", "request_id": "abc-123"}
    assert httpx.post(f"{live_server.url}/api/v1/events", json=body).status_code == 201
    assert scalar("SELECT payload->>'service' FROM error_events") == "billing"
    assert scalar("SELECT payload->>'message' FROM error_events") == "Server error"


def test_unknown_project_is_rejected_when_auto_create_is_off(live_server, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("AUTO_CREATE_PROJECTS", "false")
    get_settings.cache_clear()
    response = httpx.post(f"{live_server.url}/api/v1/events", json={**GOOD, "project_key": "nobody"})
    assert response.status_code == 403
    assert "project_key" in response.json()["detail"]
    assert scalar("SELECT count(*) FROM projects") == 0
