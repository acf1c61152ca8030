"""The ingest fast path: POSTs to the ingest endpoints served straight from ASGI.

An SDK's envelope costs the API about a millisecond and a half of CPU, and a fifth of that was the
framework's per-request machinery around the endpoint: a dozen middleware layers each wrapping
`send`, dependency solving, response-model validation and JSON encoding with the standard library.
The ingest endpoints need none of it: they take the raw request and return a small dict or model.

So `serve_ingest` matches the three ingest routes itself and calls the very endpoint functions
FastAPI has registered (app/ingest/sentry_endpoints.py, seed_endpoints.py: one definition, also the
one the OpenAPI schema describes), turns their exceptions into responses with the application's own
exception handlers, and adds the same CORS headers browser SDKs need. Every other request, an
OPTIONS preflight on the same paths included, goes through the full FastAPI application.

Being the one place every ingest answer passes, it also counts them (app/metrics.py): accepted
events per endpoint, refusals per reason, one counter increment per request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.ingest.seed_endpoints import ingest_seed_event
from app.ingest.sentry_endpoints import envelope_endpoint, store_endpoint
from app.metrics import REJECT_REASONS, events_accepted, events_rejected, reason_of_status

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

# What browser SDKs need on ingest answers; the application's CORSMiddleware uses the same options.
CORS_OPTIONS: dict[str, Any] = {
    "allow_origins": ["*"],
    "allow_methods": ["GET", "POST", "OPTIONS"],
    "allow_headers": ["*"],  # browser SDKs send sentry-trace, baggage, X-Sentry-Auth, Content-Encoding…
    "expose_headers": ["X-Sentry-Error", "X-Sentry-Rate-Limits", "Retry-After"],
    "max_age": 3600,
}

Endpoint = Callable[..., Awaitable[Any]]
# The paths FastAPI routes to these endpoints: `{project_id}` there matches one path segment.
_SENTRY_PATH = re.compile(r"/api/([^/]+)/(envelope|store)/?")
_SEED_PATH = "/api/v1/events"


IngestRoute = tuple[Endpoint, int, dict[str, str]]  # endpoint, success status, path parameters

# The counters' children, bound once: a request pays one increment, no label lookup.
_ACCEPTED = {
    ingest_seed_event: events_accepted.labels("seed"),
    envelope_endpoint: events_accepted.labels("envelope"),
    store_endpoint: events_accepted.labels("store"),
}
_REJECTED = {reason: events_rejected.labels(reason) for reason in REJECT_REASONS}


def _match(path: str) -> IngestRoute | None:
    """The route of an ingest path, else None."""
    if path == _SEED_PATH:
        return ingest_seed_event, 201, {}
    m = _SENTRY_PATH.fullmatch(path)
    if m is None:
        return None
    endpoint = envelope_endpoint if m.group(2) == "envelope" else store_endpoint
    return endpoint, 200, {"project_id": m.group(1)}


async def _send_json(send: Send, status_code: int, result: Any) -> None:
    """The endpoint's answer as JSON, in the two ASGI messages a Starlette Response would send."""
    body = result.model_dump_json().encode() if isinstance(result, BaseModel) else orjson.dumps(result)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class IngestFastPath:
    """Serves the ingest POSTs of one FastAPI application (see the module docstring)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def route(self, scope: Scope) -> IngestRoute | None:
        """The ingest route of an HTTP POST to one of the ingest paths, else None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        return _match(scope["path"])

    async def serve(self, route: IngestRoute, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request `route` matched."""
        scope["app"] = self.app  # what Starlette sets: endpoints reach app.state through the request
        serve_route = partial(self._serve, route)
        if any(name == b"origin" for name, _ in scope["headers"]):
            await CORSMiddleware(serve_route, **CORS_OPTIONS)(scope, receive, send)
        else:
            # Server SDKs send no Origin; the CORS layer would add only `Vary: Origin`, which no one
            # caching a POST answer needs.
            await serve_route(scope, receive, send)

    async def _serve(self, route: IngestRoute, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint, status_code, path_params = route
        scope["path_params"] = path_params
        request = Request(scope, receive)
        try:
            result = await endpoint(request=request, **path_params)
        except Exception as exc:  # every failure becomes the answer the application gives for it
            response = await self._handle(request, exc)
            reason = reason_of_status(response.status_code)
            if reason is not None:
                _REJECTED[reason].inc()
            await response(scope, receive, send)
            return
        if not isinstance(result, dict) or result:  # an envelope without an event answers {}
            _ACCEPTED[endpoint].inc()
        await _send_json(send, status_code, result)

    async def _handle(self, request: Request, exc: Exception) -> Response:
        """The answer the application's exception handler for this exception gives."""
        handlers = self.app.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return await handler(request, exc)  # type: ignore[no-any-return]
        logger.exception("unhandled error on ingest %s", request.url.path, exc_info=exc)
        return Response(b'{"detail":"internal error"}', status_code=500, media_type="application/json")
