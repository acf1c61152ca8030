"""Dashboard pages as a user reads them: projects with DSN and snippets, the issues list, an issue's
analysis and event (frames, request, breadcrumbs, tags, user), tokens; and nothing rendered unescaped."""

from __future__ import annotations

import html
import re
import subprocess

import httpx
from sqlalchemy import text

from app.db import get_sync_engine
from tests.support.dashboard import (
    api,
    csrf_of,
    issue_id_for,
    login,
    make_project,
    make_user,
    send_seed,
    send_sentry,
    sentry_event,
)
from tests.support.db import scalar, wait_until

SCRIPT = "<script>alert('xss')</script>"


def visible_text(page: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, whitespace folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_projects_page_shows_dsn_and_copy_ready_snippets(live_server):
    make_user()
    project = make_project("checkout")
    client = login(live_server.url)
    page = client.get("/projects").text
    dsn = f"http://{project.public_key}@testserver.local:9000/{project.id}"
    text_ = visible_text(page)
    assert dsn in text_
    assert f'sentry_sdk.init( dsn="{dsn}"' in text_
    assert 'require("@sentry/node")' in text_ and 'from "@sentry/browser"' in text_
    # The curl snippet is copy-ready: run as shown (against the test server), it stores an event.
    curl = html.unescape(re.search(rf'<pre id="p{project.id}-curl"><code>(.*?)</code>', page, re.S).group(1))
    assert curl.startswith("curl -X POST http://testserver.local:9000/api/v1/events")
    ran = subprocess.run(
        [
            "bash",
            "-c",
            curl.replace("http://testserver.local:9000", live_server.url)
            + " -s -o /dev/null -w '%{http_code}'",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert ran.stdout == "201", ran.stderr
    assert scalar("SELECT count(*) FROM error_events WHERE project_id = :p", p=project.id) == 1


def test_create_a_project_from_the_page(live_server):
    make_user()
    client = login(live_server.url)
    made = client.post(
        "/projects", data={"name": "billing", "csrf_token": csrf_of(client.get("/projects").text)}
    )
    assert made.status_code == 303
    project_id = scalar("SELECT id FROM projects WHERE name = 'billing'")
    assert made.headers["location"] == f"/projects/{project_id}/issues?done=created"
    empty = client.get(made.headers["location"]).text
    assert "Waiting for the first event" in empty and "sentry_sdk.init" in empty
    too_long = client.post("/projects", data={"name": "x" * 201, "csrf_token": csrf_of(empty)})
    assert too_long.status_code == 422


def test_projects_page_shows_each_projects_activity_to_whoever_may_see_it(live_server):
    make_user()
    shop, blog, quiet = make_project("shop"), make_project("blog"), make_project("quiet")
    make_user("member@example.com", admin=False, projects=(shop.id, quiet.id))
    for _ in range(3):
        send_sentry(live_server.url, shop, sentry_event())
    send_sentry(live_server.url, shop, sentry_event(exception={"values": [{"type": "TimeoutError"}]}))
    send_sentry(live_server.url, blog, sentry_event())
    # An old event (stored two days ago) is no part of the last 24 hours; its issue is resolved.
    send_sentry(live_server.url, blog, sentry_event(exception={"values": [{"type": "OldError"}]}))
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE error_events SET created_at = now() - interval '2 days' WHERE issue_id IN"
                " (SELECT id FROM issues WHERE title LIKE 'OldError%')"
            )
        )
        conn.execute(text("UPDATE issues SET status = 'resolved' WHERE title LIKE 'OldError%'"))

    def card(page: str, project_id: int) -> str:
        return visible_text(page.split(f'id="project-{project_id}"')[1].split("</article>")[0])

    page = login(live_server.url).get("/projects").text
    assert "Unresolved issues 2 Events, last 24 h 4 Last event just now" in card(page, shop.id)
    assert "Unresolved issues 1 Events, last 24 h 1 Last event just now" in card(page, blog.id)
    assert "Unresolved issues 0 Events, last 24 h 0 Last event none yet" in card(page, quiet.id)
    # A member sees the projects they belong to, and nothing of the others.
    mine = login(live_server.url, "member@example.com").get("/projects").text
    assert f'id="project-{blog.id}"' not in mine and "blog" not in visible_text(mine)
    assert "Unresolved issues 2 Events, last 24 h 4" in card(mine, shop.id)


def test_issues_list_shows_what_triage_needs(live_server, worker):
    make_user()
    server = send_seed(
        live_server.url, message="Database connection failed", stack="Error: Connection timeout"
    )
    send_seed(live_server.url, message="Database connection failed", stack="Error: Connection timeout")
    client_error = send_seed(
        live_server.url, message="Not found: /api/missing", status_code=404, path="/api/missing"
    )
    one, two = f'data-issue-id="{server["issue_id"]}"', f'data-issue-id="{client_error["issue_id"]}"'
    project = scalar("SELECT id FROM projects")
    client = login(live_server.url)
    wait_until(lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'") == 1)
    page = client.get(f"/projects/{project}/issues").text
    assert page.count('class="issue-row level-edge-') == 2
    row = visible_text(page.split(one)[1].split("</article>")[0])
    assert "TEST-1 Error: Connection timeout" in row  # the short id and the title
    assert "2 events" in row and "analysed" in row and "unresolved" in row and "last just now" in row
    summary = scalar("SELECT summary FROM issue_analyses")
    assert summary.split("`")[0].strip() in row and "`" in summary
    assert "<code>GET /api/test</code>" in page  # code spans of the summary render as code
    warning_row = visible_text(page.split(two)[1].split("</article>")[0])
    assert "warning" in warning_row and "not analysed" in warning_row and "TEST-2" in warning_row
    filtered = client.get(f"/projects/{project}/issues", params={"level": "warning"}).text
    assert two in filtered and one not in filtered
    searched = client.get(f"/projects/{project}/issues", params={"q": "connect"}).text
    assert one in searched and two not in searched
    assert "No issues match" in client.get(f"/projects/{project}/issues", params={"status": "ignored"}).text


def test_issue_page_shows_analysis_event_and_navigation(live_server, worker):
    make_user()
    project = make_project("shop")
    first = sentry_event()
    second = sentry_event(tags={"region": "us-east", "customer_tier": "gold"}, environment="staging")
    send_sentry(live_server.url, project, first)
    send_sentry(live_server.url, project, second)
    issue_id = issue_id_for("CheckoutError")
    wait_until(lambda: scalar("SELECT status FROM issue_analyses WHERE issue_id = :i", i=issue_id) == "done")
    client = login(live_server.url)
    page = client.get(f"/issues/{issue_id}").text
    shown = visible_text(page)
    analysis = page.split('id="analysis"')[1].split("</section>")[0]
    assert "Summary" in analysis and "Probable root cause" in analysis and "Suggested fix" in analysis
    assert "heuristic-v1" in analysis and "Confidence" in analysis and "Severity" in analysis
    assert page.index('id="analysis"') < page.index('id="event-title"')  # the analysis comes first
    assert "SHOP-1 CheckoutError" in visible_text(page.split("</h1>")[0])  # the short id heads the page
    # The latest event: exception chain (raised first, then its cause), frames, context lines.
    assert shown.index("CheckoutError : could not reserve stock") < shown.index("KeyError : 'sku'")
    assert "unhandled" in shown
    assert page.count('class="frame in-app crash"') == 2 and page.count('class="frame library"') == 1
    assert re.search(r'<tr class="current"><td class="ln">41</td><td class="code"><pre>\s*return stock', page)
    assert '<td class="ln">40</td>' in page  # pre_context is numbered up to the line
    # Request, breadcrumbs, tags, user, release and environment.
    assert "POST https://shop.example/api/checkout" in shown and "curl/8.0" in shown
    assert "deadlock" in shown and "GET /api/cart" in shown and "08:59:59" in shown
    assert shown.index("deadlock") < shown.index("GET /api/cart")  # newest first
    assert 'title="2025-11-30 08:59:50 UTC"' in page  # each breadcrumb's full time on hover
    assert "region us-east" in shown and "id 4711" in shown
    assert "username ada" in shown  # the user as the SDK sent it (SCRUB_USER_DATA is off by default)
    assert "shop@2.4.1" in shown and "staging" in shown
    # Tag breakdown over both events, navigation to the older one.
    side = visible_text(page.split('class="detail-side"')[1])
    assert "region" in side and "eu-west 50%" in side and "us-east 50%" in side and "gold 100%" in side
    older_id = scalar("SELECT min(id) FROM error_events WHERE issue_id = :i", i=issue_id)
    assert f'href="/issues/{issue_id}?event={older_id}" rel="prev"' in page
    older = client.get(f"/issues/{issue_id}", params={"event": older_id}).text
    assert "region eu-west" in visible_text(older) and 'rel="next"' in older and 'rel="prev"' not in older
    assert client.get(f"/issues/{issue_id}", params={"event": 999999}).status_code == 404
    assert client.get("/issues/999999").status_code == 404


def test_resolve_ignore_reopen_and_reanalyse_from_the_page(live_server):
    make_user()
    issue_id = send_seed(live_server.url)["issue_id"]
    client = login(live_server.url)
    for status in ("resolved", "ignored", "unresolved"):
        page = client.get(f"/issues/{issue_id}").text
        answer = client.post(
            f"/issues/{issue_id}/status", data={"status": status, "csrf_token": csrf_of(page)}
        )
        assert answer.status_code == 303
        assert scalar("SELECT status FROM issues WHERE id = :i", i=issue_id) == status
    page = client.get(f"/issues/{issue_id}").text
    answer = client.post(f"/issues/{issue_id}/reanalyse", data={"csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    assert (
        scalar("SELECT count(*) FROM issue_analyses WHERE issue_id = :i AND trigger = 'manual'", i=issue_id)
        == 1
    )
    assert "A fresh analysis was requested" in client.get(answer.headers["location"]).text


def test_issue_page_refreshes_itself_only_while_its_analysis_is_unfinished(live_server):
    make_user()
    issue_id = send_seed(live_server.url, status_code=404, message="Not found")["issue_id"]
    client = login(live_server.url)
    assert 'http-equiv="refresh"' not in client.get(f"/issues/{issue_id}").text  # nothing to wait for
    # An analysis row no task was queued for, so no worker can move it while we look.
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issue_analyses (project_id, issue_id, generation, trigger, status, attempts)"
                " SELECT project_id, id, 1, 'manual', 'pending', 0 FROM issues WHERE id = :i"
            ),
            {"i": issue_id},
        )
    for status, refreshes in (("pending", True), ("running", True), ("done", False), ("failed", False)):
        with get_sync_engine().begin() as conn:
            conn.execute(text("UPDATE issue_analyses SET status = :s"), {"s": status})
        shown = client.get(f"/issues/{issue_id}").text
        assert ('http-equiv="refresh"' in shown) is refreshes, status


def test_analysis_badges_say_in_words_where_the_analysis_stands(live_server):
    make_user()
    issue_id = send_seed(live_server.url, status_code=404, message="Not found")["issue_id"]
    project = scalar("SELECT project_id FROM issues WHERE id = :i", i=issue_id)
    client = login(live_server.url)
    # An analysis row no task was queued for, so no worker moves it while we look.
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issue_analyses (project_id, issue_id, generation, trigger, status, attempts)"
                " SELECT project_id, id, 1, 'manual', 'pending', 0 FROM issues WHERE id = :i"
            ),
            {"i": issue_id},
        )
    # A failed attempt waiting for its retry: pending, with the reason and the time it is due (UTC).
    tomorrow_1405 = (
        "(date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day 14:05') AT TIME ZONE 'UTC'"
    )
    states = [
        ("done", None, "now()", "analysed"),
        ("pending", None, "now()", "analysing…"),
        ("running", None, "now()", "analysing…"),
        ("pending", "provider timed out", tomorrow_1405, "failed, retrying at 14:05"),
        ("failed", "provider refused the key: 401", "now()", "failed: provider refused the key"),
        (
            "skipped",
            "daily LLM budget spent: 50 of 50 calls used today (UTC)",
            "now()",
            "skipped: daily budget",
        ),
    ]
    for status, reason, due, words in states:
        with get_sync_engine().begin() as conn:
            conn.execute(
                text(f"UPDATE issue_analyses SET status = :s, status_reason = :r, next_attempt_at = {due}"),
                {"s": status, "r": reason},
            )
        listed = visible_text(client.get(f"/projects/{project}/issues").text)
        page = client.get(f"/issues/{issue_id}").text
        badge = visible_text(page.split('id="analysis"')[1].split("</header>")[0])
        assert words in listed and words in badge, (status, listed, badge)
    assert "done" not in badge  # never the bare status


