"""The pure parts of alerts: signing, the webhook body, Slack blocks, rule matching, the backoff and
Retry-After arithmetic, and the rate limit's folding arithmetic."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.alerts.payload import (
    AlertFacts,
    AnalysisFacts,
    FoldedAlert,
    IssueFacts,
    ProjectFacts,
    backoff_s,
    email_parts,
    encode_body,
    retry_after_s,
    signature,
    slack_body,
    slots_free,
    summary_due,
    verify_signature,
    webhook_body,
)
from app.alerts.rules import RuleInput, apply_changes, build_rule
from app.errors import AppError
from app.events.alert_match import AlertRuleRow, TouchedIssue, level_at_least, rule_matches, wanted_deliveries
from app.models.issue import short_id

SEEN = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ISSUE = IssueFacts(
    120, "KeyError: 'cart' password=hunter2", "shop.views.checkout", "error", 3, SEEN, SEEN, short_number=12
)
DONE = AnalysisFacts("done", "Cart missing", "Session expired", "Check the session", "high", "bug", 0.8, "m1")


def facts(
    trigger: str = "analysis_done", analysis: AnalysisFacts | None = DONE, **more: object
) -> AlertFacts:
    return AlertFacts(
        trigger, ProjectFacts(1, "shop"), ISSUE, analysis, "https://errors.example.com/", **more
    )


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == "sha256=" + expected
    assert verify_signature("s3cret", "1700000000", body, "sha256=" + expected)
    assert not verify_signature("s3cret", "1700000001", body, "sha256=" + expected)
    assert not verify_signature("other", "1700000000", body, "sha256=" + expected)


def test_webhook_body_has_exactly_the_documented_names_and_is_scrubbed():
    body = webhook_body(facts())
    assert list(body) == ["trigger", "project", "issue", "analysis"]
    assert body["project"] == {"id": 1, "name": "shop"}
    assert body["issue"] == {
        "id": 120,
        "short_id": "SHOP-12",
        "title": body["issue"]["title"],
        "culprit": "shop.views.checkout",
        "level": "error",
        "count": 3,
        "first_seen": "2026-12-06T12:00:00+00:00",
        "last_seen": "2026-12-06T12:00:00+00:00",
        "url": "https://errors.example.com/issues/120",
    }
    assert "hunter2" not in body["issue"]["title"]
    assert body["analysis"] == {
        "status": "done",
        "summary": "Cart missing",
        "root_cause": "Session expired",
        "suggested_fix": "Check the session",
        "severity": "high",
        "category": "bug",
        "confidence": 0.8,
        "model": "m1",
    }
    assert webhook_body(facts("new_issue", None))["analysis"] is None
    assert json.loads(encode_body(body)) == body


def test_short_id_is_the_project_prefix_and_the_issues_number_in_it():
    assert short_id(ProjectFacts(1, "my-shop"), ISSUE) == "MYSHOP-12"


def test_slack_blocks_carry_title_link_summary_root_cause_fix_and_severity():
    body = slack_body(facts())
    assert body["text"].startswith("[shop] New issue, analysed: SHOP-12")
    assert body["blocks"][0]["type"] == "header"
    texts = [b["text"]["text"] for b in body["blocks"][1:]]
    assert texts[0].startswith("<https://errors.example.com/issues/120|SHOP-12>")
    assert [t.split("\n")[0] for t in texts[1:]] == [
        "*Summary*",
        "*Root cause*",
        "*Suggested fix*",
        "*Severity*",
    ]
    # Without a finished analysis only its status is said.
    pending = slack_body(facts(analysis=AnalysisFacts("running")))
    assert pending["blocks"][-1]["text"]["text"] == "*Analysis*\nrunning"


def test_email_has_text_and_html_with_the_analysis():
    subject, text, html = email_parts(facts())
    assert subject.startswith("[shop] New issue, analysed: SHOP-12")
    assert "Root cause:\nSession expired" in text
    assert "<h3>Root cause</h3><p>Session expired</p>" in html


def test_summary_lists_the_folded_alerts():
    folded = [FoldedAlert("new_issue", ISSUE), FoldedAlert("regression", None)]
    body = webhook_body(facts("summary", None, folded=folded, rate_limit_per_hour=20))
    assert body["folded"]["count"] == 2 and body["folded"]["rate_limit_per_hour"] == 20
    assert body["folded"]["alerts"][0]["issue"]["short_id"] == "SHOP-12"
    assert "2 alerts held back" in slack_body(facts("summary", None, folded=folded))["text"]


RULE = AlertRuleRow(1, 7, ["new_issue", "analysis_done", "regression"], "error", "prod", None, None, 120)


@pytest.mark.parametrize(
    ("level", "environment", "expected"),
    [
        ("error", "prod", True),
        ("fatal", "prod", True),
        ("warning", "prod", False),
        ("error", "staging", False),
    ],
)
def test_rule_matching_by_minimum_level_and_environment(level, environment, expected):
    assert rule_matches(RULE, level, environment) is expected


def test_level_at_least():
    assert level_at_least("info", None)
    assert level_at_least("weird", "error")  # unknown levels rank as error
    assert not level_at_least("debug", "info")


def touched(**changes: object) -> TouchedIssue:
    base = {"project_id": 7, "issue_id": 5, "created": True, "regressed": False, "generation": 1,
            "analysis_id": 9, "level": "error", "environment": "prod"}  # fmt: skip
    return TouchedIssue(**{**base, **changes})  # type: ignore[arg-type]


def test_a_new_issue_asks_for_new_issue_at_once_and_analysis_done_after_the_cap():
    wanted = {w.trigger: w for w in wanted_deliveries([RULE], [touched(), touched(level="fatal")])}
    assert set(wanted) == {"new_issue", "analysis_done"}
    assert (wanted["new_issue"].wait_s, wanted["new_issue"].analysis_id) == (0, None)
    assert (wanted["analysis_done"].wait_s, wanted["analysis_done"].analysis_id) == (120, 9)
    # No analysis coming: analysis_done goes at once.
    (_, done) = sorted(
        wanted_deliveries([RULE], [touched(analysis_id=None)]), key=lambda w: w.trigger != "new_issue"
    )
    assert (done.trigger, done.wait_s) == ("analysis_done", 0)


def test_a_regression_asks_for_its_generation_and_other_projects_ask_nothing():
    (regression,) = wanted_deliveries([RULE], [touched(created=False, regressed=True, generation=3)])
    assert (regression.trigger, regression.occurrence) == ("regression", 3)
    assert wanted_deliveries([RULE], [touched(project_id=8)]) == []
    frequency = AlertRuleRow(2, 7, ["frequency"], None, None, 10, 5, 120)
    (freq,) = wanted_deliveries([frequency], [touched(created=False)])
    assert (freq.frequency_count, freq.frequency_minutes) == (10, 5)


def test_backoff_doubles_up_to_the_cap_and_waits_for_retry_after():
    assert [backoff_s(n, 10, 600) for n in (1, 2, 3, 8)] == [10, 20, 40, 600]
    assert backoff_s(1, 10, 600, retry_after=90) == 90
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert retry_after_s("7", now) == 7
    assert retry_after_s("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_s("soon", now) is None and retry_after_s(None, now) is None


def test_rate_limit_folding_arithmetic():
    assert slots_free(19, 20) and not slots_free(20, 20) and slots_free(10_000, 0)
    oldest = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    now = oldest + timedelta(minutes=10)
    # The summary goes when the oldest counted alert leaves the hour: the rule could send again.
    assert summary_due(oldest.timestamp(), now.timestamp()) == (oldest + timedelta(hours=1)).timestamp()
    assert summary_due(None, now.timestamp()) == now.timestamp()


def test_rules_get_defaults_and_bad_input_is_a_clear_422():
    rule = build_rule(1, RuleInput(channel="webhook", target="https://hooks.example.com/x"))
    assert (rule.triggers, rule.wait_cap_s, rule.rate_limit_per_hour) == (["analysis_done"], 120, 20)
    assert rule.secret and len(rule.secret) >= 32
    assert build_rule(1, RuleInput(channel="email", target="a@example.com", secret="x")).secret is None
    for bad, says in [
        (RuleInput(channel="webhook", target="ftp://x"), "http(s) URL"),
        (RuleInput(channel="email", target="not-an-address"), "email"),
        (RuleInput(channel="slack", target="https://x", triggers=["sometimes"]), "unknown trigger"),
        (RuleInput(channel="slack", target="https://x", triggers=["frequency"]), "frequency_count"),
        (RuleInput(channel="slack", target="https://x", min_level="loud"), "level"),
        (RuleInput(target="https://x"), "channel"),
    ]:
        with pytest.raises(AppError) as caught:
            build_rule(1, bad)
        assert caught.value.status_code == 422 and says in caught.value.message
    with pytest.raises(AppError, match="cannot be null"):
        apply_changes(rule, {"target": None})
