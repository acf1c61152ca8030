"""Events the fault tests send: each `n` is its own issue, so each needs its own analysis."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.fake_llm.server import FakeLLMServer


def seed_event(n: int, project_key: str = "faults") -> dict[str, Any]:
    return {
        "project_key": project_key,
        "message": f"Payment provider unreachable (case {n})",
        "method": "POST",
        "path": "/api/checkout",
        "status_code": 502,
        "fingerprint": [f"fault-case-{n}"],
    }


def post_seed(base_url: str, n: int, project_key: str = "faults", timeout_s: float = 10) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/events", json=seed_event(n, project_key), timeout=timeout_s)


def envelope(n: int, extra: dict[str, Any] | None = None) -> bytes:
    event_id = uuid.uuid4().hex
    event: dict[str, Any] = {
        "event_id": event_id,
        "level": "error",
        "platform": "python",
        "fingerprint": [f"fault-envelope-{n}"],
        "exception": {"values": [{"type": "ConnectionError", "value": f"upstream gone (envelope {n})"}]},
    }
    if extra:
        event["extra"] = extra
    payload = json.dumps(event).encode()
    headers = json.dumps({"event_id": event_id}).encode()
    item_headers = json.dumps({"type": "event", "length": len(payload)}).encode()
    return b"\n".join([headers, item_headers, payload])


def post_envelope(
    base_url: str,
    project_id: int,
    key: str,
    n: int,
    *,
    timeout_s: float = 10,
    extra: dict[str, Any] | None = None,
    body: bytes | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST envelope `n` (or the envelope `body` given, to send one event twice), on `client`'s
    kept-alive connection if given."""
    return (client or httpx).post(
        f"{base_url}/api/{project_id}/envelope/",
        content=envelope(n, extra) if body is None else body,
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}, sentry_client=faults/1.0"},
        timeout=timeout_s,
    )


def llm_env(fake: FakeLLMServer) -> dict[str, str]:
    """Worker settings that send analyses to the fake LLM, so its call count is the number of paid calls."""
    return {
        "llm_provider": "openai",
        "llm_base_url": fake.openai_base_url,
        "llm_model": "fake-model",
        "llm_api_key": "sk-test-faults",
        "llm_timeout_s": "30",
    }
