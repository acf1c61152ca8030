"""Per-project rate limits: a flood gets 429 with Retry-After and X-Sentry-Rate-Limits, other projects
are unaffected, limits are set per project (default RATE_LIMIT_PER_MINUTE), and requests with a wrong
key never spend a project's quota."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from app.config import get_settings
from app.db import sync_session
from app.projects.service import sync_create_project
from tests.support.db import scalar, wait_until_digested


@pytest.fixture(autouse=True)
def one_minute(live_server) -> Iterator[None]:
    """The window is the clock's minute: the API's limiter (in this process) reads one instant, a
    second into the current minute, so no test straddles two minutes and Retry-After is known."""
    limiter = live_server.app.state.rate_limiter
    instant = time.time() // 60 * 60 + 1
    limiter.clock = lambda: instant
    yield
    limiter.clock = time.time


def make_project(name: str, limit: int | None = None) -> tuple[int, str]:
    with sync_session() as session:
        project = sync_create_project(session, name)
        project.rate_limit_per_minute = limit
        return project.id, project.public_key


def post_seed(url: str, project_key: str, n: int) -> httpx.Response:
    body = {"project_key": project_key, "message": f"flood {n}", "status_code": 500}
    return httpx.post(f"{url}/api/v1/events", json=body)


def post_store(url: str, project_id: int, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/{project_id}/store/",
        json={"message": "flood", "level": "error"},
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}"},
    )


def post_envelope(url: str, project_id: int, key: str) -> httpx.Response:
    body = b'{}\n{"type": "event"}\n{"message": "flood", "level": "error"}\n'
    return httpx.post(f"{url}/api/{project_id}/envelope/", content=body, params={"sentry_key": key})


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == "59"  # the rest of the minute
    assert response.headers["X-Sentry-Rate-Limits"] == "59:error;default;security:project:project_quota"
    assert "rate limit" in response.json()["detail"]


def test_flood_is_cut_at_the_project_limit_and_other_projects_go_on(live_server):
    flooder_id, flooder_key = make_project("flooder", limit=5)
    _, quiet_key = make_project("quiet")
    statuses = [post_seed(live_server.url, flooder_key, n).status_code for n in range(8)]
    assert statuses == [201] * 5 + [429] * 3
    assert_rate_limited(post_seed(live_server.url, flooder_key, 99))
    # The limit is the project's, whichever endpoint the events come through.
    assert_rate_limited(post_store(live_server.url, flooder_id, flooder_key))
    assert_rate_limited(post_envelope(live_server.url, flooder_id, flooder_key))
    assert post_seed(live_server.url, quiet_key, 1).status_code == 201
    assert scalar("SELECT count(*) FROM error_events e JOIN projects p ON p.id = e.project_id "
                  "WHERE p.name = 'flooder'") == 5  # fmt: skip


def test_default_limit_comes_from_settings_and_a_project_may_raise_it(live_server, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "2")
    get_settings.cache_clear()
    default_id, default_key = make_project("by-default")
    raised_id, raised_key = make_project("raised", limit=4)
    unlimited_id, unlimited_key = make_project("unlimited", limit=0)
    assert [post_store(live_server.url, default_id, default_key).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert [post_store(live_server.url, raised_id, raised_key).status_code for _ in range(5)] == [200] * 4 + [
        429
    ]
    assert {post_store(live_server.url, unlimited_id, unlimited_key).status_code for _ in range(6)} == {200}


def test_wrong_keys_do_not_spend_the_project_quota(live_server):
    project_id, key = make_project("victim", limit=3)
    for _ in range(10):
        assert post_envelope(live_server.url, project_id, "0" * 32).status_code == 403
    assert [post_envelope(live_server.url, project_id, key).status_code for _ in range(4)] == [200] * 3 + [
        429
    ]


def test_concurrent_flood_is_cut_exactly_at_the_limit(live_server):
    """Concurrent events share Redis round trips; each still gets its exact place in the count."""
    project_id, key = make_project("burst", limit=25)

    async def flood() -> list[int]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20)) as client:
            body = b'{}\n{"type": "event"}\n{"message": "burst", "level": "error"}\n'

            async def one() -> int:
                response = await client.post(
                    f"{live_server.url}/api/{project_id}/envelope/", content=body, params={"sentry_key": key}
                )
                return response.status_code

            return list(await asyncio.gather(*(one() for _ in range(80))))

    statuses = asyncio.run(flood())
    assert statuses.count(200) == 25 and statuses.count(429) == 55, statuses
    wait_until_digested()
    assert scalar(f"SELECT count(*) FROM error_events WHERE project_id = {project_id}") == 25


def test_the_minute_counters_expire_in_redis(live_server):
    """Counters are per project and minute; each one goes away on its own shortly after its minute.

    The count holds the events accepted plus what the API process leased for the coming ones: a
    tenth of the quota left (app/ingest/rate_limit.py)."""
    project_id, key = make_project("counted", limit=100)
    for _ in range(3):
        assert post_store(live_server.url, project_id, key).status_code == 200
    client = redis.Redis.from_url(get_settings().redis_url)
    (counter,) = client.keys(f"faultline:rl:{project_id}:*")
    assert int(client.get(counter)) == 1 + 9  # the first event and a lease of (100 - 1) / 10
    assert 0 < client.ttl(counter) <= 65
