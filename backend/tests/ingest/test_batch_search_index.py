"""A batch of events written in one statement (as group commit does) keeps the issues list's search
and filters right: every environment and release seen, and each issue's first message searchable."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import make_url

from app.config import get_settings
from app.db import sync_session
from app.events.normalize import normalize_sentry_event
from app.events.prepare import PreparedEvent, prepare_event
from app.events.store import StoredEvent, store_batch
from app.projects.service import sync_create_project as create_project
from tests.support.db import rows
from tests.support.sentry import error_event


def prepared(project_id: int, exc_type: str, message: str | None, **fields: Any) -> PreparedEvent:
    event = error_event(exc_type, "boom", **fields)
    if message is not None:
        event["message"] = message
    return prepare_event(project_id, event, normalize_sentry_event, received_at=datetime.now(UTC))


def store(events: list[PreparedEvent]) -> list[StoredEvent]:
    """Write the events as one group-commit batch: one INSERT statement, then commit."""

    async def run() -> list[StoredEvent]:
        url = make_url(get_settings().database_url).set(drivername="postgresql")
        async with await psycopg.AsyncConnection.connect(url.render_as_string(hide_password=False)) as conn:
            stored = await store_batch(conn, events)
            await conn.commit()
            return stored

    return asyncio.run(run())


def facets(issue_id: int) -> list[tuple[str, str]]:
    found = rows("SELECT key, value FROM issue_facets WHERE issue_id = :i ORDER BY key, value", i=issue_id)
    return [(f["key"], f["value"]) for f in found]


def message(issue_id: int) -> str | None:
    return rows("SELECT message FROM issue_search WHERE issue_id = :i", i=issue_id)[0]["message"]


def search(project_id: int, words: str) -> list[int]:
    found = rows(
        "SELECT issue_id FROM issue_search WHERE project_id = :p"
        " AND document @@ to_tsquery('simple', :q) ORDER BY issue_id",
        p=project_id,
        q=" & ".join(f"{w}:*" for w in words.split()),
    )
    return [f["issue_id"] for f in found]


def test_one_batch_of_two_issues_indexes_every_facet_and_each_first_message():
    with sync_session() as session:
        project_id = create_project(session, "batch-index").id
    batch = [
        prepared(project_id, "KeyError", None, environment="production", release="shop@1.0"),
        prepared(project_id, "TimeoutError", "pricing service slow", environment="staging"),
        prepared(project_id, "KeyError", "", environment="production", release="shop@1.1"),
        prepared(project_id, "KeyError", "order lookup failed", environment="staging", release="shop@1.0"),
        prepared(project_id, "TimeoutError", "inventory service slow", release="shop@2.0"),
        prepared(project_id, "KeyError", "cart lookup failed", environment="production", release="shop@1.1"),
    ]
    stored = store(batch)

    key_error, timeout = stored[0].issue_id, stored[1].issue_id
    assert key_error != timeout and {s.issue_id for s in stored} == {key_error, timeout}
    assert facets(key_error) == [
        ("environment", "production"),
        ("environment", "staging"),
        ("release", "shop@1.0"),
        ("release", "shop@1.1"),
    ]
    assert facets(timeout) == [("environment", "staging"), ("release", "shop@2.0")]
    # The first event that had a message, in the batch's order; events without one are skipped.
    assert message(key_error) == "order lookup failed"
    assert message(timeout) == "pricing service slow"
    assert search(project_id, "order lookup") == [key_error]
    assert search(project_id, "cart") == []
    assert search(project_id, "pricing") == [timeout]

    # A later single-event batch adds its new release; the issue keeps its first message.
    later = prepared(project_id, "KeyError", "payment declined", environment="production", release="shop@3.0")
    store([later])
    assert facets(key_error)[-1] == ("release", "shop@3.0")
    assert message(key_error) == "order lookup failed"
    assert search(project_id, "payment") == []


def test_an_issue_whose_first_events_have_no_message_gets_the_first_one_that_does():
    with sync_session() as session:
        project_id = create_project(session, "batch-index").id
    first = store([prepared(project_id, "ValueError", None), prepared(project_id, "ValueError", None)])
    issue_id = first[0].issue_id
    assert message(issue_id) is None
    assert facets(issue_id) == []

    store([prepared(project_id, "ValueError", msg) for msg in ("bad quantity", "bad price")])
    assert message(issue_id) == "bad quantity"
    assert search(project_id, "quantity") == [issue_id]
