"""Micro-benchmark: CPU per event of what ingest does between parsing an event and storing it.

Not a test, and not part of `make bench`. Times `prepare_event` (scrub the payload, normalize the
event beside it, group, serialise both) on Sentry events built by `loadgen.build_event` over G
groups, with fresh ids, timestamps and variables per event as in the load test, so the redactor's
text cache is as warm as under load. The clock is the process's CPU time, not the wall clock: on
a shared machine, time spent waiting for a core is not ours.

    python bench/prepare_bench.py [--events 400] [--groups 20] [--repeat 10]
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "backend"))

import loadgen  # noqa: E402

from app.events.normalize import normalize_sentry_event  # noqa: E402
from app.events.prepare import prepare_event  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    rng = random.Random(7)
    groups = [loadgen.make_group(g) for g in range(args.groups)]
    events = [loadgen.build_event(groups[i % args.groups], rng) for i in range(args.events)]
    received_at = datetime.now(UTC)

    def run() -> None:
        for data in events:
            prepare_event(1, data, normalize_sentry_event, received_at=received_at)

    run()  # warm the caches, as a server under load has them
    sent = copy.deepcopy(events)
    best = min(timeit.repeat(run, number=1, repeat=args.repeat, timer=time.process_time))
    assert events == sent, "prepare_event must not change the client's payload"
    print(
        f"normalize + prepare_event: {best / len(events) * 1e6:.1f} µs CPU per event "
        f"({len(events)} events, {args.groups} groups, best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
