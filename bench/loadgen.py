"""Load generator: realistic Sentry envelopes (or seed JSON events) sent over N keep-alive connections.

Events are spread over G groups. Everything a grouping algorithm could look at (exception type and
value, every frame's module/function/file/line, transaction, message, logger, level, platform,
release, environment, tags, fingerprint) is fixed per group, so exactly G issues must result. What
varies per event is what varies in real traffic and groups on nothing: event_id, timestamps, the
trace context, the request id, the user and the local variables' values.

Bodies are built and gzip-compressed before the clock starts, so the generator spends its time on
the wire. The default client is a minimal HTTP/1.1 client, an asyncio protocol (keep-alive,
Content-Length and chunked responses, reconnect when the server closes), on uvloop when it is
installed; `--client httpx` uses httpx instead, to cross-check. Loopback only; bounded by the event
count and by seconds.

    python bench/loadgen.py --dsn http://KEY@127.0.0.1:8765/1 --events 5000 --connections 16 --groups 20
    python bench/loadgen.py --seed-url http://127.0.0.1:8000 --project-key KEY --events 5000
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import ipaddress
import json
import random
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

SDK = {"name": "sentry.python.django", "version": "2.75.0"}

# Building blocks for the groups. Group g picks from these deterministically, and g itself is folded
# into the in-app function names and the exception value, so G groups are always G distinct errors.
_AREAS = ["orders", "billing", "catalog", "accounts", "shipping", "search", "cart", "inventory"]
_VERBS = ["create", "update", "refund", "sync", "render", "validate", "reserve", "export"]
_ERRORS = [
    ("KeyError", "builtins", "'{field}_id'"),
    ("ValueError", "builtins", "invalid literal for int() with base 10: '{field}'"),
    ("TypeError", "builtins", "unsupported operand type(s) for +: 'NoneType' and '{field}'"),
    ("AttributeError", "builtins", "'NoneType' object has no attribute '{field}'"),
    ("ZeroDivisionError", "builtins", "division by zero in {field} ratio"),
    ("IntegrityError", "django.db.utils", 'duplicate key value violates unique constraint "{field}_key"'),
    ("OperationalError", "django.db.utils", "could not serialize access to {field} due to update"),
    ("TimeoutError", "builtins", "upstream {field} service timed out"),
    ("ConnectionError", "requests.exceptions", "connection to {field}-api refused"),
    ("PermissionError", "builtins", "{field} is read-only for this tenant"),
]
_FIELDS = ["customer", "sku", "coupon", "invoice", "warehouse", "carrier", "price", "currency", "address"]

# Library frames (caller first) that wrap the in-app ones, as in a Django request.
_LIB_FRAMES_TOP = [
    ("django/core/handlers/exception.py", "django.core.handlers.exception", "inner", 55),
    ("django/core/handlers/base.py", "django.core.handlers.base", "_get_response", 197),
    ("django/views/generic/base.py", "django.views.generic.base", "view", 104),
    ("rest_framework/views.py", "rest_framework.views", "dispatch", 509),
]
_LIB_FRAMES_BOTTOM = [
    ("django/db/models/query.py", "django.db.models.query", "get", 633),
    ("django/db/backends/utils.py", "django.db.backends.utils", "_execute", 89),
]


def _source_lines(module: str, function: str, lineno: int) -> tuple[list[str], str, list[str]]:
    """Plausible pre/context/post lines for a frame; fixed for a given frame."""
    pre = [
        f"    def {function}(self, request, *args, **kwargs):",
        "        payload = self.parse_payload(request)",
        "        obj = self.get_object_for_update(payload, tenant=request.tenant)",
    ]
    ctx = f"        result = self.service.{function}(obj, payload, actor=request.user)"
    post = [
        "        return Response(self.serializer_class(result).data, status=200)",
    ]
    return pre, ctx, post


@dataclass(frozen=True)
class Group:
    """The fixed identity of one group: everything a grouper may use."""

    index: int
    exc_type: str
    exc_module: str
    exc_value: str
    transaction: str
    path: str
    in_app: tuple[tuple[str, str, str, int], ...]  # (filename, module, function, lineno), caller first
    tags: tuple[tuple[str, str], ...]


def make_group(g: int) -> Group:
    """The deterministic identity of group number g."""
    area = _AREAS[g % len(_AREAS)]
    verb = _VERBS[(g // len(_AREAS)) % len(_VERBS)]
    exc_type, exc_module, value_tpl = _ERRORS[g % len(_ERRORS)]
    fld = _FIELDS[g % len(_FIELDS)]
    in_app = (
        (f"shop/{area}/views.py", f"shop.{area}.views", f"{verb}_{area}_view_g{g}", 41 + g % 7),
        (f"shop/{area}/services.py", f"shop.{area}.services", f"{verb}_{area}_g{g}", 118 + g % 13),
        (f"shop/{area}/domain.py", f"shop.{area}.domain", f"apply_{fld}_rules_g{g}", 77 + g % 5),
        (f"shop/{area}/repository.py", f"shop.{area}.repository", f"load_{fld}_g{g}", 23 + g % 11),
    )
    return Group(
        index=g,
        exc_type=exc_type,
        exc_module=exc_module,
        exc_value=value_tpl.format(field=f"{fld}{g}"),
        transaction=f"/api/{area}/{{{fld}_id}}/{verb}/g{g}",
        path=f"/api/{area}/{g}/{verb}",
        in_app=in_app,
        tags=(("area", area), ("operation", verb), ("tenant", "acme"), ("http.status_code", "500")),
    )


def _frames(group: Group, rng: random.Random) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for filename, module, function, lineno in _LIB_FRAMES_TOP:
        frames.append(
            {
                "filename": filename,
                "abs_path": f"/usr/local/lib/python3.12/site-packages/{filename}",
                "module": module,
                "function": function,
                "lineno": lineno,
                "in_app": False,
                "context_line": "    response = handler(request)",
            }
        )
    for filename, module, function, lineno in group.in_app:
        pre, ctx, post = _source_lines(module, function, lineno)
        frames.append(
            {
                "filename": filename,
                "abs_path": f"/srv/app/{filename}",
                "module": module,
                "function": function,
                "lineno": lineno,
                "in_app": True,
                "pre_context": pre,
                "context_line": ctx,
                "post_context": post,
                "vars": {
                    "payload": {
                        "id": rng.randint(1, 10**9),
                        "qty": rng.randint(1, 9),
                        "note": "expedite",
                        "currency": "EUR",
                    },
                    "obj_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "attempt": rng.randint(1, 3),
                    "kwargs": {"pk": str(rng.randint(1, 10**6))},
                },
            }
        )
    for filename, module, function, lineno in _LIB_FRAMES_BOTTOM:
        frames.append(
            {
                "filename": filename,
                "abs_path": f"/usr/local/lib/python3.12/site-packages/{filename}",
                "module": module,
                "function": function,
                "lineno": lineno,
                "in_app": False,
                "context_line": "    return self.cursor.execute(sql)",
            }
        )
    return frames


def _breadcrumbs(now: datetime, rng: random.Random) -> list[dict[str, Any]]:
    crumbs = []
    for i in range(4):
        ts = (now - timedelta(milliseconds=(4 - i) * 37)).isoformat()
        if i % 3 == 0:
            crumbs.append(
                {
                    "type": "default",
                    "category": "query",
                    "level": "info",
                    "timestamp": ts,
                    "message": 'SELECT "shop_order"."id", "shop_order"."status" FROM "shop_order" WHERE id = %s',  # noqa: E501
                    "data": {"duration_ms": rng.randint(1, 40)},
                }
            )
        elif i % 3 == 1:
            crumbs.append(
                {
                    "type": "http",
                    "category": "httplib",
                    "level": "info",
                    "timestamp": ts,
                    "data": {"url": "http://pricing.internal/v2/quote", "method": "POST", "status_code": 200},
                }
            )
        else:
            crumbs.append(
                {
                    "type": "default",
                    "category": "shop.audit",
                    "level": "info",
                    "timestamp": ts,
                    "message": "loaded tenant settings",
                }
            )
    return crumbs


def build_event(group: Group, rng: random.Random) -> dict[str, Any]:
    """One Sentry error event of `group`, with fresh event_id, timestamps, trace and variables."""
    now = datetime.now(UTC)
    request_id = uuid.UUID(int=rng.getrandbits(128)).hex
    user_n = rng.randint(1, 200)
    return {
        "event_id": uuid.uuid4().hex,
        "timestamp": now.isoformat(),
        "platform": "python",
        "level": "error",
        "logger": "django.request",
        "transaction": group.transaction,
        "server_name": "web-1",
        "release": "shop@1.4.2",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": group.exc_type,
                    "value": group.exc_value,
                    "module": group.exc_module,
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {"frames": _frames(group, rng)},
                }
            ]
        },
        "request": {
            "url": f"https://shop.example.com{group.path}",
            "method": "POST",
            "query_string": "expand=items&format=json",
            "headers": {
                "Host": "shop.example.com",
                "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "X-Request-Id": request_id,
                "X-Forwarded-Proto": "https",
            },
            "data": {"items": [{"sku": "SKU-1", "qty": 1}], "coupon": None},
            "env": {"REMOTE_ADDR": "10.0.0.12", "SERVER_NAME": "web-1", "SERVER_PORT": "8000"},
        },
        "tags": dict(group.tags),
        "user": {"id": str(user_n), "username": f"user{user_n}", "ip_address": "203.0.113.7"},
        "breadcrumbs": {"values": _breadcrumbs(now, rng)},
        "contexts": {
            "os": {"name": "Linux", "version": "6.1.0"},
            "runtime": {"name": "CPython", "version": "3.12.4"},
            "trace": {
                "trace_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "span_id": f"{rng.getrandbits(64):016x}",
                "op": "http.server",
                "status": "internal_error",
            },
            "response": {"status_code": 500},
        },
        "extra": {"sys.argv": ["gunicorn", "shop.wsgi"], "worker": "sync"},
        "modules": {
            "django": "5.0.6",
            "djangorestframework": "3.15.1",
            "psycopg": "3.1.19",
            "requests": "2.32.3",
        },
        "sdk": {**SDK, "integrations": ["django", "logging", "stdlib"]},
    }


def envelope_bytes(event: dict[str, Any], dsn: str) -> bytes:
    """The raw (uncompressed) envelope carrying `event`, the way the Python SDK frames it."""
    payload = json.dumps(event, separators=(",", ":")).encode()
    header = {"event_id": event["event_id"], "sent_at": datetime.now(UTC).isoformat(), "dsn": dsn, "sdk": SDK}
    item = {"type": "event", "content_type": "application/json", "length": len(payload)}
    return b"\n".join([json.dumps(header).encode(), json.dumps(item).encode(), payload]) + b"\n"


def seed_json_bytes(group: Group, project_key: str, rng: random.Random) -> bytes:
    """One event for the seed's JSON endpoint; message, stack, method, path, status fixed per group."""
    stack_lines = ["Traceback (most recent call last):"]
    for filename, _module, function, lineno in group.in_app:
        stack_lines.append(f'  File "/srv/app/{filename}", line {lineno}, in {function}')
        stack_lines.append(f"    result = self.service.{function}(obj, payload, actor=request.user)")
    stack_lines.append(f"{group.exc_type}: {group.exc_value}")
    body = {
        "project_key": project_key,
        "message": f"{group.exc_type}: {group.exc_value}",
        "stack": "\n".join(stack_lines),
        "method": "POST",
        "path": group.path,
        "status_code": 500,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(body).encode()


@dataclass
class Target:
    """Where and how to send: URL parts, fixed headers and the pre-built bodies."""

    host: str
    port: int
    path: str
    headers: dict[str, str]
    bodies: list[bytes]
    raw_sizes: list[int] = field(default_factory=list)


def _check_loopback(host: str) -> None:
    addr = socket.gethostbyname(host)
    if not ipaddress.ip_address(addr).is_loopback:
        raise SystemExit(f"refusing to send load to non-loopback address {host} ({addr})")


def parse_dsn(dsn: str) -> tuple[str, str, int, str]:
    """(public_key, host, port, project_id) from a DSN."""
    parts = urlsplit(dsn)
    if not parts.username or not parts.hostname:
        raise ValueError(f"bad DSN: {dsn}")
    project_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return parts.username, parts.hostname, parts.port or 80, project_id


def envelope_target(dsn: str, events: int, groups: int, seed: int = 1, group_offset: int = 0) -> Target:
    """Pre-built gzip envelopes for `events` events over `groups` groups, round-robin."""
    key, host, port, project_id = parse_dsn(dsn)
    _check_loopback(host)
    rng = random.Random(seed)
    gs = [make_group(group_offset + g) for g in range(groups)]
    bodies, raw = [], []
    for i in range(events):
        env = envelope_bytes(build_event(gs[i % groups], rng), dsn)
        raw.append(len(env))
        bodies.append(gzip.compress(env, compresslevel=6))
    headers = {
        "Host": f"{host}:{port}",
        "Content-Type": "application/x-sentry-envelope",
        "Content-Encoding": "gzip",
        "X-Sentry-Auth": (
            f"Sentry sentry_version=7, sentry_client={SDK['name']}/{SDK['version']}, sentry_key={key}"
        ),
        "User-Agent": f"{SDK['name']}/{SDK['version']}",
    }
    return Target(host, port, f"/api/{project_id}/envelope/", headers, bodies, raw)


def seed_target(
    base_url: str, project_key: str, events: int, groups: int, seed: int = 1, group_offset: int = 0
) -> Target:
    """Pre-built seed JSON bodies for POST /api/v1/events."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    _check_loopback(host)
    rng = random.Random(seed)
    gs = [make_group(group_offset + g) for g in range(groups)]
    bodies = [seed_json_bytes(gs[i % groups], project_key, rng) for i in range(events)]
    headers = {"Host": f"{host}:{port}", "Content-Type": "application/json", "User-Agent": "faultline-bench"}
    return Target(host, port, "/api/v1/events", headers, bodies, [len(b) for b in bodies])


def _header(lower_head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` in a lowercased response head, or None (one search, no split)."""
    at = lower_head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    end = lower_head.find(b"\r\n", start)
    return lower_head[start : end if end >= 0 else None].strip()


class _Unanswered(Exception):
    """The server closed the connection before a byte of the response came back."""


class _ResponseReader(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection as a protocol: each response is parsed where its bytes
    arrive, with no stream machinery between (the generator's CPU is taken from the server)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None  # (status, server closes)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._answer()

    def eof_received(self) -> bool:
        self.closed = True
        self._answer()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._answer()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            error = (
                _Unanswered() if not self.buffer else asyncio.IncompleteReadError(bytes(self.buffer), None)
            )
            waiter.set_exception(error)

    def _answer(self) -> None:
        """Complete the waiting request once its whole response is buffered."""
        waiter, buf = self.waiter, self.buffer
        if waiter is None or waiter.done():
            return
        head_end = buf.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(buf[: head_end + 4])
        status_line = head[: head.find(b"\r\n")]
        lower = head.lower()
        length_text = _header(lower, b"content-length")
        chunked = b"chunked" in (_header(lower, b"transfer-encoding") or b"")
        connection = _header(lower, b"connection")
        close = connection == b"close" if connection is not None else status_line.startswith(b"HTTP/1.0")
        body_end = _body_end(buf, head_end + 4, chunked, length_text, self.closed)
        if body_end is None:
            return
        if not chunked and length_text is None:
            close = True  # the body ended where the server closed
        del buf[:body_end]
        waiter.set_result((int(status_line.split(b" ", 2)[1]), close))


def _body_end(
    buf: bytearray, start: int, chunked: bool, length_text: bytes | None, closed: bool
) -> int | None:
    """Where the response body starting at `start` ends in `buf`, or None while it is incomplete."""
    if chunked:
        pos = start
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
            pos = line_end + 2 + size + 2
            if pos > len(buf):
                return None
            if size == 0:
                return pos
    if length_text is not None:
        end = start + int(length_text)
        return end if end <= len(buf) else None
    return len(buf) if closed else None


class _Conn:
    """A connection slot: reconnects when the server closed, retries a request it never saw once."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: _ResponseReader | None = None
        self.connects = 0

    async def _open(self) -> _ResponseReader:
        transport, reader = await asyncio.get_running_loop().create_connection(
            _ResponseReader, self.host, self.port
        )
        reader.transport = transport  # uvloop may call connection_made only after this returns
        self.reader = reader
        self.connects += 1
        return reader

    def close(self) -> None:
        if self.reader is not None and self.reader.transport is not None:
            self.reader.transport.close()
        self.reader = None

    async def request(self, message: bytes) -> int:
        """Send one whole request; return the status. Retries once if a reused connection was closed idle."""
        for attempt in (0, 1):
            reader = self.reader
            reused = reader is not None and not reader.closed
            if reader is None or not reused:
                self.close()
                reader = await self._open()
            assert reader.transport is not None
            reader.waiter = asyncio.get_running_loop().create_future()
            reader.transport.write(message)
            try:
                status, close = await reader.waiter
            except _Unanswered:
                # The server closed a kept-alive connection before answering: the request was not seen.
                self.close()
                if reused and attempt == 0:
                    continue
                raise ConnectionResetError("connection closed before response") from None
            if close:
                self.close()
            return status
        raise ConnectionResetError("unreachable")


@dataclass
class LoadResult:
    """What one load run observed at the client."""

    sent: int
    status: Counter[str]
    latencies: list[float]  # seconds, every completed request
    t_first_send: float  # wall clock (time.time())
    t_last_response: float
    connects: int
    raw_bytes_mean: float
    body_bytes_mean: float
    timed_out: bool

    @property
    def accepted(self) -> int:
        """Requests answered 2xx."""
        return sum(n for s, n in self.status.items() if s.isdigit() and 200 <= int(s) < 300)

    @property
    def duration(self) -> float:
        """Seconds from the first send to the last response."""
        return max(self.t_last_response - self.t_first_send, 1e-9)

    @property
    def accepted_per_s(self) -> float:
        """2xx answers per second over the send window."""
        return self.accepted / self.duration

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        k = min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))
        return xs[k] * 1000

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "status": dict(self.status),
            "duration_s": round(self.duration, 3),
            "accepted_per_s": round(self.accepted_per_s, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "connects": self.connects,
            "raw_bytes_mean": round(self.raw_bytes_mean),
            "body_bytes_mean": round(self.body_bytes_mean),
            "timed_out": self.timed_out,
        }


async def _run_raw(
    target: Target, connections: int, max_seconds: float, req_timeout: float
) -> tuple[Counter[str], list[float], int, int, float, float, bool]:
    head_base = f"POST {target.path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in target.headers.items()
    )
    status: Counter[str] = Counter()
    latencies: list[float] = []
    next_i = 0
    sent = 0
    last = 0.0
    conns = [_Conn(target.host, target.port) for _ in range(connections)]
    deadline = time.monotonic() + max_seconds

    # Whole requests built before the clock starts, like the bodies: the generator's CPU per request
    # is taken from the server under test on a shared machine.
    messages = [f"{head_base}Content-Length: {len(body)}\r\n\r\n".encode() + body for body in target.bodies]

    async def worker(conn: _Conn) -> None:
        nonlocal next_i, sent, last
        while next_i < len(messages) and time.monotonic() < deadline:
            message = messages[next_i]
            next_i += 1
            t0 = time.perf_counter()
            sent += 1
            try:
                async with asyncio.timeout(req_timeout):  # no task per request, unlike wait_for
                    code = await conn.request(message)
                status[str(code)] += 1
            except TimeoutError:
                status["timeout"] += 1
                conn.close()
            except (ConnectionError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
                status[f"error:{type(exc).__name__}"] += 1
                conn.close()
            latencies.append(time.perf_counter() - t0)
            last = time.time()

    t_first = time.time()
    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.close()
    timed_out = next_i < len(target.bodies)
    return status, latencies, sent, sum(c.connects for c in conns), t_first, last or time.time(), timed_out


async def _run_httpx(
    target: Target, connections: int, max_seconds: float, req_timeout: float
) -> tuple[Counter[str], list[float], int, int, float, float, bool]:
    import httpx

    status: Counter[str] = Counter()
    latencies: list[float] = []
    next_i = 0
    sent = 0
    last = 0.0
    deadline = time.monotonic() + max_seconds
    url = f"http://{target.host}:{target.port}{target.path}"
    headers = {k: v for k, v in target.headers.items() if k != "Host"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=req_timeout, headers=headers) as client:

        async def worker() -> None:
            nonlocal next_i, sent, last
            while next_i < len(target.bodies) and time.monotonic() < deadline:
                body = target.bodies[next_i]
                next_i += 1
                t0 = time.perf_counter()
                sent += 1
                try:
                    resp = await client.post(url, content=body)
                    status[str(resp.status_code)] += 1
                except httpx.TimeoutException:
                    status["timeout"] += 1
                except httpx.HTTPError as exc:
                    status[f"error:{type(exc).__name__}"] += 1
                latencies.append(time.perf_counter() - t0)
                last = time.time()

        t_first = time.time()
        await asyncio.gather(*(worker() for _ in range(connections)))
    timed_out = next_i < len(target.bodies)
    return status, latencies, sent, -1, t_first, last or time.time(), timed_out


def run_load(
    target: Target,
    connections: int,
    max_seconds: float = 120.0,
    timeout: float = 30.0,
    client: str = "raw",
    loop: str = "auto",
) -> LoadResult:
    """Send every pre-built body over `connections` connections; stop early after `max_seconds`.

    `loop`: "auto" is uvloop when installed (the generator shares the machine with the server
    under test, so the less CPU it spends per request the less it takes from any peer), else
    asyncio; "asyncio" forces the standard loop, to compare.
    """
    runner = _run_raw if client == "raw" else _run_httpx
    run = asyncio.run
    if loop == "auto":
        try:
            import uvloop

            run = uvloop.run
        except ImportError:
            pass
    status, lat, sent, connects, t0, t1, timed_out = run(runner(target, connections, max_seconds, timeout))
    n = max(len(target.bodies), 1)
    return LoadResult(
        sent=sent,
        status=status,
        latencies=lat,
        t_first_send=t0,
        t_last_response=t1,
        connects=connects,
        raw_bytes_mean=sum(target.raw_sizes) / n,
        body_bytes_mean=sum(len(b) for b in target.bodies) / n,
        timed_out=timed_out,
    )


def main() -> None:
    """CLI: send one load and print its client-side summary as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", help="Sentry DSN (envelope mode)")
    ap.add_argument("--seed-url", help="base URL for the seed JSON endpoint POST /api/v1/events")
    ap.add_argument("--project-key", help="project_key for seed JSON mode")
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--client", choices=["raw", "httpx"], default="raw")
    ap.add_argument("--loop", choices=["auto", "asyncio"], default="auto", help="auto: uvloop if installed")
    args = ap.parse_args()
    if args.dsn:
        target = envelope_target(args.dsn, args.events, args.groups)
    elif args.seed_url and args.project_key:
        target = seed_target(args.seed_url, args.project_key, args.events, args.groups)
    else:
        ap.error("give --dsn, or --seed-url with --project-key")
    res = run_load(target, args.connections, args.max_seconds, args.timeout, args.client, args.loop)
    print(json.dumps(res.summary(), indent=2))


if __name__ == "__main__":
    main()
