"""JSON text for JSONB columns, shared by the API and the ingest digester (which imports no ORM)."""

from __future__ import annotations

import orjson


def dumps_jsonb(value: object) -> str:
    """JSON for JSONB columns: NaN/Infinity become null, and NUL characters (which PostgreSQL's
    jsonb refuses) become U+FFFD, so no client payload can turn a store into a 500."""
    try:
        raw = orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:
        # A dict key that is not a string (data parsed from JSON never has one). orjson's option
        # for them costs every dump half as much again, so it is only asked for when needed.
        raw = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)
    return raw.decode().replace("\\u0000", "\\ufffd")
