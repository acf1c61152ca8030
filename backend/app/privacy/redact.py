"""Secret and PII scrubbing for events: one policy, applied before anything is stored and again
before an event is sent to an LLM.

What is removed, everywhere (the stored payload, the normalized event, the prompt):

- by KEY (table 1, `patterns.SENSITIVE_SUBSTRINGS` / `SENSITIVE_WORDS`, less the allow-list
  `HARMLESS_KEYS` / `HARMLESS_LAST_WORDS`): anything under a key such as password, pw, pwd,
  passcode, secret, token, key, sig, hmac, auth, credential, session, cookie, private, signing_key
  becomes "[Filtered]". Strings and numbers do; booleans, None and strings that say nothing ("",
  "null", "None", a marker) stay; containers keep their shape and have every leaf filtered. A key
  is found as a dict key, as the first item of a two-item list (`["password", "x"]`), as a
  command-line flag item (`[..., "--password", "x"]`), and in text as `key=value`, `key: value`,
  `key%3Dvalue` (query strings, form bodies, logs, source lines, reprs, JSON, headers),
  `--key value`, `the password is X`, and mysql's `-pX`;
- by VALUE (table 2, in `patterns.py`): PEM private keys, JWTs, passwords in connection strings,
  Bearer/Basic credentials, provider keys (Stripe, GitHub, GitLab, Slack, Google, SendGrid,
  Twilio, OpenAI, Anthropic, ...), AWS key ids and bare secret access keys, card numbers (any
  separator, or a JSON integer; Luhn-checked), IBANs (mod-97-checked), US SSNs, and email
  addresses in free text. Each is replaced by a marker that keeps the text readable
  (`patterns.MARKERS`). Dict keys are scanned as well as values: a JWT used as a tag name goes.

What is kept, because users need it to debug:

- network addresses in text ("could not connect to server at 172.18.0.3:5432"), versions
  ("Chrome/120.0.0.0", "client version 2.4.1.0"), ids, hashes, timestamps, ports, durations;
- the event's user (id, email, username, ip_address, ...) as the SDK sent it, as Sentry does. The
  SCRUB_USER_DATA setting (or a project's `scrub_user_data`, which overrides it) removes the user
  and the client's address before storage; STORE_CLIENT_IP=false replaces the client's address
  (user.ip_address, REMOTE_ADDR, X-Forwarded-For, X-Real-IP, ...: `patterns.USER_ADDRESS_KEYS`)
  by "[ip]". These are the only places an address counts as personal data.

The LLM prompt gets the stored event scrubbed again with today's rules (`redact_for_prompt`),
and never the user: the user object and the client's address are dropped, and the user's email,
username, name and address are replaced wherever they occur in the event's text.

One set of rules: normalization takes the free-form trees and source lines from the scrubbed
payload (app/events/normalize.py), and `redact_normalized` scrubs what it composed itself with the
same functions, so the stored payload, the normalized event and the prompt agree.

Redaction is idempotent: text that changed is redacted again until it no longer changes (strings
over 64 KiB get a single pass, which keeps hostile megabyte strings well under a second). It runs
for every ingested event, so short strings and keys are cached with their redacted form, and each
value pattern runs only after a cheap pre-check says it could match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
_PLAIN, _SENSITIVE, _LINE = 0, 1, 2
_CONTAINERS = (dict, list, tuple)
# Nesting walked recursively before the iterative walk takes over (well under the recursion limit).
_RECURSION_BUDGET = 64
_D = TypeVar("_D")


@dataclass(frozen=True)
class UserDataPolicy:
    """What of the event's user may be stored: the user object, and the client's network address."""

    keep_user: bool = True
    keep_client_ip: bool = True


KEEP_USER_DATA = UserDataPolicy()


def user_data_policy(project_scrub_user_data: bool | None = None) -> UserDataPolicy:
    """The policy for a project: its `scrub_user_data` if set (not None), else SCRUB_USER_DATA;
    STORE_CLIENT_IP=false drops the client's address even when the user is kept."""
    settings = get_settings()
    scrub = settings.scrub_user_data if project_scrub_user_data is None else project_scrub_user_data
    return UserDataPolicy(keep_user=not scrub, keep_client_ip=not scrub and settings.store_client_ip)


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
        # key -> (what the key says about its value, the key itself scrubbed)
        self._key_cache: dict[Any, tuple[int, Any]] = {}
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
        return self._key_entry(key)[0]

    def _key_entry(self, key: Any) -> tuple[int, Any]:
        entry = self._key_cache.get(key)
        if entry is not None:
            return entry
        entry = (self._judge_key(key), self.redact_text(key)) if isinstance(key, str) else (_PLAIN, key)
        if len(self._key_cache) >= _KEY_CACHE_LIMIT:
            self._key_cache.clear()  # keys come from clients; never let the cache grow unbounded
        self._key_cache[key] = entry
        return entry

    def _judge_key(self, key: str) -> int:
        compact, words = p.key_forms(key)
        if compact in p.LINE_KEYS:
            return _LINE
        if any(f in compact for f in self._extra_fields):
            return _SENSITIVE
        if compact in p.HARMLESS_KEYS or (len(words) > 1 and words[-1] in p.HARMLESS_LAST_WORDS):
            return _PLAIN
        if any(s in compact for s in p.SENSITIVE_SUBSTRINGS) or any(w in p.SENSITIVE_WORDS for w in words):
            return _SENSITIVE
        return _PLAIN

    def _names_secret(self, item: Any) -> bool:
        """True for a list item that names a sensitive key: "password", "--password"."""
        return (
            isinstance(item, str)
            and p.KEY_NAME_RE.fullmatch(item) is not None
            and self.is_sensitive_key(item.lstrip("-"))
        )

    # --- free text -------------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """Return `text` with every secret and PII value found in it replaced by a marker."""
        cached = self._text_cache.get(text)
        if cached is not None:
            return cached
        out = self._previous_texts.get(text)
        if out is None:
            out = self._redact_fixpoint(text, emails=True)
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

    def redact_secrets(self, text: str) -> str:
        """`redact_text` less the email rule: for the user's own identity fields, kept as sent."""
        return self._redact_fixpoint(text, emails=False)

    def _redact_fixpoint(self, text: str, *, emails: bool) -> str:
        if not self._extra_patterns and p.PLAIN_ID_RE.fullmatch(text):
            return text  # an id or a timestamp: nothing to find in it (patterns.PLAIN_ID_RE)
        out = self._redact_once(text, emails)
        # One pass can expose a match to a pattern that ran before it (a marker now stands where
        # a word character blocked a boundary), so text that changed gets another pass, until
        # nothing changes. That makes redaction idempotent; hostile megabyte strings get one pass.
        rounds = 1
        while out != text and len(out) <= _FIXPOINT_MAX_CHARS and rounds < _MAX_ROUNDS:
            text, out = out, self._redact_once(out, emails)
            rounds += 1
        return out

    def _redact_once(self, text: str, emails: bool) -> str:
        if len(text) < 4:
            return text  # nothing we look for fits: the shortest is "pw=x"
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
        if self._stem_re.search(low):
            s = self._redact_keyed(s, low)
        if p.TOKEN_TRIGGER_RE.search(s):
            s = p.VENDOR_TOKEN_RE.sub(_vendor_token, s)
            s = p.AWS_KEY_ID_RE.sub(p.AWS_KEY, s)
        if len(s) >= 40:
            s = p.AWS_SECRET_RE.sub(_aws_secret, s)
        if p.FOUR_DIGITS_RE.search(s):
            s = _redact_cards(s)
            if p.IBAN_TRIGGER_RE.search(s):
                s = _redact_ibans(s)
            if "-" in s:
                s = p.SSN_RE.sub(p.SSN, s)
        if emails and has_at:
            s = p.EMAIL_RE.sub(p.EMAIL, s)
        if "bearer" in low or "basic" in low:
            s = p.AUTH_SCHEME_RE.sub(_auth_scheme, s)
        for pattern in self._extra_patterns:
            s = pattern.sub(_extra_match, s)
        return s

    def _redact_keyed(self, s: str, low: str) -> str:
        """The passes that find a value by the key written before it (the text names a key stem)."""
        if "=" in s or ":" in s or "%3" in s:
            s = self._redact_key_values(s)
        if "--" in s:
            s = p.CLI_FLAG_RE.sub(self._cli_flag, s)
        if " is " in low or " was " in low:
            s = p.PROSE_SECRET_RE.sub(_prose_secret, s)
        if "-p" in s and ("mysql" in low or "mariadb" in low) and p.MYSQL_CLIENT_RE.search(s):
            s = p.MYSQL_PASSWORD_RE.sub(_mysql_password, s)
        return s

    def _cli_flag(self, m: re.Match[str]) -> str:
        if not self.is_sensitive_key(m.group("key")) or m.group("value").lower() in p.HARMLESS_VALUES:
            return m.group(0)
        return m.group(0)[: m.start("value") - m.start()] + p.FILTERED

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
                entry = key_cache.get(key)
                kind, new_key = entry if entry is not None else self._key_entry(key)
                force = forced or kind >= _SENSITIVE
                # The usual leaves first, by exact type: a short string found in the cache, and
                # numbers, booleans and None, which stay as they are unless filtered.
                cls = value.__class__
                if not force and cls is str:
                    redacted = text_cache.get(value)
                    out[new_key] = redacted if redacted is not None else text(value)
                elif not force and (cls is bool or value is None or (cls is int and value < p.CARD_INT_MIN)):
                    out[new_key] = value
                elif isinstance(value, _CONTAINERS):
                    out[new_key] = self._copy(value, force, budget - 1)
                else:
                    out[new_key] = scalar(value, force)
            return out
        out = []
        n = len(src)
        first = src[0] if n else None
        # A mysql command line as a list: its `-pX` item is a password (the cheap test first).
        argv = first.__class__ is str and ("mysql" in first or "mariadb" in first) and _is_mysql_argv(src)
        for i, value in enumerate(src):
            force = forced
            if i and not forced:
                prev = out[-1]
                # `[name, value]` pairs and `--flag value` (the name as redacted, so a second pass
                # judges it the same way); see _follows_key_name.
                if prev.__class__ is str and (n == 2 or prev.startswith("--")):
                    force = self._names_secret(prev)
            if not force and value.__class__ is str:
                if argv and _mysql_password_item(value):
                    out.append("-p" + p.FILTERED)
                    continue
                redacted = text_cache.get(value)
                out.append(redacted if redacted is not None else text(value))
            elif isinstance(value, _CONTAINERS):
                out.append(self._copy(value, force, budget - 1))
            else:
                out.append(scalar(value, force))
        return out

    def _follows_key_name(self, out: list[Any], i: int, length: int) -> bool:
        """Whether list item i is the value of a key named by the item before it (as redacted):
        `[name, value]` pairs, as Sentry sends headers and query strings, and `--flag value` in
        an argv list. A sentence or a source line is no key name (patterns.KEY_NAME_RE)."""
        prev = out[i - 1]
        if prev.__class__ is not str or not (length == 2 or prev[:2] == "--"):
            return False
        return self._names_secret(prev)

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
            argv = not is_dict and _is_mysql_argv(src)
            for key, value in src.items() if is_dict else enumerate(src):
                if is_dict:
                    kind, new_key = self._key_entry(key)
                    force = forced or kind >= _SENSITIVE
                else:
                    force = forced or (key > 0 and self._follows_key_name(dst, key, len(src)))
                if isinstance(value, _CONTAINERS):
                    memo = memos[force]
                    out = memo.get(id(value))
                    if out is None:
                        out = memo[id(value)] = {} if isinstance(value, dict) else []
                        stack.append((value, out, force))
                elif (
                    argv
                    and not force
                    and isinstance(value, str)
                    and value.startswith("-p")
                    and len(value) > 2
                ):
                    out = "-p" + p.FILTERED
                else:
                    out = self._scalar(value, force)
                if is_dict:
                    dst[new_key] = out
                else:
                    dst.append(out)
        return root

    def _scalar(self, value: Any, force: bool) -> Any:
        if isinstance(value, str):
            if force:
                return value if value.lower() in p.HARMLESS_VALUES else p.FILTERED
            return self.redact_text(value)
        if isinstance(value, bool):
            return value
        if force and isinstance(value, (int, float)):
            return p.FILTERED
        if isinstance(value, int) and value >= p.CARD_INT_MIN and p.is_card_number(value):
            return p.CARD  # a card number sent as a JSON number
        return value

    # --- the user and the client's address ------------------------------------------------------

    def redact_user(self, user: dict[str, Any], policy: UserDataPolicy = KEEP_USER_DATA) -> dict[str, Any]:
        """A Sentry `user` object as stored: its identity fields as sent (less any secret in them),
        the rest scrubbed as any data is; nothing when the policy drops the user."""
        if not policy.keep_user:
            return {}
        out = self.redact_value(user)
        for key, value in user.items():
            if not isinstance(key, str) or not isinstance(value, str) or not value:
                continue
            compact = p.key_forms(key)[0]
            if compact == "ipaddress":
                out[key] = value if policy.keep_client_ip or value == "{{auto}}" else p.IP
            elif compact in p.USER_IDENTITY_KEYS:
                out[key] = self.redact_secrets(value)
        return out

    # --- events ----------------------------------------------------------------------------------

    def redact_event(
        self, event: NormalizedEvent, policy: UserDataPolicy = KEEP_USER_DATA
    ) -> NormalizedEvent:
        """Return a copy of `event` with secrets removed from every free-form field, by the rules
        the stored payload was scrubbed with.

        Identifiers and labels (event_id, timestamp, level, platform, logger, release, dist,
        environment, server_name, sdk, exception types and frame locations) are kept as they are.
        """
        text = self._optional_text
        request = self.redact_value(event.request)
        _replace_client_addresses(request, keep=policy.keep_client_ip)
        return _replace(
            event,
            message=text(event.message),
            message_template=text(event.message_template),
            exceptions=[self._exception(e) for e in event.exceptions],
            fingerprint=self._fingerprint(event.fingerprint),
            transaction=text(event.transaction),
            request=request,
            user=self.redact_user(event.user, policy),
            tags=self.redact_value(event.tags),
            contexts=self.redact_value(event.contexts),
            breadcrumbs=self.redact_value(event.breadcrumbs),
            extra=self.redact_value(event.extra),
        )

    def redact_for_prompt(self, event: NormalizedEvent, title: str) -> tuple[NormalizedEvent, str]:
        """The event and its issue's title as an LLM may see them: scrubbed by the same rules as
        the stored event (today's rules, so a stored event is caught up), without the user object
        or the client's address, and with the user's email, username, name and address replaced
        wherever they occur in the text."""
        identity = _identity_pattern(event.user, event.request, names=True, addresses=True)
        out = self.redact_event(event, UserDataPolicy(keep_user=False, keep_client_ip=False))
        title = self.redact_text(title)
        if identity is None:
            return out, title
        return _hide_identity(out, identity), _hide(title, identity)

    def redact_normalized(
        self, event: NormalizedEvent, policy: UserDataPolicy = KEEP_USER_DATA, payload: Any = None
    ) -> NormalizedEvent:
        """Finish scrubbing, in place, an event just normalized with `scrubbed=redact_payload(payload)`.

        Normalization takes the free-form trees (frame vars and source lines, request data/env/
        cookies, user, tags, contexts, breadcrumbs, extra) from the scrubbed payload; they are left
        alone here. The rest it reads from the payload as sent, and may reshape: a message formatted
        from its params (["password", "hunter2"] into "%s=%s"), numbers turned into text, a URL
        split into path and query, a stack trace parsed into exceptions, strings cut to length.
        Those fields are scrubbed here by the functions that scrubbed the payload, so grouping reads
        the very values it always did (the logging template aside: app/events/prepare.py). Source
        lines are scrubbed again (a parsed stack trace has no scrubbed copy; a scrubbed line is
        found in the text cache). Labels are kept, as `redact_event` keeps them.

        When the policy removes user data, what `payload` (as sent) says of the user is also
        replaced in the event's text, as `redact_payload` replaced it; the event is returned.
        """
        text = self._optional_text
        event.message = text(event.message)
        event.message_template = text(event.message_template)
        for exc in event.exceptions:
            exc.value = text(exc.value)
            for frame in exc.frames:
                frame.context_line = text(frame.context_line)
                frame.pre_context = self.redact_value(frame.pre_context)
                frame.post_context = self.redact_value(frame.post_context)
        event.fingerprint = self._fingerprint(event.fingerprint)
        event.transaction = text(event.transaction)
        request = event.request
        if request:
            shaped = self.redact_value({k: v for k, v in request.items() if k not in REQUEST_TREES})
            event.request = {k: request[k] if k in REQUEST_TREES else shaped[k] for k in request}
            _replace_client_addresses(event.request, keep=policy.keep_client_ip)
        event.tags = self.redact_value(event.tags)
        if not policy.keep_user:
            event.user = {}
        identity = _payload_identity(payload, policy)
        return event if identity is None else _hide_identity(event, identity)

    def redact_payload(
        self, payload: dict[str, Any], policy: UserDataPolicy = KEEP_USER_DATA
    ) -> dict[str, Any]:
        """Return a redacted copy of a raw client payload (what is stored in `error_events.payload`)."""
        out = self.redact_value(payload)
        if not isinstance(out, dict):
            return out
        user = payload.get("user")
        if isinstance(user, dict):
            if policy.keep_user:
                out["user"] = self.redact_user(user, policy)
            else:
                del out["user"]
        if isinstance(out.get("request"), dict):
            _replace_client_addresses(out["request"], keep=policy.keep_client_ip)
        identity = _payload_identity(payload, policy)
        if identity is not None:
            # The user's name, email or address written elsewhere (a message, a breadcrumb) goes too.
            out = _hide(out, identity)
        for key in ("logentry", "message"):
            if isinstance(out.get(key), dict):
                self._filter_composed_params(out[key])
        if isinstance(payload.get("fingerprint"), list):
            out["fingerprint"] = self._fingerprint(payload["fingerprint"])
        return out

    def _fingerprint(self, parts: list[Any] | None) -> list[Any] | None:
        """A fingerprint, item by item: its entries are grouping labels, never a [name, value] pair
        (["auth-failure", "{{ default }}"] must still expand the default)."""
        if parts is None:
            return None
        return [self.redact_text(f) if isinstance(f, str) else f for f in parts]

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
        return _replace(
            frame,
            context_line=self._optional_text(frame.context_line),
            pre_context=self.redact_value(frame.pre_context),
            post_context=self.redact_value(frame.post_context),
            vars=self.redact_value(frame.vars),
        )


