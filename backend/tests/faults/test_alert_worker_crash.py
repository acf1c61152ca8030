"""A worker is killed (SIGKILL of its whole process group) while a receiver holds its alert request:
the delivery is sent again once the claim's lease has run out, and the receiver acknowledges exactly
one request with a 2xx; a late redelivery of the dead task changes nothing."""

from __future__ import annotations

from app.alerts.rules import RuleInput, build_rule
from tests.faults.events import post_seed
from tests.faults.servers import Stack
from tests.support.db import wait_until
from tests.support.receivers import Answer, HttpReceiver

ENV = {"alert_sweeper_interval_s": 0.5, "alert_sweeper_min_age_s": 1, "alert_lease_s": 60}
# The lease is run out by ageing the claim in SQL, not by waiting for it.
LEASE_RUN_OUT = "UPDATE alert_deliveries SET claimed_at = claimed_at - interval '1 hour'"


def the_delivery(stack: Stack) -> dict:
    (row,) = stack.rows("SELECT status, attempts, claimed_by, response_code FROM alert_deliveries")
    return row


def test_sigkill_mid_delivery_sends_exactly_once(stack: Stack):
    receiver = HttpReceiver().start()
    try:
        receiver.script = [Answer(hold=True)]
        stack.execute("INSERT INTO projects (name, public_key) VALUES ('faults', 'f' || repeat('0', 31))")
        project_id = stack.scalar("SELECT id FROM projects")
        rule = build_rule(
            project_id, RuleInput(channel="webhook", target=receiver.url + "/hook", triggers=["new_issue"])
        )
        stack.execute(
            "INSERT INTO alert_rules (project_id, triggers, channel, target, secret, wait_cap_s,"
            " rate_limit_per_hour) VALUES (:p, :t, 'webhook', :u, :s, 120, 20)",
            p=project_id, t=rule.triggers, u=rule.target, s=rule.secret,
        )  # fmt: skip
        worker = stack.worker(beat=True, **ENV)
        api = stack.api(**ENV)
        assert post_seed(api.url, 1, project_key="f" + "0" * 31).status_code == 201

        wait_until(lambda: len(receiver.on("/hook")) == 1, timeout_s=60)  # held by the receiver
        assert the_delivery(stack)["status"] == "sending"
        worker.kill_group()
        receiver.release()  # the held request is dropped unanswered: never acknowledged
        held = stack.unacked_task_ids()

        stack.execute(LEASE_RUN_OUT)
        stack.worker(beat=True, **ENV)
        wait_until(lambda: the_delivery(stack)["status"] == "sent", timeout_s=60)
        row = the_delivery(stack)
        assert (row["attempts"], row["response_code"]) == (2, 200)
        assert len(receiver.acknowledged("/hook")) == 1

        # An hour later Redis hands out what the dead worker held: the claim makes it a no-op.
        assert stack.redeliver_unacked(held) == sorted(held)
        wait_until(lambda: stack.unacked() == 0, timeout_s=60)
        wait_until(
            lambda: all(f"{task}] succeeded" in stack.children[-1].log() for task in held), timeout_s=60
        )
        assert len(receiver.acknowledged("/hook")) == 1
        assert the_delivery(stack)["attempts"] == 2
    finally:
        receiver.stop()
