"""The dashboard's alert-rule forms as a user fills them: create, a bad edit refused with its reason
and nothing changed, a good edit saved, delete."""

from __future__ import annotations

from tests.support.dashboard import csrf_of, login, make_project, make_user
from tests.support.db import scalar


def test_create_edit_and_delete_a_rule_from_the_forms(live_server):
    project = make_project("shop")
    make_user()
    client = login(live_server.url)
    page = f"/projects/{project.id}/alerts"

    made = client.post(
        page,
        data={
            "csrf_token": csrf_of(client.get(page).text),
            "channel": "webhook",
            "target": "https://hooks.example.com/faultline",
            "trigger": ["new_issue", "regression"],
            "min_level": "error",
            "rate_limit_per_hour": "12",
        },
    )
    assert made.status_code == 201, made.text
    assert "shown once" in made.text.lower() or "secret" in made.text.lower()
    rule_id = scalar("SELECT id FROM alert_rules WHERE project_id = :p", p=project.id)
    assert scalar("SELECT rate_limit_per_hour FROM alert_rules WHERE id = :r", r=rule_id) == 12
    assert scalar("SELECT enabled FROM alert_rules WHERE id = :r", r=rule_id) is True

    rule_page = f"{page}/{rule_id}"
    refused = client.post(
        rule_page,
        data={
            "csrf_token": csrf_of(client.get(rule_page).text),
            "rate_limit_per_hour": "lots",
            "enabled": "on",
        },
    )
    assert refused.status_code == 422 and "rate limit must be a whole number" in refused.text
    assert scalar("SELECT rate_limit_per_hour FROM alert_rules WHERE id = :r", r=rule_id) == 12

    saved = client.post(
        rule_page,
        data={"csrf_token": csrf_of(client.get(rule_page).text), "rate_limit_per_hour": "3"},
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    assert scalar("SELECT rate_limit_per_hour FROM alert_rules WHERE id = :r", r=rule_id) == 3
    assert scalar("SELECT enabled FROM alert_rules WHERE id = :r", r=rule_id) is False  # box unticked

    gone = client.post(f"{rule_page}/delete", data={"csrf_token": csrf_of(client.get(rule_page).text)})
    assert gone.status_code == 303
    assert scalar("SELECT count(*) FROM alert_rules WHERE project_id = :p", p=project.id) == 0
    assert client.get(rule_page).status_code == 404
