"""Peak memory of a server's process tree (API + workers), sampled from /proc in a background thread.

RSS summed over processes counts pages shared by forked workers once per process (that is what
"RSS of API + worker" means to most people); PSS splits shared pages fairly, so both are reported.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass


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


def tree_memory_kb(roots: list[int]) -> tuple[int, int, int]:
    """(RSS sum, PSS sum, process count) of the trees under `roots`, in KiB."""
    pids = tree_pids(roots)
    rss = sum(_status_kb(p, "VmRSS:") for p in pids)
    pss = sum(_status_kb(p, "Pss:", "smaps_rollup") for p in pids)
    return rss, pss, len(pids)


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
    """Samples a process tree every `interval` seconds between start() and stop()."""

    def __init__(self, roots: list[int], interval: float = 0.2) -> None:
        self.roots, self.interval = roots, interval
        self.peak = MemPeak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss, pss, n = tree_memory_kb(self.roots)
        p = self.peak
        p.samples += 1
        if rss > p.rss_kb:
            p.rss_kb, p.processes = rss, n
        p.pss_kb = max(p.pss_kb, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> PeakSampler:
        """Begin sampling."""
        self._thread.start()
        return self

    def stop(self) -> MemPeak:
        """Stop sampling (after one last sample) and return the peak."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak
