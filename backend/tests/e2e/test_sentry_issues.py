"""Sentry events into issues and analyses: what qualifies for analysis, exact counts under
concurrent ingest, regression after resolve, ignored issues staying ignored, and one issue with one
analysis for thousands of events of one error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.db import SEED_SQL, rows, scalar, wait_until, wait_until_digested
from tests.support.load import send_in_subprocess
from tests.support.sentry import (
    SentryProject,
    envelope,
    error_event,
    make_project,
    post_envelope,
    set_issue_status,
)


@pytest.fixture
def project(live_server) -> SentryProject:
    return make_project(live_server.url, "shop")


def issue_of(event_id: str) -> dict[str, Any]:
    (issue,) = rows(
        "SELECT i.* FROM issues i JOIN error_events e ON e.issue_id = i.id WHERE e.event_id = :id",
        id=event_id,
    )
    return issue


def analyses() -> list[dict[str, Any]]:
    return rows("SELECT id, issue_id, generation, trigger, status FROM issue_analyses ORDER BY id")


# --- what gets analysed ---------------------------------------------------------------------------

STATUS_CASES = {
    # name: (event fields, stored status_code, analysed)
    "response context 503": ({"contexts": {"response": {"status_code": 503}}}, 503, True),
    "tag http.status_code 502": ({"tags": {"http.status_code": "502"}}, 502, True),
    "response context 404, level error": ({"contexts": {"response": {"status_code": 404}}}, 404, False),
    "no status, level error": ({}, None, True),
    "no status, level fatal": ({"level": "fatal"}, None, True),
    "no status, level warning": ({"level": "warning"}, None, False),
}


def test_status_code_extraction_and_what_qualifies_for_analysis(project, worker):
    sent = {}
    for n, (name, (fields, _, _)) in enumerate(STATUS_CASES.items()):
        event = error_event("ServiceError", f"case {name}", function=f"case_{n}")
        event.update(fields)
        response = post_envelope(None, project, envelope(event))
        assert response.status_code == 200
        sent[name] = event["event_id"]

    analysed_names = {name for name, (_, _, analysed) in STATUS_CASES.items() if analysed}
    wait_until(
        lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'") == len(analysed_names)
    )
    stored = {r["event_id"]: r for r in rows("SELECT event_id, status_code, analysis_id FROM error_events")}
    for name, (_, status_code, analysed) in STATUS_CASES.items():
        row = stored[sent[name]]
        assert row["status_code"] == status_code, name
        assert (row["analysis_id"] is not None) == analysed, name
    # The seed's SQL shows the analysis next to the 5xx events.
    seed_rows = {r["status_code"]: r["analysis_text"] for r in rows(SEED_SQL)}
    assert set(seed_rows) == {502, 503} and all(seed_rows.values())


# --- concurrency ----------------------------------------------------------------------------------


def test_two_hundred_concurrent_events_of_one_error_count_exactly(project):
    events = [error_event("TimeoutError", f"upstream timed out after {n} ms") for n in range(200)]
    assert send_in_subprocess(project, events, connections=24)["statuses"] == {200: 200}
    wait_until_digested()
    (issue,) = rows("SELECT id, times_seen, current_analysis_id FROM issues")
    assert issue["times_seen"] == 200
    assert scalar("SELECT count(*) FROM error_events WHERE issue_id = :id", id=issue["id"]) == 200
    assert len(analyses()) == 1
    # Every event links to that one analysis.
    assert rows("SELECT DISTINCT analysis_id FROM error_events") == [
        {"analysis_id": issue["current_analysis_id"]}
    ]


def test_concurrent_resends_of_one_event_store_it_once(project):
    event = error_event()
    assert send_in_subprocess(project, [event] * 40, connections=16)["statuses"] == {200: 40}
    wait_until_digested()
    assert scalar("SELECT count(*) FROM error_events") == 1
    assert scalar("SELECT times_seen FROM issues") == 1


# --- regression, repeats, ignored -----------------------------------------------------------------


def test_resolved_issue_seen_again_regresses_and_gets_a_fresh_analysis(project, worker):
    first = error_event("ConnectionError", "db-1 refused connection")
    post_envelope(None, project, envelope(first))
    wait_until(lambda: [a["status"] for a in analyses()] == ["done"])
    issue_id = issue_of(first["event_id"])["id"]

    # A repeat of an unresolved issue reuses its analysis.
    repeat = error_event("ConnectionError", "db-2 refused connection")
    post_envelope(None, project, envelope(repeat))
    assert len(analyses()) == 1
    assert issue_of(repeat["event_id"])["is_regressed"] is False

    set_issue_status(issue_id, "resolved")
    assert issue_of(first["event_id"])["status"] == "resolved"
    # Resending an event already stored is not a new occurrence: the issue stays resolved.
    assert post_envelope(None, project, envelope(first)).status_code == 200
    assert issue_of(first["event_id"])["status"] == "resolved"

    again = error_event("ConnectionError", "db-3 refused connection")
    assert post_envelope(None, project, envelope(again)).status_code == 200
    issue = issue_of(again["event_id"])
    assert (issue["id"], issue["status"], issue["is_regressed"]) == (issue_id, "unresolved", True)
    assert issue["resolved_at"] is None and issue["times_seen"] == 3
    wait_until(lambda: [a["status"] for a in analyses()] == ["done", "done"])
    _, regression = analyses()
    assert (regression["generation"], regression["trigger"]) == (2, "regression")
    assert (
        scalar("SELECT analysis_id FROM error_events WHERE event_id = :id", id=again["event_id"])
        == regression["id"]
    )
    # The seed's view shows each event with the analysis of its own generation.
    by_event = {r["error_event_id"]: r["analysis_text"] for r in rows("SELECT * FROM error_analysis")}
    assert len(by_event) == 3 and len(set(by_event.values())) == 2

    # Repeats after the regression reuse the new analysis: no third generation.
    later = error_event("ConnectionError", "db-4 refused connection")
    post_envelope(None, project, envelope(later))
    assert len(analyses()) == 2
    assert (
        scalar("SELECT analysis_id FROM error_events WHERE event_id = :id", id=later["event_id"])
        == regression["id"]
    )
    assert issue_of(later["event_id"])["is_regressed"] is True


def test_a_burst_after_resolve_regresses_once(project):
    first = error_event("ConnectionError", "db-1 refused connection")
    post_envelope(None, project, envelope(first))
    issue_id = issue_of(first["event_id"])["id"]
    set_issue_status(issue_id, "resolved")

    burst = [error_event("ConnectionError", f"db-{n} refused connection") for n in range(60)]
    assert send_in_subprocess(project, burst, connections=16)["statuses"] == {200: 60}
    wait_until_digested()  # of many sent at once, some are answered once in the inbox, stored just after
    issue = rows("SELECT status, is_regressed, times_seen, analysis_generation FROM issues")[0]
    assert issue == {"status": "unresolved", "is_regressed": True, "times_seen": 61, "analysis_generation": 2}
    assert [(a["generation"], a["trigger"]) for a in analyses()] == [(1, "first"), (2, "regression")]
    regression_id = analyses()[1]["id"]
    assert scalar("SELECT count(*) FROM error_events WHERE analysis_id = :id", id=regression_id) == 60


def test_ignored_issue_stays_ignored_and_is_not_analysed_again(project):
    first = error_event("DeprecationError", "old API v1 called")
    post_envelope(None, project, envelope(first))
    issue_id = issue_of(first["event_id"])["id"]
    set_issue_status(issue_id, "ignored")

    for n in range(3):
        assert post_envelope(
            None, project, envelope(error_event("DeprecationError", f"old API v{n} called"))
        ).is_success
    issue = rows("SELECT status, is_regressed, times_seen FROM issues WHERE id = :id", id=issue_id)[0]
    assert issue == {"status": "ignored", "is_regressed": False, "times_seen": 4}
    assert len(analyses()) == 1


def test_reopened_issue_counts_on_without_regressing(project):
    first = error_event()
    post_envelope(None, project, envelope(first))
    issue_id = issue_of(first["event_id"])["id"]
    set_issue_status(issue_id, "ignored")
    set_issue_status(issue_id, "unresolved")
    post_envelope(None, project, envelope(error_event()))
    issue = rows("SELECT status, is_regressed, times_seen FROM issues WHERE id = :id", id=issue_id)[0]
    assert issue == {"status": "unresolved", "is_regressed": False, "times_seen": 2}
    assert len(analyses()) == 1


# --- scale ----------------------------------------------------------------------------------------


def test_two_thousand_events_of_one_error_make_one_issue_and_one_analysis(project):
    events = [
        error_event(
            "KeyError", f"'sku-{n}'", function="reserve", module="shop.inventory", release=f"1.0.{n % 7}"
        )
        for n in range(2000)
    ]
    sent = send_in_subprocess(project, events, connections=16)
    assert sent["statuses"] == {200: 2000}
    # About 15 s on a busy 2-core machine; a bound far above that catches a collapse, not noise.
    assert sent["seconds"] < 60, f"2000 events took {sent['seconds']:.1f}s"
    wait_until_digested()
    assert rows("SELECT times_seen FROM issues") == [{"times_seen": 2000}]
    assert len(analyses()) == 1
    assert scalar("SELECT count(*) FROM error_events WHERE analysis_id IS NULL") == 0
