"""Ingest benchmark, Faultline side by side with Bugsink: start each peer, send the same load, count what
landed in its database, sample its memory, print one table with the ratios; then the analysis table
(bench/analysis_bench.py), the scaling table (bench/scaling.py), the retention table
(bench/retention.py) and the source-map table (bench/sourcemaps.py); append them all to RESULTS.md.

Faultline runs twice: `faultline` is the tuned single-process peer (bench/peer_faultline.sh: one web
worker), `faultline-up` is what users run, `python -m app up` with its defaults
(bench/peer_faultline_up.sh). Both get the same loads, interleaved, and both are compared with Bugsink.

    python bench/run.py                                  # E=5000, N=16, G=20, all peers; analysis; scaling
    python bench/run.py --peers bugsink --no-record      # Bugsink only, nothing written
    python bench/run.py --peers faultline-up --skip-analysis --skip-scaling   # `up` alone
    python bench/run.py --faultline-dsn http://KEY@127.0.0.1:8000/1 \\
        --faultline-db postgresql://… --faultline-pids 1234 5678 --faultline-project-key KEY

A peer is started by a command that prints KEY=VALUE lines on stdout (bench/peer_bugsink.sh start,
bench/peer_faultline.sh start, bench/peer_faultline_up.sh start):
    URL=http://127.0.0.1:PORT   DSN=http://KEY@127.0.0.1:PORT/ID   PROJECT_ID=ID   PROJECT_KEY=KEY
    DB=<sqlite path | postgresql url>   PIDS=<roots of the server's process trees>
    EXTRA_PIDS=<database/broker servers, reported apart>   (optional)
and stopped by its stop command. Flags given for Faultline override what its start command printed,
and with no start command they describe an already running server.

The peers run one after the other, never at once (two cores). Every phase is bounded; the whole run
keeps within --budget-seconds (a step that no longer fits is reported as skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import procmem
import storage

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WARMUP_EVENTS = 500
WARMUP_GROUPS = 4
# Group number offsets so warm-up, envelope and seed-JSON events never share a group.
OFFSET_ENVELOPE, OFFSET_SEED, OFFSET_WARMUP = 0, 500, 1000


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Peer:
    """One server under test and how to reach, count and stop it."""

    name: str  # "bugsink" | "faultline" | "faultline-up": what --peers selects and results are keyed by
    kind: str  # "bugsink" | "faultline"
    start_cmd: list[str] | None = None
    stop_cmd: list[str] | None = None
    info: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    label: str = ""  # the table's column heading; the name when empty

    def start(self, timeout: float) -> None:
        """Run the start command (if any) and take its KEY=VALUE lines; then apply flag overrides."""
        if self.start_cmd:
            print(f"[run] starting {self.name}: {shlex.join(self.start_cmd)}", file=sys.stderr)
            out = subprocess.run(
                self.start_cmd, check=True, capture_output=True, text=True, timeout=timeout, cwd=REPO
            )
            sys.stderr.write(out.stderr)
            for line in out.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep and key.isupper():
                    self.info[key] = value.strip()
        self.info.update({k: v for k, v in self.overrides.items() if v})

    def stop(self) -> None:
        """Run the stop command, if any."""
        if self.stop_cmd:
            subprocess.run(self.stop_cmd, check=False, timeout=60, cwd=REPO)

    @property
    def pids(self) -> list[int]:
        """Roots of the server's process trees (API + workers)."""
        return [int(p) for p in self.info.get("PIDS", "").split()]

    @property
    def extra_pids(self) -> list[int]:
        """Roots of infrastructure processes (database, broker), reported apart."""
        return [int(p) for p in self.info.get("EXTRA_PIDS", "").split()]

    def project_id(self) -> int:
        """The project the load goes to."""
        if self.info.get("PROJECT_ID"):
            return int(self.info["PROJECT_ID"])
        if self.info.get("DSN"):
            return int(loadgen.parse_dsn(self.info["DSN"])[3])
        return storage.project_id_for_key(self.info["DB"], self.info["PROJECT_KEY"])

    def counter(self) -> storage.StoreCounter:
        """A counter on the peer's own storage."""
        if self.kind == "bugsink":
            return storage.BugsinkSqliteCounter(self.info["DB"], self.project_id())
        return storage.FaultlinePgCounter(self.info["DB"], self.project_id())

    def modes(self) -> list[str]:
        """Load modes this peer supports with what we know of it."""
        modes = ["envelope"] if self.info.get("DSN") else []
        if self.kind == "faultline" and self.info.get("URL") and self.info.get("PROJECT_KEY"):
            modes.append("seed")
        return modes

    def target(self, mode: str, events: int, groups: int, offset: int) -> loadgen.Target:
        """Pre-built requests for `mode`."""
        if mode == "envelope":
            return loadgen.envelope_target(
                self.info["DSN"], events, groups, seed=offset + 1, group_offset=offset
            )
        return loadgen.seed_target(
            self.info["URL"], self.info["PROJECT_KEY"], events, groups, seed=offset + 1, group_offset=offset
        )