# --- the client's address and the user's identity -----------------------------------------------


def _replace_client_addresses(request: dict[str, Any], *, keep: bool) -> None:
    """Replace, in place, the client's address in a (scrubbed) request's headers and env by "[ip]"."""
    if keep:
        return
    for name in ("headers", "env"):
        tree = request.get(name)
        if isinstance(tree, dict):
            for key, value in tree.items():
                if isinstance(key, str) and value and p.key_forms(key)[0] in p.USER_ADDRESS_KEYS:
                    tree[key] = p.IP
        elif isinstance(tree, list):
            for i, pair in enumerate(tree):
                if _is_address_pair(pair):
                    tree[i] = [pair[0], p.IP]


def _is_address_pair(pair: Any) -> bool:
    """A [name, value] header or variable that carries the client's address (X-Forwarded-For ...)."""
    return (
        isinstance(pair, list | tuple)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and p.key_forms(pair[0])[0] in p.USER_ADDRESS_KEYS
    )


_IDENTITY_MIN_CHARS = 3  # shorter names ("al", "42") would hide unrelated text


def _identity_pattern(user: Any, request: Any, *, names: bool, addresses: bool) -> re.Pattern[str] | None:
    """A pattern for the user's email, username and name (`names`) and the client's network
    addresses (`addresses`) as they occur in text; None when there is nothing to look for."""
    found: set[str] = set()
    for key, value in user.items() if isinstance(user, dict) else ():
        if isinstance(key, str) and isinstance(value, str):
            compact = p.key_forms(key)[0]
            if (names and compact in p.USER_IDENTITY_KEYS - {"id"}) or (addresses and compact == "ipaddress"):
                found.add(value.strip())
    for name in ("headers", "env") if addresses and isinstance(request, dict) else ():
        tree = request.get(name)
        pairs = tree.items() if isinstance(tree, dict) else tree if isinstance(tree, list) else []
        for pair in pairs:
            if _is_address_pair(pair) and isinstance(pair[1], str):
                found.update(a.strip() for a in pair[1].split(","))
    found = {v for v in found if len(v) >= _IDENTITY_MIN_CHARS and v not in p.MARKERS and v != "{{auto}}"}
    if not found:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(found, key=len, reverse=True))
    return re.compile(rf"(?<![\w.@+-])(?:{alternatives})(?![\w@-]|\.\w)", re.IGNORECASE)


