"""Secret and PII scrubbing for events, applied before storing and again before an LLM sees them.

Two mechanisms, as in Sentry's data scrubbing:

- by key: anything under a sensitive key (password, token, cookie, authorization, ..., see
  `patterns.SENSITIVE_SUBSTRINGS`/`SENSITIVE_WORDS`) becomes "[Filtered]": strings and numbers do;
  booleans, None and strings that say nothing ("", "null", "None", a marker) stay; containers keep
  their shape and have every leaf filtered. `[name, value]` pairs count as a key and its value;
- by value: every other string is scanned for secrets (PEM blocks, JWTs, URL passwords, key=value
  pairs with a sensitive key, Bearer/Basic credentials, vendor and AWS keys, card numbers, emails,
  IP addresses), which are replaced by a marker that keeps the text readable (`patterns.MARKERS`).

Choices worth knowing: a bare dotted quad such as "1.2.3.4" is taken for an IPv4 address (a
version number cannot be told apart; "v1.2.3.4" and 3- or 5-part versions survive); loopback and
unspecified addresses (127.x, 0.0.0.0, ::1, ::) are kept because they identify no one and help
diagnose connection errors; an unquoted Cookie/Authorization header value is filtered to the end
of its line. Dict keys and non-string scalars outside sensitive keys are never changed, tuples
come back as lists, and other objects (bytes, datetimes) pass through untouched.

Redaction is idempotent: text that changed is redacted again until it no longer changes (strings
over 64 KiB get a single pass, which keeps hostile megabyte strings well under a second).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

from app.config import get_settings
from app.config import split_setting as split_setting  # re-exported: app.privacy's public names
from app.events.model import REQUEST_TREES, ExceptionInfo, Frame, NormalizedEvent
from app.events.text import format_params
from app.privacy import patterns as p

_KEY_CACHE_LIMIT = 10_000
# Most strings of an event repeat across events (source lines, paths, headers, breadcrumbs), so
# short ones are remembered with their redacted form; bounded to a few MB.
_TEXT_CACHE_LIMIT = 8_192
_TEXT_CACHE_MAX_CHARS = 512
_MAX_ROUNDS = 4
_FIXPOINT_MAX_CHARS = 65_536
# What a key name says about the value under it.
_PLAIN, _VERSION, _SENSITIVE, _LINE = 0, 1, 2, 3
_CONTAINERS = (dict, list, tuple)
# Nesting walked recursively before the iterative walk takes over (well under the recursion limit).
_RECURSION_BUDGET = 64
_D = TypeVar("_D")
# Fields of `user` that identify a person; `id` is kept so events of one user still group.
_USER_PII_KEYS = frozenset({"username", "name", "fullname", "firstname", "lastname", "phone", "phonenumber"})


class Redactor:
    """Scrubs secrets and PII out of strings and JSON-like data; configure once, reuse everywhere."""

    def __init__(self, extra_patterns: Iterable[str] = (), extra_fields: Iterable[str] = ()) -> None:
        self._extra_patterns: list[re.Pattern[str]] = []
        for source in extra_patterns:
            if not source.strip():
                continue
            try:
                self._extra_patterns.append(re.compile(source))
            except re.error as exc:
                raise ValueError(f"invalid redaction pattern {source!r}: {exc}") from exc
        self._extra_fields = tuple(c for c in (p.key_forms(f)[0] for f in extra_fields) if c)
        stems = p.KEY_STEM_PATTERN
        if self._extra_fields:
            # "my_field" in text must hit the pre-check whichever separators it is written with.
            stems += "|" + "|".join("[-_.]?".join(re.escape(ch) for ch in f) for f in self._extra_fields)
        # Searched in the lowercased text: an IGNORECASE search is ten times slower.
        self._stem_re = re.compile(stems)
        self._key_cache: dict[str, int] = {}
        self._text_cache: dict[str, str] = {}
        self._previous_texts: dict[str, str] = {}  # the generation before, see redact_text

    @classmethod
    def from_settings_values(cls, extra_patterns: list[str], extra_fields: list[str]) -> Redactor:
        """Build from the REDACT_EXTRA_PATTERNS / REDACT_EXTRA_FIELDS settings (already split)."""
        return cls(extra_patterns=extra_patterns, extra_fields=extra_fields)

    # --- keys ------------------------------------------------------------------------------------

    def is_sensitive_key(self, key: str) -> bool:
        """True when values under this key name must be filtered whatever they look like."""
        return self._key_kind(key) >= _SENSITIVE

    def _key_kind(self, key: str) -> int:
        kind = self._key_cache.get(key)
        if kind is not None:
            return kind
        compact, words = p.key_forms(key)
        if compact in p.LINE_KEYS:
            kind = _LINE
        elif (
            any(s in compact for s in p.SENSITIVE_SUBSTRINGS)
            or any(w in p.SENSITIVE_WORDS for w in words)
            or any(f in compact for f in self._extra_fields)
        ):
            kind = _SENSITIVE
        elif words and words[-1] == "version":
            kind = _VERSION
        else:
            kind = _PLAIN
        if len(self._key_cache) >= _KEY_CACHE_LIMIT:
            self._key_cache.clear()  # keys come from clients; never let the cache grow unbounded
        self._key_cache[key] = kind
        return kind

    # --- free text -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """Return `text` with every secret and PII value found in it replaced by a marker."""
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        out = self._previous_texts.get(text)
        if out is None:
            out = self._redact_fixpoint(text)
        if len(text) <= _TEXT_CACHE_MAX_CHARS:
            if len(self._text_cache) >= _TEXT_CACHE_LIMIT:
                # Texts come from clients, so the cache is bounded: two generations of at most the
                # limit each. Unique ids fill a generation within a few hundred events; the strings
                # that recur (source lines, paths, headers) are found in the previous generation and
                # move to the new one instead of being scrubbed again after every turnover.
                self._previous_texts = self._text_cache
                self._text_cache = {}
            self._text_cache[text] = out
        return out

    def _redact_fixpoint(self, text: str) -> str:
        if not self._extra_patterns and p.PLAIN_ID_RE.fullmatch(text):
            return text  # an id or a timestamp: nothing to find in it (patterns.PLAIN_ID_RE)
        out = self._redact_once(text)
        # One pass can expose a match to a pattern that ran before it (a marker now stands where
        # a word character blocked a boundary), so text that changed gets another pass, until
        # nothing changes. That makes redaction idempotent; hostile megabyte strings get one pass.
        rounds = 1
        while out != text and len(out) <= _FIXPOINT_MAX_CHARS and rounds < _MAX_ROUNDS:
            text, out = out, self._redact_once(out)
            rounds += 1
        return out

    def _redact_once(self, text: str) -> str:
        if len(text) < 3:
            return text  # nothing we look for fits; the shortest is an IPv6 address like "1::"
        s = text
        # Order matters: a PEM body or a JWT must go before the key=value pass cuts it into
        # pieces, and URL passwords before the email pass reads "user:pass@host" as an address.
        if "PRIVATE KEY" in s:
            s = p.PEM_RE.sub(p.PRIVATE_KEY, s)
        if "eyJ" in s:
            s = p.JWT_RE.sub(p.JWT, s)
        has_at = "@" in s
        if has_at and "://" in s:
            s = p.URL_USERINFO_RE.sub(_url_password, s)
        low = s.lower()
        if ("=" in s or ":" in s) and self._stem_re.search(low):
            s = self._redact_key_values(s)
        if p.TOKEN_TRIGGER_RE.search(s):
            s = p.VENDOR_TOKEN_RE.sub(_vendor_token, s)
            s = p.AWS_KEY_ID_RE.sub(p.AWS_KEY, s)
        if p.FOUR_DIGITS_RE.search(s):
            s = _redact_cards(s)
        if has_at:
            s = p.EMAIL_RE.sub(p.EMAIL, s)
        if "::" in s or s.count(":") >= 7:
            s = p.IPV6_RE.sub(_ipv6, s)
        if p.DOT_DIGIT_RE.search(s):
            s = p.IPV4_RE.sub(_ipv4, s)
        if "bearer" in low or "basic" in low:
            s = p.AUTH_SCHEME_RE.sub(_auth_scheme, s)
        for pattern in self._extra_patterns:
            s = pattern.sub(_extra_match, s)
        return s

    def _redact_key_values(self, s: str) -> str:
        # A loop rather than one big regex: the key is checked in Python (same rules as dict
        # keys), and a key that is not sensitive must not swallow text another key may follow.
        out: list[str] = []
        last = pos = 0
        while True:
            m = p.TEXT_KEY_RE.search(s, pos)
            if m is None:
                break
            kind = self._key_kind(m.group("key"))
            if kind < _SENSITIVE:
                pos = m.end("key")
                continue
            v = (p.LINE_VALUE_RE if kind == _LINE else p.TEXT_VALUE_RE).match(s, m.end())
            if v is None:
                pos = m.end()
                continue
            out.append(s[last : v.start()])
            out.append(_filtered_value(v))
            last = pos = v.end()
        if not out:
            return s
        out.append(s[last:])
        return "".join(out)

    # --- structures ------------------------------------------------------------------------------

    def redact_value(self, obj: Any) -> Any:
        """Return a redacted copy of JSON-like data (dicts, lists, tuples, strings, numbers)."""
        if not isinstance(obj, _CONTAINERS):
            return self._scalar(obj, False)
        return self._copy(obj, False, _RECURSION_BUDGET)

    def _copy(self, src: Any, forced: bool, budget: int) -> Any:
        # Recursion is the fast way through ordinary, shallow data (this runs for every node of every
        # event); past the budget a sub-tree goes to the iterative walk, which no depth or cycle breaks.
        if budget == 0:
            return self._copy_iteratively(src, forced)
        text_cache, text, scalar = self._text_cache, self.redact_text, self._scalar
        if isinstance(src, dict):
            key_cache = self._key_cache
            out: Any = {}
            for key, value in src.items():
                kind = key_cache.get(key)
                if kind is None:
                    kind = self._key_kind(key) if isinstance(key, str) else _PLAIN
                if kind == _VERSION and not forced and _is_version(value):
                    out[key] = value  # "1.1.1.2" under os.version is a version, not an address
                    continue
                force = forced or kind >= _SENSITIVE
                # The usual leaves first, by exact type: a short string found in the cache, and
                # numbers, booleans and None, which stay as they are unless filtered.
                cls = value.__class__
                if not force and cls is str:
                    redacted = text_cache.get(value)
                    out[key] = redacted if redacted is not None else text(value)
                elif not force and (cls is int or cls is bool or value is None):
                    out[key] = value
                elif isinstance(value, _CONTAINERS):
                    out[key] = self._copy(value, force, budget - 1)
                else:
                    out[key] = scalar(value, force)
            return out
        # [name, value] pairs are how Sentry sends headers and query strings. The name is judged as
        # redacted (out[0]), so a second pass judges it the same way.
        is_pair = len(src) == 2 and isinstance(src[0], str)
        out = []
        for i, value in enumerate(src):
            force = forced or (i == 1 and is_pair and self.is_sensitive_key(out[0]))
            if not force and isinstance(value, str):
                redacted = text_cache.get(value)
                out.append(redacted if redacted is not None else text(value))
            elif isinstance(value, _CONTAINERS):
                out.append(self._copy(value, force, budget - 1))
            else:
                out.append(scalar(value, force))
        return out

    def _copy_iteratively(self, obj: Any, forced: bool) -> Any:
        # An explicit stack instead of recursion; `memos` (one for plain, one for filtered copies,
        # by id) keep shared sub-objects shared and make a cycle terminate.
        root: Any = {} if isinstance(obj, dict) else []
        memos: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        memos[forced][id(obj)] = root
        stack: list[tuple[Any, Any, bool]] = [(obj, root, forced)]
        while stack:
            src, dst, forced = stack.pop()
            is_dict = isinstance(src, dict)
            if not is_dict:
                is_pair = len(src) == 2 and isinstance(src[0], str)
            for key, value in src.items() if is_dict else enumerate(src):
                if is_dict:
                    kind = self._key_kind(key) if isinstance(key, str) else _PLAIN
                    if kind == _VERSION and not forced and _is_version(value):
                        dst[key] = value
                        continue
                    force = forced or kind >= _SENSITIVE
                else:
                    force = forced or (key == 1 and is_pair and self.is_sensitive_key(dst[0]))
                if isinstance(value, _CONTAINERS):
                    memo = memos[force]
                    out = memo.get(id(value))
                    if out is None:
                        out = memo[id(value)] = {} if isinstance(value, dict) else []
                        stack.append((value, out, force))
                else:
                    out = self._scalar(value, force)
                if is_dict:
                    dst[key] = out
                else:
                    dst.append(out)
        return root

    def _scalar(self, value: Any, force: bool) -> Any:
        if isinstance(value, str):
            if force:
                return value if value.lower() in p.HARMLESS_VALUES else p.FILTERED
            return self.redact_text(value)
        if force and isinstance(value, (int, float)) and not isinstance(value, bool):
            return p.FILTERED
        return value

    # --- events ----------------------------------------------------------------------------------

    def redact_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """Redact a Sentry `user` object: email, IP and names go, `id` stays (text-scanned)."""
        out = self.redact_value(user)
        for key, value in out.items():
            compact = p.key_forms(key)[0] if isinstance(key, str) else ""
            if not isinstance(value, str) or not value:
                continue
            if compact == "email":
                out[key] = p.EMAIL
            elif compact in _USER_PII_KEYS:
                out[key] = p.FILTERED
        return out

    def redact_event(self, event: NormalizedEvent) -> NormalizedEvent:
        """Return a copy of `event` with secrets and PII removed from every free-form field.

        Identifiers and labels (event_id, timestamp, level, platform, logger, release, dist,
        environment, server_name, sdk, exception types and frame locations) are kept as they are.
        """
        text = self._optional_text
        return _replace(
            event,
            message=text(event.message),
            message_template=text(event.message_template),
            exceptions=[self._exception(e) for e in event.exceptions],
            fingerprint=None if event.fingerprint is None else [text(f) for f in event.fingerprint],
            transaction=text(event.transaction),
            request=self.redact_value(event.request),
            user=self.redact_user(event.user),
            tags=self.redact_value(event.tags),
            contexts=self.redact_value(event.contexts),
            breadcrumbs=self.redact_value(event.breadcrumbs),
            extra=self.redact_value(event.extra),
        )

    def redact_normalized(self, event: NormalizedEvent) -> None:
        """Finish scrubbing, in place, an event just normalized with `scrubbed=redact_payload(payload)`.

        Normalization takes the free-form trees (frame vars, request data/env/cookies, user,
        contexts, breadcrumbs, extra) from the scrubbed payload; they are left alone here. The rest
        it reads from the payload as sent, and may reshape: a message formatted from its params
        (["password", "hunter2"] into "%s=%s"), numbers turned into text, a URL split into path and
        query, a stack trace parsed into exceptions, strings cut to length. Those fields are
        scrubbed here as `redact_event` scrubs them, so grouping reads the very values it always
        did (the logging template aside: app/events/prepare.py); they are few and short, mostly
        found in the text cache. Labels are kept, as `redact_event` keeps them.
        """
        text = self._optional_text
        event.message = text(event.message)
        event.message_template = text(event.message_template)
        for exc in event.exceptions:
            exc.value = text(exc.value)
            for frame in exc.frames:
                frame.context_line = text(frame.context_line)
                frame.pre_context = [text(line) for line in frame.pre_context]
                frame.post_context = [text(line) for line in frame.post_context]
        if event.fingerprint is not None:
            event.fingerprint = [text(f) for f in event.fingerprint]
        event.transaction = text(event.transaction)
        request = event.request
        if request:
            shaped = self.redact_value({k: v for k, v in request.items() if k not in REQUEST_TREES})
            event.request = {k: request[k] if k in REQUEST_TREES else shaped[k] for k in request}
        event.tags = self.redact_value(event.tags)

    def redact_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Return a redacted copy of a raw client payload (what is stored in `error_events.payload`)."""
        out = self.redact_value(payload)
        if not isinstance(out, dict):
            return out
        if isinstance(out.get("user"), dict):
            out["user"] = self.redact_user(out["user"])
        modules = payload.get("modules")
        if isinstance(modules, dict):
            # Sentry's `modules` maps package names to versions; "1.1.1.2" there is no address.
            out["modules"] = {k: v if _is_version(v) else out["modules"][k] for k, v in modules.items()}
        for key in ("logentry", "message"):
            if isinstance(out.get(key), dict):
                self._filter_composed_params(out[key])
        return out

    def _filter_composed_params(self, entry: dict[str, Any]) -> None:
        """Filter the params of a (scrubbed) logentry that form a secret only once formatted.

        Each param was scrubbed on its own, but "retry with %s=%s" and ["token", "t0k3n"] make
        "token=t0k3n": a param whose text the formatted message loses to scrubbing is filtered.
        """
        template, params = entry.get("message"), entry.get("params")
        if not isinstance(template, str) or not params or not isinstance(params, list | dict):
            return
        formatted = format_params(template, params)
        scrubbed = self.redact_text(formatted)
        if scrubbed == formatted:
            return

        def lost(value: Any) -> bool:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                return False
            text = str(value)
            return bool(text) and text in formatted and text not in scrubbed

        if isinstance(params, list):
            entry["params"] = [p.FILTERED if lost(v) else v for v in params]
        else:
            entry["params"] = {k: p.FILTERED if lost(v) else v for k, v in params.items()}

    def _optional_text(self, value: Any) -> Any:
        return self.redact_text(value) if isinstance(value, str) else value

    def _exception(self, exc: ExceptionInfo) -> ExceptionInfo:
        return _replace(
            exc, value=self._optional_text(exc.value), frames=[self._frame(f) for f in exc.frames]
        )

    def _frame(self, frame: Frame) -> Frame:
        text = self.redact_text
        return _replace(
            frame,
            context_line=self._optional_text(frame.context_line),
            pre_context=[text(line) if isinstance(line, str) else line for line in frame.pre_context],
            post_context=[text(line) if isinstance(line, str) else line for line in frame.post_context],
            vars=self.redact_value(frame.vars),
        )


