"""A fake OpenAI- and Anthropic-compatible LLM server: real HTTP on 127.0.0.1, scriptable per test.

In-process (tests; the fixtures in `tests/fake_llm/fixtures.py` wrap this):

    server = FakeLLMServer(latency_s=0).start()      # free port, background thread
    server.script("rate_limit", {"kind": "good", "answer": {"severity": "low"}})
    OpenAIProvider(base_url=server.openai_base_url, model="m", ...)     # {url}/v1
    AnthropicProvider(base_url=server.anthropic_base_url, model="m", ...)  # {url}
    server.requests, server.call_count, server.reset(), server.stop()

The socket is real, so other processes (a Celery worker in end-to-end tests) reach it too.

Standalone (benchmarks, other processes):

    python -m tests.fake_llm.server --port 0 --latency 2 [--default good] [--host 127.0.0.1]

prints its base URL (`http://127.0.0.1:PORT`) as the first line of stdout and serves until
SIGTERM or SIGINT. `FakeLLMProcess` starts one and drives it through the control API.

LLM endpoints:
    POST /v1/chat/completions and /chat/completions   OpenAI chat completions
    POST /v1/messages                                 Anthropic messages

Control API (JSON in and out; control calls are not recorded or counted):
    POST /_control/script    [behaviour, ...] or {"behaviours": [...]}: appended to the queue
    POST /_control/config    {"default": behaviour, "latency_s": 2.0}: either key optional
    POST /_control/reset     empty the queue, forget requests, default back to "good",
                             latency back to the start value, cut short any hanging answer
    GET  /_control/requests  {"call_count": n, "requests": [{"path", "headers", "body", "body_text"}]}
    GET  /_control/health    {"ok": true}

Each LLM call takes the next queued behaviour, or the default when the queue is empty. A
behaviour is a name or {"kind": name, ...params}:
    good                  200 with the answer JSON as the message text; params: answer (merged
                          over DEFAULT_ANSWER), model (reported model; default "<requested>-fake"),
                          tokens_in / tokens_out (reported usage; default chars / 4),
                          finish_reason (OpenAI) / stop_reason (Anthropic)
    fenced                the answer inside ```json fences with prose around it
    extra_keys            the answer plus keys the schema does not have
    malformed             prose with a broken JSON object
    text                  200 with params.content as the message text (same params as good)
    rate_limit            429; params: retry_after (Retry-After header, default "3"), retry_after_ms
    quota                 OpenAI: 429 insufficient_quota; Anthropic: 400 "credit balance is too low"
    server_error          500 (params.status for another 5xx)
    overloaded            529 overloaded_error
    unauthorized          401 whose message echoes the API key it received (as OpenAI does)
    hang                  say nothing for params.seconds (default 30), then answer as "good"
    disconnect            close the connection without answering
    reject_response_format  400 naming response_format if the request has one, else "good"
    status                params.status with params.body (JSON object or text) and params.headers
A fixed latency (constructor, --latency, or config latency_s) delays every LLM answer.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

DEFAULT_ANSWER: dict[str, Any] = {
    "summary": "GET /api/users fails because the database connection pool is exhausted.",
    "root_cause": "get_user in app/views.py opens a connection per request and never returns it to the pool.",
    "suggested_fix": "Use the connection as a context manager so it is returned to the pool.",
    "severity": "high",
    "category": "database",
    "confidence": 0.82,
}
Behaviour = str | dict[str, Any]
_OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
_ANTHROPIC_PATHS = ("/v1/messages",)


@dataclass(frozen=True)
class RecordedRequest:
    """One LLM call as the server received it."""

    path: str
    headers: dict[str, str]
    body: Any
    body_text: str

    @property
    def api(self) -> str:
        return "anthropic" if self.path in _ANTHROPIC_PATHS else "openai"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "headers": self.headers, "body": self.body, "body_text": self.body_text}


class FakeLLMServer:
    """The server and its script; thread-safe, one instance per port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, latency_s: float = 0.0, default: Behaviour = "good"
    ) -> None:
        self._lock = threading.Lock()
        self._queue: deque[dict[str, Any]] = deque()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0  # the most LLM requests answered at the same time since the reset
        self._start_latency = float(latency_s)
        self._start_default = _as_behaviour(default)
        self.latency_s = self._start_latency
        self._default = self._start_default
        self._wake = threading.Event()  # set to cut short hangs and latency waits
        self._httpd = _Server((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> FakeLLMServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._wake.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting ----------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next calls, in order."""
        with self._lock:
            self._queue.extend(_as_behaviour(b) for b in behaviours)

    def set_default(self, behaviour: Behaviour) -> None:
        """What calls get once the queue is empty."""
        with self._lock:
            self._default = _as_behaviour(behaviour)

    def reset(self) -> None:
        """Empty queue and records, default "good", start latency; hanging answers are released."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._max_in_flight = 0
            self._default = self._start_default
            self.latency_s = self._start_latency
            old, self._wake = self._wake, threading.Event()
        old.set()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most LLM requests that were being answered at one time (since the last reset)."""
        with self._lock:
            return self._max_in_flight

    # --- used by the handler ------------------------------------------------------------------

    def _take(self, request: RecordedRequest) -> tuple[dict[str, Any], threading.Event, float]:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            behaviour = self._queue.popleft() if self._queue else self._default
            return copy.deepcopy(behaviour), self._wake, self.latency_s

    def _answered(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "GET" and path == "/_control/health":
            return 200, {"ok": True}
        if method == "GET" and path == "/_control/requests":
            reqs = self.requests
            return 200, {"call_count": len(reqs), "requests": [r.to_dict() for r in reqs]}
        if method == "POST" and path == "/_control/reset":
            self.reset()
            return 200, {"ok": True}
        if method == "POST" and path == "/_control/script":
            items = body.get("behaviours") if isinstance(body, dict) else body
            if not isinstance(items, list):
                return 400, {"error": "expected a list of behaviours"}
            self.script(*items)
            return 200, {"ok": True, "queued": len(self._queue)}
        if method == "POST" and path == "/_control/config":
            if not isinstance(body, dict):
                return 400, {"error": "expected an object"}
            if "default" in body:
                self.set_default(body["default"])
            if "latency_s" in body:
                self.latency_s = float(body["latency_s"])
            return 200, {"ok": True}
        return 404, {"error": f"no control endpoint {method} {path}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # benchmarks open many connections at once
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up mid-answer are expected here; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        fake = self.server.fake
        if path.startswith("/_control/"):
            status, payload = fake._control(method, path, body)
            self._send(status, payload)
            return
        if method != "POST" or path not in (*_OPENAI_PATHS, *_ANTHROPIC_PATHS):
            self._send(404, {"error": {"message": f"Unknown endpoint {method} {path}", "type": "not_found"}})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = RecordedRequest(path=path, headers=headers, body=body, body_text=text)
        behaviour, wake, latency = fake._take(request)
        try:
            if latency > 0 and wake.wait(latency):
                self.close_connection = True  # reset or stop while waiting: answer nothing
                return
            self._behave(request, behaviour, wake)
        finally:
            fake._answered()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _behave(self, request: RecordedRequest, behaviour: dict[str, Any], wake: threading.Event) -> None:
        kind = behaviour.get("kind", "good")
        api = request.api
        if kind == "hang":
            if wake.wait(float(behaviour.get("seconds", 30))):
                self.close_connection = True
                return
            kind = "good"
        if kind == "disconnect":
            self.close_connection = True
            return
        if kind == "reject_response_format":
            if isinstance(request.body, dict) and "response_format" in request.body:
                self._error(
                    400,
                    api,
                    "invalid_request_error",
                    "'response_format.type' must be 'json_schema' or 'text'",
                    param="response_format",
                )
                return
            kind = "good"
        if kind in ("good", "fenced", "extra_keys", "malformed", "text"):
            self._answer(request, behaviour, _content_for(kind, behaviour))
        elif kind == "rate_limit":
            headers = {}
            retry_after = behaviour.get("retry_after", "3")
            if retry_after is not None:  # {"retry_after": null} sends no header
                headers["Retry-After"] = str(retry_after)
            if "retry_after_ms" in behaviour:
                headers["retry-after-ms"] = str(behaviour["retry_after_ms"])
            self._error(
                429, api, "rate_limit_error", "Rate limit reached, please try again later", headers=headers
            )
        elif kind == "quota":
            if api == "openai":
                self._error(
                    429,
                    api,
                    "insufficient_quota",
                    "You exceeded your current quota, please check your plan and billing details.",
                    code="insufficient_quota",
                )
            else:
                self._error(
                    400,
                    api,
                    "invalid_request_error",
                    "Your credit balance is too low to access the Anthropic API.",
                )
        elif kind == "server_error":
            self._error(int(behaviour.get("status", 500)), api, "api_error", "Internal server error")
        elif kind == "overloaded":
            self._error(529, api, "overloaded_error", "Overloaded")
        elif kind == "unauthorized":
            key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
                "Bearer "
            )
            self._error(
                401,
                api,
                "authentication_error",
                f"Incorrect API key provided: {key}.",
                code="invalid_api_key",
            )
        elif kind == "status":
            body = behaviour.get("body", {})
            self._send(int(behaviour.get("status", 400)), body, headers=behaviour.get("headers") or {})
        else:
            self._send(500, {"error": {"message": f"fake_llm: unknown behaviour {kind!r}", "type": "fake"}})

    def _answer(self, request: RecordedRequest, behaviour: dict[str, Any], content: str) -> None:
        body = request.body if isinstance(request.body, dict) else {}
        requested = str(body.get("model") or "unknown")
        model = behaviour.get("model") or f"{requested}-fake"
        prompt_chars = len(json.dumps(body.get("messages", ""))) + len(str(body.get("system", "")))
        tokens_in = int(behaviour.get("tokens_in", math.ceil(prompt_chars / 4)))
        tokens_out = int(behaviour.get("tokens_out", math.ceil(len(content) / 4)))
        if request.api == "anthropic":
            payload: dict[str, Any] = {
                "id": f"msg_fake_{time.monotonic_ns()}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": content}],
                "stop_reason": behaviour.get("stop_reason", "end_turn"),
                "stop_sequence": None,
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
            }
        else:
            payload = {
                "id": f"chatcmpl-fake-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": behaviour.get("finish_reason", "stop"),
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
            }
        self._send(200, payload)

    def _error(
        self,
        status: int,
        api: str,
        kind: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if api == "anthropic":
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            payload = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        self._send(status, payload, headers=headers or {})

    def _send(self, status: int, payload: Any, *, headers: dict[str, str] | None = None) -> None:
        is_text = isinstance(payload, str)
        data = payload.encode() if is_text else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if is_text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (its timeout); nothing to do


def _as_behaviour(behaviour: Behaviour) -> dict[str, Any]:
    if isinstance(behaviour, str):
        return {"kind": behaviour}
    if isinstance(behaviour, dict) and "kind" in behaviour:
        return dict(behaviour)
    raise ValueError(f"a behaviour is a name or a dict with 'kind', got {behaviour!r}")


def _content_for(kind: str, behaviour: dict[str, Any]) -> str:
    answer = {**DEFAULT_ANSWER, **(behaviour.get("answer") or {})}
    if kind == "text":
        return str(behaviour.get("content", ""))
    if kind == "malformed":
        return 'I think the problem is the database. {"summary": "pool exhausted", "severity": '
    if kind == "fenced":
        fenced = json.dumps(answer, indent=2)
        return f"Here is my analysis:\n```json\n{fenced}\n```\nLet me know if you need more."
    if kind == "extra_keys":
        answer = {**answer, "tool_calls": [{"name": "shell", "args": "rm -rf /"}], "internal_notes": "x" * 50}
    return json.dumps(answer)


class FakeLLMProcess:
    """A standalone fake server in a child process, driven over the control API."""

    def __init__(self, *, latency_s: float = 0.0, default: str = "good") -> None:
        self.latency_s = latency_s
        self.default = default
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> FakeLLMProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> FakeLLMProcess:
        """Start the child and wait for its URL."""
        backend = Path(__file__).resolve().parents[2]
        cmd = [sys.executable, "-m", "tests.fake_llm.server", "--port", "0"]
        cmd += ["--latency", str(self.latency_s), "--default", self.default]
        self._proc = subprocess.Popen(cmd, cwd=backend, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        self.url = self._proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise RuntimeError("fake LLM server did not start")
        return self

    def stop(self) -> None:
        """Terminate the child (our own pid only)."""
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.url}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next calls."""
        self._call("POST", "/_control/script", list(behaviours))

    def configure(self, *, default: Behaviour | None = None, latency_s: float | None = None) -> None:
        """Change the default behaviour and/or the fixed latency."""
        body: dict[str, Any] = {}
        if default is not None:
            body["default"] = default
        if latency_s is not None:
            body["latency_s"] = latency_s
        self._call("POST", "/_control/config", body)

    def reset(self) -> None:
        """Empty the queue and the recorded requests."""
        self._call("POST", "/_control/reset")

    def requests(self) -> list[dict[str, Any]]:
        """Recorded LLM calls, oldest first."""
        return self._call("GET", "/_control/requests")["requests"]

    def call_count(self) -> int:
        """How many LLM calls arrived."""
        return self._call("GET", "/_control/requests")["call_count"]


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground, printing its URL first."""
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic-compatible LLM server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--default", default="good", help="behaviour when the script queue is empty")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.host, args.port, latency_s=args.latency, default=args.default)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    server.start()
    print(server.url, flush=True)
    print(f"fake LLM server pid {os.getpid()} on {server.url}", file=sys.stderr, flush=True)
    while not stopping.wait(0.2):
        pass
    server.stop()


if __name__ == "__main__":
    main()
