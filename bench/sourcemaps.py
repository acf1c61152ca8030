"""Source maps under load (issue 20): ingest of minified browser events whose bundle is uploaded,
beside plain events, on `python -m app up` with its defaults (embedded PostgreSQL and Valkey).

    python bench/sourcemaps.py [--events 3000] [--connections 16] [--groups 20] [--rounds 2]

It starts `up` as bench/soak.py does (a data directory of its own under /tmp; only the per-project
rate limit raised, as every bench peer does, so that the quota does not throttle the load), makes
two projects, builds the test suite's TypeScript shop (backend/tests/js/app) with esbuild, injects
debug ids and uploads the source maps to one project with the real sentry-cli and a project:write
token, and captures the event `@sentry/browser` sends from that page in headless Chromium. Then, in
turn, three loads of E events each over N connections, each after a warm-up of the same groups:

- plain:     bench/loadgen.py's Python SDK envelopes (what the ingest table sends), to the default project;
- js-no-map: the captured browser event (new event ids; the exception type numbered per group, so
             there are G issues) to the project without a bundle: frames stay minified;
- js-map:    the same envelopes to the project with the bundle: every frame resolved before grouping.

Printed per load: accepted/s (2xx answers), stored/s (events in error_events, first send to last
stored), p50/p99, and each JS load's stored/s against plain's (target: js-map at least 0.5); and
how many js-map events were stored with their frames in cart.ts. Medians over --rounds. Figures
only: nothing is asserted. It stops `up`, and everything `up` started, on any exit.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent / "backend"
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(BACKEND))

import loadgen
import soak
import storage
from playwright.sync_api import Request, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.js_tools import build_app, run_sentry_cli
from tests.support.static_site import static_site

WARM_UP_EVENTS = 300
RELEASE = "shop@bench"


class Stack:
    """`python -m app up` (bench/soak.py's way) and the CLI run against it."""

    def __init__(self, port: int) -> None:
        os.environ["RATE_LIMIT_PER_MINUTE"] = "1000000000"
        os.environ["PUBLIC_URL"] = f"http://127.0.0.1:{port}"  # the DSNs the CLI prints name it
        self.up = soak.Soak(argparse.Namespace(port=port))

    def cli(self, *args: str) -> str:
        env = {**os.environ, "FAULTLINE_DATA_DIR": str(self.up.data)}
        done = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=BACKEND,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def project(self, name: str) -> tuple[int, str]:
        """A new project: (id, DSN)."""
        dsn = self.cli("create-project", name).splitlines()[-1]
        return int(loadgen.parse_dsn(dsn)[3]), dsn


def is_error_envelope(request: Request) -> bool:
    """The SDK's POST of the error (not of the page's session)."""
    body = request.post_data_buffer or b""
    return "/envelope/" in request.url and b'"type":"event"' in body


def browser_event(site_url: str) -> tuple[dict[str, Any], list[bytes]]:
    """What @sentry/browser POSTs when the page's checkout fails: (query parameters, envelope lines)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{site_url}/index.html")
        page.wait_for_selector("body[data-ready=yes]", state="attached")
        with page.expect_request(is_error_envelope) as sent:
            page.locator("#checkout").click()
        request = sent.value
        body = request.post_data_buffer or b""
        request.response()  # answered: the event is also stored once
        browser.close()
    query = dict(p.split("=", 1) for p in urlsplit(request.url).query.split("&") if "=" in p)
    return query, body.split(b"\n")


def js_target(
    dsn: str, query: dict[str, Any], lines: list[bytes], events: int, groups: int
) -> loadgen.Target:
    """`events` copies of the browser's envelope for the DSN's project: new event ids, G exception types."""
    key, host, port, project_id = loadgen.parse_dsn(dsn)
    header, item_header, payload = (json.loads(line) for line in lines[:3])
    bodies = []
    for i in range(events):
        event = copy.deepcopy(payload)
        event["event_id"] = uuid.uuid4().hex
        event["exception"]["values"][-1]["type"] = f"TypeError{i % groups:02d}"
        raw = json.dumps(event, separators=(",", ":")).encode()
        head = {**header, "event_id": event["event_id"]}
        item = {**item_header, "length": len(raw)} if "length" in item_header else item_header
        bodies.append(b"\n".join([json.dumps(head).encode(), json.dumps(item).encode(), raw]) + b"\n")
    params = {**query, "sentry_key": key}
    path = f"/api/{project_id}/envelope/?" + "&".join(f"{k}={v}" for k, v in params.items())
    headers = {
        "Host": f"{host}:{port}",
        "Content-Type": "text/plain;charset=UTF-8",  # what the browser SDK's fetch sends (no preflight)
        "Origin": "http://127.0.0.1:1",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome",
    }
    return loadgen.Target(host, port, path, headers, bodies, [len(b) for b in bodies])


def measure(
    stack: Stack, project_id: int, warm: loadgen.Target, target: loadgen.Target, connections: int
) -> dict[str, float]:
    """Warm up, send the load, wait until it is stored; its figures."""
    counter = storage.FaultlinePgCounter(stack.up.database_url(), project_id)
    try:
        before = counter.counts()
        warmed = loadgen.run_load(warm, min(connections, 4), max_seconds=60)
        storage.wait_drained(counter, before, warmed.accepted, timeout_s=120)
        baseline = counter.counts()
        res = loadgen.run_load(target, connections, max_seconds=180)
        drain = storage.wait_drained(counter, baseline, res.accepted, timeout_s=240)
    finally:
        counter.close()
    return {
        "accepted_per_s": res.accepted_per_s,
        "stored_per_s": drain.stored / max(drain.t_last_landed - res.t_first_send, 1e-9),
        "p50_ms": res.percentile(50),
        "p99_ms": res.percentile(99),
        "stored": drain.stored,
        "sent": res.sent,
    }


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--port", type=int, default=8767)
    return ap


def run_all(args: argparse.Namespace) -> str:
    """Start up, upload, capture, measure; the table (also what bench/run.py records)."""
    stack = Stack(args.port)
    work = Path(tempfile.mkdtemp(prefix="faultline-bench-sourcemaps-"))
    try:
        stack.up.start_up()
        print(f"[sourcemaps] up is ready on {stack.up.url} (data in {stack.up.data})", file=sys.stderr)
        plain_id, plain_dsn = stack.project("py-plain")
        bare_id, bare_dsn = stack.project("js-no-map")
        maps_id, maps_dsn = stack.project("js-map")
        token = stack.cli(
            "create-token", "bench-uploads", "--project", str(maps_id), "--scope", "project:write"
        )
        build = build_app(work / "app")
        run_sentry_cli("sourcemaps", "inject", str(build.dist))
        run_sentry_cli(
            "sourcemaps", "upload", "--org", "faultline", "--project", "js-map", str(build.dist),
            url=stack.up.url, token=token,
        )  # fmt: skip
        (build.dist / "settings.js").write_text(
            f"window.FAULTLINE = {json.dumps({'dsn': maps_dsn, 'release': RELEASE})};\n"
        )
        with static_site(build.dist) as site:
            query, lines = browser_event(site)

        loads = {
            "plain": (
                plain_id,
                lambda n, seed: loadgen.envelope_target(plain_dsn, n, args.groups, seed=seed),
            ),
            "js-no-map": (bare_id, lambda n, _seed: js_target(bare_dsn, query, lines, n, args.groups)),
            "js-map": (maps_id, lambda n, _seed: js_target(maps_dsn, query, lines, n, args.groups)),
        }
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in loads}
        for round_ in range(args.rounds):
            for name, (project_id, make) in loads.items():
                warm, target = make(WARM_UP_EVENTS, 100 + round_), make(args.events, 1 + round_)
                print(f"[sourcemaps] round {round_ + 1}: {name}", file=sys.stderr)
                figures[name].append(measure(stack, project_id, warm, target, args.connections))
                print(f"[sourcemaps] {name}: {figures[name][-1]}", file=sys.stderr)
        resolved = stack.up.query(
            f"SELECT count(*) FROM error_events WHERE project_id = {maps_id} AND data::text LIKE '%cart.ts%'"
        )
        total = stack.up.query(f"SELECT count(*) FROM error_events WHERE project_id = {maps_id}")
        return report(args, figures, resolved, total)
    finally:
        stack.up.stop_up()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(stack.up.data, ignore_errors=True)


def report(
    args: argparse.Namespace, figures: dict[str, list[dict[str, float]]], resolved: int, total: int
) -> str:
    """The figures as a Markdown table, and the target's verdict."""

    def median(name: str, key: str) -> float:
        return statistics.median(f[key] for f in figures[name])

    plain = median("plain", "stored_per_s") or float("nan")
    shape = f"E={args.events}, N={args.connections}, G={args.groups}, median of {args.rounds}"
    lines = [
        f"Source maps: ingest on `python -m app up` (defaults), {shape}",
        "",
        "| load | accepted/s | stored/s | p50 ms | p99 ms | stored/s vs plain |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in figures:
        stored = median(name, "stored_per_s")
        accepted, p50, p99 = (median(name, k) for k in ("accepted_per_s", "p50_ms", "p99_ms"))
        lines.append(
            f"| {name} | {accepted:,.0f} | {stored:,.0f} | {p50:.1f} | {p99:.1f} | {stored / plain:.2f} |"
        )
    ratio = median("js-map", "stored_per_s") / plain
    lines += [
        "",
        f"js-map events stored with frames resolved to cart.ts: {resolved:,} of {total:,}",
        "the cost of resolving alone (the same event, js-map against js-no-map): stored/s "
        f"{median('js-map', 'stored_per_s') / median('js-no-map', 'stored_per_s'):.2f}, accepted/s "
        f"{median('js-map', 'accepted_per_s') / median('js-no-map', 'accepted_per_s'):.2f}",
        f"target (js-map stored/s at least 0.5 of plain): {'met' if ratio >= 0.5 else 'MISSED'} ({ratio:.2f})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    print("\n" + run_all(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
