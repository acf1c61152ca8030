"""Send many Sentry envelopes at once, from a process of its own, the way a fleet of SDKs would.

The live server runs in the test process; a sender in that same process would compete with it for
the GIL and measure itself. `send_in_subprocess` writes the envelopes to a file and runs this module
as a child (`python -m tests.support.load JOB_JSON`, importing nothing but httpx), which posts each
over CONNECTIONS keep-alive connections and prints {"statuses": {...}, "seconds": s}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

BACKEND_DIR = Path(__file__).resolve().parents[2]


def send_all(url: str, headers: dict[str, str], bodies: list[bytes], connections: int) -> dict[str, Any]:
    """POST every body from `connections` threads, one keep-alive client each; count answers by status."""
    pending = iter(bodies)
    lock = threading.Lock()
    statuses: Counter[int] = Counter()

    def sender() -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            while True:
                with lock:
                    body = next(pending, None)
                if body is None:
                    return
                status = client.post(url, content=body).status_code
                with lock:
                    statuses[status] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=sender) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": dict(statuses), "seconds": time.monotonic() - started}


def send_in_subprocess(project: Any, events: list[dict[str, Any]], connections: int) -> dict[str, Any]:
    """Post each event as an envelope to `project` (a SentryProject) from a child process.

    Returns {"statuses": {status: count}, "seconds": float}.
    """
    from tests.support.sentry import auth_header, envelope  # the child needs none of the app

    job = {
        "url": project.envelope_url,
        "headers": {**auth_header(project.key), "Content-Type": "application/x-sentry-envelope"},
        "bodies": [envelope(event).decode() for event in events],
        "connections": connections,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(job, file)
        file.flush()
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.load", file.name],
            cwd=BACKEND_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    result = json.loads(done.stdout)
    result["statuses"] = {int(status): count for status, count in result["statuses"].items()}
    return result


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    bodies = [body.encode() for body in spec["bodies"]]
    print(json.dumps(send_all(spec["url"], spec["headers"], bodies, spec["connections"])))
