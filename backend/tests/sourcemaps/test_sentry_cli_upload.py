"""Source maps uploaded with the real sentry-cli (npm @sentry/cli) to the live server, then a
minified error of the bundle, thrown by Node, sent as @sentry/browser sends it: the stored frames
name the original TypeScript file, function and line. Both kinds of upload (debug ids from
`sourcemaps inject`, and a release with `~/` URLs), two builds of the bug in one issue, an event
re-processed once its bundle is there, and re-analysis re-processing its event first."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dashboard import login, make_token, make_user
from tests.support.db import rows, scalar, wait_until
from tests.support.js_events import BUNDLE_URL, FIXTURES, minified_event, v8_stack
from tests.support.js_tools import node, sentry_cli
from tests.support.processes import run_cli
from tests.support.sentry import SentryProject, envelope, make_project, post_envelope

ORG = "acme"  # any organisation slug names Faultline's one organisation
RAISING_LINE = "  return { id: data.customer.id, items: [first] };"
ORIGINAL_STACK = [
    ("src/main.ts", "run", 10),
    ("node_modules/tiny-lib/index.js", "withEach", 4),
    ("src/main.ts", "checkout", 5),
    ("src/order.ts", "parseOrder", 17),
]


def upload_token(project: SentryProject, *scope: str) -> str:
    made = run_cli("create-token", "upload", "--project", str(project.id), *scope)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sentry_cli()), "--url", url, "--auth-token", token, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SENTRY_LOAD_DOTENV": "0", "SENTRY_DISABLE_UPDATE_CHECK": "1"},
    )


def build(tmp_path: Path, name: str) -> Path:
    """A copy of a fixture build, as a project's dist/ folder."""
    dist = tmp_path / name
    shutil.copytree(FIXTURES / name, dist)
    return dist


