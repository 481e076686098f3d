"""Pausing the cyclic garbage collector around large, cycle-free allocations.

Parsing and decoding a big reply allocates millions of containers at once.
CPython's collector runs repeatedly while they are created and walks the
ever-growing young generations, roughly doubling the time (measured in
docs/performance.md), although none of these objects can form a cycle. So the
wire core pauses the collector for the duration of such a burst and restores
its previous state afterwards; reference counting still frees everything as
usual. The pause is process-wide but bounded by one parse or decode call.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused(active: bool = True) -> Iterator[None]:
    """Disable the cyclic collector inside the block when ``active`` (and it was on)."""
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
