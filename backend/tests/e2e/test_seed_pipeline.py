"""The seed's flow end to end: HTTP → PostgreSQL → Redis → Celery worker → error_analysis,
checked with the seed's own SQL."""

from __future__ import annotations

import httpx

from app.tasks import perform_ai_analysis
from tests.support.db import SEED_SQL, SEED_VERIFY_SQL, rows, scalar, wait_until

SEED_CURL_BODY = {
    "project_key": "test",
    "message": "Server error",
    "method": "GET",
    "path": "/api/test",
    "status_code": 500,
    "timestamp": "2024-01-15T12:00:00Z",
}

SEED_DB_ERROR_BODY = {
    "project_key": "test-project",
    "message": "Database connection failed",
    "stack": "Error: Connection timeout",
    "method": "GET",
    "path": "/api/users",
    "status_code": 500,
    "timestamp": "2024-01-15T12:00:00Z",
}


def analysed_rows() -> list[dict]:
    return [r for r in rows(SEED_SQL) if r["analysis_text"]]


def test_seed_curl_is_stored_answered_at_once_and_analysed(live_server, worker):
    response = httpx.post(f"{live_server.url}/api/v1/events", json=SEED_CURL_BODY)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["analysis_queued"] is True
    assert isinstance(body["id"], int)

    done = wait_until(analysed_rows)
    assert [r["id"] for r in done] == [body["id"]]
    assert done[0]["status_code"] == 500
    assert "Summary" in done[0]["analysis_text"]


def test_seed_verify_query_shows_message_model_and_confidence(live_server, worker):
    response = httpx.post(f"{live_server.url}/api/v1/events", json=SEED_DB_ERROR_BODY)
    assert response.status_code == 201
    wait_until(analysed_rows)
    (row,) = rows(SEED_VERIFY_SQL)
    assert row["error_message"] == "Database connection failed"
    assert row["model"] == "heuristic-v1"
    assert 0 < row["confidence"] <= 1
    assert "timeout" in row["analysis_text"].lower() or "connection" in row["analysis_text"].lower()
    assert row["created_at"] is not None


def test_client_error_is_stored_and_never_analysed(live_server, worker):
    not_found = {
        **SEED_CURL_BODY,
        "message": "Not found: /api/missing",
        "status_code": 404,
        "path": "/api/missing",
    }
    response = httpx.post(f"{live_server.url}/api/v1/events", json=not_found)
    assert response.status_code == 201
    assert response.json()["analysis_queued"] is False
    # Even if a task for it is delivered, the worker skips it.
    perform_ai_analysis.apply_async(args=[response.json()["id"]])
    # A 500 afterwards is our marker that the worker has consumed the queue up to here.
    httpx.post(f"{live_server.url}/api/v1/events", json=SEED_CURL_BODY)
    wait_until(analysed_rows)
    assert scalar("SELECT count(*) FROM error_events WHERE status_code = 404") == 1
    assert scalar("SELECT count(*) FROM error_analysis a JOIN error_events e ON e.id = a.error_event_id "
                  "WHERE e.status_code = 404") == 0  # fmt: skip
    assert scalar("SELECT count(*) FROM issue_analyses") == 1


def test_redelivered_task_makes_no_second_analysis(live_server, worker):
    event_id = httpx.post(f"{live_server.url}/api/v1/events", json=SEED_CURL_BODY).json()["id"]
    wait_until(analysed_rows)
    finished_at = scalar("SELECT finished_at FROM issue_analyses")
    for _ in range(3):
        perform_ai_analysis.apply_async(args=[event_id])
    # Let the worker consume them: a fresh 500 of another error is analysed after them.
    other = {**SEED_DB_ERROR_BODY, "project_key": "test"}
    httpx.post(f"{live_server.url}/api/v1/events", json=other)
    wait_until(lambda: len(analysed_rows()) == 2)
    assert scalar("SELECT count(*) FROM issue_analyses") == 2
    assert (
        scalar("SELECT finished_at FROM issue_analyses WHERE error_event_id = :id", id=event_id)
        == finished_at
    )
    assert scalar("SELECT attempts FROM issue_analyses WHERE error_event_id = :id", id=event_id) == 1


def test_repeats_of_one_error_share_one_analysis(live_server, worker):
    ids = []
    for n in range(10):
        body = {**SEED_CURL_BODY, "message": f"Server error in request {1000 + n}"}
        response = httpx.post(f"{live_server.url}/api/v1/events", json=body)
        assert response.status_code == 201
        ids.append(response.json()["id"])
    wait_until(lambda: len(analysed_rows()) == 10)
    assert scalar("SELECT count(*) FROM issues") == 1
    assert scalar("SELECT times_seen FROM issues") == 10
    assert scalar("SELECT count(*) FROM issue_analyses") == 1
    texts = {r["analysis_text"] for r in analysed_rows()}
    assert len(texts) == 1
