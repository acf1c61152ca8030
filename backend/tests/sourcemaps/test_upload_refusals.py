"""What the upload endpoints refuse, each with a 4xx and a message: no or a bad token (401), a
read-only token or another project's (403), an unknown project, chunks whose sha1 is not their
name, chunks over the chunk size (also once inflated), bundles whose chunks do not add up to their
checksum, zip bombs and malformed manifests. sentry-cli prints the message it gets."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import zipfile
from typing import Any

import httpx
import pytest

from app.config import get_settings
from tests.support.dashboard import make_token
from tests.support.db import scalar
from tests.support.js_tools import sentry_cli
from tests.support.sentry import SentryProject, make_project

ORG = "acme"


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def write_token(*projects: SentryProject) -> str:
    return make_token([p.id for p in projects], "upload", scopes=["project:write"])


def client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{base_url}/api/0/organizations/{ORG}", headers=headers, timeout=30)


def post_chunks(api: httpx.Client, *parts: tuple[str, str, bytes]) -> httpx.Response:
    return api.post("/chunk-upload/", files=[(field, (name, data)) for field, name, data in parts])


def assemble(api: httpx.Client, data: bytes, chunks: list[bytes], projects: list[str]) -> httpx.Response:
    body = {
        "checksum": sha1(data),
        "chunks": [sha1(c) for c in chunks],
        "projects": projects,
        "version": "1.0",
    }
    return api.post("/artifactbundle/assemble/", json=body)


def upload_bundle(api: httpx.Client, data: bytes, projects: list[str]) -> httpx.Response:
    """What sentry-cli does with a bundle of one chunk: assemble, upload what is missing, assemble."""
    first = assemble(api, data, [data], projects)
    if first.status_code != 200 or first.json()["state"] == "ok":
        return first
    assert first.json() == {"state": "not_found", "missingChunks": [sha1(data)], "detail": None}
    assert post_chunks(api, ("file_gzip", sha1(data), gzip.compress(data))).status_code == 200
    return assemble(api, data, [data], projects)


def zipped(files: dict[str, bytes], manifest: Any) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        archive.writestr("manifest.json", manifest if isinstance(manifest, str) else json.dumps(manifest))
    return out.getvalue()


MAP = b'{"version":3,"sources":["a.ts"],"sourcesContent":["x"],"names":[],"mappings":"AAAA"}'
GOOD = zipped(
    {"f/a.js": b"x", "f/a.js.map": MAP},
    {
        "files": {
            "f/a.js": {"type": "minified_source", "url": "~/a.js", "headers": {"sourcemap": "a.js.map"}},
            "f/a.js.map": {"type": "source_map", "url": "~/a.js.map"},
        }
    },
)


@pytest.fixture
def shop(live_server) -> SentryProject:
    return make_project(live_server.url, "shop")


def test_tokens_without_the_write_scope_or_for_another_project_are_refused(live_server, shop):
    other = make_project(live_server.url, "other")
    for token, status in ((None, 401), ("flt_not-a-token", 401), (make_token([shop.id]), 403)):
        api = client(live_server.url, token)
        answers = [
            api.get("/chunk-upload/"),
            post_chunks(api, ("file", sha1(b"x"), b"x")),
            assemble(api, GOOD, [GOOD], ["shop"]),
        ]
        assert [a.status_code for a in answers] == [status] * 3, [a.text for a in answers]
        if status == 403:
            assert all("lacks the project:write scope" in a.json()["detail"] for a in answers)

    api = client(live_server.url, write_token(shop))
    refused = assemble(api, GOOD, [GOOD], ["other"])
    assert refused.status_code == 403 and "may not access project 'other'" in refused.json()["detail"]
    unknown = assemble(api, GOOD, [GOOD], ["nope"])
    assert unknown.status_code == 400 and "project 'nope' not found" in unknown.json()["detail"]
    assert api.get(f"{live_server.url}/api/0/projects/{ORG}/{other.id}/").status_code == 403
    assert api.get(f"{live_server.url}/api/0/projects/{ORG}/shop/").json()["id"] == str(shop.id)

    # sentry-cli shows the reason.
    cli = cli_upload(live_server.url, make_token([shop.id]))
    assert cli.returncode != 0 and "lacks the project:write scope" in cli.stderr


def cli_upload(url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(sentry_cli()), "--url", url, "--auth-token", token, "sourcemaps", "upload",
         "--org", ORG, "--project", "shop", "/nonexistent-dist"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_chunks_must_match_their_sha1_and_the_chunk_size(live_server, shop, monkeypatch):
    monkeypatch.setenv("SOURCEMAP_CHUNK_BYTES", "2048")
    get_settings.cache_clear()
    api = client(live_server.url, write_token(shop))
    options = api.get("/chunk-upload/").json()
    assert options["chunkSize"] == 2048 and "artifact_bundles" in options["accept"]
    assert options["compression"] == ["gzip"] and options["hashAlgorithm"] == "sha1"
    assert options["url"] == f"{live_server.url}/api/0/organizations/{ORG}/chunk-upload/"

    wrong = post_chunks(api, ("file", sha1(b"other"), b"data"))
    assert wrong.status_code == 400 and "checksum mismatch" in wrong.json()["detail"]
    big = b"y" * 4096
    assert post_chunks(api, ("file", sha1(big), big)).status_code in (400, 413)
    inflating = b"\0" * (1024 * 1024)  # a small gzip part that inflates far past the chunk size
    bomb = post_chunks(api, ("file_gzip", sha1(inflating), gzip.compress(inflating)))
    assert bomb.status_code == 413 and "inflates past the chunk size" in bomb.json()["detail"]
    named = post_chunks(api, ("file", "not-a-sha1", b"data"))
    assert named.status_code == 400 and "not a sha1" in named.json()["detail"]
    broken = post_chunks(api, ("file_gzip", sha1(b"data"), b"not gzip"))
    assert broken.status_code == 400 and "not valid gzip" in broken.json()["detail"]
    assert api.post("/chunk-upload/", data={"x": "1"}).status_code == 400
    assert scalar("SELECT count(*) FROM upload_chunks") == 0

    fine = post_chunks(
        api, ("file", sha1(b"data"), b"data"), ("file_gzip", sha1(b"more"), gzip.compress(b"more"))
    )
    assert fine.status_code == 200
    assert scalar("SELECT count(*) FROM upload_chunks") == 2


def test_a_good_bundle_is_stored_once(live_server, shop):
    api = client(live_server.url, write_token(shop))
    assert upload_bundle(api, GOOD, ["shop"]).json()["state"] == "ok"
    assert upload_bundle(api, GOOD, [str(shop.id)]).json()["state"] == "ok"  # already there
    assert scalar("SELECT count(*) FROM artifact_bundles") == 1
    assert scalar("SELECT sourcemap FROM artifact_bundle_files WHERE url = '~/a.js'") == "~/a.js.map"


def test_bundles_whose_chunks_do_not_add_up_are_refused(live_server, shop):
    api = client(live_server.url, write_token(shop))
    part = GOOD[:100]
    assert post_chunks(api, ("file", sha1(part), part)).status_code == 200
    answer = assemble(api, GOOD, [part], ["shop"])
    assert answer.status_code == 400 and "checksum mismatch" in answer.json()["detail"]


BOMB = zipped(
    {"f/a.js.map": b"\0" * (16 * 1024 * 1024)},
    {"files": {"f/a.js.map": {"type": "source_map", "url": "~/a.js.map"}}},
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "zip bomb"),
        (b"PK not really a zip", "not a zip archive"),
        (zipped({"f/a.js": b"x"}, "{broken"), "manifest.json is not JSON"),
        (zipped({}, {"files": {"f/a.js": {"type": "minified_source", "url": "~/a.js"}}}), "does not hold"),
        (zipped({"f/a.js": b"x"}, {"files": {}}), "no minified sources or source maps"),
    ],
    ids=["zip bomb", "not a zip", "manifest not JSON", "manifest names a missing file", "nothing usable"],
)
def test_bad_bundles_are_refused_with_a_reason(live_server, shop, data, message):
    api = client(live_server.url, write_token(shop))
    answer = upload_bundle(api, data, ["shop"])
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]
    assert scalar("SELECT count(*) FROM artifact_bundles") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"checksum": "x", "chunks": [], "projects": ["shop"]},
        {"checksum": "a" * 40, "chunks": "a", "projects": ["shop"]},
        {"checksum": "a" * 40, "chunks": [], "projects": []},
        {"checksum": "a" * 40, "chunks": [], "projects": ["shop"], "version": 3},
        [],
    ],
)
def test_malformed_assemble_requests_are_refused(live_server, shop, body):
    api = client(live_server.url, write_token(shop))
    assert api.post("/artifactbundle/assemble/", json=body).status_code == 400
    assert api.post("/artifactbundle/assemble/", content=b"{").status_code == 400
