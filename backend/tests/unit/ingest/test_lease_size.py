"""The rate limiter's lease arithmetic (app/ingest/rate_limit.py); tests/ingest/test_rate_limit_leases.py
runs the leases against a real Redis."""

from __future__ import annotations

from app.ingest.rate_limit import lease_size


def test_lease_is_a_tenth_of_what_is_left_and_nothing_near_the_limit():
    assert lease_size(10_000, 0) == 1000
    assert lease_size(1_000_000_000, 5) == 1000  # capped
    assert lease_size(100, 1) == 9
    assert lease_size(25, 16) == 0  # under ten left: every event is counted on its own
    assert lease_size(5, 9) == 0
