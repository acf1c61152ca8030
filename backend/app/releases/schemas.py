"""The releases list's page cursor: the (first seen, version) of the last release of a page."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import orjson


def encode_cursor(after: tuple[datetime, str]) -> str:
    """An opaque url-safe string for the `cursor` parameter."""
    raw = orjson.dumps([after[0].isoformat(), after[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The position, or None for anything malformed (the list then starts at its newest release)."""
    if not cursor:
        return None
    try:
        seen, version = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        parsed = datetime.fromisoformat(seen)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None
    # PostgreSQL text holds no NUL; a release is at most 200 characters (error_events.release).
    if not isinstance(version, str) or "\x00" in version or len(version) > 200 or parsed.tzinfo is None:
        return None
    return parsed, version
