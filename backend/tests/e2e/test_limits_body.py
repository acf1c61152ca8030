"""Hard limits on what a client can make the API read, inflate or parse, on all three ingest endpoints:
compression bombs, a 50 MB chunked body and 100,000-deep JSON get 413/400 (never 500), and the API
process's peak memory stays bounded. Oversized fields are truncated with a marker, not refused.

The API runs as its own uvicorn process here, so its resident memory is the server's alone.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import zlib
from collections.abc import Iterator

import brotli
import httpx
import pytest

from app.db import sync_session
from app.events.text import TRUNCATION_MARKER
from app.projects.service import sync_create_project
from tests.faults.servers import ApiServer
from tests.support.db import rows, scalar

MB = 1_000_000
BOMB_INFLATED = 200 * 1024 * 1024  # twice the largest decompressed size any endpoint accepts
MEMORY_BUDGET = 200 * MB


@pytest.fixture(scope="module")
def api() -> Iterator[ApiServer]:
    server = ApiServer.start(dict(os.environ))
    yield server
    server.child.kill_group()


@pytest.fixture
def project() -> tuple[int, str]:
    with sync_session() as session:
        created = sync_create_project(session, "limits")
        return created.id, created.public_key


def _zeros_compressed(compressor: zlib._Compress) -> bytes:
    block = bytes(1024 * 1024)
    out = [compressor.compress(block) for _ in range(BOMB_INFLATED // len(block))]
    return b"".join(out) + compressor.flush()


def _brotli_zeros() -> bytes:
    compressor = brotli.Compressor(quality=5)
    block = bytes(1024 * 1024)
    out = [compressor.process(block) for _ in range(BOMB_INFLATED // len(block))]
    return b"".join(out) + compressor.finish()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """200 MiB of zeros as gzip, zlib-deflate, raw deflate and brotli (a few hundred KB each)."""
    return {
        "gzip": _zeros_compressed(zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)),
        "deflate": _zeros_compressed(zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)),
        "deflate-raw": _zeros_compressed(zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)),
        "br": _brotli_zeros(),
    }


def endpoints(project: tuple[int, str]) -> dict[str, tuple[str, dict[str, str]]]:
    project_id, key = project
    auth = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}"}
    return {
        "seed": ("/api/v1/events", {"Content-Type": "application/json"}),
        "envelope": (f"/api/{project_id}/envelope/", auth),
        "store": (f"/api/{project_id}/store/", auth),
    }


def send_chunked(url: str, path: str, headers: dict[str, str], total: int) -> tuple[int, bytes]:
    """POST `total` bytes with Transfer-Encoding: chunked (no Content-Length) from a raw socket."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n{head}\r\n".encode()
        )
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < total:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and hang up before taking it all
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_bombs_oversized_and_deep_bodies_are_refused_with_bounded_memory(api, project, bombs):
    targets = endpoints(project)
    assert (
        httpx.post(api.url + "/api/v1/events", json={"project_key": "warm", "message": "up"}).status_code
        == 201
    )
    rss_before = api.rss_bytes()

    for name, (path, headers) in targets.items():
        for encoding, body in bombs.items():
            content_encoding = "deflate" if encoding.startswith("deflate") else encoding
            response = httpx.post(
                api.url + path,
                content=body,
                headers={**headers, "Content-Encoding": content_encoding},
                timeout=60,
            )
            assert response.status_code == 413, (name, encoding, response.text)

        status, answer = send_chunked(api.url, path, headers, 50 * MB)
        assert status == 413, (name, answer)

    seed_deep = '{"project_key": "limits", "message": "deep", "extra": ' + deep_json(100_000) + "}"
    event_deep = '{"message": "deep", "extra": ' + deep_json(100_000) + "}"
    envelope_deep = '{}\n{"type": "event"}\n' + event_deep
    for (path, headers), body in zip(targets.values(), [seed_deep, envelope_deep, event_deep], strict=True):
        response = httpx.post(api.url + path, content=body, headers=headers, timeout=30)
        assert response.status_code == 400, (path, response.text)
        assert "nested 100001 levels deep, the limit is 128" in response.json()["detail"]

    growth = api.peak_rss_bytes() - rss_before
    assert growth < MEMORY_BUDGET, f"peak RSS grew by {growth / MB:.0f} MB"
    assert scalar("SELECT count(*) FROM error_events") == 1  # only the warm-up event
    assert api.child.alive()


def test_compressed_seed_event_is_accepted(api):
    body = gzip_json({"project_key": "limits", "message": "Gateway timeout", "status_code": 504})
    response = httpx.post(
        api.url + "/api/v1/events",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 201, response.text
    assert scalar("SELECT payload->>'message' FROM error_events") == "Gateway timeout"


def gzip_json(value: object) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(json.dumps(value).encode()) + compressor.flush()


def test_oversized_fields_are_truncated_with_a_marker_not_refused(api, project):
    project_id, key = project
    huge = "x" * 200_000
    seed = {"project_key": "limits", "message": "Checkout failed: " + huge, "status_code": 500}
    assert httpx.post(api.url + "/api/v1/events", json=seed).status_code == 201
    event = {
        "message": "upstream said: " + huge,
        "exception": {"values": [{"type": "ValueError", "value": huge}]},
        "tags": {"request_id": huge},
        "extra": {"blob": huge},
    }
    response = httpx.post(
        f"{api.url}/api/{project_id}/store/",
        json=event,
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}"},
    )
    assert response.status_code == 200, response.text

    stored = rows("SELECT data FROM error_events ORDER BY id")
    assert len(stored) == 2
    for row in stored:
        data = row["data"]
        assert data["message"].endswith(TRUNCATION_MARKER) and len(data["message"]) <= 8192
    sentry = stored[1]["data"]
    assert sentry["exceptions"][0]["value"].endswith(TRUNCATION_MARKER)
    assert sentry["tags"]["request_id"].endswith(TRUNCATION_MARKER)
    assert sentry["extra"]["blob"].endswith(TRUNCATION_MARKER)
