"""create_app(): the FastAPI application — middleware, error handlers, routers (`uvicorn app.main:app`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

from app.analysis.dispatch import AnalysisDispatcher, publish_with_celery
from app.errors import AppError, handle_app_error
from app.health import router as health_router
from app.ingest.seed_endpoints import router as seed_router

logger = logging.getLogger("app")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    dispatcher = AnalysisDispatcher(publish_with_celery)
    dispatcher.start()
    app.state.dispatcher = dispatcher
    yield
    dispatcher.stop()


async def handle_unexpected(request: Request, exc: Exception) -> ORJSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ORJSONResponse({"detail": "internal error"}, status_code=500)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Faultline",
        description="Self-hosted error tracking with asynchronous AI root-cause analysis.",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(Exception, handle_unexpected)
    app.include_router(health_router)
    app.include_router(seed_router)
    return app


app = create_app()
