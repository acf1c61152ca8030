"""Normalizers: a Sentry event payload, or the seed's own JSON, in; a `NormalizedEvent` out.

Pure functions, no I/O. Everything a client sends is untrusted: a field of the wrong type is
dropped, never raised on; strings are capped with a visible marker; non-finite floats, NUL
characters and lone surrogates (which PostgreSQL's jsonb and text refuse) are replaced, so the
result can always be stored. The seed's `stack` text is parsed into an exception chain when it
looks like a Python, JavaScript or Java stack trace.

Ingest scrubs the client's payload once (`redact_payload`) and passes the scrubbed copy as
`scrubbed`: the free-form trees (frame vars and source lines, request data/env/cookies, user, tags,
contexts, breadcrumbs, extra) are taken from it, only bounded on the way. Everything else is read
from the payload as sent: labels (ids, levels, release, exception types, frame locations), which
stay as sent, and the text this module reshapes or composes (messages formatted from their params,
exception values, fingerprint, transaction, the request line and headers, numbers turned into
text, a parsed stack trace), which `Redactor.redact_normalized` scrubs afterwards. A scrubbed copy
has the payload's shape (same keys, same list lengths), which is what lets the two be read side by
side.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.events.model import REQUEST_TREES, ExceptionInfo, Frame, NormalizedEvent
from app.events.stack_text import parse_stack_text
from app.events.text import (
    MAX_BREADCRUMBS,
    MAX_CONTEXT_LINES,
    MAX_DEPTH,
    MAX_EXCEPTIONS,
    MAX_FRAMES,
    MAX_FREE_STRING,
    MAX_ITEMS,
    MAX_LINE,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_PATH,
    MAX_STACK_TEXT,
    MAX_TAG_KEY,
    MAX_TAG_VALUE,
    MAX_TAGS,
    MAX_URL,
    TRUNCATION_MARKER,
    capped,
    clean_text,
    format_params,
    truncate,
)

FUTURE_TOLERANCE = timedelta(seconds=60)  # Relay's clock-drift allowance
MAX_PAST = timedelta(days=30)  # Relay's max_secs_in_past

_HEX32 = re.compile(r"[0-9a-f]{32}")
_LEVEL_ALIASES = {
    "fatal": "fatal",
    "critical": "fatal",
    "crit": "fatal",
    "emergency": "fatal",
    "emerg": "fatal",
    "alert": "fatal",
    "panic": "fatal",
    "error": "error",
    "err": "error",
    "exception": "error",
    "severe": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "information": "info",
    "informational": "info",
    "notice": "info",
    "log": "info",
    "debug": "debug",
    "trace": "debug",
    "verbose": "debug",
}


# ---------------------------------------------------------------------------------------------
# Small, total coercions: each returns a clean value or None, never raises.


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any, limit: int, *, numbers: bool = False) -> str | None:
    """A string field; numbers are stringified only where a client may send them (e.g. release)."""
    if isinstance(value, str):
        if len(value) <= limit and value.isascii() and "\x00" not in value:
            return value  # `_capped`'s fast path, inline: this runs for every field of every frame
        return truncate(clean_text(value), limit)
    if numbers and _finite_number(value):
        return truncate(str(value), limit)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _storable_text(text: str, limit: int) -> bool:
    """True when `text` can be stored as it is: within `limit`, no NUL, encodable as UTF-8."""
    if len(text) > limit or "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_safe(value: Any) -> Any:
    """Free-form client data made storable: bounded size and depth, finite numbers, clean strings.

    Data that needs no change, nearly all of it, is returned as it is rather than copied: the result
    may share objects with `value`, and neither must be changed afterwards.
    """
    return value if _is_json_safe(value, 0) else _json_copy(value, 0)


def _is_json_safe(value: Any, depth: int) -> bool:
    # A walk that allocates nothing; it runs for every node of the free-form parts of every event,
    # so the frequent leaves (short ASCII strings, ints, None) are tested inline, by exact type.
    cls = value.__class__
    if cls is dict:
        if depth >= MAX_DEPTH or len(value) > MAX_ITEMS:
            return False
        for key, item in value.items():
            if key.__class__ is not str:
                return False
            plain = len(key) <= MAX_NAME and key.isascii() and "\x00" not in key
            if not plain and not _storable_text(key, MAX_NAME):
                return False
            kind = item.__class__
            if kind is str:
                if not (
                    (len(item) <= MAX_FREE_STRING and item.isascii() and "\x00" not in item)
                    or _storable_text(item, MAX_FREE_STRING)
                ):
                    return False
            elif not (item is None or kind is int or kind is bool or _is_json_safe(item, depth + 1)):
                return False
        return True
    if cls is list:
        return (
            depth < MAX_DEPTH
            and len(value) <= MAX_ITEMS
            and all(item is None or item.__class__ is int or _is_json_safe(item, depth + 1) for item in value)
        )
    if cls is str:
        return _storable_text(value, MAX_FREE_STRING)
    if cls is float:
        return math.isfinite(value)
    return value is None or cls is int or cls is bool


def _json_copy(value: Any, depth: int) -> Any:
    """A storable copy of `value` (see `_json_safe`)."""
    if isinstance(value, str):
        return capped(value, MAX_FREE_STRING)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if depth >= MAX_DEPTH:
        return TRUNCATION_MARKER
    if isinstance(value, dict):
        items = value.items() if len(value) <= MAX_ITEMS else list(value.items())[:MAX_ITEMS]
        return {capped(str(k), MAX_NAME): _json_copy(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [_json_copy(v, depth + 1) for v in value[:MAX_ITEMS]]
    return capped(str(value), MAX_FREE_STRING)


def _mapping(value: Any) -> dict[str, Any]:
    return _json_safe(value) if isinstance(value, dict) else {}


def _pairs(value: Any) -> Iterable[tuple[Any, Any]]:
    """Items of an object, or of a list of [key, value] pairs (both are allowed for tags, headers)."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return [(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]
    return []


