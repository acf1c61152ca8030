"""Prometheus metrics of every Faultline process, added up across processes (GET /metrics).

Web workers (uvicorn --workers), digesters (`python -m app digest`, the API's embedded one) and
Celery workers (prefork children, gevent) each count in their own memory-mapped file, prometheus-
client's multiprocess mode; whoever answers /metrics adds up every file of the directory
(app/monitoring.py). An increment is a write to that mapped memory: no system call, no lock
shared between processes, cheap enough for the ingest hot path.

The directory is PROMETHEUS_MULTIPROC_DIR. `python -m app up` sets it to `.data/metrics` and empties
it at each start. Processes started by hand (`uvicorn app.main:app`, `celery -A app.celery_worker
worker`, as the seed runs them) that find it unset agree on a default of their own: a directory
under the system's temporary directory named after the user and the database, so the processes of
one installation share it and two installations on one host do not. It must be known before
prometheus-client is imported, so this module settles it as it is imported.

Counters of processes that exited stay in the directory: a total never goes down when a worker is
recycled. A process's live gauge (`faultline_processes`) is dropped when it exits (mark_process_dead,
here and at each scrape for processes killed without a word).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tempfile
from pathlib import Path

from app.config import get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def default_metrics_dir(database_url: str) -> Path:
    """Where processes of the installation using `database_url` keep their metrics by default."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"faultline-metrics-{os.getuid()}-{digest}"


def _settle_metrics_dir() -> Path:
    path = os.environ.get(MULTIPROC_ENV) or str(default_metrics_dir(get_settings().database_url))
    os.environ[MULTIPROC_ENV] = path  # children (the embedded digester, prefork pools) inherit it
    Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(path)


METRICS_DIR = _settle_metrics_dir()

# After the directory is known: prometheus-client picks its multiprocess mode as it is imported.
from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE_LATEST  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest  # noqa: E402
from prometheus_client import multiprocess as _multiprocess  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

INGEST_ENDPOINTS = ("envelope", "store", "seed")
REJECT_REASONS = ("auth", "rate_limit", "too_large", "invalid", "unavailable")
PROCESS_KINDS = ("web", "digester", "worker")

events_accepted = Counter(
    "faultline_events_accepted", "Events accepted into the inbox, by ingest endpoint", ["endpoint"]
)
events_rejected = Counter("faultline_events_rejected", "Ingest requests refused, by reason", ["reason"])
events_stored = Counter(
    "faultline_events_stored", "Events a digester stored and grouped (resends not counted)"
)
analyses = Counter(
    "faultline_analyses", "Analysis task runs by outcome (done, failed, skipped, retry, noop)", ["status"]
)
analysis_duration = Histogram(
    "faultline_analysis_duration_seconds",
    "Time an analysis spent waiting for its provider (the LLM call, or the heuristic)",
    buckets=(0.05, 0.25, 1, 2.5, 5, 10, 20, 30, 60, 120, 240),
)
llm_tokens = Counter(
    "faultline_llm_tokens", "LLM tokens used by analyses (in: prompt, out: answer)", ["direction"]
)
# Incremented by alert delivery (issue 18, items 1-3): channel webhook | slack | email, status sent | failed.
notifications = Counter(
    "faultline_notifications", "Alert notifications by channel and delivery status", ["channel", "status"]
)
client_disconnects = Counter(
    "faultline_client_disconnects", "Requests whose client went away before its body was read (499)"
)
retention_events_deleted = Counter(
    "faultline_retention_events_deleted", "Expired events deleted by retention"
)
retention_issues_deleted = Counter(
    "faultline_retention_issues_deleted", "Issues removed by retention when their last event expired"
)
processes = Gauge(
    "faultline_processes", "Faultline processes running, by kind", ["kind"], multiprocess_mode="livesum"
)

# Every label value known in advance is shown from the start, at 0: a rate over a series that appears
# only with its first increment misses that increment.
for _endpoint in INGEST_ENDPOINTS:
    events_accepted.labels(_endpoint)
for _reason in REJECT_REASONS:
    events_rejected.labels(_reason)
for _direction in ("in", "out"):
    llm_tokens.labels(_direction)


def reason_of_status(status_code: int) -> str | None:
    """The rejection reason an ingest answer's status stands for; None for answers that refuse nothing.

    401/403 auth, 429 rate_limit, 413 too_large, 5xx unavailable, other 4xx invalid (malformed,
    a field missing, a body too slow to arrive); 499 is the client's own doing (client_disconnects).
    """
    if status_code < 400 or status_code == 499:
        return None
    if status_code in (401, 403):
        return "auth"
    if status_code == 429:
        return "rate_limit"
    if status_code == 413:
        return "too_large"
    if status_code >= 500:
        return "unavailable"
    return "invalid"


def process_started(kind: str) -> None:
    """Count this process among the running ones of its kind (until it exits)."""
    processes.labels(kind).set(1)


def process_exited(pid: int | None = None) -> None:
    """Drop the live gauges of process `pid` (this one by default): it exited, or is about to."""
    _multiprocess.mark_process_dead(os.getpid() if pid is None else pid, str(METRICS_DIR))


_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db$")


def forget_dead_processes() -> None:
    """Drop the live gauges of processes that are gone without saying so (kill -9, a crash)."""
    for path in glob.glob(str(METRICS_DIR / "gauge_live*_*.db")):
        match = _LIVE_FILE.search(path)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            process_exited(pid)
        except PermissionError:
            pass  # alive, another user's


def render_metrics(extra: Collector | None = None) -> bytes:
    """The exposition of every process's metrics, added up, and of `extra` (gauges read at scrape
    time), in Prometheus's text format. Reads the directory's files: call it off the event loop."""
    forget_dead_processes()
    registry = CollectorRegistry(auto_describe=False)
    _multiprocess.MultiProcessCollector(registry, path=str(METRICS_DIR))
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry)