def _replace(obj: _D, **changes: Any) -> _D:
    """dataclasses.replace without re-running __init__ (ours have no __post_init__): per frame it counts."""
    copy = object.__new__(type(obj))
    copy.__dict__.update(obj.__dict__, **changes)
    return copy


# --- replacement callbacks ---------------------------------------------------------------------


def _url_password(m: re.Match[str]) -> str:
    if not m.group("password"):
        return m.group(0)
    return f"{m.group('prefix')}{p.FILTERED}@"


def _filtered_value(v: re.Match[str]) -> str:
    for quoted, q in (("dq", '"'), ("sq", "'"), ("eq", '\\"')):
        body = v.group(quoted)
        if body is not None:
            inner = body[len(q) : -len(q)]
            return body if inner.lower() in p.HARMLESS_VALUES else f"{q}{p.FILTERED}{q}"
    raw = v.group("raw")
    if raw.strip().lower() in p.HARMLESS_VALUES:
        return v.group(0)
    return f"{v.group('scheme') or ''}{p.FILTERED}"


def _auth_scheme(m: re.Match[str]) -> str:
    token = m.group("token")
    if m.group("scheme")[:6].lower() == "bearer":
        # A real bearer token has a digit or is long; "bearer authentication" is prose.
        secret = len(token) >= 20 or any(c.isdigit() for c in token)
    else:
        secret = p.basic_credentials(token)
    return f"{m.group('scheme')}{p.FILTERED}" if secret else m.group(0)


