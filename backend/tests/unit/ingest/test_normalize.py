"""Normalizers: Sentry event payloads and the seed's JSON into NormalizedEvent, never raising."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.events.model import NormalizedEvent
from app.events.normalize import normalize_seed_event, normalize_sentry_event
from app.events.stack_text import parse_stack_text
from app.events.text import TRUNCATION_MARKER
from app.grouping.fingerprint import compute_grouping

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CORPUS = Path(__file__).parents[2] / "corpus" / "events"


def sentry(**data: Any) -> NormalizedEvent:
    return normalize_sentry_event(data, received_at=NOW)


def seed(**data: Any) -> NormalizedEvent:
    return normalize_seed_event({"project_key": "test", **data}, received_at=NOW)


def storable(event: NormalizedEvent) -> dict[str, Any]:
    """What goes into jsonb: must encode without NaN and without NUL characters."""
    text = json.dumps(event.to_dict(), allow_nan=False)
    text.encode("utf-8")
    decoded = json.loads(text)
    # A NUL anywhere, key or value. (Searching the text for the escape would also flag a literal
    # backslash followed by "u0000", which PostgreSQL stores fine.)
    assert not _strings_with_nul(decoded)
    return decoded


def _strings_with_nul(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if "\x00" in value else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings_with_nul(k) + _strings_with_nul(v)]
    if isinstance(value, list):
        return [s for item in value for s in _strings_with_nul(item)]
    return []


# --- Sentry events: identity, time, level -----------------------------------------------------


def test_event_id_dashed_uuid_is_accepted_and_bad_ids_are_replaced() -> None:
    assert (
        sentry(event_id="5ADF0C44-4DD8-4869-A969-F1623FA13A60").event_id == "5adf0c444dd84869a969f1623fa13a60"
    )
    made = {sentry(event_id=bad).event_id for bad in (None, "nope", 42, "5adf0c44" * 5, ["x"])}
    assert len(made) == 5
    assert all(re.fullmatch(r"[0-9a-f]{32}", event_id) for event_id in made)


def test_timestamps_rfc3339_epoch_and_fallbacks() -> None:
    assert sentry(timestamp="2026-11-30T09:08:15.123456Z").timestamp == datetime(
        2026, 11, 30, 9, 8, 15, 123456, tzinfo=UTC
    )
    assert sentry(timestamp="2026-11-15T12:00:00+01:00").timestamp == datetime(
        2026, 11, 15, 11, 0, tzinfo=UTC
    )
    assert sentry(timestamp=1796029681.995).timestamp == datetime.fromtimestamp(1796029681.995, UTC)
    assert sentry(timestamp=1794744000000).timestamp == datetime(2026, 11, 15, 12, 0, tzinfo=UTC)  # ms
    assert sentry(timestamp="2026-11-15 12:00:00").timestamp.tzinfo is not None
    for unusable in (None, "yesterday", float("nan"), float("inf"), -5, True, {"at": 1}):
        assert sentry(timestamp=unusable).timestamp == NOW
    # a client clock far ahead is not believed; a minute of drift is
    assert sentry(timestamp=(NOW + timedelta(days=3)).isoformat()).timestamp == NOW
    assert sentry(timestamp=(NOW + timedelta(seconds=30)).isoformat()).timestamp == NOW + timedelta(
        seconds=30
    )


@pytest.mark.parametrize(
    ("sent", "kind"),
    [
        ("0001-01-01T00:00:00Z", "past_timestamp"),
        ((NOW - timedelta(days=30, seconds=1)).isoformat(), "past_timestamp"),
        (0, "past_timestamp"),
        ((NOW + timedelta(minutes=1, seconds=1)).isoformat(), "future_timestamp"),
        ("9999-12-31T23:59:59Z", "future_timestamp"),
        ("yesterday", "invalid_data"),
    ],
)
def test_a_time_outside_30_days_back_or_a_minute_ahead_becomes_the_receive_time_with_a_note(
    sent: Any, kind: str
) -> None:
    for event in (sentry(timestamp=sent), seed(timestamp=sent)):
        assert event.timestamp == NOW
        assert event.errors == [{"type": kind, "name": "timestamp", "value": str(sent)}]


def test_a_time_within_the_window_is_kept_without_a_note() -> None:
    for sent in (NOW - timedelta(days=29, hours=23), NOW + timedelta(seconds=59)):
        event = sentry(timestamp=sent.isoformat())
        assert (event.timestamp, event.errors) == (sent, [])
    assert sentry().errors == []  # no time sent: the receive time, and nothing to say about it


def test_received_at_without_timezone_is_taken_as_utc() -> None:
    event = normalize_sentry_event({}, received_at=datetime(2026, 1, 1, 8, 0))
    assert event.timestamp == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def test_levels_default_to_error_and_aliases_map() -> None:
    expected = [
        (None, "error"),
        ("error", "error"),
        ("ERROR", "error"),
        ("warn", "warning"),
        ("warning", "warning"),
        ("critical", "fatal"),
        ("fatal", "fatal"),
        ("info", "info"),
        ("log", "info"),
        ("debug", "debug"),
        ("trace", "debug"),
        ("bogus", "error"),
        (40, "error"),  # Python logging's numbers
        (30, "warning"),
        (50, "fatal"),
        (["error"], "error"),
    ]
    for raw, level in expected:
        assert sentry(level=raw).level == level, raw


# --- messages and exceptions ------------------------------------------------------------------


def test_message_as_string_object_and_logentry() -> None:
    assert sentry(message="hello 42").message == "hello 42"
    assert sentry(message="hello 42").message_template is None
    structured = sentry(message={"formatted": "order 7 failed", "message": "order %s failed", "params": [7]})
    assert (structured.message, structured.message_template) == ("order 7 failed", "order %s failed")
    logged = sentry(logentry={"message": "store %s after %d retries (%.1f%%)", "params": ["s1", 3, 99.5]})
    assert logged.message == "store s1 after 3 retries (99.5%)"
    assert logged.message_template == "store %s after %d retries (%.1f%%)"
    braces = sentry(logentry={"message": "user {} in {0}", "params": ["bob"]})
    assert braces.message == "user bob in bob"
    named = sentry(logentry={"message": "%(who)s left", "params": {"who": "eve"}})
    assert named.message == "eve left"
    # a hostile width must not be honoured (it would allocate gigabytes with `%`)
    assert sentry(logentry={"message": "%999999999d", "params": [1]}).message == "1"
    # nor a placeholder repeated to copy a big param thousands of times (gigabytes again)
    repeated = sentry(logentry={"message": "{0}" * 2700, "params": ["x" * 900_000]})
    assert repeated.message == "x" * (8192 - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER
    assert sentry(message=12).message == "12"
    assert sentry(message=["x"]).message is None


def test_long_message_and_value_are_truncated_with_a_marker() -> None:
    event = sentry(message="m" * 20000, exception=[{"type": "E", "value": "v" * 20000}])
    assert event.message is not None and len(event.message) == 8192
    assert event.message.endswith(TRUNCATION_MARKER)
    assert event.exceptions[0].value is not None and event.exceptions[0].value.endswith(TRUNCATION_MARKER)


def test_exception_values_object_or_bare_list_oldest_first() -> None:
    chain = [
        {"type": "KeyError", "value": "4711", "mechanism": {"type": "chained", "handled": True}},
        {
            "type": "OrderError",
            "value": "order 4711 not found",
            "module": "shop.orders",
            "mechanism": {"type": "generic", "handled": False, "synthetic": False},
            "stacktrace": {
                "frames": [
                    {"filename": "shop/orders.py", "function": "outer", "lineno": 3, "in_app": True},
                    {
                        "filename": "shop/orders.py",
                        "abs_path": "/srv/shop/orders.py",
                        "module": "shop.orders",
                        "function": "load_order",
                        "lineno": 34,
                        "colno": 9,
                        "in_app": True,
                        "context_line": "raise OrderError(...)",
                        "pre_context": ["a", 5, "b"],
                        "post_context": ["c"],
                        "vars": {"order_id": 4711, "ratio": float("nan")},
                    },
                ]
            },
        },
    ]
    for shape in ({"values": chain}, chain):
        event = sentry(exception=shape)
        assert [e.type for e in event.exceptions] == ["KeyError", "OrderError"]
        raised = event.exceptions[-1]
        assert (raised.module, raised.mechanism_type, raised.handled, raised.synthetic) == (
            "shop.orders",
            "generic",
            False,
            False,
        )
        assert [f.function for f in raised.frames] == ["outer", "load_order"]
        last = raised.frames[-1]
        assert (last.lineno, last.colno, last.in_app, last.abs_path) == (34, 9, True, "/srv/shop/orders.py")
        assert last.pre_context == ["a", "", "b"]
        assert last.vars == {"order_id": 4711, "ratio": "NaN"}
        assert event.exceptions[0].mechanism_type == "chained"


def test_synthetic_mechanism_is_kept() -> None:
    event = sentry(
        exception=[{"value": "Queue backlog", "mechanism": {"type": "generic", "synthetic": True}}]
    )
    assert event.exceptions[0].synthetic is True
    assert event.exceptions[0].type is None


def test_exception_entries_of_wrong_types_are_dropped() -> None:
    event = sentry(
        exception={
            "values": [
                "not an exception",
                None,
                {},
                {"type": 5, "value": {"x": 1}, "mechanism": "generic", "stacktrace": {"frames": "nope"}},
                {
                    "type": "E",
                    "stacktrace": {"frames": [None, 3, {"lineno": "12", "in_app": "yes", "function": 7}]},
                },
            ]
        }
    )
    assert len(event.exceptions) == 1
    frame = event.exceptions[0].frames[0]
    assert (frame.lineno, frame.in_app, frame.function) == (None, None, None)


def test_very_deep_stacks_keep_both_ends() -> None:
    frames = [{"function": f"f{i}", "in_app": True} for i in range(1000)]
    event = sentry(exception=[{"type": "RecursionError", "stacktrace": {"frames": frames}}])
    kept = event.exceptions[0].frames
    assert len(kept) == 250
    assert (kept[0].function, kept[-1].function) == ("f0", "f999")


# --- context: tags, breadcrumbs, request, status ----------------------------------------------


def test_tags_as_object_or_pairs_with_values_stringified() -> None:
    as_object = sentry(
        tags={"http.status_code": 502, "flag": True, "ratio": 0.5, "none": None, "d": {"a": 1}}
    )
    assert as_object.tags == {"http.status_code": "502", "flag": "true", "ratio": "0.5", "d": '{"a":1}'}
    as_pairs = sentry(tags=[["browser", "Firefox"], ["level", 3], ["broken"], "x", [1, 2]])
    assert as_pairs.tags == {"browser": "Firefox", "level": "3", "1": "2"}
    assert sentry(tags="a=b").tags == {}


def test_breadcrumbs_as_values_object_or_list() -> None:
    crumbs = [{"message": "a", "category": "http"}, "junk", {"message": "b", "data": {"x": float("inf")}}]
    for shape in ({"values": crumbs}, crumbs):
        event = sentry(breadcrumbs=shape)
        assert [c["message"] for c in event.breadcrumbs] == ["a", "b"]
        assert event.breadcrumbs[1]["data"] == {"x": "Infinity"}
    many = sentry(breadcrumbs=[{"message": str(i)} for i in range(500)])
    assert len(many.breadcrumbs) == 100
    assert many.breadcrumbs[-1]["message"] == "499"  # the most recent survive


def test_request_user_contexts_extra_sdk_fingerprint() -> None:
    event = sentry(
        request={
            "method": "post",
            "url": "https://shop.example/api/orders?page=2",
            "headers": [["Content-Type", "application/json"], ["X-Count", 3]],
            "data": {"qty": 2},
            "cookies": "a=b",
        },
        user={"id": 7, "email": "bob@example.com"},
        contexts={"runtime": {"name": "CPython"}},
        extra={"sys.argv": ["app.py"]},
        sdk={"name": "sentry.python", "version": "2.75.0"},
        fingerprint=["{{ default }}", 42, None, "tenant"],
        release=1.2,
        environment=["prod"],
    )
    assert event.request == {
        "method": "POST",
        "url": "https://shop.example/api/orders",
        "query_string": "page=2",
        "path": "/api/orders",
        "headers": {"Content-Type": "application/json", "X-Count": "3"},
        "data": {"qty": 2},
        "cookies": "a=b",
    }
    assert event.user == {"id": 7, "email": "bob@example.com"}
    assert event.contexts == {"runtime": {"name": "CPython"}}
    assert event.extra == {"sys.argv": ["app.py"]}
    assert event.sdk["name"] == "sentry.python"
    assert event.fingerprint == ["{{ default }}", "42", "tenant"]
    assert (event.release, event.environment) == ("1.2", None)


def test_status_code_from_response_context_then_tags_then_request() -> None:
    assert (
        sentry(contexts={"response": {"status_code": 503}}, tags={"http.status_code": "500"}).status_code
        == 503
    )
    assert sentry(tags={"http.status_code": "502"}).status_code == 502
    assert sentry(tags=[["status_code", 404]]).status_code == 404
    assert sentry(request={"status_code": 500.0}).status_code == 500
    assert sentry(contexts={"response": {"status_code": 999}}, tags={"status_code": "501"}).status_code == 501
    for bad in (99, 600, "abc", True, None, -500, 500.5):
        assert sentry(contexts={"response": {"status_code": bad}}).status_code is None
    assert sentry().status_code is None


def test_strings_that_postgres_refuses_are_repaired() -> None:
    event = sentry(message="nul\x00byte", extra={"lone": "\ud800", "key\x00": "v"}, tags={"t": "a\x00b"})
    stored = storable(event)
    assert stored["message"] == "nul\ufffdbyte"
    assert stored["extra"]["lone"] == "?"


def test_top_level_of_wrong_type_gives_an_empty_event() -> None:
    event = normalize_sentry_event(["not", "an", "event"], received_at=NOW)  # type: ignore[arg-type]
    assert (event.level, event.message, event.exceptions, event.timestamp) == ("error", None, [], NOW)


def test_every_corpus_event_normalizes_and_stores() -> None:
    paths = sorted(CORPUS.glob("*.json"))
    assert paths
    for path in paths:
        raw = json.loads(path.read_text())["event"]
        event = normalize_sentry_event(raw, received_at=NOW)
        assert event.event_id == raw["event_id"]
        assert event.timestamp < NOW + timedelta(days=3650)
        stored = storable(event)
        assert NormalizedEvent.from_dict(stored) == event


# --- never raises: arbitrary JSON in every field ----------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_FRAME_KEYS = ["filename", "abs_path", "module", "function", "lineno", "colno", "in_app", "context_line",
               "pre_context", "post_context", "vars"]  # fmt: skip
_frames = st.lists(st.dictionaries(st.sampled_from(_FRAME_KEYS), _json, max_size=6) | _json, max_size=4)
_exception_value = st.dictionaries(
    st.sampled_from(["type", "value", "module", "mechanism", "stacktrace"]),
    _json
    | st.fixed_dictionaries({"frames": _frames})
    | st.dictionaries(st.sampled_from(["type", "handled", "synthetic"]), _json, max_size=3),
    max_size=5,
)
_SENTRY_KEYS = ["event_id", "timestamp", "platform", "level", "logger", "transaction", "server_name",
                "release", "dist", "environment", "message", "logentry", "exception", "fingerprint",
                "tags", "breadcrumbs", "request", "user", "contexts", "extra", "sdk"]  # fmt: skip
_sentry_payload = st.dictionaries(
    st.sampled_from(_SENTRY_KEYS),
    _json
    | st.lists(_exception_value, max_size=3)
    | st.fixed_dictionaries({"values": st.lists(_exception_value, max_size=3)})
    | st.dictionaries(
        st.sampled_from(["message", "formatted", "params", "status_code", "url", "method"]), _json
    ),
    max_size=12,
)
_SEED_KEYS = ["project_key", "message", "stack", "method", "path", "status_code", "timestamp", "extra_field"]
_seed_payload = st.dictionaries(
    st.sampled_from(_SEED_KEYS), _json | st.text(alphabet=" \n\t:@()at.Ee/", max_size=80)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_sentry_payload)
def test_sentry_payload_of_any_shape_never_raises(payload: dict[str, Any]) -> None:
    event = normalize_sentry_event(payload, received_at=NOW)
    storable(event)
    assert event.level in ("fatal", "error", "warning", "info", "debug")
    assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)
    assert compute_grouping(event).fingerprint


@settings(max_examples=100, deadline=None)
@given(_seed_payload)
def test_seed_payload_of_any_shape_never_raises(payload: dict[str, Any]) -> None:
    event = normalize_seed_event(payload, received_at=NOW)
    storable(event)
    assert compute_grouping(event).fingerprint


# --- the seed's JSON --------------------------------------------------------------------------


def test_seed_example_from_the_readme() -> None:
    event = seed(
        message="Database connection failed",
        stack="Error: Connection timeout",
        method="GET",
        path="/api/users",
        status_code=500,
        timestamp="2024-01-15T12:00:00Z",
    )
    assert event.message == "Database connection failed"
    assert [(e.type, e.value) for e in event.exceptions] == [("Error", "Connection timeout")]
    assert event.request == {"method": "GET", "path": "/api/users", "url": "/api/users"}
    assert (event.status_code, event.level) == (500, "error")
    # The README's example is dated long ago: it is stored at the receive time, with a note.
    assert event.timestamp == NOW
    assert event.errors == [{"type": "past_timestamp", "name": "timestamp", "value": "2024-01-15T12:00:00Z"}]
    assert event.extra == {"stack": "Error: Connection timeout"}
    assert event.needs_analysis


def test_seed_level_follows_status() -> None:
    assert [seed(status_code=s).level for s in (500, 503, 404, 400, 302, 200)] == [
        "error",
        "error",
        "warning",
        "warning",
        "info",
        "info",
    ]
    assert seed().level == "error"
    assert seed(status_code="502").status_code == 502
    assert (seed(status_code="abc").status_code, seed(status_code="abc").level) == (None, "error")
    assert seed(status_code=404).needs_analysis is False


def test_seed_extra_fields_are_kept_and_project_key_is_not() -> None:
    event = seed(
        message="x",
        build={"sha": "abc"},
        user={"id": 3},
        environment="staging",
        tags={"region": "eu"},
        n=float("nan"),
    )
    assert event.extra == {"build": {"sha": "abc"}, "n": "NaN"}
    assert (event.user, event.environment, event.tags) == ({"id": 3}, "staging", {"region": "eu"})
    assert "project_key" not in json.dumps(event.to_dict())


def test_seed_timestamp_with_offset_and_garbage() -> None:
    assert seed(timestamp="2026-11-15T13:00:00+01:00").timestamp == datetime(
        2026, 11, 15, 13, 0, tzinfo=timezone(timedelta(hours=1))
    )
    assert seed(timestamp="soon").timestamp == NOW


def test_seed_unparseable_stack_is_kept_as_text_only() -> None:
    event = seed(message="boom", stack="something went wrong somewhere\nno trace here")
    assert event.exceptions == []
    assert event.extra["stack"] == "something went wrong somewhere\nno trace here"


# --- stack trace text -------------------------------------------------------------------------

PYTHON_TRACE = """\
2024-01-15 12:00:00 ERROR request failed
Traceback (most recent call last):
  File "/srv/app/shop/views.py", line 12, in checkout
    total = compute(cart)
  File "/usr/lib/python3.11/site-packages/pricing/core.py", line 3, in compute
    return int(x)
           ^^^^^^
