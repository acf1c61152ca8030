"""The digester under a burst: a batch stored in chunks while the next is prepared, and the pauses it
takes to leave the CPU to the answers, which never keep an event undigested past DIGEST_MAX_DELAY_S.
"""

from __future__ import annotations

import threading
import time

import httpx

from app.ingest.digester import STORE_CHUNK
from tests.faults.events import envelope, post_envelope
from tests.faults.servers import Stack
from tests.faults.test_digester_crash import FAST_ACK, a_project, stored_envelopes, storing_blocked
from tests.support.db import wait_until


def test_a_batch_of_several_chunks_stores_every_event_once_around_a_bad_row_and_a_resend(stack: Stack):
    api = stack.api(**FAST_ACK)
    project_id, key = a_project(stack, api)
    resent = envelope(1000)  # the same event (same event_id) sent twice, far apart in the batch
    events = 2 * STORE_CHUNK + 8
    with storing_blocked(stack):  # the rows pile up in the inbox; the digester takes them together
        assert post_envelope(api.url, project_id, key, 0, body=resent).status_code == 200
        for n in range(1, events + 1):
            assert post_envelope(api.url, project_id, key, n).status_code == 200
            if n == STORE_CHUNK + 2:  # a row nobody can open, in the middle of the second chunk
                stack.execute(
                    "INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed) "
                    "VALUES (:p, 'b' || repeat('0', 31), now(), '\\x00010203'::bytea)",
                    p=project_id,
                )
        assert post_envelope(api.url, project_id, key, 0, body=resent).status_code == 200
        assert stored_envelopes(stack) == 0
    wait_until(lambda: stored_envelopes(stack) == events + 1, timeout_s=60)
    assert stack.scalar("SELECT count(*) FROM error_events WHERE payload::text LIKE '%envelope 1000)%'") == 1
    assert stack.scalar("SELECT sum(times_seen) FROM issues") == 1 + events + 1  # the seed event, once each
    (kept,) = stack.rows("SELECT event_id, last_error FROM ingest_inbox")
    assert kept["event_id"].startswith("b") and "prepare" in kept["last_error"]


def test_a_digester_that_gives_way_to_a_stream_still_stores_each_event_within_the_longest_delay(stack: Stack):
    # Pauses of a thousand times each batch would hold events for many seconds; the longest delay
    # (1 s here) must end them.
    api = stack.api(digest_yield_ratio=1000, digest_max_delay_s=1.0, rate_limit_per_minute=0)
    project_id, key = a_project(stack, api)
    sent = [0] * 4
    refused: list[int] = []
    stop_at = time.monotonic() + 4.0

    def stream(slot: int) -> None:
        with httpx.Client(timeout=10) as client:
            while time.monotonic() < stop_at:
                n = 10_000 * (slot + 1) + sent[slot]
                response = post_envelope(api.url, project_id, key, n, client=client)
                if response.status_code != 200:
                    refused.append(response.status_code)
                    return
                sent[slot] += 1

    threads = [threading.Thread(target=stream, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == []
    wait_until(lambda: stored_envelopes(stack) == sum(sent), timeout_s=60)
    # An envelope event without a timestamp is dated when it was received.
    slowest = stack.scalar(
        "SELECT max(extract(epoch FROM created_at - timestamp)) FROM error_events WHERE payload ? 'exception'"
    )
    assert sum(sent) > 50
    assert slowest < 3.0, f"an event waited {slowest:.1f} s to be stored"