def _vendor_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if token.startswith("sk-") and not any(c.isdigit() for c in token):
        return token
    return p.TOKEN


def _redact_cards(s: str) -> str:
    # A loop rather than `sub`: when a candidate fails the checks, the search resumes at its
    # second group, so leading digit groups ("ref 2345 4111 1111 1111 1111") cannot hide a card.
    out: list[str] = []
    checked: dict[str, int] = {}  # repeated candidates (hostile input) are checked once
    last = pos = 0
    search = p.CARD_RE.search
    while (m := search(s, pos)) is not None:
        candidate = m.group(0)
        n = checked.get(candidate)
        if n is None:
            n = checked[candidate] = p.card_prefix_length(candidate)
        if n:
            out.append(s[last : m.start()])
            out.append(p.CARD)
            last = pos = m.start() + n
        else:
            pos = m.start() + len(candidate) - len(candidate.lstrip("0123456789"))
    if not out:
        return s
    out.append(s[last:])
    return "".join(out)


def _is_version(value: Any) -> bool:
    return isinstance(value, str) and p.VERSION_RE.fullmatch(value) is not None


def _ipv6(m: re.Match[str]) -> str:
    candidate = m.group(0)
    return p.IP if p.is_public_ipv6(candidate) else candidate


def _ipv4(m: re.Match[str]) -> str:
    candidate = m.group(0)
    # IPV4_RE already checked the octets; only loopback and 0.0.0.0 are kept.
    return candidate if candidate.startswith("127.") or candidate == "0.0.0.0" else p.IP