def thrown_stack(dist: Path) -> list[dict[str, Any]]:
    """The error the bundle throws, as Node reports it: frames in app.min.js, caller first."""
    script = (
        f"require({str(dist / 'app.min.js')!r});"
        'try { runCheckout([\'{"items":[{"price":1,"qty":2}]}\']) } catch (e) { console.log(e.stack) }'
    )
    out = subprocess.run([node(), "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return v8_stack(out.stdout, "app.min.js")


def injected_debug_id(dist: Path) -> str:
    match = re.search(r"//# debugId=([0-9a-f-]{36})", (dist / "app.min.js").read_text())
    assert match, "sentry-cli sourcemaps inject wrote no debug id"
    return match.group(1)


def send(project: SentryProject, event: dict[str, Any]) -> dict[str, Any]:
    """Send the event; the stored event once digested (its data, issue, grouping version)."""
    assert post_envelope(None, project, envelope(event)).status_code == 200
    return wait_until(lambda: stored(event["event_id"]))


def stored(event_id: str) -> dict[str, Any] | None:
    found = rows(
        "SELECT e.id, e.issue_id, e.data, i.grouping_version, i.culprit FROM error_events e"
        " JOIN issues i ON i.id = e.issue_id WHERE e.event_id = :id",
        id=event_id,
    )
    return found[0] if found else None


def frames_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    return event["data"]["exceptions"][0]["frames"]


def original(event: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(f["filename"], f["function"], f["lineno"]) for f in frames_of(event)]


@pytest.fixture
def shop(live_server) -> SentryProject:
    return make_project(live_server.url, "Web Shop")  # slug: web-shop


def test_debug_id_and_release_uploads_resolve_two_builds_into_one_issue(live_server, shop, tmp_path):
    token = upload_token(shop, "--scope", "project:write")

    # Build A the current way: debug ids injected, uploaded by project slug.
    dist_a = build(tmp_path, "build-a")
    injected = cli(live_server.url, token, "sourcemaps", "inject", str(dist_a))
    assert injected.returncode == 0, injected.stderr
    upload = cli(
        live_server.url,
        token,
        "sourcemaps",
        "upload",
        "--org",
        ORG,
        "--project",
        "web-shop",
        "--wait",
        str(dist_a),
    )
    assert upload.returncode == 0, upload.stderr
    debug_id = injected_debug_id(dist_a)
    assert (
        scalar("SELECT count(*) FROM artifact_bundle_files WHERE debug_id = CAST(:d AS uuid)", d=debug_id)
        == 2
    )

    # Build B the older way: no debug ids, a release, matched by ~/ URL (served under /assets/); the
    # project by its id.
    dist_b = build(tmp_path, "build-b")
    upload = cli(
        live_server.url, token, "sourcemaps", "upload", "--org", ORG, "--project", str(shop.id),
        "--release", "shop@2.0", "--url-prefix", "~/assets", "--wait", str(dist_b),
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr
    assert scalar("SELECT count(*) FROM upload_chunks") == 0  # assembled chunks are not kept

    first = send(shop, minified_event(thrown_stack(dist_a), debug_id=debug_id))
    assert original(first) == ORIGINAL_STACK
    raising = frames_of(first)[-1]
    assert raising["context_line"] == RAISING_LINE
    assert raising["pre_context"][-1] == "  const first = data.items[0];"
    assert raising["data"]["resolved_with"] == "debug_id"
    assert raising["data"]["minified"]["function"] == "i"
    assert [f["in_app"] for f in frames_of(first)] == [True, False, True, True]
    assert first["grouping_version"] == "v2"
    assert first["culprit"] == "src/order.ts in parseOrder"
    make_user()
    page = login(live_server.url).get(f"/issues/{first['issue_id']}")
    assert page.status_code == 200
    assert (
        "src/order.ts" in page.text and "parseOrder" in page.text and html.escape(RAISING_LINE) in page.text
    )
    sent = raising["data"]["minified"]
    assert f"minified: {BUNDLE_URL}:{sent['lineno']}:{sent['colno']} in i" in page.text

    second = send(shop, minified_event(thrown_stack(dist_b), release="shop@2.0"))
    # Build B has one more function in main.ts: the same frames, main.ts's lines further down.
    assert [frame[:2] for frame in original(second)] == [frame[:2] for frame in ORIGINAL_STACK]
    assert frames_of(second)[-1]["context_line"] == RAISING_LINE
    assert frames_of(second)[-1]["data"]["resolved_with"] == "release"
    assert second["issue_id"] == first["issue_id"]


def test_events_before_their_bundle_are_resolved_by_reprocess_and_by_reanalysis(
    live_server, shop, tmp_path, worker
):
    dist = build(tmp_path, "build-a")
    stack = thrown_stack(dist)
    early = send(shop, minified_event(stack, release="shop@1.0"))
    later = send(shop, minified_event(stack, release="shop@1.0"))
    assert frames_of(early)[-1]["function"] == "i" and frames_of(early)[-1]["data"] == {}
    assert later["issue_id"] == early["issue_id"]
    wait_until(
        lambda: scalar("SELECT status FROM issue_analyses WHERE issue_id = :i", i=early["issue_id"]) == "done"
    )

    token = upload_token(shop, "--scope", "project:write")
    upload = cli(
        live_server.url, token, "sourcemaps", "upload", "--org", ORG, "--project", "web-shop",
        "--release", "shop@1.0", "--url-prefix", "~/assets", str(dist),
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr

    again = run_cli("reprocess", str(early["id"]))
    assert again.returncode == 0, again.stderr
    assert "4 frame(s) resolved" in again.stdout
    assert original(stored(early["data"]["event_id"])) == ORIGINAL_STACK
    assert stored(later["data"]["event_id"])["issue_id"] == early["issue_id"]  # never regrouped

    # Re-analysis re-processes the issue's latest event before the analysis reads it.
    answer = httpx.post(
        f"{live_server.url}/api/v1/issues/{early['issue_id']}/reanalyse",
        headers={"Authorization": f"Bearer {make_token([shop.id])}"},
    )
    assert answer.status_code == 202, answer.text
    assert original(stored(later["data"]["event_id"])) == ORIGINAL_STACK
    analysis = wait_until(
        lambda: rows(
            "SELECT * FROM issue_analyses WHERE issue_id = :i AND trigger = 'manual' AND status = 'done'",
            i=early["issue_id"],
        )
    )[0]
    assert analysis["error_event_id"] == later["id"]
    assert "src/order.ts" in " ".join(str(analysis[k]) for k in ("summary", "root_cause", "suggested_fix"))
