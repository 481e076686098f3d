"""Shared ``__repr__``, ``__eq__`` and ``__hash__`` for attrs classes, instead of
methods compiled for each class.

attrs writes the source of each class's ``__repr__`` (and ``__eq__``, ``__hash__``)
and compiles it when the class is built: about 0.1 ms a class for the repr and 0.05
to 0.09 ms for equality and hashing, two thirds of what building a small class costs,
paid by every process that imports the class (the sync engine imports about 50 at
start-up). A class built with ``repr=False`` that sets ``__repr__ = attrs_repr`` shows
the same text as attrs' own: ``Name(field=value, ...)`` with the fields attrs would
show, each through its ``repr=`` callable if it has one, and ``...`` for an object
already being shown on this thread. One built with ``eq=False`` that sets
``__eq__ = attrs_eq`` (and, if frozen, ``__hash__ = attrs_hash``) compares and hashes
as attrs' own would: equal when of the same class and equal in every field compared
(through its ``eq=`` key if it has one), ``NotImplemented`` for another class, a hash
from the fields that take part in it. Each is slower per call than a compiled one:
only for classes that no hot path prints, compares or hashes.

Use::

    @attrs.frozen(repr=False, eq=False)
    class Point:
        x: int
        y: int

        __repr__ = attrs_repr
        __eq__ = attrs_eq
        __hash__ = attrs_hash
"""

from __future__ import annotations

from reprlib import recursive_repr
from typing import Any

import attrs

__all__ = ["attrs_eq", "attrs_hash", "attrs_repr"]


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


def _key(obj: Any, field: Any) -> Any:  # an attrs.Attribute (its stub lacks eq_key)
    value = getattr(obj, field.name)
    return value if field.eq_key is None else field.eq_key(value)


def _compared(obj: Any) -> tuple[Any, ...]:
    return tuple(_key(obj, f) for f in attrs.fields(type(obj)) if f.eq)


def attrs_eq(self: Any, other: object) -> bool:
    """``==`` as attrs' generated ``__eq__``: same class, equal compared fields."""
    if other.__class__ is not self.__class__:
        different: bool = NotImplemented
        return different
    return _compared(self) == _compared(other)


def attrs_hash(self: Any) -> int:
    """A hash of the class and the fields that take part in hashing (``hash=True``, or
    unset and compared; through their ``eq=`` key), consistent with :func:`attrs_eq`,
    as attrs' own is."""
    cls = type(self)
    return hash((id(cls), *(_key(self, f) for f in attrs.fields(cls)
                            if f.hash or (f.hash is None and f.eq))))
