"""`python -m app up`, as `make run` starts it, on real servers that the tests kill for real.

It heals: an embedded Valkey or PostgreSQL, a digester, the API (a worker of it or its master), the
Celery worker and beat, killed with SIGKILL, are started again and ingest keeps answering. Nothing
outlives it: kill -9 of `up` leaves no process and a free port. A second `up` says what holds the port.
Ctrl-C stops in order without a traceback in any log. The command line finds the stack it runs.

Each `up` keeps its state in a directory of the test's own (FAULTLINE_DATA_DIR); the Valkey is always
its embedded one, and PostgreSQL the fault stack's unless the test asks for the embedded one.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import redis

from tests.faults.events import post_seed
from tests.faults.servers import ChildProcess, Stack
from tests.support.db import wait_until
from tests.support.processes import BACKEND_DIR, free_port

# The sweeper every second: an analysis the Valkey crash dropped is enqueued again at once.
FAST_SWEEPER = {"SWEEPER_INTERVAL_S": "1", "SWEEPER_MIN_AGE_S": "1"}


class Up:
    """One `python -m app up` and the processes it runs, found by what they are."""

    def __init__(self, stack: Stack, data: Path, *, embedded_postgres: bool = False, port: int | None = None):
        self.data = data
        self.port = port or free_port()
        env = stack.env(FAULTLINE_DATA_DIR=str(data), **FAST_SWEEPER)
        for key in ("REDIS_URL", "CELERY_BROKER_URL", *(["DATABASE_URL"] if embedded_postgres else [])):
            env.pop(key)
        self.env = env
        self.child = ChildProcess(
            [sys.executable, "-m", "app", "up", "--port", str(self.port)], env, f"faults-up-{self.port}.log"
        )
        stack.children.append(self.child)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_up(self) -> Up:
        self.child.wait_for_log("Faultline is up", timeout_s=240)
        return self

    @property
    def pid(self) -> int:
        return self.child.pid

    def children(self) -> list[psutil.Process]:
        """Every live process below `up` (zombies waiting to be reaped excluded)."""
        found = []
        for process in self.child.descendants():
            with contextlib.suppress(psutil.Error):
                if process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found

    def role(self, role: str) -> list[psutil.Process]:
        """The live processes of one role: valkey, postgres, api, api-worker, digester, worker, beat."""
        found = []
        for process in self.children():
            with contextlib.suppress(psutil.Error):
                if _role_of(process, self.pid) == role:
                    found.append(process)
        return found

    def one(self, role: str) -> psutil.Process:
        (process,) = wait_until(lambda: self.role(role), timeout_s=60)
        return process

    def replaced(self, role: str, old: psutil.Process) -> psutil.Process:
        """Wait for a live process of `role` other than `old` (the one started again)."""
        (process,) = wait_until(lambda: [p for p in self.role(role) if p.pid != old.pid], timeout_s=90)
        return process

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`python -m app …` as a user runs it in another shell: no DATABASE_URL or REDIS_URL set."""
        clean = {k: v for k, v in (env or self.env).items() if k not in ("DATABASE_URL", "REDIS_URL")}
        clean.pop("CELERY_BROKER_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "app", *args], cwd=BACKEND_DIR, env=clean, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    def recorded(self) -> dict[str, str]:
        """What `up` wrote to its stack file."""
        text = (self.data / "stack.env").read_text()
        return dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
        )

    def ctrl_c(self) -> int:
        self.child.process.send_signal(signal.SIGINT)
        return self.child.process.wait(120)

    def logs(self) -> dict[str, str]:
        """Every log `up` and its processes wrote, by name, and up's own output."""
        texts = {path.name: path.read_text(errors="replace") for path in (self.data / "logs").glob("*.log")}
        texts["up"] = self.child.log()
        return texts


def _role_of(process: psutil.Process, up_pid: int) -> str | None:
    argv = process.cmdline()
    if not argv:
        return None
    if Path(argv[0]).name.startswith("valkey-server"):
        return "valkey"
    if process.name() == "postgres":
        return "postgres" if process.ppid() == up_pid else None  # not its backends
    if argv[1:4] == ["-m", "app", "serve"]:
        return "api"
    if any("multiprocessing.spawn" in arg for arg in argv) and _role_of(process.parent(), up_pid) == "api":
        return "api-worker"
    if argv[1:4] == ["-m", "app", "digest"]:
        return "digester"
    if "celery" in argv:
        return "worker" if "worker" in argv else "beat" if "beat" in argv else None
    return None


