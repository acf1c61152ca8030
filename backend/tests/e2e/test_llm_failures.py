"""Every way an LLM call can fail, through the real worker: what is retried, when, and how it ends.

The worker runs with LLM_TIMEOUT_S=1 and ANALYSIS_RETRY_BASE_S=0.2, so its retries come after
0.2, 0.4 and 0.8 s unless the provider's Retry-After asks for longer.
"""

from __future__ import annotations

import time

import pytest

from app.db import sync_session
from app.projects.service import sync_create_project
from tests.e2e import llm_helpers
from tests.e2e.llm_helpers import API_KEY, TaskWatch, analyses, call_times, llm_env, post_event, wait_final
from tests.fake_llm.server import FakeLLMServer
from tests.support.dashboard import login, make_user
from tests.support.db import rows, scalar

fake_llm = llm_helpers.fake_llm

ERROR = {
    "project_key": "billing",
    "message": "Payment provider timed out",
    "method": "POST",
    "path": "/api/charges",
    "status_code": 502,
}
OTHER_ERROR = {**ERROR, "message": "Invoice template missing", "path": "/api/invoices", "status_code": 500}


def test_rate_limit_is_retried_no_sooner_than_retry_after(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))
    fake_llm.script({"kind": "rate_limit", "retry_after": "1"}, "good")

    post_event(live_server.url, ERROR)
    first, second = call_times(fake_llm, 2)
    (analysis,) = wait_final()

    assert second - first >= 0.95  # the backoff alone would have retried after 0.2 s
    assert (analysis["status"], analysis["attempts"]) == ("done", 2)


@pytest.mark.parametrize(
    ("behaviour", "seen_reason"),
    [
        ("server_error", "server error (HTTP 500)"),
        ("overloaded", "overloaded (HTTP 529)"),
        ({"kind": "hang", "seconds": 5}, "no answer within the 1s timeout"),
    ],
)
def test_transient_failure_is_retried_then_done(
    behaviour, seen_reason: str, live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))
    fake_llm.script(behaviour, "good")

    post_event(live_server.url, ERROR)
    (analysis,) = _wait_reason_then_final(seen_reason)

    assert (analysis["status"], analysis["attempts"]) == ("done", 2), analysis["status_reason"]
    assert analysis["summary"] and analysis["status_reason"] is None
    assert fake_llm.call_count == 2


def _wait_reason_then_final(reason: str) -> list[dict]:
    """While the retry is pending the row says why; then it ends."""
    deadline = time.monotonic() + 20
    saw_reason = False
    while time.monotonic() < deadline:
        (analysis,) = analyses() or [None]
        if analysis and reason in (analysis["status_reason"] or ""):
            saw_reason = True
        if analysis and analysis["status"] in ("done", "failed", "skipped"):
            break
        time.sleep(0.01)
    assert saw_reason, f"the pending analysis never said {reason!r}"
    return analyses()


def test_unauthorized_fails_at_once_without_leaking_the_key(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    worker = workers.ensure(llm_env(fake_llm))
    fake_llm.script("unauthorized")
    tasks = TaskWatch(worker)

    post_event(live_server.url, ERROR)
    assert "] retry: " not in tasks.wait_returned()
    (analysis,) = analyses()

    assert analysis["status"] == "failed"
    assert "authentication failed, check LLM_API_KEY (HTTP 401)" in analysis["status_reason"]
    assert API_KEY not in analysis["status_reason"]
    assert API_KEY in fake_llm.requests[0].headers["authorization"]  # it was sent, and echoed back
    assert fake_llm.call_count == 1 and analysis["attempts"] == 1
    assert API_KEY not in worker.log_path.read_text(errors="replace")


def test_server_that_always_fails_ends_failed_after_one_call_and_three_retries(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))
    fake_llm.set_default("server_error")

    post_event(live_server.url, ERROR)
    (analysis,) = wait_final()

    assert analysis["status"] == "failed"
    assert analysis["status_reason"].startswith("gave up after 4 attempts: openai: server error (HTTP 500)")
    assert fake_llm.call_count == 4 and analysis["attempts"] == 4
    assert rows("SELECT analysis_text FROM error_analysis") == [{"analysis_text": None}]


