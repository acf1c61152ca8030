"""How long the digester pauses between batches while the API takes in a burst (yield_pause)."""

from __future__ import annotations

import pytest

from app.ingest.digester import YIELD_AFTER_BUSY_S, DigesterConfig, yield_pause


def config(yield_ratio: float = 3.0, max_delay_s: float = 5.0) -> DigesterConfig:
    return DigesterConfig(
        conninfo="",
        secret_key="k" * 32,
        batch=64,
        poll_s=1.0,
        yield_ratio=yield_ratio,
        max_delay_s=max_delay_s,
    )


BUSY = YIELD_AFTER_BUSY_S + 0.1


def test_while_the_api_is_busy_the_digester_takes_a_quarter_of_the_time():
    assert yield_pause(config(), batch_s=0.020, oldest_wait_s=0.1, busy_s=BUSY) == pytest.approx(0.060)


def test_an_idle_api_gets_no_pause():
    assert yield_pause(config(), batch_s=0.020, oldest_wait_s=0.1, busy_s=0.0) == 0.0


def test_a_short_burst_gets_no_pause():
    short = YIELD_AFTER_BUSY_S - 0.1
    assert yield_pause(config(), batch_s=0.020, oldest_wait_s=0.1, busy_s=short) == 0.0


def test_a_ratio_of_zero_never_pauses():
    assert yield_pause(config(yield_ratio=0), batch_s=0.020, oldest_wait_s=0.1, busy_s=BUSY) == 0.0


def test_the_pause_ends_when_the_events_taken_reach_the_longest_delay():
    patient = config(yield_ratio=1000, max_delay_s=5.0)
    assert yield_pause(patient, batch_s=0.02, oldest_wait_s=4.9, busy_s=BUSY) == pytest.approx(0.1)


def test_events_that_waited_the_longest_delay_get_no_pause():
    assert yield_pause(config(), batch_s=0.020, oldest_wait_s=5.0, busy_s=BUSY) == 0.0
    assert yield_pause(config(), batch_s=0.020, oldest_wait_s=60.0, busy_s=BUSY) == 0.0
