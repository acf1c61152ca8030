"""Does retention slow ingest down? Ingest p99 while a retention pass deletes 1,000,000 expired events,
against the same load before it started (issue 18: at most 20% worse).

    python bench/retention.py                          # 1,000,000 expired events; E=2000 N=16 G=20 per load
    python bench/retention.py --expired 200000 --no-record

Faultline is started once (bench/peer_faultline.sh). The table is filled with `--expired` events of
another project, stored 100 to 130 days ago (past EVENT_RETENTION_DAYS, 90), over one issue per 100
events, written by PostgreSQL itself (as bench/scaling.py does), then vacuumed, analysed and
checkpointed. After a warm-up load: `--baseline-loads` envelope loads back to back; once the inbox is
empty again, `python -m app cleanup` (the very pass the beat task runs) is started and the same loads
are sent back to back until it is done (loads whose send window the pass did not cover are left
out). The table shows the p99 of each phase (the median over its loads), the ratio, and how fast
the pass deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import filler
import loadgen
import run as ingest_run
import storage


def fill_expired(db_url: str, count: int) -> tuple[int, float]:
    """A project holding `count` expired events; returns its id and the seconds the fill took.

    Spread over 30 days, older first, as a server that kept 100 days of events would hold them."""
    started = time.monotonic()
    now = datetime.now(UTC)
    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        project = filler.project_named(conn, "retention-expired")
        filler.insert_events(
            conn, project, 0, count, label="expired", start=now - timedelta(days=130),
            step_s=30 * 86400.0 / count, issues_seen=(now - timedelta(days=130), now - timedelta(days=100)),
            times_seen=filler.EVENTS_PER_ISSUE,
        )  # fmt: skip
        filler.settle(conn)
    return project, time.monotonic() - started


def expired_left(db_url: str, project: int) -> int:
    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        return int(
            conn.execute("SELECT count(*) FROM error_events WHERE project_id = %s", (project,)).fetchone()[0]
        )


def parser() -> argparse.ArgumentParser:
    """The command line (bench/run.py builds its retention step from these defaults)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--expired", type=int, default=1_000_000, help="expired events the pass deletes")
    ap.add_argument(
        "--events", type=int, default=2000, help="events per load (short loads: several fit the pass)"
    )
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--baseline-loads", type=int, default=3)
    ap.add_argument("--max-during-loads", type=int, default=12)
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw")
    ap.add_argument("--loop", choices=["auto", "asyncio"], default="auto")
    ap.add_argument("--dir", default="/tmp/faultline-retention")  # noqa: S108
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--json", help="also write raw results as JSON to this file")
    return ap


def run_all(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Fill, measure before and during the pass; returns the table with its title, and the raw results."""
    args.max_send_seconds, args.drain_timeout, args.request_timeout = 150.0, 240.0, 30.0
    os.environ.setdefault("FAULTLINE_PY", sys.executable)
    script = ["bash", str(ingest_run.BENCH / "peer_faultline.sh")]
    port = str(ingest_run.free_port())
    peer = ingest_run.Peer(
        "faultline",
        "faultline",
        start_cmd=[*script, "start", "--port", port, "--dir", args.dir],
        stop_cmd=[*script, "stop", "--dir", args.dir],
    )
    out: dict[str, Any] = {}
    try:
        peer.start(timeout=300)
        db = peer.info["DB"]
        project, out["fill_s"] = fill_expired(db, args.expired)
        # Every load has groups of its own (each creates its issues, as the first load of a day would),
        # and is built before the clock starts: nothing but the loads runs beside the pass.
        loads = args.baseline_loads + args.max_during_loads
        targets = iter(
            [peer.target("envelope", args.events, args.groups, 3000 + 100 * k) for k in range(loads)]
        )
        budget = ingest_run.Budget(600)
        ingest_run.run_mode(peer, "envelope", args, budget, reserve=0, group_offset=2900)  # warm, drained

        def send() -> dict[str, Any]:
            res = loadgen.run_load(
                next(targets),
                args.connections,
                max_seconds=60,
                timeout=30,
                client=args.client,
                loop=args.loop,
            )
            return {**res.summary(), "t0": res.t_first_send, "t1": res.t_last_response}

        out["baseline"] = [send() for _ in range(args.baseline_loads)]
        wait_quiet(db)
        env = {**os.environ, "DATABASE_URL": db}
        log_path = Path(args.dir) / "cleanup.log"
        with log_path.open("w") as log:
            started, t_start = time.monotonic(), time.time()
            cleanup = subprocess.Popen(
                [os.environ["FAULTLINE_PY"], "-m", "app", "cleanup"],
                cwd=ingest_run.REPO / "backend", env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            ended: list[float] = []  # when the pass exited, wall clock and monotonic
            watcher = threading.Thread(
                target=lambda: ended.extend((cleanup.wait(), time.time(), time.monotonic()))
            )
            watcher.start()
            out["during"] = []
            while not ended and len(out["during"]) < args.max_during_loads:
                out["during"].append(send())
            watcher.join()
            _, t_end, done = ended
            out["cleanup_s"] = round(done - started, 1)
        out["cleanup_output"] = log_path.read_text().strip().splitlines()[-1:]
        out["expired_left"] = expired_left(db, project)
    finally:
        peer.stop()
    # Only loads whose whole send window lay within the pass count.
    out["during_counted"] = [r for r in out["during"] if t_start <= r["t0"] and r["t1"] <= t_end]
    return table(out, args), out


def wait_quiet(db_url: str, timeout_s: float = 120) -> None:
    """Until the digesters have stored everything the loads sent (the pass starts on a quiet inbox)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM ingest_inbox").fetchone()[0] == 0:
                return
            time.sleep(0.2)


def table(out: dict[str, Any], args: argparse.Namespace) -> str:
    """Markdown: p99 and accepted/s before and while the pass runs, and the pass's own figures."""
    before, during = out["baseline"], out["during_counted"]

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rows) if rows else float("nan")

    p99_ratio = med(during, "p99_ms") / med(before, "p99_ms") if during and before else float("nan")
    lines = [
        "| phase | loads | p50 ms | p99 ms (median) | accepted 2xx/s (median) | each load's p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, rows in (("before the pass", before), ("while the pass deletes", during)):
        each = " / ".join(f"{r['p99_ms']:.1f}" for r in rows)
        lines.append(
            f"| {name} | {len(rows)} | {med(rows, 'p50_ms'):.1f} | {med(rows, 'p99_ms'):.1f} | "
            f"{med(rows, 'accepted_per_s'):,.1f} | {each} |"
        )
    rate = (args.expired - out["expired_left"]) / out["cleanup_s"] if out["cleanup_s"] else 0
    verdict = "✔" if p99_ratio <= 1.2 else "✘"
    return (
        f"Retention: ingest (E={args.events}, N={args.connections}, G={args.groups}) while "
        f"`python -m app cleanup` deletes {args.expired:,} expired events (target: p99 at most 20% worse)\n\n"
        + "\n".join(lines)
        + f"\n\np99 while deleting / before: {p99_ratio:.2f}x {verdict}. The pass took {out['cleanup_s']} s "
        f"({rate:,.0f} events/s; {out['expired_left']:,} expired events left), fill {out['fill_s']:.0f} s; "
        f"{len(out['during']) - len(during)} load(s) outlasting the pass not counted. "
        f"Pass said: {' '.join(out['cleanup_output'])}"
    )


def main(argv: list[str] | None = None) -> int:
    """Fill, load, delete, measure; print and record the table."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    text, out = run_all(args)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    if not args.no_record:
        ingest_run.record(text, argv, script="bench/retention.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
