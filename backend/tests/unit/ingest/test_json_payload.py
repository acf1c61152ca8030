"""Guarded JSON parsing of event payloads: size, depth, NaN, and non-object documents."""

from __future__ import annotations

import math
import time

import pytest

from app.ingest.envelope import parse_json_payload
from app.ingest.limits import MAX_EVENT_BYTES, MAX_JSON_DEPTH, BadPayload, PayloadTooLarge


def parse(raw: bytes, **kwargs) -> dict:
    return parse_json_payload(raw, max_bytes=kwargs.pop("max_bytes", MAX_EVENT_BYTES), **kwargs)


def test_plain_event() -> None:
    assert parse(b'{"event_id":"abc","level":"error","tags":[["a","b"]]}') == {
        "event_id": "abc",
        "level": "error",
        "tags": [["a", "b"]],
    }


def test_nan_and_infinities_are_tolerated() -> None:
    parsed = parse(b'{"a":NaN,"b":Infinity,"c":-Infinity,"d":[1.5,NaN]}')
    assert math.isnan(parsed["a"]) and parsed["b"] == math.inf and parsed["c"] == -math.inf
    assert math.isnan(parsed["d"][1])


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[1,2]", "an array"),
        (b'"text"', "a string"),
        (b"42", "a number"),
        (b"null", "null"),
        (b"true", "a boolean"),
    ],
)
def test_top_level_must_be_an_object(raw: bytes, kind: str) -> None:
    with pytest.raises(BadPayload, match=f"expected a JSON object, got {kind}"):
        parse(raw)


@pytest.mark.parametrize(
    "raw", [b"", b"  \n", b"{", b'{"a":}', b"{'a':1}", b'{"a":1} trailing', b'{"a":"\xff\xfe"}']
)
def test_invalid_json(raw: bytes) -> None:
    with pytest.raises(BadPayload):
        parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"exception":{"values":' + b"[" * 100_000,
    ],
)
def test_hundred_thousand_deep_nesting_is_refused_quickly(raw: bytes) -> None:
    started = time.process_time()  # CPU time: the work done, whatever else the machine runs
    with pytest.raises(BadPayload, match=r"nested 10000[0-2] levels deep, the limit is 128"):
        parse(raw)
    assert time.process_time() - started < 1.0


def test_depth_limit_boundary() -> None:
    assert parse(b'{"a":{"b":[1]}}', max_depth=3) == {"a": {"b": [1]}}
    with pytest.raises(BadPayload, match="nested 4 levels deep, the limit is 3"):
        parse(b'{"a":{"b":[{}]}}', max_depth=3)


def test_default_depth_limit_is_the_configured_one() -> None:
    nested = b'{"a":' * (MAX_JSON_DEPTH - 1) + b"{}" + b"}" * (MAX_JSON_DEPTH - 1)
    assert parse(nested)
    with pytest.raises(BadPayload, match=f"the limit is {MAX_JSON_DEPTH}"):
        parse(b'{"a":' + nested + b"}")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    raw = b'{"a":"' + b"[{" * 1000 + b'","b":"say \\"[[[\\" and \\\\","c":["\\\\"]}'
    parsed = parse(raw, max_depth=2)
    assert parsed["b"] == 'say "[[[" and \\'
    assert parsed["c"] == ["\\"]


def test_size_limit() -> None:
    raw = b'{"pad":"' + b"x" * 100 + b'"}'
    assert parse(raw, max_bytes=len(raw))
    with pytest.raises(
        PayloadTooLarge, match=f"JSON payload is {len(raw)} bytes, the limit is {len(raw) - 1}"
    ):
        parse(raw, max_bytes=len(raw) - 1)


def test_invalid_json_names_its_position() -> None:
    with pytest.raises(BadPayload, match="invalid JSON") as caught:
        parse(b'{"a": 1,\n "b": oops}')
    assert caught.value.causes and "line" in caught.value.causes[0]
