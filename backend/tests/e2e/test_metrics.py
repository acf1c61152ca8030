"""GET /metrics scraped over HTTP from the live app and read with prometheus-client's own parser: the
counters move as events are accepted, refused and stored and as an analysis runs, in whichever process
did the work (the API, its digester child, the Celery worker); the page is guarded by METRICS_TOKEN,
else served to loopback clients only."""

from __future__ import annotations

import httpx

from app.config import get_settings
from app.db import sync_session
from app.models import Project
from app.projects.cache import project_cache
from tests.support.db import scalar, wait_until, wait_until_digested
from tests.support.metrics import Samples, families, scrape, value
from tests.support.sentry import auth_header, envelope, error_event, make_project, post_envelope

REASONS = ("auth", "rate_limit", "too_large", "invalid", "unavailable")


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def seed(base_url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{base_url}/api/v1/events", json=body, timeout=10)


def test_counters_move_as_events_are_accepted_refused_stored_and_analysed(
    live_server, worker, monkeypatch
) -> None:
    monkeypatch.setenv("AUTO_CREATE_PROJECTS", "false")
    get_settings.cache_clear()
    project = make_project(live_server.url, "metered")
    limited = make_project(live_server.url, "limited")
    with sync_session() as session:
        session.get_one(Project, limited.id).rate_limit_per_minute = 1
    project_cache.clear()
    before = scrape(live_server.url)

    # Accepted: a Sentry envelope, a legacy store event, a seed event with a 500 (the worker analyses it).
    assert post_envelope(None, project, envelope(error_event(value="metered one"))).status_code == 200
    store = httpx.post(
        project.store_url, json=error_event(value="metered two"), headers=auth_header(project.key)
    )
    assert store.status_code == 200, store.text
    assert (
        seed(live_server.url, {"project_key": project.key, "message": "seed", "status_code": 500}).status_code
        == 201
    )
    # An envelope with no event in it is answered 200, and accepts no event.
    assert post_envelope(None, project, envelope(None)).status_code == 200
    assert (
        seed(
            live_server.url, {"project_key": limited.key, "message": "first", "status_code": 400}
        ).status_code
        == 201
    )

    # Refused: two for auth, two invalid, one of each other reason.
    malformed_auth = {"X-Sentry-Auth": "Sentry sentry_version=7"}
    assert post_envelope(None, project, envelope(error_event()), headers=malformed_auth).status_code == 401
    assert seed(live_server.url, {"project_key": "nobody", "message": "m"}).status_code == 403
    assert post_envelope(None, project, b"not an envelope\n").status_code == 400
    assert seed(live_server.url, {"project_key": project.key}).status_code == 422
    body = b'{"project_key": "k", "message": "' + b"x" * (1024 * 1024) + b'"}'
    too_large = httpx.post(f"{live_server.url}/api/v1/events", content=body)
    assert too_large.status_code == 413
    assert seed(live_server.url, {"project_key": limited.key, "message": "second"}).status_code == 429
    monkeypatch.setenv("INGEST_DB_TIMEOUT_S", "0.000001")  # the database "does not answer" in time
    get_settings.cache_clear()
    assert post_envelope(None, project, envelope(error_event(value="late"))).status_code == 503
    monkeypatch.delenv("INGEST_DB_TIMEOUT_S")
    get_settings.cache_clear()

    wait_until_digested()
    unfinished = "SELECT count(*) FROM issue_analyses WHERE status IN ('pending', 'running')"
    wait_until(lambda: scalar(unfinished) == 0)
    done = scalar("SELECT count(*) FROM issue_analyses WHERE status = 'done'")
    assert done >= 1  # the seed event's 500 at least (Sentry events without a status are analysed too)
    events = scalar("SELECT count(*) FROM error_events")
    # The worker counts the analysis just after recording it.
    wait_until(
        lambda: moved(before, scrape(live_server.url), "faultline_analyses_total", status="done") == done
    )
    after = scrape(live_server.url)

    assert moved(before, after, "faultline_events_accepted_total", endpoint="envelope") == 1
    assert moved(before, after, "faultline_events_accepted_total", endpoint="store") == 1
    assert moved(before, after, "faultline_events_accepted_total", endpoint="seed") == 2
    refused = {
        reason: moved(before, after, "faultline_events_rejected_total", reason=reason) for reason in REASONS
    }
    assert refused == {"auth": 2, "rate_limit": 1, "too_large": 1, "invalid": 2, "unavailable": 1}
    # Stored by the API's digester child; a 503 may still have stored its event (the client retries).
    assert moved(before, after, "faultline_events_stored_total") == events >= 4
    # Counted in the Celery worker's process.
    assert moved(before, after, "faultline_analyses_total", status="done") == done
    assert moved(before, after, "faultline_analysis_duration_seconds_count") == done
    assert value(after, "faultline_llm_tokens_total", direction="in") >= 0
    assert value(after, "faultline_inbox_rows") == 0
    assert value(after, "faultline_digest_lag_seconds") == 0
    for kind in ("web", "digester", "worker"):
        assert value(after, "faultline_processes", kind=kind) >= 1, kind


def test_every_metric_the_issue_names_is_on_the_page(live_server) -> None:
    names = families(live_server.url)
    for name in (
        "faultline_events_accepted",
        "faultline_events_rejected",
        "faultline_events_stored",
        "faultline_inbox_rows",
        "faultline_digest_lag_seconds",
        "faultline_llm_tokens",
        "faultline_client_disconnects",
    ):
        assert name in names, name


def test_without_a_token_only_loopback_clients_are_answered(live_server) -> None:
    assert httpx.get(f"{live_server.url}/metrics").status_code == 200
    # The client a reverse proxy on this host names (uvicorn trusts its X-Forwarded-For) is remote.
    remote = httpx.get(f"{live_server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert remote.status_code == 403
    assert "METRICS_TOKEN" in remote.json()["detail"]


def test_with_a_token_every_scraper_needs_it(live_server, monkeypatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-scrape-token")
    get_settings.cache_clear()
    url = f"{live_server.url}/metrics"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    good = {"Authorization": "Bearer s3cret-scrape-token"}
    assert httpx.get(url, headers=good).status_code == 200
    assert httpx.get(url, headers={**good, "X-Forwarded-For": "203.0.113.9"}).status_code == 200
    assert value(scrape(live_server.url, good), "faultline_processes", kind="web") >= 1