def stored_seed_events(stack: Stack) -> int:
    return stack.scalar("SELECT count(*) FROM error_events WHERE payload ? 'project_key'")


def analyses_done(stack: Stack) -> int:
    return stack.scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'")


def listening_on(port: int) -> list[int]:
    """Pids of processes with a socket listening on the port."""
    return [
        c.pid
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    ]


def test_up_starts_every_process_it_runs_again_after_a_kill(stack: Stack, tmp_path: Path):
    up = Up(stack, tmp_path / "data").wait_up()
    assert post_seed(up.url, 1).status_code == 201
    wait_until(lambda: analyses_done(stack) == 1, timeout_s=60)

    # A digester: events wait in the inbox meanwhile, nothing is lost.
    digester = up.one("digester")
    assert digester.ppid() == up.pid
    assert "--parent-pid" not in digester.cmdline()  # up's own, not an API process's embedded one
    digester.kill()
    up.replaced("digester", digester)
    assert post_seed(up.url, 2).status_code == 201
    wait_until(lambda: stored_seed_events(stack) == 2, timeout_s=30)

    # The embedded Valkey: ingest keeps answering 2xx (README, "Redis down"), it comes back on the same
    # port, and the worker reconnects: the analyses of events sent meanwhile are done.
    valkey = up.one("valkey")
    valkey_port = int(up.recorded()["VALKEY_PORT"])
    valkey.kill()
    assert post_seed(up.url, 3).status_code == 201
    up.replaced("valkey", valkey)
    assert redis.Redis(port=valkey_port).ping()
    assert post_seed(up.url, 4).status_code == 201
    wait_until(lambda: analyses_done(stack) == 4, timeout_s=120)

    # The Celery worker and beat.
    for role in ("worker", "beat"):
        old = up.one(role)
        old.kill()
        up.replaced(role, old)
    assert post_seed(up.url, 5).status_code == 201
    wait_until(lambda: analyses_done(stack) == 5, timeout_s=120)

    # One of the API's worker processes: uvicorn's master replaces it, ingest keeps answering.
    api_worker = up.role("api-worker")[0]
    api_worker.kill()
    wait_until(lambda: {p.pid for p in up.role("api-worker")} - {api_worker.pid}, timeout_s=90)
    wait_until(lambda: len(up.role("api-worker")) == 2, timeout_s=90)
    wait_until(lambda: post_seed(up.url, 6).status_code == 201, timeout_s=30)

    # The uvicorn master: its orphaned workers are killed, so the port is free for the new API.
    master = up.one("api")
    orphans = [p for p in up.role("api-worker") if p.ppid() == master.pid]
    master.kill()
    new_master = up.replaced("api", master)
    psutil.wait_procs(orphans, timeout=30)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in orphans)
    wait_until(lambda: _answers(up.url), timeout_s=90)
    assert set(listening_on(up.port)) <= {new_master.pid, *(p.pid for p in up.role("api-worker"))}
    wait_until(lambda: post_seed(up.url, 7).status_code == 201, timeout_s=30)
    wait_until(lambda: stored_seed_events(stack) >= 7, timeout_s=60)

    assert up.child.alive()
    assert up.ctrl_c() == 0


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    return False


