"""The regression and frequency triggers end to end: events through the live API and its digester,
deliveries sent by a real worker to a real HTTP receiver."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.db import get_sync_engine
from tests.alerts.test_alert_delivery import BASE_ENV, deliveries, make_project, make_rule, worker_args
from tests.support.db import scalar, wait_until, wait_until_digested
from tests.support.receivers import HttpReceiver


def post(base_url: str, key: str, fingerprint: str, n: int) -> None:
    body = {
        "project_key": key,
        "message": f"Inventory sync failed (attempt {n})",
        "path": "/api/inventory",
        "status_code": 500,
        "fingerprint": [fingerprint],
    }
    assert httpx.post(f"{base_url}/api/v1/events", json=body, timeout=30).status_code == 201


def test_a_resolved_issue_that_comes_back_sends_a_regression_alert(
    live_server, workers, receiver: HttpReceiver
) -> None:
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(project_id, channel="webhook", target=receiver.url + "/hook", triggers=["regression"])

    post(live_server.url, key, "inventory-sync", 1)
    issue_id = scalar("SELECT id FROM issues")
    assert deliveries(rule) == []  # a new issue is no regression
    with get_sync_engine().begin() as conn:  # what "Resolve" does
        conn.execute(
            text("UPDATE issues SET status = 'resolved', resolved_at = now() WHERE id = :i"), {"i": issue_id}
        )

    post(live_server.url, key, "inventory-sync", 2)
    wait_until(lambda: receiver.on("/hook"), timeout_s=60)
    body = receiver.on("/hook")[0].json()
    assert body["trigger"] == "regression"
    assert body["issue"]["id"] == issue_id and body["issue"]["count"] == 2
    wait_until(lambda: [d["status"] for d in deliveries(rule)] == ["sent"], timeout_s=30)
    post(live_server.url, key, "inventory-sync", 3)  # still unresolved: no second regression
    wait_until_digested()
    assert len(deliveries(rule)) == 1


def test_the_frequency_trigger_fires_once_n_events_came_within_m_minutes(
    live_server, workers, receiver: HttpReceiver
) -> None:
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(
        project_id,
        channel="webhook",
        target=receiver.url + "/hook",
        triggers=["frequency"],
        frequency_count=3,
        frequency_minutes=10,
    )

    for n in (1, 2):
        post(live_server.url, key, "inventory-sync", n)
    assert deliveries(rule) == []  # two events: under the threshold
    post(live_server.url, key, "inventory-sync", 3)
    wait_until(lambda: receiver.on("/hook"), timeout_s=60)
    assert receiver.on("/hook")[0].json()["trigger"] == "frequency"
    for n in (4, 5, 6):  # the same window: no second alert for it
        post(live_server.url, key, "inventory-sync", n)
    wait_until_digested()
    assert len(deliveries(rule)) == 1
