"""Building blocks of the generated model modules.

* :class:`FrozenMap`: the immutable, hashable mapping that map columns hold;
* :func:`frozen_map` / :func:`frozen_set`: the converters of map and set fields;
* :data:`ZERO_UUID`: the ``uuid`` of a model instance that is not (yet) a row;
* :class:`Model`: the protocol every generated class satisfies, for code that
  works with any model (the mapper in :mod:`ovsdb_ic.models.mapping`);
* :data:`Ref`: the type of reference columns: a row's ``UUID``, or the
  :class:`~ovsdb_ic.wire.data.NamedUUID` of a row inserted earlier in the same
  transaction;
* :func:`check_model`: what every generated class runs on construction: each field is
  checked against its column's type and constraints, and a bad one raises
  :class:`~ovsdb_ic.errors.DataError` naming ``Table.column`` and why
  (``TransitSwitch(name=5)`` does not build).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Set
from contextvars import ContextVar
from typing import Any, ClassVar, Final, Protocol, TypeAlias, TypeVar, final
from uuid import UUID

from ovsdb_ic.wire.data import NamedUUID

__all__ = [
    "ZERO_UUID",
    "Ref",
    "check_model",
    "ref",
    "ref_map",
    "ref_set",
    "trusted_rows",
    "EMPTY_MAP",
    "FrozenMap",
    "Model",
    "frozen_map",
    "frozen_set",
]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

ZERO_UUID: Final = UUID(int=0)
"""The all-zero UUID: the ``uuid`` of a model instance built by hand, not read from a server."""

Ref: TypeAlias = UUID | NamedUUID
"""A reference column's value: the referenced row's UUID, or the NamedUUID of a row
inserted earlier in the same transaction (``txn.insert`` returns one)."""

trusted_rows: ContextVar[bool] = ContextVar("trusted_rows", default=False)
"""True while :func:`~ovsdb_ic.models.mapping.to_model` builds models from rows the
server sent (already valid), so :func:`check_model` skips them."""

_validate: Callable[[Any], None] | None = None


def ref(value: Ref | None) -> Any:
    """Converter of reference fields: a UUID or a NamedUUID (or None when optional),
    kept as given.

    The field reads as ``UUID`` (what rows from a server hold); a model built for an
    insert may hold the NamedUUID of a row inserted earlier in the same transaction
    there, which the transaction sends as that row's reference.
    """
    return value


def ref_set(value: Set[Ref]) -> frozenset[UUID]:
    """Converter of sets of references: :func:`frozen_set` (UUIDs and NamedUUIDs)."""
    return frozen_set(value)  # type: ignore[arg-type]  # NamedUUIDs: see ref()


def ref_map(value: Mapping[str, Ref]) -> FrozenMap[str, UUID]:
    """Converter of maps to references: :func:`frozen_map` (UUIDs and NamedUUIDs)."""
    return frozen_map(value)  # type: ignore[arg-type]  # NamedUUIDs: see ref()


def check_model(instance: Any) -> None:
    """Check every field of a generated model *instance* against its column (type, enum,
    range, length, set size); raise :class:`~ovsdb_ic.errors.DataError` naming
    ``Table.column`` for the first bad one. Generated classes call it on construction."""
    global _validate
    if trusted_rows.get():
        return
    if _validate is None:
        from ovsdb_ic.models.mapping import validate

        _validate = validate
    _validate(instance)


@final
class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping: the value of every map column of a model.

    It compares equal to any mapping with the same items (a plain ``dict``
    included), hashes by its items, and cannot be changed after construction.
    :meth:`to_dict` returns a fresh ``dict`` copy.
    """

    __slots__ = ("_data", "_hash")

    _data: dict[K, V]
    _hash: int | None

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        object.__setattr__(self, "_data", {} if items is None else dict(items))
        object.__setattr__(self, "_hash", None)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = hash(frozenset(self._data.items()))
            object.__setattr__(self, "_hash", h)
        return h

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"FrozenMap is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"FrozenMap is immutable (cannot delete {name!r})")

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))

    def to_dict(self) -> dict[K, V]:
        """A new ``dict`` with the same items."""
        return dict(self._data)


EMPTY_MAP: Final[FrozenMap[Any, Any]] = FrozenMap()
"""The shared empty :class:`FrozenMap`: the default of map fields."""


def frozen_map(value: Mapping[K, V]) -> FrozenMap[K, V]:
    """Converter of map fields: any mapping becomes a :class:`FrozenMap` (copied once).

    Raises ``TypeError`` for anything that is not a mapping.
    """
    if type(value) is FrozenMap:
        return value
    if isinstance(value, Mapping):
        return FrozenMap(value)
    raise TypeError(f"a map column needs a mapping, not {type(value).__name__}")


def frozen_set(value: Set[T]) -> frozenset[T]:
    """Converter of set fields: any set becomes a ``frozenset``.

    Only sets are accepted (``set``, ``frozenset``, other ``collections.abc.Set``):
    a string or a list raises ``TypeError`` instead of being split silently.
    """
    if type(value) is frozenset:
        return value
    if isinstance(value, Set):
        return frozenset(value)
    raise TypeError(f"a set column needs a set or frozenset, not {type(value).__name__}")


class Model(Protocol):
    """What every generated model class provides.

    ``__database__`` and ``__table__`` name the database and table,
    ``__columns__`` the table's columns and ``__fields__`` the matching attribute
    names (the same except where a column name is not a usable attribute name,
    which gets a trailing underscore). ``uuid`` is the row's ``_uuid``.
    """

    __database__: ClassVar[str]
    __table__: ClassVar[str]
    __columns__: ClassVar[tuple[str, ...]]
    __fields__: ClassVar[tuple[str, ...]]

    @property
    def uuid(self) -> UUID:
        """The row's ``_uuid`` (:data:`ZERO_UUID` when not read from a server)."""
        ...
