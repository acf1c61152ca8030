"""EMBEDDED_DIGESTER: an API process runs one digester, `python -m app digest`, as its child.

So the seed's own commands (`uvicorn app.main:app` and the Celery worker) store every event with no
third command. The child is an ordinary digester: it hears of new rows through PostgreSQL
(app/ingest/digester.py), not from this process, which only starts it, starts it again if it dies,
and stops it with the API. It also ends by itself if this process vanishes (`--parent-pid`).
`python -m app up` turns this off and supervises its digesters itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

import app

logger = logging.getLogger(__name__)

# The child imports `app` from where this process found it, whatever the working directory.
APP_ROOT = str(Path(app.__file__).resolve().parent.parent)
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 5.0


class EmbeddedDigester:
    """Keeps one digester child running for the life of the API process."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """SIGTERM: the digester finishes its batch and exits; killed if it takes too long."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                env = dict(os.environ, PYTHONPATH=APP_ROOT)
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "app", "digest", "--parent-pid", str(os.getpid()),
                    stdin=asyncio.subprocess.DEVNULL, env=env,
                )  # fmt: skip
                code = await self._proc.wait()
                if not self._stopping:
                    logger.warning("digester exited with %s; starting it again", code)
            except Exception:
                logger.exception("digester supervision failed")
            if not self._stopping:
                await asyncio.sleep(RESTART_DELAY_S)
