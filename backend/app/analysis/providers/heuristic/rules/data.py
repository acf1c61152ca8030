"""Rules for data that does not parse or convert: JSON, serialization, text encodings and input validation."""

from __future__ import annotations

import re

from app.analysis.providers.heuristic.registry import register
from app.analysis.providers.heuristic.rule import Evidence, Rule, Sig


def _body_hint(ev: Evidence, facts: dict[str, str]) -> dict[str, str]:
    """`body_hint`, `body_hint_long`: what the unparsable body was, when the event shows it."""
    lowered = ev.text.lower()
    if facts.get("token", "").startswith("<") or "<!doctype" in lowered or "<html" in lowered:
        return {
            "body_hint": "the body was HTML, not JSON",
            "body_hint_long": (
                "The body starts with `<`: it was HTML (typically an error or login page from a proxy, load "
                "balancer or the upstream itself), not JSON."
            ),
        }
    if re.search(r"\(char 0\)|position 0\b|Unexpected end of JSON input|line 1 column 1 ", ev.text, re.I):
        return {
            "body_hint": "the body was empty or not JSON at all",
            "body_hint_long": (
                "Parsing failed at the very first character, so the body was empty or not JSON at all."
            ),
        }
    return {}


register(
    Rule(
        id="bad-json",
        category="bad_json",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(type=r"JSONDecodeError", confidence=0.9),
            Sig(
                text=r"Unexpected token '?(?P<token>[^\s',]+)'?,?[^\n]*(?:in JSON|is not valid JSON)",
                confidence=0.9,
            ),
            Sig(text=r"Unexpected end of JSON input|\bis not valid JSON\b", confidence=0.9),
            Sig(type=r"SyntaxError", text=r"\bin JSON at position \d+|^JSON\.parse: ", confidence=0.9),
            Sig(text=r"invalid character '(?P<token>[^'\n])' looking for beginning of value"),
            Sig(text=r"'(?P<token>[^'\n]{1,8})' is an invalid start of a value"),
            Sig(
                text=r"Unexpected character \('(?P<token>[^'\n])' \(code \d+\)\)|Unrecognized token "
                r"'(?P<token2>[^'\n]+)'"
            ),
            Sig(
                text=r"JSONDecodeError|JSON::ParserError|JsonParseException|JSON\.parse|unexpected end of"
                r" JSON input"
            ),
            Sig(
                text=r"Expecting (?:value|property name enclosed in double quotes|',' delimiter): line "
                r"\d+ column \d+"
                r"|Extra data: line \d+ column \d+|Unterminated string starting at|Invalid control "
                r"character at",
                confidence=0.8,
            ),
        ),
        summary="A JSON payload could not be parsed[[ — {body_hint}]]",
        root_cause=(
            "The text handed to the JSON parser is not valid JSON.[[ {body_hint_long}]] Common sources: an "
            "upstream call that returned an HTML error page or an empty body (the status code was not "
            "checked before parsing), a request body sent with the wrong `Content-Type` or truncated, or a "
            "stored value written in another format (a Python repr, single quotes)."
        ),
        fix=(
            "1. At {culprit}, log the status code, `Content-Type` and the first bytes of the body (redacted) "
            "to see what actually arrived.\n"
            "2. Check the HTTP status and `Content-Type` before parsing a response, and raise a clear "
            "upstream error otherwise.\n"
            "3. {bad_json_answer}"
        ),
        derive=_body_hint,
        trusted=frozenset({"body_hint", "body_hint_long"}),
    ),
    Rule(
        id="serialization",
        category="serialization",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"Object of type '?(?P<type_name>[\w.]+)'? is not JSON serializable", confidence=0.9),
            Sig(
                text=r"Converting circular structure to JSON|Do not know how to serialize a "
                r"(?P<type_name>BigInt)",
                confidence=0.9,
            ),
            Sig(text=r"(?:Can't|cannot) pickle (?P<type_name>[^\n:]+)"),
            Sig(text=r"No serializer found for class (?P<type_name>[\w.$]+)"),
            Sig(text=r"json: unsupported (?:type|value): (?P<type_name>\S+)"),
            Sig(text=r"is not JSON serializable|PicklingError|EncodeError|SerializationException"),
            Sig(type=r"PicklingError|EncodeError|SerializationException|InvalidDefinitionException"),
        ),
        summary="A value[[ of type {type_name}]] could not be serialised",
        root_cause=(
            "The code tried to encode an object the serializer does not support (e.g. `datetime`, `Decimal`, "
            "`UUID`, `set`, bytes, ORM instances, `BigInt`) or a structure with a reference cycle. This "
            "often appears when a new field is added to a response or task payload, or an ORM object is "
            "returned or queued instead of plain data."
        ),
        fix=(
            "1. Convert the value explicitly before encoding (ISO 8601 strings for dates, `str` for UUID and "
            "Decimal, a schema/serializer for models) or use an encoder that supports it (FastAPI "
            "`jsonable_encoder`, `orjson`).\n"
            "2. Pass ids and plain dicts to task queues, not objects.\n"
            "3. Add a test that serialises this payload."
        ),
    ),
    Rule(
        id="encoding",
        category="encoding",
        severity="medium",
        confidence=0.85,
        match=(
            Sig(text=r"'(?P<codec>[\w-]+)' codec can't (?:decode|encode)"),
            Sig(text=r"invalid byte sequence for encoding \"(?P<codec>[^\"\n]+)\""),
            Sig(
                text=r"UnicodeDecodeError|UnicodeEncodeError|MalformedInputException|incompatible character "
                r"encodings|invalid UTF-8|Invalid byte sequence"
            ),
        ),
        summary="Text could not be decoded/encoded[[ with codec {codec}]]",
        root_cause=(
            "Bytes were decoded with the wrong character set (e.g. a Latin-1 or binary file read as UTF-8), "
            "or text was encoded into a charset that cannot represent it (often an ASCII default from a "
            "missing locale such as `LANG=C` in a container)."
        ),
        fix=(
            "1. Find the source of the bytes at {culprit} (upload, file, upstream response) and decode "
            "with its "
            'real encoding, or `errors="replace"` where exact text does not matter.\n'
            '2. Pass `encoding="utf-8"` explicitly when opening files; set `LANG=C.UTF-8` / '
            "`PYTHONIOENCODING` in the image.\n"
            "3. Treat binary files as bytes, not text."
        ),
    ),
    Rule(
        id="validation",
        category="validation",
        severity="medium",
        confidence=0.6,
        match=(
            Sig(
                type=r"ValidationError",
                text=r"validation errors? for (?P<model>\w+)(?:\n(?P<field>[\w.\[\]]+))?",
                confidence=0.8,
            ),
            Sig(text=r"invalid literal for int\(\) with base \d+: '(?P<input>[^'\n]*)'", confidence=0.8),
            Sig(text=r"could not convert string to float: '(?P<input>[^'\n]*)'", confidence=0.8),
            Sig(text=r"NumberFormatException: For input string: \"(?P<input>[^\"\n]*)\"", confidence=0.8),
            Sig(
                text=r"strconv\.\w+: parsing \"(?P<input>[^\"\n]*)\": (?:invalid syntax|value out of range)",
                confidence=0.8,
            ),
            Sig(
                text=r"time data '(?P<input>[^'\n]*)' does not match format|Invalid isoformat string: "
                r"'(?P<input2>[^'\n]*)'",
                confidence=0.8,
            ),
            Sig(text=r"Validation failed: (?P<detail>[^\n]+)", confidence=0.8),
            Sig(
                type=r"ValueError|IllegalArgumentException|ArgumentError|ValidationError|InvalidArgument\w*"
                r"|RangeError|Argument(?:OutOfRange)?Exception|FormatException|DomainException",
                confidence=0.5,
            ),
            Sig(text=r"\bValueError\b|IllegalArgumentException|\bValidationError\b", confidence=0.5),
        ),
        summary="Input failed validation or conversion: {error}",
        root_cause=(
            "A value did not have the expected format or range[[ (input {input})]][[ (field {field} of "
            "{model})]], and the exception escaped as a server error. Either client input is parsed without "
            "validation at the API boundary, or internal data (database rows, upstream responses, config) "
            "holds an unexpected value."
        ),
        fix=(
            "1. Validate and parse input where it enters (a schema) and {reject_input}.\n"
            "2. If the value came from your own data or a dependency, find where the bad value was "
            "written or returned.\n"
            "3. Add a test with this input."
        ),
    ),
)