def _payload_identity(payload: Any, policy: UserDataPolicy) -> re.Pattern[str] | None:
    """What the policy removes of the user, found in a payload as sent (None: nothing to remove)."""
    if (policy.keep_user and policy.keep_client_ip) or not isinstance(payload, dict):
        return None
    return _identity_pattern(
        payload.get("user"),
        payload.get("request"),
        names=not policy.keep_user,
        addresses=not policy.keep_client_ip,
    )


def _hide(value: Any, identity: re.Pattern[str]) -> Any:
    """`value` (JSON-like) with every occurrence of the user's identity replaced by a marker."""
    return _map_strings(value, lambda s: identity.sub(_identity_marker, s))


# The event's fields (besides exceptions) whose text may mention anything.
_FREE_FORM_FIELDS = (
    *("message", "message_template", "fingerprint", "transaction", "request", "tags"),
    *("contexts", "breadcrumbs", "extra"),
)


def _hide_identity(event: NormalizedEvent, identity: re.Pattern[str]) -> NormalizedEvent:
    """A copy of `event` with the user's identity replaced in every free-form field."""

    def frame(f: Frame) -> Frame:
        return _replace(
            f,
            context_line=_hide(f.context_line, identity),
            pre_context=_hide(f.pre_context, identity),
            post_context=_hide(f.post_context, identity),
            vars=_hide(f.vars, identity),
        )

    def exception(e: ExceptionInfo) -> ExceptionInfo:
        return _replace(e, value=_hide(e.value, identity), frames=[frame(f) for f in e.frames])

    return _replace(
        event,
        exceptions=[exception(e) for e in event.exceptions],
        **{name: _hide(getattr(event, name), identity) for name in _FREE_FORM_FIELDS},
    )


