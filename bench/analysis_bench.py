"""Analysis benchmark: analyses per second one Celery worker process completes against an LLM that answers
after a fixed 2 s, LLM calls per distinct issue (must be 1.0), and the worker's memory; each worker
configuration under test beside the seed's own (prefork, --concurrency=2).

    python bench/analysis_bench.py                       # --issues 60 --configs prefork:2,gevent:100
    python bench/analysis_bench.py --configs prefork:2,gevent:100 --latency 2 --no-record

Per configuration: the fake LLM server (backend/tests/fake_llm/server.py) and the Faultline API (through
bench/peer_faultline.sh with START_WORKER=0) are up; one worker with the configuration starts and is
awaited; N events with status 500 in N distinct groups go to the seed JSON endpoint; PostgreSQL is
polled until N analyses are done. analyses/s = N / (last analysis stored - first event sent).

The seed's time limits (soft 240 s / hard 300 s) stay whatever app/celery_app.py sets; this bench
does not override them. That a stuck LLM call is still cut at the soft limit in the gevent pool is
checked by the test suite (tests/e2e/test_gevent_pool.py), not here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import procmem
import run as ingest_run
import storage

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BACKEND = REPO / "backend"
GROUP_OFFSET = 3000  # groups never used by the ingest benchmark

# Settings that point the app at the fake OpenAI-compatible server (app/config.py); no daily budget.
LLM_ENV = {
    "LLM_PROVIDER": "openai",
    "LLM_BASE_URL": "{url}/v1",
    "LLM_API_KEY": "bench-fake-key",
    "LLM_MODEL": "fake-model",
    "LLM_DAILY_BUDGET_CALLS": "0",
}

# Analyses finished for a project, and when the last one was stored.
ANALYSES_DONE_SQL = (
    "SELECT count(*), extract(epoch FROM max(finished_at))::float8"
    " FROM issue_analyses WHERE project_id = {pid} AND status = 'done'"
)

# The fake server's request counter (its control API; control calls are not counted).
LLM_COUNTER_PATHS = ["/_control/requests"]
LLM_COUNTER_KEYS = ["call_count"]


def python_exe() -> str:
    """The project's Python (repo .venv when present)."""
    venv = REPO / ".venv/bin/python"
    return str(venv) if venv.exists() else sys.executable


