"""Pure parts of the metrics: which refusal an ingest status counts as, who may read /metrics, and
the default metrics directory every process of one installation agrees on."""

from __future__ import annotations

import pytest

from app.metrics import REJECT_REASONS, default_metrics_dir, reason_of_status
from app.monitoring import access_refusal, is_loopback


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (200, None),
        (201, None),
        (401, "auth"),
        (403, "auth"),
        (429, "rate_limit"),
        (413, "too_large"),
        (400, "invalid"),
        (408, "invalid"),
        (422, "invalid"),
        (499, None),  # the client went away: counted apart, it refused nothing
        (500, "unavailable"),
        (503, "unavailable"),
    ],
)
def test_each_refusal_status_counts_as_one_reason(status: int, reason: str | None) -> None:
    assert reason_of_status(status) == reason
    assert reason is None or reason in REJECT_REASONS


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("203.0.113.9", False),
        ("::ffff:203.0.113.9", False),
        ("localhost", False),  # a name is not an address: uvicorn gives addresses
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_without_a_token_loopback_alone_reads_the_metrics() -> None:
    assert access_refusal(None, None, "127.0.0.1") is None
    assert access_refusal("", "Bearer anything", "127.0.0.1") is None
    assert access_refusal(None, None, "192.0.2.1") == 403
    assert access_refusal(None, "Bearer guess", "192.0.2.1") == 403


def test_with_a_token_only_its_bearer_reads_the_metrics_from_anywhere() -> None:
    token = "t0ken"
    assert access_refusal(token, "Bearer t0ken", "192.0.2.1") is None
    assert access_refusal(token, "bearer   t0ken ", "127.0.0.1") is None
    assert access_refusal(token, None, "127.0.0.1") == 401  # loopback needs it too once it is set
    assert access_refusal(token, "Bearer t0ken2", "127.0.0.1") == 401
    assert access_refusal(token, "Basic t0ken", "127.0.0.1") == 401
    assert access_refusal(token, "t0ken", "127.0.0.1") == 401


def test_processes_of_one_database_share_a_default_directory_and_others_do_not() -> None:
    one = default_metrics_dir("postgresql+psycopg://postgres@db:5432/faultline")
    assert one == default_metrics_dir("postgresql+psycopg://postgres@db:5432/faultline")
    assert one != default_metrics_dir("postgresql+psycopg://postgres@db:5432/other")
