"""Per-project ingest rate limits: a fixed one-minute window counted in Redis, failing open.

Events are counted on the key `faultline:rl:<project id>:<minute>`, shared by every API process. Over
the project's limit (`projects.rate_limit_per_minute`, else `RATE_LIMIT_PER_MINUTE`; 0 means
unlimited) the request is answered 429 with `Retry-After` and `X-Sentry-Rate-Limits` until the minute
ends. A fixed window lets a client send up to twice the limit across a minute boundary; that is the
price of a counter without clock-synchronised state.

A round trip to Redis costs the API a large share of what accepting an event costs otherwise, so a
process asks as rarely as exactness allows:
- **Quota leases** (what Sentry's Relay calls its quota cache): a round trip counts the events waiting
  for it plus a lease of a tenth of the quota still left (at most LEASE_MAX events), which this
  process then hands out without asking. The lease is counted in Redis before it is used, so all
  processes together never accept more than the limit; near the limit the lease shrinks to nothing
  and every event is counted one by one. What a process leased and did not use by the end of the
  minute was counted without being sent; it only matters to other processes of a project close to
  its limit.
- **Shared round trips**: while one round trip is in flight, the next events needing Redis queue up
  and one pipeline then counts them all, each getting its exact place in the minute's count.
- **Known exhaustion**: once Redis said the minute's count reached the limit, the process refuses
  the rest of the minute's events itself (counts only grow within a minute).

The check runs after authentication, so requests with a wrong key never spend a project's quota, and
a 429 never tells an unauthenticated caller that a project exists. Ingest must not depend on Redis:
when Redis cannot be reached within a fraction of a second the event is let through, and the limiter
stops asking Redis for a few seconds so an outage costs no latency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from fastapi import Request
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.config import get_settings
from app.errors import AppError
from app.ingest.rate_limit_headers import rate_limited_headers
from app.models import Project

logger = logging.getLogger(__name__)

WINDOW_S = 60
# The data categories an event item counts as for Sentry SDKs: they stop sending exactly these.
EVENT_CATEGORIES = ("error", "default", "security")
REDIS_TIMEOUT_S = 0.25
PAUSE_AFTER_FAILURE_S = 5.0
LEASE_RATIO = 0.1  # of the quota left in the minute
LEASE_MAX = 1000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0


ALLOWED = Decision(True)


@dataclass
class _Minute:
    """One project's count in one minute, as this process knows it."""

    window: int  # minutes since the epoch
    key: str  # its Redis counter
    limit: int = 0  # the limit of the latest event
    counted: int = 0  # the count Redis last answered (leases included)
    leased: int = 0  # counted in Redis for this process, not handed out yet
    waiting: list[asyncio.Future[bool]] = field(default_factory=list)  # events for the next round trip


def lease_size(limit: int, counted: int) -> int:
    """Events to count ahead for later use when the minute's count is `counted`."""
    return min(LEASE_MAX, int((limit - counted) * LEASE_RATIO)) if counted < limit else 0


@dataclass
class _Trip:
    """What one round trip counts for one minute: the waiting events, then a lease."""

    minute: _Minute
    futures: list[asyncio.Future[bool]]
    lease: int

    def answer(self, total: int) -> None:
        """Answer the events by their place in the minute's new `total`; keep what of the lease fits."""
        minute = self.minute
        minute.counted = max(minute.counted, total)
        first = total - self.lease - len(self.futures) + 1  # the events were counted first, in order
        for place, future in enumerate(self.futures, start=first):
            if not future.done():
                future.set_result(place <= minute.limit)
        minute.leased += max(0, min(self.lease, minute.limit - (total - self.lease)))


class RateLimiter:
    """Counts events per project and minute in Redis; one instance per process (and event loop)."""

    def __init__(
        self, redis_url: str, *, timeout_s: float = REDIS_TIMEOUT_S, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = aioredis.from_url(
            redis_url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout_s = timeout_s
        self.clock = clock  # the wall clock, whose minute is the window; tests hold it inside one
        self._paused_until = 0.0
        # The current minute by (project id, public key): a project deleted and made again under the
        # same id (a restored database) starts afresh.
        self._minutes: dict[tuple[int, str], _Minute] = {}
        self._pending: list[_Minute] = []  # minutes with events waiting for the next round trip
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, project_id: int, limit: int, public_key: str) -> Decision:
        """Count one event for the project; refuse it when the minute's count passes `limit`."""
        if limit <= 0 or time.monotonic() < self._paused_until:
            return ALLOWED
        now = self.clock()
        minute = self._minute(project_id, public_key, int(now // WINDOW_S))
        minute.limit = limit
        if minute.leased > 0:
            minute.leased -= 1
            return ALLOWED
        if minute.counted < limit:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            if not minute.waiting:
                self._pending.append(minute)
            minute.waiting.append(future)
            if self._sender is None or self._sender.done():
                self._sender = asyncio.create_task(self._send_waiting())
            if await future:
                return ALLOWED
        return Decision(False, (minute.window + 1) * WINDOW_S - now)

    def _minute(self, project_id: int, public_key: str, window: int) -> _Minute:
        minute = self._minutes.get((project_id, public_key))
        if minute is None or minute.window != window:
            minute = _Minute(window, f"faultline:rl:{project_id}:{window}")
            self._minutes[(project_id, public_key)] = minute
        return minute

    async def _send_waiting(self) -> None:
        """Count every waiting event, one round trip at a time, until none is left waiting."""
        while True:
            pending, self._pending = self._pending, []
            if not pending:
                return
            trips = [_Trip(m, m.waiting, lease_size(m.limit, m.counted + len(m.waiting))) for m in pending]
            for minute in pending:
                minute.waiting = []
            paused = time.monotonic() < self._paused_until  # Redis just failed: do not wait for it
            try:
                totals = None if paused else await self._count(trips)
            except (RedisError, OSError, TimeoutError) as exc:
                self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
                logger.warning("rate limiter cannot reach Redis (%s); letting events through", exc)
                totals = None
            except BaseException:
                _allow_all(trips)
                raise
            if totals is None:
                _allow_all(trips)
                continue
            for trip, total in zip(trips, totals, strict=True):
                trip.answer(total)

    async def _count(self, trips: list[_Trip]) -> list[int]:
        """The minutes' counts after adding each trip's events and lease."""
        async with asyncio.timeout(self._timeout_s * 2):
            async with self._redis.pipeline(transaction=False) as pipe:
                for trip in trips:
                    pipe.incrby(trip.minute.key, len(trip.futures) + trip.lease)
                    pipe.expire(trip.minute.key, WINDOW_S + 5)
                results = await pipe.execute()
        return [int(count) for count in results[::2]]

    async def aclose(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        await self._redis.aclose()


def _allow_all(trips: list[_Trip]) -> None:
    """Fail open: let every event of the trips through."""
    for trip in trips:
        for future in trip.futures:
            if not future.done():
                future.set_result(True)


async def enforce_rate_limit(request: Request, project: Project) -> None:
    """Raise AppError(429) with Sentry's rate-limit headers when the project is over its limit."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    limit = project.rate_limit_per_minute
    if limit is None:
        limit = get_settings().rate_limit_per_minute
    decision = await limiter.hit(project.id, limit, project.public_key)
    if not decision.allowed:
        headers = rate_limited_headers(
            decision.retry_after_s, EVENT_CATEGORIES, scope="project", reason="project_quota"
        )
        raise AppError(
            f"rate limit of {limit} events per minute exceeded for this project",
            429,
            {**headers, "X-Sentry-Error": "rate limited"},
        )
