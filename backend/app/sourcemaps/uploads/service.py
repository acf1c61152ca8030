"""What sentry-cli's `sourcemaps upload` asks of the server, as Sentry answers it.

The CLI first reads the chunk-upload options (`chunk_upload_options`), then asks to assemble its
bundle by the sha1 of the zip and of each chunk (`assemble`). The first answer names the chunks the
server lacks (`not_found`); the CLI uploads them (`store_chunks`, gzip-compressed when we advertise
it) and asks again. Once every chunk is here the bundle is put together, checked (sha1, zip, size
limits, manifest: app/sourcemaps/archive.py) and stored for each project in the same request, so the
answer is `ok` at once (Sentry answers `created` and assembles in the background; the CLI accepts
either, and with `--wait` polls until `ok`). Its chunks are then deleted.

Every refusal is an AppError with a message the CLI prints: 400 for a bad checksum or bundle, 413 for
a chunk or bundle over the limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import AppError
from app.sourcemaps.archive import BadBundle, read_bundle
from app.sourcemaps.uploads import repository

CHUNKS_PER_REQUEST = 64
MAX_CHUNKS_PER_BUNDLE = 10_000
SHA1 = re.compile(r"^[0-9a-f]{40}$")
# What we take besides source maps is never asked for; sentry-cli needs `artifact_bundles` to
# upload source maps at all, and `sources` for `debug-files bundle-sources`-style uploads we refuse.
ACCEPTED = ["artifact_bundles", "release_files"]


def max_request_bytes(settings: Settings) -> int:
    """A chunk-upload request's largest body: four chunks plus the multipart framing."""
    return 4 * settings.sourcemap_chunk_bytes + 64 * 1024


def chunk_upload_options(upload_url: str, settings: Settings) -> dict[str, Any]:
    """The answer to `GET …/chunk-upload/`: where and how the CLI uploads chunks."""
    return {
        "url": upload_url,
        "chunkSize": settings.sourcemap_chunk_bytes,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxFileSize": settings.sourcemap_max_bundle_bytes,
        "maxRequestSize": max_request_bytes(settings),
        "concurrency": 1,
        "hashAlgorithm": "sha1",
        "compression": ["gzip"],
        "accept": ACCEPTED,
    }


@dataclass(frozen=True)
class UploadedPart:
    field: str  # "file" or "file_gzip"
    filename: str  # the chunk's sha1, as the CLI names it
    content: bytes