class Budget:
    """Wall-clock budget for the whole run; phases take what is left, keeping a reserve for later ones."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self, reserve: float = 0.0) -> float:
        """Seconds left after keeping `reserve` aside (never below 5)."""
        return max(5.0, self.deadline - time.monotonic() - reserve)


def run_mode(
    peer: Peer,
    mode: str,
    args: argparse.Namespace,
    budget: Budget,
    reserve: float,
    group_offset: int | None = None,
) -> dict[str, Any]:
    """Warm up, then send E events over N connections, wait for the drain, and measure."""
    counter = peer.counter()
    try:
        offset = OFFSET_ENVELOPE if mode == "envelope" else OFFSET_SEED
        offset = offset if group_offset is None else group_offset
        warm = peer.target(mode, WARMUP_EVENTS, WARMUP_GROUPS, OFFSET_WARMUP + offset)
        before_warm = counter.counts()
        wres = loadgen.run_load(
            warm, min(args.connections, 4), max_seconds=30, client=args.client, loop=args.loop
        )
        storage.wait_drained(counter, before_warm, wres.accepted, timeout_s=min(60, budget.left(reserve)))

        target = peer.target(mode, args.events, args.groups, offset)
        baseline = counter.counts()
        sampler = procmem.PeakSampler(peer.pids).start()
        extra = procmem.PeakSampler(peer.extra_pids).start() if peer.extra_pids else None
        print(
            f"[run] {peer.name}/{mode}: {args.events} events, "
            f"{args.connections} connections, {args.groups} groups",
            file=sys.stderr,
        )
        res = loadgen.run_load(
            target,
            args.connections,
            max_seconds=min(args.max_send_seconds, budget.left(reserve)),
            timeout=args.request_timeout,
            client=args.client,
            loop=args.loop,
        )
        drain = storage.wait_drained(
            counter, baseline, res.accepted, timeout_s=min(args.drain_timeout, budget.left(reserve))
        )
        mem = sampler.stop()
        extra_mem = extra.stop() if extra else None
    finally:
        counter.close()
    drained_s = max(drain.t_last_landed - res.t_first_send, 1e-9)
    out: dict[str, Any] = {
        "peer": peer.name,
        "label": peer.label or peer.name,
        "mode": mode,
        **res.summary(),
        "stored": drain.stored,
        "lost": res.accepted - drain.stored,
        "drain_complete": drain.complete,
        "drained_s": round(drained_s, 3),
        "drained_per_s": round(drain.stored / drained_s, 1),
        "issues_created": drain.issues,
        "groups": args.groups,
        **mem.summary(),
    }
    if extra_mem:
        out["infra_peak_rss_mib"] = extra_mem.summary()["peak_rss_mib"]
        out["infra_peak_pss_mib"] = extra_mem.summary()["peak_pss_mib"]
    print(f"[run] {json.dumps(out)}", file=sys.stderr)
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _status(r: dict[str, Any]) -> str:
    return " ".join(f"{k}x{v}" for k, v in sorted(r["status"].items()))


ROWS: list[tuple[str, str, str, float | None, str]] = [
    # label, key, ratio direction ("up": F/B, "down": B/F, "": none), target ratio, target text
    ("accepted 2xx/s", "accepted_per_s", "up", 10, "≥ 10x"),
    ("drained events/s (stored+grouped)", "drained_per_s", "up", 20, "≥ 20x"),
    ("p50 latency ms", "p50_ms", "down", None, ""),
    ("p90 latency ms", "p90_ms", "down", None, ""),
    ("p99 latency ms", "p99_ms", "down", 4, "≤ 1/4"),
    ("peak RSS MiB (server tree)", "peak_rss_mib", "up", None, "≤ 1x"),
    ("peak PSS MiB (server tree)", "peak_pss_mib", "up", None, ""),
    ("sent", "sent", "", None, ""),
    ("accepted (2xx)", "accepted", "", None, ""),
    ("stored", "stored", "", None, ""),
    ("lost (accepted - stored)", "lost", "", None, "0"),
    ("issues created", "issues_created", "", None, "= G"),
    ("drain time s", "drained_s", "", None, ""),
    ("raw / gzip bytes per event", "raw_bytes_mean", "", None, ""),
]


def _ratio(direction: str, bv: Any, fv: Any) -> float | None:
    """Faultline against Bugsink, oriented so that more is better for Faultline."""
    if direction and isinstance(bv, int | float) and isinstance(fv, int | float) and bv and fv:
        return fv / bv if direction == "up" else bv / fv
    return None


def _verdict(key: str, target: float | None, ratio: float | None, bv: Any, fv: Any, groups: int) -> str:
    """✔ or ✘ against the row's target, empty when the row has none or a figure is missing."""
    if target is not None and ratio is not None:
        return "✔" if ratio >= target else "✘"
    if key == "peak_rss_mib" and ratio is not None:
        return "✔" if fv <= bv else "✘"
    if key == "lost" and fv is not None:
        return "✔" if fv == 0 else "✘"
    if key == "issues_created" and fv is not None:
        return "✔" if fv == groups else "✘"
    return ""


