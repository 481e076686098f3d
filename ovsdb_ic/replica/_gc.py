"""Pausing the cyclic garbage collector while a large copy is applied, across awaits.

Building hundreds of thousands of rows creates millions of long-lived containers;
CPython's collector keeps walking them (and everything else alive, such as the
updates being applied) while they pile up, which roughly doubles the time of a big
apply (docs/performance.md). None of these objects can form a cycle, so the replica
pauses the collector while it builds them; reference counting frees garbage as usual.

Unlike ``ovsdb_ic.wire._gc.gc_paused`` (one synchronous call), a staged apply runs in
steps with other work in between, and several may overlap (two replicas syncing at
once). So the pause is counted: the first :func:`pause` disables the collector if it
was enabled, and the :func:`resume` that brings the count back to zero enables it
again, only if a pause had disabled it. A collector the program disabled itself stays
disabled.

Promotion. Once enabled again, the collector would walk the new rows as young objects
(a first-generation collection of all of them, then a second-generation one, then a
full one: about 2 s at 200,000 rows, in the middle of the updates that follow the
initial copy). A pause that asks to ``promote`` ends by moving every tracked object
straight to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``, two list
splices): the rows are then walked only by full collections, which come when the
long-lived objects have grown by a quarter. Nothing is frozen for good, and cyclic
garbage that was young is still collected, by the next full collection. Skipped when
the program keeps objects frozen itself (``gc.get_freeze_count()``), so as not to
unfreeze them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["pause", "paused", "promote_all", "resume"]

_depth = 0
_disabled_by_us = False
_promote_requested = False


def pause() -> None:
    """Start a pause (nestable); pair every call with one :func:`resume`."""
    global _depth, _disabled_by_us
    if _depth == 0 and gc.isenabled():
        gc.disable()
        _disabled_by_us = True
    _depth += 1


def resume(*, promote: bool = False) -> None:
    """End a pause; the last one re-enables the collector if a pause disabled it.

    With ``promote``, the last pause also moves every tracked object to the oldest
    generation (see the module doc), if the collector is then enabled.
    """
    global _depth, _disabled_by_us, _promote_requested
    if _depth <= 0:
        raise RuntimeError("resume() without pause()")
    _depth -= 1
    _promote_requested = _promote_requested or promote
    if _depth == 0:
        if _disabled_by_us:
            _disabled_by_us = False
            gc.enable()
        if _promote_requested:
            _promote_requested = False
            if gc.isenabled():
                promote_all()


def promote_all() -> None:
    """Move every tracked object to the oldest generation, without a collection.

    Does nothing when the program keeps objects frozen (``gc.freeze()``) itself.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextmanager
def paused(active: bool = True, *, promote: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block when ``active``.

    Pauses nest and may overlap across trio tasks: the collector is enabled again
    when the last one ends, and only if a pause disabled it. Reference counting
    still frees everything that is not part of a cycle. Meant for building a big
    replica (a staged apply with awaits between its steps), not for long stretches.

    With ``promote``, when the last pause ends every object the collector tracks is
    moved to its oldest generation instead of being walked as a young object: cheap,
    and it spares the loop the collections that would otherwise follow a big build
    (see the module doc of ``ovsdb_ic.replica._gc``).
    """
    if not active:
        yield
        return
    pause()
    try:
        yield
    finally:
        resume(promote=promote)
