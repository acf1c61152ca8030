"""Helpers for talking to the live server the way Sentry SDKs do: projects with DSNs, envelopes,
compressed bodies, auth headers, and the issue status service run on its own event loop."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import brotli
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.config import get_settings
from app.db import sync_session
from app.issues.service import set_status
from app.projects.service import dsn_for, sync_create_project

SENTRY_CLIENT = "sentry.python/2.75.0"


@dataclass(frozen=True)
class SentryProject:
    id: int
    key: str
    dsn: str
    base_url: str

    @property
    def envelope_url(self) -> str:
        return f"{self.base_url}/api/{self.id}/envelope/"

    @property
    def store_url(self) -> str:
        return f"{self.base_url}/api/{self.id}/store/"


def make_project(base_url: str, name: str = "shop") -> SentryProject:
    """Create a project the way `python -m app create-project` does, with a DSN pointing at base_url."""
    with sync_session() as session:
        project = sync_create_project(session, name)
        return SentryProject(project.id, project.public_key, dsn_for(project, base_url), base_url)


def auth_header(key: str) -> dict[str, str]:
    """The X-Sentry-Auth header the Python SDK sends."""
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client={SENTRY_CLIENT}"}


def error_event(
    exc_type: str = "RuntimeError",
    value: str = "boom",
    *,
    function: str = "handle",
    module: str = "shop.views",
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A minimal Sentry error event with one in-app frame, the shape the Python SDK sends."""
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": value,
                    "mechanism": {"type": "generic", "handled": True},
                    "stacktrace": {
                        "frames": [
                            {"filename": "shop/views.py", "module": module, "function": function,
                             "lineno": 42, "in_app": True},
                        ]
                    },
                }
            ]
        },
        **fields,
    }  # fmt: skip


def item(
    item_type: str, payload: bytes | dict[str, Any], *, with_length: bool = True, **headers: Any
) -> bytes:
    """One envelope item: its headers line and payload, with or without an explicit `length`."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    item_headers: dict[str, Any] = {"type": item_type, **headers}
    if with_length:
        item_headers["length"] = len(raw)
    return json.dumps(item_headers).encode() + b"\n" + raw


def envelope(
    event: dict[str, Any] | None = None,
    *,
    items: Iterable[bytes] = (),
    with_length: bool = True,
    headers: dict[str, Any] | None = None,
) -> bytes:
    """An envelope body: headers line, then the event item (if any), then the other items."""
    envelope_headers = dict(headers or {})
    parts = []
    if event is not None:
        envelope_headers.setdefault("event_id", event.get("event_id"))
        parts.append(item("event", event, with_length=with_length))
    parts.extend(items)
    return b"\n".join([json.dumps(envelope_headers).encode(), *parts]) + b"\n"


def compress(body: bytes, encoding: str) -> bytes:
    """The body as a client sends it with Content-Encoding `encoding` (deflate-raw: raw deflate)."""
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "br":
        return brotli.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "deflate-raw":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return compressor.compress(body) + compressor.flush()
    raise ValueError(encoding)


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body as an iterator, which httpx sends with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_envelope(
    client: httpx.Client | None,
    project: SentryProject,
    body: bytes,
    *,
    encoding: str = "",
    chunked: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST an envelope authenticated with X-Sentry-Auth (unless `headers` says otherwise)."""
    sent_headers = {
        "Content-Type": "application/x-sentry-envelope",
        **auth_header(project.key),
        **(headers or {}),
    }
    if encoding:
        sent_headers["Content-Encoding"] = "deflate" if encoding == "deflate-raw" else encoding
    wire = compress(body, encoding)
    content: bytes | Iterator[bytes] = chunks(wire) if chunked else wire
    if client is None:
        return httpx.post(project.envelope_url, content=content, headers=sent_headers)
    return client.post(project.envelope_url, content=content, headers=sent_headers)


def set_issue_status(issue_id: int, status: str) -> None:
    """Change an issue's status through app.issues.service, committed, as the dashboard would."""

    async def run() -> None:
        # An engine of our own: the app's pooled connections belong to the live server's event loop.
        engine = create_async_engine(get_settings().async_database_url)
        try:
            async with AsyncSession(engine) as session:
                await set_status(session, issue_id, status)
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())
