"""The issue page a developer reads at 3 a.m.: a long Node event (44 breadcrumbs) and a Flask event
(ten framework frames), on a desktop and on a 390 px wide phone. The page heights are measured and
written to tests/artifacts/page_heights.json; screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.browser.test_dashboard_flow import log_in
from tests.support.dashboard import make_project, make_user, send_sentry
from tests.support.db import scalar, wait_until
from tests.support.long_events import flask_event, node_long_event

HEIGHTS = SCREENSHOTS.parent / "page_heights.json"
VIEWPORTS = {"desktop": (1280, 860), "phone": (390, 844)}


def record_height(name: str, height: int) -> None:
    HEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    heights: dict[str, Any] = json.loads(HEIGHTS.read_text()) if HEIGHTS.exists() else {}
    heights[name] = height
    HEIGHTS.write_text(json.dumps(heights, indent=2, sort_keys=True) + "\n")


def open_issue(browser: Browser, base: str, issue_id: int, viewport: str) -> Page:
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, base)
    page.goto(f"{base}/issues/{issue_id}")
    return page


def analysed_issue(base: str, event: dict[str, Any]) -> int:
    project = make_project("shop")
    send_sentry(base, project, event)
    wait_until(lambda: scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'") == 1, timeout_s=60)
    return int(scalar("SELECT id FROM issues"))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("kind", ["node", "flask"])
def test_issue_page_height(live_server, worker, browser: Browser, kind: str, viewport: str) -> None:
    make_user()
    event = node_long_event() if kind == "node" else flask_event()
    issue_id = analysed_issue(live_server.url, event)
    page = open_issue(browser, live_server.url, issue_id, viewport)
    height = page.evaluate("document.documentElement.scrollHeight")
    record_height(f"{kind}-{viewport}", height)
    screenshot(page, f"issue_{kind}_{viewport}")
    assert Path(HEIGHTS).exists()
    page.context.close()
