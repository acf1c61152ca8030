"""Schemathesis over the app's OpenAPI schema, against the live server: generated requests (valid and
invalid, with and without a read token) never get a 5xx, and every answer matches what the schema
documents. Bounded: a few dozen examples per operation, well under a minute in all."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import select

from app.auth.service import sync_create_api_token
from app.db import sync_session
from app.main import create_app
from app.models import Project
from tests.support.dashboard import login, make_user

schema = schemathesis.openapi.from_dict(create_app().openapi())
# A Sentry envelope or legacy store body is a wire format OpenAPI cannot describe (any bytes fit the
# schema), so "schema-valid data must be accepted" cannot hold there; every other check does.
RAW_BODY_PATHS = ("/api/{project_id}/envelope/", "/api/{project_id}/store/")


@pytest.fixture
def bearer(live_server) -> dict[str, str]:
    """A read token over a project with a few issues, so the read API answers with real data."""
    for n, status in enumerate((500, 502, 404)):
        body = {"project_key": "fuzzed", "message": f"failure kind {n}", "status_code": status}
        assert httpx.post(f"{live_server.url}/api/v1/events", json=body).status_code == 201
    with sync_session() as session:
        project_ids = list(session.scalars(select(Project.id)))
        secret = sync_create_api_token(session, "schemathesis", project_ids).secret
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case, live_server, bearer):
    excluded = [positive_data_acceptance] if case.operation.path in RAW_BODY_PATHS else []
    # A case whose headers are the broken part (the token left out, say) goes as generated.
    headers = {} if case.meta and case.meta.is_negative_at(ParameterLocation.HEADER) else bearer
    case.call_and_validate(base_url=live_server.url, headers=headers, excluded_checks=excluded)


def test_ids_past_what_the_database_holds_are_refused_not_500(live_server, bearer):
    huge = 10**20  # more than a bigint holds
    assert httpx.get(f"{live_server.url}/api/v1/issues/{huge}", headers=bearer).status_code == 422
    make_user()
    dashboard = login(live_server.url)
    assert dashboard.get(f"/issues/{huge}").status_code == 400  # the dashboard has no schema: the net
