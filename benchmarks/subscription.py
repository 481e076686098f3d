"""What handing out change events costs a subscriber: iterating vs ``sub.batches()``.

No server and no replica: one :class:`~ovsdb_ic.client.live.Subscription`, a producer
task that queues ``--per-step`` events and then checkpoints (as a live replica
publishes a transaction's changes and goes back to reading), and a consumer that
takes them with ``async for change in sub`` (``each``) or ``async for changes in
sub.batches()`` (``batch``). Reported: thread CPU per event of both tasks together,
best of ``--repeat`` rounds. Usage::

    .venv/bin/python benchmarks/subscription.py --events 100000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from ovsdb_ic.client.live import Subscription


async def _round(mode: str, events: int, per_step: int) -> float:
    sub = Subscription(events)
    seen = 0

    async def producer() -> None:
        for start in range(0, events, per_step):
            for i in range(start, min(start + per_step, events)):
                sub._send.send_nowait(i)  # type: ignore[arg-type]
            await trio.lowlevel.checkpoint()
        sub._send.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer)
        t0 = time.thread_time()
        if mode == "each":
            async for _ in sub:
                seen += 1
        else:
            async for changes in sub.batches():
                seen += len(changes)
        cpu = time.thread_time() - t0
    if seen != events:
        raise AssertionError(f"{mode}: {seen} of {events} events")
    return cpu


def main(argv: list[str] | None = None) -> int:
    """Run both consumers and print microseconds per event."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--per-step", type=int, default=8, help="events queued per producer step")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    for mode in ("each", "batch"):
        best = min(trio.run(_round, mode, args.events, args.per_step) for _ in range(args.repeat))
        print(f"{mode:>5}: {best / args.events * 1e6:6.2f} us per event (thread CPU, best of "
              f"{args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
