"""`python -m app up` (what `make run` calls): services, migrations, API, digesters, worker, beat
(and Flower with --flower).

With DATABASE_URL / REDIS_URL unset it boots the embedded PostgreSQL and Valkey under `.data/`;
with them set it uses those servers. It writes their addresses to `.data/stack.env` (app/runtime/stack.py)
so that every other command finds them. The API processes only accept events into the inbox
(EMBEDDED_DIGESTER off); the digesters that store them run here as peers of the API.

It heals rather than quits: any process of the stack that exits (an embedded server, the API, a
digester, the worker, beat) is started again, after a pause that doubles with each quick failure.
Every child runs in a process group of its own and is bound to this process (app/runtime/lifeline.py),
so none survives it, however it ends, and a Ctrl-C at the terminal reaches only this process. Ctrl-C
(or SIGTERM) stops in dependency order: API, digesters, worker and beat first, then Valkey and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from app.cli_setup import ensure_first_run_objects
from app.config import data_dir, get_settings, read_stack_file, stack_file
from app.db import get_sync_engine
from app.runtime.embedded import EmbeddedPostgres, EmbeddedValkey, wait_for_port
from app.runtime.lifeline import die_with_parent
from app.runtime.migrate import BACKEND_DIR, upgrade_head
from app.runtime.stack import (
    UP_PID,
    pid_alive,
    remove_stack_file,
    shown_url,
    unreachable_message,
    write_stack_file,
)

# Analyses wait on the LLM for seconds and use little CPU: one worker process with a gevent pool keeps
# this many of them in flight (prefork would need a process each). The seed's time limits hold there
# too (soft limit armed per task in app/celery_app.py, hard limit by Celery's gevent pool). Celery
# cannot embed beat in a gevent worker, so the sweeper's schedule runs in a beat process of its own.
WORKER_POOL_ARGS = ["--pool=gevent", "--concurrency=100"]
# Restart pauses: 0.5 s, doubling with each exit that follows a short run, at most 30 s; a process
# that ran for STABLE_AFTER_S starts the count again.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 30.0
STABLE_AFTER_S = 60.0
STOP_TIMEOUT_S = 20.0  # each tier's processes get this long after SIGTERM, then SIGKILL


class PortTaken(Exception):
    """The API's port is held by another process; the message says by what."""


def check_port_free(host: str, port: int) -> None:
    """Raise PortTaken, naming what holds host:port (a Faultline, or another program), if it is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
            return
        except OSError:
            pass
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}"
    try:
        import httpx

        answer = httpx.get(f"{url}/healthz", timeout=2)
        if answer.status_code == 200 and answer.json() == {"status": "ok"}:
            raise PortTaken(
                f"a Faultline is already running at {url} (its /healthz answers); not starting another"
            )
    except (httpx.HTTPError, ValueError):
        pass
    raise PortTaken(f"port {port} on {host} is taken by another program; pick another with --port")


@dataclass
class Supervised:
    """One process of the stack: how to start it, and its restart bookkeeping."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    stop_signal: int = signal.SIGTERM
    # The API: uvicorn's master forks workers into its process group, and those must go with it.
    whole_group: bool = False
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    due: float | None = None  # when to start it again, while it is down
    history: list[int] = field(default_factory=list)  # pids, for the log line

    def launch(self) -> None:
        self.process = self.start()
        self.started_at = time.monotonic()
        self.due = None
        self.history.append(self.process.pid)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def schedule_restart(self, now: float) -> float:
        if now - self.started_at >= STABLE_AFTER_S:
            self.quick_failures = 0
        pause = min(RESTART_FIRST_S * 2**self.quick_failures, RESTART_MAX_S)
        self.quick_failures += 1
        self.due = now + pause
        return pause

    def kill_leftovers(self) -> None:
        """SIGKILL what remains of its process group (uvicorn workers whose master died)."""
        if self.whole_group and self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Stack:
    """The processes `up` runs, in dependency tiers: servers first, then everything that uses them."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.logs = data / "logs"
        self.postgres: EmbeddedPostgres | None = None
        self.valkey: EmbeddedValkey | None = None
        self.apps: list[Supervised] = []  # API, digesters, worker, beat
        self.servers: list[Supervised] = []  # the embedded Valkey and PostgreSQL

    def spawn(self, cmd: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
        with open(self.logs / log_name, "ab") as log:
            return subprocess.Popen(
                cmd, cwd=BACKEND_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                process_group=0, preexec_fn=die_with_parent(signal.SIGTERM),
            )  # fmt: skip

    def _start_postgres(self) -> subprocess.Popen[bytes]:
        assert self.postgres is not None
        process = self.postgres.start().process
        assert process is not None
        return process

    def _start_valkey(self) -> subprocess.Popen[bytes]:
        assert self.valkey is not None
        process = self.valkey.start().process
        assert process is not None
        return process

    def start_servers(self, env: dict[str, str]) -> None:
        """The embedded PostgreSQL / Valkey for the URLs the environment leaves unset."""
        if not env.get("DATABASE_URL"):
            self.postgres = EmbeddedPostgres(self.data / "postgres")
            server = Supervised("PostgreSQL", self._start_postgres, stop_signal=signal.SIGINT)
            server.launch()
            self.servers.append(server)
            env["DATABASE_URL"] = self.postgres.url()
        if not env.get("REDIS_URL"):
            self.valkey = EmbeddedValkey(self.data / "valkey")
            server = Supervised("Valkey", self._start_valkey)
            server.launch()
            self.servers.append(server)
            env["REDIS_URL"] = self.valkey.url

    def addresses(self, api_url: str, env: dict[str, str]) -> dict[str, str]:
        """What the stack file records and the banner shows."""
        entries = {
            "FAULTLINE_URL": api_url,
            "DATABASE_URL": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
        }
        if self.postgres is not None:  # libpq's own variables: `psql` with no arguments reaches it
            entries.update(
                PGHOST=str(self.postgres.socket_dir), PGPORT=str(self.postgres.port), PGUSER="postgres",
                PGDATABASE="faultline",
            )  # fmt: skip
        if self.valkey is not None:
            entries["VALKEY_PORT"] = str(self.valkey.port)
        return entries

    def add(self, service: Supervised) -> Supervised:
        service.launch()
        self.apps.append(service)
        return service

    def heal(self) -> None:
        """Start again whatever exited, each after its pause."""
        now = time.monotonic()
        for service in [*self.servers, *self.apps]:
            if service.due is None and service.exited():
                assert service.process is not None
                service.kill_leftovers()
                pause = service.schedule_restart(now)
                _say(
                    f"{service.name} (pid {service.process.pid}) exited with {service.process.returncode}; "
                    f"starting it again in {pause:g}s"
                )
            elif service.due is not None and now >= service.due:
                try:
                    service.launch()
                except Exception as exc:  # a server that cannot start yet: try again later
                    pause = service.schedule_restart(time.monotonic())
                    _say(f"{service.name} did not start ({exc}); trying again in {pause:g}s")
                    continue
                _say(f"{service.name} started again (pid {service.history[-1]})")

    def stop(self) -> None:
        """API, digesters, worker and beat first (they finish while their servers are there), then those."""
        if self.apps:
            _say("Stopping the API, digesters, worker and beat…")
            self._stop_tier(self.apps)
        for server in reversed(self.servers):  # Valkey, then PostgreSQL: the reverse of their start
            _say(f"Stopping {server.name}…")
            self._stop_tier([server], timeout_s=30.0)

    def _stop_tier(self, tier: list[Supervised], timeout_s: float = STOP_TIMEOUT_S) -> None:
        for service in tier:
            service.due = None
            service.signal(service.stop_signal)
        deadline = time.monotonic() + timeout_s
        for service in tier:
            if service.process is None:
                continue
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{service.name} did not stop within {timeout_s:g}s; killing it")
                service.process.kill()
                service.process.wait(10)
            service.kill_leftovers()


def _banner(host: str, port: int, dsn: str, project_key: str, extra_lines: list[str], stack: Stack) -> str:
    base = f"http://{host}:{port}"
    curl = (
        f"curl -X POST {base}/api/v1/events -H 'Content-Type: application/json' -d "
        f'\'{{"project_key": "{project_key}", "message": "Server error", "method": "GET", '
        f'"path": "/api/test", "status_code": 500, "timestamp": "2024-01-15T12:00:00Z"}}\''
    )
    settings = get_settings()
    postgres = shown_url(settings.database_url)
    if stack.postgres is not None:
        postgres += f"   (embedded; socket dir {stack.postgres.socket_dir}, port {stack.postgres.port})"
    redis = shown_url(settings.redis_url)
    if stack.valkey is not None:
        redis += f"   (embedded Valkey, port {stack.valkey.port})"
    lines = [
        "",
        "Faultline is up.",
        f"  Dashboard and API : {base}/   (OpenAPI docs: {base}/docs)",
        f"  Sentry DSN        : {dsn}",
        *extra_lines,
        f"  PostgreSQL        : {postgres}",
        f"  Redis             : {redis}",
        f'  Other shells      : python -m app … finds them ({stack_file()}); eval "$(python -m app env)"',
        "  Send the seed's test event:",
        f"    {curl}",
        f"  Logs              : {stack.logs}",
        "  Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _persistent_secret_key(data: Path) -> str:
    """A random SECRET_KEY made once and kept under .data/, so logins survive a restart."""
    path = data / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _up_running(pid: str | None) -> bool:
    """Whether pid is a live `python -m app up` (not a stale record whose pid was reused)."""
    if not pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    return b"up" in argv and b"app" in argv


class _Stopping(BaseException):
    """Ctrl-C or SIGTERM arrived (a BaseException: no `except Exception` on the way may swallow it)."""


def _interrupt(_signum: int, _frame: object) -> None:
    raise _Stopping


def _fresh_metrics_dir(env: dict[str, str], data: Path) -> None:
    """The metrics directory every child shares (PROMETHEUS_MULTIPROC_DIR, see app/metrics.py),
    emptied of a past run's files: `up` owns the processes, so it owns their metrics too."""
    path = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(data / "metrics")))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)


