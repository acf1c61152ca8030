"""`python -m app serve`: the web workers as `python -m app up` runs them, uvicorn with guards against
slow clients that its command line cannot set.

- Headers must arrive within HEADER_READ_TIMEOUT_S of a connection opening, or of the first byte of
  a further request on a kept-alive connection; otherwise the connection is closed. uvicorn has no
  such timeout, so 2,000 clients each sending a byte every 5 s would hold 2,000 connections for as
  long as they liked (a body that trickles in is cut off by the app: BODY_READ_TIMEOUT_S, 408).
- Idle keep-alive connections close after 5 s (uvicorn's own timeout).
- Each worker serves at most WEB_CONNECTION_LIMIT connections at once; past that, uvicorn answers 503.

The seed's plain `uvicorn app.main:app` works too, without the header guard.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings
from app.logging_setup import LOG_FORMAT

KEEP_ALIVE_S = 5


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request headers do not arrive in time."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()  # a request on a kept-alive connection: its headers are due now

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            timeout_s = get_settings().header_read_timeout_s
            self._header_deadline = self.loop.call_later(timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def log_config() -> dict[str, Any]:
    """uvicorn's logging, every line in our format (time, pid) from the first, and the app's loggers
    (the access log among them) writing to the same stream."""
    config = copy.deepcopy(LOGGING_CONFIG)
    for name in config["formatters"]:
        config["formatters"][name] = {"()": "logging.Formatter", "fmt": LOG_FORMAT}
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config


def serve(host: str, port: int, workers: int) -> int:
    """Run the API's web workers until stopped."""
    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        http=HeaderDeadlineProtocol,
        access_log=False,  # the app writes its own (app/access_log.py)
        log_config=log_config(),
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=settings.web_connection_limit or None,
    )
    return 0
