"""Short issue ids (SHOP-12): each project numbers its issues 1, 2, 3… without gaps, whatever the
number of repeated events, and however many digesters store batches of one project at once."""

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
from app.events.store import StoredEvent, number_new_issues, store_batch, store_each_once
from app.models import Issue, Project, short_id
from app.projects.service import sync_create_project as create_project
from tests.support.db import rows
from tests.support.sentry import error_event


def prepared(project_id: int, function: str) -> PreparedEvent:
    """An event whose issue is told apart by the function it was raised in."""
    event = error_event("KeyError", "boom", function=function)
    return prepare_event(project_id, event, normalize_sentry_event, received_at=datetime.now(UTC))


def conninfo() -> str:
    return (
        make_url(get_settings().database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


async def store_in_own_transaction(batch: list[PreparedEvent]) -> list[StoredEvent]:
    """As the digester writes a batch: store, number the new issues, commit."""
    async with await psycopg.AsyncConnection.connect(conninfo()) as conn:
        stored = await store_batch(conn, batch)
        await number_new_issues(conn, stored)
        await conn.commit()
        return stored


def numbers(project_id: int) -> dict[str, int]:
    """{issue's function: short number} of a project."""
    found = rows(
        "SELECT culprit, short_number FROM issues WHERE project_id = :p ORDER BY short_number", p=project_id
    )
    return {r["culprit"]: r["short_number"] for r in found}


def counter(project_id: int) -> int:
    return rows("SELECT last_issue_number FROM projects WHERE id = :p", p=project_id)[0]["last_issue_number"]


def test_repeated_events_use_no_number_and_each_project_counts_on_its_own():
    with sync_session() as session:
        shop, blog = create_project(session, "shop").id, create_project(session, "blog").id
    asyncio.run(store_in_own_transaction([prepared(shop, "a"), prepared(shop, "b"), prepared(blog, "a")]))
    for _ in range(3):  # the same errors again and again: no new issue, no number used up
        asyncio.run(store_in_own_transaction([prepared(shop, "a"), prepared(shop, "b"), prepared(blog, "a")]))
    asyncio.run(store_in_own_transaction([prepared(shop, "a"), prepared(shop, "c")]))

    shop_numbers = numbers(shop)
    assert sorted(shop_numbers.values()) == [1, 2, 3]
    assert shop_numbers["shop.views in c"] == 3
    assert list(numbers(blog).values()) == [1]
    assert (counter(shop), counter(blog)) == (3, 1)


def test_concurrent_digesters_number_without_gaps_or_twice():
    with sync_session() as session:
        projects = [create_project(session, name).id for name in ("shop", "blog", "docs")]

    def batch(worker: int, round_: int) -> list[PreparedEvent]:
        # Every worker creates issues of its own and races the others for shared ones, in every
        # project, with its projects in a different order each time.
        events = []
        for project_id in projects[worker % 3 :] + projects[: worker % 3]:
            events.append(prepared(project_id, f"own_{worker}_{round_}"))
            events.append(prepared(project_id, f"shared_{round_}"))
            events.append(prepared(project_id, "always"))
        return events

    async def worker(n: int) -> None:
        """A digester: each round one transaction, its batch stored in two chunks under savepoints
        (as app/ingest/digester.py does), then the new issues numbered, then the commit."""
        async with await psycopg.AsyncConnection.connect(conninfo()) as conn:

            async def write(events: list[PreparedEvent]) -> list[StoredEvent]:
                async with conn.transaction():
                    return await store_batch(conn, events)

            for round_ in range(6):
                # In lock order across the chunks too, so the only waits are the ones under test.
                events = sorted(batch(n, round_), key=lambda e: (e.project_id, e.fingerprint))
                outcomes: dict[Any, Any] = {}
                async with conn.transaction():
                    for chunk in (events[:5], events[5:]):
                        outcomes.update(await store_each_once(write, chunk))
                    assert all(isinstance(o, StoredEvent) for o in outcomes.values()), outcomes
                    await number_new_issues(conn, outcomes.values())

    async def run() -> None:
        await asyncio.gather(*(worker(n) for n in range(4)))

    asyncio.run(run())
    for project_id in projects:
        issues = numbers(project_id)
        # 4 workers x 6 rounds own issues, 6 shared ones, one always seen.
        assert sorted(issues.values()) == list(range(1, 4 * 6 + 6 + 1 + 1))
        assert counter(project_id) == len(issues)


def test_short_id_is_the_project_name_in_capitals_and_the_number():
    assert short_id(Project(id=3, name="shop"), Issue(id=7, short_number=12)) == "SHOP-12"
    assert short_id(Project(id=3, name="my-shop.eu 2"), Issue(id=7, short_number=1)) == "MYSHOPEU2-1"
    assert (
        short_id(Project(id=3, name="a very long project name"), Issue(id=7, short_number=5))
        == "AVERYLONGPRO-5"
    )
    assert (
        short_id(Project(id=3, name="ショップ"), Issue(id=7, short_number=5)) == "P3-5"
    )  # no letter or digit to use
