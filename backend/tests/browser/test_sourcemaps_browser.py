"""Issue 20 end to end, with the real client tools: a small TypeScript shop (tests/js/app) is bundled
and minified by esbuild with source maps, `sentry-cli sourcemaps inject` / `upload` send them to the
live server with a project:write token, and `@sentry/browser` in headless Chromium reports the
page's TypeError to the ingest endpoint from another origin. The stored event then names the
original .ts file, function and line; two builds of the same bug are one issue; the analysis names
the original file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.support.dashboard import make_token
from tests.support.db import rows, wait_until
from tests.support.js_tools import AppBuild, build_app, run_sentry_cli
from tests.support.sentry import SentryProject, make_project
from tests.support.static_site import static_site


@dataclass(frozen=True)
class Site:
    build: AppBuild
    url: str

    def configure(self, dsn: str, release: str) -> None:
        """The page's settings (what a real app would template into its HTML)."""
        settings = json.dumps({"dsn": dsn, "release": release})
        (self.build.dist / "settings.js").write_text(f"window.FAULTLINE = {settings};\n")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    """Three builds, each served from its own origin: A and B (B moves the bug down 12 lines) with
    debug ids injected, and `plain` with none, for the release + URL kind of upload."""
    root = tmp_path_factory.mktemp("shop-app")
    builds = {
        "a": build_app(root / "a"),
        "b": build_app(root / "b", extra_lines=12),
        "plain": build_app(root / "plain"),
    }
    for name in ("a", "b"):
        run_sentry_cli("sourcemaps", "inject", str(builds[name].dist))
    with ExitStack() as stack:
        yield {
            name: Site(build, stack.enter_context(static_site(build.dist))) for name, build in builds.items()
        }


@pytest.fixture
def project(live_server) -> SentryProject:
    return make_project(live_server.url, "shop")


def upload(live_server, project: SentryProject, site: Site, *extra: str) -> str:
    token = make_token([project.id], "ci uploads", ["project:write"])
    return run_sentry_cli(
        "sourcemaps", "upload", "--org", "faultline", "--project", "shop", *extra, str(site.build.dist),
        url=live_server.url, token=token,
    )  # fmt: skip


def click_checkout(browser: Browser, site: Site) -> None:
    """Open the page and click the button that fails; wait for the SDK's report to be answered.

    The page and the API are two origins: the SDK's POST is a cross-origin fetch, which the browser
    lets the page read only with the API's CORS headers (a refusal shows in the console)."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{site.url}/index.html")
    expect(page.locator("body[data-ready=yes]")).to_be_attached()
    with page.expect_response(lambda r: "/envelope/" in r.url and r.request.method == "POST") as answer:
        page.locator("#checkout").click()
    response = answer.value
    assert response.status == 200, response.text()
    assert response.headers.get("access-control-allow-origin") in ("*", site.url)
    assert not [m for m in console if "CORS" in m or "Access-Control" in m], console
    context.close()


def stored_events(project: SentryProject, count: int) -> list[dict[str, Any]]:
    """Wait until the project holds `count` events; them, oldest first."""
    sql = "SELECT id, issue_id, release, data FROM error_events WHERE project_id = :p ORDER BY id"
    return wait_until(lambda: (found := rows(sql, p=project.id)) and len(found) >= count and found)


def innermost_app_frame(event: dict[str, Any]) -> dict[str, Any]:
    frames = event["data"]["exceptions"][-1]["frames"]
    return [f for f in frames if f.get("in_app") is not False][-1]


def test_browser_error_from_a_minified_bundle_is_stored_with_its_typescript_source(
    live_server, browser, project, sites
):
    upload(live_server, project, sites["a"])
    sites["a"].configure(project.dsn, "shop@1.0.0")
    click_checkout(browser, sites["a"])
    [event] = stored_events(project, 1)
    print(json.dumps(event["data"]["exceptions"], indent=1))
    frame = innermost_app_frame(event)
    line, text = sites["a"].build.source_line("cart.ts", "@bug")
    assert frame["filename"].endswith("cart.ts")
    assert frame["function"] == "shippingLabel"
    assert frame["lineno"] == line
    assert frame["context_line"].strip() == text.strip()
