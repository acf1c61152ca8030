"""Embedded PostgreSQL and Valkey for the benchmark when no local servers answer on 5432 / 6379.

    python bench/embedded_infra.py DIR     # prints DATABASE_URL=… and REDIS_URL=…, then waits

Runs until SIGTERM, then stops both servers (the embedded PostgreSQL stops when its last handle is
released). Used by bench/peer_faultline.sh; the same wheels `make run` uses (app/runtime/embedded.py).
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
    pg_url, pg_server = start_postgres(base / "postgres")
    redis_url, valkey = start_valkey(base / "valkey")
    print(f"DATABASE_URL={pg_url.replace('/faultline?', '/faultline_bench?')}", flush=True)
    print(f"REDIS_URL={redis_url}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    valkey.terminate()
    valkey.wait(10)
    pg_server.cleanup()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