ValueError: invalid literal for int() with base 10: 'abc'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app/shop/views.py", line 20, in handler
    raise shop.errors.CheckoutError("failed") from e
shop.errors.CheckoutError: checkout failed
  for cart 17
"""


def test_python_traceback_with_a_chain() -> None:
    chain, platform = parse_stack_text(PYTHON_TRACE)
    assert platform == "python"
    assert [(e.type, e.module, e.value) for e in chain] == [
        ("ValueError", None, "invalid literal for int() with base 10: 'abc'"),
        ("CheckoutError", "shop.errors", "checkout failed\n  for cart 17"),
    ]
    cause = chain[0].frames
    assert [(f.function, f.lineno, f.in_app) for f in cause] == [
        ("checkout", 12, True),
        ("compute", 3, False),
    ]
    assert cause[0].context_line == "total = compute(cart)"
    assert cause[1].context_line == "return int(x)"  # the ^^^ marker line is not code
    assert cause[0].filename == cause[0].abs_path == "/srv/app/shop/views.py"


def test_javascript_stack() -> None:
    chain, platform = parse_stack_text(
        "TypeError: Cannot read properties of undefined (reading 'x')\n"
        "    at loadUser (/app/src/users.js:10:5)\n"
        "    at async Promise.all (index 0)\n"
        "    at Object.<anonymous> (/app/node_modules/express/lib/router.js:3:9)\n"
        "    at /app/src/index.js:12:3\n"
    )
    assert platform == "javascript"
    [error] = chain
    assert (error.type, error.value) == ("TypeError", "Cannot read properties of undefined (reading 'x')")
    assert [(f.filename, f.function, f.lineno, f.colno, f.in_app) for f in error.frames] == [
        ("/app/src/index.js", None, 12, 3, True),
        ("/app/node_modules/express/lib/router.js", "Object.<anonymous>", 3, 9, False),
        (None, "async Promise.all", None, None, None),
        ("/app/src/users.js", "loadUser", 10, 5, True),
    ]


def test_javascript_firefox_stack_and_node_error_code() -> None:
    chain, _ = parse_stack_text(
        "Error [ERR_HTTP_HEADERS_SENT]: Cannot set headers\nrender@https://x.example/app.js:4:12\n"
    )
    assert (chain[0].type, chain[0].value) == ("Error", "Cannot set headers")
    assert [(f.function, f.filename, f.lineno) for f in chain[0].frames] == [
        ("render", "https://x.example/app.js", 4)
    ]


def test_java_stack_with_caused_by() -> None:
    chain, platform = parse_stack_text(
        'Exception in thread "main" java.lang.IllegalStateException: wrapper\n'
        "\tat com.acme.App.run(App.java:20)\n"
        "\tat com.acme.App.main(App.java:5)\n"
        'Caused by: java.lang.NullPointerException: Cannot invoke "String.length()"\n'
        "\tat com.acme.Util.len(Util.java:10)\n"
        "\tat java.base/java.util.Objects.requireNonNull(Objects.java:233)\n"
        "\tat com.acme.Native.call(Native Method)\n"
        "\t... 2 more\n"
    )
    assert platform == "java"
    assert [(e.type, e.module, e.value) for e in chain] == [
        ("NullPointerException", "java.lang", 'Cannot invoke "String.length()"'),
        ("IllegalStateException", "java.lang", "wrapper"),
    ]
    assert [(f.module, f.function, f.filename, f.lineno, f.in_app) for f in chain[0].frames] == [
        ("com.acme.Native", "call", None, None, True),
        ("java.util.Objects", "requireNonNull", "Objects.java", 233, False),
        ("com.acme.Util", "len", "Util.java", 10, True),
    ]
    assert [f.function for f in chain[1].frames] == ["main", "run"]


def test_single_line_and_non_stack_text() -> None:
    assert [(e.type, e.value) for e in parse_stack_text("Error: Connection timeout")[0]] == [
        ("Error", "Connection timeout")
    ]
    assert [(e.type, e.module, e.value) for e in parse_stack_text("java.io.IOException: disk full")[0]] == [
        ("IOException", "java.io", "disk full")
    ]
    assert [(e.type, e.value) for e in parse_stack_text("NullPointerException")[0]] == [
        ("NullPointerException", None)
    ]
    for text in ("", "   ", "Connection timeout", "Timeout", "see logs: server said no"):
        assert parse_stack_text(text) == ([], None), text


def test_stack_parsing_tolerates_windows_newlines() -> None:
    chain, _ = parse_stack_text(PYTHON_TRACE.replace("\n", "\r\n"))
    assert [e.type for e in chain] == ["ValueError", "CheckoutError"]
    assert chain[0].frames[0].context_line == "total = compute(cart)"