def _label(r: dict[str, Any]) -> str:
    return r.get("label") or r["peer"]


def table(results: list[dict[str, Any]], groups: int) -> str:
    """Markdown table: the envelope load on Bugsink and on each Faultline peer, each Faultline column
    with its ratios against Bugsink (and ✔/✘ against the target beside the ratio); seed JSON apart."""
    env = [r for r in results if r["mode"] == "envelope"]
    b = next((r for r in env if r["peer"] == "bugsink"), None)
    fs = [r for r in env if r["peer"] != "bugsink"] or [None]
    head = "| metric | Bugsink | " + " | ".join(f"{_label(f) if f else 'Faultline'} | ratio" for f in fs)
    lines = [
        "Sentry envelopes (gzip)",
        "",
        head + " | target |",
        "| --- | ---: | " + " | ".join("---: | ---:" for _ in fs) + " | --- |",
    ]

    def shown(r: dict[str, Any] | None, key: str) -> Any:
        v = (r or {}).get(key)
        if r and key == "raw_bytes_mean":
            return f"{r['raw_bytes_mean']:,} / {r['body_bytes_mean']:,}"
        if r and key == "drained_s":
            return f"{v:.1f}{'' if r['drain_complete'] else ' (gave up)'}"
        return v

    for label, key, direction, tgt, tgt_text in ROWS:
        bv = shown(b, key)
        cells = []
        for f in fs:
            fv = shown(f, key)
            ratio = _ratio(direction, bv, fv)
            verdict = _verdict(key, tgt, ratio, bv, fv, groups) if tgt_text else ""
            cell = " ".join(x for x in (f"{ratio:.2f}x" if ratio is not None else "", verdict) if x)
            cells.append(f"{_fmt(fv)} | {cell}")
        lines.append(f"| {label} | {_fmt(bv)} | {' | '.join(cells)} | {tgt_text} |")
    status = "".join(f"{_status(f) if f else '-'} |  | " for f in fs)
    lines.append(f"| status counts | {_status(b) if b else '-'} | {status} |")
    for i, r in enumerate((b, *fs)):
        if r and "infra_peak_rss_mib" in r:
            infra = f"{_fmt(r['infra_peak_rss_mib'])} / {_fmt(r['infra_peak_pss_mib'])}"
            cells = [""] * (1 + 2 * len(fs)) + [""]
            cells[0 if i == 0 else 2 * i - 1] = infra
            lines.append(
                f"| {_label(r)}: infra peak RSS / PSS MiB (DB, broker; apart) | {' | '.join(cells)} |"
            )
    lines += _against_first(fs)
    for f in fs:
        lines += _each_load(f)
    seeds = [r for r in results if r["mode"] == "seed"]
    if seeds:
        lines += [
            "",
            "Seed JSON endpoint POST /api/v1/events (Faultline only; Bugsink has no such endpoint)",
            "",
            "| peer | accepted/s | drained/s | p50 ms | p90 ms | p99 ms | stored | lost | issues "
            "| peak RSS MiB | status |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        keys = ("accepted_per_s", "drained_per_s", "p50_ms", "p90_ms", "p99_ms", "stored", "lost")
        keys += ("issues_created", "peak_rss_mib")
        lines += [f"| {_label(s)} | {' | '.join(_fmt(s[k]) for k in keys)} | {_status(s)} |" for s in seeds]
        for s in seeds:
            lines += _each_load(s)
    return "\n".join(lines)


def _against_first(fs: list[dict[str, Any] | None]) -> list[str]:
    """Below the table: each further Faultline peer's figures divided by the first one's."""
    first, others = fs[0], [f for f in fs[1:] if f]
    if not first or not others:
        return []
    keys = [("accepted/s", "accepted_per_s"), ("drained/s", "drained_per_s"), ("p99", "p99_ms")]
    keys.append(("peak RSS", "peak_rss_mib"))
    lines = [""]
    for f in others:
        each = ", ".join(
            f"{label} {f[key] / first[key]:.2f}x" for label, key in keys if first.get(key) and f.get(key)
        )
        lines.append(f"{_label(f)} against {_label(first)}: {each}")
    return lines


def _each_load(r: dict[str, Any] | None) -> list[str]:
    """Below a table: the figures of each load when a row is the median of several."""
    loads = (r or {}).get("loads", [])
    if not r:
        return []
    if len(loads) < r.get("loads_planned", 1):
        if len(loads) < 2:
            return ["", f"{_label(r)}: one load of {r['loads_planned']}, the others skipped for want of time"]
        skipped = f" ({r['loads_planned'] - len(loads)} more skipped for want of time)"
    else:
        skipped = ""
    if len(loads) < 2:
        return []
    figures = [("accepted/s", "accepted_per_s"), ("drained/s", "drained_per_s"), ("p99 ms", "p99_ms")]
    each = "; ".join(f"{label} " + " / ".join(_fmt(x[key]) for x in loads) for label, key in figures)
    return ["", f"{_label(r)}: the median of {len(loads)} loads{skipped}, each on a fresh server: {each}"]


def machine() -> str:
    """nproc, memory, CPU model, kernel, Python."""
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{len(os.sched_getaffinity(0))} CPUs ({model}), {mem_kb / 1024**2:.1f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )


def git_commit() -> str:
    """Short HEAD commit, with -dirty when the tree has uncommitted changes outside RESULTS.md."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        st = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout
        dirty = any(not line.endswith("bench/RESULTS.md") for line in st.splitlines())
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def build_peers(args: argparse.Namespace) -> list[Peer]:
    """The peers asked for, in the order they run."""
    peers: list[Peer] = []
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    if "bugsink" in wanted:
        port = args.bugsink_port or free_port()
        script = ["bash", str(BENCH / "peer_bugsink.sh")]
        peers.append(
            Peer(
                "bugsink",
                "bugsink",
                start_cmd=[*script, "start", "--port", str(port), "--dir", args.bugsink_dir],
                stop_cmd=[*script, "stop", "--dir", args.bugsink_dir],
            )
        )
    if "faultline" in wanted:
        overrides = {
            "DSN": args.faultline_dsn,
            "URL": args.faultline_url,
            "PROJECT_ID": args.faultline_project_id,
            "PROJECT_KEY": args.faultline_project_key,
            "DB": args.faultline_db,
            "PIDS": " ".join(map(str, args.faultline_pids or [])),
            "EXTRA_PIDS": " ".join(map(str, args.faultline_extra_pids or [])),
        }
        start = shlex.split(args.faultline_start_cmd) if args.faultline_start_cmd else None
        stop = shlex.split(args.faultline_stop_cmd) if args.faultline_stop_cmd else None
        if start is None and not args.faultline_dsn and not args.faultline_url:
            default = BENCH / "peer_faultline.sh"
            if (REPO / "backend/app/main.py").exists() and default.exists():
                port, fdir = str(free_port()), args.faultline_dir
                start = ["bash", str(default), "start", "--port", port, "--dir", fdir]
                stop = ["bash", str(default), "stop", "--dir", fdir]
        if start is None and not args.faultline_dsn and not args.faultline_url:
            print(
                "[run] faultline: not configured (no backend/app/main.py, no flags); skipped", file=sys.stderr
            )
        else:
            label = "faultline"
            if start and start[1:2] == [str(BENCH / "peer_faultline.sh")]:
                workers = os.environ.get("API_WORKERS", "1")
                label = f"faultline ({workers} web worker{'' if workers == '1' else 's'})"
            peers.append(Peer("faultline", "faultline", start, stop, overrides=overrides, label=label))
    if "faultline-up" in wanted:
        script = ["bash", str(BENCH / "peer_faultline_up.sh")]
        if (REPO / "backend/app/cli.py").exists():
            port, fdir = str(free_port()), args.faultline_up_dir
            up_args = os.environ.get("UP_ARGS", "").strip()
            peers.append(
                Peer(
                    "faultline-up",
                    "faultline",
                    start_cmd=[*script, "start", "--port", port, "--dir", fdir],
                    stop_cmd=[*script, "stop", "--dir", fdir],
                    label=f"faultline (python -m app up {up_args or 'defaults'})",
                )
            )
        else:
            print("[run] faultline-up: no backend/app/cli.py; skipped", file=sys.stderr)
    unknown = set(wanted) - {"bugsink", "faultline", "faultline-up"}
    if unknown:
        print(f"[run] unknown peers ignored: {', '.join(sorted(unknown))}", file=sys.stderr)
    return peers


def record(text: str, argv: list[str], script: str = "bench/run.py") -> None:
    """Append a dated, attributed result block (with the command that made it) to bench/RESULTS.md."""
    path = BENCH / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by `python bench/run.py` (one block per run).\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = shlex.join(["python", script, *argv])
    block = f"\n## {stamp} · commit {git_commit()}\n\nMachine: {machine()}  \nCommand: `{cmd}`\n\n{text}\n"
    with path.open("a") as f:
        f.write(block)


# Faultline's load of E events lasts about 2 s, Bugsink's about 20 s. On a shared machine whose speed
# swings by a fifth from one minute to the next, one 2-second window is a lottery, so Faultline gets
# several loads, each on a fresh server and database (a load on a warm one would find its issues
# already made), and the table shows the median of each figure; Bugsink's one long load is averaged
# over ten times that window already.
REP_SECONDS = 40


def reps_of(peer: Peer, args: argparse.Namespace) -> int:
    """How many loads a peer gets: repeats need a start command (a fresh server for each)."""
    if peer.name == "faultline-up" and peer.start_cmd:
        return max(1, args.faultline_up_loads)
    if peer.kind == "faultline" and peer.start_cmd:
        return max(1, args.faultline_loads)
    return 1


def run_peer(peer: Peer, args: argparse.Namespace, budget: Budget, reserve: float) -> list[dict[str, Any]]:
    """Start the peer, run each mode it supports once, stop it; the results (none if it failed)."""
    results = []
    try:
        peer.start(timeout=min(300, budget.left(reserve)))
        for mode in peer.modes():
            results.append(run_mode(peer, mode, args, budget, reserve=reserve))
    except (subprocess.SubprocessError, OSError, RuntimeError, LookupError) as exc:
        print(f"[run] {peer.name} failed: {exc!r}", file=sys.stderr)
        if isinstance(exc, subprocess.CalledProcessError):
            sys.stderr.write(exc.stdout or "")
            sys.stderr.write(exc.stderr or "")
    finally:
        peer.stop()
    return results


_MEDIAN = ("accepted_per_s", "drained_per_s", "p50_ms", "p90_ms", "p99_ms", "duration_s", "drained_s")
_WORST = ("peak_rss_mib", "peak_pss_mib", "infra_peak_rss_mib", "infra_peak_pss_mib", "lost")


def combine_loads(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per (peer, mode): the median of each rate and latency over its loads, the worst
    memory and loss, counts that must agree shown as "a / b" when they do not (status counts summed
    then); each load kept."""
    combined = []
    for key in dict.fromkeys((r["peer"], r["mode"]) for r in loads):
        runs = [r for r in loads if (r["peer"], r["mode"]) == key]
        out = dict(runs[0])
        if len(runs) > 1:
            for k in _MEDIAN:
                out[k] = statistics.median(r[k] for r in runs)
            for k in _WORST:
                if all(k in r for r in runs):
                    out[k] = max(r[k] for r in runs)
            for k in ("sent", "accepted", "stored", "issues_created"):
                values = [r[k] for r in runs]
                out[k] = values[0] if len(set(values)) == 1 else " / ".join(f"{v:,}" for v in values)
            out["drain_complete"] = all(r["drain_complete"] for r in runs)
            if any(r["status"] != runs[0]["status"] for r in runs):
                out["status"] = dict(sum((Counter(r["status"]) for r in runs), Counter()))
        out["loads"] = runs
        combined.append(out)
    return combined


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table; record it."""
    argv = sys.argv[1:] if argv is None else argv
    # SIGTERM ends the run as Ctrl-C does: each peer's `finally` runs its stop command.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=5000, help="E: events per load")
    ap.add_argument("--connections", type=int, default=16, help="N: keep-alive connections")
    ap.add_argument("--groups", type=int, default=20, help="G: distinct groups (issues expected)")
    ap.add_argument(
        "--peers",
        default="bugsink,faultline,faultline-up",
        help="faultline: one web worker (peer_faultline.sh); faultline-up: `python -m app up` defaults",
    )
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw")
    ap.add_argument("--loop", choices=["auto", "asyncio"], default="auto", help="load generator's event loop")
    ap.add_argument("--max-send-seconds", type=float, default=150)
    ap.add_argument("--drain-timeout", type=float, default=240)
    ap.add_argument("--request-timeout", type=float, default=30)
    ap.add_argument("--budget-seconds", type=float, default=1260, help="the whole run stays within this")
    ap.add_argument(
        "--faultline-loads",
        type=int,
        default=3,
        help="loads on Faultline, each on a fresh server; medians shown",
    )
    ap.add_argument(
        "--faultline-up-loads",
        type=int,
        default=3,
        help="loads on `python -m app up` (faultline-up), each on a fresh server; medians shown",
    )
    ap.add_argument("--skip-analysis", action="store_true", help="no analysis step (bench/analysis_bench.py)")
    ap.add_argument("--skip-scaling", action="store_true", help="no scaling step (bench/scaling.py)")
    ap.add_argument("--skip-retention", action="store_true", help="no retention step (bench/retention.py)")
    ap.add_argument(
        "--skip-sourcemaps", action="store_true", help="no source-map step (bench/sourcemaps.py)"
    )
    ap.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    ap.add_argument("--json", help="also write raw results as JSON to this file")
    ap.add_argument("--bugsink-port", type=int, default=0)
    ap.add_argument("--bugsink-dir", default="/tmp/bugsink-bench")  # noqa: S108
    ap.add_argument(
        "--faultline-start-cmd", help="prints KEY=VALUE lines (default: bench/peer_faultline.sh start)"
    )
    ap.add_argument("--faultline-stop-cmd")
    ap.add_argument("--faultline-dir", default="/tmp/faultline-bench")  # noqa: S108
    ap.add_argument("--faultline-up-dir", default="/tmp/faultline-bench-up")  # noqa: S108
    ap.add_argument("--faultline-dsn")
    ap.add_argument("--faultline-url", help="base URL, for the seed JSON endpoint")
    ap.add_argument("--faultline-project-id")
    ap.add_argument("--faultline-project-key")
    ap.add_argument("--faultline-db", help="PostgreSQL URL")
    ap.add_argument("--faultline-pids", type=int, nargs="*", help="API and worker root PIDs")
    ap.add_argument(
        "--faultline-extra-pids", type=int, nargs="*", help="PostgreSQL/Redis PIDs (reported apart)"
    )
    args = ap.parse_args(argv)

    budget = Budget(args.budget_seconds)
    # The peer scripts run the app with the interpreter running this benchmark (the venv's).
    os.environ.setdefault("FAULTLINE_PY", sys.executable)
    steps = extra_steps(args)
    peers = build_peers(args)
    # Every peer's first load, then the repeats round-robin (faultline, faultline-up, faultline, ...):
    # the two Faultline peers are compared load against neighbouring load, not minute against minute.
    reps = {peer.name: reps_of(peer, args) for peer in peers}
    rounds = range(max(reps.values(), default=0))
    schedule = [(peer, rep) for rep in rounds for peer in peers if rep < reps[peer.name]]
    loads: dict[str, list[dict[str, Any]]] = {peer.name: [] for peer in peers}
    took: dict[str, float] = {}
    for k, (peer, rep) in enumerate(schedule):
        # 90 s kept for each peer's first load still to come, and the steps' own time.
        firsts = sum(1 for _, later in schedule[k + 1 :] if later == 0)
        reserve = 90 * firsts + sum(seconds for _, seconds, _ in steps)
        if rep and budget.left() - reserve < max(REP_SECONDS, took.get(peer.name, 0)):
            print(f"[run] {peer.name}: no time left for load {rep + 1}", file=sys.stderr)
            continue
        t0 = time.monotonic()
        loads[peer.name] += run_peer(peer, args, budget, reserve)
        took[peer.name] = time.monotonic() - t0
    results: list[dict[str, Any]] = []
    for peer in peers:
        results += [{**r, "loads_planned": reps[peer.name]} for r in combine_loads(loads[peer.name])]

    head = f"E={args.events}, N={args.connections}, G={args.groups}"
    texts = [f"{head}\n\n{table(results, args.groups)}"]
    for name, seconds, step in steps:
        if budget.left() < seconds:
            texts.append(f"{name}: skipped, {budget.left():.0f} s left of the time budget")
            continue
        try:
            texts.append(step())
        # AssertionError: a tool the source-map step runs (sentry-cli, esbuild) failed, with its output.
        except (subprocess.SubprocessError, OSError, RuntimeError, LookupError, AssertionError) as exc:
            texts.append(f"{name}: failed ({exc!r})")
    texts.append(REPRODUCE)
    print("\n" + "\n\n".join(texts))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if results and not args.no_record:
        record("\n\n".join(texts), argv)
    return 0 if results else 1


REPRODUCE = """Reproduce: `make bench` (all of the above), or one part at a time:
`python bench/run.py --skip-analysis --skip-scaling` (ingest, both peers),
`python bench/analysis_bench.py` (analysis), `python bench/scaling.py` (10,000 vs 1,000,000 stored),
`python bench/retention.py` (ingest while 1,000,000 expired events are deleted),
`python bench/sourcemaps.py` (minified browser events with their source maps uploaded vs plain events)."""


def extra_steps(args: argparse.Namespace) -> list[tuple[str, float, Any]]:
    """The analysis and scaling steps that follow the ingest table: (name, seconds needed, run)."""
    import analysis_bench
    import retention
    import scaling
    import sourcemaps

    steps: list[tuple[str, float, Any]] = []
    faultline = {"faultline", "faultline-up"} & {p.strip() for p in args.peers.split(",")}
    if not args.skip_analysis and faultline:
        analysis_args = analysis_bench.parser().parse_args([])
        steps.append(("Analysis", 150.0, lambda: analysis_bench.run_all(analysis_args)))
    if not args.skip_scaling and faultline:
        scaling_args = scaling.parser().parse_args(["--client", args.client, "--loop", args.loop])
        steps.append(("Scaling", 150.0, lambda: scaling.run_all(scaling_args)[0]))
    if not args.skip_retention and faultline:
        retention_args = retention.parser().parse_args(["--client", args.client, "--loop", args.loop])
        steps.append(("Retention", 450.0, lambda: retention.run_all(retention_args)[0]))
    if not args.skip_sourcemaps and faultline:
        sourcemaps_args = sourcemaps.parser().parse_args([])
        steps.append(("Source maps", 400.0, lambda: sourcemaps.run_all(sourcemaps_args)))
    return steps


if __name__ == "__main__":
    raise SystemExit(main())
