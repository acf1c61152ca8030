"""POST /api/v1/events: the seed's JSON ingest endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from app.config import get_settings
from app.errors import AppError
from app.events.normalize import normalize_seed_event
from app.ingest.body import read_body
from app.ingest.envelope import parse_json_payload
from app.ingest.pipeline import accept_event, ingest_session
from app.ingest.rate_limit import enforce_rate_limit
from app.ingest.seed_schema import EventAccepted, SeedEventIn
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


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """Read at most max_bytes of body (chunked or not, gzip/deflate/br or plain) and parse one JSON
    object with the guarded parser (nesting depth capped): 413 over the limit, 400 if malformed."""
    body = await read_body(
        request.stream(),
        content_encoding=request.headers.get("content-encoding"),
        max_compressed=max_bytes,
        max_decompressed=max_bytes,
    )
    return parse_json_payload(body, max_bytes=max_bytes)


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
    """Store the event and answer at once; a server error (status >= 500) is queued for analysis."""
    raw = await read_json_object(request, MAX_SEED_BODY_BYTES)
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
        stored = await accept_event(
            session, request.app.state.dispatcher, project, raw, normalize_seed_event, received_at=received_at
        )
    return EventAccepted(
        id=stored.id,
        event_id=stored.event_id,
        issue_id=stored.issue_id,
        analysis_queued=stored.analysis_id is not None,
        analysis_id=stored.analysis_id,
    )
