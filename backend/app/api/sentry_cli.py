"""The part of Sentry's web API that sentry-cli uses to upload source maps (`/api/0/…`).

`sentry-cli --url URL --auth-token TOKEN sourcemaps upload --org ORG --project PROJECT [--release R]`
calls, in order: `GET organizations/{org}/chunk-upload/` (the options), `POST
organizations/{org}/artifactbundle/assemble/` (which chunks are missing), `POST
organizations/{org}/chunk-upload/` (the chunks, multipart), and assemble again (polled with `--wait`).
The organisation and project lookups and `releases new/finalize` answer the CLI's other commands that
pipelines run around an upload.

Faultline has one organisation, so any `{org}` slug is accepted. A project is named by its slug (its
name slugified, app/models/project.py) or its numeric id. The token is a Faultline API token: without
one, or an invalid one, 401; uploads need the project:write scope and a token naming the project,
else 403 with a message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from app.api.schemas import ErrorOut
from app.auth.dependencies import ApiScope, DbSession
from app.auth.service import WRITE_SCOPE, TokenScope
from app.config import get_settings
from app.errors import AppError
from app.models import Project, project_slug
from app.projects import repository as projects
from app.sourcemaps.uploads import service as uploads

RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A malformed request, chunk or bundle, or an unknown project"},
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked bearer token"},
    403: {"model": ErrorOut, "description": "The token lacks project:write, or does not name the project"},
    404: {"model": ErrorOut, "description": "No such project"},
    413: {"model": ErrorOut, "description": "A chunk or bundle over the upload limits"},
}
router = APIRouter(prefix="/api/0", tags=["sentry-cli uploads"], responses=RESPONSES)

Slug = Annotated[str, Path(min_length=1, max_length=200)]
ORGANIZATION = {"id": "1", "slug": "faultline", "name": "Faultline"}


def _organization(org: str) -> dict[str, Any]:
    return {**ORGANIZATION, "slug": org}


def _project_out(project: Project) -> dict[str, Any]:
    return {
        "id": str(project.id),
        "slug": project_slug(project),
        "name": project.name,
        "platform": None,
        "dateCreated": project.created_at.isoformat() if project.created_at else None,
    }


def _require_write(scope: TokenScope) -> None:
    if not scope.can_write:
        raise AppError(
            f"this token lacks the {WRITE_SCOPE} scope needed to upload "
            f"(python -m app create-token NAME --project ID --scope {WRITE_SCOPE})",
            403,
        )


async def _project(session: DbSession, scope: TokenScope, slug: str, missing_status: int = 404) -> Project:
    """The project named by slug or id. An upload naming an unknown one is a 400: sentry-cli words
    every 404 of an upload as "Release not found"."""
    project = await projects.get_by_slug(session, slug)
    if project is None:
        raise AppError(f"project {slug!r} not found (give its slug or numeric id)", missing_status)
    if not scope.allows(project.id):
        raise AppError(f"this token may not access project {slug!r}", 403)
    return project


@router.get("/organizations/{org}/", summary="The organisation (Faultline has one; any slug names it)")
async def organization(org: Slug, scope: ApiScope) -> dict[str, Any]:
    return _organization(org)


@router.get("/organizations/{org}/projects/", summary="The projects this token may see")
async def organization_projects(org: Slug, session: DbSession, scope: ApiScope) -> list[dict[str, Any]]:
    return [_project_out(p) for p in await projects.list_all(session) if scope.allows(p.id)]


@router.get("/projects/{org}/{project}/", summary="A project, by slug or numeric id")
async def project_details(org: Slug, project: Slug, session: DbSession, scope: ApiScope) -> dict[str, Any]:
    found = await _project(session, scope, project)
    return {**_project_out(found), "organization": _organization(org)}


@router.get("/organizations/{org}/chunk-upload/", summary="sentry-cli's chunk-upload options")
async def chunk_upload_options(org: Slug, request: Request, scope: ApiScope) -> dict[str, Any]:
    _require_write(scope)
    url = str(request.url_for("upload_chunks", org=org))
    return uploads.chunk_upload_options(url, get_settings())


@router.post("/organizations/{org}/chunk-upload/", summary="Upload chunks (multipart, by sha1)")
async def upload_chunks(org: Slug, request: Request, session: DbSession, scope: ApiScope) -> JSONResponse:
    _require_write(scope)
    settings = get_settings()
    limit = uploads.max_request_bytes(settings)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise AppError(f"a chunk upload request may hold at most {limit} bytes", 413)
    try:
        form = await request.form(
            max_files=uploads.CHUNKS_PER_REQUEST, max_fields=16, max_part_size=settings.sourcemap_chunk_bytes
        )
    except MultiPartException as exc:
        raise AppError(f"bad multipart body: {exc.message}", 400) from None
    parts = []
    for field, value in form.multi_items():
        if isinstance(value, UploadFile):
            if (value.size or 0) > settings.sourcemap_chunk_bytes:
                raise AppError(f"chunk {value.filename} is larger than the chunk size", 413)
            parts.append(uploads.UploadedPart(field, value.filename or "", await value.read()))
    if not parts:
        raise AppError("no chunks in the request (multipart fields file or file_gzip)", 400)
    await uploads.store_chunks(session, parts, settings)
    return JSONResponse({}, status_code=200)


@router.post("/organizations/{org}/artifactbundle/assemble/", summary="Assemble an uploaded artifact bundle")
async def assemble_bundle(org: Slug, request: Request, session: DbSession, scope: ApiScope) -> dict[str, Any]:
    _require_write(scope)
    try:
        body = await request.json()
    except ValueError:
        raise AppError("the body must be JSON", 400) from None
    wanted = uploads.AssembleRequest.parse(body)
    project_ids = [(await _project(session, scope, slug, 400)).id for slug in wanted.projects]
    return await uploads.assemble(session, wanted, project_ids, get_settings())


@router.post("/organizations/{org}/releases/", status_code=201, summary="sentry-cli releases new")
async def new_release(org: Slug, request: Request, session: DbSession, scope: ApiScope) -> dict[str, Any]:
    """Accepted for pipelines that run `sentry-cli releases new`: Faultline knows a release from the
    events and bundles that name it, so nothing is stored."""
    _require_write(scope)
    try:
        body = await request.json()
    except ValueError:
        raise AppError("the body must be JSON", 400) from None
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version or len(version) > 200:
        raise AppError("version must be a string of 1 to 200 characters", 400)
    slugs = body.get("projects") or []
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise AppError("projects must be a list of project slugs", 400)
    found = [await _project(session, scope, slug, 400) for slug in slugs]
    return _release(version, found)


@router.put("/organizations/{org}/releases/{version}/", summary="sentry-cli releases finalize")
async def update_release(org: Slug, version: Slug, scope: ApiScope) -> dict[str, Any]:
    _require_write(scope)
    return _release(version, [])


def _release(version: str, found: list[Project]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "version": version,
        "shortVersion": version,
        "dateCreated": now,
        "dateReleased": None,
        "projects": [{"slug": project_slug(p), "name": p.name} for p in found],
    }
