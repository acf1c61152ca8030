"""Per-project ingest rate limits: a fixed one-minute window counted in Redis, failing open.

Each accepted event costs one Redis round trip (INCR and EXPIRE pipelined) on the key
`faultline:rl:<project id>:<minute>`. Over the project's limit (`projects.rate_limit_per_minute`, else
`RATE_LIMIT_PER_MINUTE`; 0 means unlimited) the request is answered 429 with `Retry-After` and
`X-Sentry-Rate-Limits` until the minute ends. A fixed window lets a client send up to twice the limit
across a minute boundary; that is the price of one round trip and no clock-synchronised state.

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

    async def hit(self, project_id: int, limit: int) -> Decision:
        """Count one event for the project; refuse it when the minute's count passes `limit`."""
        if limit <= 0 or time.monotonic() < self._paused_until:
            return ALLOWED
        now = time.time()
        window = int(now // WINDOW_S)
        key = f"faultline:rl:{project_id}:{window}"
        try:
            async with asyncio.timeout(self._timeout_s * 2):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_S + 5)
                    count, _ = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
            logger.warning("rate limiter cannot reach Redis (%s); letting events through", exc)
            return ALLOWED
        if int(count) <= limit:
            return ALLOWED
        return Decision(False, (window + 1) * WINDOW_S - now)

    async def aclose(self) -> None:
        await self._redis.aclose()


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
