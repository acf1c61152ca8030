"""`python -m app up`, as `make run` starts it: its API only accepts, its digesters are its own peers,
and a digester that dies is started again while events keep being stored."""

from __future__ import annotations

import re
import signal
import sys

import psutil

from tests.faults.events import post_seed
from tests.faults.servers import ChildProcess, Stack
from tests.support.db import wait_until
from tests.support.processes import free_port


def stored_seed_events(stack: Stack) -> int:
    return stack.scalar("SELECT count(*) FROM error_events WHERE payload ? 'project_key'")


def test_up_supervises_its_digesters_and_starts_a_dead_one_again(stack: Stack):
    port = free_port()
    up = ChildProcess([sys.executable, "-m", "app", "up", "--port", str(port)], stack.env(), "faults-up.log")
    stack.children.append(up)
    up.wait_for_log("Faultline is up", timeout_s=120)
    url = re.search(r"Dashboard and API : (\S+)/", up.log()).group(1)

    (first,) = up.digesters()
    assert "--parent-pid" not in first.cmdline()  # up's own, not an API process's embedded one
    assert first.parent().pid == up.pid
    assert post_seed(url, 1).status_code == 201
    wait_until(lambda: stored_seed_events(stack) == 1, timeout_s=30)

    first.kill()
    (second,) = wait_until(lambda: [d for d in up.digesters() if d.pid != first.pid], timeout_s=30)
    assert up.alive()  # a digester's death does not bring the rest down
    assert post_seed(url, 2).status_code == 201
    wait_until(lambda: stored_seed_events(stack) == 2, timeout_s=30)

    up.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert up.process.wait(60) == 0
    assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE
