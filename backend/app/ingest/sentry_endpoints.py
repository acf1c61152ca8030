"""Sentry's ingest endpoints: POST /api/<project_id>/envelope/ and /api/<project_id>/store/.

Answers the way Sentry's own server does: 200 {"id"} once accepted, 200 {}
for envelopes without an event, 400 + X-Sentry-Error for malformed input, 413 over the limits,
401/403 for auth (the same answer for an unknown project and a wrong key).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.events.normalize import normalize_event_id
from app.ingest.body import decode_legacy_store_body, read_body
from app.ingest.envelope import parse_envelope, parse_json_payload
from app.ingest.inbox import InboxEvent
from app.ingest.limits import (
    MAX_COMPRESSED_BODY_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_EVENT_BYTES,
    MAX_STORE_BODY_BYTES,
    SENTRY_ERROR_RESPONSES,
    BadPayload,
)
from app.ingest.rate_limit import enforce_rate_limit
from app.ingest.sentry_auth import KeyRejected, extract_sentry_key
from app.ingest.session import ingest_session
from app.models import Project
from app.projects import service as project_service

router = APIRouter(tags=["ingest (Sentry protocol)"])

INVALID_KEY = "invalid project id or sentry key"
# projects.id is a PostgreSQL integer: a longer id cannot exist, and looking it up would be a database
# error. ASCII digits only: str.isdigit() and int() also accept other scripts' digits (U+0661 is 1).
_PROJECT_ID_RE = re.compile(r"[0-9]{1,10}")
_MAX_PROJECT_ID = 2**31 - 1


def _project_pk(project_id: str) -> int | None:
    if not _PROJECT_ID_RE.fullmatch(project_id):
        return None
    number = int(project_id)
    return number if 0 < number <= _MAX_PROJECT_ID else None


def _query_params(request: Request) -> Mapping[str, str]:
    # Most SDKs send no query string: skip parsing an empty one.
    return request.query_params if request.scope.get("query_string") else {}


async def authenticate(session: AsyncSession, project_id: str, key: str) -> Project:
    """The project the key belongs to; one answer for unknown project and wrong key."""
    pk = _project_pk(project_id)
    project = await project_service.get_by_id_cached(session, pk) if pk is not None else None
    if project is None or not secrets.compare_digest(project.public_key, key):
        raise KeyRejected(INVALID_KEY)
    return project


async def store_sentry_event(
    request: Request, project_id: str, key: str, data: dict[str, Any], raw: bytes
) -> str:
    """Authenticate, then accept one Sentry event (`data`, parsed from `raw`) into the inbox; its event_id.

    Accepted means in the inbox, committed (app/ingest/inbox.py); the digester stores and groups it.
    When nothing is queued ahead, the answer waits for that too (app/ingest/digest_waiter.py).
    """
    received_at = datetime.now(UTC)
    # The id normalization would give the event; the digester stores it under this very id.
    event_id = normalize_event_id(data.get("event_id"))
    async with ingest_session() as session:
        project = await authenticate(session, project_id, key)
        request.state.project_id = project.id  # for the access log
        await enforce_rate_limit(request, project)
        event = InboxEvent(project.id, event_id, received_at, raw)
        row_key, wait = await request.app.state.inbox_writer.put(event)
    if wait:  # nothing was queued ahead: answer once the event is stored
        await request.app.state.digest_waiter.wait(
            row_key, get_settings().ingest_ack_wait_s, project_id=project.id
        )
    return event_id


# The slash-less spellings are served too: a redirect would make clients resend (or drop) the body.
@router.post("/api/{project_id}/envelope", include_in_schema=False)
@router.post(
    "/api/{project_id}/envelope/",
    summary="Sentry envelope endpoint (what current SDKs use)",
    responses=SENTRY_ERROR_RESPONSES,
)
async def envelope_endpoint(project_id: str, request: Request) -> dict[str, str]:
    body = await read_body(
        request.stream(),
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=MAX_COMPRESSED_BODY_BYTES,
        max_decompressed=MAX_DECOMPRESSED_BYTES,
        timeout_s=get_settings().body_read_timeout_s,
    )
    envelope = parse_envelope(body)
    key = extract_sentry_key(
        request.headers, _query_params(request), envelope.headers.get("dsn"), project_id=project_id
    )
    item = envelope.event_item()
    if item is None:
        # Sessions, transactions, client reports, attachments…: accepted, not stored (yet).
        async with ingest_session() as session:
            await authenticate(session, project_id, key)
        return {}
    data = parse_json_payload(item.payload, max_bytes=MAX_EVENT_BYTES)
    if not data.get("event_id") and isinstance(envelope.headers.get("event_id"), str):
        data["event_id"] = envelope.headers["event_id"]
    return {"id": await store_sentry_event(request, project_id, key, data, item.payload)}


@router.post("/api/{project_id}/store", include_in_schema=False)
@router.post(
    "/api/{project_id}/store/",
    summary="Legacy Sentry store endpoint (one event)",
    responses=SENTRY_ERROR_RESPONSES,
)
async def store_endpoint(project_id: str, request: Request) -> dict[str, str]:
    key = extract_sentry_key(request.headers, _query_params(request), None, project_id=project_id)
    body = await read_body(
        request.stream(),
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=MAX_COMPRESSED_BODY_BYTES,
        max_decompressed=MAX_STORE_BODY_BYTES,
        timeout_s=get_settings().body_read_timeout_s,
    )
    if not body.strip():
        raise BadPayload("empty body; expected one JSON event")
    raw = decode_legacy_store_body(body)
    data = parse_json_payload(raw, max_bytes=MAX_EVENT_BYTES)
    return {"id": await store_sentry_event(request, project_id, key, data, raw)}
