"""Reading an artifact bundle as sentry-cli uploads it: a zip of files plus `manifest.json`.

The manifest names each file's type (`minified_source`, `source_map`, …), its URL (`~/app.min.js`)
and headers (`debug-id`, `sourcemap`: the map of a minified file, relative to its URL). A bundle is
untrusted input, so it is read within limits: at most MAX_FILES files, at most `max_bytes`
uncompressed in all (counted as actually inflated, never trusting the sizes the zip declares), and
no large file inflating more than MAX_RATIO times (a zip bomb). Anything else wrong is a BadBundle
with a message for the client.
"""

from __future__ import annotations

import io
import json
import posixpath
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

MANIFEST = "manifest.json"
MAX_FILES = 10_000
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# A source map compresses 5 to 20 times; a deflate bomb up to ~1000 times. Small files are exempt:
# a file of repeated text is harmless below this size.
MAX_RATIO = 100
RATIO_EXEMPT_BYTES = 1024 * 1024
KEPT_TYPES = ("minified_source", "source_map")
_READ_BLOCK = 1024 * 1024


class BadBundle(ValueError):
    """The upload is not a bundle we can use; the message says why (a 400 for the client)."""


@dataclass(frozen=True)
class BundleFile:
    path: str  # inside the zip
    type: str  # minified_source | source_map
    url: str | None  # "~/app.min.js"
    debug_id: str | None  # canonical UUID text
    sourcemap: str | None  # the URL of a minified source's map (its header, resolved against url)
    content: bytes


@dataclass(frozen=True)
class Bundle:
    debug_id: str | None
    release: str | None
    dist: str | None
    files: list[BundleFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(f.content) for f in self.files)


def canonical_debug_id(value: Any) -> str | None:
    """A debug id as a canonical UUID string; None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()[:36]))
    except ValueError:
        return None


def map_url(file_url: str, reference: str) -> str:
    """The URL of a minified file's map: its `sourcemap` header, relative to the file's own URL."""
    if "://" in reference or reference.startswith("~/"):
        return reference
    base = posixpath.dirname(file_url)
    joined = posixpath.normpath(posixpath.join(base, reference))
    # normpath turns "~/a/../b" into "~/b", as a browser would, and keeps the "~" root.
    return joined if joined.startswith("~") or not base.startswith("~") else "~/" + joined.lstrip("/")


class _Budget:
    """What may still be inflated from one bundle."""

    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        if info.file_size > RATIO_EXEMPT_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BadBundle(f"{info.filename}: compressed more than {MAX_RATIO} times (a zip bomb?)")
        if info.file_size > self.left:
            raise BadBundle("the bundle is larger than allowed once uncompressed")
        out = bytearray()
        with archive.open(info) as stream:
            while block := stream.read(_READ_BLOCK):
                out += block
                # The declared size is not trusted: inflation stops at the budget whatever it says.
                if len(out) > info.file_size or len(out) > self.left:
                    raise BadBundle(f"{info.filename}: inflates past its declared or allowed size")
        self.left -= len(out)
        return bytes(out)


def read_bundle(data: bytes, max_bytes: int) -> Bundle:
    """The usable files of a bundle's zip (minified sources and source maps), or BadBundle."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
        raise BadBundle(f"not a zip archive: {exc}") from None
    if len(infos) > MAX_FILES:
        raise BadBundle(f"the bundle holds {len(infos)} files; at most {MAX_FILES} are accepted")
    budget = _Budget(max_bytes)
    try:
        manifest = _manifest(archive, infos, budget)
        files = []
        for path, entry in manifest["files"].items():
            described = _described(path, entry)
            if described is None:
                continue
            if path not in infos:
                raise BadBundle(f"manifest names {path!r}, which the bundle does not hold")
            files.append(BundleFile(content=budget.read(archive, infos[path]), **described))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise BadBundle(f"corrupt zip archive: {exc}") from None
    return Bundle(
        debug_id=canonical_debug_id(manifest.get("debug_id")),
        release=_optional_text(manifest, "release", 200),
        dist=_optional_text(manifest, "dist", 64),
        files=files,
    )


def _manifest(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], budget: _Budget) -> dict[str, Any]:
    info = infos.get(MANIFEST)
    if info is None:
        raise BadBundle("the bundle has no manifest.json")
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BadBundle("manifest.json is too large")
    try:
        manifest = json.loads(budget.read(archive, info))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBundle(f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BadBundle('manifest.json must be an object with a "files" object')
    return manifest


def _described(path: str, entry: Any) -> dict[str, Any] | None:
    """A manifest entry as BundleFile fields; None for a type we do not use."""
    if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
        raise BadBundle(f"manifest entry {path!r} must be an object with a type")
    if entry["type"] not in KEPT_TYPES:
        return None
    url = entry.get("url")
    headers = entry.get("headers") or {}
    if (url is not None and not isinstance(url, str)) or not isinstance(headers, dict):
        raise BadBundle(f"manifest entry {path!r}: url must be a string and headers an object")
    headers = {str(k).lower().replace("_", "-"): v for k, v in headers.items()}
    raw_debug_id = headers.get("debug-id")
    debug_id = canonical_debug_id(raw_debug_id)
    if raw_debug_id is not None and debug_id is None:
        raise BadBundle(f"manifest entry {path!r}: debug-id {raw_debug_id!r} is not a UUID")
    sourcemap = headers.get("sourcemap") or headers.get("x-sourcemap")
    if not isinstance(sourcemap, str) or not sourcemap or not url or sourcemap.startswith("data:"):
        sourcemap = None
    return {
        "path": path,
        "type": entry["type"],
        "url": url[:2000] if url else None,
        "debug_id": debug_id,
        "sourcemap": map_url(url, sourcemap)[:2000] if sourcemap and url else None,
    }


def _optional_text(manifest: dict[str, Any], key: str, limit: int) -> str | None:
    value = manifest.get(key)
    return value[:limit] if isinstance(value, str) and value else None
