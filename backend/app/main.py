"""create_app(): the FastAPI application — middleware, error handlers, routers (`uvicorn app.main:app`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from app.access_log import AccessLog
from app.api.alert_rules import router as alert_rules_api_router
from app.api.endpoints import router as api_router
from app.api.sentry_cli import router as sentry_cli_router
from app.auth.dependencies import CsrfRejected, LoginRequired
from app.celery_app import publish_job
from app.config import get_settings
from app.errors import AppError, handle_app_error
from app.health import router as health_router
from app.ingest.digest_waiter import DigestWaiter
from app.ingest.digester_process import EmbeddedDigester
from app.ingest.fast_path import CORS_OPTIONS, IngestFastPath
from app.ingest.inbox import inbox_box
from app.ingest.inbox_writer import InboxWriter
from app.ingest.limits import BadPayload, IngestError
from app.ingest.rate_limit import RateLimiter
from app.ingest.seed_endpoints import router as seed_router
from app.ingest.sentry_endpoints import router as sentry_router
from app.jobs import JobDispatcher, install_dispatcher
from app.logging_setup import configure_logging
from app.metrics import client_disconnects, process_exited, process_started
from app.monitoring import router as monitoring_router
from app.pg import libpq_url
from app.runtime.gc_tuning import tune_gc_for_serving
from app.web.access import AdminOnly, PageNotFound, handle_admin_only, handle_page_not_found
from app.web.alerts import router as web_alerts_router
from app.web.docs import router as docs_router
from app.web.endpoints import router as web_router
from app.web.rendering import STATIC_DIR, render
from app.web.security_headers import SecurityHeaders

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging()
    settings = get_settings()
    process_started("web")
    jobs = JobDispatcher(publish_job).start()
    install_dispatcher(jobs)
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    waiter = DigestWaiter(libpq_url(settings.database_url), send_jobs=jobs.submit)
    waiter.start()
    app.state.digest_waiter = waiter
    digester = EmbeddedDigester() if settings.embedded_digester else None
    if digester is not None:
        digester.start()
    app.state.inbox_writer = InboxWriter(inbox_box(settings.secret_key), waiter.committed)
    tune_gc_for_serving()
    yield
    if digester is not None:
        await digester.stop()
    await waiter.stop()
    jobs.stop()
    install_dispatcher(None)
    await app.state.rate_limiter.aclose()
    process_exited()


async def handle_ingest_error(_request: Request, exc: Exception) -> JSONResponse:
    """Sentry-style answer: JSON detail (and causes) plus X-Sentry-Error, which SDKs log."""
    assert isinstance(exc, IngestError)
    body = exc.to_dict() if isinstance(exc, BadPayload) else {"detail": exc.message}
    return JSONResponse(body, status_code=exc.status_code, headers={"X-Sentry-Error": exc.message})


async def handle_login_required(request: Request, _exc: Exception) -> Response:
    """Pages send the browser to the login form and back; anything else just to the login form."""
    target = "/login"
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": path})
    return RedirectResponse(target, status_code=303)


async def handle_csrf_rejected(request: Request, _exc: Exception) -> Response:
    message = "This form was not sent from a page of this session. Reload the page and try again."
    return render(request, "error.html", {"title": "Request refused", "message": message}, 403)


async def handle_method_not_allowed(request: Request, _exc: Exception) -> JSONResponse:
    """405 whose Allow header names every method the path answers to.

    Starlette names only the methods of the first route whose path matched, so a path served by a
    GET route and a PATCH route would claim to allow GET alone.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(methods))}
    )


async def handle_data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value PostgreSQL refuses (out of range, NUL character) came from the request: 400, not 500."""
    logger.info("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "a value in the request is out of range or cannot be stored"}, status_code=400
    )


async def handle_client_disconnect(_request: Request, _exc: Exception) -> JSONResponse:
    """The client went away mid-request (an aborted upload): nothing was accepted and no one reads the
    answer. Counted (faultline_client_disconnects_total), and written to the access log as 499 (nginx's
    "client closed request")."""
    client_disconnects.inc()
    return JSONResponse({"detail": "client disconnected before the request was read"}, status_code=499)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


class FaultlineApp(FastAPI):
    """The FastAPI application with the ingest fast path in front of it (app/ingest/fast_path.py),
    and the access log around both."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ingest_fast_path = IngestFastPath(self)
        self.logged = AccessLog(self._route, get_settings().access_log_success_sample)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.logged(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.ingest_fast_path.route(scope)
        if route is not None:
            await self.ingest_fast_path.serve(route, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app() -> FastAPI:
    app = FaultlineApp(
        title="Faultline",
        description="Self-hosted error tracking with asynchronous AI root-cause analysis.",
        version="0.1.0",
        lifespan=lifespan,
        # Served by app/web/docs.py behind a login, rendered without any CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(CORSMiddleware, **CORS_OPTIONS)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(IngestError, handle_ingest_error)
    app.add_exception_handler(LoginRequired, handle_login_required)
    app.add_exception_handler(CsrfRejected, handle_csrf_rejected)
    app.add_exception_handler(PageNotFound, handle_page_not_found)
    app.add_exception_handler(AdminOnly, handle_admin_only)
    app.add_exception_handler(405, handle_method_not_allowed)
    app.add_exception_handler(DataError, handle_data_error)
    app.add_exception_handler(ClientDisconnect, handle_client_disconnect)
    app.add_exception_handler(Exception, handle_unexpected)
    app.include_router(health_router)
    app.include_router(monitoring_router)
    app.include_router(seed_router)
    app.include_router(sentry_router)
    app.include_router(api_router)
    app.include_router(alert_rules_api_router)
    app.include_router(sentry_cli_router)
    app.include_router(docs_router)
    app.include_router(web_router)
    app.include_router(web_alerts_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


app = create_app()
