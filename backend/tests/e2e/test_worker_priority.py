"""The analysis worker gives way to ingest for the CPU: it runs at WORKER_NICE (default 10), its pool's
processes too, and a worker leading its own session lowers that session's autogroup, which is what
Linux weighs between sessions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import BACKEND_DIR


def _thread_niceness(pid: int) -> list[int]:
    """The nice value of every thread of process `pid` (field 19 of /proc/<pid>/task/<tid>/stat)."""
    values = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        values.append(int(stat.rsplit(")", 1)[1].split()[16]))
    return values


def _children(pid: int) -> list[int]:
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        kids += [int(k) for k in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    return kids


def test_the_worker_and_its_pool_run_at_nice_10_by_default(worker):
    main = worker.process.pid
    pool = _children(main)
    assert len(pool) == 2  # --concurrency=2, the seed's prefork pool
    for pid in [main, *pool]:
        assert set(_thread_niceness(pid)) == {10}, pid


def test_worker_nice_0_leaves_the_priority_it_was_started_with(workers):
    worker = workers.ensure({"WORKER_NICE": "0"})
    started_with = os.getpriority(os.PRIO_PROCESS, 0)
    assert set(_thread_niceness(worker.process.pid)) == {started_with}


def _run_lowering(niceness: int, new_session: bool) -> tuple[str, str]:
    """A process that lowers its priority as the worker does; returns its autogroup line before and after."""
    code = (
        "from pathlib import Path; from app.runtime.cpu_priority import lower_cpu_priority; "
        "g = Path('/proc/self/autogroup'); before = g.read_text().strip(); "
        f"lower_cpu_priority({niceness}); print(before); print(g.read_text().strip())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND_DIR, capture_output=True, text=True, check=True,
        start_new_session=new_session,
    )  # fmt: skip
    before, after = out.stdout.splitlines()
    return before, after


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="kernel without autogroup scheduling")
def test_a_worker_leading_its_own_session_lowers_the_session_autogroup():
    before, after = _run_lowering(7, new_session=True)
    assert before.endswith("nice 0")
    assert after.endswith("nice 7")


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="kernel without autogroup scheduling")
def test_a_worker_sharing_a_session_leaves_the_session_autogroup_alone():
    # The session may hold the API too (one terminal running both): lowering it would slow ingest.
    ours = Path("/proc/self/autogroup").read_text().strip()
    before, after = _run_lowering(7, new_session=False)
    assert before == after == ours
