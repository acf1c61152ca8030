"""Digesters run anywhere: `python -m app digest` processes, any number of them, share one inbox.

With EMBEDDED_DIGESTER off the API only accepts events into the inbox; digesters started apart store
them, each exactly once, woken by PostgreSQL notifications. An embedded digester ends with its API.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil

from tests.faults.events import post_envelope, post_seed
from tests.faults.servers import Stack
from tests.support.db import wait_until

ACCEPT_ONLY = {"embedded_digester": "false", "ingest_ack_wait_s": "0.2", "seed_answer_wait_s": "0.5"}


def a_project(stack: Stack) -> tuple[int, str]:
    stack.execute("INSERT INTO projects (name, public_key) VALUES ('faults', repeat('c', 32))")
    project_id, key = stack.rows("SELECT id, public_key FROM projects")[0].values()
    return project_id, key


def test_an_api_without_embedded_digester_only_accepts_and_digest_processes_store(stack: Stack):
    api = stack.api(**ACCEPT_ONLY)
    assert api.child.digesters() == []
    project_id, key = a_project(stack)
    for n in range(10):
        assert post_envelope(api.url, project_id, key, n % 3).status_code == 200
    seed = post_seed(api.url, 1, project_key="faults-seed")
    # Accepted (durable in the inbox), but no digester runs: the answer cannot name a stored event.
    assert seed.status_code == 201 and seed.json()["id"] is None
    assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 11
    assert stack.scalar("SELECT count(*) FROM error_events") == 0

    stack.digester()
    wait_until(lambda: stack.scalar("SELECT count(*) FROM error_events") == 11, timeout_s=60)
    assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 0
    assert stack.scalar("SELECT sum(times_seen) FROM issues") == 11
    # Four issues (three envelope groups, the seed's 502), four pending analyses; the API that accepted
    # the events sends their jobs once the digester's commit says they exist (no worker runs here).
    assert stack.scalar("SELECT count(*) FROM issue_analyses WHERE status = 'pending'") == 4
    wait_until(lambda: stack.queue_length() == 4, timeout_s=60)
    seed_again = post_seed(api.url, 2, project_key="faults-seed")  # now a digester answers at once
    assert seed_again.status_code == 201
    assert seed_again.json()["id"] == stack.scalar(
        "SELECT id FROM error_events WHERE event_id = :e", e=seed_again.json()["event_id"]
    )


def test_many_digesters_share_the_inbox_and_store_each_event_once(stack: Stack):
    api = stack.api(**ACCEPT_ONLY)
    for _ in range(3):
        stack.digester()
    project_id, key = a_project(stack)

    def send(n: int) -> int:
        return post_envelope(api.url, project_id, key, n % 5).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(300)))
    assert answers == [200] * 300
    wait_until(lambda: stack.scalar("SELECT count(*) FROM ingest_inbox") == 0, timeout_s=60)
    assert stack.scalar("SELECT count(*) FROM error_events") == 300
    assert stack.scalar("SELECT count(DISTINCT event_id) FROM error_events") == 300
    assert stack.rows("SELECT count(*) AS issues, sum(times_seen) AS seen FROM issues") == [
        {"issues": 5, "seen": 300}
    ]
    # One analysis per issue, however many digesters stored its events.
    assert stack.scalar("SELECT count(*) FROM issue_analyses") == 5


def test_an_embedded_digester_ends_with_its_api(stack: Stack):
    api = stack.api()
    (digester,) = wait_until(lambda: api.child.digesters(), timeout_s=60)
    api.child.process.kill()  # SIGKILL the API alone: its child is orphaned
    api.child.process.wait(10)
    wait_until(lambda: not digester.is_running() or digester.status() == psutil.STATUS_ZOMBIE, timeout_s=60)


def test_every_new_issue_gets_its_analysis_job_without_the_sweeper(stack: Stack):
    """One seed event at a time, so the digester's claims often find the inbox empty in between."""
    api = stack.api()
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
    ]
    for n, word in enumerate(words * 2):
        event = {"project_key": "faults", "message": f"the {word} service is down", "status_code": 500}
        if n >= len(words):
            event["message"] = f"the {word} queue is full"
        assert httpx.post(f"{api.url}/api/v1/events", json=event, timeout=10).status_code == 201
    assert stack.scalar("SELECT count(*) FROM issues") == 2 * len(words)
    # No worker and no sweeper run here: each job came from the API once its digester had committed.
    wait_until(lambda: stack.queue_length() == 2 * len(words), timeout_s=60)
