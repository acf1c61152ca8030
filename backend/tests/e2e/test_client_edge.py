"""The HTTP edge as operators see it: an access log line per request (credentials filtered, refusals
with their reason), an aborted upload is a logged 499 and a counter rather than a 500 with a
traceback, and a body that trickles in is cut off with 408."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from app.config import get_settings
from tests.support.db import scalar, wait_until
from tests.support.metrics import scrape, value


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "access"]


def raw_request(port: int, head: bytes, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head + body)
    return sock


def test_every_request_has_an_access_line_with_credentials_filtered(live_server, caplog) -> None:
    caplog.set_level(logging.INFO, logger="access")
    created = httpx.post(
        f"{live_server.url}/api/v1/events",
        json={"project_key": "logged", "message": "Boom", "status_code": 500},
    )
    assert created.status_code == 201
    project_id = scalar("SELECT id FROM projects WHERE name = 'logged'")
    refused = httpx.post(
        f"{live_server.url}/api/v1/events?sentry_key=0123456789abcdef0123456789abcdef&page=2",
        json={"message": "Boom"},
    )
    assert refused.status_code == 403

    wait_until(lambda: len(access_lines(caplog)) >= 2)
    ok, denied = access_lines(caplog)[-2:]
    assert ok.startswith("POST /api/v1/events 201 ")
    assert f"project={project_id} " in ok
    assert "in=" in ok and "out=" in ok
    assert denied.startswith("POST /api/v1/events?sentry_key=[Filtered]&page=2 403 ")
    assert "0123456789abcdef" not in denied
    assert denied.endswith('"unknown project_key: send the project\'s DSN public key (the dashboard and '
                           '`python -m app create-project` show it)"')  # fmt: skip


def test_an_aborted_upload_is_a_499_line_and_a_counter_not_a_traceback(live_server, caplog) -> None:
    caplog.set_level(logging.INFO)

    def disconnects() -> float:
        return value(scrape(live_server.url), "faultline_client_disconnects_total")

    before = disconnects()
    head = (
        b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    sock = raw_request(live_server.port, head, b'{"project_key": "gone", "message": "')
    sock.close()

    wait_until(lambda: disconnects() == before + 1)
    wait_until(lambda: any(" 499 " in line for line in access_lines(caplog)))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert scalar("SELECT count(*) FROM ingest_inbox") + scalar("SELECT count(*) FROM error_events") == 0


def test_a_body_that_does_not_arrive_in_time_is_a_408(live_server, monkeypatch) -> None:
    monkeypatch.setenv("BODY_READ_TIMEOUT_S", "0.5")
    get_settings.cache_clear()
    head = (
        b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with raw_request(live_server.port, head, b'{"project_key": "slow", ') as sock:
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within 0.5 s" in answer
    assert scalar("SELECT count(*) FROM projects") == 0
