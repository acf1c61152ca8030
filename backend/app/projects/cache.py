"""ProjectCache: a short-lived in-process cache of project lookups for the ingest hot path.

Every event names its project (by id for Sentry SDKs, by name for the seed's JSON); looking it up
in PostgreSQL for each event costs a round trip and a pooled connection. Entries live a few
seconds, so a project created, renamed or re-keyed elsewhere is seen soon after; a miss (unknown
project) is never cached, so a project created a moment ago works at once.

Cached values are detached copies, never instances attached to some request's session: a rollback
there must not expire what other requests read.

A read-only lookup can be shared (`shared=True`): when an entry expires under load, the requests
that find it expired wait for one lookup instead of each making its own (a session and a query
each, all on the one event loop, holding back every request in flight once per TTL). A lookup that
may create the project is never shared: the others must not see a project before its creator
commits it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from app.models import Project

DEFAULT_TTL_S = 5.0
MAX_ENTRIES = 10_000


def detached_copy(project: Project) -> Project:
    """A transient Project carrying the same column values, bound to no session."""
    columns = Project.__table__.columns.keys()
    return Project(**{name: getattr(project, name) for name in columns})


class ProjectCache:
    """Maps a lookup key (("id", 7) or ("name", "shop")) to a project for `ttl_s` seconds."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[Hashable, tuple[float, Project]] = {}
        self._loading: dict[Hashable, asyncio.Future[Project | None]] = {}

    async def get(
        self, key: Hashable, load: Callable[[], Awaitable[Project | None]], *, shared: bool = False
    ) -> Project | None:
        """The cached project for `key`, else what `load()` returns (cached when not None).

        `shared`: a lookup already running for `key` (on this event loop) is awaited, not repeated.
        """
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        if not shared:
            return await self._load(key, load)
        running = self._loading.get(key)
        if running is not None and running.get_loop() is asyncio.get_running_loop():
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled():
                    raise  # this request was cancelled
                return await self._load(key, load)  # the one looking was: look ourselves
        future: asyncio.Future[Project | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            project = await self._load(key, load)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it, and no warning if there are none
            raise
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(project)
            return project
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[Project | None]]) -> Project | None:
        now = time.monotonic()
        project = await load()
        if project is None:
            self._entries.pop(key, None)
            return None
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # keys come from clients: never let the cache grow unbounded
        copy = detached_copy(project)
        self._entries[key] = (now + self.ttl_s, copy)
        return copy

    def clear(self) -> None:
        """Forget everything (tests that re-create projects under the same ids and names)."""
        self._entries.clear()


project_cache = ProjectCache()
