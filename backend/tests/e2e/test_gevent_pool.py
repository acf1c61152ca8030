"""The analysis worker in the gevent pool (what `make run` starts): the soft time limit still cuts a
stuck LLM call, and many 2-second LLM calls run at once in one process with one call per issue."""

from __future__ import annotations

import os

import httpx
import redis

from app.celery_app import ANALYSIS_QUEUE
from app.tasks import perform_ai_analysis
from tests.fake_llm.fixtures import fake_llm, fake_llm_server  # noqa: F401 - fixtures
from tests.support.db import scalar, wait_until

GEVENT = ["--pool=gevent", "--concurrency=40"]


def llm_env(fake_llm_server) -> dict[str, str]:  # noqa: F811
    return {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": fake_llm_server.openai_base_url,
        "LLM_MODEL": "fake",
        "LLM_API_KEY": "x",
    }


WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
WORDS += "quebec romeo sierra tango"


def server_error(n: int) -> dict:
    """A 500 of its own issue (grouping ignores numbers, so each differs by a word)."""
    word = WORDS.split()[n]
    return {
        "project_key": "pool",
        "message": f"ValueError: the {word} service is broken",
        "method": "GET",
        "path": f"/api/{word}",
        "status_code": 500,
        "timestamp": "2024-01-15T12:00:00Z",
    }


def test_soft_time_limit_cuts_a_stuck_llm_call_in_the_gevent_pool(live_server, workers, fake_llm):  # noqa: F811
    workers.stop()  # nobody consumes the task ingest enqueues; this test sends its own
    response = httpx.post(f"{live_server.url}/api/v1/events", json=server_error(1))
    event_id = response.json()["id"]
    queue = redis.Redis.from_url(os.environ["REDIS_URL"])
    wait_until(lambda: queue.llen(ANALYSIS_QUEUE) == 1)
    queue.delete(ANALYSIS_QUEUE)
    fake_llm.script({"kind": "hang", "seconds": 30})  # the first call never answers in time
    workers.ensure(llm_env(fake_llm), GEVENT)

    perform_ai_analysis.apply_async(args=[event_id], soft_time_limit=1, time_limit=20)

    # Cut at the soft limit (the call hangs for 30 s), recorded as a retry, then answered by the second
    # call, long before the first call's answer or the 20 s hard limit would come.
    wait_until(lambda: scalar("SELECT status FROM issue_analyses") == "done", timeout_s=60)
    # Two attempts, one LLM call each. The 1 s limit holds for the retry too, so on a loaded machine
    # a slow second call may be cut as well: more attempts, still one call each and no lost analysis.
    attempts = scalar("SELECT attempts FROM issue_analyses")
    assert attempts >= 2
    assert fake_llm.call_count == attempts


def test_one_gevent_worker_runs_many_llm_calls_at_once(live_server, workers, fake_llm):  # noqa: F811
    workers.ensure(llm_env(fake_llm), GEVENT)
    fake_llm.latency_s = 2.0
    for n in range(20):
        assert httpx.post(f"{live_server.url}/api/v1/events", json=server_error(n)).status_code == 201
    done = "SELECT count(*) FROM issue_analyses WHERE status = 'done'"
    wait_until(lambda: scalar(done) == 20, timeout_s=60)
    assert fake_llm.call_count == 20  # one LLM call per distinct issue
    # The calls overlapped in one process: prefork --concurrency=2 would never have more than 2 at once.
    assert fake_llm.max_in_flight > 2
