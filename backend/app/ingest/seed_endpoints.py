"""POST /api/v1/events: the seed's JSON ingest endpoint.

A seed event takes the path every event takes: into the inbox (durable when committed), then a
digester stores and groups it (app/ingest/digester.py). The 201 waits for that, so it can name the
stored event, its issue and its analysis (app/ingest/digest_waiter.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from app.config import get_settings
from app.errors import AppError
from app.events.normalize import normalize_event_id
from app.ingest.body import read_body
from app.ingest.envelope import parse_json_payload
from app.ingest.inbox import SEED, InboxEvent
from app.ingest.rate_limit import enforce_rate_limit
from app.ingest.seed_schema import EventAccepted, SeedEventIn
from app.ingest.session import ingest_session
from app.projects import service as project_service

router = APIRouter(tags=["ingest"])

MAX_SEED_BODY_BYTES = 1024 * 1024


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each offending field, e.g. `message: Field required`."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{field}: {error['msg']}")
    return "invalid event: " + "; ".join(parts)


async def read_json_object(request: Request, max_bytes: int) -> tuple[bytes, dict[str, Any]]:
    """Read at most max_bytes of body (chunked or not, gzip/deflate/br or plain) and parse one JSON
    object with the guarded parser (nesting depth capped): 413 over the limit, 400 if malformed.
    Returns the body as sent (decompressed) and the object."""
    body = await read_body(
        request.stream(),
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=max_bytes,
        max_decompressed=max_bytes,
    )
    return body, parse_json_payload(body, max_bytes=max_bytes)


@router.post(
    "/api/v1/events",
    status_code=201,
    response_model=EventAccepted,
    summary="Report an error event (the seed's JSON format)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SeedEventIn.model_json_schema()}},
        }
    },
    responses={
        400: {"description": "Malformed JSON, or nested deeper than 128 levels"},
        403: {"description": "Unknown project_key while AUTO_CREATE_PROJECTS is off"},
        413: {"description": "Body over 1 MiB"},
        422: {"description": "A field is missing or invalid; the message names it"},
        429: {"description": "The project's rate limit is exceeded; retry after Retry-After seconds"},
        503: {"description": "Event store unavailable; retry after Retry-After seconds"},
    },
)
async def ingest_seed_event(request: Request) -> EventAccepted:
    """Store the event; a server error (status >= 500) is queued for analysis, analysed later."""
    body, raw = await read_json_object(request, MAX_SEED_BODY_BYTES)
    try:
        seed = SeedEventIn.model_validate(raw)
    except ValidationError as exc:
        raise AppError(describe_validation_error(exc), 422) from exc
    received_at = datetime.now(UTC)
    settings = get_settings()
    async with ingest_session() as session:
        project = await project_service.get_or_create_by_key(
            session, seed.project_key, auto_create=settings.auto_create_projects
        )
        if project is None:
            raise AppError(f"unknown project_key {seed.project_key!r}", 403)
        await enforce_rate_limit(request, project)
        await session.commit()  # a project created for this event, before a digester stores it
        event_id = normalize_event_id(raw.get("event_id"))
        event = InboxEvent(project.id, event_id, received_at, body, kind=SEED)
        row_key, _ = await request.app.state.inbox_writer.put(event)
    row = await request.app.state.digest_waiter.wait(
        row_key, settings.seed_answer_wait_s, project_id=project.id
    )
    stored = row if row is not None and row.stored else None
    return EventAccepted(
        id=stored.error_event_id if stored else None,
        event_id=event_id,
        issue_id=stored.issue_id if stored else None,
        analysis_queued=stored is not None and stored.analysis_id is not None,
        analysis_id=stored.analysis_id if stored else None,
    )
