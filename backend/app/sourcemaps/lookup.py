"""Finding the source maps an event needs in PostgreSQL, with the parsed maps cached per process.

`SourceMapStore.find` answers, for one event's wants (app/sourcemaps/resolve.py `wanted_maps`), the
map of each frame's file: the minified source and map sharing the debug id the event names, else the
minified source uploaded under the event's release (and dist) at one of the frame's `~/` URLs, with
the map its `sourcemap` header names in the same bundle (the newest upload wins).

Two caches keep ingest fast, both LRUs: which bundle files a debug id or release URL resolved to
(for good for a debug id, which names one build's files; for RELEASE_PAIR_TTL_S for a release URL,
which a later upload of the release may take over), and the parsed maps of those files
(`sourcemap_cache_size`; parsing a large map takes far longer than resolving a frame). A store may
also remember what was not found, for `remember_misses_s` (the digester: DIGEST_MISS_TTL_S). Most
events that want a map have none uploaded (any Node event with a release and columns), and without
it each of them would cost ingest a query; a bundle uploaded later is then seen within that time.
Re-processing (an explicit ask) remembers no misses.

The SQL is written once for async and sync connections: the lookup is a generator yielding its
queries (`Query`), run by `drive` (the digester, the API) or `sync_drive` (the CLI).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Generator, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg

from app.sourcemaps.resolve import FoundMap, MapWants, ParsedMap, parse_map

# The minified sources of the debug ids, each with its map (the same debug id, or the file its
# sourcemap header names), and those uploaded under the release at the URLs; newest first.
FIND_SQL = """
SELECT 'debug_id' AS how, s.debug_id::text AS key, s.id, m.id, m.url
FROM artifact_bundle_files s
JOIN artifact_bundle_files m
  ON m.bundle_id = s.bundle_id AND m.type = 'source_map' AND m.debug_id = s.debug_id
WHERE s.project_id = %(project)s AND s.debug_id = ANY(%(debug_ids)s::uuid[]) AND s.type = 'minified_source'
UNION ALL
SELECT 'release', s.url, s.id, m.id, m.url
FROM artifact_bundle_files s
JOIN artifact_bundle_files m ON m.bundle_id = s.bundle_id AND m.type = 'source_map' AND m.url = s.sourcemap
WHERE s.project_id = %(project)s AND s.release = %(release)s AND s.dist IS NOT DISTINCT FROM %(dist)s
  AND s.url = ANY(%(urls)s::text[]) AND s.type = 'minified_source'
ORDER BY 3 DESC
"""
RELEASE_PAIR_TTL_S = 60.0
DIGEST_MISS_TTL_S = 2.0
CONTENT_SQL = "SELECT id, content FROM artifact_bundle_files WHERE id = ANY(%(ids)s::bigint[])"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A dict keeping its `size` most recently used entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Query:
    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class _Pair:
    source_id: int
    map_id: int
    map_url: str
    resolved_with: str
    found_at: float  # time.monotonic()

    def fresh(self, now: float) -> bool:
        # A debug id names one build's files for good; a release's URL may be uploaded again.
        return self.resolved_with == "debug_id" or now - self.found_at < RELEASE_PAIR_TTL_S


Rows = list[tuple[Any, ...]]
Lookup = Generator[Query, Rows, dict[str, FoundMap]]
R = TypeVar("R")


async def drive(conn: psycopg.AsyncConnection[Any], steps: Generator[Query, Rows, R]) -> R:
    """Run a generator of queries on an async connection: each query's rows are sent back to it."""
    try:
        query = next(steps)
        while True:
            cur = await conn.execute(query.sql, query.params)
            query = steps.send(await cur.fetchall() if cur.description else [])
    except StopIteration as done:
        return done.value


def sync_drive(conn: psycopg.Connection[Any], steps: Generator[Query, Rows, R]) -> R:
    """`drive` on a sync connection."""
    try:
        query = next(steps)
        while True:
            cur = conn.execute(query.sql, query.params)
            query = steps.send(cur.fetchall() if cur.description else [])
    except StopIteration as done:
        return done.value


