"""A user's first minutes, in a real browser: log in, open a project, send the seed's event, watch the
issue appear, read its analysis, resolve it, send the error again and see it regress."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.support.dashboard import PASSWORD, make_project, make_user, send_seed, send_sentry, sentry_event
from tests.support.db import scalar, wait_until


def reload_until_visible(page: Page, selector: str, attempts: int = 40) -> None:
    """The list does not poll by itself: reload as a user would until the row is there."""
    for _ in range(attempts):
        if page.locator(selector).count():
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator(selector)).to_be_visible()


def log_in(page: Page, base: str, shot: str | None = None) -> None:
    page.goto(f"{base}/projects")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects$"))
    if shot:
        screenshot(page, shot)
    page.get_by_label("Email").fill("dev@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/projects")


def refused_by_csp(page: Page) -> list[str]:
    """Collects what the Content-Security-Policy blocks on this page (Chromium logs each refusal)."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def test_log_in_see_an_issue_appear_read_its_analysis_resolve_and_see_it_regress(live_server, worker, page):
    base = live_server.url
    make_user()
    refused = refused_by_csp(page)
    log_in(page, base, "login")

    page.get_by_placeholder("New project name").fill("checkout")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Waiting for the first event")).to_be_visible()
    screenshot(page, "issues_empty_project")
    page.get_by_role("link", name="Projects").first.click()
    expect(page.locator("#project-1")).to_contain_text("http://")
    screenshot(page, "projects")
    page.get_by_role("link", name="checkout").click()
    key = scalar("SELECT public_key FROM projects WHERE name = 'checkout'")  # shown on the projects page
    expect(page.locator("body")).to_contain_text(key)

    sent = send_seed(
        base, project_key=key, message="Database connection failed", stack="Error: Connection timeout"
    )
    row = f'[data-issue-id="{sent["issue_id"]}"]'
    reload_until_visible(page, row)
    expect(page.locator(row)).to_contain_text("Error: Connection timeout")
    expect(page.locator(row)).to_contain_text("unresolved")

    page.locator(row).get_by_role("link").click()
    # The page refreshes itself while the analysis is pending; the worker finishes it within seconds.
    summary = page.locator('[data-field="summary"]')
    expect(summary).to_be_visible(timeout=30_000)
    stored = scalar("SELECT summary FROM issue_analyses WHERE issue_id = :i", i=sent["issue_id"])
    expect(summary).to_have_text(re.compile(re.escape(stored.split("`")[0].strip()[:40])))
    expect(page.locator("#analysis")).to_contain_text("heuristic-v1")
    expect(page.locator("#analysis")).to_contain_text("Confidence")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".notice")).to_contain_text("Issue resolved")
    expect(page.locator(".issue-head .status")).to_have_text("resolved")

    send_seed(base, project_key=key, message="Database connection failed", stack="Error: Connection timeout")
    page.reload()
    expect(page.locator(".issue-head .status")).to_have_text("unresolved")
    expect(page.locator(".issue-head .regressed")).to_be_visible()
    # A regression asks for a fresh analysis; it is done by the time the page stops refreshing.
    wait_until(lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'") == 2, timeout_s=30)
    page.goto(f"{base}/issues/{sent['issue_id']}")
    expect(page.locator("#analysis")).to_contain_text("regression")
    screenshot(page, "issue_detail_regressed")

    page.goto(f"{base}/projects/1/issues")
    expect(page.locator(row)).to_contain_text("regressed")
    expect(page.locator(row)).to_contain_text("2 events")
    screenshot(page, "issues_list")
    assert refused == []  # every page rendered and worked under the policy


def test_screenshots_of_a_rich_issue_tokens_and_a_phone(live_server, worker, page, browser):
    base = live_server.url
    make_user()
    project = make_project("shop")
    for tags in ({"region": "eu-west"}, {"region": "us-east"}, {"region": "eu-west"}):
        send_sentry(base, project, sentry_event(tags={**tags, "customer_tier": "gold"}))
    key = project.public_key
    send_seed(base, project_key=key, message="Payment provider answered 502 Bad Gateway", status_code=502)
    send_seed(
        base, project_key=key, message="Not found: /api/items/42", status_code=404, path="/api/items/42"
    )
    issue_id = scalar("SELECT id FROM issues WHERE title LIKE 'CheckoutError%'")
    wait_until(lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'") == 2, timeout_s=30)
    refused = refused_by_csp(page)
    log_in(page, base)
    page.goto(f"{base}/issues/{issue_id}")
    expect(page.locator(".frame.in-app").first).to_be_visible()
    expect(page.locator(".detail-side")).to_contain_text("eu-west")
    screenshot(page, "issue_detail")
    page.goto(f"{base}/projects/{project.id}/issues?status=all&sort=frequency")
    expect(page.locator(".issue-row[data-issue-id]")).to_have_count(3)
    screenshot(page, "issues_list_mixed")
    page.goto(f"{base}/tokens")
    page.get_by_label("Name").fill("triage bot")
    page.get_by_label("shop").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("flt_")
    screenshot(page, "tokens")
    page.goto(f"{base}/users")
    expect(page.get_by_role("heading", name="Add a user")).to_be_visible()
    screenshot(page, "users")
    assert refused == []

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile = phone.new_page()
    log_in(mobile, base)
    mobile.goto(f"{base}/projects/{project.id}/issues?status=all")
    expect(mobile.locator(".issue-row[data-issue-id]").first).to_be_visible()
    screenshot(mobile, "issues_list_phone")
    mobile.goto(f"{base}/issues/{issue_id}")
    screenshot(mobile, "issue_detail_phone")
    phone.close()
