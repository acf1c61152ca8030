"""The real Python `sentry-sdk`, initialised with a DSN of the live server, reports to us: exceptions,
chained exceptions, messages and logging errors arrive, are answered 200, and group into issues."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import HttpTransport

from tests.support.db import rows, scalar, wait_until
from tests.support.sentry import SentryProject, make_project

# Each compression setting the SDK offers: brotli (its default here), gzip, and none.
COMPRESSION = {
    "br": {"transport_compression_algo": "br"},
    "gzip": {"transport_compression_algo": "gzip"},
    "none": {"transport_compression_level": 0},
}


class RecordingTransport(HttpTransport):
    """The SDK's own HTTP transport, remembering every answer our server gave it."""

    answers: list[tuple[list[str], int, bytes]] = []  # (item types sent, status, body)

    def _handle_response(self, response: Any, envelope: Any) -> None:
        item_types = [item.type for item in envelope.items] if envelope is not None else []
        RecordingTransport.answers.append((item_types, response.status, bytes(response.data)))
        super()._handle_response(response, envelope)


class OrderError(Exception):
    pass


def checkout(order_id: int) -> None:
    raise ValueError(f"order {order_id} has no items")


def load_user(user_id: int) -> dict[str, Any]:
    users: dict[str, Any] = {}
    return users[f"user-{user_id}"]


def fetch_order(order_id: int, cause: type[Exception]) -> None:
    try:
        raise cause(f"order {order_id} not in cache")
    except cause as exc:
        raise OrderError(f"order {order_id} could not be loaded") from exc


@pytest.fixture
def project(live_server) -> SentryProject:
    return make_project(live_server.url)


@pytest.fixture
def sdk(project: SentryProject) -> Iterator[Callable[..., None]]:
    """Start the real SDK against the live server; flush and close it after the test.

    The live server runs in this process, so the SDK only gets the integrations a test asks for:
    the default logging integration would also report the server's own log records.
    """
    RecordingTransport.answers = []

    def init(integrations: list[Any] | None = None, **options: Any) -> None:
        sentry_sdk.init(
            dsn=project.dsn,
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=integrations or [],
            transport=RecordingTransport,
            release="shop@1.0.0",
            environment="test",
            **options,
        )

    yield init
    client = sentry_sdk.get_client()
    client.flush(timeout=10)
    client.close(timeout=10)
    sentry_sdk.init(dsn=None)


def sent_and_stored(event_ids: list[str]) -> list[dict[str, Any]]:
    """Flush the SDK, check it was answered 200 {"id"} for each event, and return the stored rows."""
    sentry_sdk.flush(timeout=10)
    wait_until(lambda: scalar("SELECT count(*) FROM error_events") >= len(event_ids), timeout_s=10)
    answers = RecordingTransport.answers
    assert all(status == 200 for _, status, _ in answers), answers
    assert all(body == b"{}" for types, _, body in answers if "event" not in types), answers
    event_answers = [body for types, _, body in answers if "event" in types]
    assert sorted(event_answers) == sorted(f'{{"id":"{event_id}"}}'.encode() for event_id in event_ids)
    stored = rows(
        "SELECT e.event_id, e.issue_id, e.level, e.status_code, e.payload, e.data, i.title, i.times_seen "
        "FROM error_events e JOIN issues i ON i.id = e.issue_id ORDER BY e.id"
    )
    assert sorted(r["event_id"] for r in stored) == sorted(event_ids)
    return stored


@pytest.mark.parametrize("compression", COMPRESSION)
def test_exceptions_from_a_loop_make_one_issue_and_another_error_another(sdk, compression):
    sdk(_experiments=COMPRESSION[compression])
    loop_ids = []
    for order_id in range(1000, 1005):
        try:
            checkout(order_id)
        except ValueError:
            loop_ids.append(sentry_sdk.capture_exception())
    try:
        load_user(7)
    except KeyError:
        other_id = sentry_sdk.capture_exception()

    stored = sent_and_stored([*loop_ids, other_id])
    by_id = {r["event_id"]: r for r in stored}
    assert len({by_id[i]["issue_id"] for i in loop_ids}) == 1
    assert by_id[other_id]["issue_id"] != by_id[loop_ids[0]]["issue_id"]
    assert by_id[loop_ids[0]]["times_seen"] == 5
    assert by_id[loop_ids[0]]["title"].startswith("ValueError")
    assert by_id[other_id]["title"].startswith("KeyError")
    # The raw payload is what the SDK sent; the normalized frames are the test module's own.
    payload = by_id[loop_ids[0]]["payload"]
    assert payload["release"] == "shop@1.0.0"
    assert payload["exception"]["values"][0]["value"] == "order 1000 has no items"
    frames = by_id[loop_ids[0]]["data"]["exceptions"][0]["frames"]
    assert frames[-1]["function"] == "checkout" and frames[-1]["in_app"] is True
    # Unhandled-looking errors with no status are analysed: one analysis per issue.
    assert scalar("SELECT count(*) FROM issue_analyses") == 2


