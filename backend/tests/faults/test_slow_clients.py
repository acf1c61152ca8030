"""Slow and idle clients against the web workers as `python -m app up` runs them (`python -m app
serve`): a connection whose headers do not arrive in time is closed, each worker serves a bounded
number of connections and answers 503 past it, and once the idle ones are gone requests are served."""

from __future__ import annotations

import socket
import sys

import httpx

from tests.faults.servers import ChildProcess, Stack, wait_for_http
from tests.support.db import wait_until
from tests.support.processes import free_port

HEADER_TIMEOUT_S = 1
LIMIT = 20


def serve(stack: Stack) -> tuple[ChildProcess, int]:
    port = free_port()
    child = ChildProcess(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "1"],
        stack.env(header_read_timeout_s=HEADER_TIMEOUT_S, web_connection_limit=LIMIT),
        "faults-serve.log",
    )
    stack.children.append(child)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", 30, child.process)
    return child, port


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (recv sees end of stream)."""
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_headers_that_trickle_in_are_cut_off(stack: Stack) -> None:
    _, port = serve(stack)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.settimeout(0.2)
    slow.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    silent = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
    silent.settimeout(0.2)

    wait_until(lambda: closed_by_server(slow), timeout_s=30, interval_s=0)
    wait_until(lambda: closed_by_server(silent), timeout_s=30, interval_s=0)
    # A client that sends its request in time is served as usual.
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


def test_past_the_connection_cap_a_worker_answers_503_and_recovers(stack: Stack) -> None:
    _, port = serve(stack)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(LIMIT)]
    try:
        refused = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert refused.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200, timeout_s=30)
