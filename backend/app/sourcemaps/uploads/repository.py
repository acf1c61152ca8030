"""The SQL of uploads: chunks kept by sha1 until assembled, bundles and their files per project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, TEXT
from sqlalchemy.ext.asyncio import AsyncSession

from app.sourcemaps.archive import Bundle

_INSERT_CHUNKS = text(
    """
    INSERT INTO upload_chunks (checksum, size, content)
    SELECT c, octet_length(d), d FROM unnest(:checksums, :contents) AS u(c, d)
    ON CONFLICT (checksum) DO NOTHING
    """
).bindparams(bindparam("checksums", type_=ARRAY(TEXT)), bindparam("contents", type_=ARRAY(BYTEA)))


async def add_chunks(session: AsyncSession, chunks: dict[str, bytes]) -> None:
    """Keep these chunks (sha1 hex -> content); one already kept is left as it is."""
    if chunks:
        await session.execute(_INSERT_CHUNKS, {"checksums": list(chunks), "contents": list(chunks.values())})


async def present_chunks(session: AsyncSession, checksums: list[str]) -> set[str]:
    """Which of these chunks are kept."""
    rows = await session.execute(
        text("SELECT checksum FROM upload_chunks WHERE checksum = ANY(:c)"), {"c": checksums}
    )
    return {row[0] for row in rows}


async def chunk_sizes(session: AsyncSession, checksums: list[str]) -> int:
    """The total size of these (distinct, kept) chunks."""
    total = await session.scalar(
        text("SELECT coalesce(sum(size), 0) FROM upload_chunks WHERE checksum = ANY(:c)"), {"c": checksums}
    )
    return int(total or 0)


async def chunk_contents(session: AsyncSession, checksums: list[str]) -> dict[str, bytes]:
    rows = await session.execute(
        text("SELECT checksum, content FROM upload_chunks WHERE checksum = ANY(:c)"), {"c": checksums}
    )
    return {row[0]: bytes(row[1]) for row in rows}


async def delete_chunks(session: AsyncSession, checksums: list[str]) -> None:
    await session.execute(text("DELETE FROM upload_chunks WHERE checksum = ANY(:c)"), {"c": checksums})


async def assembled_projects(session: AsyncSession, checksum: str, project_ids: list[int]) -> set[int]:
    """Those of the projects that already hold the bundle with this checksum."""
    rows = await session.execute(
        text("SELECT project_id FROM artifact_bundles WHERE checksum = :c AND project_id = ANY(:p)"),
        {"c": checksum, "p": project_ids},
    )
    return {row[0] for row in rows}


_INSERT_BUNDLE = text(
    """
    INSERT INTO artifact_bundles (project_id, checksum, bundle_debug_id, release, dist, file_count, size)
    VALUES (:project_id, :checksum, CAST(:debug_id AS uuid), :release, :dist, :file_count, :size)
    ON CONFLICT (project_id, checksum) DO NOTHING
    RETURNING id
    """
)

_INSERT_FILES = text(
    """
    INSERT INTO artifact_bundle_files (bundle_id, project_id, release, dist, path, url, type, debug_id,
                                       sourcemap, size, content)
    SELECT :bundle_id, :project_id, :release, :dist, f.path, f.url, f.type, CAST(f.debug_id AS uuid),
           f.sourcemap, octet_length(f.content), f.content
    FROM unnest(:paths, :urls, :types, :debug_ids, :sourcemaps, :contents)
         AS f(path, url, type, debug_id, sourcemap, content)
    """
).bindparams(
    *(bindparam(name, type_=ARRAY(TEXT)) for name in ("paths", "urls", "types", "debug_ids", "sourcemaps")),
    bindparam("contents", type_=ARRAY(BYTEA)),
)


async def add_bundle(
    session: AsyncSession,
    project_id: int,
    checksum: str,
    bundle: Bundle,
    release: str | None,
    dist: str | None,
) -> int | None:
    """Store the bundle and its files for the project; None when the project holds it already."""
    bundle_id = await session.scalar(
        _INSERT_BUNDLE,
        {
            "project_id": project_id,
            "checksum": checksum,
            "debug_id": bundle.debug_id,
            "release": release,
            "dist": dist,
            "file_count": len(bundle.files),
            "size": bundle.size,
        },
    )
    if bundle_id is None or not bundle.files:
        return bundle_id
    files: dict[str, list[Any]] = {
        "paths": [f.path for f in bundle.files],
        "urls": [f.url for f in bundle.files],
        "types": [f.type for f in bundle.files],
        "debug_ids": [f.debug_id for f in bundle.files],
        "sourcemaps": [f.sourcemap for f in bundle.files],
        "contents": [f.content for f in bundle.files],
    }
    where = {"bundle_id": bundle_id, "project_id": project_id, "release": release, "dist": dist}
    await session.execute(_INSERT_FILES, {**where, **files})
    return int(bundle_id)
