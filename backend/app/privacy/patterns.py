"""The scrubbing policy as data: markers, the table of sensitive KEY names, the table of secret
VALUE patterns, and the few checks (Luhn, IBAN mod 97, SSN ranges) that tell a secret from a
look-alike. `redact.py` holds the mechanism that applies them; the policy itself is in its docstring.

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
IBAN = "[iban]"
SSN = "[ssn]"
USER = "[user]"  # a user's identity (username, name) found in text bound for the LLM
MARKERS = (FILTERED, EMAIL, IP, CARD, JWT, AWS_KEY, PRIVATE_KEY, TOKEN, IBAN, SSN, USER)

# --- table 1: sensitive KEY names ----------------------------------------------------------------
# A key is compared in two forms: `compact` (lowercased, every non-alphanumeric removed, so
# "X-Api-Key", "api_key" and "apiKey" all read "apikey") and `words` (split on punctuation and
# camelCase: "privKey" reads ["priv", "key"]). Long, unambiguous names match as substrings of
# `compact` ("db_password", "AWS_SECRET_ACCESS_KEY"); short or ordinary words must be a whole word
# ("auth" but not "author", "token" but not "max_tokens", "key" but not "keyboard" or "monkey",
# "pin" but not "pinned", "ssn" but not "classname").
SENSITIVE_SUBSTRINGS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pswd",
    "pwd",  # mysql_pwd, user_pwd, PWD (the shell's working directory is filtered too: harmless)
    "secret",
    "apikey",
    "accesskey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "sessiontoken",
    "privatekey",
    "privkey",
    "signingkey",
    "masterkey",
    "encryptionkey",
    "hmac",
    "signature",
    "authorization",
    "cookie",
    "csrf",
    "xsrf",
    "sessionid",
    "sessionkey",
    "credential",
    "userpass",
    "basicauth",
    "httpauth",
    "creditcard",
    "cardnumber",
    "ccnumber",
    "cvv",
)
SENSITIVE_WORDS: frozenset[str] = frozenset(
    {
        *("pass", "pw", "pwd", "token", "key", "sig", "auth", "session", "private", "cred", "creds"),
        *("ssn", "cvc", "pin", "otp", "jwt", "dsn", "sid", "bearer"),
    }
)

# The allow-list: keys that contain a sensitive word but name something harmless. A key whose
# LAST word is one of these says what kind of thing the sensitive part is, not its value
# ("token_count", "password_length", "key_type", "KeyError: 'user_id'" in text); booleans, None
# and empty strings survive under any key anyway (HARMLESS_VALUES).
HARMLESS_LAST_WORDS: frozenset[str] = frozenset(
    {"error", "errors", "exception", "count", "length", "len", "size", "type", "ttl", "expiry", "expires"}
)
# Whole keys (compact form) that are harmless although a sensitive word is in them: the names of
# database and cache keys, which are debugging data.
HARMLESS_KEYS: frozenset[str] = frozenset(
    {
        *("sortkey", "primarykey", "foreignkey", "cachekey", "rediskey", "partitionkey", "routingkey"),
        *("keyname", "keyspace", "keypath", "idempotencykey", "keycode"),
    }
)

# Where an end user's network address is found (compact form): the user object's `ip_address`,
# and the request headers and CGI/WSGI variables that carry the client's address. Only these are
# treated as personal addresses; an address anywhere else (an error message, a DSN host, a
# version string) is debugging data and stays.
USER_ADDRESS_KEYS: frozenset[str] = frozenset(
    {
        *("ipaddress", "remoteaddr", "httpxforwardedfor", "xforwardedfor", "httpxrealip", "xrealip"),
        *("httpforwarded", "forwarded", "cfconnectingip", "httpcfconnectingip", "trueclientip", "xclientip"),
    }
)
# Fields of the `user` object that identify a person (compact form). Stored as the SDK sent them
# unless SCRUB_USER_DATA says otherwise; never sent to the LLM.
USER_IDENTITY_KEYS: frozenset[str] = frozenset(
    {"id", "email", "username", "name", "fullname", "firstname", "lastname", "phone", "phonenumber"}
)

# Cheap pre-check for free text: no key:value scan unless one of these occurs somewhere.
KEY_STEM_PATTERN = (
    r"pass|pw|pswd|secret|token|auth|cookie|session|csrf|xsrf|key|sig|hmac|priv|cred|"
    r"card|cc[-_.]?num|cvv|cvc|ssn|dsn|sid|pin|otp|jwt|bearer|mysql|mariadb"
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

# A vendor-token or AWS-key prefix: the '_'/'-'/'.' that ends one, or the letters that start one.
TOKEN_TRIGGER_RE = re.compile(
    r"_(?:(?<=gh[pousr]_)|(?<=github_pat_)|(?<=[rs]k_live_)|(?<=[rs]k_test_)|(?<=whsec_)|(?<=npm_)"
    r"|(?<=hf_)|(?<=sntry[su]_))"
    r"|-(?:(?<=glpat-)|(?<=xox[abposre]-)|(?<=xapp-)|(?<=sk-)|(?<=GOCSPX-))"
    r"|\.(?:(?<=SG\.)|(?<=ya29\.))"
    r"|A(?:KIA|SIA|BIA|CCA|IDA|ROA|IPA|NPA|NVA|PKA|Iza|C[0-9a-f])"
    r"|SK[0-9a-fA-F]",
    re.ASCII,
)
FOUR_DIGITS_RE = re.compile(r"\d\d\d\d", re.ASCII)
# An IBAN's start: country code and check digits.
IBAN_TRIGGER_RE = re.compile(r"[A-Z][A-Z]\d\d", re.ASCII)
# The name of a key as a list item may hold it (["password", "x"], ["--password", "x"]).
KEY_NAME_RE = re.compile(r"-{0,2}[A-Za-z_][\w.-]{0,63}", re.ASCII)


# --- table 2: secret VALUE patterns, and the ways text writes a key before its value ---------------


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

# key<sep>value in free text (form bodies, query strings, log lines, reprs, JSON, env dumps,
# `settings["key"] = value`).
# The key must start a run: the lookbehind stops a scan from retrying inside one long word.
TEXT_KEY_RE = _rx(
    r"(?:(?<=%26)|(?<=%3[Ff])|(?<![\w.]))(?P<key>[A-Za-z_][\w.-]{0,63})"
    r"(?P<sep>\\?[\"']?\]?[ \t]{0,5}(?::=|=>|={1,3}|:|%3[Dd])[ \t]{0,5})"
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

# Provider keys with a recognisable form: GitHub, GitLab, Slack, Stripe, OpenAI and Anthropic (the
# generic `sk-` form covers sk-proj-… and sk-ant-api03-…; a digit is required so words like
# "sk-learn-compatible-estimator" survive), Google (API keys, OAuth access tokens and client
# secrets), SendGrid, Twilio (API key and account SIDs), npm, Hugging Face, Sentry.
VENDOR_TOKEN_RE = _rx(
    r"(?<![\w-])(?:"
    r"gh[pousr]_[A-Za-z0-9]{30,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|glpat-[A-Za-z0-9_-]{20,64}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,255}"
    r"|xapp-[A-Za-z0-9-]{10,255}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,255}"
    r"|whsec_[A-Za-z0-9]{20,255}"
    r"|sk-[A-Za-z0-9_-]{20,255}"
    r"|AIza[A-Za-z0-9_-]{35}"
    r"|ya29\.[A-Za-z0-9_-]{20,2048}"
    r"|GOCSPX-[A-Za-z0-9_-]{20,64}"
    r"|SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{30,64}"
    r"|SK[0-9a-fA-F]{32}"
    r"|AC[0-9a-f]{32}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|hf_[A-Za-z0-9]{30,64}"
    r"|sntry[su]_[A-Za-z0-9+/=_-]{20,512}"
    r")(?![\w-])"
)

# A bare AWS secret access key: exactly 40 characters of base64 standing alone, with upper and
# lower case letters and a digit (a git SHA has no upper case, a word or a path has no such mix).
AWS_SECRET_RE = _rx(r"(?<![A-Za-z0-9/+_.-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-]|\.[A-Za-z0-9])")

# An IBAN: country, check digits, then the account, contiguous or in groups of four; the mod-97
# check in `iban_prefix_length` decides (and drops trailing groups that are not part of it).
IBAN_RE = _rx(r"(?<![A-Za-z0-9])[A-Z]{2}\d\d(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{1,4}){3,8})(?![A-Za-z0-9])")

# A US social security number written 123-45-6789, with the ranges the SSA never assigns ruled out.
SSN_RE = _rx(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d\d-(?!0000)\d{4}(?![\w-])")

# Command lines: `--password X` (with '=' it is a key=value), and mysql's `-pX` when the text
# names a mysql client (elsewhere `-pthread`, `-p8080:80` mean something else).
CLI_FLAG_RE = _rx(
    r"(?<![\w-])--(?P<key>[A-Za-z][\w-]{0,63})[ \t]+"
    r"(?P<value>\"[^\"\n]{0,4096}\"|'[^'\n]{0,4096}'|[^\s\"'-][^\s\"']{0,4096})"
)
MYSQL_CLIENT_RE = _rx(r"\b(?:mysql|mysqldump|mysqladmin|mysqlsh|mysqlimport|mariadb|mariadb-dump)\b", re.I)
MYSQL_PASSWORD_RE = _rx(r"(?<![\w-])-p(?P<value>\"[^\"\n]{0,4096}\"|'[^'\n]{0,4096}'|[^\s\"']{1,4096})")

# Prose: "the password is X", "token was X". X counts as a secret only when it does not read as
# a word (it has a digit, a symbol or inner capitals, or is quoted): "password is incorrect" stays.
PROSE_SECRET_RE = _rx(
    r"(?i:\b(?:password|passwd|passphrase|passcode|pin|secret|token|api[ _-]?key)[ \t]+(?:is|was)[ \t]+)"
    r"(?P<value>\"[^\"\n]{1,4096}\"|'[^'\n]{1,4096}'|[^\s\"']{1,4096})"
)
_WORDISH = _rx(r"[A-Za-z][a-z]*[.,;:!?)]*")


def looks_like_a_word(value: str) -> bool:
    """True for an ordinary word (letters, a capital at most first, trailing punctuation)."""
    return _WORDISH.fullmatch(value) is not None


# 13 to 19 digits starting with a known issuer prefix (Visa 4, Mastercard 2221-2720 and 5,
# Amex/Diners/JCB 30-38, Discover/Maestro/UnionPay 6), contiguous or in the printed groupings
# (4-4-4-4, 4-6-5, 4-6-4, up to two trailing groups so a following expiry or CVV is absorbed),
# separated by spaces or dashes, or by dots in the exact groupings only (a dotted version such as
# 2265.2400.1041.0 is no card); a card sent as a JSON integer is checked by `is_card_number`;
# Luhn is checked in Python. The lookarounds keep it off hex strings, versions and UUID groups.
_ISSUER = r"(?=[456]|3(?:0[0-5]|[4678]|5(?:2[89]|[3-8]))|2(?:22[1-9]|2[3-9]|[3-6]|7[01]|720))"
CARD_RE = _rx(
    rf"(?<![\w.]){_ISSUER}"
    r"(?:\d{13,19}"
    r"|\d{4}[ -]\d{4,6}[ -]\d{4,5}(?:[ -]\d{1,4}){0,2}"
    r"|\d{4}\.(?:\d{4}\.\d{4}\.\d{4}|\d{6}\.\d{4,5}))"
    r"(?!\w|[-.]\d)"
)

EMAIL_RE = _rx(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,24}(?![\w-])"
)

# Strings no pattern above can match, whole: lowercase hex with a letter in it (event, trace, span
# and request ids), lowercase canonical UUIDs, up to 12 digits, ISO 8601 timestamps. They are most
# of what is new in each event (ids, times) and so miss the text cache; the redactor passes them
# through without running every pattern (only when no REDACT_EXTRA_PATTERNS could match them).
# Why none matches: a card is 13-19 digits, or digit groups of which a UUID holds at most 12, and
# CARD_RE's lookarounds keep it off a digit run inside hex (the letter breaks it); an SSN has a
# 3-2-4 grouping, an IBAN and every token, key and scheme need a character outside [0-9a-f-] (an
# AWS key's prefix is uppercase: uppercase hex such as ACCA0123... is not let through here; an AWS
# secret needs upper case); a key=value needs a key starting with a letter not preceded by a word
# character. The tests check that the full pass leaves every such string unchanged.
PLAIN_ID_RE = _rx(
    r"[0-9a-f]{0,63}[a-f][0-9a-f]{0,63}"
    r"|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|\d{1,12}"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?"
)


_DOUBLED = str.maketrans("0123456789", "0246813579")  # each digit doubled, digits of the result summed


def luhn_ok(digits: str) -> bool:
    """True when a string of ASCII digits passes the Luhn checksum."""
    rev = digits[::-1]
    # Summing bytes stays in C: 48 is ord("0").
    total = sum(rev[0::2].encode()) + sum(rev[1::2].translate(_DOUBLED).encode()) - 48 * len(rev)
    return total % 10 == 0


_ISSUER_RE = _rx(_ISSUER)
CARD_INT_MIN = 10**12  # a card number has at least 13 digits


def is_card_number(number: int) -> bool:
    """True when an integer (a card sent as a JSON number) is a card number: issuer and Luhn."""
    digits = str(number)
    return 13 <= len(digits) <= 19 and _ISSUER_RE.match(digits) is not None and luhn_ok(digits)


def card_prefix_length(candidate: str) -> int:
    """Length of the leading part of a CARD_RE match that is a card number (0 if none).

    A card has 13 to 19 digits and a valid Luhn checksum (CARD_RE checked the issuer prefix).
    Grouped matches may carry a trailing expiry or CVV group, so whole groups are dropped from
    the end until what is left checks out.
    """
    if candidate.isdigit():
        return len(candidate) if luhn_ok(candidate) else 0
    groups = candidate.replace("-", " ").replace(".", " ").split(" ")
    digits = "".join(groups)
    n_digits, n_chars = len(digits), len(candidate)
    for k in range(len(groups), 2, -1):
        if 13 <= n_digits <= 19 and luhn_ok(digits[:n_digits]):
            return n_chars
        dropped = len(groups[k - 1])
        n_digits -= dropped
        n_chars -= dropped + 1
    return 0


def _mod97(text: str, n: int = 0) -> int:
    """The number an IBAN's characters spell (letters as 10-35), modulo 97."""
    for c in text:
        n = (n * (100 if c > "9" else 10) + int(c, 36)) % 97
    return n


