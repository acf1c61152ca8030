"""Compiled patterns, marker strings and sensitive-key rules used by the redactor.

Every regex here must run in linear time on hostile input (1 MB of one character, long runs of
digits, endless `a=a=a=`): each pattern either starts at the beginning of a run (a lookbehind
rules out starting in the middle of one) or has bounded repeats, and no two adjacent repeats
can match the same characters. Patterns that need a cheap pre-check before the regex runs say so
in `redact.py`.
"""

from __future__ import annotations

import base64
import binascii
import re

# Marker strings. None contains a digit, '@', ':', '.', '=' or a quote, so the patterns that find
# secrets by value never match one (the key=value pass may, and writes the same marker again).
FILTERED = "[Filtered]"
EMAIL = "[email]"
IP = "[ip]"
CARD = "[card]"
JWT = "[jwt]"
AWS_KEY = "[aws-key]"
PRIVATE_KEY = "[private-key]"
TOKEN = "[token]"
MARKERS = (FILTERED, EMAIL, IP, CARD, JWT, AWS_KEY, PRIVATE_KEY, TOKEN)

# --- sensitive key names -------------------------------------------------------------------------
# A key is compared in two forms: `compact` (lowercased, every non-alphanumeric removed, so
# "X-Api-Key", "api_key" and "apiKey" all read "apikey") and `words` (split on punctuation and
# camelCase). Long, unambiguous names match as substrings of `compact` ("db_password",
# "AWS_SECRET_ACCESS_KEY"); short or ordinary words must be a whole word ("auth" but not "author",
# "token" but not "max_tokens", "pin" but not "pinned", "ssn" but not "classname").
SENSITIVE_SUBSTRINGS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "accesskey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "privatekey",
    "authorization",
    "cookie",
    "csrf",
    "xsrf",
    "sessionid",
    "sessionkey",
    "credential",
    "creditcard",
    "cardnumber",
    "ccnumber",
    "cvv",
    "mysqlpwd",
)
SENSITIVE_WORDS: frozenset[str] = frozenset(
    {"token", "pwd", "pass", "auth", "session", "ssn", "cvc", "pin", "otp", "jwt", "dsn", "sid", "bearer"}
)

# Cheap pre-check for free text: no key:value scan unless one of these occurs somewhere.
KEY_STEM_PATTERN = (
    r"pass|pwd|secret|token|auth|cookie|session|csrf|xsrf|api[-_.]?key|access[-_.]?key|"
    r"private[-_.]?key|credential|card|cc[-_.]?num|cvv|cvc|ssn|dsn|sid|pin|otp|jwt|bearer"
)

# Header names whose unquoted value runs to the end of the line: a Cookie header is a list of
# name=value pairs, any of which may be a session id, and Digest credentials contain commas.
LINE_KEYS: frozenset[str] = frozenset({"cookie", "setcookie", "authorization", "proxyauthorization"})