QUOTA_WITH_RETRY_AFTER = {
    "kind": "status",
    "status": 429,
    "body": {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}},
    "headers": {"Retry-After": "0.5"},
}


@pytest.mark.parametrize("behaviour", ["quota", QUOTA_WITH_RETRY_AFTER], ids=["quota", "quota-retry-after"])
def test_exhausted_quota_fails_at_once_even_with_retry_after(
    behaviour, live_server, workers, fake_llm: FakeLLMServer
) -> None:
    tasks = TaskWatch(workers.ensure(llm_env(fake_llm)))
    fake_llm.script(behaviour)

    post_event(live_server.url, ERROR)
    assert "] retry: " not in tasks.wait_returned()  # not even after the answer's Retry-After
    (analysis,) = analyses()

    assert analysis["status"] == "failed"
    assert "spend cap or quota exhausted (HTTP 429)" in analysis["status_reason"]
    assert fake_llm.call_count == 1


def test_daily_calls_budget_skips_the_next_issue_and_ingest_goes_on(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    workers.ensure(llm_env(fake_llm))
    with sync_session() as session:  # the project's own budget overrides LLM_DAILY_BUDGET_CALLS
        project = sync_create_project(session, ERROR["project_key"])
        project.llm_daily_budget_calls = 1
        key = project.public_key  # a project created in the CLI takes its DSN key, never its name
    error, other_error = ({**body, "project_key": key} for body in (ERROR, OTHER_ERROR))

    post_event(live_server.url, error)
    wait_final()
    post_event(live_server.url, other_error)
    first, second = wait_final(2)
    for body in (error, other_error) * 3:
        post_event(live_server.url, body)  # asserts 201

    assert first["status"] == "done"
    assert second["status"] == "skipped"
    assert second["status_reason"] == "daily LLM budget spent: 1 of 1 calls used today (UTC)"
    assert fake_llm.call_count == 1
    assert scalar("SELECT count(*) FROM error_events") == 8


def test_daily_tokens_budget_skips_once_spent(live_server, workers, fake_llm: FakeLLMServer) -> None:
    workers.ensure(llm_env(fake_llm))  # LLM_DAILY_BUDGET_TOKENS=1000000
    fake_llm.script({"kind": "good", "tokens_in": 999_990, "tokens_out": 54})

    post_event(live_server.url, ERROR)
    wait_final()
    post_event(live_server.url, OTHER_ERROR)
    first, second = wait_final(2)

    assert (first["status"], first["tokens_in"], first["tokens_out"]) == ("done", 999_990, 54)
    assert second["status"] == "skipped"
    assert second["status_reason"] == "daily LLM budget spent: 1000044 of 1000000 tokens used today (UTC)"
    assert fake_llm.call_count == 1


def test_the_global_ceiling_holds_however_many_projects_ask(
    live_server, workers, fake_llm: FakeLLMServer
) -> None:
    # Each project's own budget (200 calls) would allow every call; the ceiling over all of them is 2.
    workers.ensure(llm_env(fake_llm, LLM_GLOBAL_DAILY_BUDGET_CALLS="2"))
    for n in range(4):
        post_event(live_server.url, {**ERROR, "project_key": f"tenant-{n}", "message": f"Tenant {n} failed"})

    final = wait_final(4)
    assert sorted(a["status"] for a in final) == ["done", "done", "skipped", "skipped"]
    assert {a["status_reason"] for a in final if a["status"] == "skipped"} == {
        "global daily LLM ceiling (all projects) spent: 2 of 2 calls used today (UTC)"
    }
    assert fake_llm.call_count == 2
    # The dashboard says why the analysis did not run.
    make_user(admin=True)
    skipped = next(a for a in final if a["status"] == "skipped")
    page = login(live_server.url).get(f"/issues/{skipped['issue_id']}")
    assert "Analysis skipped: global daily LLM ceiling (all projects) spent" in page.text