def start_fake_llm(latency: float, log: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the tests' fake LLM server on a free port; return it and the URL it printed."""
    proc = subprocess.Popen(
        [python_exe(), "-m", "tests.fake_llm.server", "--port", "0", "--latency", str(latency)],
        cwd=BACKEND,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"https?://[^\s\"']+", line)
        if m:
            return proc, m.group(0).rstrip("/")
    stop_proc(proc)
    raise RuntimeError(f"fake LLM server printed no URL (see {log})")


def stop_proc(proc: subprocess.Popen[Any]) -> None:
    """Terminate a process group we started, then make sure it is gone."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 15)
            proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)


def llm_calls(url: str) -> int | None:
    """Calls the fake LLM server has answered so far, or None if it exposes no counter."""
    for path in LLM_COUNTER_PATHS:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as resp:  # noqa: S310 (loopback URL we started)
                data = json.loads(resp.read())
        except (OSError, ValueError):
            continue
        for key in LLM_COUNTER_KEYS:
            if isinstance(data, dict) and isinstance(data.get(key), int):
                return int(data[key])
    return None


@dataclass
class WorkerConfig:
    """A Celery pool and its concurrency, e.g. prefork:2 (the seed's) or threads:64."""

    pool: str
    concurrency: int

    @classmethod
    def parse(cls, text: str) -> WorkerConfig:
        """From "pool:concurrency"."""
        pool, _, conc = text.partition(":")
        return cls(pool, int(conc or 1))

    @property
    def label(self) -> str:
        """Its name in the table."""
        return f"{self.pool}:{self.concurrency}"

    def argv(self) -> list[str]:
        """The worker command line."""
        return [
            python_exe(),
            "-m",
            "celery",
            "-A",
            "app.celery_worker",
            "worker",
            "--queues=ai_analysis",
            f"--pool={self.pool}",
            f"--concurrency={self.concurrency}",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
        ]


def start_worker(cfg: WorkerConfig, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start one worker process with `cfg` and wait until it says it is ready."""
    proc = subprocess.Popen(
        cfg.argv(),
        cwd=BACKEND,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in log.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop_proc(proc)
    raise RuntimeError(f"worker {cfg.label} did not become ready (see {log})")


def analyses_done(db_url: str, project_id: int) -> tuple[int, float | None]:
    """(analyses stored for the project, epoch of the newest)."""
    import psycopg

    with psycopg.connect(storage._plain_pg_url(db_url), autocommit=True) as conn:
        n, last = conn.execute(ANALYSES_DONE_SQL.format(pid=int(project_id))).fetchone()
    return int(n), (float(last) if last is not None else None)


def measure(cfg: WorkerConfig, args: argparse.Namespace, llm_url: str, offset: int) -> dict[str, Any]:
    """Run one configuration end to end and return its figures."""
    # The API (started by peer_faultline.sh) and the worker both read the LLM settings from the env.
    os.environ.update({k: v.format(url=llm_url) for k, v in LLM_ENV.items()}, START_WORKER="0")
    workdir = Path(args.dir)
    workdir.mkdir(parents=True, exist_ok=True)
    peer = ingest_run.Peer(
        "faultline",
        "faultline",
        start_cmd=[
            "bash",
            str(BENCH / "peer_faultline.sh"),
            "start",
            "--port",
            str(ingest_run.free_port()),
            "--dir",
            str(workdir / "peer"),
        ],
        stop_cmd=["bash", str(BENCH / "peer_faultline.sh"), "stop", "--dir", str(workdir / "peer")],
    )
    worker = None
    try:
        peer.start(timeout=120)
        project_id = peer.project_id()
        # The worker talks to the database and broker the peer script chose.
        env = dict(os.environ, DATABASE_URL=peer.info["DB"])
        env["REDIS_URL"] = env["CELERY_BROKER_URL"] = peer.info["REDIS"]
        worker = start_worker(cfg, env, workdir / f"worker-{cfg.pool}-{cfg.concurrency}.log")
        sampler = procmem.PeakSampler([worker.pid]).start()
        calls_before = llm_calls(llm_url)
        target = loadgen.seed_target(
            peer.info["URL"],
            peer.info["PROJECT_KEY"],
            args.issues,
            args.issues,
            seed=offset,
            group_offset=offset,
        )
        res = loadgen.run_load(target, connections=4, max_seconds=60)
        n, last = 0, None
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            n, last = analyses_done(peer.info["DB"], project_id)
            if n >= res.accepted:
                break
            time.sleep(0.1)
        mem = sampler.stop()
        calls_after = llm_calls(llm_url)
    finally:
        if worker is not None:
            stop_proc(worker)
        peer.stop()
    span = (last - res.t_first_send) if last else float("nan")
    calls = None if calls_before is None or calls_after is None else calls_after - calls_before
    return {
        "config": cfg.label,
        "issues": args.issues,
        "accepted": res.accepted,
        "analysed": n,
        "seconds": round(span, 2),
        "analyses_per_s": round(n / span, 2) if span == span and span > 0 else None,
        "llm_calls": calls,
        "llm_calls_per_issue": round(calls / max(n, 1), 2) if calls is not None else None,
        **mem.summary(),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table, ratios against the first configuration (the seed's)."""
    base = rows[0].get("analyses_per_s") if rows else None
    out = [
        "| worker | issues | analysed | s | analyses/s | vs seed | LLM calls/issue "
        "| peak RSS MiB | peak PSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ratio = f"{r['analyses_per_s'] / base:.1f}x" if base and r.get("analyses_per_s") else ""
        out.append(
            f"| {r['config']} | {r['issues']} | {r['analysed']} | {r['seconds']} | {r['analyses_per_s']} | "
            f"{ratio} | {r['llm_calls_per_issue']} | {r['peak_rss_mib']} | {r['peak_pss_mib']} |"
        )
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    """The command line (bench/run.py builds its analysis step from these defaults)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--issues", type=int, default=60, help="N distinct issues, one 5xx event each")
    ap.add_argument("--configs", default="prefork:2,gevent:100", help="first one is the baseline")
    ap.add_argument("--latency", type=float, default=2.0, help="fake LLM answer delay, seconds")
    ap.add_argument("--timeout", type=float, default=120, help="max seconds to wait for the analyses")
    ap.add_argument("--dir", default="/tmp/faultline-analysis-bench")  # noqa: S108
    ap.add_argument("--no-record", action="store_true")
    return ap


def run_all(args: argparse.Namespace) -> str:
    """Measure every configuration; returns the table with its title."""
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FAULTLINE_PY", sys.executable)
    llm, url = start_fake_llm(args.latency, Path(args.dir) / "fake_llm.log")
    rows = []
    try:
        for i, text in enumerate(args.configs.split(",")):
            rows.append(measure(WorkerConfig.parse(text), args, url, GROUP_OFFSET + i * args.issues))
            print(f"[analysis] {json.dumps(rows[-1])}", file=sys.stderr)
    finally:
        stop_proc(llm)
    return (
        f"Analysis: {args.issues} distinct issues, one 5xx event each, fake LLM answering after "
        f"{args.latency:g} s; one worker process per configuration\n\n{table(rows)}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run every configuration; print and record the table."""
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if not (BACKEND / "app/main.py").exists() or not (BACKEND / "tests/fake_llm/server.py").exists():
        print(
            "analysis bench: needs backend/app/main.py and backend/tests/fake_llm/server.py", file=sys.stderr
        )
        return 3
    text = run_all(args)
    print(text)
    if not args.no_record:
        ingest_run.record(text, argv, script="bench/analysis_bench.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
