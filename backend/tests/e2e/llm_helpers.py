"""Shared by the tests/e2e/test_llm_*.py modules: the fake LLM server, the worker's LLM settings,
and analysis polling."""

from __future__ import annotations

import atexit
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fake_llm.server import FakeLLMServer
from tests.support.db import rows, wait_until
from tests.support.processes import WorkerProcess

API_KEY = "sk-test-9b1f4e7a2c5d8e0f3a6b"
MODEL = "faultline-test-model"
# Only the worker knows this pattern: what it redacts was stored unredacted by ingest, so the
# fake server never seeing it proves the second redaction pass, just before the LLM call.
WORKER_ONLY_PATTERN = r"ACME-\d{6}"
FINAL = ("done", "failed", "skipped")

_shared_fake: FakeLLMServer | None = None


def shared_fake_llm() -> FakeLLMServer:
    """One fake LLM server per test process.

    A session fixture imported into several modules is instantiated once per module; a new port
    would change the worker's LLM_BASE_URL and so restart the worker for every module.
    """
    global _shared_fake
    if _shared_fake is None:
        _shared_fake = FakeLLMServer().start()
        atexit.register(_shared_fake.stop)
    return _shared_fake


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """The process's fake LLM server, reset (empty script, no requests, default "good") around the test."""
    server = shared_fake_llm()
    server.reset()
    yield server
    server.reset()


def llm_env(fake: FakeLLMServer, provider: str = "openai", **extra: str) -> dict[str, str]:
    """Worker settings that point a real provider at the fake server, with a 1 s client timeout."""
    base_url = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
    return {
        "LLM_PROVIDER": provider,
        "LLM_BASE_URL": base_url,
        "LLM_MODEL": MODEL,
        "LLM_API_KEY": API_KEY,
        "LLM_TIMEOUT_S": "1",
        "ANALYSIS_RETRY_BASE_S": "0.2",
        "REDACT_EXTRA_PATTERNS": json.dumps([WORKER_ONLY_PATTERN]),
        # High enough for every test but the one that spends it on purpose.
        "LLM_DAILY_BUDGET_TOKENS": "1000000",
        **extra,
    }


def post_event(base_url: str, body: dict[str, Any], client: httpx.Client | None = None) -> dict[str, Any]:
    """POST a seed event, insist on 201, return the answer."""
    response = (client or httpx).post(f"{base_url}/api/v1/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def analyses() -> list[dict[str, Any]]:
    return rows("SELECT * FROM issue_analyses ORDER BY id")


def wait_final(count: int = 1, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Wait until `count` analyses have a final status; returns all analyses."""
    wait_until(lambda: sum(a["status"] in FINAL for a in analyses()) >= count, timeout_s=timeout_s)
    return analyses()


class TaskWatch:
    """What the worker's analysis tasks do from now on, as its log (tests/artifacts/worker.log) says."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.log_path = worker.log_path
        self.start = self.log_path.stat().st_size

    def log(self) -> str:
        return self.log_path.read_bytes()[self.start :].decode(errors="replace")

    def wait_returned(self, count: int = 1, timeout_s: float = 60) -> str:
        """Wait until `count` task runs have returned; returns the log since the watch began.

        A run that retries raises instead (Celery logs "] retry: "), so with no such line once the
        runs returned, no later run, and no later LLM call, can come from these tasks.
        """
        return wait_until(lambda: (log := self.log()).count("] succeeded in ") >= count and log, timeout_s)


def call_times(fake: FakeLLMServer, count: int, timeout_s: float = 60) -> list[float]:
    """Watch the fake's call counter and note when each of the first `count` calls arrived."""
    seen: list[float] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < count and time.monotonic() < deadline:
        n = fake.call_count
        while len(seen) < n:
            seen.append(time.monotonic())
        time.sleep(0.01)
    assert len(seen) >= count, f"only {len(seen)} of {count} calls arrived"
    return seen


def sent_text(fake: FakeLLMServer) -> str:
    """Every request body the fake LLM server received, concatenated."""
    return "\n".join(r.body_text for r in fake.requests)