def test_script_in_events_and_analyses_is_never_rendered_as_markup(live_server, worker):
    make_user()
    project = make_project("xss")
    send_seed(
        live_server.url,
        project_key=project.public_key,
        message=f"Server error {SCRIPT}",
        path=f"/api/{SCRIPT}",
    )
    event = sentry_event(
        message=f"boom {SCRIPT}",
        tags={"evil": SCRIPT, SCRIPT: "key"},
        user={"username": SCRIPT},
        breadcrumbs=[{"category": SCRIPT, "message": f"<img src=x onerror=alert(1)> {SCRIPT}"}],
        exception={
            "values": [
                {
                    "type": "ValueError",
                    "value": SCRIPT,
                    "stacktrace": {
                        "frames": [
                            {"filename": SCRIPT, "function": SCRIPT, "context_line": SCRIPT, "in_app": True}
                        ]
                    },
                }
            ]
        },
    )
    event["request"]["headers"] = {"X-Evil": SCRIPT}
    send_sentry(live_server.url, project, event)
    # Let the worker finish, so it cannot overwrite what we plant next.
    wait_until(lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status IN ('done', 'skipped')") == 2)
    # Whatever a provider returns ends up in these columns; make every one of them hostile.
    with get_sync_engine().begin() as conn:
        conn.execute(
            text(
                "UPDATE issue_analyses SET status = 'done', summary = :s, root_cause = :s,"
                " suggested_fix = :s, category = left(:s, 64), model = left(:s, 128),"
                " provider = left(:s, 32), severity = left(:s, 16), analysis_text = :s, confidence = 0.5,"
                " finished_at = now()"
            ),
            {"s": f"`{SCRIPT}` and {SCRIPT} <b onmouseover=alert(1)>x</b>\n- {SCRIPT}"},
        )
        conn.execute(  # the event-level 500 has an analysis too; give its issue a failed one
            text(
                "UPDATE issue_analyses SET status = 'failed', status_reason = :s"
                " WHERE id = (SELECT min(id) FROM issue_analyses)"
            ),
            {"s": SCRIPT},
        )
    client = login(live_server.url)
    pages = [client.get(f"/projects/{project.id}/issues").text]
    with get_sync_engine().connect() as conn:  # closed here, not whenever the garbage collector runs
        issue_ids = [r for (r,) in conn.execute(text("SELECT id FROM issues"))]
    for issue_id in issue_ids:
        pages.append(client.get(f"/issues/{issue_id}").text)
    assert len(pages) == 3
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page and "<b onmouseover" not in page
        assert "&lt;script&gt;alert(" in page
    assert "<code>&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;</code>" in pages[2] or (
        "<code>&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;</code>" in pages[1]
    )
    # The API hands the same text back as JSON data (a client's job to escape), never as HTML.
    token_page = client.post(
        "/tokens", data={"name": "x", "project": str(project.id), "csrf_token": csrf_of(pages[0])}
    ).text
    token = re.search(r'id="new-token">([^<]+)<', token_page).group(1)
    answer = api(live_server.url, token).get(f"/api/v1/projects/{project.id}/issues")
    assert answer.headers["content-type"] == "application/json"


def test_tokens_are_shown_once_scoped_and_revocable(live_server):
    make_user()
    shop = make_project("shop")
    make_project("other")
    send_seed(live_server.url, project_key=shop.public_key)
    client = login(live_server.url)
    page = client.get("/tokens").text
    made = client.post(
        "/tokens", data={"name": "triage bot", "project": str(shop.id), "csrf_token": csrf_of(page)}
    )
    assert made.status_code == 201
    token = re.search(r'id="new-token">(flt_[^<]+)<', made.text).group(1)
    assert scalar("SELECT count(*) FROM api_tokens WHERE token_hash LIKE :t", t=f"%{token}%") == 0
    listing = client.get("/tokens").text
    assert token not in listing and token[:12] in listing and "triage bot" in listing
    reader = api(live_server.url, token)
    assert [p["name"] for p in reader.get("/api/v1/projects").json()] == ["shop"]
    token_id = scalar("SELECT id FROM api_tokens")
    revoked = client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(listing)})
    assert revoked.status_code == 303
    assert "revoked" in client.get("/tokens").text
    assert reader.get("/api/v1/projects").status_code == 401
    no_project = client.post("/tokens", data={"name": "empty", "csrf_token": csrf_of(listing)})
    assert no_project.status_code == 422 and "at least one project" in no_project.text


def test_api_docs_page_renders_offline(live_server):
    make_user()
    page = login(live_server.url).get("/docs")
    assert page.status_code == 200
    shown = visible_text(page.text)
    assert "/api/v1/projects/{project_id}/issues" in shown and "next_cursor" in shown
    assert "cdn" not in page.text.lower()
    assert "dev@example.com" in shown  # a logged-in reader keeps the dashboard's navigation


def test_api_docs_are_public_and_the_dashboard_is_not(live_server):
    anonymous = httpx.Client(base_url=live_server.url, timeout=10)
    page = anonymous.get("/docs", follow_redirects=False)
    assert page.status_code == 200
    shown = visible_text(page.text)
    assert "API reference" in shown and "/api/v1/projects/{project_id}/issues" in shown
    assert "curl -H 'Authorization: Bearer flt_…' http://testserver.local:9000/api/v1/projects" in shown
    assert "Log out" not in shown and "API tokens" in shown  # the link to make one, behind a login
    assert anonymous.get("/openapi.json").json()["info"]["title"]
    # Everything the docs describe still needs a login or a token.
    for path in ("/projects", "/tokens", "/issues/1"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    assert anonymous.get("/api/v1/projects").status_code == 401
