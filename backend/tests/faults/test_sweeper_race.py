"""The sweeper against the queue: a late delivery of the original task racing the sweeper's copy makes
one analysis and one LLM call, and two sweepers running at once enqueue each pending analysis once.

The sweeper runs here as `python -m app sweep`, one pass at a time, so each test decides when it runs.
"""

from __future__ import annotations

import subprocess
import sys

from tests.faults.events import llm_env, post_seed
from tests.faults.servers import BACKEND_DIR, Stack
from tests.support.db import wait_until

MIN_AGE = {"sweeper_min_age_s": 1}
# Pending for longer than MIN_AGE, without waiting for it: what a sweeper pass takes as stale.
AGE_PENDING = "UPDATE issue_analyses SET next_attempt_at = next_attempt_at - interval '1 minute'"


def test_sweeper_copy_and_late_original_delivery_make_one_analysis(stack: Stack, fake_llm):
    api = stack.api(**MIN_AGE)
    assert post_seed(api.url, 1).status_code == 201
    wait_until(lambda: stack.queue_length() == 1, timeout_s=60)  # the original task, not yet consumed
    stack.execute(AGE_PENDING)
    assert stack.sweep(**MIN_AGE) == 1  # the sweeper sees a stale pending analysis and enqueues a copy
    assert stack.queue_length() == 2

    fake_llm.latency_s = 1  # both deliveries run at the same time on the two pool processes
    worker = stack.worker(concurrency=2, **llm_env(fake_llm), **MIN_AGE)
    wait_until(lambda: stack.rows("SELECT status FROM issue_analyses") == [{"status": "done"}], timeout_s=60)
    wait_until(lambda: worker.log().count("] succeeded in") == 2, timeout_s=60)
    assert "noop analysis already done or taken" in worker.log()
    assert stack.scalar("SELECT attempts FROM issue_analyses") == 1
    assert fake_llm.call_count == 1


def test_two_sweepers_at_once_enqueue_each_pending_analysis_once(stack: Stack):
    api = stack.api(**MIN_AGE)
    for n in range(6):
        assert post_seed(api.url, n).status_code == 201
    wait_until(lambda: stack.queue_length() == 6, timeout_s=60)
    stack.execute(AGE_PENDING)
    sweepers = [
        subprocess.Popen([sys.executable, "-m", "app", "sweep"], cwd=BACKEND_DIR, env=stack.env(**MIN_AGE),
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    enqueued = [int(s.communicate(timeout=60)[0].split()[1]) for s in sweepers]
    assert sum(enqueued) == 6, enqueued
    assert stack.queue_length() == 12
