"""Sentry envelope parsing and the guarded JSON parsing of event payloads.

Envelope format (develop.sentry.dev, "Envelopes"; parsed the way Relay does):

    Envelope = Headers { "\\n" Item } [ "\\n" ]
    Item     = Headers "\\n" Payload

Each headers part is one line of JSON. An item with a `length` header has exactly that many payload
bytes (binary, newlines allowed), followed by "\\n" or the end of the body; without `length` the payload
runs to the next "\\n" or the end. Like Relay (whose JSON reader skips leading whitespace) we accept
blank lines before a headers line, and we also accept extra trailing newlines, which some SDKs send.
Unknown item types are kept; skipping them is the caller's choice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import sub
from typing import Any

import orjson

from app.ingest.limits import MAX_HEADERS_LINE_BYTES, MAX_JSON_DEPTH, BadPayload, PayloadTooLarge

_BLANK = b" \t\r\n"
_NEWLINE = 0x0A

# A JSON string, or an unterminated one running to the end: every quote matches, so one pass is linear.
# Possessive quantifiers keep the regex engine from stacking backtrack points on long escaped strings.
_JSON_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
# translate() tables: drop everything but brackets, then map openers to 2 and closers to 0.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
# Paired surrogate escapes are joined into one code point by the JSON decoder; any left are unpaired.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class EnvelopeItem:
    """One envelope item: its headers (always with a string `type`) and its raw payload."""

    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass
class Envelope:
    """A parsed envelope: the envelope headers and the items in body order."""

    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)

    def event_item(self) -> EnvelopeItem | None:
        """Return the first item of type `event`, or None."""
        return next((item for item in self.items if item.type == "event"), None)


def parse_envelope(body: bytes) -> Envelope:
    """Parse an (already decompressed) envelope body; raise BadPayload with a precise reason if malformed."""
    start = _skip_blank(body, 0)
    if start == len(body):
        raise BadPayload("empty envelope: missing envelope headers")
    end = _line_end(body, start)
    envelope = Envelope(headers=_parse_headers_line(body, start, end, "envelope headers"))
    pos = _skip_blank(body, end + 1)
    while pos < len(body):
        item, pos = _parse_item(body, pos, index=len(envelope.items))
        envelope.items.append(item)
        pos = _skip_blank(body, pos)
    return envelope


def parse_json_payload(raw: bytes, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """Parse a JSON object (NaN/Infinity allowed); PayloadTooLarge over max_bytes, else BadPayload."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"JSON payload is {len(raw)} bytes, the limit is {max_bytes}")
    return _loads_object(raw, "JSON payload", max_depth)


def _parse_item(body: bytes, pos: int, *, index: int) -> tuple[EnvelopeItem, int]:
    """Parse the item whose headers line starts at `pos`; return it and the offset after it."""
    line_end = _line_end(body, pos)
    headers = _parse_headers_line(body, pos, line_end, f"item {index} headers")
    item_type = headers.get("type")
    if not isinstance(item_type, str) or not item_type:
        raise BadPayload(f"item {index} headers: missing or non-string 'type'")
    shown_type = _shown(item_type)
    start = min(line_end + 1, len(body))  # the last headers line may end the body without a newline
    length = headers.get("length")
    if length is None:
        end = _line_end(body, start)
    else:
        end = start + _checked_length(length, index, shown_type)
        _require_payload_end(body, start, end, index, shown_type)
    return EnvelopeItem(type=item_type, headers=headers, payload=body[start:end]), end + 1


def _checked_length(length: object, index: int, item_type: str) -> int:
    # bool is an int subclass in Python; `"length": true` is not a length.
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise BadPayload(
            f"item {index} ({item_type}): 'length' must be a non-negative integer, got {_shown(repr(length))}"
        )
    return length


def _require_payload_end(body: bytes, start: int, end: int, index: int, item_type: str) -> None:
    if end > len(body):
        raise BadPayload(
            f"item {index} ({item_type}): 'length' is {end - start} bytes "
            f"but only {len(body) - start} bytes remain in the envelope"
        )
    if end < len(body) and body[end] != _NEWLINE:
        raise BadPayload(
            f"item {index} ({item_type}): expected a newline after its {end - start}-byte payload, "
            f"found {body[end : end + 1]!r}"
        )


def _parse_headers_line(body: bytes, start: int, end: int, what: str) -> dict[str, Any]:
    # Checked before slicing: a body without newlines would otherwise be copied whole.
    if end - start > MAX_HEADERS_LINE_BYTES:
        raise BadPayload(f"{what}: line is {end - start} bytes, the limit is {MAX_HEADERS_LINE_BYTES}")
    # Tolerate "\r\n" line ends and trailing spaces; the JSON itself never contains a raw newline.
    return _loads_object(body[start:end].rstrip(_BLANK), what, MAX_JSON_DEPTH)


def _shown(text: str) -> str:
    """A short, ASCII-only rendering of client data for error messages (they end up in HTTP headers)."""
    text = ascii(text)[1:-1]
    return text if len(text) <= 40 else text[:37] + "..."


def _line_end(body: bytes, start: int) -> int:
    end = body.find(b"\n", start)
    return len(body) if end == -1 else end


def _skip_blank(body: bytes, pos: int) -> int:
    while pos < len(body) and body[pos] in _BLANK:
        pos += 1
    return pos


def _loads_object(raw: bytes, what: str, max_depth: int) -> dict[str, Any]:
    """Parse JSON that must be an object, after an iterative depth check; NaN/Infinity tolerated."""
    if not raw.strip():
        raise BadPayload(f"{what}: empty, expected a JSON object")
    # Fewer opening brackets than the limit (strings included) cannot nest deeper: skip the scan.
    depth = _nesting_depth(raw) if raw.count(b"{") + raw.count(b"[") > max_depth else 0
    if depth > max_depth:
        raise BadPayload(f"{what}: JSON nested {depth} levels deep, the limit is {max_depth}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as fast_error:
        value = _loads_tolerant(raw, what, fast_error)
    if not isinstance(value, dict):
        raise BadPayload(f"{what}: expected a JSON object, got {_json_type(value)}")
    return value


def _loads_tolerant(raw: bytes, what: str, fast_error: Exception) -> Any:
    # orjson rejects NaN/Infinity, which Python SDKs can emit; the stdlib accepts them. The depth check
    # already ran, so the stdlib's recursive parser cannot overflow.
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadPayload(f"{what}: invalid JSON", [str(fast_error)]) from exc
    return _without_lone_surrogates(value)


def _without_lone_surrogates(value: Any) -> Any:
    """The stdlib decodes an unpaired `\\ud800` escape into a string no UTF-8 encoder (or PostgreSQL)
    takes; like a lenient UTF-8 decoder, replace such halves with U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value


def _nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting in `raw`, computed without recursion and without a Python-level byte loop."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    steps = brackets.translate(_BRACKET_STEPS)  # 2 for "[{", 0 for "]}"; minus 1 gives +1 / -1
    return max(accumulate(map(sub, steps, repeat(1))), default=0)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"
