"""Peak memory of a server's process tree (API + workers), sampled from /proc by a child process.

The sampler must not slow the server it measures. It runs in its own process, not in a thread of the
load generator's (whose GIL it would take), and it reads RSS from /proc/PID/status (kept counters)
five times a second but PSS from /proc/PID/smaps_rollup only every PSS_EVERY-th sample: summing PSS
walks the process's page tables under its memory-map lock, and doing that five times a second for
the API and PostgreSQL measured 888 -> 636 accepted events/s on a 2-core machine. The tree of
processes is re-read with the PSS samples; peak PSS is therefore sampled more coarsely than RSS.

RSS summed over processes counts pages shared by forked workers once per process (that is what
"RSS of API + worker" means to most people); PSS splits shared pages fairly, so both are reported.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: fields resume after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def tree_pids(roots: list[int]) -> list[int]:
    """The roots and all their living descendants."""
    children = _children_map()
    out, stack = [], [r for r in roots if os.path.exists(f"/proc/{r}")]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def _status_kb(pid: int, field: str, path: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{path}", encoding="ascii") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


PSS_EVERY = 10


def tree_memory_kb(roots: list[int]) -> tuple[int, int, int]:
    """(RSS sum, PSS sum, process count) of the trees under `roots`, in KiB."""
    pids = tree_pids(roots)
    return rss_kb(pids), pss_kb(pids), len(pids)


def rss_kb(pids: list[int]) -> int:
    """RSS summed over `pids` (cheap: counters the kernel keeps)."""
    return sum(_status_kb(p, "VmRSS:") for p in pids)


def pss_kb(pids: list[int]) -> int:
    """PSS summed over `pids` (costly: walks each process's page tables)."""
    return sum(_status_kb(p, "Pss:", "smaps_rollup") for p in pids)


@dataclass
class MemPeak:
    """Peak memory seen while sampling."""

    rss_kb: int = 0
    pss_kb: int = 0
    processes: int = 0
    samples: int = 0

    def summary(self) -> dict[str, float]:
        """MiB figures, JSON-ready."""
        return {
            "peak_rss_mib": round(self.rss_kb / 1024, 1),
            "peak_pss_mib": round(self.pss_kb / 1024, 1),
            "processes": self.processes,
            "samples": self.samples,
        }


class PeakSampler:
    """Samples a process tree every `interval` seconds between start() and stop(), in a child process."""

    def __init__(self, roots: list[int], interval: float = 0.2) -> None:
        self.roots, self.interval = roots, interval
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> PeakSampler:
        """Begin sampling."""
        ours, theirs = multiprocessing.Pipe()
        self._conn = ours
        self._process = multiprocessing.get_context("fork").Process(
            target=_sample_until_told, args=(self.roots, self.interval, theirs), daemon=True
        )
        self._process.start()
        theirs.close()
        return self

    def stop(self) -> MemPeak:
        """Stop sampling (after one last sample) and return the peak."""
        assert self._conn is not None and self._process is not None
        self._conn.send("stop")
        peak = MemPeak(**self._conn.recv())
        self._process.join()
        return peak


def _sample_until_told(roots: list[int], interval: float, conn: Connection) -> None:
    peak = MemPeak()
    pids: list[int] = []

    def sample(with_pss: bool) -> None:
        nonlocal pids
        if with_pss:
            pids = tree_pids(roots)
            peak.pss_kb = max(peak.pss_kb, pss_kb(pids))
        rss = rss_kb(pids)
        if rss > peak.rss_kb:
            peak.rss_kb, peak.processes = rss, len(pids)
        peak.samples += 1

    while not conn.poll(interval):
        sample(with_pss=peak.samples % PSS_EVERY == 0)
    conn.recv()
    sample(with_pss=True)
    conn.send(asdict(peak))
