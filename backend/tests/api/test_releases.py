"""Releases as users read them: the list per project (read API and dashboard), newest first, with each
release's events and the issues that first appeared in it; the release an issue first appeared in;
and the sentry-cli commands each project shows for uploading source maps."""

from __future__ import annotations

import html as html_text
from typing import Any

from tests.support.dashboard import (
    api,
    csrf_of,
    login,
    make_project,
    make_token,
    make_user,
    send_sentry,
    sentry_event,
)
from tests.support.db import scalar, wait_until_digested


def error(exc_type: str, release: str | None) -> dict[str, Any]:
    """One event of the issue `exc_type` (its own exception type and frame), in `release`."""
    frame = {"filename": "shop/cart.py", "module": "shop.cart", "function": exc_type.lower(), "in_app": True}
    event = sentry_event(
        release=release,
        exception={"values": [{"type": exc_type, "value": "boom", "stacktrace": {"frames": [frame]}}]},
    )
    if release is None:
        del event["release"]
    return event


def shop_with_three_releases(url: str) -> tuple[int, dict[str, int]]:
    """Project "my shop": CartError new in 1.0 (twice) and seen again in 1.1, StockError new in 1.1,
    PriceError new in 1.2, GuestError with no release; (project id, issue id by type)."""
    project = make_project("my shop")
    sent = [
        ("CartError", "shop@1.0"),
        ("CartError", "shop@1.0"),
        ("CartError", "shop@1.1"),
        ("StockError", "shop@1.1"),
        ("PriceError", "shop@1.2"),
        ("GuestError", None),
    ]
    for exc_type, release in sent:
        send_sentry(url, project, error(exc_type, release))
    wait_until_digested()
    issues = {
        t: scalar("SELECT id FROM issues WHERE title LIKE :t", t=f"{t}%")
        for t in ("CartError", "StockError", "PriceError", "GuestError")
    }
    return project.id, issues


def test_the_release_list_counts_events_and_new_issues_newest_first(live_server):
    project_id, _ = shop_with_three_releases(live_server.url)
    client = api(live_server.url, make_token([project_id]))
    page = client.get(f"/api/v1/projects/{project_id}/releases")
    assert page.status_code == 200, page.text
    listed = [(r["version"], r["events"], r["new_issues"]) for r in page.json()["items"]]
    assert listed == [("shop@1.2", 1, 1), ("shop@1.1", 2, 1), ("shop@1.0", 2, 1)]
    first = page.json()["items"][-1]
    assert first["first_seen"] <= first["last_seen"]
    assert page.json()["next_cursor"] is None


def test_the_release_list_pages_with_a_cursor_and_ignores_a_bad_one(live_server):
    project_id, _ = shop_with_three_releases(live_server.url)
    client = api(live_server.url, make_token([project_id]))
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            f"/api/v1/projects/{project_id}/releases",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += [r["version"] for r in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["shop@1.2", "shop@1.1", "shop@1.0"]
    for bad in ("not-a-cursor", "WyJ4IiwxXQ", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwiXHUwMDAwIl0"):
        answer = client.get(f"/api/v1/projects/{project_id}/releases", params={"cursor": bad})
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"][0]["version"] == "shop@1.2"
    assert client.get(f"/api/v1/projects/{project_id}/releases", params={"limit": 0}).status_code == 422


def test_a_token_sees_only_its_projects_releases(live_server):
    project_id, _ = shop_with_three_releases(live_server.url)
    other = make_project("other")
    client = api(live_server.url, make_token([other.id]))
    assert client.get(f"/api/v1/projects/{project_id}/releases").status_code == 404
    assert client.get(f"/api/v1/projects/{other.id}/releases").json() == {"items": [], "next_cursor": None}


def test_an_issue_shows_the_release_it_first_appeared_in(live_server):
    project_id, issues = shop_with_three_releases(live_server.url)
    client = api(live_server.url, make_token([project_id]))
    first = {t: client.get(f"/api/v1/issues/{i}").json()["first_release"] for t, i in issues.items()}
    assert first == {
        "CartError": "shop@1.0",
        "StockError": "shop@1.1",
        "PriceError": "shop@1.2",
        "GuestError": None,
    }

    make_user()
    browser = login(live_server.url)
    cart = browser.get(f"/issues/{issues['CartError']}").text
    assert 'id="first-release"><a href="/projects/' in cart and "<code>shop@1.0</code>" in cart
    assert "none named" in browser.get(f"/issues/{issues['GuestError']}").text


def test_the_dashboard_lists_releases_and_shows_the_upload_commands(live_server):
    project_id, _ = shop_with_three_releases(live_server.url)
    make_user()
    browser = login(live_server.url)
    issues_page = browser.get(f"/projects/{project_id}/issues").text
    assert f'href="/projects/{project_id}/releases"' in issues_page
    page = browser.get(f"/projects/{project_id}/releases")
    assert page.status_code == 200
    html = page.text
    rows = [html.index(f'data-release="shop@1.{n}"') for n in (2, 1, 0)]
    assert rows == sorted(rows), "newest release first"
    assert f"/projects/{project_id}/issues?release=shop%401.1&amp;status=all" in html
    token_command = f"python -m app create-token ci-uploads --project {project_id} --scope project:write"
    upload = (
        'sentry-cli --url http://testserver.local:9000 --auth-token "$FAULTLINE_TOKEN" '
        "sourcemaps upload --org faultline --project my-shop ./dist"
    )
    shown = html_text.unescape(html)
    assert token_command in shown and upload in shown
    assert "sourcemaps inject ./dist" in html
    # The projects page offers the same commands among each project's setup snippets.
    assert upload in html_text.unescape(browser.get("/projects").text)


def test_a_member_cannot_open_another_projects_releases(live_server):
    project_id, _ = shop_with_three_releases(live_server.url)
    mine = make_project("mine")
    make_user("member@example.com", admin=False, projects=(mine.id,))
    browser = login(live_server.url, "member@example.com")
    assert browser.get(f"/projects/{project_id}/releases").status_code == 404
    assert browser.get(f"/projects/{mine.id}/releases").status_code == 200


def test_the_tokens_page_makes_a_token_that_may_upload(live_server):
    project = make_project("shop")
    make_user()
    browser = login(live_server.url)
    form = {"csrf_token": csrf_of(browser.get("/tokens").text), "name": "ci uploads", "project": project.id}
    made = browser.post("/tokens", data={**form, "scope": "project:write"})
    assert made.status_code == 201
    assert scalar("SELECT scopes FROM api_tokens WHERE name = 'ci uploads'") == [
        "project:read",
        "project:write",
    ]
    assert "project:read, project:write" in browser.get("/tokens").text
    # Without the box ticked a token only reads; an unknown scope is refused with a message.
    browser.post("/tokens", data={**form, "name": "reader"})
    assert scalar("SELECT scopes FROM api_tokens WHERE name = 'reader'") == ["project:read"]
    refused = browser.post("/tokens", data={**form, "name": "odd", "scope": "org:admin"})
    assert refused.status_code == 422 and "unknown scope" in refused.text
