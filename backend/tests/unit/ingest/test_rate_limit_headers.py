"""429 headers, checked with the parser sentry-python itself uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sentry_sdk.transport import _parse_rate_limits

from app.ingest.rate_limit_headers import rate_limit_value, rate_limited_headers


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((60, ["error"]), "60:error:project"),
        ((60, ["error", "transaction"], "organization"), "60:error;transaction:organization"),
        ((30, [], "key", "quota_exceeded"), "30::key:quota_exceeded"),
        ((0.2, ["error"]), "1:error:project"),
        ((0, ["error"]), "1:error:project"),
        ((59.01, ["error"]), "60:error:project"),
    ],
)
def test_rate_limit_value(args: tuple, expected: str) -> None:
    assert rate_limit_value(*args) == expected


def test_429_headers_as_an_sdk_reads_them() -> None:
    headers = rate_limited_headers(90.5, ["error", "default"], reason="too_many_events")
    assert headers == {
        "Retry-After": "91",
        "X-Sentry-Rate-Limits": "91:error;default:project:too_many_events",
    }
    now = datetime(2024, 5, 1, tzinfo=UTC)
    limits = dict(_parse_rate_limits(headers["X-Sentry-Rate-Limits"], now))
    assert limits == {"error": now + timedelta(seconds=91), "default": now + timedelta(seconds=91)}


def test_empty_categories_mean_all_to_an_sdk() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert dict(_parse_rate_limits(rate_limited_headers(60)["X-Sentry-Rate-Limits"], now)) == {
        None: now + timedelta(seconds=60)
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"categories": ["error:x"]},
        {"categories": ["a;b"]},
        {"scope": "pro ject"},
        {"reason": "a,b"},
        {"categories": [""]},
    ],
)
def test_separators_cannot_be_smuggled_into_the_header(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="invalid rate-limit"):
        rate_limit_value(60, **kwargs)
