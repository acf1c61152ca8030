"""Per-project ingest rate limits: a fixed one-minute window counted in Redis, failing open.

Events are counted on the key `faultline:rl:<project id>:<minute>` (shared by every API process).
Concurrent requests share their round trip: while one INCRBY is in flight the next events queue up,
and one pipeline then counts them all (INCRBY n and EXPIRE per key), each event getting its exact
place in the minute's count. Under load that is one round trip per batch instead of one per event
(which cost 10-15% of the API's CPU); an idle server still asks at once. Over the project's limit
(`projects.rate_limit_per_minute`, else `RATE_LIMIT_PER_MINUTE`; 0 means unlimited) the request is
answered 429 with `Retry-After` and `X-Sentry-Rate-Limits` until the minute ends. A fixed window lets
a client send up to twice the limit across a minute boundary; that is the price of one round trip and
no clock-synchronised state.

The check runs after authentication, so requests with a wrong key never spend a project's quota, and
a 429 never tells an unauthenticated caller that a project exists. Ingest must not depend on Redis:
when Redis cannot be reached within a fraction of a second the event is let through, and the limiter
stops asking Redis for a few seconds so an outage costs no latency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0


ALLOWED = Decision(True)


class RateLimiter:
    """Counts events per project and minute in Redis; one instance per process (and event loop)."""

    def __init__(self, redis_url: str, *, timeout_s: float = REDIS_TIMEOUT_S) -> None:
        self._redis = aioredis.from_url(
            redis_url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._timeout_s = timeout_s
        self._paused_until = 0.0
        # Events waiting for the next round trip, by Redis key; each waits on its own future.
        self._queued: dict[str, list[asyncio.Future[int | None]]] = {}
        self._sender: asyncio.Task[None] | None = None

    async def hit(self, project_id: int, limit: int) -> Decision:
        """Count one event for the project; refuse it when the minute's count passes `limit`."""
        if limit <= 0 or time.monotonic() < self._paused_until:
            return ALLOWED
        now = time.time()
        window = int(now // WINDOW_S)
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(f"faultline:rl:{project_id}:{window}", []).append(future)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_queued())
        count = await future
        if count is None or count <= limit:  # None: Redis could not be asked, fail open
            return ALLOWED
        return Decision(False, (window + 1) * WINDOW_S - now)

    async def _send_queued(self) -> None:
        """Count everything queued, one round trip at a time, until nothing is left waiting."""
        while self._queued:
            queued, self._queued = self._queued, {}
            try:
                totals = await self._count(queued)
            except (RedisError, OSError, TimeoutError) as exc:
                self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
                logger.warning("rate limiter cannot reach Redis (%s); letting events through", exc)
                totals = dict.fromkeys(queued)
            except BaseException:
                for futures in queued.values():
                    _settle(futures, None)
                raise
            for key, futures in queued.items():
                total = totals[key]
                if total is None:
                    _settle(futures, None)
                    continue
                # The waiting events were counted in order: the first of n got total - n + 1.
                first = total - len(futures) + 1
                for place, future in enumerate(futures, start=first):
                    if not future.done():
                        future.set_result(place)

    async def _count(self, queued: dict[str, list[asyncio.Future[int | None]]]) -> dict[str, int | None]:
        async with asyncio.timeout(self._timeout_s * 2):
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, futures in queued.items():
                    pipe.incrby(key, len(futures))
                    pipe.expire(key, WINDOW_S + 5)
                results = await pipe.execute()
        return {key: int(results[2 * i]) for i, key in enumerate(queued)}

    async def aclose(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        await self._redis.aclose()


def _settle(futures: list[asyncio.Future[int | None]], value: int | None) -> None:
    for future in futures:
        if not future.done():
            future.set_result(value)


async def enforce_rate_limit(request: Request, project: Project) -> None:
    """Raise AppError(429) with Sentry's rate-limit headers when the project is over its limit."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    limit = project.rate_limit_per_minute
    if limit is None:
        limit = get_settings().rate_limit_per_minute
    decision = await limiter.hit(project.id, limit)
    if not decision.allowed:
        headers = rate_limited_headers(
            decision.retry_after_s, EVENT_CATEGORIES, scope="project", reason="project_quota"
        )
        raise AppError(
            f"rate limit of {limit} events per minute exceeded for this project",
            429,
            {**headers, "X-Sentry-Error": "rate limited"},
        )