def _inflate(part: UploadedPart, limit: int) -> bytes:
    """A gzip part's chunk, refused as soon as it inflates past `limit`."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(part.content, limit + 1)
    except zlib.error as exc:
        raise AppError(f"chunk {part.filename}: not valid gzip ({exc})", 400) from None
    if len(data) > limit:
        raise AppError(f"chunk {part.filename} inflates past the chunk size of {limit} bytes", 413)
    if not inflater.eof:
        raise AppError(f"chunk {part.filename}: truncated gzip data", 400)
    return data


async def store_chunks(session: AsyncSession, parts: list[UploadedPart], settings: Settings) -> int:
    """Keep uploaded chunks, each checked against the sha1 it is named by; how many were sent."""
    if len(parts) > CHUNKS_PER_REQUEST:
        raise AppError(f"at most {CHUNKS_PER_REQUEST} chunks per request", 400)
    limit = settings.sourcemap_chunk_bytes
    chunks: dict[str, bytes] = {}
    for part in parts:
        if part.field not in ("file", "file_gzip"):
            raise AppError(f"unexpected form field {part.field!r} (chunks go in file or file_gzip)", 400)
        name = part.filename.strip().lower()
        if not SHA1.match(name):
            raise AppError(f"chunk name {part.filename!r} is not a sha1 checksum", 400)
        if part.field == "file_gzip":
            data = _inflate(part, limit)
        elif len(part.content) > limit:
            raise AppError(f"chunk {name} is larger than the chunk size of {limit} bytes", 413)
        else:
            data = part.content
        actual = hashlib.sha1(data).hexdigest()  # noqa: S324 - the protocol's checksum, not a secret
        if actual != name:
            raise AppError(f"checksum mismatch: chunk named {name} has sha1 {actual}", 400)
        chunks[name] = data
    await repository.add_chunks(session, chunks)
    return len(parts)


@dataclass(frozen=True)
class AssembleRequest:
    checksum: str
    chunks: list[str]
    projects: list[str]
    version: str | None
    dist: str | None

    @classmethod
    def parse(cls, body: Any) -> AssembleRequest:
        """The assemble request's JSON, checked; AppError 400 naming what is wrong."""
        if not isinstance(body, dict):
            raise AppError("the body must be a JSON object", 400)
        checksum = body.get("checksum")
        chunks = body.get("chunks")
        projects = body.get("projects")
        if not _is_sha1(checksum):
            raise AppError("checksum must be the bundle's sha1 (40 hex digits)", 400)
        if not isinstance(chunks, list) or not all(_is_sha1(c) for c in chunks):
            raise AppError("chunks must be a list of sha1 checksums", 400)
        if len(chunks) > MAX_CHUNKS_PER_BUNDLE:
            raise AppError(f"at most {MAX_CHUNKS_PER_BUNDLE} chunks per bundle", 400)
        if not isinstance(projects, list) or not projects or not all(isinstance(p, str) for p in projects):
            raise AppError("projects must name at least one project", 400)
        return cls(
            checksum=checksum.lower(),
            chunks=[c.lower() for c in chunks],
            projects=projects,
            version=_optional(body, "version", 200),
            dist=_optional(body, "dist", 64),
        )


def _is_sha1(value: Any) -> bool:
    return isinstance(value, str) and SHA1.match(value.lower()) is not None


def _optional(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise AppError(f"{key} must be a string of at most {limit} characters", 400)
    return value


def _answer(state: str, missing: list[str] | None = None, detail: str | None = None) -> dict[str, Any]:
    return {"state": state, "missingChunks": missing or [], "detail": detail}


async def assemble(
    session: AsyncSession, request: AssembleRequest, project_ids: list[int], settings: Settings
) -> dict[str, Any]:
    """Assemble the bundle for these projects once all its chunks are here (Sentry's answer shape)."""
    holding = await repository.assembled_projects(session, request.checksum, project_ids)
    todo = sorted(set(project_ids) - holding)
    if not todo:
        return _answer("ok")
    distinct = list(dict.fromkeys(request.chunks))
    present = await repository.present_chunks(session, distinct)
    missing = [c for c in distinct if c not in present]
    if missing:
        return _answer("not_found", missing)
    if await repository.chunk_sizes(session, distinct) > settings.sourcemap_max_bundle_bytes:
        raise AppError(f"the bundle is larger than {settings.sourcemap_max_bundle_bytes} bytes", 413)
    contents = await repository.chunk_contents(session, distinct)
    data = b"".join(contents[c] for c in request.chunks)
    actual = hashlib.sha1(data).hexdigest()  # noqa: S324 - the protocol's checksum
    if actual != request.checksum:
        raise AppError(
            f"checksum mismatch: the chunks put together have sha1 {actual}, not {request.checksum}", 400
        )
    try:
        # Inflating is CPU work of up to a few seconds: off the event loop.
        bundle = await asyncio.to_thread(read_bundle, data, settings.sourcemap_max_uncompressed_bytes)
    except BadBundle as exc:
        raise AppError(f"bad artifact bundle: {exc}", 400) from None
    if not bundle.files:
        raise AppError("the bundle holds no minified sources or source maps", 400)
    for project_id in todo:
        release, dist = request.version or bundle.release, request.dist or bundle.dist
        await repository.add_bundle(session, project_id, request.checksum, bundle, release, dist)
    await repository.delete_chunks(session, distinct)
    return _answer("ok")
