"""The rate limiter's quota leases against a real Redis: several API processes (here, several
limiters) share one count, never accept more than the limit together, and ask Redis far less
often than once per event."""

from __future__ import annotations

import asyncio
import os

import redis

from app.ingest.rate_limit import RateLimiter

# The window is the clock's minute: every limiter here reads one instant, so no test straddles two.
MINUTE = 29_000_000  # minutes since the epoch: a day in 2025
START = MINUTE * 60.0


def frozen_limiter() -> RateLimiter:
    return RateLimiter(os.environ["REDIS_URL"], clock=lambda: START)


def minute_count(project_id: int) -> int:
    return int(redis.Redis.from_url(os.environ["REDIS_URL"]).get(f"faultline:rl:{project_id}:{MINUTE}"))


def test_two_processes_together_accept_exactly_the_limit():
    async def run() -> tuple[list[bool], list[bool]]:
        first, second = frozen_limiter(), frozen_limiter()
        try:
            answers: tuple[list[bool], list[bool]] = ([], [])
            for _ in range(300):  # alternating, as a load balancer would spread them
                for limiter, seen in zip((first, second), answers, strict=True):
                    seen.append((await limiter.hit(7, 200, "key")).allowed)
            return answers
        finally:
            await first.aclose()
            await second.aclose()

    first, second = asyncio.run(run())
    assert first.count(True) + second.count(True) == 200
    assert first.count(True) > 50 and second.count(True) > 50  # neither starves the other
    # Once refused, a process keeps refusing for the rest of the minute.
    assert first[first.index(False) :].count(True) == 0
    assert second[second.index(False) :].count(True) == 0
    assert minute_count(7) >= 200


def test_concurrent_events_share_round_trips_and_keep_their_exact_places():
    async def run() -> list[bool]:
        limiter = frozen_limiter()
        try:
            decisions = await asyncio.gather(*(limiter.hit(8, 30, "key") for _ in range(100)))
            return [d.allowed for d in decisions]
        finally:
            await limiter.aclose()

    allowed = asyncio.run(run())
    assert allowed == [True] * 30 + [False] * 70  # in the order the events arrived
    assert minute_count(8) == 100  # one process, concurrent events: each counted, no lease left over


def test_a_large_quota_is_counted_in_leases_not_per_event():
    async def run() -> tuple[int, int]:
        limiter = frozen_limiter()
        try:
            allowed = 0
            for _ in range(2000):
                allowed += (await limiter.hit(9, 1_000_000, "key")).allowed
            return allowed, minute_count(9)
        finally:
            await limiter.aclose()

    allowed, counted = asyncio.run(run())
    assert allowed == 2000
    assert counted == 2 * (1 + 1000)  # two round trips: an event that asked and a lease of 1000 each


def test_a_recreated_project_with_the_same_id_starts_afresh():
    async def run() -> tuple[bool, bool]:
        limiter = frozen_limiter()
        try:
            assert (await limiter.hit(11, 1, "old-key")).allowed
            exhausted = (await limiter.hit(11, 1, "old-key")).allowed
            redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # the old project's count is gone
            return exhausted, (await limiter.hit(11, 1, "new-key")).allowed
        finally:
            await limiter.aclose()

    assert asyncio.run(run()) == (False, True)
