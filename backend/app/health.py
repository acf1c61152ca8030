"""/healthz (the process answers) and /readyz (database and broker reachable), for load balancers."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.db import api_pool_usage, ping_database

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _database_ok() -> bool:
    try:
        async with asyncio.timeout(2):
            await ping_database()
        return True
    except Exception:
        return False


async def _broker_ok() -> bool:
    client = aioredis.from_url(
        get_settings().celery_broker_url or "", socket_connect_timeout=1, socket_timeout=1
    )
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@router.get("/readyz", summary="Readiness: database and broker reachable")
async def readyz() -> JSONResponse:
    database, broker = await asyncio.gather(_database_ok(), _broker_ok())
    pool = api_pool_usage()
    ok = database and broker
    body = {"status": "ok" if ok else "unavailable", "database": database, "broker": broker, "pool": pool}
    return JSONResponse(body, status_code=200 if ok else 503)