def run_up(
    host: str = "127.0.0.1",
    port: int = 8000,
    web_workers: int = 2,
    digesters: int = 1,
    flower_port: int | None = None,
) -> int:
    """Bring everything up (Flower too on `flower_port`) and keep it up until interrupted; returns an
    exit code."""
    data = data_dir()
    recorded = read_stack_file()
    if _up_running(recorded.get(UP_PID)):
        # Its embedded servers own the clusters under .data/: a second `up` there would stop them.
        _say(
            f"a Faultline is already running at {recorded.get('FAULTLINE_URL')} from {data} "
            f"(`python -m app up`, pid {recorded[UP_PID]}); not starting another"
        )
        return 1
    try:
        check_port_free(host, port)
    except PortTaken as exc:
        _say(str(exc))
        return 1
    stack = Stack(data)
    stack.logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    _fresh_metrics_dir(env, data)
    started = time.monotonic()
    # Explicit handlers: a shell that backgrounds us may have set SIGINT to "ignore".
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        stack.start_servers(env)
        api_url = f"http://{host}:{port}"
        env.setdefault("PUBLIC_URL", api_url)
        env.setdefault("SECRET_KEY", _persistent_secret_key(data))
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "SECRET_KEY")})
        get_settings.cache_clear()
        upgrade_head(env["DATABASE_URL"])
        write_stack_file(stack.addresses(api_url, env))

        dsn, project_key, extra_lines = ensure_first_run_objects()
        get_sync_engine().dispose()  # its connections would idle here until the stop cut them off

        python = sys.executable
        env["EMBEDDED_DIGESTER"] = "false"
        commands = {
            **{f"digester {n}": ([python, "-m", "app", "digest"], f"digester-{n}.log")
               for n in range(digesters)},
            "API": ([python, "-m", "app", "serve", "--host", host, "--port", str(port),
                     "--workers", str(web_workers)], "api.log"),
            "worker": ([python, "-m", "celery", "-A", "app.celery_worker", "worker",
                        "--queues=ai_analysis,notifications", *WORKER_POOL_ARGS, "--loglevel=info"],
                       "worker.log"),
            "beat": ([python, "-m", "celery", "-A", "app.celery_worker", "beat", "--loglevel=info",
                      "--schedule", str(data / "celerybeat-schedule")], "beat.log"),
        }  # fmt: skip
        envs = {name: env for name in commands}
        if flower_port is not None:
            commands["flower"] = (
                [python, "-m", "celery", "-A", "app.celery_worker", "flower", f"--address={host}",
                 f"--port={flower_port}"], "flower.log",
            )  # fmt: skip
            # Flower's own Prometheus metrics stay out of ours.
            envs["flower"] = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            extra_lines = [*extra_lines, f"  Flower (Celery)   : http://{host}:{flower_port}/"]
        for name, (cmd, log_name) in commands.items():
            stack.add(
                Supervised(name, partial(stack.spawn, cmd, envs[name], log_name), whole_group=name == "API")
            )
        (api,) = [service for service in stack.apps if service.name == "API"]
        assert api.process is not None
        wait_for_port(host, port, timeout_s=60, process=api.process)
        print(_banner(host, port, dsn, project_key, extra_lines, stack))
        print(f"  (ready in {time.monotonic() - started:.1f}s)", flush=True)
        while True:
            stack.heal()
            time.sleep(0.5)
    except _Stopping:
        print("\nStopping Faultline…", flush=True)
        code = 0
    except Exception as exc:
        _say(unreachable_message(exc) or f"Faultline could not start: {exc}; see the logs under {stack.logs}")
        code = 1
    # A second Ctrl-C must not cut the ordered stop short (each step is bounded).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stack.stop()
    remove_stack_file()
    _say("Stopped.")
    return code
