"""What the issue page shows, computed: folded frame runs, the crash frame, analysis states in words,
breadcrumb lines, and the issue as Markdown for a ticket (event text never turns into markup)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.events.model import ExceptionInfo, Frame, NormalizedEvent
from app.models import Issue, IssueAnalysis, Project
from app.web.issue_view import analysis_state, crash_frame, crumb_text, frame_groups, issue_markdown

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def lib(name: str, line: int = 1) -> Frame:
    return Frame(filename=f"site-packages/{name}.py", function=name, lineno=line, in_app=False)


def app(name: str, line: int = 1) -> Frame:
    return Frame(filename=f"shop/{name}.py", function=name, lineno=line, in_app=True)


def test_library_runs_fold_and_the_apps_frames_stay_open():
    frames = [lib("serving"), lib("wsgi"), app("view"), lib("orm"), app("repo")]
    groups = frame_groups(frames)
    assert [(g.kind, [f.function for f in g.frames]) for g in groups] == [
        ("library", ["serving", "wsgi"]),
        ("app", ["view"]),
        ("library", ["orm"]),
        ("app", ["repo"]),
    ]
    assert crash_frame(frames) is frames[-1]


def test_a_stack_with_no_in_app_frame_is_shown_whole():
    frames = [lib("a"), lib("b")]
    assert [(g.kind, len(g.frames)) for g in frame_groups(frames)] == [("app", 1), ("app", 1)]
    assert crash_frame(frames) is frames[-1]


def test_a_causes_frames_shared_with_the_error_above_fold_but_never_its_crash_frame():
    above = [lib("main"), app("handler", 10), app("checkout", 18)]
    cause = [lib("main"), app("handler", 10), app("checkout", 16), app("validate", 9)]
    groups = frame_groups(cause, above)
    assert [(g.kind, [f.function for f in g.frames]) for g in groups] == [
        ("shared", ["main", "handler"]),
        ("app", ["checkout"]),
        ("app", ["validate"]),
    ]


def analysis(status: str, reason: str | None = None, retry_at: datetime | None = None) -> IssueAnalysis:
    return IssueAnalysis(status=status, status_reason=reason, next_attempt_at=retry_at or NOW)


def test_analysis_states_in_words():
    assert analysis_state(analysis("done"), NOW) == "analysed"
    assert analysis_state(analysis("running"), NOW) == "analysing…"
    assert analysis_state(analysis("pending"), NOW) == "analysing…"
    waiting = analysis("pending", "provider timed out", NOW + timedelta(minutes=5))
    assert analysis_state(waiting, NOW) == "failed, retrying at 12:05"
    due = analysis("pending", "provider timed out", NOW - timedelta(minutes=1))
    assert analysis_state(due, NOW) == "analysing…"  # the retry is under way
    spent = analysis("skipped", "daily LLM budget spent: 50 of 50 calls used today (UTC)")
    assert analysis_state(spent, NOW) == "skipped: daily budget"
    ceiling = analysis("skipped", "global daily LLM ceiling (all projects) spent: 9 of 9 calls")
    assert analysis_state(ceiling, NOW) == "skipped: daily budget (all projects)"
    assert analysis_state(analysis("failed", "invalid answer: no summary"), NOW) == "failed: invalid answer"
    assert analysis_state(analysis("failed"), NOW) == "failed"


def test_breadcrumb_lines_say_what_happened():
    assert crumb_text({"message": "GET /api/cart"}) == "GET /api/cart"
    http = {"category": "http", "data": {"http.method": "GET", "url": "http://inv/stock", "status_code": 200}}
    assert crumb_text(http) == "GET http://inv/stock → 200"
    assert crumb_text({"category": "ui.click", "data": {"target": "button"}}) == ""


def test_issue_as_markdown_for_a_ticket_keeps_event_text_inert():
    project = Project(id=3, name="shop")
    seen = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    issue = Issue(
        id=77,
        short_number=12,
        title="KeyError: '<b>sku</b>' `rm -rf`",
        culprit="shop.cart in reserve",
        level="error",
        status="unresolved",
        is_regressed=False,
        times_seen=1234,
        first_seen=seen,
        last_seen=seen,
    )
    frame = Frame(filename="shop/cart.py", function="reserve", lineno=41, in_app=True, context_line="  x[k]")
    event = NormalizedEvent(
        event_id="a" * 32,
        timestamp=seen,
        platform="python",
        release="shop@2.4.1",
        exceptions=[ExceptionInfo(type="KeyError", value="'sku' [link](http://evil)", frames=[frame])],
    )
    done = IssueAnalysis(
        status="done", model="heuristic-v1", analysis_text="## Summary\n\nThe key is missing."
    )
    text = issue_markdown(project, issue, done, event, "https://faultline.example/issues/77")
    lines = text.splitlines()
    assert lines[0] == "## SHOP-12: `KeyError: '<b>sku</b>' rm -rf`"  # event text only inside code spans
    assert "- Events: 1,234; first seen 2026-12-06 09:30 UTC; last seen 2026-12-06 09:30 UTC" in lines
    assert "- platform `python`; release `shop@2.4.1`" in lines
    assert "- Link: https://faultline.example/issues/77" in lines
    assert "**`KeyError`**: `'sku' [link](http://evil)`" in lines
    assert "- `shop/cart.py:41` in `reserve`" in lines
    assert text.endswith("### Analysis (heuristic-v1)\n\n## Summary\n\nThe key is missing.\n")