def _extra_match(m: re.Match[str]) -> str:
    if "secret" in m.re.groupindex and m.group("secret") is not None:
        start, end = m.span("secret")
        base = m.start()
        whole = m.group(0)
        return whole[: start - base] + p.FILTERED + whole[end - base :]
    return p.FILTERED


# --- settings and the default instance ---------------------------------------------------------


_default: Redactor | None = None
_default_source: tuple[tuple[str, ...], tuple[str, ...]] | None = None
_configured = False


def get_redactor() -> Redactor:
    """The process-wide redactor: built-in rules plus REDACT_EXTRA_PATTERNS / REDACT_EXTRA_FIELDS.

    Rebuilt when those settings change (tests clear the settings cache), unless
    `configure_redactor` set it explicitly.
    """
    global _default, _default_source
    if _configured and _default is not None:
        return _default
    settings = get_settings()
    source = (tuple(settings.redact_extra_patterns), tuple(settings.redact_extra_fields))
    if _default is None or source != _default_source:
        _default = Redactor.from_settings_values(list(source[0]), list(source[1]))
        _default_source = source
    return _default


def configure_redactor(extra_patterns: list[str], extra_fields: list[str]) -> Redactor:
    """Replace the process-wide redactor with one that applies these extras instead of the settings'."""
    global _default, _configured
    _default = Redactor.from_settings_values(extra_patterns, extra_fields)
    _configured = True
    return _default


def redact_text(text: str) -> str:
    """`Redactor.redact_text` on the default redactor."""
    return get_redactor().redact_text(text)


def redact_value(obj: Any) -> Any:
    """`Redactor.redact_value` on the default redactor."""
    return get_redactor().redact_value(obj)


def redact_event(event: NormalizedEvent) -> NormalizedEvent:
    """`Redactor.redact_event` on the default redactor."""
    return get_redactor().redact_event(event)


def redact_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """`Redactor.redact_payload` on the default redactor."""
    return get_redactor().redact_payload(payload)
