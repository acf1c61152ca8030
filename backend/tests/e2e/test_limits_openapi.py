"""Schemathesis over the app's OpenAPI schema, against the live server: generated requests (valid and
invalid) never get a 5xx, and every answer matches what the schema documents. Bounded: a few dozen
examples per operation, well under a minute in all."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app

schema = schemathesis.openapi.from_dict(create_app().openapi())
# A Sentry envelope or legacy store body is a wire format OpenAPI cannot describe (any bytes fit the
# schema), so "schema-valid data must be accepted" cannot hold there; every other check does.
RAW_BODY_PATHS = ("/api/{project_id}/envelope/", "/api/{project_id}/store/")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case, live_server):
    excluded = [positive_data_acceptance] if case.operation.path in RAW_BODY_PATHS else []
    case.call_and_validate(base_url=live_server.url, excluded_checks=excluded)
