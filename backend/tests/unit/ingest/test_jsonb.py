"""dumps_jsonb: what goes into a JSONB column is always text PostgreSQL accepts."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from app.jsonb import dumps_jsonb


def test_keys_that_are_not_strings_become_strings_at_any_depth() -> None:
    value = {"extra": [{1: "one", None: "none", 2.5: "half"}], "ok": {"a": 1}}
    assert json.loads(dumps_jsonb(value)) == {
        "extra": [{"1": "one", "null": "none", "2.5": "half"}],
        "ok": {"a": 1},
    }


def test_nan_infinity_and_nul_are_made_storable() -> None:
    text = dumps_jsonb({"ratio": math.nan, "big": math.inf, "name": "a\x00b"})
    assert json.loads(text) == {"ratio": None, "big": None, "name": "a\ufffdb"}


def test_objects_json_does_not_know_are_written_as_text() -> None:
    when = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    assert json.loads(dumps_jsonb({"at": when, "raw": b"x".hex(), "obj": object})) == {
        "at": "2024-01-15T12:00:00+00:00",
        "raw": "78",
        "obj": "<class 'object'>",
    }