def _aligned(values: list[Any], scrubbed: Any) -> list[tuple[Any, Any]]:
    """Each item of a raw list beside its scrubbed counterpart (None when the shapes disagree)."""
    if isinstance(scrubbed, list) and len(scrubbed) == len(values):
        return list(zip(values, scrubbed, strict=True))
    return [(value, None) for value in values]


def _get(scrubbed: Any, key: str) -> Any:
    return scrubbed.get(key) if isinstance(scrubbed, dict) else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Fields shared by both normalizers.


def normalize_event_id(value: Any) -> str:
    """32 lowercase hex characters: the client's id (dashes allowed) or a fresh uuid4."""
    if isinstance(value, str):
        candidate = value.strip().replace("-", "").lower()
        if _HEX32.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


def parse_timestamp(value: Any, received_at: datetime) -> datetime:
    """An RFC 3339 string or epoch number as an aware datetime, clamped as `event_time` says."""
    return event_time(value, received_at)[0]


def event_time(value: Any, received_at: datetime) -> tuple[datetime, dict[str, Any] | None]:
    """The event's time, and a processing note when the client's could not be used as sent.

    A time more than MAX_PAST before we received the event, or more than FUTURE_TOLERANCE after,
    is a client clock gone wrong (or a default like 0001-01-01): it would pin the issue's "first
    seen" or "last seen" where no one looks, so the receive time stands in, as Relay does. The
    payload keeps what was sent; the note (Sentry's event `errors` shape) records the clamp.
    """
    received = _aware(received_at)
    parsed: datetime | None = None
    try:
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            value = float(value)
        if _finite_number(value) and value >= 0:
            # 1e11 seconds is the year 5138: anything larger is an epoch in milliseconds.
            parsed = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        elif isinstance(value, str) and value.strip():
            parsed = _aware(datetime.fromisoformat(value.strip().upper()))
    except (ValueError, OverflowError, OSError):
        parsed = None
    if value is None or (isinstance(value, str) and not value.strip()):
        return received, None
    if parsed is None:
        kind = "invalid_data"
    elif parsed > received + FUTURE_TOLERANCE:
        kind = "future_timestamp"
    elif parsed < received - MAX_PAST:
        kind = "past_timestamp"
    else:
        return parsed, None
    return received, {"type": kind, "name": "timestamp", "value": str(value)[:64]}


def normalize_level(value: Any) -> str:
    """One of LEVELS; unknown or missing means error, aliases like warn/critical are mapped."""
    if isinstance(value, str):
        return _LEVEL_ALIASES.get(value.strip().lower(), "error")
    if _finite_number(value):  # Python logging's numeric levels
        number = float(value)
        if number >= 50:
            return "fatal"
        if number >= 40:
            return "error"
        if number >= 30:
            return "warning"
        return "info" if number >= 20 else "debug"
    return "error"


def normalize_status_code(value: Any) -> int | None:
    """An HTTP status as int in 100..599, from an int, an integral float or a digit string."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    number = _int(value)
    return number if number is not None and 100 <= number <= 599 else None


def _message_parts(value: Any) -> tuple[str | None, str | None]:
    """(formatted message, template) from a string or a {formatted, message, params} object."""
    if isinstance(value, str) or _finite_number(value):
        return _text(value, MAX_MESSAGE, numbers=True), None
    if not isinstance(value, dict):
        return None, None
    formatted = _text(value.get("formatted"), MAX_MESSAGE)
    template = _text(value.get("message"), MAX_MESSAGE)
    if formatted is None and template is not None:
        formatted = capped(format_params(template, value.get("params")), MAX_MESSAGE)
    return formatted, template


def _lines(value: Any, first: bool) -> list[str]:
    """Source lines, at most MAX_CONTEXT_LINES: the first ones (post_context) or the last (pre_context)."""
    if not isinstance(value, list):
        return []
    kept = value[:MAX_CONTEXT_LINES] if first else value[-MAX_CONTEXT_LINES:]
    return [capped(v, MAX_LINE) if isinstance(v, str) else "" for v in kept]


def _frame(data: dict[str, Any], scrubbed: Any) -> Frame:
    get = data.get
    # Source lines are free-form text: from the scrubbed frame, which has the payload's shape.
    lines = scrubbed.get if isinstance(scrubbed, dict) else get
    return Frame(
        filename=_text(get("filename"), MAX_PATH),
        abs_path=_text(get("abs_path"), MAX_PATH),
        module=_text(get("module"), MAX_NAME),
        function=_text(get("function"), MAX_NAME),
        lineno=_int(get("lineno")),
        colno=_int(get("colno")),
        in_app=_bool(get("in_app")),
        context_line=_text(lines("context_line"), MAX_LINE),
        pre_context=_lines(lines("pre_context"), first=False),
        post_context=_lines(lines("post_context"), first=True),
        vars=_mapping(_get(scrubbed, "vars")),
    )


def _frames(stacktrace: Any, scrubbed: Any) -> list[Frame]:
    if not isinstance(stacktrace, dict) or not isinstance(stacktrace.get("frames"), list):
        return []
    pairs = [p for p in _aligned(stacktrace["frames"], _get(scrubbed, "frames")) if isinstance(p[0], dict)]
    if len(pairs) > MAX_FRAMES:  # dropped before they are built: 1 MiB of "{}," is 300,000 frames
        half = MAX_FRAMES // 2
        pairs = pairs[:half] + pairs[-half:]
    return [_frame(f, c) for f, c in pairs]


def _exception(data: dict[str, Any], scrubbed: Any) -> ExceptionInfo | None:
    mechanism = data.get("mechanism") if isinstance(data.get("mechanism"), dict) else {}
    exc = ExceptionInfo(
        type=_text(data.get("type"), MAX_NAME),
        value=_text(data.get("value"), MAX_MESSAGE, numbers=True),
        module=_text(data.get("module"), MAX_NAME),
        mechanism_type=_text(mechanism.get("type"), MAX_NAME),
        handled=_bool(mechanism.get("handled")),
        synthetic=mechanism.get("synthetic") is True,
        frames=_frames(data.get("stacktrace"), _get(scrubbed, "stacktrace")),
    )
    if exc.type is None and exc.value is None and not exc.frames:
        return None
    return exc


def _exceptions(value: Any, scrubbed: Any) -> list[ExceptionInfo]:
    values = value.get("values") if isinstance(value, dict) else value
    if not isinstance(values, list):
        return []
    scrubbed_values = scrubbed.get("values") if isinstance(scrubbed, dict) else scrubbed
    # Oldest first: when too long, drop the oldest causes and keep what was finally raised.
    pairs = _aligned(values, scrubbed_values)[-MAX_EXCEPTIONS:]
    chain = [_exception(v, c) for v, c in pairs if isinstance(v, dict)]
    return [exc for exc in chain if exc is not None]


def _tag_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return capped(str(value), MAX_TAG_VALUE)
    if isinstance(value, dict | list):
        return truncate(json.dumps(_json_safe(value), separators=(",", ":")), MAX_TAG_VALUE)
    return None


def _tags(value: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, raw in _pairs(value):
        name = _text(key, MAX_TAG_KEY, numbers=True)
        text = _tag_value(raw)
        if name and text is not None and len(tags) < MAX_TAGS:
            tags[name] = text
    return tags


def _breadcrumbs(value: Any) -> list[dict[str, Any]]:
    values = value.get("values") if isinstance(value, dict) else value
    if not isinstance(values, list):
        return []
    return [_json_safe(b) for b in values if isinstance(b, dict)][-MAX_BREADCRUMBS:]


def _fingerprint(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    parts = [_text(v, MAX_NAME, numbers=True) for v in value[:MAX_ITEMS]]
    kept = [p for p in parts if p is not None]
    return kept or None


def _request(value: Any, scrubbed: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    request: dict[str, Any] = {}
    method = _text(value.get("method"), 16)
    if method:
        request["method"] = method.strip().upper()
    url = _text(value.get("url"), MAX_URL)
    query = value.get("query_string")
    if url:
        base, sep, url_query = url.partition("?")
        request["url"] = base
        if sep and query is None:
            query = url_query
    if isinstance(query, str | list | dict):
        request["query_string"] = _json_safe(query)
    path = _text(value.get("path"), MAX_URL)
    if path is None and url:
        try:
            path = urlsplit(url).path or None
        except ValueError:
            path = None
    if path:
        request["path"] = path
    headers = {
        k: v
        for k, v in (
            (_text(k, MAX_NAME), _text(v, MAX_FREE_STRING, numbers=True))
            for k, v in _pairs(value.get("headers"))
        )
        if k and v is not None
    }
    if headers:
        request["headers"] = headers
    for key in REQUEST_TREES:
        tree = _get(scrubbed, key)
        if tree is not None:
            request[key] = _json_safe(tree)
    return request


def _status_from(data: dict[str, Any], tags: dict[str, str]) -> int | None:
    """contexts.response.status_code, then the usual tags, then request.status_code."""
    contexts = data.get("contexts")
    response = contexts.get("response") if isinstance(contexts, dict) else None
    candidates: list[Any] = [response.get("status_code") if isinstance(response, dict) else None]
    candidates += [tags.get(k) for k in ("http.status_code", "http.response.status_code", "status_code")]
    request = data.get("request")
    candidates.append(request.get("status_code") if isinstance(request, dict) else None)
    for candidate in candidates:
        status = normalize_status_code(candidate)
        if status is not None:
            return status
    return None


def _scalar_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "logger": _text(data.get("logger"), MAX_NAME),
        "transaction": _text(data.get("transaction"), MAX_NAME),
        "server_name": _text(data.get("server_name"), MAX_NAME),
        "release": _text(data.get("release"), 200, numbers=True),  # error_events.release is 200 wide
        "dist": _text(data.get("dist"), 64, numbers=True),
        "environment": _text(data.get("environment"), 64),
    }


def _scrubbed_side(data: dict[str, Any], scrubbed: Any) -> dict[str, Any]:
    if scrubbed is None:
        return data  # no scrubbed copy: the trees come from the payload as sent
    return scrubbed if isinstance(scrubbed, dict) else {}


class Normalizer(Protocol):
    """`normalize_sentry_event` or `normalize_seed_event`."""

    def __call__(
        self, data: dict[str, Any], *, received_at: datetime, scrubbed: dict[str, Any] | None = None
    ) -> NormalizedEvent: ...


# ---------------------------------------------------------------------------------------------
# Sentry events.


def normalize_sentry_event(
    data: dict[str, Any], *, received_at: datetime, scrubbed: dict[str, Any] | None = None
) -> NormalizedEvent:
    """A Sentry event payload (envelope `event` item or /store/ body) as a NormalizedEvent.

    `scrubbed`: `data` after `redact_payload`, where the free-form trees are taken from (see above).
    """
    if not isinstance(data, dict):
        data = {}
    scrubbed = _scrubbed_side(data, scrubbed)
    message, template = _message_parts(data.get("logentry"))
    if message is None and template is None:
        message, template = _message_parts(data.get("message"))
    tags = _tags(scrubbed.get("tags"))
    platform = _text(data.get("platform"), 64)
    timestamp, time_note = event_time(data.get("timestamp"), received_at)
    return NormalizedEvent(
        event_id=normalize_event_id(data.get("event_id")),
        timestamp=timestamp,
        errors=[time_note] if time_note else [],
        platform=platform.strip().lower() if platform and platform.strip() else "other",
        level=normalize_level(data.get("level")),
        message=message,
        message_template=template,
        exceptions=_exceptions(data.get("exception"), scrubbed.get("exception")),
        fingerprint=_fingerprint(data.get("fingerprint")),
        status_code=_status_from(data, tags),
        request=_request(data.get("request"), scrubbed.get("request")),
        user=_mapping(scrubbed.get("user")),
        tags=tags,
        contexts=_mapping(scrubbed.get("contexts")),
        breadcrumbs=_breadcrumbs(scrubbed.get("breadcrumbs")),
        extra=_mapping(scrubbed.get("extra")),
        sdk=_mapping(data.get("sdk")),
        **_scalar_fields(data),
    )


# ---------------------------------------------------------------------------------------------
# The seed's JSON: {project_key, message, stack, method, path, status_code, timestamp, ...}.

_SEED_FIELDS = {
    "project_key",
    "message",
    "stack",
    "method",
    "path",
    "status_code",
    "timestamp",
    "event_id",
    "fingerprint",
    "tags",
    "user",
    "logger",
    "transaction",
    "server_name",
    "release",
    "dist",
    "environment",
}


def normalize_seed_event(
    data: dict[str, Any], *, received_at: datetime, scrubbed: dict[str, Any] | None = None
) -> NormalizedEvent:
    """The seed's JSON event as a NormalizedEvent; `stack` text becomes an exception when parseable.

    `scrubbed`: `data` after `redact_payload`; `user` and `extra` (the fields the seed does not
    know, and the stack text as sent) are taken from it. Exceptions are parsed from `stack` as sent.
    """
    if not isinstance(data, dict):
        data = {}
    scrubbed = _scrubbed_side(data, scrubbed)
    status = normalize_status_code(data.get("status_code"))
    level = "error" if status is None or status >= 500 else "warning" if status >= 400 else "info"
    request: dict[str, Any] = {}
    method = _text(data.get("method"), 16)
    if method and method.strip():
        request["method"] = method.strip().upper()
    path = _text(data.get("path"), MAX_URL)
    if path:
        request["path"] = path
        request["url"] = path
    exceptions: list[ExceptionInfo] = []
    platform = "other"
    extra = {k: _json_safe(v) for k, v in list(scrubbed.items())[:MAX_ITEMS] if k not in _SEED_FIELDS}
    stack = data.get("stack")
    if isinstance(stack, str) and stack.strip():
        exceptions, parsed_platform = parse_stack_text(stack)
        platform = parsed_platform or platform
        # The text as sent stays available to analysis, parsed or not.
        scrubbed_stack = scrubbed.get("stack")
        if isinstance(scrubbed_stack, str):
            extra["stack"] = capped(scrubbed_stack, MAX_STACK_TEXT)
    timestamp, time_note = event_time(data.get("timestamp"), received_at)
    return NormalizedEvent(
        event_id=normalize_event_id(data.get("event_id")),
        timestamp=timestamp,
        errors=[time_note] if time_note else [],
        platform=platform,
        level=level,
        message=_text(data.get("message"), MAX_MESSAGE, numbers=True),
        exceptions=exceptions,
        fingerprint=_fingerprint(data.get("fingerprint")),
        status_code=status,
        request=request,
        user=_mapping(scrubbed.get("user")),
        tags=_tags(scrubbed.get("tags")),
        extra=extra,
        **_scalar_fields(data),
    )


__all__ = [
    "Normalizer",
    "event_time",
    "normalize_event_id",
    "normalize_level",
    "normalize_seed_event",
    "normalize_sentry_event",
    "normalize_status_code",
    "parse_timestamp",
]
