"""The scrubbing policy end to end, on the real ingest and prompt code (no database): a generated
secret of every class, placed anywhere in an event, is in neither the stored payload, the stored
normalized event, the issue's title and culprit, nor the LLM prompt; harmless look-alikes
(versions, UUIDs, git SHAs, timestamps, ports, durations, browser User-Agents, addresses in error
messages, hex ids) come through unchanged; the user's identity never reaches the prompt.

What is stored and what the prompt holds are built exactly as ingest and the analysis build them:
`prepare_event` (scrub, normalize, group, serialise), then `analysis_input_for` on the stored
`data` column and `build_prompt`.

Each secret class runs CASES generated cases (placement drawn per case); run with `-s` to see the
count per class printed.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.analysis.prompt import build_prompt
from app.analysis.service import analysis_input_for
from app.config import get_settings
from app.events.normalize import normalize_seed_event, normalize_sentry_event
from app.events.prepare import PreparedEvent, prepare_event

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CASES = 300
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"


# --- the events a secret is planted in -------------------------------------------------------------


def base_event() -> dict[str, Any]:
    """An ordinary Sentry event with every part a secret can be planted in."""
    return {
        "event_id": "9f0c3a4e5b6d47a8b9c0d1e2f3a4b5c6",
        "platform": "python",
        "level": "error",
        "release": "shop@2.4.1",
        "environment": "production",
        "message": "checkout failed",
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "module": "shop.checkout",
                    "value": "payment provider refused the charge",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "shop/checkout.py",
                                "function": "pay",
                                "lineno": 42,
                                "in_app": True,
                                "pre_context": ["def pay(order):", "    client = Client()"],
                                "context_line": "    client.charge(order)",
                                "post_context": ["    return order"],
                                "vars": {"order": "<Order 17>", "retries": 2},
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "method": "POST",
            "url": "https://shop.example/api/checkout",
            "query_string": "page=2",
            "headers": {"Accept": "application/json"},
        },
        "tags": {"region": "eu-west-1"},
        "extra": {"cart_items": 3},
        "breadcrumbs": {"values": [{"category": "http", "message": "GET /api/cart"}]},
    }


def stored_and_sent(payload: dict[str, Any], seed: bool = False) -> tuple[PreparedEvent, str]:
    """(what ingest stores, the user message of the prompt built from the stored event)."""
    normalize = normalize_seed_event if seed else normalize_sentry_event
    prepared = prepare_event(1, payload, normalize, received_at=NOW)
    data = json.loads(prepared.data_json)
    prompt = build_prompt(analysis_input_for(data, prepared.title, times_seen=3, project_name="shop"))
    return prepared, prompt.user


def everything(prepared: PreparedEvent, prompt: str) -> dict[str, str]:
    return {
        "stored payload": prepared.payload_json,
        "normalized event": prepared.data_json,
        "issue title/culprit": prepared.title + "\n" + prepared.culprit,
        "prompt": prompt,
    }


# --- secret classes ---------------------------------------------------------------------------------
# Each class makes (secret, written): `secret` must vanish, `written` is how it appears in text.


def _fixed(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _with(chars: str, s: str) -> str:
    """`s` with a character of `chars` in it (keeps the length)."""
    return s if any(c in chars for c in s) else s[:-1] + chars[len(s) % len(chars)]


@st.composite
def card_digits(draw: st.DrawFn) -> str:
    prefix, length = draw(
        st.sampled_from(
            [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
        )
    )
    body = prefix + draw(_fixed(string.digits, length - len(prefix) - 1))
    return _luhn_complete(body)


@st.composite
def cards(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(card_digits())
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    if not sep:
        return number, number
    sizes = (4, 6, 5) if len(number) == 15 else (4, 4, 4, 4)
    parts, i = [], 0
    for size in sizes:
        parts.append(number[i : i + size])
        i += size
    written = sep.join(parts)
    return written, written


@st.composite
def ibans(draw: st.DrawFn) -> tuple[str, str]:
    country, length = draw(st.sampled_from([("DE", 22), ("GB", 22), ("FR", 27), ("NL", 18), ("ES", 24)]))
    if country in ("GB", "NL"):
        bban = draw(_fixed(string.ascii_uppercase, 4)) + draw(_fixed(string.digits, length - 8))
    else:
        bban = draw(_fixed(string.digits, length - 4))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = f"{98 - int(numeric) % 97:02d}"
    iban = country + check + bban
    if draw(st.booleans()):
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban, iban


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


PASSWORD_CHARS = ALNUM + "!$*+-.^_~@:/"
passwords = st.builds(
    lambda first, rest: first + _with(string.digits, rest),
    st.sampled_from(ALNUM),
    st.text(PASSWORD_CHARS, min_size=9, max_size=23),
)


def _same(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
    return strategy.map(lambda s: (s, s))


@st.composite
def pem_blocks(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["RSA ", "EC ", "OPENSSH ", ""]))
    lines = [draw(_fixed(ALNUM + "+/", 64)) for _ in range(draw(st.integers(1, 4)))]
    body = "\n".join(lines)
    return lines[0], f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


@st.composite
def connection_strings(draw: st.DrawFn) -> tuple[str, str]:
    # '/', '?' and '#' end a URL's userinfo: in a password they are percent-encoded
    password = draw(passwords).replace("/", "%2F")
    scheme = draw(st.sampled_from(["postgresql", "postgres", "mysql", "redis", "amqp", "mongodb+srv"]))
    return password, f"{scheme}://app:{password}@db.internal:5432/shop"


# The value classes: found by what they look like, wherever they are.
VALUE_CLASSES: dict[str, st.SearchStrategy[tuple[str, str]]] = {
    "card (any separator, Luhn)": cards(),
    "AWS access key id": _same(
        st.builds(
            lambda p, s: p + s,
            st.sampled_from(["AKIA", "ASIA"]),
            _fixed(string.ascii_uppercase + string.digits, 16),
        )
    ),
    "AWS secret access key": _same(
        st.builds(
            lambda body, upper, lower, digit: body[:11] + upper + body[11:23] + lower + body[23:] + digit,
            _fixed(ALNUM + "/+", 37),
            st.sampled_from(string.ascii_uppercase),
            st.sampled_from(string.ascii_lowercase),
            st.sampled_from(string.digits),
        )
    ),
    "JWT": _same(
        st.builds(
            lambda alg, sub, sig: f"{_b64url({'alg': alg, 'typ': 'JWT'})}.{_b64url({'sub': sub})}.{sig}",
            st.sampled_from(["HS256", "RS256"]),
            st.text(ALNUM, min_size=1, max_size=20),
            _fixed(B64URL, 43),
        )
    ),
    "PEM private key": pem_blocks(),
    "connection string password": connection_strings(),
    "Bearer token": _fixed(ALNUM, 32)
    .map(lambda t: _with(string.digits, t))
    .map(lambda t: (t, f"Bearer {t}")),
    "Basic credentials": st.builds(
        lambda user, pw: (b := base64.b64encode(f"{user}:{pw}".encode()).decode(), f"Basic {b}"),
        st.text(string.ascii_lowercase, min_size=3, max_size=10),
        passwords,
    ),
    "Stripe key": _same(
        st.builds(
            lambda p, s: p + s, st.sampled_from(["sk_live_", "rk_live_", "sk_test_"]), _fixed(ALNUM, 24)
        )
    ),
    "GitHub token": _same(
        st.one_of(
            _fixed(ALNUM, 36).map(lambda s: "ghp_" + s),
            _fixed(ALNUM + "_", 82).map(lambda s: "github_pat_" + s),
        )
    ),
    "Slack token": _same(
        st.builds(
            lambda kind, a, b, c: f"xox{kind}-{a}-{b}-{c}",
            st.sampled_from("bpa"),
            _fixed(string.digits, 11),
            _fixed(string.digits, 12),
            _fixed(ALNUM, 24),
        )
    ),
    "Google API key": _same(_fixed(B64URL, 35).map(lambda s: "AIza" + s)),
    "SendGrid key": _same(st.builds(lambda a, b: f"SG.{a}.{b}", _fixed(B64URL, 22), _fixed(B64URL, 43))),
    "Twilio key": _same(
        st.one_of(_fixed(HEX, 32).map(lambda s: "SK" + s), _fixed(HEX, 32).map(lambda s: "AC" + s))
    ),
    "OpenAI key": _same(_fixed(B64URL, 48).map(lambda s: "sk-proj-" + _with(string.digits, s))),
    "Anthropic key": _same(_fixed(B64URL, 93).map(lambda s: "sk-ant-api03-" + _with(string.digits, s))),
    "IBAN (mod 97)": ibans(),
    "US SSN": _same(
        st.builds(
            lambda a, g, s: f"{a:03d}-{g:02d}-{s:04d}",
            st.integers(1, 899).filter(lambda a: a != 666),
            st.integers(1, 99),
            st.integers(1, 9999),
        )
    ),
    "email address": _same(
        st.builds(
            lambda local, domain, tld: f"{local}@{domain}.{tld}",
            st.text(string.ascii_lowercase + string.digits + "._+", min_size=1, max_size=12).map(
                lambda s: "u" + s
            ),
            st.text(string.ascii_lowercase, min_size=2, max_size=10),
            st.sampled_from(["com", "org", "io", "co.uk", "de"]),
        )
    ),
}

# Sensitive key names of table 1 (app/privacy/patterns.py), as written in code, configs and URLs.
KEY_NAMES = [
    "password", "Password", "passwd", "pass", "pw", "pwd", "pswd", "passcode", "user_pw", "db_password",
    "secret", "client_secret", "token", "access_token", "refreshToken", "api_key", "apiKey", "X-Api-Key",
    "key", "privKey", "private_key", "signing_key", "master_key", "encryption_key", "hmac", "sig",
    "signature", "auth", "auth_token", "credentials", "session", "session_id", "sessionid", "cookie",
    "csrf_token", "private", "AWS_SECRET_ACCESS_KEY", "dsn",
]  # fmt: skip


# --- where a secret goes ------------------------------------------------------------------------------
# A placement plants `written` (or, for the password class, a key name and the secret) in an event.


@dataclass(frozen=True)
class Planted:
    payload: dict[str, Any]
    seed: bool = False


def _frame(event: dict[str, Any]) -> dict[str, Any]:
    return event["exception"]["values"][0]["stacktrace"]["frames"][0]


def _value_placements(written: str, secret: str, draw: st.DrawFn) -> Planted:
    e = base_event()
    where = draw(
        st.sampled_from(
            [
                "extra value", "dict key", "tag value", "tag key", "list pair", "frame var", "frame var dict",
                "frame var repr", "query string",
                "url", "context line", "pre_context", "post_context", "breadcrumb message", "breadcrumb data",
                "message", "exception value", "logentry param", "header", "request body", "seed message",
                "seed stack", "seed extra",
            ]
        )
    )  # fmt: skip
    one_line = (
        written.replace("\n", " ") if where in ("tag value", "tag key", "dict key", "header") else written
    )
    if where == "extra value":
        e["extra"]["note"] = f"see {written} here"
    elif where == "dict key":
        e["extra"]["lookup"] = {one_line: 1}
    elif where == "tag value":
        e["tags"]["note"] = one_line
    elif where == "tag key":
        e["tags"][one_line] = "yes"
    elif where == "list pair":
        _frame(e)["vars"]["login"] = ["admin", written]
    elif where == "frame var":
        _frame(e)["vars"]["value"] = f"'{written}'"
    elif where == "frame var dict":  # a local that is a mapping, as sentry-python sends one
        _frame(e)["vars"]["payload"] = {"order_id": "'ord_17'", "note": f"'{written}'"}
    elif where == "frame var repr":  # an object's repr, as sentry-python sends one
        _frame(e)["vars"]["client"] = f"Client(base_url='https://pay.example', note={written!r})"
    elif where == "query string":
        e["request"]["query_string"] = f"page=2&ref={written.replace(chr(10), '%0A')}&sort=asc"
    elif where == "url":
        e["request"]["url"] = f"https://shop.example/api/checkout?ref={written.replace(chr(10), '%0A')}"
    elif where == "context line":
        _frame(e)["context_line"] = f"    client.charge(order, ref={written!r})"
    elif where == "pre_context":
        _frame(e)["pre_context"] = ["def pay(order):", f"    ref = {written!r}"]
    elif where == "post_context":
        _frame(e)["post_context"] = [f"    log({written!r})", "    return order"]
    elif where == "breadcrumb message":
        e["breadcrumbs"]["values"].append({"category": "log", "message": f"using {written} now"})
    elif where == "breadcrumb data":
        e["breadcrumbs"]["values"].append({"category": "http", "data": {"ref": written}})
    elif where == "message":
        e["message"] = f"checkout failed with {written}"
    elif where == "exception value":
        e["exception"]["values"][0]["value"] = f"payment provider refused {written}"
    elif where == "logentry param":
        e["logentry"] = {"message": "charge failed for %s", "params": [written]}
    elif where == "header":
        e["request"]["headers"]["X-Trace-Note"] = one_line
    elif where == "request body":
        e["request"]["data"] = {"note": written}
    elif where == "seed message":
        return Planted(
            {"project_key": "shop", "message": f"failed with {written}", "status_code": 500}, seed=True
        )
    elif where == "seed stack":
        stack = (
            "Traceback (most recent call last):\n"
            '  File "/srv/shop/pay.py", line 7, in pay\n'
            f"    charge({written!r})\n"
            f"RuntimeError: refused {written}\n"
        )
        return Planted(
            {"project_key": "shop", "message": "boom", "stack": stack, "status_code": 500}, seed=True
        )
    else:  # seed extra
        return Planted(
            {"project_key": "shop", "message": "boom", "status_code": 500, "note": written}, seed=True
        )
    return Planted(e)


def _password_placements(secret: str, draw: st.DrawFn) -> Planted:
    """A secret that looks like nothing: found only by the key or flag written with it."""
    e = base_event()
    key = draw(st.sampled_from(KEY_NAMES))
    where = draw(
        st.sampled_from(
            [
                "dict value", "nested dict value", "tag", "list pair", "frame var", "frame var dict",
                "frame var repr", "frame var object", "query string",
                "query string (url-encoded)", "url", "context line", "pre_context", "post_context",
                "breadcrumb message", "breadcrumb data", "message", "exception value", "logentry params",
                "header", "cookie header", "argv --flag", "command line --flag", "mysql -p", "mysql argv",
                "prose", "seed message", "seed field", "seed stack",
            ]
        )
    )  # fmt: skip
    if where == "dict value":
        e["extra"][key] = secret
    elif where == "nested dict value":
        e["extra"]["config"] = {"db": {key: secret, "host": "db.internal"}}
    elif where == "tag":
        e["tags"][key] = secret
    elif where == "list pair":
        _frame(e)["vars"]["pair"] = [key, secret]
    elif where == "frame var":
        _frame(e)["vars"][key] = f"'{secret}'"
    elif where == "frame var dict":  # the crash frame's `config`, a mapping holding the secret
        _frame(e)["vars"]["config"] = {"host": "'db.internal'", "port": 5432, key: f"'{secret}'"}
    elif where == "frame var repr":  # an object's repr, as sentry-python sends it
        _frame(e)["vars"]["settings"] = f"Settings(host='db.internal', {key}='{secret}')"
    elif where == "frame var object":  # @sentry/node's shallow copy of an object
        _frame(e)["vars"]["options"] = {"host": "db.internal", key: secret, "retries": 3}
    elif where == "query string":
        e["request"]["query_string"] = f"page=2&{key}={secret}&sort=asc"
    elif where == "query string (url-encoded)":
        e["request"]["query_string"] = f"next%3D%2Fhome%26{key}%3D{secret}"
    elif where == "url":
        e["request"]["url"] = f"https://shop.example/api/login?user=bob&{key}={secret}"
    elif where == "context line":
        _frame(e)["context_line"] = f'    client = Client({key}="{secret}")'
    elif where == "pre_context":
        _frame(e)["pre_context"] = ["def pay(order):", f"    {key} = '{secret}'"]
    elif where == "post_context":
        _frame(e)["post_context"] = [f'    settings["{key}"] = "{secret}"', "    return order"]
    elif where == "breadcrumb message":
        e["breadcrumbs"]["values"].append({"category": "http", "message": f"POST /login {key}={secret}"})
    elif where == "breadcrumb data":
        e["breadcrumbs"]["values"].append({"category": "http", "data": {key: secret}})
    elif where == "message":
        e["message"] = f"login failed: {key}: {secret}"
    elif where == "exception value":
        e["exception"]["values"][0]["value"] = f"bad config {{'{key}': '{secret}'}}"
    elif where == "logentry params":
        e["logentry"] = {"message": "retry with %s=%s", "params": [key, secret]}
    elif where == "header":
        e["request"]["headers"][key] = secret
    elif where == "cookie header":
        e["request"]["headers"]["Cookie"] = f"theme=dark; {key}={secret}"
    elif where == "argv --flag":
        e["extra"]["sys.argv"] = ["manage.py", "migrate", "--password", secret]
    elif where == "command line --flag":
        e["exception"]["values"][0]["value"] = f"command 'pg_dump --password {secret} shop' failed"
    elif where == "mysql -p":
        e["exception"]["values"][0]["value"] = f"command 'mysql -uroot -p{secret} shop' returned 1"
    elif where == "mysql argv":
        e["extra"]["sys.argv"] = ["/usr/bin/mysqldump", "-uroot", f"-p{secret}", "shop"]
    elif where == "prose":
        e["message"] = f"login failed, the password is {secret}, retrying"
    elif where == "seed message":
        return Planted({"project_key": "shop", "message": f"login with {key}={secret} failed"}, seed=True)
    elif where == "seed field":
        return Planted({"project_key": "shop", "message": "boom", key: secret}, seed=True)
    else:  # seed stack
        stack = (
            "Traceback (most recent call last):\n"
            '  File "/srv/shop/db.py", line 3, in connect\n'
            f'    connect({key}="{secret}")\n'
            f"RuntimeError: {key}={secret} rejected\n"
        )
        return Planted({"project_key": "shop", "message": "boom", "stack": stack}, seed=True)
    return Planted(e)


def _card_integer_placements(number: int, draw: st.DrawFn) -> Planted:
    e = base_event()
    where = draw(
        st.sampled_from(["extra", "frame var", "tag", "breadcrumb data", "logentry param", "seed field"])
    )
    if where == "extra":
        e["extra"]["payment"] = {"pan": number, "amount": 1299}
    elif where == "frame var":
        _frame(e)["vars"]["number"] = number
    elif where == "tag":
        e["tags"]["ref"] = number
    elif where == "breadcrumb data":
        e["breadcrumbs"]["values"].append({"category": "payment", "data": {"ref": number}})
    elif where == "logentry param":
        e["logentry"] = {"message": "card %s declined", "params": [number]}
    else:
        return Planted({"project_key": "shop", "message": "declined", "ref": number}, seed=True)
    return Planted(e)


Planter = Callable[[st.DrawFn], tuple[str, Planted]]


def _by_value(strategy: st.SearchStrategy[tuple[str, str]]) -> Planter:
    def plant(draw: st.DrawFn) -> tuple[str, Planted]:
        secret, written = draw(strategy)
        return secret, _value_placements(written, secret, draw)

    return plant


def _password(draw: st.DrawFn) -> tuple[str, Planted]:
    secret = draw(passwords)
    return secret, _password_placements(secret, draw)


def _card_integer(draw: st.DrawFn) -> tuple[str, Planted]:
    number = int(draw(card_digits()))
    return str(number), _card_integer_placements(number, draw)


CLASSES: dict[str, Planter] = {
    "password (by key, flag or prose)": _password,
    "card as a JSON integer": _card_integer,
    **{name: _by_value(strategy) for name, strategy in VALUE_CLASSES.items()},
}
RAN: dict[str, int] = {}


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_secret_of_every_class_anywhere_in_an_event_is_stored_nowhere_and_never_sent(name: str) -> None:
    plant = CLASSES[name]
    RAN[name] = 0

    @settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        secret, planted = plant(data.draw)
        assume(secret not in json.dumps(base_event()))
        prepared, prompt = stored_and_sent(planted.payload, seed=planted.seed)
        found = [where for where, text in everything(prepared, prompt).items() if secret in text]
        assert found == [], f"{secret!r} in {found}"
        RAN[name] += 1

    check()
    print(f"\n{name}: {RAN[name]} cases")
    assert RAN[name] >= CASES // 2


# --- the look-alikes that must survive --------------------------------------------------------------

# A major version has at most three digits (120.0.6099.109, 2.4.1.0, 10.0.19045.3803).
versions = st.tuples(st.integers(0, 300), st.lists(st.integers(0, 99999), min_size=1, max_size=4)).map(
    lambda t: ".".join(map(str, [t[0], *t[1]]))
)
chrome_uas = st.builds(
    lambda major, build, patch: (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.{build}.{patch} Safari/537.36"
    ),
    st.integers(90, 140),
    st.integers(0, 9999),
    st.integers(0, 999),
)
uuids = st.uuids().map(str)
git_shas = _fixed(HEX, 40)
short_shas = _fixed(HEX, 7)
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC).isoformat()
)
epochs = st.integers(1_000_000_000, 4_000_000_000).map(str)
epoch_ms = st.integers(1_000_000_000_000, 1_999_999_999_999).map(str)
addresses = st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)).map(
    lambda t: ".".join(map(str, t))
)
ports = st.builds(lambda a, port: f"{a}:{port}", addresses, st.integers(1, 65535))
hosts_ports = st.builds(
    lambda h, port: f"{h}:{port}",
    st.sampled_from(["db", "localhost", "redis.internal"]),
    st.integers(1, 65535),
)
durations = st.builds(
    lambda n, unit: f"{n}{unit}", st.integers(0, 100_000), st.sampled_from(["ms", " ms", "s", "µs", "ns"])
)
hex_ids = st.integers(8, 32).flatmap(lambda n: _fixed(HEX, n))

LOOK_ALIKES: dict[str, st.SearchStrategy[str]] = {
    "version": versions,
    "client version 2.4.1.0 in prose": versions.map(lambda v: f"client version {v} refused"),
    "Chrome User-Agent": chrome_uas,
    "UUID": uuids,
    "git SHA": git_shas,
    "short git SHA": short_shas,
    "ISO timestamp": timestamps,
    "epoch seconds / ms": st.one_of(epochs, epoch_ms),
    "address in an error message": ports.map(lambda a: f"could not connect to server at {a}"),
    "host:port": hosts_ports,
    "duration": durations,
    "hex id": hex_ids,
}
LOOK_ALIKE_RAN: dict[str, int] = {}


def _plant_harmless(text: str, where: str) -> dict[str, Any]:
    e = base_event()
    if where == "message":
        e["message"] = f"request failed: {text}"
    elif where == "exception value":
        e["exception"]["values"][0]["value"] = f"request failed: {text}"
    elif where == "tag":
        e["tags"]["detail"] = text
    elif where == "breadcrumb":
        e["breadcrumbs"]["values"].append({"category": "log", "message": f"request failed: {text}"})
    elif where == "frame var":  # the crash frame's locals reach the prompt as the SDK sent them
        _frame(e)["vars"]["detail"] = f"'request failed: {text}'"
    else:  # context line
        _frame(e)["context_line"] = f'    raise RuntimeError("{text}")'
    return e


@pytest.mark.parametrize("name", list(LOOK_ALIKES))
def test_harmless_look_alikes_survive_in_storage_and_in_the_prompt(name: str) -> None:
    strategy = LOOK_ALIKES[name]
    LOOK_ALIKE_RAN[name] = 0

    @settings(max_examples=CASES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        text=strategy,
        where=st.sampled_from(
            ["message", "exception value", "tag", "breadcrumb", "context line", "frame var"]
        ),
    )
    def check(text: str, where: str) -> None:
        prepared, prompt = stored_and_sent(_plant_harmless(text, where))
        missing = [
            w for w, t in everything(prepared, prompt).items() if w != "issue title/culprit" and text not in t
        ]
        assert missing == [], f"{text!r} ({where}) mangled in {missing}"
        LOOK_ALIKE_RAN[name] += 1

    check()
    print(f"\n{name}: {LOOK_ALIKE_RAN[name]} cases")


def test_a_chrome_user_agent_and_a_version_in_the_title_survive() -> None:
    ua = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    e = base_event()
    e["exception"]["values"][0]["value"] = "client version 2.4.1.0 is not supported"
    e["request"]["headers"]["User-Agent"] = ua
    prepared, prompt = stored_and_sent(e)
    assert prepared.title == "RuntimeError: client version 2.4.1.0 is not supported"
    assert json.loads(prepared.data_json)["request"]["headers"]["User-Agent"] == ua
    assert json.loads(prepared.payload_json)["request"]["headers"]["User-Agent"] == ua
    assert "client version 2.4.1.0 is not supported" in prompt


# --- user data ---------------------------------------------------------------------------------------


def _event_with_user() -> dict[str, Any]:
    e = base_event()
    e["user"] = {
        "id": "u-4821",
        "email": "jane.doe@example.com",
        "username": "jdoe_77",
        "ip_address": "198.51.100.23",
    }
    e["request"]["headers"].update(
        {"X-Forwarded-For": "198.51.100.23, 10.0.0.2", "X-Real-IP": "198.51.100.23"}
    )
    e["request"]["env"] = {"REMOTE_ADDR": "198.51.100.23", "SERVER_NAME": "shop"}
    e["message"] = "jdoe_77 could not pay from 198.51.100.23 (backend 172.18.0.3:5432 is down)"
    e["breadcrumbs"]["values"].append({"category": "auth", "message": "login as jdoe_77"})
    e["tags"]["client"] = "198.51.100.23"
    return e


def test_user_data_is_stored_as_sent_by_default_and_never_sent_to_the_llm() -> None:
    prepared, prompt = stored_and_sent(_event_with_user())
    payload, data = json.loads(prepared.payload_json), json.loads(prepared.data_json)
    assert payload["user"] == data["user"] == _event_with_user()["user"]
    assert data["request"]["env"]["REMOTE_ADDR"] == "198.51.100.23"
    assert data["request"]["headers"]["X-Real-IP"] == "198.51.100.23"
    for identity in ("jane.doe@example.com", "jdoe_77", "198.51.100.23"):
        assert identity not in prompt, identity
    # the rest of the text arrives, and an address that is not the user's is debugging data
    assert "[user] could not pay from [ip] (backend 172.18.0.3:5432 is down)" in prompt


def test_scrub_user_data_removes_the_user_and_the_client_address_before_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCRUB_USER_DATA", "true")
    get_settings.cache_clear()
    prepared, _ = stored_and_sent(_event_with_user())
    payload, data = json.loads(prepared.payload_json), json.loads(prepared.data_json)
    assert "user" not in payload
    assert data["user"] == {}
    assert data["request"]["env"] == {"REMOTE_ADDR": "[ip]", "SERVER_NAME": "shop"}
    assert (
        payload["request"]["headers"]["X-Forwarded-For"]
        == data["request"]["headers"]["X-Forwarded-For"]
        == "[ip]"
    )
    # the user's name and address written in the text go too; another address is debugging data
    assert data["message"] == "[user] could not pay from [ip] (backend 172.18.0.3:5432 is down)"
    for identity in ("jane.doe@example.com", "jdoe_77", "198.51.100.23"):
        assert identity not in prepared.payload_json + prepared.data_json, identity
    # a project's override wins over the setting
    kept = prepare_event(
        1, _event_with_user(), normalize_sentry_event, received_at=NOW, scrub_user_data=False
    )
    assert json.loads(kept.data_json)["user"]["email"] == "jane.doe@example.com"


def test_store_client_ip_false_replaces_only_the_client_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_CLIENT_IP", "false")
    get_settings.cache_clear()
    prepared, _ = stored_and_sent(_event_with_user())
    payload, data = json.loads(prepared.payload_json), json.loads(prepared.data_json)
    for stored in (payload, data):
        assert stored["user"] == {**_event_with_user()["user"], "ip_address": "[ip]"}
        assert stored["request"]["env"]["REMOTE_ADDR"] == "[ip]"
        assert stored["request"]["headers"]["X-Real-IP"] == "[ip]"
    # the address in the error message is the server's story, not the user's identity
    assert "backend 172.18.0.3:5432 is down" in data["message"]


# --- one set of rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pre_context", "expected"),
    [
        # a [name, value] pair of lines: the value goes, in every copy
        (["password", "hunter2"], ["password", "[Filtered]"]),
        (
            ["    db = connect(", "        password='hunter2')"],
            ["    db = connect(", "        password='[Filtered]')"],
        ),
        # source lines that mention a secret's name are no pair: kept as written, in every copy
        (
            ["def login(user, password):", "    return check(user, password)"],
            ["def login(user, password):", "    return check(user, password)"],
        ),
    ],
)
def test_source_lines_read_the_same_in_the_payload_the_event_and_the_prompt(
    pre_context: list[str], expected: list[str]
) -> None:
    e = base_event()
    _frame(e)["pre_context"] = pre_context
    prepared, prompt = stored_and_sent(e)
    payload, data = json.loads(prepared.payload_json), json.loads(prepared.data_json)
    assert _frame(payload)["pre_context"] == expected
    assert data["exceptions"][0]["frames"][0]["pre_context"] == expected
    for line in expected:
        assert line in prompt
