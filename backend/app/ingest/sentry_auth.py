"""Finding the project key a Sentry SDK authenticates with.

SDKs send the public key in one of four places: the `X-Sentry-Auth` header, `Authorization: Sentry …`,
the `sentry_key` query parameter, or the `dsn` of the envelope header. This module only reads and
cross-checks them; looking the key up (and answering "unknown project" exactly like "wrong key") is the
caller's job, so nothing here can reveal whether a project exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache, wraps
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urlsplit

from starlette.datastructures import Headers

from app.ingest.limits import IngestError

# Relay issues 32 hex digits; accept any token of URL-safe characters so other key formats still work,
# but nothing that could smuggle separators or whitespace into a lookup.
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
# The auth scheme name, matched case-insensitively, with any whitespace around it.
_PREFIX_RE = re.compile(r"\s*sentry(?:\s+|$)", re.IGNORECASE)


class AuthError(IngestError):
    """Missing, malformed or conflicting credentials: answer 401."""

    status_code: ClassVar[int] = 401


class KeyRejected(IngestError):
    """A well-formed key that does not open this project (unknown project or wrong key): 403."""

    status_code: ClassVar[int] = 403


def extract_sentry_key(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    envelope_dsn: str | None,
    *,
    project_id: str | None = None,
) -> str:
    """Return the public key the request authenticates with; raise AuthError if absent or inconsistent.

    When `project_id` (the one in the URL) is given, a `dsn` in the envelope header must name it too.
    """
    found: dict[str, str] = {}
    auth = _header(headers, "x-sentry-auth")
    if auth is not None:
        found["X-Sentry-Auth"] = _key_from_auth_value(auth, "X-Sentry-Auth")
    authorization = _header(headers, "authorization")
    if authorization is not None and _PREFIX_RE.match(authorization):
        found["Authorization"] = _key_from_auth_value(authorization, "Authorization")
    query_key = query.get("sentry_key")
    if query_key is not None:
        found["sentry_key query parameter"] = _checked_key(query_key.strip(), "sentry_key query parameter")
    if envelope_dsn:  # an empty dsn is as good as none
        found["envelope dsn"] = _key_from_dsn(envelope_dsn, project_id)
    return _single_key(found)


def dsn_project_id(dsn: str) -> str | None:
    """Return the project id (last path segment) of a DSN, or None if it has none."""
    try:
        path = urlsplit(dsn.strip()).path
    except ValueError:
        return None
    segments = [segment for segment in path.split("/") if segment]
    return segments[-1] if segments else None


def _single_key(found: dict[str, str]) -> str:
    if not found:
        raise AuthError("missing authentication: no sentry_key in headers, query string or envelope dsn")
    keys = set(found.values())
    if len(keys) > 1:
        raise AuthError(f"conflicting sentry keys in {', '.join(sorted(found))}")
    return keys.pop()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, Headers):  # case-insensitive already, and without decoding every header
        return headers.get(name)
    # A plain dict is not case-insensitive: compare lowercased names.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


_CACHED_MAX_CHARS = 512
_Parse = TypeVar("_Parse", bound=Callable[..., str])


def _parsed_once(parse: _Parse) -> _Parse:
    """`parse`, remembering its answers for the last 1,024 distinct short texts.

    An SDK sends the same auth header and DSN with every event. Texts longer than _CACHED_MAX_CHARS
    are parsed every time, so the cache stays small; a refusal raises afresh (exceptions are not
    cached).
    """
    cached = lru_cache(maxsize=1024)(parse)

    @wraps(parse)
    def parse_once(text: str, *args: Any) -> str:
        return cached(text, *args) if len(text) <= _CACHED_MAX_CHARS else parse(text, *args)

    return cast(_Parse, parse_once)


@_parsed_once
def _key_from_auth_value(value: str, where: str) -> str:
    # The "Sentry " scheme is optional in X-Sentry-Auth (the header name says it all); Authorization
    # values only reach here when they carry it, other schemes (Basic, Bearer) belong to proxies.
    prefix = _PREFIX_RE.match(value)
    text = value[prefix.end() :] if prefix else value
    pairs = _auth_pairs(text)
    key = pairs.get("key")
    if key is None:
        raise AuthError(f"malformed {where} header: no sentry_key")
    return _checked_key(key, f"{where} header")


def _auth_pairs(text: str) -> dict[str, str]:
    """Parse `sentry_version=7, sentry_key=abc` into {"version": "7", "key": "abc"}."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        name = name.strip().lower().removeprefix("sentry_")
        pairs[name] = value.strip().strip('"')
    return pairs


def _key_from_dsn(dsn: object, project_id: str | None) -> str:
    if not isinstance(dsn, str):  # it comes straight from client JSON
        raise AuthError("malformed dsn in envelope header: not a string")
    return _key_from_dsn_text(dsn, project_id)


@_parsed_once
def _key_from_dsn_text(dsn: str, project_id: str | None) -> str:
    try:
        parts = urlsplit(dsn.strip())
        username = parts.username
    except ValueError as exc:
        raise AuthError("malformed dsn in envelope header") from exc
    if not parts.scheme or not parts.hostname or not username:
        raise AuthError("malformed dsn in envelope header: expected scheme://public_key@host/project_id")
    dsn_project = dsn_project_id(dsn)
    if dsn_project is None:
        raise AuthError("malformed dsn in envelope header: no project id")
    if project_id is not None and dsn_project != str(project_id):
        raise AuthError("the envelope dsn names a different project than the URL")
    return _checked_key(username, "envelope dsn")


def _checked_key(key: str, where: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise AuthError(f"malformed sentry_key in {where}")
    return key
