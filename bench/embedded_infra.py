"""Embedded PostgreSQL and Valkey for the benchmark when no local servers answer on 5432 / 6379.

    python bench/embedded_infra.py DIR     # prints DATABASE_URL=… and REDIS_URL=…, then waits

Runs until SIGTERM/SIGINT, then stops both servers. They are its children, bound to it with a
parent-death signal, so they end with it even if it is killed outright. Used by bench/peer_common.sh;
the same wheels and code `make run` uses (app/runtime/embedded.py).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from app.runtime.embedded import start_postgres, start_valkey


def main() -> int:
    """Start both servers, print their URLs, block until SIGTERM/SIGINT, stop them."""
    base = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/faultline-bench-infra")  # noqa: S108
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    postgres = start_postgres(base / "postgres")
    try:
        valkey = start_valkey(base / "valkey")
        try:
            print(f"DATABASE_URL={postgres.url('faultline_bench')}", flush=True)
            print(f"REDIS_URL={valkey.url}", flush=True)
            done.wait()
        finally:
            valkey.stop()
    finally:
        postgres.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
