"""Every envelope real SDKs sent (tests/corpus/envelopes) replayed over HTTP as the SDK sent it:
same path, query, headers, encoding and chunking. Each is answered 200 {"id"} (or {} without an
event) and the events land in one issue per expected group (tests/corpus/events)."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from sqlalchemy import text

from app.db import get_sync_engine
from tests.support.db import rows, scalar
from tests.support.sentry import SentryProject, chunks, compress, make_project

CORPUS = Path(__file__).parents[1] / "corpus" / "envelopes"
INPUTS = Path(__file__).parents[1] / "corpus" / "events"
INDEX: dict[str, dict[str, Any]] = json.loads((CORPUS / "index.json").read_text())
CORPUS_KEY = "abc123"  # the DSN key the corpus was captured with


@pytest.fixture
def corpus_project(live_server) -> SentryProject:
    """A project that answers to the corpus's recorded key."""
    project = make_project(live_server.url, "corpus")
    with get_sync_engine().begin() as conn:
        conn.execute(
            text("UPDATE projects SET public_key = :key WHERE id = :id"),
            {"key": CORPUS_KEY, "id": project.id},
        )
    return SentryProject(project.id, CORPUS_KEY, project.dsn, project.base_url)


def wire_body(name: str, record: dict[str, Any]) -> bytes:
    """The bytes that went over the wire: the recorded sample if kept, else the envelope re-encoded."""
    decoded = (CORPUS / f"{name}.envelope").read_bytes()
    assert len(decoded) == record["decoded_bytes"]
    if "wire_sample" in record:
        wire = (CORPUS / record["wire_sample"]).read_bytes()
        assert len(wire) == record["wire_bytes"]
        return wire
    encoding = {k.lower(): v for k, v in record["headers"].items()}.get("content-encoding", "")
    return compress(decoded, encoding)


def replay(client: httpx.Client, project: SentryProject, name: str) -> httpx.Response:
    """Send one corpus envelope with the recorded headers, query string and transfer encoding."""
    record = INDEX[name]
    body = wire_body(name, record)
    # Content-Length is recomputed by httpx for the re-encoded body; chunked bodies have none.
    headers = {
        k: v for k, v in record["headers"].items() if k.lower() not in ("content-length", "transfer-encoding")
    }
    path = record["path"].replace("/api/1/", f"/api/{project.id}/")
    url = f"{project.base_url}{path}" + (f"?{record['query']}" if record["query"] else "")
    content = chunks(body, 1024) if record["chunked"] else body
    return client.post(url, content=content, headers=headers)


def test_index_describes_what_each_sdk_sent():
    node = [r for n, r in INDEX.items() if n.startswith("node_")]
    python = [r for n, r in INDEX.items() if n.startswith("py_")]
    assert node and python
    assert all(r["chunked"] and not r["item_length_header"] and "sentry_key=" in r["query"] for r in node)
    assert all(
        not r["chunked"] and r["item_length_header"] and "X-Sentry-Auth" in r["headers"] for r in python
    )
    assert {r["headers"].get("Content-Encoding") for r in python} == {"br", "gzip"}
    # The recorded wire samples decompress to the recorded envelopes.
    for name, record in INDEX.items():
        if "wire_sample" in record:
            wire = (CORPUS / record["wire_sample"]).read_bytes()
            decoded = (
                brotli.decompress(wire) if record["wire_sample"].endswith(".br") else gzip.decompress(wire)
            )
            assert decoded == (CORPUS / f"{name}.envelope").read_bytes()


def test_every_corpus_envelope_is_accepted_and_grouped_as_expected(corpus_project):
    expected = {p.stem: json.loads(p.read_text()) for p in INPUTS.glob("*.json")}
    assert set(expected) <= set(INDEX)
    with httpx.Client(timeout=10) as client:
        for name in sorted(INDEX):
            response = replay(client, corpus_project, name)
            assert response.status_code == 200, (name, response.status_code, response.text)
            if name in expected:
                assert response.json() == {"id": expected[name]["event"]["event_id"]}, name
            else:
                assert "event" not in INDEX[name]["item_types"]
                assert response.json() == {}, name

    stored = {r["event_id"]: r["issue_id"] for r in rows("SELECT event_id, issue_id FROM error_events")}
    assert len(stored) == len(expected)  # session envelopes stored nothing
    issues_of_group: dict[str, set[int]] = defaultdict(set)
    for record in expected.values():
        issues_of_group[record["expected_group"]].add(stored[record["event"]["event_id"]])
    assert all(len(issues) == 1 for issues in issues_of_group.values()), issues_of_group
    assert len({next(iter(i)) for i in issues_of_group.values()}) == len(issues_of_group)
    assert scalar("SELECT count(*) FROM issues") == len(issues_of_group)
    assert scalar("SELECT sum(times_seen) FROM issues") == len(expected)

    # One pending analysis per issue whose events qualify (errors; the info messages do not).
    error_groups = {
        r["expected_group"] for r in expected.values() if r["event"].get("level", "error") == "error"
    }
    assert scalar("SELECT count(*) FROM issue_analyses") == len(error_groups)


def test_replaying_the_corpus_again_stores_nothing_twice(corpus_project):
    with httpx.Client(timeout=10) as client:
        names = [n for n in sorted(INDEX) if n.startswith(("py_a_", "node_a_"))]
        for name in names:
            assert replay(client, corpus_project, name).status_code == 200
        before = rows("SELECT id, times_seen FROM issues ORDER BY id")
        for name in names:
            response = replay(client, corpus_project, name)
            assert response.status_code == 200 and "id" in response.json()
    assert rows("SELECT id, times_seen FROM issues ORDER BY id") == before
    assert scalar("SELECT count(*) FROM error_events") == len(names)
