"""Alerts end to end: events posted to the live API, stored by its digester, deliveries written with
them, sent by a real Celery worker (queues ai_analysis and notifications, with beat running the alert
sweeper) to a real HTTP receiver and a real SMTP server in this process.

Nothing here sleeps to synchronise: every wait is on a condition (a request received, a row's status).
A lapse of time the code waits for (an hour's rate-limit window) is made by ageing rows in SQL.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from app.alerts.payload import verify_signature
from app.alerts.rules import RuleInput, sync_create_rule
from app.db import get_sync_engine, sync_session
from app.projects.service import sync_create_project
from tests.support.db import rows, scalar, wait_until
from tests.support.processes import ARTIFACTS
from tests.support.receivers import Answer, HttpReceiver, SmtpReceiver

SECRET = "test-secret-123"
BASE_ENV = {
    "ALERT_SWEEPER_INTERVAL_S": "0.5",
    "ALERT_SWEEPER_MIN_AGE_S": "30",
    "ALERT_RETRY_BASE_S": "0.2",
    "ALERT_LEASE_S": "60",
}


def worker_args() -> list[str]:
    return ["--concurrency=2", "--beat", "--schedule", str(ARTIFACTS / "alerts-beat-schedule")]


def make_project(name: str = "shop") -> tuple[int, str]:
    with sync_session() as session:
        project = sync_create_project(session, name)
        return project.id, project.public_key


def make_rule(project_id: int, **fields: Any) -> int:
    with sync_session() as session:
        return sync_create_rule(session, project_id, RuleInput(**fields)).id


def post_event(base_url: str, key: str, n: int, *, status: int = 502, message: str | None = None) -> None:
    body = {
        "project_key": key,
        "message": message or f"Payment provider unreachable (case {n})",
        "method": "POST",
        "path": "/api/checkout",
        "status_code": status,
        "fingerprint": [f"alert-case-{n}-{uuid.uuid4().hex[:6]}"],
    }
    response = httpx.post(f"{base_url}/api/v1/events", json=body, timeout=30)
    assert response.status_code == 201, response.text


def deliveries(rule_id: int) -> list[dict[str, Any]]:
    return rows("SELECT * FROM alert_deliveries WHERE rule_id = :r ORDER BY id", r=rule_id)


def save_artifact(name: str, body: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(body, indent=2, ensure_ascii=False))


def test_webhook_slack_and_email_are_delivered_signed_with_the_analysis(
    live_server, workers, receiver: HttpReceiver, smtp: SmtpReceiver
):
    workers.ensure(
        {**BASE_ENV, "SMTP_URL": smtp.url, "ALERT_EMAIL_FROM": "alerts@faultline.test"}, worker_args()
    )
    project_id, key = make_project()
    webhook = make_rule(
        project_id,
        channel="webhook",
        target=receiver.url + "/hook",
        secret=SECRET,
        triggers=["new_issue", "analysis_done"],
    )
    slack = make_rule(project_id, channel="slack", target=receiver.url + "/slack")  # the default trigger
    email = make_rule(project_id, channel="email", target="oncall@example.com", triggers=["analysis_done"])
    # A rule the event does not match: no delivery.
    make_rule(
        project_id,
        channel="webhook",
        target=receiver.url + "/prod",
        triggers=["new_issue"],
        environment="prod",
    )

    post_event(
        live_server.url, key, 1, message="Payment provider unreachable, token=sk_live_abcdefghijklmnop"
    )

    wait_until(
        lambda: len(receiver.on("/hook")) == 2 and receiver.on("/slack") and smtp.messages, timeout_s=60
    )
    by_trigger = {r.headers["X-Faultline-Trigger"]: r for r in receiver.on("/hook")}
    for got in by_trigger.values():
        # The HMAC over "<timestamp>.<body>" with the rule's secret, as a receiver checks it.
        assert got.headers["X-Faultline-Signature"].startswith("sha256=")
        assert verify_signature(
            SECRET, got.headers["X-Faultline-Timestamp"], got.body, got.headers["X-Faultline-Signature"]
        )
        assert not verify_signature(
            "wrong", got.headers["X-Faultline-Timestamp"], got.body, got.headers["X-Faultline-Signature"]
        )

    new_issue = by_trigger["new_issue"].json()
    assert new_issue["analysis"] is None
    done = by_trigger["analysis_done"].json()
    save_artifact("alert-webhook-body.json", done)
    assert list(done) == ["trigger", "project", "issue", "analysis"]
    assert done["trigger"] == "analysis_done"
    assert done["project"] == {"id": project_id, "name": "shop"}
    issue = done["issue"]
    assert list(issue) == [
        "id",
        "short_id",
        "title",
        "culprit",
        "level",
        "count",
        "first_seen",
        "last_seen",
        "url",
    ]
    assert issue["short_id"] == f"SHOP-{issue['id']}"
    assert issue["url"] == f"http://testserver.local:9000/issues/{issue['id']}"
    assert "sk_live_abcdefghijklmnop" not in json.dumps(done)  # scrubbed like the prompt
    analysis = done["analysis"]
    assert list(analysis) == [
        "status", "summary", "root_cause", "suggested_fix", "severity", "category", "confidence", "model",
    ]  # fmt: skip
    assert analysis["status"] == "done" and analysis["summary"] and analysis["root_cause"]

    slack_body = receiver.on("/slack")[0].json()
    save_artifact("alert-slack-body.json", slack_body)
    assert slack_body["text"].startswith("[shop] New issue, analysed: SHOP-")
    kinds = [b["type"] for b in slack_body["blocks"]]
    assert kinds[:2] == ["header", "section"]
    texts = "\n".join(b["text"]["text"] for b in slack_body["blocks"])
    assert f"|SHOP-{issue['id']}>" in texts and "*Root cause*" in texts and "*Suggested fix*" in texts

    mail_from, rcpt, message = smtp.messages[0]
    assert (mail_from, rcpt) == ("alerts@faultline.test", ["oncall@example.com"])
    assert message["Subject"].startswith("[shop] New issue, analysed: SHOP-")
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Root cause:" in plain and "<h3>Root cause</h3>" in html

    for rule in (webhook, slack, email):
        assert {d["status"] for d in deliveries(rule)} == {"sent"}
    assert scalar("SELECT count(*) FROM alert_deliveries") == 4  # the prod-only rule matched nothing


def test_a_500_is_retried_then_succeeds(live_server, workers, receiver: HttpReceiver):
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(project_id, channel="webhook", target=receiver.url + "/hook", triggers=["new_issue"])
    receiver.script = [Answer(500)]

    post_event(live_server.url, key, 1)
    wait_until(lambda: [d["status"] for d in deliveries(rule)] == ["sent"], timeout_s=60)
    assert [r.answered for r in receiver.on("/hook")] == [500, 200]
    (row,) = deliveries(rule)
    assert (row["attempts"], row["response_code"], row["last_error"]) == (2, 200, None)


def test_a_429_is_retried_no_sooner_than_retry_after(live_server, workers, receiver: HttpReceiver):
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(project_id, channel="webhook", target=receiver.url + "/hook", triggers=["new_issue"])
    receiver.script = [Answer(429, {"Retry-After": "3"})]

    post_event(live_server.url, key, 1)
    wait_until(lambda: [d["status"] for d in deliveries(rule)] == ["sent"], timeout_s=60)
    first, second = receiver.on("/hook")
    assert (first.answered, second.answered) == (429, 200)
    assert second.at - first.at >= 3.0  # the backoff base is 0.2 s: only Retry-After made it wait
    assert deliveries(rule)[0]["attempts"] == 2


def test_a_4xx_other_than_429_is_not_retried(live_server, workers, receiver: HttpReceiver):
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(project_id, channel="webhook", target=receiver.url + "/hook", triggers=["new_issue"])
    receiver.script = [Answer(410)]

    post_event(live_server.url, key, 1)
    wait_until(lambda: [d["status"] for d in deliveries(rule)] == ["failed"], timeout_s=60)
    (row,) = deliveries(rule)
    assert (row["attempts"], row["response_code"]) == (1, 410)
    assert len(receiver.on("/hook")) == 1


def test_the_rate_limit_folds_the_rest_into_one_summary(live_server, workers, receiver: HttpReceiver):
    workers.ensure(BASE_ENV, worker_args())
    project_id, key = make_project()
    rule = make_rule(
        project_id,
        channel="webhook",
        target=receiver.url + "/hook",
        triggers=["new_issue"],
        rate_limit_per_hour=2,
    )
    for n in range(5):
        post_event(live_server.url, key, n)

    def settled() -> list[str]:
        return sorted(d["status"] for d in deliveries(rule) if d["trigger"] == "new_issue")

    wait_until(lambda: settled() == ["folded", "folded", "folded", "sent", "sent"], timeout_s=60)
    (summary,) = [d for d in deliveries(rule) if d["trigger"] == "summary"]
    assert summary["status"] == "pending"  # due once the hour frees up
    assert len(receiver.on("/hook")) == 2

    # The hour passes (aged in SQL): the summary goes, once, listing the three held back.
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE alert_deliveries SET next_attempt_at = now(), slot_at = slot_at - interval '1 hour'"
                " WHERE rule_id = :r"
            ),
            {"r": rule},
        )
    wait_until(lambda: len(receiver.on("/hook")) == 3, timeout_s=60)
    body = receiver.on("/hook")[2].json()
    assert body["trigger"] == "summary"
    assert body["folded"]["count"] == 3 and body["folded"]["rate_limit_per_hour"] == 2
    assert len({a["issue"]["id"] for a in body["folded"]["alerts"]}) == 3
    wait_until(lambda: [d["status"] for d in deliveries(rule) if d["trigger"] == "summary"] == ["sent"])


def test_analysis_done_goes_after_the_wait_cap_when_the_analysis_is_slow(
    live_server, workers, receiver: HttpReceiver, fake_llm
):
    fake_llm.latency_s = 60  # the analysis is still running when the cap passes
    env = {
        **BASE_ENV,
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": fake_llm.openai_base_url,
        "LLM_MODEL": "fake-model",
        "LLM_API_KEY": "sk-test-alerts",
        "LLM_TIMEOUT_S": "90",
        "ANALYSIS_SOFT_TIME_LIMIT_S": "120",
        "ANALYSIS_HARD_TIME_LIMIT_S": "150",
        "ANALYSIS_LEASE_S": "180",
    }
    workers.ensure(env, worker_args())
    project_id, key = make_project()
    rule = make_rule(project_id, channel="webhook", target=receiver.url + "/hook", wait_cap_s=2)

    post_event(live_server.url, key, 1)
    wait_until(lambda: fake_llm.call_count == 1, timeout_s=30)
    wait_until(lambda: receiver.on("/hook"), timeout_s=60)
    body = receiver.on("/hook")[0].json()
    assert body["trigger"] == "analysis_done"
    # Not finished when the alert went (running, or pending between attempts on a loaded machine).
    assert body["analysis"]["status"] in ("pending", "running") and body["analysis"]["summary"] is None
    assert scalar("SELECT finished_at FROM issue_analyses") is None
    # The worker records "sent" once the receiver has answered: a moment after the hook arrived.
    wait_until(lambda: [row["status"] for row in deliveries(rule)] == ["sent"], timeout_s=30)
    fake_llm.latency_s = 0


def test_test_alert_and_the_api(live_server, workers, receiver: HttpReceiver):
    workers.ensure(BASE_ENV, worker_args())
    project_id, _key = make_project()
    from app.auth.service import sync_create_api_token

    with sync_session() as session:
        writer = sync_create_api_token(session, "w", [project_id], scopes=["project:write"]).secret
        reader = sync_create_api_token(session, "r", [project_id]).secret
    url = f"{live_server.url}/api/v1/projects/{project_id}/alert-rules"
    auth = {"Authorization": f"Bearer {writer}"}
    assert httpx.get(url, headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    made = httpx.post(url, headers=auth, json={"channel": "webhook", "target": receiver.url + "/hook"})
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["triggers"] == ["analysis_done"] and rule["secret"] and rule["rate_limit_per_hour"] == 20
    bad = httpx.post(url, headers=auth, json={"channel": "pager", "target": "x"})
    assert bad.status_code == 422 and "channel" in bad.json()["detail"]
    patched = httpx.patch(f"{url}/{rule['id']}", headers=auth, json={"triggers": ["new_issue", "regression"]})
    assert patched.status_code == 200 and patched.json()["triggers"] == ["new_issue", "regression"]
    assert patched.json()["secret"] is None
    assert [r["id"] for r in httpx.get(url, headers=auth).json()] == [rule["id"]]

    import subprocess
    import sys

    from tests.support.processes import BACKEND_DIR

    out = subprocess.run(
        [sys.executable, "-m", "app", "test-alert", str(rule["id"])],
        cwd=BACKEND_DIR, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert "queued" in out.stdout
    wait_until(lambda: receiver.on("/hook"), timeout_s=60)
    got = receiver.on("/hook")[0]
    assert got.json()["trigger"] == "test"
    assert verify_signature(
        rule["secret"], got.headers["X-Faultline-Timestamp"], got.body, got.headers["X-Faultline-Signature"]
    )

    assert httpx.delete(f"{url}/{rule['id']}", headers=auth).status_code == 204
    assert httpx.get(f"{url}/{rule['id']}", headers=auth).status_code == 404
