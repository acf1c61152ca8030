"""create_app(): the FastAPI application — middleware, error handlers, routers (`uvicorn app.main:app`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from app.analysis.dispatch import AnalysisDispatcher, publish_with_celery
from app.config import get_settings
from app.errors import AppError, handle_app_error
from app.health import router as health_router
from app.ingest.limits import BadPayload, IngestError
from app.ingest.rate_limit import RateLimiter
from app.ingest.seed_endpoints import router as seed_router
from app.ingest.sentry_endpoints import router as sentry_router

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    dispatcher = AnalysisDispatcher(publish_with_celery)
    dispatcher.start()
    app.state.dispatcher = dispatcher
    app.state.rate_limiter = RateLimiter(get_settings().redis_url)
    yield
    dispatcher.stop()
    await app.state.rate_limiter.aclose()


async def handle_ingest_error(_request: Request, exc: Exception) -> JSONResponse:
    """Sentry-style answer: JSON detail (and causes) plus X-Sentry-Error, which SDKs log."""
    assert isinstance(exc, IngestError)
    body = exc.to_dict() if isinstance(exc, BadPayload) else {"detail": exc.message}
    return JSONResponse(body, status_code=exc.status_code, headers={"X-Sentry-Error": exc.message})


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Faultline",
        description="Self-hosted error tracking with asynchronous AI root-cause analysis.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],  # browser SDKs send sentry-trace, baggage, X-Sentry-Auth, Content-Encoding…
        expose_headers=["X-Sentry-Error", "X-Sentry-Rate-Limits", "Retry-After"],
        max_age=3600,
    )
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(IngestError, handle_ingest_error)
    app.add_exception_handler(Exception, handle_unexpected)
    app.include_router(health_router)
    app.include_router(seed_router)
    app.include_router(sentry_router)
    return app


app = create_app()