class SourceMapStore:
    """The maps of events, found in PostgreSQL and cached (one store per digester process)."""

    def __init__(self, size: int = 64, remember_misses_s: float = 0.0) -> None:
        self.pairs: Lru[tuple[Any, ...], _Pair] = Lru(size * 16)
        self.parsed: Lru[tuple[int, int], ParsedMap] = Lru(size)
        self.broken: Lru[tuple[int, int], bool] = Lru(size)  # maps symbolic could not read
        self.remember_misses_s = remember_misses_s
        self.misses: Lru[tuple[Any, ...], float] = Lru(size * 16)  # key -> when nothing was found

    async def find(
        self, conn: psycopg.AsyncConnection[Any], project_id: int, wants: MapWants
    ) -> dict[str, FoundMap]:
        """Each wanted frame location's map, where one was uploaded (the digester)."""
        return await drive(conn, self.lookup(project_id, wants))

    def _known(self, key: tuple[Any, ...], now: float) -> bool:
        pair = self.pairs.get(key)
        if pair is not None and pair.fresh(now):
            return True
        missed_at = self.misses.get(key)
        return missed_at is not None and now - missed_at < self.remember_misses_s

    def lookup(self, project_id: int, wants: MapWants) -> Lookup:
        """The lookup as a generator of its queries (see `drive`)."""
        # Cache keys: by debug id within the project; by URL within the project, release and dist.
        keys: dict[str, list[tuple[Any, ...]]] = {
            location: [(project_id, "debug_id", debug_id)] for location, debug_id in wants.debug_ids.items()
        }
        for location, urls in wants.urls.items():
            keys[location] = [(project_id, "release", wants.release, wants.dist, url) for url in urls]
        now = time.monotonic()
        unknown = {key for candidates in keys.values() for key in candidates if not self._known(key, now)}
        if unknown:
            rows = yield Query(
                FIND_SQL,
                {
                    "project": project_id,
                    "debug_ids": sorted({k[2] for k in unknown if k[1] == "debug_id"}),
                    "release": wants.release,
                    "dist": wants.dist,
                    "urls": sorted({k[4] for k in unknown if k[1] == "release"}),
                },
            )
            found_keys = set()
            for how, key, source_id, map_id, found_map_url in reversed(rows):  # newest last
                scope = (how,) if how == "debug_id" else (how, wants.release, wants.dist)
                cache_key = (project_id, *scope, key)
                self.pairs.put(cache_key, _Pair(source_id, map_id, found_map_url or "", how, now))
                found_keys.add(cache_key)
            if self.remember_misses_s > 0:
                for key in unknown - found_keys:
                    self.misses.put(key, now)
        pairs = {}
        for location, candidates in keys.items():
            pair = next((p for k in candidates if (p := self.pairs.get(k)) is not None), None)
            if pair is not None:
                pairs[location] = pair
        missing = {
            (p.source_id, p.map_id)
            for p in pairs.values()
            if self.parsed.get((p.source_id, p.map_id)) is None
            and self.broken.get((p.source_id, p.map_id)) is None
        }
        if missing:
            rows = yield Query(CONTENT_SQL, {"ids": sorted({i for pair in missing for i in pair})})
            contents = {row[0]: bytes(row[1]) for row in rows}
            for source_id, map_id in missing:
                if source_id not in contents or map_id not in contents:
                    continue
                url = next(
                    p.map_url for p in pairs.values() if (p.source_id, p.map_id) == (source_id, map_id)
                )
                parsed = parse_map(contents[source_id], contents[map_id], url)
                if parsed is None:
                    self.broken.put((source_id, map_id), True)
                else:
                    self.parsed.put((source_id, map_id), parsed)
        found = {}
        for location, pair in pairs.items():
            parsed = self.parsed.get((pair.source_id, pair.map_id))
            if parsed is not None:
                found[location] = FoundMap(parsed, pair.resolved_with)
        return found
