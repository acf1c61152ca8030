"""Real processes for end-to-end tests: the API served by uvicorn and a Celery worker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

BACKEND_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = BACKEND_DIR / "tests" / "artifacts"


def run_cli(*args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m app ARGS` as a user runs it, with this test run's environment; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=BACKEND_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn in a thread of the test process, on a free port."""

    def __init__(self) -> None:
        from app.main import create_app

        self.app = create_app()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError("live server did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class WorkerProcess:
    """`celery -A app.celery_worker worker --queues=ai_analysis,notifications` as a real child process."""

    def __init__(self, env_overrides: dict[str, str], extra_args: list[str] | None = None) -> None:
        self.env_overrides = dict(env_overrides)
        self.extra_args = extra_args or ["--concurrency=2"]
        self.process: subprocess.Popen[bytes] | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / "worker.log"

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.env_overrides}
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "app.celery_worker", "worker", "--queues=ai_analysis,notifications",  # noqa: E501
             "--loglevel=info", "--without-gossip", "--without-mingle", *self.extra_args],
            cwd=BACKEND_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: see {self.log_path}")
            if b"ready." in self.log_path.read_bytes()[self._log_offset :]:
                return
            time.sleep(0.2)
        raise RuntimeError("worker did not become ready")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
