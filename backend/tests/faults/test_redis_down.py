"""Redis crashes while events arrive: ingest keeps answering fast, nothing is lost, and once Redis is
back every analysis is done exactly once (the sweeper re-enqueues what the crash dropped).

The worker runs with `--beat`, as `make run` starts it, so the sweeper is the production one.
"""

from __future__ import annotations

import httpx

from tests.faults.events import llm_env, post_envelope, post_seed
from tests.faults.servers import Stack, timed
from tests.support.db import wait_until

SWEEPER = {"sweeper_interval_s": 1, "sweeper_min_age_s": 1}


def analyses_by_status(stack: Stack) -> dict[str, int]:
    return {
        r["status"]: r["n"] for r in stack.rows("SELECT status, count(*) AS n FROM issue_analyses GROUP BY 1")
    }


def test_redis_crash_during_ingest_loses_nothing_and_analyses_each_issue_once(stack: Stack, fake_llm):
    worker = stack.worker(beat=True, **llm_env(fake_llm), **SWEEPER)
    api = stack.api()
    accepted = 0
    for n in range(2):
        assert post_seed(api.url, n).status_code == 201
        accepted += 1
    wait_until(lambda: analyses_by_status(stack) == {"done": 2}, timeout_s=60)
    project_id, key = stack.rows("SELECT id, public_key FROM projects")[0].values()
    # A limit of 1 event a minute: only a limiter that fails open lets the events below through.
    stack.execute("UPDATE projects SET rate_limit_per_minute = 1")

    stack.redis.kill()
    slowest = 0.0
    for n in range(2, 8):
        response, took = timed(lambda n=n: post_seed(api.url, n))
        assert response.status_code == 201, response.text
        slowest = max(slowest, took)
        accepted += 1
    for n in range(3):
        response, took = timed(lambda n=n: post_envelope(api.url, project_id, key, n))
        assert response.status_code == 200, response.text
        slowest = max(slowest, took)
        accepted += 1
    assert slowest < 0.5, f"an ingest request took {slowest:.3f}s while Redis was down"
    assert stack.scalar("SELECT count(*) FROM error_events") == accepted == 11
    assert analyses_by_status(stack) == {"done": 2, "pending": 9}
    assert httpx.get(api.url + "/readyz").status_code == 503

    stack.redis.start()  # empty: the crash lost whatever was queued
    wait_until(lambda: analyses_by_status(stack) == {"done": 11}, timeout_s=60)
    assert worker.alive(), "the worker must survive the broker outage"
    assert stack.scalar("SELECT max(attempts) FROM issue_analyses") == 1
    assert fake_llm.call_count == 11

    # The worker resumed consuming: a new event after the restart is analysed too, directly.
    stack.execute("UPDATE projects SET rate_limit_per_minute = NULL")
    assert post_seed(api.url, 100).status_code == 201
    wait_until(lambda: analyses_by_status(stack) == {"done": 12}, timeout_s=60)
    assert fake_llm.call_count == 12
    assert httpx.get(api.url + "/readyz").status_code == 200


def test_worker_survives_a_broker_crash_with_a_task_in_flight(stack: Stack, fake_llm):
    fake_llm.latency_s = 3
    worker = stack.worker(beat=True, **llm_env(fake_llm), **SWEEPER)
    api = stack.api()
    assert post_seed(api.url, 1).status_code == 201
    wait_until(lambda: fake_llm.call_count == 1, timeout_s=60)  # the task is running, not yet acked

    stack.redis.kill()
    fake_llm.latency_s = 0
    stack.redis.start()
    wait_until(lambda: analyses_by_status(stack) == {"done": 1}, timeout_s=60)
    assert worker.alive(), "the worker must survive losing the broker mid-task"
    assert post_seed(api.url, 2).status_code == 201
    wait_until(lambda: analyses_by_status(stack) == {"done": 2}, timeout_s=60)
    assert fake_llm.call_count == 2
