"""Facts: values pulled out of an event to fill a rule's templates, and the template filling itself.

Templates use `{fact}` placeholders (a missing fact falls back to the rule's `defaults`, then to
`FACT_DEFAULTS`) and `[[ ... ]]` optional segments, kept only when every fact inside is known. Every fact
taken from the event goes into a code span (`markdown.code_span`), so rendering can never be steered by
event text; only the facts named in TRUSTED_FACTS (or a rule's `trusted`) are our own words.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlsplit

from app.analysis.markdown import code_span
from app.analysis.providers.heuristic.advice import ADVICE_NAMES, advice_for
from app.analysis.providers.heuristic.platform import runtime_of
from app.analysis.providers.heuristic.rule import Evidence, Exc, Rule
from app.events.model import Frame

# Plain-text fallbacks for facts the event does not give.
FACT_DEFAULTS: dict[str, str] = {
    "addr": "its configured address",
    "host": "the remote host",
    "url": "the upstream service",
    "path": "the file",
    "key": "the key",
    "module": "the module",
    "name": "the setting",
    "culprit": "the raising line",
    "route": "this endpoint",
    "db": "the database",
    "timeout": "the configured timeout",
    "error": "the error",
    "nullish": "null/None",
    "upstream_status": "an error status",
    "constraint": "a unique constraint",
    "columns": "the unique columns",
}

# Tried in order, over the matched exception's value first, then all of the event's text.
EXTRACTORS: dict[str, tuple[str, ...]] = {
    "url": (r"(?P<url>https?://[^\s'\"<>()\[\]{}`,]+)",),
    "addr": (
        r"connection to server at \"(?P<host>[^\"\n]+)\"(?: \([^)\n]*\))?, port (?P<port>\d+)",
        r"host='(?P<host>[^'\n]+)', port=(?P<port>\d+)",
        r"on host \"(?P<host>[^\"\n]+)\"[^?]{0,120}?on port (?P<port>\d+)",
        r"(?:ECONNREFUSED|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|dial tcp|connecting to|connect to|Connection to"
        r"|Error connecting to Redis on|connect to host|open TCP connection to|reading from)"
        r" (?P<addr>\[?[\w.:-]{1,253}?\]?:\d{1,5})\b",
        r"MySQL server on '(?P<addr>[^'\n]+)'",
        r"\b(?P<addr>(?:\d{1,3}\.){3}\d{1,3}:\d{2,5})\b",
    ),
    "host": (
        r"host='(?P<host>[^'\n]+)'",
        r"Failed to resolve '(?P<host>[^'\n]+)'",
        r"(?:ENOTFOUND|EAI_AGAIN) (?P<host>[\w.-]+)",
        r"lookup (?P<host>[\w.-]+)(?: on \S+)?: no such host",
        r"could not translate host name \"(?P<host>[^\"\n]+)\"",
        r"Connection to (?P<host>[\w.-]+) timed out",
    ),
    "path": (
        r"No such file or directory: '(?P<path>[^'\n]+)'",
        r"Permission denied: '(?P<path>[^'\n]+)'",
        r"(?:ENOENT|EACCES|ENOSPC): [^,\n]+, \w+ '(?P<path>[^'\n]+)'",
    ),
    "timeout": (
        r"\((?:read |connect )?timeout=(?P<timeout>[\d.]+)\)",
        r"timed out after (?P<timeout>\d+(?:\.\d+)? ?(?:ms|s|sec|seconds?))\b",
        r"timeout of (?P<timeout>\d+ ?ms) exceeded",
    ),
}

SERVICE_PORTS = {
    "5432": "PostgreSQL",
    "3306": "MySQL",
    "1433": "SQL Server",
    "1521": "Oracle",
    "6379": "Redis",
    "27017": "MongoDB",
    "5672": "RabbitMQ",
    "9200": "Elasticsearch",
    "11211": "Memcached",
    "9092": "Kafka",
    "2181": "ZooKeeper",
    "8500": "Consul",
}

DB_ENGINES = (
    (
        "PostgreSQL",
        r"postgres|psycopg|asyncpg|\bPG::|\bpq: |libpq|PSQLException|pg_hba|\bpg8000\b|:5432\b|port 5432",
    ),
    ("MySQL", r"mysql|mariadb|pymysql|:3306\b|\((?:1040|1045|1062|1205|1213|1452|2002|2003|2006|2013),"),
    ("SQLite", r"sqlite"),
    ("SQL Server", r"sql ?server|mssql|pyodbc|:1433\b"),
    ("Oracle", r"\boracle\b|\bORA-\d+"),
    ("MongoDB", r"mongo|E11000"),
)

# Facts we compute ourselves (trusted text); every other fact is event text and goes in a code span.
# The advice phrases (advice.ADVICE_NAMES) are ours too.
TRUSTED_FACTS = frozenset({"db", "service", "status", "runtime"})

_OPTIONAL = re.compile(r"\[\[(.+?)\]\]", re.S)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TRAILING_DIGITS = re.compile(r"\d+$")

MAX_TEXT = 4000  # characters of each message/value/stack the rules look at


@cache
def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


@cache
def type_rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def clip(text: str | None) -> str:
    return (text or "")[:MAX_TEXT]


def groups(match: re.Match[str]) -> dict[str, str]:
    return {
        _TRAILING_DIGITS.sub("", name): value.strip()
        for name, value in match.groupdict().items()
        if value and value.strip()
    }


def culprit_frame(ev: Evidence, exc: Exc | None) -> Frame | None:
    chains = ([exc] if exc else []) + list(reversed(ev.exceptions))
    for chain in chains:
        in_app = [f for f in chain.frames if f.in_app]
        if in_app:
            return in_app[-1]
    for chain in chains:
        usable = [f for f in chain.frames if f.in_app is not False] or chain.frames
        if usable:
            return usable[-1]
    return None


def describe_frame(frame: Frame) -> str | None:
    where = frame.filename or frame.abs_path or frame.module
    if not where:
        return frame.function
    if frame.lineno:
        where = f"{where}:{frame.lineno}"
    return f"{where} in {frame.function}" if frame.function else where


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def raw_facts(ev: Evidence, exc: Exc | None, found: dict[str, str], rule: Rule | None) -> dict[str, str]:
    """The facts for the templates, as raw event text: what the signature captured, what the extractors
    find, what the engine knows of every event (database, culprit, route, status) and the rule's own."""
    facts = dict(found)
    scope = (exc.value + "\n" if exc else "") + ev.text
    for name, patterns in EXTRACTORS.items():
        if name in facts:
            continue
        for pattern in patterns:
            match = rx(pattern).search(scope)
            if match:
                facts = {**groups(match), **facts}
                break
    if "addr" not in facts and "host" in facts and "port" in facts:
        facts["addr"] = f"{facts['host']}:{facts['port']}"
    if "addr" in facts:
        host, _, port = facts["addr"].rpartition(":")
        if port.isdigit() and host:
            facts.setdefault("host", host.strip("[]"))
            facts.setdefault("port", port)
    if "url" in facts:
        facts["url"] = facts["url"].split("?", 1)[0].rstrip(".;:'\"")
        facts.setdefault("host", urlsplit(facts["url"]).hostname or "")
    if facts.get("port") in SERVICE_PORTS:
        facts["service"] = SERVICE_PORTS[facts["port"]]
    if facts.get("timeout", "").replace(".", "", 1).isdigit():
        facts["timeout"] += " s"
    where = " ".join([ev.text, ev.code, *(e.full_type for e in ev.exceptions)])
    facts["db"] = next((name for name, pattern in DB_ENGINES if rx(pattern).search(where)), "")

    error_source = exc.line if exc else (ev.lines[0][0] if ev.lines else "")
    facts["error"] = first_line(error_source)
    frame = culprit_frame(ev, exc)
    if frame is not None:
        facts["culprit"] = describe_frame(frame) or ""
        facts["context_line"] = (frame.context_line or "").strip()
    facts["route"] = ev.route or ""
    if ev.event.status_code is not None:
        facts["status"] = str(ev.event.status_code)
    runtime = runtime_of(ev.event)
    facts["runtime"] = runtime.label
    for name, text in advice_for(runtime).items():
        facts.setdefault(name, text)
    if rule is not None and rule.derive is not None:
        facts.update(rule.derive(ev, facts))
    return {name: value for name, value in facts.items() if value}


def render_facts(raw: dict[str, str], rule: Rule | None) -> dict[str, str]:
    """Facts as markdown: event text in code spans, our own text (TRUSTED_FACTS, the rule's) as is."""
    trusted = TRUSTED_FACTS | rule.trusted if rule is not None else TRUSTED_FACTS
    trusted |= ADVICE_NAMES
    return {name: value if name in trusted else code_span(value) for name, value in raw.items()}


def fill(template: str, facts: dict[str, str], defaults: dict[str, str]) -> str:
    def optional(match: re.Match[str]) -> str:
        segment = match.group(1)
        if all(facts.get(name) for name in _PLACEHOLDER.findall(segment)):
            return _PLACEHOLDER.sub(lambda m: facts[m.group(1)], segment)
        return ""

    def required(match: re.Match[str]) -> str:
        name = match.group(1)
        return facts.get(name) or defaults.get(name) or FACT_DEFAULTS.get(name, "")

    return _PLACEHOLDER.sub(required, _OPTIONAL.sub(optional, template))
