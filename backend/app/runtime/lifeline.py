"""Children that die with their parent: a `preexec_fn` setting Linux's parent-death signal.

`python -m app up`, the test suite and the benchmark start servers (PostgreSQL, Valkey, the API, the
workers) that must not outlive whoever started them, even when that one is killed with SIGKILL and
runs no clean-up code. With PR_SET_PDEATHSIG the kernel sends the child a signal of our choice as soon
as its parent goes away. Elsewhere (macOS, Windows) it is a no-op: there only a clean stop stops them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets `sig` when this process exits.

    The signal is bound to the thread that forks, so start children from the main thread (or one that
    lives as long as they should). Popen runs the preexec_fn after switching to `user=`, which matters:
    the kernel clears the setting when the credentials change.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # looked up here: the child should only call it
    parent = os.getpid()

    def bind() -> None:
        libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the binding: nobody would send it now
            os.kill(os.getpid(), signal.SIGKILL)  # (a caught signal would be lost at exec)

    return bind
