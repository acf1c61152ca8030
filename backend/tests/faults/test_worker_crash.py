"""A worker dies mid-analysis (SIGKILL of the whole worker, of its pool process, or Celery's own
hard-time-limit kill): exactly one analysis results, and a late redelivery of the dead task changes
nothing. The fake LLM counts the paid calls: the one the dead task made, plus the one that finished.
"""

from __future__ import annotations

import psutil

from tests.faults.events import llm_env, post_seed
from tests.faults.servers import Stack
from tests.support.db import wait_until

# Time limits a loaded machine never reaches by accident (a re-take cut by its own limit would
# count another attempt and call); a lease is run out by ageing the claim in SQL, not by waiting.
CRASH_ENV = {
    "analysis_soft_time_limit_s": 60,
    "analysis_hard_time_limit_s": 90,
    "analysis_lease_s": 120,
    "sweeper_interval_s": 1,
    "sweeper_min_age_s": 1,
}
LEASE_RUN_OUT = (
    "UPDATE issue_analyses SET claimed_at = claimed_at - interval '1 hour', "
    "next_attempt_at = next_attempt_at - interval '1 hour'"
)


def the_analysis(stack: Stack) -> dict:
    (row,) = stack.rows("SELECT status, attempts, claimed_by FROM issue_analyses")
    return row


def seed_sql_rows(stack: Stack) -> list[dict]:
    return stack.rows(
        "SELECT e.id, a.analysis_text FROM error_events e "
        "LEFT JOIN error_analysis a ON e.id = a.error_event_id WHERE e.status_code >= 500"
    )


def test_sigkill_of_the_worker_mid_analysis_is_retaken_after_the_lease(stack: Stack, fake_llm):
    fake_llm.latency_s = 30  # the first call is still waiting for its answer when the worker dies
    env = {**llm_env(fake_llm), **CRASH_ENV}
    worker = stack.worker(beat=True, **env)
    api = stack.api(**env)
    assert post_seed(api.url, 1).status_code == 201
    wait_until(lambda: fake_llm.call_count == 1, timeout_s=60)
    first_task = the_analysis(stack)["claimed_by"]

    worker.kill_group()
    fake_llm.latency_s = 0
    assert the_analysis(stack)["status"] == "running"
    # Redis hands the dead task out again only after the visibility timeout. The dead worker may hold
    # a second message: on a slow machine the row can wait past sweeper_min_age_s to be claimed, and
    # the beat's sweeper then queued a copy, which the claim made a no-op or left waiting.
    held = stack.unacked_task_ids()
    assert first_task in held

    stack.execute(LEASE_RUN_OUT)  # as if the lease had passed since the dead task's claim
    stack.worker(beat=True, **env)
    wait_until(lambda: the_analysis(stack)["status"] == "done", timeout_s=60)
    row = the_analysis(stack)
    assert row["attempts"] == 2
    assert fake_llm.call_count == 2
    # The new worker acknowledges what it ran (the re-take, any sweeper copy) once each returns.
    wait_until(lambda: stack.queue_length() == 0 and stack.unacked_task_ids() == held, timeout_s=60)

    # An hour later Redis redelivers what the dead worker held: the claim turns each into a no-op.
    assert stack.redeliver_unacked(held) == sorted(held)
    wait_until(lambda: stack.queue_length() == 0 and stack.unacked() == 0, timeout_s=60)
    wait_until(lambda: f"{first_task}] succeeded" in stack.children[-1].log(), timeout_s=60)
    assert the_analysis(stack)["attempts"] == 2
    assert fake_llm.call_count == 2
    (event,) = seed_sql_rows(stack)
    assert event["analysis_text"]


def test_sigkill_of_the_pool_process_is_redelivered_and_done_once(stack: Stack, fake_llm):
    fake_llm.latency_s = 30
    # Time limits well past the kill: Celery takes a few seconds to notice its pool process is gone,
    # and a time limit expiring meanwhile would be reported (and acked) instead of the lost worker.
    env = {"analysis_soft_time_limit_s": 60, "analysis_hard_time_limit_s": 90, "analysis_lease_s": 120}
    worker = stack.worker(concurrency=1, **llm_env(fake_llm), **env)
    api = stack.api(**env)
    assert post_seed(api.url, 1).status_code == 201
    wait_until(lambda: fake_llm.call_count == 1, timeout_s=60)

    (pool_process,) = psutil.Process(worker.pid).children()
    fake_llm.latency_s = 0
    pool_process.kill()
    # task_reject_on_worker_lost: the main process puts the message back at once, the same task id
    # re-claims its own analysis, no lease or sweeper needed.
    wait_until(lambda: the_analysis(stack)["status"] == "done", timeout_s=60)
    assert worker.alive()
    assert the_analysis(stack)["attempts"] == 2
    assert fake_llm.call_count == 2
    assert "WorkerLostError" in worker.log()


def test_hard_time_limit_kill_is_acked_by_celery_and_swept(stack: Stack, fake_llm):
    fake_llm.script({"kind": "hang", "seconds": 60})  # the first call never answers in time
    # No soft limit: Celery kills the task without warning it first. The limit also bounds the
    # re-take (an answer at once), so it is short, but not so short that a slow machine reaches it.
    env = {
        **llm_env(fake_llm),
        **CRASH_ENV,
        "analysis_soft_time_limit_s": 0,
        "analysis_hard_time_limit_s": 6,
        "analysis_lease_s": 7,
    }
    worker = stack.worker(beat=True, **env)
    api = stack.api(**env)  # time limits travel in the task message: the publisher's settings count
    assert post_seed(api.url, 1).status_code == 201

    wait_until(lambda: "Hard time limit" in worker.log(), timeout_s=60)
    # Celery acknowledges the killed task: nothing in Redis will ever bring it back.
    wait_until(lambda: stack.unacked() == 0, timeout_s=60)
    assert the_analysis(stack)["status"] == "running"
    stack.execute(LEASE_RUN_OUT)
    wait_until(lambda: the_analysis(stack)["status"] == "done", timeout_s=60)
    assert "sweeper re-enqueued 1 analyses" in worker.log()
    assert the_analysis(stack)["attempts"] == 2
    assert fake_llm.call_count == 2


def test_retry_waiting_in_a_dead_worker_is_swept_when_due(stack: Stack, fake_llm):
    fake_llm.script("server_error")  # the first call fails in a way worth retrying
    env = {**llm_env(fake_llm), **CRASH_ENV, "analysis_retry_base_s": 2}
    worker = stack.worker(beat=True, **env)
    api = stack.api(**env)
    assert post_seed(api.url, 1).status_code == 201
    # The retry is an ETA task the worker holds, unacknowledged, until it is due.
    wait_until(lambda: "retry: Retry in" in worker.log(), timeout_s=60)
    worker.kill_group()
    assert the_analysis(stack)["status"] == "pending"

    stack.worker(beat=True, **env)
    wait_until(lambda: the_analysis(stack)["status"] == "done", timeout_s=60)
    assert the_analysis(stack)["attempts"] == 2
    assert fake_llm.call_count == 2