def test_chained_exceptions_keep_the_chain_and_group_by_it(sdk):
    sdk()
    key_error_ids, timeout_ids = [], []
    for order_id in (1, 2, 3):
        try:
            fetch_order(order_id, KeyError)
        except OrderError:
            key_error_ids.append(sentry_sdk.capture_exception())
    try:
        fetch_order(4, TimeoutError)
    except OrderError:
        timeout_ids.append(sentry_sdk.capture_exception())

    stored = sent_and_stored(key_error_ids + timeout_ids)
    by_id = {r["event_id"]: r for r in stored}
    chain = by_id[key_error_ids[0]]["data"]["exceptions"]
    assert [e["type"] for e in chain] == ["KeyError", "OrderError"]  # oldest first, as sent
    assert chain[1]["value"] == "order 1 could not be loaded"
    assert len({by_id[i]["issue_id"] for i in key_error_ids}) == 1
    assert by_id[key_error_ids[0]]["title"].startswith("OrderError")
    # Same outer error, different cause: a different problem, a different issue.
    assert by_id[timeout_ids[0]]["issue_id"] != by_id[key_error_ids[0]]["issue_id"]


def test_messages_group_by_their_normalized_text(sdk):
    sdk()
    report_ids = [
        sentry_sdk.capture_message(f"Nightly report took {ms} ms", level="warning") for ms in (812, 3512)
    ]
    disk_id = sentry_sdk.capture_message("Disk /var is 97% full", level="error")

    stored = sent_and_stored([*report_ids, disk_id])
    by_id = {r["event_id"]: r for r in stored}
    assert by_id[report_ids[0]]["issue_id"] == by_id[report_ids[1]]["issue_id"]
    assert by_id[disk_id]["issue_id"] != by_id[report_ids[0]]["issue_id"]
    assert by_id[report_ids[0]]["level"] == "warning"
    assert by_id[report_ids[0]]["payload"]["message"] == "Nightly report took 812 ms"
    # A warning with no status is not analysed; an error message is.
    analysed = rows("SELECT e.event_id FROM issue_analyses a JOIN error_events e ON e.id = a.error_event_id")
    assert [r["event_id"] for r in analysed] == [disk_id]


def test_logging_errors_arrive_through_the_logging_integration(sdk):
    sdk(integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)])
    log = logging.getLogger("shop.sync")
    for store_id in (11, 12, 13):
        log.error("sync of store %s failed", store_id)
    try:
        checkout(99)
    except ValueError:
        log.exception("charge failed for order %s", 99)
    log.warning("this is a breadcrumb, not an event")

    sentry_sdk.flush(timeout=10)
    wait_until(lambda: scalar("SELECT count(*) FROM error_events") >= 4, timeout_s=10)
    assert all(status == 200 for _, status, _ in RecordingTransport.answers)
    stored = rows(
        "SELECT e.issue_id, e.level, e.payload, e.data, i.times_seen FROM error_events e "
        "JOIN issues i ON i.id = e.issue_id ORDER BY e.id"
    )
    assert len(stored) == 4
    sync, charge = stored[:3], stored[3]
    assert len({r["issue_id"] for r in sync}) == 1 and sync[0]["times_seen"] == 3
    assert sync[0]["payload"]["logentry"]["message"] == "sync of store %s failed"
    assert sync[0]["data"]["message"] == "sync of store 11 failed"
    assert sync[0]["data"]["logger"] == "shop.sync"
    assert charge["issue_id"] != sync[0]["issue_id"]
    assert [e["type"] for e in charge["data"]["exceptions"]] == ["ValueError"]
    assert all(r["level"] == "error" for r in stored)
    # A warning log is a breadcrumb for the SDK, never an event of its own.
    assert scalar("SELECT count(*) FROM error_events WHERE level = 'warning'") == 0
