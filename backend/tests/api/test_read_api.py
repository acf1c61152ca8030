"""The read API with bearer tokens: every endpoint, filters and paging, and that a token sees only
its own projects (404 for anything else, never 403)."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from app.db import get_sync_engine
from tests.support.dashboard import api, make_project, make_token, send_seed, send_sentry, sentry_event
from tests.support.db import rows, scalar, wait_until


def two_projects_with_issues(url: str) -> tuple[int, int, int, int]:
    """Projects "alpha" and "beta" with one 500 issue each: (alpha, beta, alpha's issue, beta's issue)."""
    a = send_seed(url, project_key="alpha", message="Alpha database timeout")
    b = send_seed(url, project_key="beta", message="Beta payment gateway down")
    alpha = scalar("SELECT id FROM projects WHERE name = 'alpha'")
    beta = scalar("SELECT id FROM projects WHERE name = 'beta'")
    return alpha, beta, a["issue_id"], b["issue_id"]


def test_projects_lists_only_the_tokens_projects_with_their_dsn(live_server):
    alpha, beta, *_ = two_projects_with_issues(live_server.url)
    client = api(live_server.url, make_token([alpha]))
    listed = client.get("/api/v1/projects")
    assert listed.status_code == 200
    (only,) = listed.json()
    assert only["id"] == alpha and only["name"] == "alpha"
    key = scalar("SELECT public_key FROM projects WHERE id = :p", p=alpha)
    assert only["dsn"] == f"http://{key}@testserver.local:9000/{alpha}"
    assert client.get(f"/api/v1/projects/{alpha}").json()["name"] == "alpha"
    assert client.get(f"/api/v1/projects/{beta}").status_code == 404
    assert client.get("/api/v1/projects/999999").status_code == 404


def test_a_token_never_sees_another_projects_objects(live_server):
    alpha, beta, alpha_issue, beta_issue = two_projects_with_issues(live_server.url)
    beta_event = scalar("SELECT id FROM error_events WHERE issue_id = :i", i=beta_issue)
    client = api(live_server.url, make_token([alpha]))
    assert client.get(f"/api/v1/issues/{alpha_issue}").status_code == 200
    for method, path, body in [
        ("GET", f"/api/v1/projects/{beta}", None),
        ("GET", f"/api/v1/projects/{beta}/issues", None),
        ("GET", f"/api/v1/issues/{beta_issue}", None),
        ("GET", f"/api/v1/issues/{beta_issue}/events", None),
        ("GET", f"/api/v1/events/{beta_event}", None),
        ("PATCH", f"/api/v1/issues/{beta_issue}", {"status": "resolved"}),
        ("POST", f"/api/v1/issues/{beta_issue}/status", {"status": "ignored"}),
        ("POST", f"/api/v1/issues/{beta_issue}/reanalyse", None),
    ]:
        answer = client.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert "Beta" not in answer.text
    # Nothing about beta changed.
    assert scalar("SELECT status FROM issues WHERE id = :i", i=beta_issue) == "unresolved"
    assert scalar("SELECT count(*) FROM issue_analyses WHERE issue_id = :i", i=beta_issue) == 1
    # A token for both projects sees both.
    both = api(live_server.url, make_token([alpha, beta]))
    assert both.get(f"/api/v1/issues/{beta_issue}").status_code == 200
    assert {p["name"] for p in both.get("/api/v1/projects").json()} == {"alpha", "beta"}


def test_missing_bad_and_revoked_tokens_get_401(live_server):
    alpha, *_ = two_projects_with_issues(live_server.url)
    token = make_token([alpha])
    assert httpx.get(f"{live_server.url}/api/v1/projects").status_code == 401
    assert api(live_server.url, "flt_not-a-real-token").get("/api/v1/projects").status_code == 401
    basic = httpx.get(f"{live_server.url}/api/v1/projects", headers={"Authorization": f"Basic {token}"})
    assert basic.status_code == 401
    client = api(live_server.url, token)
    assert client.get("/api/v1/projects").status_code == 200
    assert rows("SELECT last_used_at FROM api_tokens")[0]["last_used_at"] is not None
    with get_sync_engine().begin() as conn:
        conn.execute(text("UPDATE api_tokens SET revoked_at = now()"))
    answer = client.get("/api/v1/projects")
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"


def test_issues_list_filters_search_sort_and_pages(live_server):
    project = make_project("shop")
    for _ in range(3):
        send_sentry(live_server.url, project, sentry_event(environment="production", release="shop@1.0"))
    send_sentry(
        live_server.url,
        project,
        sentry_event(
            environment="staging",
            release="shop@2.0",
            exception={"values": [{"type": "TimeoutError", "value": "upstream inventory service"}]},
        ),
    )
    send_sentry(
        live_server.url,
        project,
        sentry_event(
            level="warning",
            exception=None,
            message="Disk usage above 90% on /var/lib/postgresql",
            environment="production",
        ),
    )
    client = api(live_server.url, make_token([project.id]))

    def titles(**params: object) -> list[str]:
        answer = client.get(f"/api/v1/projects/{project.id}/issues", params=params)
        assert answer.status_code == 200, answer.text
        return [i["title"] for i in answer.json()["items"]]

    everything = titles()
    assert len(everything) == 3
    assert titles(sort="frequency")[0].startswith("CheckoutError")
    assert titles(environment="staging") == ["TimeoutError: upstream inventory service"]
    assert titles(release="shop@1.0") == [t for t in everything if t.startswith("CheckoutError")]
    assert titles(level="warning") == ["Disk usage above 90% on /var/lib/postgresql"]
    assert titles(query="inventory") == ["TimeoutError: upstream inventory service"]
    assert titles(query="postgres") == [
        "Disk usage above 90% on /var/lib/postgresql"
    ]  # prefix of a path part
    assert titles(query="reserve stock") == [t for t in everything if t.startswith("CheckoutError")]
    assert titles(query="nothing-like-this") == []
    first = client.get(f"/api/v1/projects/{project.id}/issues", params={"sort": "frequency"}).json()["items"][
        0
    ]
    assert first["times_seen"] == 3 and first["events_24h"] == 3
    # Short ids number the project's issues in the order they appeared; 3 events used up one number.
    short_ids = {
        i["title"].split(":")[0]: i["short_id"]
        for i in client.get(f"/api/v1/projects/{project.id}/issues").json()["items"]
    }
    assert short_ids == {
        "CheckoutError": "SHOP-1",
        "TimeoutError": "SHOP-2",
        "Disk usage above 90% on /var/lib/postgresql": "SHOP-3",
    }
    assert first["level"] == "error" and first["status"] == "unresolved"
    assert client.get(f"/api/v1/projects/{project.id}/issues", params={"status": "bogus"}).status_code == 422
    assert client.get(f"/api/v1/projects/{project.id}/issues", params={"level": "loud"}).status_code == 422


def test_issue_pages_walk_forward_and_back_without_gaps(live_server):
    for n in range(7):
        send_seed(
            live_server.url, project_key="paged", message=f"Distinct failure kind {chr(65 + n)}{chr(65 + n)}x"
        )
    project = scalar("SELECT id FROM projects WHERE name = 'paged'")
    client = api(live_server.url, make_token([project]))
    url = f"/api/v1/projects/{project}/issues"
    seen: list[int] = []
    pages = []
    cursor = None
    while True:
        page = client.get(url, params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        pages.append(page)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert sorted(seen, reverse=True) == seen and len(set(seen)) == 7  # newest first, no repeats
    assert pages[0]["prev_cursor"] is None
    back = client.get(url, params={"limit": 3, "cursor": pages[2]["prev_cursor"]}).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in pages[1]["items"]]
    # Resolved issues leave the default (unresolved) list and appear under status=resolved and all.
    client.patch(f"/api/v1/issues/{seen[0]}", json={"status": "resolved"})
    assert seen[0] not in [i["id"] for i in client.get(url, params={"limit": 10}).json()["items"]]
    assert [i["id"] for i in client.get(url, params={"status": "resolved"}).json()["items"]] == [seen[0]]
    assert len(client.get(url, params={"status": "all", "limit": 10}).json()["items"]) == 7


def test_issue_detail_events_and_one_event(live_server, worker):
    first = send_seed(
        live_server.url, message="Database connection failed", stack="Error: Connection timeout"
    )
    second = send_seed(
        live_server.url, message="Database connection failed", stack="Error: Connection timeout"
    )
    issue_id = first["issue_id"]
    assert second["issue_id"] == issue_id
    client = api(live_server.url, make_token([scalar("SELECT id FROM projects")]))

    def analysed() -> dict | None:
        body = client.get(f"/api/v1/issues/{issue_id}").json()
        return body if body["analysis"]["status"] == "done" else None

    detail = wait_until(analysed)
    assert detail["times_seen"] == 2 and detail["latest_event_id"] == second["id"]
    assert detail["short_id"] == "TEST-1"  # the seed's project is named after its key, "test"
    analysis = detail["analysis"]
    assert analysis["model"] == "heuristic-v1" and analysis["provider"] == "heuristic"
    assert analysis["summary"] and analysis["root_cause"] and analysis["suggested_fix"]
    assert 0 < analysis["confidence"] <= 1 and analysis["trigger"] == "first"
    assert "## Summary" in analysis["analysis_text"]

    events = client.get(f"/api/v1/issues/{issue_id}/events", params={"limit": 1}).json()
    assert [e["id"] for e in events["items"]] == [second["id"]]
    older = client.get(
        f"/api/v1/issues/{issue_id}/events", params={"limit": 1, "cursor": events["next_cursor"]}
    )
    assert [e["id"] for e in older.json()["items"]] == [first["id"]] and older.json()["next_cursor"] is None
    assert events["items"][0]["message"] == "Database connection failed"

    event = client.get(f"/api/v1/events/{first['id']}").json()
    assert event["payload"]["message"] == "Database connection failed"
    assert event["data"]["request"]["path"] == "/api/test"
    assert event["status_code"] == 500 and event["issue_id"] == issue_id
    assert client.get("/api/v1/events/999999").status_code == 404


def test_status_changes_and_reanalyse(live_server):
    sent = send_seed(live_server.url)
    issue_id = sent["issue_id"]
    client = api(live_server.url, make_token([scalar("SELECT id FROM projects")]))
    resolved = client.patch(f"/api/v1/issues/{issue_id}", json={"status": "resolved"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    ignored = client.post(f"/api/v1/issues/{issue_id}/status", json={"status": "ignored"})
    assert ignored.json()["status"] == "ignored"
    assert scalar("SELECT status FROM issues WHERE id = :i", i=issue_id) == "ignored"
    assert client.patch(f"/api/v1/issues/{issue_id}", json={"status": "gone"}).status_code == 422
    reopened = client.patch(f"/api/v1/issues/{issue_id}", json={"status": "unresolved"})
    assert reopened.json()["status"] == "unresolved" and reopened.json()["resolved_at"] is None

    again = client.post(f"/api/v1/issues/{issue_id}/reanalyse")
    assert again.status_code == 202
    body = again.json()
    assert body["error_event_id"] == sent["id"] and body["status"] == "pending"
    analysis_sql = "SELECT trigger, status, generation FROM issue_analyses WHERE id = :a"
    (row,) = rows(analysis_sql, a=body["analysis_id"])
    # A worker left running by an earlier test may already be on it.
    assert row["trigger"] == "manual" and row["generation"] == 2 and row["status"] != "failed"
    assert client.get(f"/api/v1/issues/{issue_id}").json()["analysis"]["id"] == body["analysis_id"]
    assert client.post("/api/v1/issues/999999/reanalyse").status_code == 404


def test_openapi_documents_the_read_api_with_examples_and_bearer_auth(live_server):
    alpha, *_ = two_projects_with_issues(live_server.url)
    spec = api(live_server.url, make_token([alpha])).get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["ApiToken"]["description"],
    }
    schemas = spec["components"]["schemas"]
    for name in (
        "ProjectOut",
        "IssueOut",
        "IssuePageOut",
        "EventSummaryOut",
        "StatusIn",
        "ReanalysisOut",
        "ReleaseOut",
    ):
        assert schemas[name].get("examples"), name
    read_paths = [p for p in spec["paths"] if p.startswith("/api/v1/") and p != "/api/v1/events"]
    # The read API's 9 paths (releases among them) and the alert rules' 2 (list/create, one rule).
    assert len(read_paths) == 11
    for path in read_paths:
        for operation in spec["paths"][path].values():
            assert operation["security"] == [{"ApiToken": []}], path
            assert "404" in operation["responses"] or path == "/api/v1/projects"
    # The document is public, as API docs usually are; the data it describes is not.
    public = httpx.get(f"{live_server.url}/openapi.json", follow_redirects=False)
    assert public.status_code == 200 and public.json()["paths"] == spec["paths"]
    assert httpx.get(f"{live_server.url}/api/v1/projects").status_code == 401
    assert httpx.get(f"{live_server.url}/api/v1/issues/1").status_code == 401


def test_a_filter_with_a_nul_finds_what_ingest_stored_for_it(live_server):
    """PostgreSQL refuses NUL; ingest stores it as U+FFFD, and a filter naming the value as sent (say,
    copied from the SDK's config) must find it rather than fail."""
    project = make_project("nul")
    send_sentry(live_server.url, project, sentry_event(environment="prod\x00eu", release="v\x001"))
    client = api(live_server.url, make_token([project.id]))
    for params in ({"environment": "prod\x00eu"}, {"release": "v\x001"}, {"environment": "prod\ufffdeu"}):
        answer = client.get(f"/api/v1/projects/{project.id}/issues", params=params)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == 1
    answer = client.get(f"/api/v1/projects/{project.id}/issues", params={"environment": "\x00"})
    assert answer.status_code == 200 and answer.json()["items"] == []
