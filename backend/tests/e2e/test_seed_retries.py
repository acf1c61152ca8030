"""A seed client that retries (after a 503 or a timeout) creates no duplicate: the event's `event_id`,
or its `Idempotency-Key` header, stores it once. And an event dated where no clock should be (year 1,
or next week) is stored at its receive time, keeping what was sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.db import rows, scalar

EVENT = {"project_key": "retries", "message": "Payment failed", "status_code": 500}


def post(base_url: str, body: dict, **kwargs) -> httpx.Response:
    response = httpx.post(f"{base_url}/api/v1/events", json=body, timeout=10, **kwargs)
    return response


def test_a_resend_with_the_same_event_id_is_stored_once_and_answered_alike(live_server) -> None:
    event_id = str(uuid.uuid4())
    first = post(live_server.url, {**EVENT, "event_id": event_id})
    again = post(live_server.url, {**EVENT, "event_id": event_id})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert first.json()["event_id"] == event_id.replace("-", "")
    assert again.json() == first.json()
    assert first.json()["id"] is not None
    assert scalar("SELECT count(*) FROM error_events") == 1
    assert scalar("SELECT times_seen FROM issues") == 1


def test_an_idempotency_key_stores_a_retry_once(live_server) -> None:
    answers = [
        post(live_server.url, EVENT, headers={"Idempotency-Key": "order-42-attempt"}) for _ in range(3)
    ]
    other = post(live_server.url, EVENT, headers={"Idempotency-Key": "order-43-attempt"})
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    assert other.json()["event_id"] != answers[0].json()["event_id"]
    assert scalar("SELECT count(*) FROM error_events") == 2
    # Without either, every post is an event of its own.
    post(live_server.url, EVENT)
    post(live_server.url, EVENT)
    assert scalar("SELECT count(*) FROM error_events") == 4


def test_a_malformed_event_id_is_named(live_server) -> None:
    refused = post(live_server.url, {**EVENT, "event_id": "not-a-uuid"})
    assert refused.status_code == 422
    assert "event_id" in refused.json()["detail"]
    assert scalar("SELECT count(*) FROM error_events") == 0


def test_a_time_far_off_is_stored_as_the_receive_time_and_the_original_is_kept(live_server) -> None:
    before = datetime.now(UTC)
    ancient = post(live_server.url, {**EVENT, "message": "Year one", "timestamp": "0001-01-01T00:00:00Z"})
    ahead = (before + timedelta(days=7)).isoformat()
    future = post(live_server.url, {**EVENT, "message": "Next week", "timestamp": ahead})
    recent = (before - timedelta(days=2)).replace(microsecond=0)
    fine = post(live_server.url, {**EVENT, "message": "Two days ago", "timestamp": recent.isoformat()})
    after = datetime.now(UTC)
    assert {ancient.status_code, future.status_code, fine.status_code} == {201}

    stored = {
        r["message"]: r
        for r in rows(
            "SELECT payload->>'message' AS message, timestamp, payload->>'timestamp' AS sent,"
            " data->'errors' AS errors FROM error_events"
        )
    }
    for message, sent, kind in (
        ("Year one", "0001-01-01T00:00:00Z", "past_timestamp"),
        ("Next week", ahead, "future_timestamp"),
    ):
        event = stored[message]
        assert before <= event["timestamp"] <= after
        assert event["sent"] == sent
        assert event["errors"] == [{"type": kind, "name": "timestamp", "value": sent}]
    assert stored["Two days ago"]["timestamp"] == recent
    assert stored["Two days ago"]["errors"] == []
    # The first and last seen follow the stored times, not year one.
    assert scalar("SELECT min(first_seen) FROM issues") >= recent
