"""One shared ``__repr__`` for attrs classes, instead of one compiled per class.

attrs writes the source of each class's ``__repr__`` and compiles it when the class is
built: about 0.1 ms a class, a third of what building a small class costs, paid by
every process that imports the class (the sync engine imports about 50 at start-up).
A class built with ``repr=False`` that sets ``__repr__ = attrs_repr`` shows the same
text as attrs' own: ``Name(field=value, ...)`` with the fields attrs would show, each
through its ``repr=`` callable if it has one, and ``...`` for an object already being
shown on this thread. It is slower per call than the compiled one, which no hot path
notices (nothing on one calls ``repr``).

Use::

    @attrs.frozen(repr=False)
    class Point:
        x: int
        y: int
        __repr__ = attrs_repr
"""

from __future__ import annotations

from reprlib import recursive_repr
from typing import Any

import attrs

__all__ = ["attrs_repr"]


@recursive_repr("...")
def attrs_repr(self: Any) -> str:
    """``Name(field=value, ...)``, as attrs' generated ``__repr__`` of ``type(self)``."""
    cls = type(self)
    parts = []
    for field in attrs.fields(cls):
        show = field.repr
        if show is False:
            continue
        value = getattr(self, field.name) if field.init else getattr(
            self, field.name, attrs.NOTHING)
        parts.append(f"{field.name}={repr(value) if show is True else show(value)}")
    return f"{cls.__qualname__.rsplit('>.', 1)[-1]}({', '.join(parts)})"
