"""Real receivers for alerts, run inside the test process: an HTTP server recording every request
(answering from a script: status codes, headers, or "hold" until released), and an SMTP server
(aiosmtpd) recording every message."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    answered: int | None = None  # the status code sent back; None: held and never answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # keep the request open until release(), then drop it unanswered


class HttpReceiver:
    """An HTTP server on 127.0.0.1:<free port>; answers with the scripted answers in order, then 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[Received] = []
        self.script: list[Answer] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(
                    self.path, dict(self.headers.items()), self.rfile.read(length), time.monotonic()
                )
                with receiver._lock:
                    receiver.requests.append(got)
                    answer = receiver.script.pop(0) if receiver.script else Answer()
                if answer.hold:
                    receiver._released.wait(120)
                    self.close_connection = True
                    return  # the request was never acknowledged
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                got.answered = answer.status

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def release(self) -> None:
        self._released.set()

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def acknowledged(self, path: str) -> list[Received]:
        """Requests answered with a 2xx."""
        return [r for r in self.on(path) if r.answered is not None and 200 <= r.answered < 300]


class SmtpReceiver:
    """An SMTP server (aiosmtpd) on 127.0.0.1:<free port>, keeping every message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content, policy=policy.default)
                assert isinstance(message, EmailMessage)
                receiver.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
