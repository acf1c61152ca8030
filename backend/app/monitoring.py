"""GET /metrics: the Prometheus metrics of every Faultline process (app/metrics.py), for scrapers.

With METRICS_TOKEN set, a scraper must send `Authorization: Bearer <token>` (401 otherwise), from
anywhere. Without it, only clients on the loopback interface are answered (403 for the others): a
Prometheus on the same host, or one reaching it through a tunnel. Behind a reverse proxy the client
is the one the proxy names (uvicorn's proxy headers), so a proxy does not open it to the world.

The inbox gauges are read from PostgreSQL at scrape time, over a connection of their own (the
scrape never waits on the ingest pool); when the database cannot answer they are left out and the
counters are still served.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import Iterator

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from app import pg
from app.config import get_settings
from app.ingest import inbox
from app.metrics import CONTENT_TYPE_LATEST, render_metrics
from app.pg import libpq_url

logger = logging.getLogger(__name__)

router = APIRouter(tags=["monitoring"])

BACKLOG_TIMEOUT_S = 3.0


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for anything else, names included."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def access_refusal(token: str | None, authorization: str | None, client_host: str | None) -> int | None:
    """The status refusing a scrape (401 wrong or missing bearer token, 403 not loopback), else None."""
    if token:
        scheme, _, given = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return None
        return 401
    return None if is_loopback(client_host) else 403


class InboxGauges(Collector):
    """The inbox's backlog as read at this scrape."""

    def __init__(self, backlog: inbox.Backlog | None) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.backlog is None:
            return
        yield GaugeMetricFamily(
            "faultline_inbox_rows",
            "Accepted events waiting in the inbox for a digester",
            self.backlog.waiting,
        )
        yield GaugeMetricFamily(
            "faultline_digest_lag_seconds",
            "How long the oldest event waiting in the inbox has waited (0 when none waits)",
            self.backlog.oldest_wait_s,
        )
        yield GaugeMetricFamily(
            "faultline_inbox_given_up_rows",
            "Inbox rows that failed every attempt, kept until retention prunes them",
            self.backlog.given_up,
        )


async def read_backlog() -> inbox.Backlog | None:
    """The inbox backlog, or None when the database does not answer within BACKLOG_TIMEOUT_S."""
    conninfo = libpq_url(get_settings().database_url)
    try:
        async with asyncio.timeout(BACKLOG_TIMEOUT_S):
            conn = await pg.connect(conninfo, autocommit=True)
            async with conn:
                return await inbox.backlog(conn)
    except (psycopg.Error, OSError) as exc:  # OSError: TimeoutError too
        logger.warning("metrics: cannot read the inbox backlog: %s", exc)
        return None


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition (see the module docstring for who may read it)."""
    client = request.client.host if request.client else None
    refusal = access_refusal(get_settings().metrics_token, request.headers.get("authorization"), client)
    if refusal == 401:
        return JSONResponse(
            {"detail": "a valid bearer token (METRICS_TOKEN) is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if refusal is not None:
        return JSONResponse(
            {"detail": "metrics are served to loopback clients only; set METRICS_TOKEN to scrape remotely"},
            status_code=403,
        )
    backlog = await read_backlog()
    body = await asyncio.to_thread(render_metrics, InboxGauges(backlog))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
