"""The API's side of the digester (app/ingest/digester.py): start it, wake it, hear from it.

`DigesterProcess` runs `python -m app.ingest.digester` as a child of the API process, hands it its
settings on stdin, and starts it again if it dies. After each inbox commit the inbox writer calls
`committed()`, which wakes the digester. The digester reports every batch it stored; the reports
release requests waiting for their events and hand the new analyses to the dispatcher.

Answers and latency: an event is accepted once its inbox row has committed. When the digester had
nothing else queued, the answer also waits (up to INGEST_ACK_WAIT_S) until the event is stored and
grouped, so a client that sends an event and then looks for it finds it; a few milliseconds on an
idle server. Under load there is always a queue ahead, and answers go out at once: the client's
wait does not grow with the backlog.

"Nothing queued": no row this process committed is still waiting for the digester. The digester
reports the rows of each batch it stored; and since rows can also leave otherwise (another API
process's digester took them, someone emptied the table), every wake-up is one newline on its stdin,
which it counts, and when a drain finds the inbox empty it reports how many wake-ups it had read
before that drain began: every row committed before those wake-ups is gone from the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

import orjson

import app
from app.analysis.dispatch import AnalysisDispatcher
from app.config import get_settings
from app.db import libpq_conninfo

logger = logging.getLogger(__name__)

# The child imports `app` from where this process found it, whatever the working directory.
APP_ROOT = str(Path(app.__file__).resolve().parent.parent)
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 5.0


class DigesterProcess:
    """Supervises one digester child process (see the module docstring)."""

    def __init__(self, dispatcher: AnalysisDispatcher, *, secret_key: str) -> None:
        # The key the API seals inbox rows with, fixed for the life of the process (app/main.py).
        self._secret_key = secret_key
        self._settings = get_settings()
        self._dispatcher = dispatcher
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakes_sent = 0  # to the current digester
        self._outstanding: dict[int, int] = {}  # inbox id -> the wake-up sent after its commit
        self._waiters: dict[int, asyncio.Future[None]] = {}  # inbox id -> answer waiting for it

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Close the digester's stdin (it finishes its batch and exits), then wait for it."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def committed(self, inbox_ids: list[int]) -> bool:
        """New inbox rows are committed: wake the digester. True if it had nothing else queued (the
        answers may then wait for it, `wait_digested`)."""
        idle = not self._outstanding
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return False  # starting again: it drains the inbox on its own
        proc.stdin.write(self._new_config() or b"\n")
        self._wakes_sent += 1
        self._outstanding.update(dict.fromkeys(inbox_ids, self._wakes_sent))
        return idle

    def _new_config(self) -> bytes | None:
        """The digester's settings as a line to send, when they changed since it was told (tests do that)."""
        settings = get_settings()
        if settings is self._settings:
            return None
        old = self._child_config()
        self._settings = settings
        new = self._child_config()
        return orjson.dumps(new) + b"\n" if new != old else None

    async def wait_digested(self, inbox_id: int) -> None:
        """Wait until the row is reported done or drained, at most INGEST_ACK_WAIT_S."""
        if inbox_id not in self._outstanding:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters[inbox_id] = future
        try:
            await asyncio.wait_for(future, self._settings.ingest_ack_wait_s)
        except TimeoutError:
            pass
        finally:
            self._waiters.pop(inbox_id, None)

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                await self._run_once()
            except Exception:
                logger.exception("digester supervision failed")
            self._settle(list(self._outstanding))
            if not self._stopping:
                await asyncio.sleep(RESTART_DELAY_S)

    async def _run_once(self) -> None:
        env = dict(os.environ, PYTHONPATH=APP_ROOT)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.ingest.digester", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        self._settings = get_settings()
        proc.stdin.write(orjson.dumps(self._child_config()) + b"\n")  # it drains the inbox first
        self._wakes_sent = 0
        self._proc = proc
        while line := await proc.stdout.readline():
            self._on_report(orjson.loads(line))
        code = await proc.wait()
        self._proc = None
        if not self._stopping:
            logger.warning("digester exited with %s; starting it again", code)

    def _child_config(self) -> dict[str, object]:
        s = self._settings
        return {
            "conninfo": libpq_conninfo(s.database_url),
            "secret_key": self._secret_key,
            "redact_extra_patterns": s.redact_extra_patterns,
            "redact_extra_fields": s.redact_extra_fields,
            "batch": s.digest_batch,
            "poll_s": s.digest_poll_s,
            "yield_ratio": s.digest_yield_ratio,
            "max_delay_s": s.digest_max_delay_s,
        }

    def _on_report(self, report: dict[str, Any]) -> None:
        if "drained" in report:
            drained = report["drained"]
            self._settle([i for i, wake in self._outstanding.items() if wake <= drained])
            return
        self._settle(report["done"] + report["failed"])
        for error_event_id in report["analyses"]:
            self._dispatcher.submit(error_event_id)

    def _settle(self, inbox_ids: list[int]) -> None:
        """These rows left the inbox (or nobody will tell us about them): answer who waits for them."""
        for inbox_id in inbox_ids:
            self._outstanding.pop(inbox_id, None)
            future = self._waiters.get(inbox_id)
            if future is not None and not future.done():
                future.set_result(None)