def test_up_restarts_its_embedded_postgres_and_the_cli_finds_the_stack(stack: Stack, tmp_path: Path):
    up = Up(stack, tmp_path / "data", embedded_postgres=True).wait_up()
    banner = up.child.log()
    stack_file = tmp_path / "data" / "stack.env"
    assert stack_file.stat().st_mode & 0o777 == 0o600
    recorded = up.recorded()
    assert recorded["FAULTLINE_URL"] == up.url
    assert recorded["DATABASE_URL"] in banner and recorded["REDIS_URL"] in banner
    assert recorded["PGHOST"] in banner and f"port {recorded['VALKEY_PORT']}" in banner

    # Another shell, with nothing set, reaches this stack.
    made = up.cli("create-user", "someone@example.com", "--password", "correct-horse")
    assert made.returncode == 0, made.stderr
    exported = up.cli("env")
    assert exported.returncode == 0, exported.stderr
    assert f"export DATABASE_URL={recorded['DATABASE_URL']}" in exported.stdout.replace("'", "")
    ping = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "app.celery_worker", "inspect", "ping", "--timeout", "10"],
        cwd=BACKEND_DIR, env={k: v for k, v in up.env.items() if k != "DATABASE_URL"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "pong" in ping.stdout, ping.stdout + ping.stderr

    # The embedded PostgreSQL killed: it is started again and ingest recovers.
    postmaster = up.one("postgres")
    postmaster.kill()
    up.replaced("postgres", postmaster)
    wait_until(lambda: post_seed(up.url, 1).status_code == 201, timeout_s=90)
    again = up.cli("create-user", "other@example.com", "--password", "correct-horse")
    assert again.returncode == 0, again.stderr

    # `up` killed outright: its PostgreSQL goes with it, and the stack file it left names a dead stack.
    postmaster = up.one("postgres")
    up.child.process.kill()
    up.child.process.wait(10)
    psutil.wait_procs([postmaster], timeout=60)
    down = up.cli("create-user", "late@example.com", "--password", "correct-horse")
    assert down.returncode != 0 and "Traceback" not in down.stderr, down.stderr
    assert down.stderr.count("\n") == 1, down.stderr  # one line
    assert down.stderr.startswith(f"error: cannot reach PostgreSQL at {recorded['DATABASE_URL']} (")
    assert f"(pid {up.pid}), which is no longer running" in down.stderr
    assert up.cli("env").returncode != 0

    # No stack file and no DATABASE_URL: the command says so instead of trying some default database.
    stack_file.unlink()
    nothing = up.cli("create-user", "late@example.com", "--password", "correct-horse")
    assert nothing.returncode != 0 and nothing.stderr.count("\n") == 1, nothing.stderr
    assert "DATABASE_URL is unset" in nothing.stderr and str(stack_file) in nothing.stderr


def test_ctrl_c_stops_in_dependency_order_and_leaves_no_traceback(stack: Stack, tmp_path: Path):
    up = Up(stack, tmp_path / "data").wait_up()
    for n in range(3):
        assert post_seed(up.url, n).status_code == 201
    wait_until(lambda: analyses_done(stack) == 3, timeout_s=60)
    everyone = up.children()
    valkey = up.one("valkey")

    assert up.ctrl_c() == 0
    assert not (up.data / "stack.env").exists()
    said = up.child.log()
    assert said.index("Stopping the API, digesters, worker and beat") < said.index("Stopping Valkey")
    assert not valkey.is_running()
    assert not [p for p in everyone if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    logs = up.logs()
    assert "worker.log" in logs and "api.log" in logs
    assert not [name for name, text in logs.items() if "Traceback" in text], logs
    # The worker stopped while Valkey was still there: no lost-connection errors either.
    assert "Connection refused" not in logs["worker.log"]


def test_kill_9_of_up_leaves_nothing_behind_and_a_second_up_starts_cleanly(stack: Stack, tmp_path: Path):
    up = Up(stack, tmp_path / "data").wait_up()
    everyone = up.children()
    assert {_role_of(p, up.pid) for p in everyone} >= {
        "valkey",
        "api",
        "api-worker",
        "digester",
        "worker",
        "beat",
    }

    up.child.process.kill()  # SIGKILL: no clean-up code of its runs
    up.child.process.wait(10)
    _gone, alive = psutil.wait_procs(everyone, timeout=90)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    wait_until(lambda: not listening_on(up.port), timeout_s=30)

    second = Up(stack, tmp_path / "data", port=up.port).wait_up()
    assert post_seed(second.url, 1).status_code == 201
    wait_until(lambda: stored_seed_events(stack) == 1, timeout_s=60)

    # A third on the same port and data says what is there, starts nothing, and fails.
    third = Up(stack, tmp_path / "other-data", port=up.port)
    assert third.child.process.wait(120) != 0
    assert f"a Faultline is already running at {up.url}" in third.child.log()
    assert not (tmp_path / "other-data" / "logs").exists()
    assert second.ctrl_c() == 0


def test_up_on_a_port_another_program_holds_says_so_and_starts_nothing(stack: Stack, tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        up = Up(stack, tmp_path / "data", port=port)
        assert up.child.process.wait(120) != 0
    said = up.child.log()
    assert f"port {port} on 127.0.0.1 is taken by another program" in said
    assert "Traceback" not in said
    assert not (tmp_path / "data").exists()
