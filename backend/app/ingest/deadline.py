"""deadline(): asyncio.timeout for database work that must not hang on a frozen server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# psycopg answers a cancellation by asking the server to cancel the query and waiting up to 10 s for
# it, which a frozen server never does; a second cancellation makes it drop the connection at once.
_SECOND_CANCEL_AFTER_S = 0.1


@asynccontextmanager
async def deadline(seconds: float) -> AsyncIterator[None]:
    """Like asyncio.timeout (raises TimeoutError), but cancels the block a second time shortly after
    the first, so a driver that waits on the server to acknowledge a cancellation gives up at once."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    cancels = 0
    handles: list[asyncio.TimerHandle] = []

    def cancel() -> None:
        nonlocal cancels
        cancels += 1
        task.cancel()

    def expire() -> None:
        cancel()
        handles.append(loop.call_later(_SECOND_CANCEL_AFTER_S, cancel))

    handles.append(loop.call_later(seconds, expire))
    try:
        yield
    except asyncio.CancelledError:
        if cancels == 0:
            raise
        cancelled_from_outside = task.cancelling() > cancels
        for _ in range(cancels):
            task.uncancel()
        cancels = 0
        if cancelled_from_outside:
            raise
        raise TimeoutError(f"database work took longer than {seconds:g}s") from None
    finally:
        for handle in handles:
            handle.cancel()
        for _ in range(cancels):
            task.uncancel()
