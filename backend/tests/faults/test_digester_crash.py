"""Events are accepted into the inbox and stored by a digester (by default a child of the API process).
Whatever dies in between, the digester (SIGKILL) or the whole API (SIGKILL), every accepted event
ends up stored exactly once; and while the digester cannot store, the inbox holds no secret in clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from tests.faults.events import post_envelope, post_seed
from tests.faults.servers import ApiServer, Stack
from tests.support.db import wait_until

FAST_ACK = {"ingest_ack_wait_s": 0.2}  # answers do not wait long for a digester we hold up


@contextmanager
def storing_blocked(stack: Stack) -> Iterator[None]:
    """Hold a lock that blocks every INSERT into error_events: the digester waits mid-batch."""
    with stack.engine.connect() as conn:
        conn.execute(text("LOCK TABLE error_events IN SHARE MODE"))
        yield
        conn.rollback()


def a_project(stack: Stack, api: ApiServer) -> tuple[int, str]:
    assert post_seed(api.url, 0).status_code == 201  # auto-creates the project
    project_id, key = stack.rows("SELECT id, public_key FROM projects")[0].values()
    return project_id, key


def stored_envelopes(stack: Stack) -> int:
    return stack.scalar("SELECT count(*) FROM error_events WHERE payload ? 'exception'")


def test_events_accepted_while_the_digester_dies_are_all_stored(stack: Stack):
    api = stack.api(**FAST_ACK)
    project_id, key = a_project(stack, api)
    (first,) = api.child.digesters()
    with storing_blocked(stack):
        for n in range(1, 21):
            assert post_envelope(api.url, project_id, key, n).status_code == 200
        assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 20
        assert stored_envelopes(stack) == 0
        first.kill()  # SIGKILL, mid-batch: its transaction rolls back, the rows stay in the inbox
    wait_until(lambda: stored_envelopes(stack) == 20, timeout_s=60)
    assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 0
    (second,) = api.child.digesters()
    assert second.pid != first.pid
    assert stack.scalar("SELECT sum(times_seen) FROM issues") == 21  # each event counted once


def test_events_accepted_before_the_api_is_killed_are_stored_by_the_next_one(stack: Stack):
    api = stack.api(**FAST_ACK)
    project_id, key = a_project(stack, api)
    with storing_blocked(stack):
        for n in range(1, 11):
            assert post_envelope(api.url, project_id, key, n).status_code == 200
        api.child.kill_group()  # the API and its digester, SIGKILL
    assert stored_envelopes(stack) == 0
    assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 10

    stack.api(**FAST_ACK)
    wait_until(lambda: stored_envelopes(stack) == 10, timeout_s=60)
    assert stack.scalar("SELECT count(*) FROM ingest_inbox") == 0


def test_the_inbox_holds_no_secret_in_clear(stack: Stack):
    api = stack.api(**FAST_ACK)
    project_id, key = a_project(stack, api)
    secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    with storing_blocked(stack):
        response = post_envelope(api.url, project_id, key, 1, extra={"api_key": secret})
        assert response.status_code == 200
        (sealed,) = [bytes(r["sealed"]) for r in stack.rows("SELECT sealed FROM ingest_inbox")]
        assert secret.encode() not in sealed
        assert b"upstream gone" not in sealed  # nothing of the event is readable
    wait_until(lambda: stored_envelopes(stack) == 1, timeout_s=60)
    stored = stack.scalar("SELECT payload::text FROM error_events WHERE payload ? 'exception'")
    assert secret not in stored and "upstream gone (envelope 1)" in stored


def test_an_event_that_cannot_be_digested_is_kept_and_does_not_block_the_rest(stack: Stack):
    api = stack.api(**FAST_ACK)
    project_id, key = a_project(stack, api)
    # A row the digester cannot open (sealed under another key): it must stay, with the reason.
    stack.execute(
        "INSERT INTO ingest_inbox (project_id, event_id, received_at, sealed) "
        "VALUES (:p, 'a' || repeat('0', 31), now(), '\\x00010203'::bytea)",
        p=project_id,
    )
    for n in range(1, 4):
        assert post_envelope(api.url, project_id, key, n).status_code == 200
    wait_until(lambda: stored_envelopes(stack) == 3, timeout_s=60)
    wait_until(lambda: stack.scalar("SELECT attempts FROM ingest_inbox") == 5, timeout_s=60)
    (kept,) = stack.rows("SELECT attempts, last_error FROM ingest_inbox")
    assert "prepare" in kept["last_error"]