# Values kept even under a sensitive key: they say nothing, and keeping them keeps source lines
# like `def login(user, password=None)` readable.
HARMLESS_VALUES: frozenset[str] = frozenset(
    {"none", "null", "nil", "undefined", "true", "false", "", *(m.lower() for m in MARKERS)}
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def key_forms(key: str) -> tuple[str, list[str]]:
    """Return (compact, words) forms of a key name, as described above."""
    words = [w for w in _NON_ALNUM.split(_CAMEL.sub(" ", key).lower()) if w]
    return "".join(words), words


# --- cheap pre-checks ----------------------------------------------------------------------------
# Each starts with a literal or a one-character class so `re` can skip ahead in C instead of
# trying every branch at every position; a leading lookbehind or `\d{4}` would defeat that.

# A vendor-token or AWS-key prefix: the '_'/'-' that ends one, or the 'A' that starts one.
TOKEN_TRIGGER_RE = re.compile(
    r"_(?:(?<=gh[pousr]_)|(?<=github_pat_)|(?<=[rs]k_live_)|(?<=[rs]k_test_)|(?<=whsec_)|(?<=npm_)"
    r"|(?<=hf_)|(?<=sntry[su]_))"
    r"|-(?:(?<=glpat-)|(?<=xox[abposr]-)|(?<=xapp-)|(?<=sk-))"
    r"|A(?:KIA|SIA|BIA|CCA|IDA|ROA|IPA|NPA|NVA|PKA|Iza)",
    re.ASCII,
)
FOUR_DIGITS_RE = re.compile(r"\d\d\d\d", re.ASCII)
DOT_DIGIT_RE = re.compile(r"\.\d", re.ASCII)


# --- free-text patterns --------------------------------------------------------------------------


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    # ASCII: \d must mean 0-9 (the Luhn check does arithmetic on it) and \w must not grow.
    return re.compile(pattern, flags | re.ASCII)


# PEM and PGP private keys; an unterminated block (a truncated log line) is redacted to the end.
PEM_RE = _rx(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)

# JWT: base64url header that starts '{"' (eyJ), payload, optional signature.
JWT_RE = _rx(r"(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*(?![\w-])")

# Credentials in a URL's userinfo: scheme://user:PASS@host. The password runs to the last '@'
# of the authority, because unencoded '@' in passwords is common.
URL_USERINFO_RE = _rx(
    r"(?<![\w+.-])(?P<prefix>[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/?#@\[\]]*(?:@[^\s:/?#@\[\]]*)*:)"
    r"(?P<password>[^\s/?#]*)@"
)

# key<sep>value in free text (form bodies, query strings, log lines, reprs, JSON, env dumps).
# The key must start a run: the lookbehind stops a scan from retrying inside one long word.
TEXT_KEY_RE = _rx(
    r"(?<![\w.])(?P<key>[A-Za-z_][\w.-]{0,63})(?P<sep>\\?[\"']?[ \t]{0,5}(?::=|=>|={1,3}|:)[ \t]{0,5})"
)
_SCHEME = r"(?P<scheme>(?i:bearer|basic|token|digest|negotiate|sentry|bot)[ \t]+)?"
_QUOTED = (
    r"(?P<dq>\"(?:[^\"\\\n]|\\.){0,4096}\")"
    r"|(?P<sq>'(?:[^'\\\n]|\\.){0,4096}')"
    r"|(?P<eq>\\\"[^\"\\\n]{0,4096}\\\")"
)
TEXT_VALUE_RE = _rx(_QUOTED + r"|" + _SCHEME + r"(?P<raw>[^\s\"'`,;&)}<>]{1,4096})")
LINE_VALUE_RE = _rx(_QUOTED + r"|" + _SCHEME + r"(?P<raw>[^\r\n]{1,4096})")

# "Bearer <token>" / "Basic <base64>" anywhere (the header name may be missing or elsewhere).
AUTH_SCHEME_RE = _rx(
    r"(?<![\w-])(?P<scheme>(?i:bearer|basic)[ \t]+)(?P<token>[A-Za-z0-9\-._~+/]{6,}=*)(?![\w\-.~+/=])"
)

AWS_KEY_ID_RE = _rx(
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}(?![A-Za-z0-9])"
)

# Vendor tokens with a recognisable prefix. The generic `sk-` form also covers OpenAI
# (sk-proj-…) and Anthropic (sk-ant-api03-…) keys; a digit is required so words like
# "sk-learn-compatible-estimator" survive.
VENDOR_TOKEN_RE = _rx(
    r"(?<![\w-])(?:"
    r"gh[pousr]_[A-Za-z0-9]{30,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|glpat-[A-Za-z0-9_-]{20,64}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,255}"
    r"|xapp-[A-Za-z0-9-]{10,255}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,255}"
    r"|whsec_[A-Za-z0-9]{20,255}"
    r"|sk-[A-Za-z0-9_-]{20,255}"
    r"|AIza[A-Za-z0-9_-]{35}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|hf_[A-Za-z0-9]{30,64}"
    r"|sntry[su]_[A-Za-z0-9+/=_-]{20,512}"
    r")(?![\w-])"
)

# 13 to 19 digits starting with a known issuer prefix (Visa 4, Mastercard 2221-2720 and 5,
# Amex/Diners/JCB 30-38, Discover/Maestro/UnionPay 6), contiguous or in the printed groupings
# (4-4-4-4, 4-6-5, 4-6-4, up to two trailing groups so a following expiry or CVV is absorbed);
# Luhn is checked in Python. The lookarounds keep it off hex strings, versions and UUID groups.
_ISSUER = r"(?=[456]|3(?:0[0-5]|[4678]|5(?:2[89]|[3-8]))|2(?:22[1-9]|2[3-9]|[3-6]|7[01]|720))"
CARD_RE = _rx(
    rf"(?<![\w.]){_ISSUER}"
    r"(?:\d{13,19}|\d{4}[ -]\d{4,6}[ -]\d{4,5}(?:[ -]\d{1,4}){0,2})"
    r"(?!\w|[-.]\d)"
)

