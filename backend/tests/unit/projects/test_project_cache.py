"""The ingest project cache: concurrent read-only lookups of an expired entry share one load; a
lookup that may create the project is never shared; a failed shared load fails its waiters too."""

from __future__ import annotations

import asyncio

from app.models import Project
from app.projects.cache import ProjectCache


class CountingLoad:
    """A lookup that takes a while and counts how often it ran."""

    def __init__(self, result: Project | Exception) -> None:
        self.result = result
        self.calls = 0

    async def __call__(self) -> Project | None:
        self.calls += 1
        await asyncio.sleep(0.02)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def shop() -> Project:
    return Project(id=7, name="shop", public_key="a" * 32)


def test_concurrent_lookups_of_an_expired_project_share_one_load():
    async def run() -> tuple[list[Project | None], int, int]:
        cache = ProjectCache(ttl_s=0)  # every entry is expired as soon as it is stored
        shared, own = CountingLoad(shop()), CountingLoad(shop())
        found = await asyncio.gather(*(cache.get(("id", 7), shared, shared=True) for _ in range(16)))
        await asyncio.gather(*(cache.get(("name", "shop"), own) for _ in range(4)))
        return found, shared.calls, own.calls

    found, shared_calls, own_calls = asyncio.run(run())
    assert shared_calls == 1
    assert all(p is not None and p.id == 7 and p.public_key == "a" * 32 for p in found)
    assert own_calls == 4  # may create the project: never shared


def test_a_failed_shared_load_fails_every_waiter_and_the_next_lookup_tries_again():
    async def run() -> tuple[list[BaseException | Project | None], int, Project | None]:
        cache = ProjectCache()
        failing = CountingLoad(ConnectionError("database gone"))
        results = await asyncio.gather(
            *(cache.get(("id", 7), failing, shared=True) for _ in range(5)), return_exceptions=True
        )
        again = await cache.get(("id", 7), CountingLoad(shop()), shared=True)
        return results, failing.calls, again

    results, calls, again = asyncio.run(run())
    assert calls == 1
    assert all(isinstance(r, ConnectionError) for r in results)
    assert again is not None and again.id == 7


def test_waiters_look_themselves_when_the_first_lookup_is_cancelled():
    async def run() -> tuple[Project | None, int]:
        cache = ProjectCache()
        load = CountingLoad(shop())
        first = asyncio.create_task(cache.get(("id", 7), load, shared=True))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(cache.get(("id", 7), load, shared=True))
        await asyncio.sleep(0)
        first.cancel()
        return await waiter, load.calls

    project, calls = asyncio.run(run())
    assert project is not None and project.id == 7
    assert calls == 2
