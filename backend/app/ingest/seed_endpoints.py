"""POST /api/v1/events: the seed's JSON ingest endpoint.

A seed event takes the path every event takes: into the inbox (durable when committed), then a
digester stores and groups it (app/ingest/digester.py). The 201 waits for that, so it can name the
stored event, its issue and its analysis (app/ingest/digest_waiter.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.errors import AppError
from app.events.normalize import normalize_event_id
from app.ingest.body import read_body
from app.ingest.envelope import parse_json_payload
from app.ingest.inbox import SEED, InboxEvent
from app.ingest.rate_limit import enforce_rate_limit
from app.ingest.seed_schema import EventAccepted, SeedEventIn
from app.ingest.sentry_auth import extract_sentry_key
from app.ingest.session import ingest_session
from app.issues import repository as issues_repository
from app.models import Project
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
        timeout_s=get_settings().body_read_timeout_s,
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
        401: {"description": "No project_key nor Sentry credentials, or malformed or conflicting ones"},
        403: {
            "description": "The key opens no project: not a DSN public key nor a seed key, and no "
            "project may be created for it (AUTO_CREATE_PROJECTS off, AUTO_CREATE_MAX_PROJECTS reached, "
            "or it is the name of a project created elsewhere)"
        },
        413: {"description": "Body over 1 MiB"},
        422: {"description": "A field is missing or invalid; the message names it"},
        429: {"description": "The project's rate limit is exceeded; retry after Retry-After seconds"},
        503: {"description": "Event store unavailable; retry after Retry-After seconds"},
    },
)
async def ingest_seed_event(request: Request) -> EventAccepted:
    """Store the event; a server error (status >= 500) is queued for analysis, analysed later.

    The project's key comes as `project_key` in the body, or as Sentry credentials.
    """
    body, raw = await read_json_object(request, MAX_SEED_BODY_BYTES)
    try:
        seed = SeedEventIn.model_validate(raw)
    except ValidationError as exc:
        raise AppError(describe_validation_error(exc), 422) from exc
    credentials_key = sentry_credentials_key(request)
    if seed.project_key is None and credentials_key is None:
        raise AppError(
            "missing authentication: send the project's key as project_key (or the DSN public key as "
            "X-Sentry-Auth or ?sentry_key=)",
            401,
        )
    received_at = datetime.now(UTC)
    async with ingest_session() as session:
        project = await project_for(session, seed.project_key, credentials_key)
        request.state.project_id = project.id  # for the access log
        await enforce_rate_limit(request, project)
        await session.commit()  # a project created for this event, before a digester stores it
        event_id = seed_event_id(seed.event_id, request.headers.get("idempotency-key"))
        event = InboxEvent(project.id, event_id, received_at, body, kind=SEED)
        row_key, _ = await request.app.state.inbox_writer.put(event)
    row = await request.app.state.digest_waiter.wait(
        row_key, get_settings().seed_answer_wait_s, project_id=project.id
    )
    if row is None or not row.stored:
        return accepted(event_id, None, None, None)
    if row.error_event_id is None:  # a resend: answer as the first time
        async with ingest_session() as session:
            first = await issues_repository.find_event(session, project.id, event_id)
        if first is not None:
            return accepted(event_id, first.id, first.issue_id, first.analysis_id)
    return accepted(event_id, row.error_event_id, row.issue_id, row.analysis_id)


# Idempotency-Key values name event ids in a namespace of their own.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5f1d1c6e-8f3a-4a53-9c59-2f7e3b0d6a41")


def seed_event_id(sent: str | None, idempotency_key: str | None) -> str:
    """The id to store the event under: the client's `event_id`, else one derived from its
    `Idempotency-Key` (so a retry maps to the same id), else a fresh one."""
    if sent is None and idempotency_key and idempotency_key.strip():
        return uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key.strip()).hex
    return normalize_event_id(sent)


def accepted(event_id: str, pk: int | None, issue_id: int | None, analysis_id: int | None) -> EventAccepted:
    return EventAccepted(
        id=pk,
        event_id=event_id,
        issue_id=issue_id,
        analysis_queued=analysis_id is not None,
        analysis_id=analysis_id,
    )


def sentry_credentials_key(request: Request) -> str | None:
    """The key of `X-Sentry-Auth`, `Authorization: Sentry …` or `?sentry_key=`, if the request has one
    (401 when malformed or conflicting)."""
    headers = request.headers
    authorization = headers.get("authorization", "")
    if not (
        "x-sentry-auth" in headers
        or authorization.lstrip().lower().startswith("sentry")
        or "sentry_key" in request.query_params
    ):
        return None
    return extract_sentry_key(headers, request.query_params, None)


async def project_for(session: AsyncSession, project_key: str | None, credentials_key: str | None) -> Project:
    """The project the event's keys open (403 when they open none, or name two different projects)."""
    settings = get_settings()
    try:
        if credentials_key is not None:
            # Credentials name an existing project; they never create one.
            project = await project_service.get_or_create_by_key(
                session, credentials_key, auto_create=False, max_auto_created=0
            )
            if project_key is not None and project_key != credentials_key:
                other = await project_service.get_or_create_by_key(
                    session, project_key, auto_create=False, max_auto_created=0
                )
                if other.id != project.id:
                    raise AppError("project_key and the Sentry credentials open different projects", 403)
            return project
        assert project_key is not None
        return await project_service.get_or_create_by_key(
            session,
            project_key,
            auto_create=settings.auto_create_projects,
            max_auto_created=settings.auto_create_max_projects,
        )
    except project_service.ProjectKeyRejected as exc:
        raise AppError(str(exc), 403) from exc