EMAIL_RE = _rx(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,24}(?![\w-])"
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = _rx(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")

# Candidates only; `is_public_ipv6` decides. A valid one has '::' or 7 colons.
IPV6_RE = _rx(
    r"(?<![\w:.\]])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.\d)"
)


# Strings no pattern above can match, whole: lowercase hex with a letter in it (event, trace, span
# and request ids), lowercase canonical UUIDs, up to 12 digits, ISO 8601 timestamps. They are most
# of what is new in each event (ids, times) and so miss the text cache; the redactor passes them
# through without running every pattern (only when no REDACT_EXTRA_PATTERNS could match them).
# Why none matches: a card is 13-19 digits, or digit groups of which a UUID holds at most 12, and
# CARD_RE's lookarounds keep it off a digit run inside hex (the letter breaks it); an address needs
# dots or two colons in a row; every token, key and scheme needs a character outside [0-9a-f-] (an
# AWS key's prefix is uppercase: uppercase hex such as ACCA0123... is not let through here); a
# key=value needs a key starting with a letter not preceded by a word character. The tests check
# that the full pass leaves every such string unchanged.
PLAIN_ID_RE = _rx(
    r"[0-9a-f]{0,63}[a-f][0-9a-f]{0,63}"
    r"|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|\d{1,12}"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?"
)

# A version string ("1.1.1.2", "v2.75.0", "5.15.0-91-generic"), kept under keys named *version.
VERSION_RE = _rx(r"v?\d{1,9}(?:\.\d{1,9}){1,5}(?:[-+~_.][0-9A-Za-z.+~_-]{0,64})?")


_DOUBLED = str.maketrans("0123456789", "0246813579")  # each digit doubled, digits of the result summed


def luhn_ok(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn checksum."""
    rev = digits[::-1]
    # Summing bytes stays in C: 48 is ord("0").
    total = sum(rev[0::2].encode()) + sum(rev[1::2].translate(_DOUBLED).encode()) - 48 * len(rev)
    return total % 10 == 0


def card_prefix_length(candidate: str) -> int:
    """Length of the leading part of a CARD_RE match that is a card number (0 if none).

    A card has 13 to 19 digits and a valid Luhn checksum (CARD_RE checked the issuer prefix).
    Grouped matches may carry a trailing expiry or CVV group, so whole groups are dropped from
    the end until what is left checks out.
    """
    if candidate.isdigit():
        return len(candidate) if luhn_ok(candidate) else 0
    groups = candidate.replace("-", " ").split(" ")
    digits = "".join(groups)
    n_digits, n_chars = len(digits), len(candidate)
    for k in range(len(groups), 2, -1):
        if 13 <= n_digits <= 19 and luhn_ok(digits[:n_digits]):
            return n_chars
        dropped = len(groups[k - 1])
        n_digits -= dropped
        n_chars -= dropped + 1
    return 0


_HEX = frozenset("0123456789abcdefABCDEF")


def is_public_ipv6(text: str) -> bool:
    """True for a valid IPv6 address with a digit in it, other than :: and ::1.

    A hand-rolled check because `ipaddress` costs microseconds and a hostile string can hold a
    quarter of a million candidates; requiring a digit keeps C++/Rust paths like `dead::beef` out.
    """
    if text in ("::", "::1") or not any(c.isdigit() for c in text):
        return False
    head, sep, tail = text.partition("::")
    if "::" in tail:
        return False
    groups = (head.split(":") if head else []) + (tail.split(":") if tail else [])
    if groups and "." in groups[-1]:
        if IPV4_RE.fullmatch(groups[-1]) is None:
            return False
        groups[-1:] = ["0", "0"]  # an embedded IPv4 address counts as two groups
    if not all(0 < len(g) <= 4 and _HEX.issuperset(g) for g in groups):
        return False
    return len(groups) < 8 if sep else len(groups) == 8


def basic_credentials(token: str) -> bool:
    """True when a Basic auth token decodes to `user:password`."""
    try:
        return b":" in base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
