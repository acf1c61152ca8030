"""The stack file `up` writes, and the command line's side of it: `python -m app env`, the note when
no stack is found, and one clear line (never a traceback) when PostgreSQL or the broker can't be reached.

app/config.py reads the file (DATABASE_URL, REDIS_URL) for every command whose environment and `.env`
leave them unset; this module writes it and explains, to a user, which address was tried and why.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from app.config import get_settings, read_stack_file, setting_origin, stack_file

UP_PID = "UP_PID"


def write_stack_file(entries: dict[str, str]) -> Path:
    """Write the stack file (mode 600: it may hold passwords) in one step; returns its path."""
    path = stack_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    lines = [
        f"# Written by `python -m app up` (pid {os.getpid()}); removed when it stops. Every",
        "# `python -m app …` and `celery -A app.celery_worker …` whose DATABASE_URL / REDIS_URL are unset",
        "# (environment and .env) uses these. `python -m app env` prints them as export lines.",
        f"{UP_PID}={os.getpid()}",
        *(f"{key}={value}" for key, value in entries.items()),
    ]
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(partial, 0o600)  # an umask cannot widen it, but a leftover file of ours might be wider
    os.replace(partial, path)
    return path


def remove_stack_file() -> None:
    """Remove the stack file if this process wrote it (a newer `up` may have replaced it)."""
    if read_stack_file().get(UP_PID) == str(os.getpid()):
        with contextlib.suppress(FileNotFoundError):
            stack_file().unlink()


def pid_alive(pid: str | None) -> bool:
    if not pid or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def env_command() -> tuple[list[str], str | None, int]:
    """What `python -m app env` prints: (stdout lines, a stderr line or None, exit code)."""
    path = stack_file()
    entries = read_stack_file(path)
    if not entries:
        return [], f"no running stack: {path} not found (start one with `make run`)", 1
    pid = entries.get(UP_PID)
    if not pid_alive(pid):
        return [], f"{path} was written by `python -m app up` (pid {pid}), which is no longer running", 1
    lines = [f"# the services of `python -m app up` (pid {pid}), from {path}"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in entries.items() if key != UP_PID]
    return lines, None, 0


def shown_url(url: str) -> str:
    """A URL as a user writes it (no SQLAlchemy driver name), password hidden."""
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


def _where_from(name: str) -> str:
    """Why this URL was tried, and what to do about it."""
    origin = setting_origin(name)
    path = stack_file()
    if origin == "stack file":
        pid = read_stack_file(path).get(UP_PID)
        if pid_alive(pid):
            return (
                f"recorded in {path} by `python -m app up` (pid {pid}): see the logs under {path.parent}/logs"
            )
        return (
            f"recorded in {path} by `python -m app up` (pid {pid}), which is no longer running: "
            f"start `make run` again, or set {name}"
        )
    if origin == "default":
        return f"the default: {name} is unset and there is no {path}: is `make run` running? or set {name}"
    return f"{name} from the {origin}: is that server running?"


def no_database_configured() -> str | None:
    """The error line for a command that would fall back to the default database unasked, else None.

    A command that writes must not pick a database by guess: with nothing set and no `make run`
    recorded, a `faultline` database on 127.0.0.1:5432 may belong to something else entirely.
    """
    if setting_origin("DATABASE_URL") != "default":
        return None
    return (
        f"error: DATABASE_URL is unset (environment, .env) and no stack file {stack_file()} exists: "
        f"is `make run` running? Else set DATABASE_URL (the servers' default is "
        f"{shown_url(get_settings().database_url)})"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()


def _database_unreachable(exc: BaseException) -> BaseException | None:
    """The driver's error when `exc` means the database could not be reached (not a failed query)."""
    import psycopg
    import sqlalchemy.exc

    orig = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else exc
    if not isinstance(orig, psycopg.OperationalError):
        return None
    sqlstate = getattr(orig, "sqlstate", None) or ""
    # None: no server answered; 08: connection failures; 28: authentication; 3D000: no such database;
    # 53300: too many connections; 57P0x: shutting down or starting up.
    if not sqlstate or sqlstate.startswith(("08", "28", "57P0")) or sqlstate in ("3D000", "53300"):
        return orig
    return None


def _broker_unreachable(exc: BaseException) -> bool:
    import kombu.exceptions
    import redis.exceptions

    return isinstance(
        exc,
        redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | kombu.exceptions.OperationalError,
    )


def unreachable_message(exc: BaseException) -> str | None:
    """One line for a command whose database or broker can't be reached; None for any other error."""
    if (orig := _database_unreachable(exc)) is not None:
        url = shown_url(get_settings().database_url)
        if re.search(r'database ".*" does not exist', str(orig)):  # the server answered: only that is missing
            return f"error: no database at {url} ({_reason(orig)}): `python -m app migrate` creates it"
        return f"error: cannot reach PostgreSQL at {url} ({_reason(orig)}); {_where_from('DATABASE_URL')}"
    if _broker_unreachable(exc):
        name = "REDIS_URL" if setting_origin("CELERY_BROKER_URL") == "default" else "CELERY_BROKER_URL"
        url = shown_url(get_settings().celery_broker_url or get_settings().redis_url)
        return f"error: cannot reach Redis at {url} ({_reason(exc)}); {_where_from(name)}"
    return None
