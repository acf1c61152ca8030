"""`python -m app up` (what `make run` calls): services, migrations, API, digesters, worker, beat
(and Flower with --flower).

With DATABASE_URL / REDIS_URL unset it boots the embedded PostgreSQL and Valkey under `.data/`;
with them set it uses those servers. The API processes only accept events into the inbox
(EMBEDDED_DIGESTER off); the digesters that store them run here as peers of the API, and one that
exits is started again. Ctrl-C stops all.

Every process it starts counts its metrics in `.data/metrics` (PROMETHEUS_MULTIPROC_DIR, see
app/metrics.py), emptied at each start: `up` owns the processes, so it owns their metrics too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.cli_setup import ensure_first_run_objects
from app.config import get_settings
from app.runtime.embedded import start_postgres, start_valkey, wait_for_port
from app.runtime.migrate import BACKEND_DIR, upgrade_head

DATA_DIR = BACKEND_DIR.parent / ".data"
METRICS_DIR = DATA_DIR / "metrics"
# Analyses wait on the LLM for seconds and use little CPU: one worker process with a gevent pool keeps
# this many of them in flight (prefork would need a process each). The seed's time limits hold there
# too (soft limit armed per task in app/celery_app.py, hard limit by Celery's gevent pool). Celery
# cannot embed beat in a gevent worker, so the sweeper's schedule runs in a beat process of its own.
WORKER_POOL_ARGS = ["--pool=gevent", "--concurrency=100"]


def _start(cmd: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    log = open(DATA_DIR / "logs" / log_name, "ab")  # noqa: SIM115 - lives as long as the child
    return subprocess.Popen(cmd, cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def _banner(host: str, port: int, dsn: str, project_key: str, extra_lines: list[str]) -> str:
    base = f"http://{host}:{port}"
    curl = (
        f"curl -X POST {base}/api/v1/events -H 'Content-Type: application/json' -d "
        f'\'{{"project_key": "{project_key}", "message": "Server error", "method": "GET", '
        f'"path": "/api/test", "status_code": 500, "timestamp": "2024-01-15T12:00:00Z"}}\''
    )
    lines = [
        "",
        "Faultline is up.",
        f"  Dashboard and API : {base}/   (OpenAPI docs: {base}/docs)",
        f"  Sentry DSN        : {dsn}",
        *extra_lines,
        "  Send the seed's test event:",
        f"    {curl}",
        f"  Logs              : {DATA_DIR / 'logs'}",
        "  Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _persistent_secret_key() -> str:
    """A random SECRET_KEY made once and kept under .data/, so logins survive a restart."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _fresh_metrics_dir(env: dict[str, str]) -> None:
    """The metrics directory every child shares (PROMETHEUS_MULTIPROC_DIR), emptied of a past run's files."""
    path = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(METRICS_DIR)))
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
    """Bring everything up (Flower too on `flower_port`) and block until interrupted; returns an exit code."""
    (DATA_DIR / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    _fresh_metrics_dir(env)
    handles: list[Any] = []
    children: list[subprocess.Popen[bytes]] = []
    digester_procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"], pg_server = start_postgres(DATA_DIR / "postgres")
            handles.append(pg_server)
        if not env.get("REDIS_URL"):
            env["REDIS_URL"], valkey = start_valkey(DATA_DIR / "valkey")
            children.append(valkey)
        env.setdefault("PUBLIC_URL", f"http://{host}:{port}")
        env.setdefault("SECRET_KEY", _persistent_secret_key())
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "SECRET_KEY")})
        get_settings.cache_clear()
        upgrade_head(env["DATABASE_URL"])

        dsn, project_key, extra_lines = ensure_first_run_objects()

        python = sys.executable
        env["EMBEDDED_DIGESTER"] = "false"
        digester_cmd = [python, "-m", "app", "digest"]
        digester_procs = [_start(digester_cmd, env, f"digester-{n}.log") for n in range(digesters)]
        api = _start(
            [python, "-m", "uvicorn", "app.main:app", "--host", host, "--port", str(port),
             "--workers", str(web_workers), "--no-access-log"],
            env,
            "api.log",
        )  # fmt: skip
        children.append(api)
        children.append(
            _start(
                [python, "-m", "celery", "-A", "app.celery_worker", "worker", "--queues=ai_analysis",
                 *WORKER_POOL_ARGS, "--loglevel=info"],
                env,
                "worker.log",
            )
        )  # fmt: skip
        children.append(
            _start(
                [python, "-m", "celery", "-A", "app.celery_worker", "beat", "--loglevel=info",
                 "--schedule", str(DATA_DIR / "celerybeat-schedule")],
                env,
                "beat.log",
            )
        )  # fmt: skip
        if flower_port is not None:
            # Flower's own Prometheus metrics stay out of ours.
            flower_env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            children.append(
                _start(
                    [python, "-m", "celery", "-A", "app.celery_worker", "flower",
                     f"--address={host}", f"--port={flower_port}"],
                    flower_env,
                    "flower.log",
                )
            )  # fmt: skip
            extra_lines = [*extra_lines, f"  Flower (Celery)   : http://{host}:{flower_port}/"]
        wait_for_port(host, port, timeout_s=60, process=api)
        print(_banner(host, port, dsn, project_key, extra_lines))
        print(f"  (ready in {time.monotonic() - started:.1f}s)", flush=True)
        # Explicit handlers: a shell that backgrounds us may have set SIGINT to "ignore".
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        while all(child.poll() is None for child in children):
            for n, digester in enumerate(digester_procs):
                if digester.poll() is not None:  # events wait in the inbox meanwhile: nothing is lost
                    print(f"digester {n} exited ({digester.returncode}); starting it again", file=sys.stderr)
                    digester_procs[n] = _start(digester_cmd, env, f"digester-{n}.log")
            time.sleep(0.5)
        print("a Faultline process exited; see the logs under .data/logs. Stopping.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping Faultline…", flush=True)
        return 0
    finally:
        children.extend(digester_procs)
        for child in reversed(children):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for handle in handles:
            with contextlib.suppress(Exception):
                handle.cleanup()
