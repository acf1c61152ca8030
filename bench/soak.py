"""Soak: the shipped default (`python -m app up`, embedded PostgreSQL and Valkey) under a moderate load
for a long time, with a fault every few minutes, and the accounting and resource figures over time.

    python bench/soak.py [--minutes 60] [--rate 60] [--fault-every 300]      (make soak)

Load: seed events at `--rate` per second over three projects, each a 5xx of one of 20 kinds per
project (60 issues, each analysed once by the default offline analyser). Every event carries its own
`event_id` and a sequence number; a client that gets no 2xx (503 during a fault, a timeout, a refused
connection) sends the same event again, as the README tells seed clients to, for up to 60 s.

Faults, in turn, one every `--fault-every` seconds: kill -9 of a digester, kill -9 of the Celery
worker, kill -9 of the embedded Valkey, and a 5 s freeze (SIGSTOP/SIGCONT) of the embedded PostgreSQL.

Printed: every 30 s a line of RSS per process type (MiB), PostgreSQL connections, inbox depth and
pending analyses; after each fault, how long connections took to come back to their steady-state
level before it (the most seen in the minute before the fault, probed every 2 s: pools keep a few
idle connections whose number varies with the load, so one instant's count is not the steady state);
at the end the accounting (sent / acknowledged / stored / lost / doubled, analyses) against the
targets: 0 lost, 0 doubled, each process type's RSS at most 10% above its level after warm-up,
connections back within 10 s of each fault.

It starts `up` in a data directory of its own (under /tmp) and stops it, and everything `up` started,
on success, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

HERE = Path(__file__).resolve().parent
BACKEND = HERE.parent / "backend"
sys.path.insert(0, str(HERE))

from procmem import tree_pids

PROJECTS = ("soak-a", "soak-b", "soak-c")
# Words, not numbers: grouping folds numbers in messages together.
KINDS = ("billing", "search", "checkout", "inventory", "shipping", "login", "export", "import", "mailer",
         "pricing", "reports", "uploads", "webhooks", "cache", "queue", "ledger", "profile", "catalog",
         "coupons", "refunds")  # fmt: skip
FAULTS = ("digester", "worker", "valkey", "postgres-freeze")
WARM_UP_S = 120
RETRY_FOR_S = 60
SAMPLE_EVERY_S = 30
PROBE_CONNECTIONS_EVERY_S = 2
STEADY_WINDOW_S = 60


def cmdline(pid: int) -> list[str]:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .decode(errors="replace")
            .split("\0")[:-1]
        )
    except OSError:
        return []


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_type(argv: list[str]) -> str | None:
    """The kind of one process of `up`'s tree, by its command line."""
    if not argv:
        return None
    joined = " ".join(argv)
    name = Path(argv[0]).name
    if name.startswith("valkey-server") or "valkey-server" in joined:
        return "valkey"
    if name == "postgres" or joined.startswith("postgres:") or "/postgres" in argv[0]:
        return "postgres"
    if argv[1:4] == ["-m", "app", "serve"]:
        return "api master"
    if (
        "multiprocessing.spawn" in joined
        or "multiprocessing.resource_tracker" in joined
    ):
        return "api worker"
    if argv[1:4] == ["-m", "app", "digest"]:
        return "digester"
    if "celery" in joined:
        return "beat" if " beat" in joined else "worker"
    if argv[1:4] == ["-m", "app", "up"]:
        return "up"
    return "other"


