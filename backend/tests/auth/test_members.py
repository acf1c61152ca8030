"""Members see only their projects, everywhere on the dashboard (lists and DSNs, issue and event
pages, tag breakdowns, search, triage actions, token minting): anything else answers 404 as if it did
not exist. Admins see everything and alone create projects, users and memberships."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from app.db import get_sync_engine
from app.models import Project
from tests.support.dashboard import (
    PASSWORD,
    api,
    csrf_of,
    issue_id_for,
    login,
    make_project,
    make_user,
    send_sentry,
    sentry_event,
)
from tests.support.db import scalar

MEMBER = "member@example.com"


def _message_event(message: str, region: str) -> dict:
    event = sentry_event(message=message, tags={"region": region})
    del event["exception"]  # titled by its message
    return event


def _two_projects(base_url: str) -> tuple[Project, Project, int, int]:
    """`shop` and `billing`, each with one issue (tagged by project)."""
    shop, billing = make_project("shop"), make_project("billing")
    send_sentry(base_url, shop, _message_event("shop broke", "shop-eu"))
    send_sentry(base_url, billing, _message_event("billing broke", "billing-us"))
    return shop, billing, issue_id_for("shop broke"), issue_id_for("billing broke")


def _counts() -> tuple[int, ...]:
    return (
        scalar("SELECT count(*) FROM projects"),
        scalar("SELECT count(*) FROM users"),
        scalar("SELECT count(*) FROM project_members"),
        scalar("SELECT count(*) FROM api_tokens"),
        scalar("SELECT count(*) FROM issue_analyses WHERE trigger = 'manual'"),
        scalar("SELECT count(*) FROM issues WHERE status <> 'unresolved'"),
    )


@pytest.fixture
def setup(live_server) -> tuple[Project, Project, int, int]:
    shop, billing, shop_issue, billing_issue = _two_projects(live_server.url)
    make_user()  # the admin
    make_user(MEMBER, admin=False, projects=(shop.id,))
    return shop, billing, shop_issue, billing_issue


def test_a_member_sees_only_their_project_everywhere(live_server, setup):
    shop, billing, shop_issue, billing_issue = setup
    billing_event = scalar("SELECT id FROM error_events WHERE issue_id = :i", i=billing_issue)
    client = login(live_server.url, MEMBER)

    projects_page = client.get("/projects").text
    assert f"{shop.public_key}@" in projects_page and "shop" in projects_page
    assert billing.public_key not in projects_page and "billing" not in projects_page
    assert "Create project" not in projects_page and 'href="/users"' not in projects_page

    own = client.get(f"/issues/{shop_issue}")
    assert own.status_code == 200 and "shop-eu" in own.text  # the tag breakdown
    assert client.get(f"/projects/{shop.id}/issues", params={"q": "shop"}).status_code == 200
    for path, params in (
        (f"/projects/{billing.id}", {}),
        (f"/projects/{billing.id}/issues", {}),
        (f"/projects/{billing.id}/issues", {"q": "billing", "status": "all"}),  # search
        (f"/issues/{billing_issue}", {}),  # issue page and its tag breakdown
        (f"/issues/{shop_issue}", {"event": billing_event}),  # another project's event
    ):
        answer = client.get(path, params=params, follow_redirects=False)
        assert answer.status_code == 404, (path, params)
        assert "billing" not in answer.text and "billing-us" not in answer.text
    # A project that does not exist answers the same.
    assert client.get("/projects/999/issues").status_code == 404

    before = _counts()
    csrf = csrf_of(projects_page)
    for path, data in (
        (f"/issues/{billing_issue}/status", {"status": "resolved"}),
        (f"/issues/{billing_issue}/status", {"status": "ignored"}),
        (f"/issues/{billing_issue}/reanalyse", {}),
    ):
        assert client.post(path, data={**data, "csrf_token": csrf}).status_code == 404, path
    minted = client.post("/tokens", data={"name": "peek", "project": str(billing.id), "csrf_token": csrf})
    assert minted.status_code == 422 and f"no such project: {billing.id}" in minted.text
    mixed = client.post(
        "/tokens", data={"name": "peek", "project": [str(shop.id), str(billing.id)], "csrf_token": csrf}
    )
    assert mixed.status_code == 422
    assert _counts() == before
    tokens_page = client.get("/tokens").text
    assert f'value="{shop.id}"' in tokens_page and "billing" not in tokens_page

    # What the member may do, works; the token it mints reads its project only.
    assert (
        client.post(
            f"/issues/{shop_issue}/status", data={"status": "resolved", "csrf_token": csrf}
        ).status_code
        == 303
    )
    assert scalar("SELECT status FROM issues WHERE id = :i", i=shop_issue) == "resolved"
    made = client.post("/tokens", data={"name": "mine", "project": str(shop.id), "csrf_token": csrf})
    assert made.status_code == 201
    reader = api(live_server.url, re.search(r'id="new-token">(flt_[^<]+)<', made.text).group(1))
    assert [p["name"] for p in reader.get("/api/v1/projects").json()] == ["shop"]
    assert reader.get(f"/api/v1/issues/{billing_issue}").status_code == 404
    assert reader.get(f"/api/v1/projects/{billing.id}/issues").status_code == 404
    # A member who leaves the project no longer reads it with their token either.
    assert reader.get(f"/api/v1/issues/{shop_issue}").status_code == 200
    with get_sync_engine().begin() as conn:
        conn.execute(text("DELETE FROM project_members"))
    assert reader.get(f"/api/v1/issues/{shop_issue}").status_code == 404
    assert reader.get("/api/v1/projects").json() == []
    assert client.get(f"/issues/{shop_issue}").status_code == 404  # nor on the dashboard


def test_an_admin_sees_and_acts_on_every_project(live_server, setup):
    shop, billing, _, billing_issue = setup
    client = login(live_server.url)
    projects_page = client.get("/projects").text
    assert shop.public_key in projects_page and billing.public_key in projects_page
    assert client.get(f"/issues/{billing_issue}").status_code == 200
    assert client.get(f"/projects/{billing.id}/issues", params={"q": "billing"}).status_code == 200
    csrf = csrf_of(projects_page)
    resolved = client.post(f"/issues/{billing_issue}/status", data={"status": "resolved", "csrf_token": csrf})
    assert (
        resolved.status_code == 303
        and scalar("SELECT status FROM issues WHERE id = :i", i=billing_issue) == "resolved"
    )
    made = client.post(
        "/tokens", data={"name": "all", "project": [str(shop.id), str(billing.id)], "csrf_token": csrf}
    )
    assert made.status_code == 201


def test_only_admins_create_projects_users_and_memberships(live_server, setup):
    shop, billing, _, _ = setup
    member = login(live_server.url, MEMBER)
    csrf = csrf_of(member.get("/projects").text)
    member_id = scalar("SELECT id FROM users WHERE email = :e", e=MEMBER)
    before = _counts()
    for path, data in (
        ("/projects", {"name": "sneaky"}),
        ("/users", {"email": "friend@example.com", "password": PASSWORD, "admin": "true"}),
        ("/members", {"user": str(member_id), "project": str(billing.id)}),
    ):
        answer = member.post(path, data={**data, "csrf_token": csrf})
        assert answer.status_code == 403, path
        assert "Only an admin" in answer.text
    assert member.get("/users").status_code == 403
    assert _counts() == before

    admin = login(live_server.url)
    users_page = admin.get("/users")
    assert users_page.status_code == 200 and MEMBER in users_page.text
    csrf = csrf_of(users_page.text)
    made = admin.post(
        "/users",
        data={
            "email": "new@example.com",
            "password": PASSWORD,
            "project": str(billing.id),
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == "/users?done=user"
    newcomer = login(live_server.url, "new@example.com")
    page = newcomer.get("/projects").text
    assert billing.public_key in page and shop.public_key not in page

    added = admin.post(
        "/members",
        data={"user": str(member_id), "project": str(billing.id), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert billing.public_key in member.get("/projects").text  # seen from the member's next page on
    assert member.get(f"/projects/{billing.id}/issues").status_code == 200

    # Bad input: one clear message each, nothing created.
    before = _counts()
    for data, status, message in (
        ({"email": MEMBER, "password": PASSWORD}, 409, "already exists"),
        ({"email": "x@example.com", "password": "short"}, 422, "at least 8"),
        ({"email": "not-an-email", "password": PASSWORD}, 422, "name@host"),
        ({"email": "y@example.com", "password": PASSWORD, "project": "999"}, 422, "no such project: 999"),
    ):
        answer = admin.post("/users", data={**data, "csrf_token": csrf})
        assert answer.status_code == status and message in answer.text, data
    missing = admin.post("/members", data={"user": str(member_id), "project": "999", "csrf_token": csrf})
    assert missing.status_code == 422 and "no such project: 999" in missing.text
    assert _counts() == before


def test_a_new_member_with_no_project_sees_none(live_server):
    make_project("shop")
    make_user("lonely@example.com", admin=False)
    page = login(live_server.url, "lonely@example.com").get("/projects").text
    assert "not a member of any project" in page and "shop" not in page
    assert httpx.get(f"{live_server.url}/projects/1/issues", follow_redirects=False).status_code == 303


def test_alert_rules_follow_membership(live_server, setup):
    shop, billing, _, _ = setup
    client = login(live_server.url, MEMBER)
    assert client.get(f"/projects/{shop.id}/alerts").status_code == 200
    other = client.get(f"/projects/{billing.id}/alerts")
    assert other.status_code == 404 and "billing" not in other.text
    csrf = csrf_of(client.get("/projects").text)
    made = client.post(
        f"/projects/{billing.id}/alerts",
        data={"channel": "webhook", "target": "http://127.0.0.1:9/hook", "csrf_token": csrf},
    )
    assert made.status_code == 404
    assert scalar("SELECT count(*) FROM alert_rules") == 0