def _identity_marker(m: re.Match[str]) -> str:
    value = m.group(0)
    if "@" in value:
        return p.EMAIL
    if value.replace(".", "").isdigit() or ":" in value:
        return p.IP
    return p.USER


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """A copy of JSON-like data with `fn` applied to every string, keys included."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {_map_strings(k, fn): _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(v, fn) for v in value]
    return value


def _mysql_password_item(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("-p") and len(value) > 2


def _is_mysql_argv(items: Any) -> bool:
    """A command line as a list whose program is a mysql client: its `-pX` item is a password."""
    first = items[0] if items else None
    return (
        isinstance(first, str)
        and ("mysql" in first or "mariadb" in first)
        and (p.MYSQL_CLIENT_RE.search(first) is not None)
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


def _redact_validated(
    s: str,
    pattern: re.Pattern[str],
    valid_prefix_length: Callable[[str], int],
    replacement: str,
    resume_after_failure: Callable[[str], int],
) -> str:
    """Replace the matches of `pattern` that pass their check (the length of the valid prefix, 0 for
    none) with `replacement`.

    A loop rather than `sub`: when a candidate fails the check, the search resumes inside it (where
    `resume_after_failure` says), so leading digit groups ("ref 2345 4111 1111 1111 1111") cannot
    hide a card."""
    out: list[str] = []
    checked: dict[str, int] = {}  # repeated candidates (hostile input) are checked once
    last = pos = 0
    search = pattern.search
    while (m := search(s, pos)) is not None:
        candidate = m.group(0)
        n = checked.get(candidate)
        if n is None:
            n = checked[candidate] = valid_prefix_length(candidate)
        if n:
            out.append(s[last : m.start()])
            out.append(replacement)
            last = pos = m.start() + n
        else:
            pos = m.start() + resume_after_failure(candidate)
    if not out:
        return s
    out.append(s[last:])
    return "".join(out)


def _after_first_digit_group(candidate: str) -> int:
    return len(candidate) - len(candidate.lstrip("0123456789"))


def _redact_cards(s: str) -> str:
    return _redact_validated(s, p.CARD_RE, p.card_prefix_length, p.CARD, _after_first_digit_group)


def _aws_secret(m: re.Match[str]) -> str:
    candidate = m.group(0)
    return p.AWS_KEY if p.aws_secret_key(candidate) else candidate


def _redact_ibans(s: str) -> str:
    return _redact_validated(s, p.IBAN_RE, p.iban_prefix_length, p.IBAN, lambda _candidate: 1)


def _prose_secret(m: re.Match[str]) -> str:
    value = m.group("value")
    if value[0] not in "'\"" and (p.looks_like_a_word(value) or value.lower() in p.HARMLESS_VALUES):
        return m.group(0)
    return m.group(0)[: m.start("value") - m.start()] + p.FILTERED


def _mysql_password(m: re.Match[str]) -> str:
    return "-p" + p.FILTERED


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


def redact_event(event: NormalizedEvent, policy: UserDataPolicy = KEEP_USER_DATA) -> NormalizedEvent:
    """`Redactor.redact_event` on the default redactor."""
    return get_redactor().redact_event(event, policy)


def redact_for_prompt(event: NormalizedEvent, title: str) -> tuple[NormalizedEvent, str]:
    """`Redactor.redact_for_prompt` on the default redactor."""
    return get_redactor().redact_for_prompt(event, title)


def redact_payload(payload: dict[str, Any], policy: UserDataPolicy = KEEP_USER_DATA) -> dict[str, Any]:
    """`Redactor.redact_payload` on the default redactor."""
    return get_redactor().redact_payload(payload, policy)