# IBAN length by country (the SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    **{"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29},
    **{"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29},
    **{"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28},
    **{"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20},
    **{"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19},
    **{"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29},
    **{"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28},
    **{"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20},
}


def iban_prefix_length(candidate: str) -> int:
    """Length of the leading part of an IBAN_RE match that is an IBAN (0 if none).

    An IBAN has its country's length (IBAN_LENGTHS) and passes ISO 7064 mod 97-10: with the
    country and check digits moved to the end and letters read as 10-35, the number mod 97 is 1.
    Trailing groups past that length are not part of it ("DE89 3704 0044 0532 0130 00 EUR").
    """
    wanted = IBAN_LENGTHS.get(candidate[:2])
    if wanted is None:
        return 0
    chars = end = 0  # read up to the wanted number of characters, spaces not counted
    while end < len(candidate) and chars < wanted:
        chars += candidate[end] != " "
        end += 1
    if chars < wanted:
        return 0
    compact = candidate[:end].replace(" ", "")
    return end if _mod97(compact[4:] + compact[:4]) == 1 else 0


def aws_secret_key(candidate: str) -> bool:
    """True when 40 base64 characters (an AWS_SECRET_RE match) mix upper case, lower case and digits."""
    return (
        any(c.isupper() for c in candidate)
        and any(c.islower() for c in candidate)
        and any(c.isdigit() for c in candidate)
    )


def basic_credentials(token: str) -> bool:
    """True when a Basic auth token decodes to `user:password`."""
    try:
        return b":" in base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
