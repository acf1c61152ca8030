"""`python -m app up --flower`: Flower answers beside the API, and /metrics adds up what every process
`up` started counted (two web workers, a digester, the worker) in the directory `up` emptied at start."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx

from tests.faults.events import post_seed
from tests.faults.servers import ChildProcess, Stack
from tests.support.db import wait_until
from tests.support.metrics import scrape, value
from tests.support.processes import free_port


def flower_answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthcheck", timeout=2).text == "OK"
    except httpx.HTTPError:
        return False


def test_up_with_flower_and_metrics_added_up_across_its_processes(stack: Stack) -> None:
    metrics_dir = Path(stack.env()["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    (metrics_dir / "counter_999999.db").write_bytes(b"a past run's file")  # emptied at start
    port, flower_port = free_port(), free_port()
    argv = [sys.executable, "-m", "app", "up", "--port", str(port), "--web-workers", "2", "--flower",
            "--flower-port", str(flower_port)]  # fmt: skip
    up = ChildProcess(argv, stack.env(), "faults-up-monitoring.log")
    stack.children.append(up)
    up.wait_for_log("Faultline is up", timeout_s=120)
    url = re.search(r"Dashboard and API : (\S+)/", up.log()).group(1)
    flower = re.search(r"Flower \(Celery\)\s+: (\S+)/", up.log()).group(1)
    assert not (metrics_dir / "counter_999999.db").exists()

    wait_until(lambda: flower_answers(flower), timeout_s=60)

    for n in range(6):  # new connections: both web workers take some
        assert post_seed(url, n).status_code == 201
    wait_until(lambda: stack.scalar("SELECT count(*) FROM error_events") == 6, timeout_s=30)
    # Each digester batch is counted just after its commit.
    wait_until(lambda: value(scrape(url), "faultline_events_stored_total") == 6)
    samples = scrape(url)
    assert value(samples, "faultline_events_accepted_total", endpoint="seed") == 6
    assert value(samples, "faultline_processes", kind="web") == 2
    assert value(samples, "faultline_processes", kind="digester") == 1
    assert value(samples, "faultline_processes", kind="worker") == 1
