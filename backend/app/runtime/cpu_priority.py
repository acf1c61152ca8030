"""The analysis worker's CPU priority: background work that gives way to ingest on a shared host.

An analysis is asynchronous by design; starting it a few hundred milliseconds later changes nothing
for anyone. An ingest answer that waits for a CPU is latency every SDK sees. When an incident opens
many new issues at once, the worker analyses them in the same second their events pour in, and on a
host that runs both (`make run`, a small VM) the two compete for the same cores, and the bench showed
the API's slowest answers falling at the moment the analyses ran (figures: bench/README.md).

Linux groups processes by session for scheduling ("autogroup"): a process that leads a session of its
own (started by `setsid`, a terminal of its own) competes as a whole with other sessions whatever its
nice value, so such a worker lowers its session's priority too. Under a service manager that gives
each service a cgroup, the cgroup's CPU weight decides instead; set it there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

_THREADS = Path("/proc/self/task")
_AUTOGROUP = Path("/proc/self/autogroup")


def lower_cpu_priority(niceness: int) -> None:
    """Run this process (every thread, and what it forks later) at nice `niceness` or lower priority."""
    if niceness <= 0:
        return
    thread_ids = [int(tid) for tid in os.listdir(_THREADS)] if _THREADS.is_dir() else [0]
    for tid in thread_ids:  # nice is per thread on Linux; threads made later inherit it
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
        except OSError as exc:  # the thread ended meanwhile, or no permission
            logger.debug("could not lower the priority of thread %s: %s", tid, exc)
    if os.getsid(0) == os.getpid() and _AUTOGROUP.exists():
        try:
            # Reads "/autogroup-42 nice 0".
            if int(_AUTOGROUP.read_text().split()[-1]) < niceness:
                _AUTOGROUP.write_text(str(niceness))
        except (OSError, ValueError, IndexError) as exc:  # autogroup disabled, an unknown format
            logger.debug("could not lower the session's CPU priority: %s", exc)