@dataclass
class Ledger:
    """What the load sent, and what the server acknowledged."""

    sent: int = 0
    acknowledged: int = 0
    gave_up: int = 0
    retries: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(f"/tmp/faultline-soak-{os.getpid()}")
        self.port = args.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.up: subprocess.Popen[bytes] | None = None
        self.ledger = Ledger()
        self.keys: dict[str, str] = {}
        self.samples: list[tuple[float, dict[str, float], int, int, int]] = []
        self.fault_log: list[str] = []
        self.connection_probes: deque[tuple[float, int]] = deque()
        self.started = time.monotonic()

    # --- the stack --------------------------------------------------------------------------

    def start_up(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        unset = (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
        )  # the shipped default: embedded servers
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update({"FAULTLINE_DATA_DIR": str(self.data), "PYTHONUNBUFFERED": "1"})
        log = open(self.data / "up.out", "ab")  # noqa: SIM115 - lives as long as up
        self.up = subprocess.Popen(
            [sys.executable, "-m", "app", "up", "--port", str(self.port)],
            cwd=BACKEND, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.up.poll() is not None:
                raise SystemExit(
                    f"up exited with {self.up.returncode}: see {self.data / 'up.out'}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise SystemExit(f"up did not become ready: see {self.data / 'up.out'}")

    def stop_up(self) -> None:
        if self.up is None:
            return
        below = tree_pids([self.up.pid])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.up.pid, signal.SIGTERM)
        try:
            self.up.wait(90)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.up.pid, signal.SIGKILL)
            self.up.wait(10)
        for (
            pid
        ) in below:  # anything that outlived it (none should: up binds its children)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def database_url(self) -> str:
        for line in (self.data / "stack.env").read_text().splitlines():
            if line.startswith("DATABASE_URL="):
                return line.split("=", 1)[1].replace(
                    "postgresql+psycopg://", "postgresql://", 1
                )
        raise SystemExit("up wrote no DATABASE_URL to its stack file")

    def processes(self) -> dict[str, list[int]]:
        assert self.up is not None
        kinds: dict[str, list[int]] = {}
        for pid in tree_pids([self.up.pid]):
            kind = process_type(cmdline(pid))
            if kind is not None:
                kinds.setdefault(kind, []).append(pid)
        return kinds

    def query(self, sql: str) -> int:
        with psycopg.connect(self.database_url(), connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def connections(self) -> int:
        return self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()"
        )

    # --- load -------------------------------------------------------------------------------

    async def send_one(self, client: httpx.AsyncClient, seq: int) -> None:
        project = PROJECTS[seq % len(PROJECTS)]
        kind = KINDS[(seq // len(PROJECTS)) % len(KINDS)]
        body = {
            "project_key": project,
            "event_id": uuid.uuid4().hex,
            "message": f"{project}: upstream failure in {kind}",
            "path": f"/api/{project}/{kind}",
            "status_code": 502,
            "soak_seq": seq,
        }
        self.ledger.sent += 1
        give_up_at = time.monotonic() + RETRY_FOR_S
        first = True
        while True:
            if not first:
                self.ledger.retries += 1
            first = False
            try:
                status = (
                    await client.post(
                        f"{self.url}/api/v1/events", json=body, timeout=10
                    )
                ).status_code
            except httpx.HTTPError:
                status = 0
            self.ledger.statuses[status] = self.ledger.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                self.ledger.acknowledged += 1
                return
            if time.monotonic() >= give_up_at:
                self.ledger.gave_up += 1
                return
            await asyncio.sleep(1)

    async def load(self, until: float) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        async with httpx.AsyncClient(limits=limits) as client:
            tasks: set[asyncio.Task[None]] = set()
            seq = 0
            next_at = time.monotonic()
            while time.monotonic() < until:
                task = asyncio.create_task(self.send_one(client, seq))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                seq += 1
                next_at += 1 / self.args.rate
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks)

    # --- faults and samples -----------------------------------------------------------------

    def inject(self, fault: str) -> None:
        kinds = self.processes()
        if fault == "postgres-freeze":
            pids = kinds.get("postgres", [])
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            time.sleep(5)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            return
        victims = kinds.get(fault, [])
        if fault == "valkey":
            victims = victims[:1]
        elif fault == "worker":
            # The worker's main process (its pool children die with it).
            victims = [p for p in victims if "worker" in " ".join(cmdline(p))][:1]
        else:
            victims = victims[:1]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def sample(self) -> None:
        kinds = self.processes()
        rss = {
            kind: sum(rss_kib(p) for p in pids) / 1024 for kind, pids in kinds.items()
        }
        try:
            conns = self.connections()
            inbox = self.query("SELECT count(*) FROM ingest_inbox")
            pending = self.query(
                "SELECT count(*) FROM issue_analyses WHERE status IN ('pending', 'running')"
            )
        except psycopg.Error:  # during a freeze or a restart
            conns = inbox = pending = -1
        at = time.monotonic() - self.started
        self.samples.append((at, rss, conns, inbox, pending))
        shown = ", ".join(f"{k} {v:.0f}" for k, v in sorted(rss.items()))
        print(
            f"[{at / 60:5.1f} min] RSS MiB: {shown} | connections {conns} | inbox {inbox} | "
            f"pending analyses {pending} | sent {self.ledger.sent} acked {self.ledger.acknowledged}",
            flush=True,
        )

    def probe_connections(self) -> None:
        with contextlib.suppress(psycopg.Error):
            now = time.monotonic()
            self.connection_probes.append((now, self.connections()))
            while self.connection_probes[0][0] < now - STEADY_WINDOW_S:
                self.connection_probes.popleft()

    def steady_connections(self) -> int:
        """The most connections seen in the last minute (the level before a fault)."""
        if not self.connection_probes:
            self.probe_connections()
        return max((n for _, n in self.connection_probes), default=0)

    def connections_back(self, baseline: int) -> float | None:
        """Seconds until connections are at or below `baseline` again (None: not within 60 s)."""
        started = time.monotonic()
        while time.monotonic() - started < 60:
            with contextlib.suppress(psycopg.Error):
                if self.connections() <= baseline:
                    return time.monotonic() - started
            time.sleep(0.5)
        return None

    async def conduct(self, until: float) -> None:
        """Samples every SAMPLE_EVERY_S, a fault every --fault-every s, in a thread beside the load."""
        loop = asyncio.get_running_loop()
        next_sample = next_probe = time.monotonic()
        next_fault = time.monotonic() + self.args.fault_every
        n = 0
        while time.monotonic() < until:
            now = time.monotonic()
            if now >= next_sample:
                await loop.run_in_executor(None, self.sample)
                next_sample += SAMPLE_EVERY_S
            if now >= next_probe:
                await loop.run_in_executor(None, self.probe_connections)
                next_probe += PROBE_CONNECTIONS_EVERY_S
            if now >= next_fault and now + 30 < until:
                fault = FAULTS[n % len(FAULTS)]
                n += 1
                baseline = await loop.run_in_executor(None, self.steady_connections)
                await loop.run_in_executor(None, self.inject, fault)
                back = await loop.run_in_executor(None, self.connections_back, baseline)
                line = f"fault {n} ({fault}) at {(now - self.started) / 60:.1f} min: connections {baseline} "
                line += (
                    f"before (most in the minute before), back within {back:.1f} s"
                    if back is not None
                    else "before (most in the minute before), NOT back within 60 s"
                )
                self.fault_log.append(line)
                print(line, flush=True)
                next_fault += self.args.fault_every
            await asyncio.sleep(0.5)

    # --- the run ----------------------------------------------------------------------------

    async def run(self) -> None:
        until = time.monotonic() + self.args.minutes * 60
        await asyncio.gather(self.load(until), self.conduct(until))

    def drain_and_count(self) -> dict[str, int]:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg.Error):
                if (
                    self.query("SELECT count(*) FROM ingest_inbox") == 0
                    and self.query(
                        "SELECT count(*) FROM issue_analyses WHERE status IN ('pending', 'running')"
                    )
                    == 0
                ):
                    break
            time.sleep(2)
        stored = self.query(
            "SELECT count(DISTINCT payload->>'soak_seq') FROM error_events"
        )
        rows = self.query(
            "SELECT count(*) FROM error_events WHERE payload ? 'soak_seq'"
        )
        return {
            "stored": stored,
            "doubled": rows - stored,
            "issues": self.query("SELECT count(*) FROM issues"),
            "analyses done": self.query(
                "SELECT count(*) FROM issue_analyses WHERE status = 'done'"
            ),
            "analyses not done": self.query(
                "SELECT count(*) FROM issue_analyses WHERE status <> 'done'"
            ),
            "issues analysed twice": self.query(
                "SELECT count(*) FROM (SELECT issue_id, generation FROM issue_analyses"
                " GROUP BY 1, 2 HAVING count(*) > 1) twice"
            ),
        }

    def report(self, counts: dict[str, int]) -> bool:
        ledger = self.ledger
        lost = ledger.acknowledged - min(ledger.acknowledged, counts["stored"])
        print("\n## Soak result")
        print(f"{self.args.minutes} min at {self.args.rate}/s, a fault every {self.args.fault_every} s, "
              f"`python -m app up` defaults (embedded PostgreSQL and Valkey)")  # fmt: skip
        print(f"sent {ledger.sent}, acknowledged {ledger.acknowledged}, gave up {ledger.gave_up}, "
              f"retries {ledger.retries}, answers {dict(sorted(ledger.statuses.items()))}")  # fmt: skip
        print(
            f"stored {counts['stored']}, lost (acknowledged, not stored) {lost}, doubled {counts['doubled']}"
        )
        print(f"issues {counts['issues']}, analyses done {counts['analyses done']}, not done "
              f"{counts['analyses not done']}, analysed twice {counts['issues analysed twice']}")  # fmt: skip
        for line in self.fault_log:
            print(line)
        ok = lost == 0 and counts["doubled"] == 0
        warm = [s for s in self.samples if s[0] >= WARM_UP_S]
        if warm:
            print("RSS MiB per process type: after warm-up -> end (growth)")
            for kind in sorted(warm[0][1]):
                first, last = warm[0][1].get(kind, 0), warm[-1][1].get(kind, 0)
                growth = (last - first) / first if first else 0
                flag = (
                    ""
                    if kind in ("postgres", "valkey") or growth <= 0.10
                    else "  over 10%"
                )
                ok = ok and not flag
                print(f"  {kind}: {first:.0f} -> {last:.0f} ({growth:+.0%}){flag}")
        ok = ok and all("NOT back" not in line and float(line.rsplit("within ", 1)[1].split()[0]) <= 10
                        for line in self.fault_log)  # fmt: skip
        print("targets met" if ok else "TARGETS MISSED")
        return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=float, default=60, help="events per second")
    parser.add_argument(
        "--fault-every", type=float, default=300, help="seconds between faults"
    )
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    soak = Soak(args)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        soak.start_up()
        print(f"up is ready on {soak.url} (data in {soak.data})", flush=True)
        asyncio.run(soak.run())
        return 0 if soak.report(soak.drain_and_count()) else 1
    finally:
        soak.stop_up()


if __name__ == "__main__":
    sys.exit(main())
