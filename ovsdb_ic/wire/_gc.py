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
from contextlib import AbstractContextManager, contextmanager, nullcontext

__all__ = ["gc_paused"]


_NOTHING: AbstractContextManager[None] = nullcontext()


def gc_paused(active: bool = True) -> AbstractContextManager[None]:
    """Disable the cyclic collector inside the block when ``active`` (and it was on).

    When the block ends the objects it created are moved to the oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``: two list splices), so that the next
    young collection does not walk millions of them at once, a pause of a second or
    more at 200,000 rows right after the parse. They are freed by reference counting
    as usual; only cyclic garbage waits for the next full collection. Skipped when the
    program keeps objects frozen itself.
    """
    if not active or not gc.isenabled():
        return _NOTHING  # small messages: no generator to run
    return _paused()


@contextmanager
def _paused() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
