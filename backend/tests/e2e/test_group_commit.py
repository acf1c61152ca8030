"""Group commit under concurrency: many events share a transaction, yet every accepted event is
stored and counted exactly once, every issue gets one analysis, resends are not counted, and a
Sentry key is checked on every event even with project lookups cached."""

from __future__ import annotations

import gzip
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from app.db import sync_session
from app.projects.service import sync_create_project
from tests.support.db import rows, scalar, wait_until_digested

ERRORS = ["KeyError: 'order_id'", "ValueError: bad quantity", "TimeoutError: pricing service"]


def sentry_project() -> tuple[int, str]:
    with sync_session() as session:
        project = sync_create_project(session, "group-commit")
        return project.id, project.public_key


def envelope(event: dict, key: str, project_id: int) -> bytes:
    payload = json.dumps(event).encode()
    header = {"event_id": event["event_id"], "dsn": f"http://{key}@localhost/{project_id}"}
    item = {"type": "event", "length": len(payload)}
    return gzip.compress(b"\n".join([json.dumps(header).encode(), json.dumps(item).encode(), payload]))


def error_event(kind: int, event_id: str | None = None) -> dict:
    exc_type, value = ERRORS[kind].split(": ", 1)
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "level": "error",
        "platform": "python",
        "exception": {"values": [{"type": exc_type, "value": value}]},
        "contexts": {"response": {"status_code": 500}},
        "user": {"id": "42", "email": "someone@example.com"},
        "extra": {"contact": "write to someone@example.com", "db_password": "hunter2-x"},
    }


def post_envelope(url: str, project_id: int, key: str, event: dict) -> httpx.Response:
    return httpx.post(
        f"{url}/api/{project_id}/envelope/",
        content=envelope(event, key, project_id),
        headers={
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}",
        },
        timeout=30,
    )


def test_concurrent_events_are_all_stored_counted_once_and_analysed_once_per_issue(live_server):
    project_id, key = sentry_project()
    events = [error_event(n % 3) for n in range(90)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda e: post_envelope(live_server.url, project_id, key, e), events))

    assert [a.status_code for a in answers] == [200] * 90
    assert sorted(a.json()["id"] for a in answers) == sorted(e["event_id"] for e in events)
    wait_until_digested()
    assert scalar("SELECT count(*) FROM error_events") == 90
    issues = rows("SELECT id, times_seen, current_analysis_id FROM issues ORDER BY id")
    assert [i["times_seen"] for i in issues] == [30, 30, 30]
    # One analysis per issue, and every event of the issue shows it.
    assert scalar("SELECT count(*) FROM issue_analyses") == 3
    for issue in issues:
        linked = scalar(
            "SELECT count(*) FROM error_events WHERE issue_id = :i AND analysis_id = :a",
            i=issue["id"],
            a=issue["current_analysis_id"],
        )
        assert linked == 30
    # Scrubbed before storing, in the payload and in the normalized copy alike (the user object is
    # stored as the SDK sent it: SCRUB_USER_DATA is off by default).
    assert scalar("SELECT count(*) FROM error_events WHERE payload::text LIKE '%hunter2-x%'") == 0
    assert scalar("SELECT count(*) FROM error_events WHERE data::text LIKE '%hunter2-x%'") == 0
    assert (
        scalar("SELECT count(*) FROM error_events WHERE payload->'extra'->>'contact' = 'write to [email]'")
        == 90
    )
    assert (
        scalar("SELECT count(*) FROM error_events WHERE data->'extra'->>'contact' = 'write to [email]'") == 90
    )


def test_an_accepted_event_is_in_the_database_when_the_answer_arrives(live_server):
    project_id, key = sentry_project()
    for n in range(5):
        event = error_event(n % 3)
        assert post_envelope(live_server.url, project_id, key, event).status_code == 200
        # No waiting: with nothing queued ahead, the answer comes once the event is stored.
        assert scalar("SELECT count(*) FROM error_events WHERE event_id = :e", e=event["event_id"]) == 1


def test_resends_are_stored_once_and_not_counted_twice(live_server):
    project_id, key = sentry_project()
    event = error_event(0)
    first = post_envelope(live_server.url, project_id, key, event)
    # The same event again, alone and then many times at once (resends can share a batch).
    again = [post_envelope(live_server.url, project_id, key, event)]
    fresh = [error_event(0) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        again += list(pool.map(lambda _: post_envelope(live_server.url, project_id, key, event), range(8)))
        others = list(pool.map(lambda e: post_envelope(live_server.url, project_id, key, e), fresh))

    assert first.status_code == 200
    assert {a.status_code for a in again + others} == {200}
    assert {a.json()["id"] for a in again} == {event["event_id"]}
    wait_until_digested()
    assert scalar("SELECT count(*) FROM error_events WHERE event_id = :e", e=event["event_id"]) == 1
    assert scalar("SELECT times_seen FROM issues") == 1 + len(fresh)


def test_a_wrong_key_is_refused_even_after_the_project_was_looked_up(live_server):
    project_id, key = sentry_project()
    assert post_envelope(live_server.url, project_id, key, error_event(1)).status_code == 200
    wrong = post_envelope(live_server.url, project_id, "0" * 32, error_event(1))
    assert wrong.status_code in (401, 403)
    assert scalar("SELECT count(*) FROM error_events") == 1
