"""Issue 20 end to end, with the real client tools: a small TypeScript shop (tests/js/app) is bundled
and minified by esbuild with source maps, `sentry-cli sourcemaps inject` / `upload` send them to the
live server with a project:write token, and `@sentry/browser` in headless Chromium reports the
page's TypeError to the ingest endpoint from another origin. The stored event then names the
original .ts file, function and line; two builds of the same bug are one issue; the analysis names
the original file.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Response, expect

from tests.support.dashboard import login, make_token, make_user
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


def is_error_report(response: Response) -> bool:
    """The answer to the SDK's POST of the error (the page's session is reported apart)."""
    body = response.request.post_data_buffer or b""
    return "/envelope/" in response.url and b'"type":"event"' in body


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
    with page.expect_response(is_error_report) as answer:
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


def app_frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames of the event's error in our own sources (src/*.ts), caller first."""
    frames = event["data"]["exceptions"][-1]["frames"]
    return [
        f for f in frames if (f.get("filename") or "").endswith(".ts") and "node_modules" not in f["filename"]
    ]


def assert_resolved_to_typescript(event: dict[str, Any], site: Site, how: str) -> dict[str, Any]:
    """The error's frames name src/main.ts's onCheckout calling src/cart.ts's shippingLabel, which
    failed on the line of the build's cart.ts holding the bug; each keeps its minified position."""
    caller, failed = app_frames(event)[-2:]
    line, text = site.build.source_line("cart.ts", "@bug")
    assert failed["filename"].endswith("src/cart.ts"), failed
    assert failed["function"] == "shippingLabel"
    assert failed["lineno"] == line
    assert failed["context_line"].strip() == text.strip()
    assert any("cartTotal(cart)" in pre for pre in failed["pre_context"])  # the lines above it, as written
    assert caller["filename"].endswith("src/main.ts") and caller["function"] == "onCheckout"
    minified = failed["data"]["minified"]
    assert minified["filename"] == f"{site.url}/assets/app.js" and minified["lineno"] >= 1
    assert failed["data"]["resolved_with"] == how
    return failed


def test_two_builds_of_one_bug_resolve_to_their_typescript_source_in_one_issue(
    live_server, worker, browser, project, sites
):
    upload(live_server, project, sites["a"])
    upload(live_server, project, sites["b"])
    sites["a"].configure(project.dsn, "shop@1.0.0")
    sites["b"].configure(project.dsn, "shop@1.1.0")
    click_checkout(browser, sites["a"])
    click_checkout(browser, sites["b"])
    first, second = stored_events(project, 2)

    frame_a = assert_resolved_to_typescript(first, sites["a"], "debug_id")
    frame_b = assert_resolved_to_typescript(second, sites["b"], "debug_id")
    assert frame_b["lineno"] == frame_a["lineno"] + 12  # build B put 12 lines above the bug
    assert frame_a["data"]["minified"]["colno"] != frame_b["data"]["minified"]["colno"]
    assert first["issue_id"] == second["issue_id"], "two builds of one bug are one issue"
    assert first["release"] == "shop@1.0.0" and second["release"] == "shop@1.1.0"

    # The analysis (the default offline analyser) names the original file and function.
    analysis = wait_until(
        lambda: rows(
            "SELECT analysis_text FROM issue_analyses WHERE issue_id = :i AND status = 'done'",
            i=first["issue_id"],
        )
    )[0]["analysis_text"]
    assert "src/cart.ts" in analysis and "shippingLabel" in analysis, analysis

    # The issue page shows the TypeScript line, and the release the issue first appeared in.
    make_user()
    page = html.unescape(login(live_server.url).get(f"/issues/{first['issue_id']}").text)
    assert "src/cart.ts" in page and "shippingLabel" in page
    assert sites["b"].build.source_line("cart.ts", "@bug")[1].strip() in page
    assert "<code>shop@1.0.0</code>" in page


def test_release_and_url_upload_resolves_a_build_without_debug_ids(live_server, browser, project, sites):
    # The older kind of upload: no debug ids in the bundle; the event finds its map by its release
    # and the frame's URL, matched against the files' ~/assets/app.js.
    upload(live_server, project, sites["plain"], "--release", "shop@2.0.0")
    sites["plain"].configure(project.dsn, "shop@2.0.0")
    click_checkout(browser, sites["plain"])
    [event] = stored_events(project, 1)
    assert_resolved_to_typescript(event, sites["plain"], "release")
