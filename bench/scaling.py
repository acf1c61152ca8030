"""Does ingest slow down as the tables grow? The same envelope load at 10,000 and at 1,000,000 stored
events: accepted rate and p99 latency side by side (issue 7: at most 20% worse).

    python bench/scaling.py                      # sizes 10000,1000000; E=5000 N=16 G=20 per load
    python bench/scaling.py --sizes 10000,200000 --no-record

Faultline is started once (bench/peer_faultline.sh). Before each load the table is filled up to the
size with rows of another project (and one issue per 100 rows), written by PostgreSQL itself
(generate_series; small payloads: what grows with the table is its indexes, which the inserts and
the issue upserts walk), then vacuumed, analysed and checkpointed (see fill_to). The load goes to
the bench project as in bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import filler
import run as ingest_run
import storage


def fill_to(db_url: str, size: int, filler_project: int) -> float:
    """Add filler events (and their issues) until error_events holds `size` rows; returns seconds."""
    started = time.monotonic()
    now = datetime.now(UTC)
    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM error_events").fetchone()[0]
        first = conn.execute(
            "SELECT count(*) FROM error_events WHERE project_id = %s", (filler_project,)
        ).fetchone()[0]
        filler.insert_events(
            conn, filler_project, first, size - have, label="scaling", start=now, step_s=-1.0,
            issues_seen=(now, now), times_seen=0,
        )  # fmt: skip
        filler.settle(conn)
    return time.monotonic() - started


def filler_project(db_url: str) -> int:
    """A second project owning the filler rows."""
    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        return filler.project_named(conn, "scaling-filler")


def parser() -> argparse.ArgumentParser:
    """The command line (bench/run.py builds its scaling step from these defaults)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,1000000", help="stored events before each load")
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw")
    ap.add_argument("--loop", choices=["auto", "asyncio"], default="auto")
    ap.add_argument("--dir", default="/tmp/faultline-scaling")  # noqa: S108
    ap.add_argument("--repeats", type=int, default=3, help="loads per size; each figure's best counts")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--json", help="also write raw results as JSON to this file")
    return ap


def run_all(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    """Fill and load for each size; returns the table with its title, and the raw results."""
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
    results: list[dict[str, Any]] = []
    try:
        peer.start(timeout=300)
        filler = filler_project(peer.info["DB"])
        budget = ingest_run.Budget(1800)
        for i, size in enumerate(int(s) for s in args.sizes.split(",")):
            fill_s = fill_to(peer.info["DB"], size, filler)
            # Each load has groups of its own, so every load creates its issues afresh.
            runs = [
                ingest_run.run_mode(
                    peer,
                    "envelope",
                    args,
                    budget,
                    reserve=0,
                    group_offset=2000 + 100 * (i * args.repeats + k),
                )
                for k in range(args.repeats)
            ]
            results.append({**best_of(runs), "stored_before": size, "fill_s": round(fill_s, 1)})
    finally:
        peer.stop()
    return table(results, args), results


# On a shared machine one load can swing by 20% or more either way, the size of the effect measured,
# and its p99 by more (one neighbour's burst lands in its slowest 1%). Interference only ever slows a
# load down, so each size gets `repeats` loads and each figure's best counts, on both sizes alike:
# the most events per second, the lowest latencies. Every load's accepted/s and p99 are shown.
_HIGHER_IS_BETTER = ("accepted_per_s", "drained_per_s")
_LOWER_IS_BETTER = ("p50_ms", "p90_ms", "p99_ms")


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row for a size: each rate's highest and each latency's lowest over its loads, the worst
    loss, and every load's accepted/s and p99."""
    best = dict(runs[0])
    best.update({k: max(r[k] for r in runs) for k in _HIGHER_IS_BETTER})
    best.update({k: min(r[k] for r in runs) for k in _LOWER_IS_BETTER})
    best["lost"] = max(r["lost"] for r in runs)
    best["runs"] = [(r["accepted_per_s"], r["p99_ms"]) for r in runs]
    return best


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """Markdown table: one row per size, changes against the first."""
    base = results[0] if results else None
    lines = [
        "| stored events before the load | accepted 2xx/s | vs first | p50 ms | p99 ms | vs first "
        "| drained/s | lost | fill s | each load: accepted/s, p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        acc = f"{(r['accepted_per_s'] / base['accepted_per_s'] - 1) * 100:+.0f}%" if base else ""
        p99 = f"{(r['p99_ms'] / base['p99_ms'] - 1) * 100:+.0f}%" if base else ""
        lines.append(
            f"| {r['stored_before']:,} | {r['accepted_per_s']:,.1f} | {acc} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {p99} | {r['drained_per_s']:,.1f} | {r['lost']} | {r['fill_s']} | "
            f"{' / '.join(f'{a:,.1f}, {p:.1f}' for a, p in r['runs'])} |"
        )
    return (
        f"Scaling: the same envelope load (E={args.events}, N={args.connections}, G={args.groups}) "
        f"on a small and a large table, each figure the best of {args.repeats} loads "
        "(target: accepted and p99 at most 20% worse)\n\n" + "\n".join(lines)
    )


def main(argv: list[str] | None = None) -> int:
    """Fill, load, measure, for each size; print and record the table."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    text, results = run_all(args)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if results and not args.no_record:
        ingest_run.record(text, argv, script="bench/scaling.py")
    return 0 if results else 1


if __name__ == "__main__":
    raise SystemExit(main())
