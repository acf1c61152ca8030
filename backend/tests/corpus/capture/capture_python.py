"""Drive the real Python sentry-sdk through the corpus scenarios against a local capture server.

Run: `python capture_python.py DSN VARIANT MAP_FILE` with VARIANT `a` or `b`. Variant `b` is the
"next release": the app's source is shifted by some lines and the ids in messages differ, so events
of the same scenario must land in the same group; it also sends gzip instead of brotli.
Appends `{event_id, name, expected_group, description}` lines to MAP_FILE for build_corpus.py.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import tempfile
import uuid
from pathlib import Path

APP_SOURCE = '''\
"""A tiny shop, the in-app code of the corpus."""
{shift}
import logging

log = logging.getLogger("shop.inventory")


class OrderError(Exception):
    pass


class PaymentDeclined(Exception):
    pass


def parse_quantity(raw):
{strip}    return int(raw)


def add_to_cart(cart, sku, raw_qty):
    qty = parse_quantity(raw_qty)
    cart[sku] = cart.get(sku, 0) + qty
    return cart


def import_row(row):
    return {{"sku": row[0], "qty": parse_quantity(row[1])}}


def load_order(orders, order_id):
    try:
        return orders[order_id]
    except KeyError as exc:
        raise OrderError(f"order {{order_id}} not found") from exc


def average_price(prices):
    return sum(prices) / len(prices)


def reserve_stock(stock, sku):
    return stock[sku] - 1


def sync_store(store_id, retries):
    log.error("Failed to sync inventory for store %s after %d retries", store_id, retries)


def warm_cache(user_id):
    log.error(f"Cache miss for key user:{{user_id}} (ttl=300s)")


def charge(order_id, amount):
    try:
        raise ConnectionError(f"payment gateway timed out after {{amount}}ms")
    except ConnectionError:
        log.exception("Charging order %s failed", order_id)


def lookup_item(item_id):
    raise LookupError(f"item {{item_id}} missing from catalog")
'''

SHIFT_B = "\n".join(f"# release 1.1.0 note {i}: refactored imports" for i in range(7))
STRIP_B = "    raw = raw.strip() if isinstance(raw, str) else raw\n"


def main() -> None:
    dsn, variant, map_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    b = variant == "b"
    root = Path(tempfile.mkdtemp(prefix=f"corpus-py-{variant}-"))
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "inventory.py").write_text(
        APP_SOURCE.format(shift=SHIFT_B if b else "", strip=STRIP_B if b else "")
    )
    os.chdir(root)  # the SDK marks frames under the working directory as in_app
    sys.path.insert(0, str(root))

    import sentry_sdk

    records: list[dict[str, str]] = []
    current: dict[str, str] = {}

    def before_send(event, hint):  # type: ignore[no-untyped-def]
        # Every scenario sends exactly one event; the FastAPI one comes from another scope, so
        # last_event_id() cannot be used to tell which event belongs to which scenario.
        assert current, f"event outside a scenario: {event.get('event_id')}"
        records.append({"event_id": event["event_id"], **current})
        current.clear()
        return event

    sentry_sdk.init(
        dsn=dsn,
        release="shop@1.1.0" if b else "shop@1.0.0",
        environment="corpus",
        before_send=before_send,
        # a: the default (brotli, since the venv has it); b: gzip, the default without brotli.
        _experiments={"transport_compression_algo": "gzip"} if b else {},
    )
    inv = importlib.import_module("shop.inventory")

    def scenario(name: str, group: str, description: str) -> None:
        assert not current, f"previous scenario sent nothing: {current}"
        current.update({"name": f"py_{variant}_{name}", "expected_group": group, "description": description})

    def raise_and_capture(fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except Exception:
            sentry_sdk.capture_exception()
            return
        raise AssertionError("scenario did not raise")

    scenario(
        "valueerror_add_to_cart",
        "py-valueerror-add-to-cart",
        "int() on bad input via add_to_cart; b: shifted lines, new release, other input",
    )
    raise_and_capture(inv.add_to_cart, {}, "SKU-1", "12x" if b else "abc")
    scenario(
        "valueerror_import_row",
        "py-valueerror-import-row",
        "the same ValueError reached from another call site (import_row)",
    )
    raise_and_capture(inv.import_row, ["SKU-9", "n/a"])
    scenario(
        "order_not_found_chained",
        "py-order-not-found-chained",
        "raise OrderError from KeyError; b: another order id",
    )
    raise_and_capture(inv.load_order, {}, 9001 if b else 4711)
    scenario("zerodivision", "py-zerodivision", "ZeroDivisionError: a different error, its own group")
    raise_and_capture(inv.average_price, [])
    if not b:
        scenario("keyerror_reserve", "py-keyerror-reserve", "KeyError in reserve_stock")
        raise_and_capture(inv.reserve_stock, {}, "SKU-3")
    scenario(
        "log_sync_store",
        "py-log-sync-store",
        "logging.error with %s params: grouped by the logentry template",
    )
    inv.sync_store(204 if b else 17, 5 if b else 3)
    scenario(
        "log_cache_miss",
        "py-log-cache-miss",
        "logging.error with an f-string holding a UUID: grouped by the folded message",
    )
    inv.warm_cache(str(uuid.uuid4()))
    scenario(
        "log_exception_charge",
        "py-log-exception-charge",
        "logging.exception inside except: logentry plus an exception with frames",
    )
    inv.charge("ord_7f3a9c2b" if b else "ord_19d2e4aa", 3000 if b else 2500)
    scenario("message_disk_usage", "py-message-disk-usage", "capture_message with numbers that vary")
    sentry_sdk.capture_message(f"Disk usage at {97 if b else 91}% on /dev/sda{2 if b else 1}")
    if not b:
        scenario(
            "message_nightly_report",
            "py-message-nightly-report",
            "capture_message: another message, another group",
        )
        sentry_sdk.capture_message("Nightly report generated")
    scenario(
        "payment_declined_unraised",
        "py-payment-declined-unraised",
        "capture_exception of an exception never raised: no frames, grouped by type + folded value",
    )
    customer = "cus_8Hq2LmZ41xQe" if b else "cus_3Jd9KpW20vTa"
    sentry_sdk.capture_exception(
        inv.PaymentDeclined(f"card declined for customer {customer} (charge {uuid.uuid4()})")
    )
    scenario(
        "fingerprint_default_tenant",
        "py-fingerprint-default-tenant",
        "scope.fingerprint = ['{{ default }}', 'tenant-acme'] on the add_to_cart error",
    )
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["{{ default }}", "tenant-acme"]
        raise_and_capture(inv.add_to_cart, {}, "SKU-2", "7 pcs" if b else "??")

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, int]:
        return inv.lookup_item(item_id)

    scenario(
        "fastapi_item_missing",
        "py-fastapi-item-missing",
        "unhandled LookupError in a FastAPI endpoint (integration event with request, transaction)",
    )
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get(f"/items/{88 if b else 42}?expand=price").status_code == 500
    assert not current, "the FastAPI scenario sent nothing"

    sentry_sdk.flush(5)
    with map_file.open("a") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    logging.shutdown()


if __name__ == "__main__":
    main()
