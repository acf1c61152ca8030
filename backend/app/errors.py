"""AppError: an expected failure with the HTTP status and message the client should see."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class AppError(Exception):
    """Raised anywhere below an endpoint for an expected, client-visible failure (4xx, 503)."""

    def __init__(self, message: str, status_code: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.headers = headers or {}


async def handle_app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)
