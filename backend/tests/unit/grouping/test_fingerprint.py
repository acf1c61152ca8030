"""Grouping rules of v1: client fingerprints, exception chains and frames, folding, titles, culprits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.events.normalize import normalize_seed_event, normalize_sentry_event
from app.grouping.fingerprint import compute_grouping
from app.grouping.normalize import fold_variables

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def frame(module: str, function: str, lineno: int, in_app: bool | None = True, **more: Any) -> dict[str, Any]:
    return {
        "module": module,
        "function": function,
        "lineno": lineno,
        "in_app": in_app,
        "filename": module.replace(".", "/") + ".py",
        "abs_path": f"/srv/releases/{lineno}/" + module.replace(".", "/") + ".py",
        **more,
    }


def exc(
    type_: str | None, value: str | None, frames: list[dict[str, Any]], **mechanism: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "value": value, "stacktrace": {"frames": frames}}
    if mechanism:
        data["mechanism"] = mechanism
    return data


def sentry(**data: Any) -> Any:
    return compute_grouping(normalize_sentry_event(data, received_at=NOW))


def seed(**data: Any) -> Any:
    return compute_grouping(normalize_seed_event({"project_key": "test", **data}, received_at=NOW))


def parse_error(line_offset: int = 0, value: str = "invalid literal for int() with base 10: 'abc'") -> Any:
    frames = [
        frame("django.core.handlers", "inner", 47 + line_offset, in_app=False),
        frame("shop.views", "add_to_cart", 12 + line_offset),
        frame("shop.parsing", "parse_quantity", 3 + line_offset),
    ]
    return sentry(exception={"values": [exc("ValueError", value, frames)]})


# --- exception chain and frames ---------------------------------------------------------------


def test_same_error_at_shifted_lines_in_another_release_groups_together() -> None:
    first = parse_error()
    shifted = parse_error(line_offset=40, value="invalid literal for int() with base 10: '12x'")
    assert first.fingerprint == shifted.fingerprint
    assert first.components == [
        "type:ValueError",
        "frame:shop.views:add_to_cart",
        "frame:shop.parsing:parse_quantity",
    ]


def test_different_type_or_different_code_path_is_another_group() -> None:
    base = parse_error()
    other_type = sentry(
        exception=[
            exc(
                "TypeError",
                "x",
                [frame("shop.views", "add_to_cart", 12), frame("shop.parsing", "parse_quantity", 3)],
            )
        ]
    )
    other_caller = sentry(
        exception=[
            exc(
                "ValueError",
                "x",
                [frame("shop.imports", "import_row", 9), frame("shop.parsing", "parse_quantity", 3)],
            )
        ]
    )
    assert len({base.fingerprint, other_type.fingerprint, other_caller.fingerprint}) == 3


def test_library_frames_do_not_matter_when_in_app_frames_exist() -> None:
    app = [frame("shop.views", "checkout", 10)]
    one = sentry(exception=[exc("KeyError", "'a'", [frame("django.core", "inner", 1, in_app=False), *app])])
    two = sentry(
        exception=[exc("KeyError", "'b'", [frame("starlette.routing", "handle", 5, in_app=False), *app])]
    )
    assert one.fingerprint == two.fingerprint


def test_all_frames_count_when_none_is_in_app() -> None:
    lib = [
        frame("requests.adapters", "send", 500, in_app=None),
        frame("urllib3.connection", "connect", 20, in_app=None),
    ]
    one = sentry(exception=[exc("ConnectionError", "refused", lib)])
    two = sentry(
        exception=[
            exc("ConnectionError", "refused", [lib[0], frame("urllib3.pool", "urlopen", 9, in_app=None)])
        ]
    )
    assert one.components == [
        "type:ConnectionError",
        "frame:requests.adapters:send",
        "frame:urllib3.connection:connect",
    ]
    assert one.fingerprint != two.fingerprint


def test_files_without_module_use_the_file_name_not_the_deploy_path() -> None:
    def js_error(root: str, line: int) -> Any:
        frames = [
            {
                "filename": f"{root}/node_modules/express/lib/router.js",
                "function": "handle",
                "lineno": line,
                "in_app": False,
            },
            {
                "filename": f"{root}/src/users.js",
                "function": "loadUser",
                "lineno": line,
                "colno": 7,
                "in_app": True,
            },
        ]
        return sentry(platform="node", exception=[exc("TypeError", "x is undefined", frames)])

    assert js_error("/srv/app-v1", 10).fingerprint == js_error("/home/deploy/releases/42", 99).fingerprint
    assert js_error("/srv/app", 1).components == ["type:TypeError", "frame:users.js:loadUser"]


def test_bundle_hashes_and_url_hosts_are_ignored() -> None:
    def browser(host: str, bundle: str) -> Any:
        frames = [{"filename": f"{host}/static/js/{bundle}.js?v=3", "function": "render", "in_app": True}]
        return sentry(exception=[exc("Error", "boom", frames)])

    assert (
        browser("https://a.example.com", "main.3f9a1c2b").fingerprint
        == browser("app://", "main.77e0d1aa").fingerprint
    )


def test_anonymous_functions_are_known_by_their_code() -> None:
    def anonymous(context_line: str, line: int) -> Any:
        frames = [
            {
                "module": "jobs",
                "function": "Object.?",
                "lineno": line,
                "in_app": True,
                "context_line": context_line,
            }
        ]
        return sentry(exception=[exc("Error", "x", frames)])

    assert anonymous("  runJob(queue)  ", 5).fingerprint == anonymous("runJob(queue)", 50).fingerprint
    assert anonymous("runJob(queue)", 5).fingerprint != anonymous("retryJob(queue)", 5).fingerprint


def test_direct_recursion_depth_does_not_split_groups() -> None:
    def recursive(depth: int) -> Any:
        frames = [frame("tree", "walk", 10) for _ in range(depth)] + [frame("tree", "visit", 20)]
        return sentry(exception=[exc("RecursionError", "maximum recursion depth exceeded", frames)])

    assert recursive(3).fingerprint == recursive(300).fingerprint


def test_exception_chain_counts_each_link_in_order() -> None:
    cause = exc("KeyError", "4711", [frame("shop.orders", "load_order", 30)])
    wrapper = exc("OrderError", "order 4711 not found", [frame("shop.orders", "load_order", 32)])
    chained = sentry(exception={"values": [cause, wrapper]})
    alone = sentry(exception={"values": [wrapper]})
    reversed_chain = sentry(exception={"values": [wrapper, cause]})
    assert chained.components == [
        "type:KeyError",
        "frame:shop.orders:load_order",
        "type:OrderError",
        "frame:shop.orders:load_order",
    ]
    assert len({chained.fingerprint, alone.fingerprint, reversed_chain.fingerprint}) == 3
    assert chained.title == "OrderError: order 4711 not found"


def test_synthetic_exception_type_is_ignored_and_its_value_counts() -> None:
    frames = [frame("native", "crash_handler", 1)]
    sigsegv = sentry(
        exception=[exc("SIGSEGV", "Segfault at 0x0000dead", frames, type="signalhandler", synthetic=True)]
    )
    sigbus = sentry(
        exception=[exc("SIGBUS", "Segfault at 0x0000beef", frames, type="signalhandler", synthetic=True)]
    )
    real = sentry(exception=[exc("SIGSEGV", "Segfault at 0x0000dead", frames, type="signalhandler")])
    assert sigsegv.fingerprint == sigbus.fingerprint
    assert "type:SIGSEGV" not in sigsegv.components
    assert "value:Segfault at <hex>" in sigsegv.components
    assert real.fingerprint != sigsegv.fingerprint


def test_without_frames_the_folded_value_decides() -> None:
    def declined(customer: str, charge: str) -> Any:
        return sentry(
            exception=[exc("PaymentDeclined", f"card declined for {customer} (charge {charge})", [])]
        )

    one = declined("cus_3Jd9KpW20vTa", "5adf0c44-4dd8-4869-a969-f1623fa13a60")
    two = declined("cus_8Hq2LmZ41xQe", "0b9c5e1f-2a33-4c7d-8e11-1234567890ab")
    other = sentry(exception=[exc("PaymentDeclined", "card expired", [])])
    assert one.fingerprint == two.fingerprint != other.fingerprint
    assert one.components == ["type:PaymentDeclined", "value:card declined for cus_<id> (charge <uuid>)"]


# --- messages --------------------------------------------------------------------------------


def test_messages_group_by_folded_text_or_logging_template() -> None:
    def logged(store: int, retries: int) -> Any:
        template = "Failed to sync store %s after %d retries"
        return sentry(logentry={"message": template, "params": [store, retries]}, level="error")

    assert logged(17, 3).fingerprint == logged(204, 5).fingerprint
    assert logged(17, 3).components == ["message:Failed to sync store %s after %d retries"]
    assert logged(17, 3).title == "Failed to sync store 17 after 3 retries"
    cache = [sentry(message=f"Cache miss for user {n} at 10.0.0.{n}") for n in (1, 250)]
    assert cache[0].fingerprint == cache[1].fingerprint
    assert sentry(message="Nightly report generated").fingerprint != cache[0].fingerprint


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("order 4711 failed", "order 12 failed"),
        (
            "user 5adf0c44-4dd8-4869-a969-f1623fa13a60 missing",
            "user 0b9c5e1f2a334c7d8e111234567890ab missing",
        ),
        ("object at 0x7f31630dac10", "object at 0x55e1"),
        (
            "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            "commit 2c26b46b68ffc68ff99b453c1d30413413422d70",
        ),
        ("token ord_19d2e4aa expired", "token ord_7f3a9c2b expired"),
        ("mail to bob@example.com bounced", "mail to eve.smith+x@mail.example.org bounced"),
        ("connect 10.0.0.12:5432 refused", "connect 192.168.1.7 refused"),
        ("connect [::1] refused", "connect [fe80::1ff:fe23:4567:890a] refused"),
        ("at 2024-01-15T12:00:00Z", "at 2026-11-30 09:08:15.123+01:00"),
        ("job started 12:00:01", "job started 23:59:59.5"),
        ("no such key 'user_42'", 'no such key "customer:9"'),
        ("took 2500ms on worker3", "took 30ms on worker12"),
        ("  spaced\n\tout  ", "spaced out"),
    ],
)
def test_variable_parts_fold_to_the_same_text(first: str, second: str) -> None:
    assert fold_variables(first) == fold_variables(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Database connection failed", "Cache connection failed"),
        ("can't parse config", "can't load config"),
        ("relation does not exist", "column does not exist"),
        ("Foo::bar failed", "Foo::baz failed"),
    ],
)
def test_different_words_stay_different(first: str, second: str) -> None:
    assert fold_variables(first) != fold_variables(second)


def test_folding_examples() -> None:
    assert fold_variables("invalid literal for int() with base 10: 'abc'") == (
        "invalid literal for int() with base <int>: '<str>'"
    )
    assert fold_variables("can't reach db1 for bob@example.com since 2024-01-15") == (
        "can't reach db<int> for <email> since <timestamp>"
    )


# --- client fingerprints ---------------------------------------------------------------------


@pytest.mark.parametrize("default", ["{{ default }}", "{{default}}", "{{  default  }}", "{{ DEFAULT }}"])
def test_default_placeholder_expands_to_the_default_grouping(default: str) -> None:
    values = [exc("ValueError", "bad", [frame("shop.views", "checkout", 3)])]
    plain = sentry(exception=values)
    assert sentry(exception=values, fingerprint=[default]).fingerprint == plain.fingerprint
    tenant = sentry(exception=values, fingerprint=[default, "tenant-acme"])
    assert tenant.components == [*plain.components, "fingerprint:tenant-acme"]
    assert tenant.fingerprint != plain.fingerprint


def test_client_fingerprint_replaces_the_default() -> None:
    one = sentry(
        exception=[exc("ValueError", "a", [frame("a", "f", 1)])], fingerprint=["payment-gateway-down"]
    )
    two = sentry(message="something else entirely", fingerprint=["payment-gateway-down"])
    assert one.fingerprint == two.fingerprint
    assert one.components == ["fingerprint:payment-gateway-down"]
    assert one.title == "ValueError: a"  # the label still describes the event
    assert sentry(message="x", fingerprint=["payment-gateway-up"]).fingerprint != one.fingerprint


def test_fingerprint_variables_and_empty_fingerprints() -> None:
    checkout = sentry(message="slow", transaction="/checkout", fingerprint=["{{ transaction }}", "slow"])
    assert checkout.components == ["transaction:/checkout", "fingerprint:slow"]
    assert sentry(message="slow", fingerprint=[]).fingerprint == sentry(message="slow").fingerprint
    assert sentry(message="slow", fingerprint=["  "]).fingerprint == sentry(message="slow").fingerprint


# --- seed events -----------------------------------------------------------------------------


def test_seed_events_group_by_message_with_ids_folded() -> None:
    one = seed(
        message="Order 4711 failed for user 42", path="/api/orders/4711", method="POST", status_code=500
    )
    two = seed(message="Order 98 failed for user 7", path="/api/orders/98", method="POST", status_code=500)
    other = seed(
        message="Payment provider unavailable", path="/api/orders/98", method="POST", status_code=500
    )
    assert one.fingerprint == two.fingerprint != other.fingerprint
    assert one.title == "Order 4711 failed for user 42"
    assert one.culprit == "POST /api/orders/4711"


def test_seed_stack_text_without_frames_keeps_the_message_apart() -> None:
    database = seed(message="Database connection failed", stack="Error: Connection timeout", status_code=500)
    cache = seed(message="Cache connection failed", stack="Error: Connection timeout", status_code=500)
    again = seed(message="Database connection failed", stack="Error: Connection timeout", status_code=503)
    assert database.fingerprint == again.fingerprint != cache.fingerprint
    assert database.components == [
        "type:Error",
        "value:Connection timeout",
        "message:Database connection failed",
    ]
    assert database.title == "Error: Connection timeout"


def test_seed_tracebacks_at_other_lines_group_together() -> None:
    def traceback(root: str, line: int, value: str) -> str:
        return (
            "Traceback (most recent call last):\n"
            f'  File "{root}/shop/views.py", line {line}, in checkout\n'
            "    total = parse(cart)\n"
            f'  File "{root}/shop/parsing.py", line {line + 30}, in parse\n'
            "    return int(raw)\n"
            f"ValueError: {value}\n"
        )

    one = seed(message="checkout failed", stack=traceback("/srv/a", 10, "invalid literal for int(): 'x'"))
    two = seed(message="checkout failed #2", stack=traceback("/srv/b", 99, "invalid literal for int(): 'y'"))
    assert one.fingerprint == two.fingerprint
    assert one.components == ["type:ValueError", "frame:views.py:checkout", "frame:parsing.py:parse"]
    assert one.culprit == "/srv/a/shop/parsing.py in parse"


def test_event_with_nothing_to_go_by_still_groups() -> None:
    empty = sentry()
    assert empty.components == ["fallback"]
    assert empty.title == "<unlabeled event>"
    assert seed(path="/api/users/17", method="get").components == ["request:GET /api/users/<int>"]


# --- labels ----------------------------------------------------------------------------------


def test_title_is_capped_and_culprit_falls_back_to_transaction_then_route() -> None:
    long = sentry(exception=[exc("ValueError", "x" * 1000, [])])
    assert len(long.title) == 255
    assert long.title.startswith("ValueError: xxx")
    assert long.title.endswith("…")
    assert sentry(message="m", transaction="/items/{item_id}").culprit == "/items/{item_id}"
    routed = sentry(message="m", request={"method": "get", "url": "https://x.example/api/users?page=2"})
    assert routed.culprit == "GET /api/users"
    library_only = sentry(
        exception=[
            exc(
                "E", "v", [frame("lib.a", "outer", 1, in_app=False), frame("lib.b", "inner", 2, in_app=False)]
            )
        ]
    )
    assert library_only.culprit == "lib.b in inner"
