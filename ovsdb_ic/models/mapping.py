"""Between typed model instances and the wire layer's rows.

Rows in the wire layer are ``{column: value}`` dicts of Python values (see
:mod:`ovsdb_ic.wire.data`); model instances are the frozen attrs classes of the
generated modules (:mod:`ovsdb_ic.models.ic_nb`, ``ic_sb``, ``nb``, ``sb``).

* :func:`model_for` finds the model class of a table;
* :func:`to_model` builds an instance from a row, :func:`to_row` goes back;
* :func:`check_compatible` compares the schema a server announces with the one the
  models were generated from: unknown server columns are ignored, columns the server
  lacks read as their default (the column's OVSDB default) when the model has one, and
  anything else raises :class:`~ovsdb_ic.errors.SchemaError` naming ``Table.column``;
* :func:`server_row` drops, from a row about to be written, the columns an (older)
  server lacks, and refuses a non-default value for one of them.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, Final, Protocol, TypeVar
from uuid import UUID

import attrs

from ovsdb_ic.errors import DataError, LocalProtocolError, SchemaError
from ovsdb_ic.models._schemas import SCHEMA_JSON
from ovsdb_ic.models.base import FrozenMap, Model, trusted_rows
from ovsdb_ic.wire.data import column_codec, datum_to_json
from ovsdb_ic.wire.monitor import default_value
from ovsdb_ic.wire.schema import (
    BaseType,
    ColumnType,
    DatabaseSchema,
    parse_schema_lazy,
    same_column_types,
    same_table,
)

__all__ = [
    "validate",
    "MODULES",
    "ModelModule",
    "models_module",
    "model_for",
    "model_schema",
    "to_model",
    "to_row",
    "check_compatible",
    "column_has_default",
    "has_default",
    "server_row",
]

M = TypeVar("M", bound=Model)

MODULES: Final = {
    "OVN_IC_Northbound": "ovsdb_ic.models.ic_nb",
    "OVN_IC_Southbound": "ovsdb_ic.models.ic_sb",
    "OVN_Northbound": "ovsdb_ic.models.nb",
    "OVN_Southbound": "ovsdb_ic.models.sb",
}
"""Database name -> the generated module of its models (imported on first use)."""


class ModelModule(Protocol):
    """What a generated module provides (the modules themselves satisfy this protocol)."""

    @property
    def DATABASE(self) -> str:
        """The database name."""
        ...

    @property
    def VERSION(self) -> str:
        """The schema version the models were generated from."""
        ...

    @property
    def MODELS(self) -> Mapping[str, type[Model]]:
        """Table name -> model class."""
        ...

    @property
    def SCHEMA_JSON(self) -> str:
        """The schema, as compact JSON."""
        ...


def models_module(database: str) -> ModelModule | None:
    """The generated module of *database*, or ``None`` when it has no models."""
    name = MODULES.get(database)
    if name is None:
        return None
    module: Any = importlib.import_module(name)
    return module  # type: ignore[no-any-return]


def model_for(database: str, table: str) -> type[Model] | None:
    """The model class of *table* in *database*, or ``None`` (replicas then hand out
    generic rows)."""
    module = models_module(database)
    if module is None:
        return None
    return module.MODELS.get(table)


def _module_of(models: str | ModelModule | ModuleType) -> ModelModule:
    if isinstance(models, str):
        module = models_module(models)
        if module is None:
            raise LookupError(f"no models for database {models!r}")
        return module
    return models


@functools.cache
def _schema_of_text(text: str) -> DatabaseSchema:
    # Generated from a schema that parse_schema accepted: each table is parsed when
    # first used (the clients check a server's tables against these at every start,
    # mostly without parsing them: see check_compatible).
    return parse_schema_lazy(json.loads(text))


def model_schema(models: str | ModelModule | ModuleType) -> DatabaseSchema:
    """The schema a models module was generated from (by database name or module).

    By name it imports no model class (the schemas are kept in
    :mod:`ovsdb_ic.models._schemas`)."""
    if isinstance(models, str) and models in MODULES:
        return _schema_of_text(SCHEMA_JSON[models])
    return _schema_of_text(_module_of(models).SCHEMA_JSON)


# --------------------------------------------------------------------------- rows

_Plan = tuple[tuple[str, str, bool], ...]
_PLANS: dict[type[Any], _Plan] = {}


@functools.cache
def _defaults(cls: type[Any]) -> dict[str, Any]:
    """Attribute -> default value, for the fields of *cls* that have one."""
    return {f.name: f.default for f in attrs.fields(cls) if f.default is not attrs.NOTHING}


@functools.cache
def _attr_of_column(cls: type[Model]) -> dict[str, str]:
    """Column -> attribute, for the columns of model *cls* (do not change the dict)."""
    return dict(zip(cls.__columns__, cls.__fields__, strict=True))


def column_has_default(ctype: ColumnType) -> bool:
    """Whether the generated models give a column of this type a default: its OVSDB
    default (:func:`~ovsdb_ic.wire.monitor.default_value`) is valid by the column's
    constraints and is not a reference to the all-zero UUID (no such row). For a
    generated class, ``has_default(cls, column)`` is this of the column's type."""
    for base in (ctype.key, ctype.value):
        if base is not None and base.ref_table is not None and ctype.min > 0:
            return False
    try:
        datum_to_json(ctype, default_value(ctype))
    except DataError:
        return False
    return True


def has_default(cls: type[Model], column: str) -> bool:
    """Whether *column* of model *cls* has a default value (the column's OVSDB default,
    when that is a valid value): a row without it, e.g. from an older server that lacks
    the column, reads as that default."""
    attr = _attr_of_column(cls).get(column)
    return attr is not None and attr in _defaults(cls)


def _plan(cls: type[Model]) -> _Plan:
    """(column, attribute, may be absent) for each column of *cls*, cached."""
    plan = _PLANS.get(cls)
    if plan is None:
        defaults = _defaults(cls)
        plan = tuple(
            (column, attr, attr in defaults)
            for column, attr in zip(cls.__columns__, cls.__fields__, strict=True)
        )
        _PLANS[cls] = plan
    return plan


def to_model(cls: type[M], uuid: UUID, row: Mapping[str, Any]) -> M:
    """Build a *cls* instance from a wire row (``{column: Python value}``).

    Columns the model does not know are ignored. A column missing from *row* (not
    monitored, or lacking from an older server's schema) reads as its default: the
    column's OVSDB default (``""``, ``0``, ``False``, ``None``, empty set or map). A
    missing column without a valid default (an enum without ``""``, a reference that
    may not be empty...) raises :class:`~ovsdb_ic.errors.SchemaError` naming
    ``Table.column``.
    """
    kwargs: dict[str, Any] = {"uuid": uuid}
    for column, attr, may_be_empty in _PLANS.get(cls) or _plan(cls):
        if column in row:
            kwargs[attr] = row[column]
        elif not may_be_empty:
            raise SchemaError(
                f"{cls.__table__}.{column}",
                f"the row has no value for required column {column!r} of "
                f"{cls.__database__}, which has no default (does the server's schema "
                "lack it?)",
            )
    token = trusted_rows.set(True)
    try:
        return cls(**kwargs)
    finally:
        trusted_rows.reset(token)


_CHECKS: dict[type[Any], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


def validate(instance: Model) -> None:
    """Check each field of *instance* against its column's type and constraints.

    Raises :class:`~ovsdb_ic.errors.DataError` (a ``ValueError``) whose ``where`` is
    ``Table.column``, e.g. ``Transit_Switch.name: expected a str, not int (got 5)``.
    Generated models run it on construction (:func:`~ovsdb_ic.models.base.check_model`),
    except when :func:`to_model` builds them from a server's rows.
    """
    cls = type(instance)
    checks = _CHECKS.get(cls)
    if checks is None:
        module = sys.modules[cls.__module__]
        table = model_schema(module).table(cls.__table__)
        checks = tuple(
            (attr, column_codec(table.columns[column].type,
                                f"{cls.__table__}.{column}").encode)
            for column, attr in zip(cls.__columns__, cls.__fields__, strict=True)
        )
        _CHECKS[cls] = checks
    for attr, encode in checks:
        encode(getattr(instance, attr))


def to_row(instance: Model, columns: Iterable[str] | None = None) -> dict[str, Any]:
    """The wire row of *instance*: ``{column: Python value}`` (maps as ``dict``).

    *columns* limits the row to those columns (for an ``update``); naming a column the
    table does not have raises :class:`~ovsdb_ic.errors.LocalProtocolError`. The row's
    ``uuid`` is not part of the result.
    """
    cls = type(instance)
    pairs: Iterable[tuple[str, str]]
    if columns is None:
        pairs = zip(cls.__columns__, cls.__fields__, strict=True)
    else:
        attrs_of = _attr_of_column(cls)
        wanted = []
        for column in columns:
            if column not in attrs_of:
                raise LocalProtocolError(f"table {cls.__table__} has no column {column!r}")
            wanted.append((column, attrs_of[column]))
        pairs = wanted
    out: dict[str, Any] = {}
    for column, attr in pairs:
        value = getattr(instance, attr)
        out[column] = value.to_dict() if type(value) is FrozenMap else value
    return out


def server_row(
    cls: type[Model], values: Mapping[str, Any], server: DatabaseSchema
) -> dict[str, Any]:
    """*values* (a row of model *cls*, as :func:`to_row` makes it) without the columns
    the *server*'s schema lacks, so that a row of the newest models can be written to an
    older server: a column the server lacks is never sent.

    A column the server lacks may only hold its default (the model's, e.g. ``0`` for a
    25.03-only integer column); any other value raises
    :class:`~ovsdb_ic.errors.SchemaError` with ``path`` ``Table.column`` naming the
    server's schema version, since dropping it would lose data silently.
    """
    table = server.tables.get(cls.__table__)
    if table is None:
        raise SchemaError(
            cls.__table__,
            f"the server's {server.name} {server.version} has no table {cls.__table__}",
        )
    attrs_of = _attr_of_column(cls)
    defaults = _defaults(cls)
    out: dict[str, Any] = {}
    for column, value in values.items():
        if column in table.columns:
            out[column] = value
            continue
        attr = attrs_of.get(column)
        if attr is None:
            out[column] = value  # not a model column: let the wire layer name it
            continue
        if attr in defaults and value == defaults[attr]:
            continue
        raise SchemaError(
            f"{cls.__table__}.{column}",
            f"the server's {server.name} {server.version} has no column {column!r}; "
            f"it can only be left at its default {defaults.get(attr)!r}, not {value!r}",
        )
    return out


# --------------------------------------------------------------------------- compatibility


def _shape(ctype: ColumnType) -> str:
    if ctype.value is not None:
        return "map"
    if ctype.is_scalar:
        return "scalar"
    if ctype.is_optional:
        return "optional"
    return "set"


def _check_base(where: str, ours: BaseType, theirs: BaseType, warnings: list[str]) -> str | None:
    if ours.type != theirs.type:
        return f"holds {theirs.type} atoms on the server but {ours.type} in the model"
    if ours.enum is not None:
        extra = (
            None if theirs.enum is None else sorted(theirs.enum - ours.enum, key=repr)
        )
        if extra is None:
            warnings.append(f"{where}: the server allows any {ours.type}, the model only "
                            f"{sorted(ours.enum, key=repr)}")
        elif extra:
            warnings.append(f"{where}: the server allows values the model does not "
                            f"list: {extra}")
    if ours.ref_table != theirs.ref_table:
        warnings.append(f"{where}: refers to {theirs.ref_table} on the server, "
                        f"{ours.ref_table} in the model")
    return None


def check_compatible(
    models: str | ModelModule | ModuleType,
    server: DatabaseSchema,
    tables: Iterable[str] | None = None,
) -> list[str]:
    """Check that rows of *server*'s schema can be read into the models; return warnings.

    *models* is a database name or a generated module. *tables* limits the check to
    those tables (default: every table of the models). For each checked table and
    each model column:

    * a column the server lacks (an older OVN) is fine when the model gives it a
      default (it reads as that default, ``""``, ``0``, ``None``, empty set or map, and
      :func:`server_row` never sends it: a warning says so); when it has no default,
      :class:`~ovsdb_ic.errors.SchemaError` is raised with ``path`` ``Table.column``;
    * a column whose server type holds other atoms, or a different shape (a set where
      the model has one value, one optional value where the model needs one), raises
      :class:`~ovsdb_ic.errors.SchemaError` too; a server scalar for a model optional
      column is fine; a wider server enum or another reference table is a warning;
    * columns and tables only the server has are ignored (one warning each).

    A table the server lacks raises when it was named in *tables* and is a warning
    otherwise. The database names must match.

    Given the name of a database of :data:`MODULES`, it builds no model class (the
    clients check every connection this way): whether a column has a default is then
    :func:`column_has_default` of its type, the rule the classes were generated by.
    """
    classes: Mapping[str, type[Model]] | None = None
    if isinstance(models, str) and models in MODULES:
        ours = model_schema(models)
    else:
        module = _module_of(models)
        ours = model_schema(module)
        classes = module.MODELS
    if server.name != ours.name:
        raise SchemaError("name", f"the server's database is {server.name}, the models' "
                                  f"{ours.name}")
    warnings: list[str] = []
    if server.version != ours.version:
        warnings.append(f"{ours.name}: server schema version {server.version}, models "
                        f"generated from {ours.version}")
    explicit = tables is not None
    names = list(ours.tables) if tables is None else list(tables)
    for tname in names:
        if tname not in ours.tables:
            raise LookupError(f"{ours.name} has no model for table {tname!r}")
        if same_table(server, ours, tname):
            continue  # the models' own table (the same JSON): nothing to say
        stable = server.tables.get(tname)
        if stable is None:
            if explicit:
                raise SchemaError(tname, f"the server's {server.name} has no table {tname}")
            warnings.append(f"{tname}: the server has no such table")
            continue
        if same_column_types(ours, tname, stable):
            continue  # nothing to say, found without parsing the model's table
        otable = ours.tables[tname]
        for cname, ocol in otable.columns.items():
            where = f"{tname}.{cname}"
            scol = stable.columns.get(cname)
            if scol is None:
                if classes is None:
                    defaulted = column_has_default(ocol.type)
                else:
                    cls = classes.get(tname)
                    defaulted = cls is not None and has_default(cls, cname)
                if ocol.type.min == 0 or defaulted:
                    warnings.append(
                        f"{where}: the server has no such column; it reads as "
                        + ("empty" if ocol.type.min == 0 else "its default")
                    )
                    continue
                raise SchemaError(
                    where,
                    f"the server's {server.name} {server.version} has no column {cname!r}, "
                    "which the model requires",
                )
            ot, st = ocol.type, scol.type
            if st is ot or st == ot:
                continue  # the same type: nothing to say (most columns)
            oshape, sshape = _shape(ot), _shape(st)
            if oshape != sshape and not (oshape == "optional" and sshape == "scalar"):
                raise SchemaError(
                    where,
                    f"the server's type {json.dumps(st.to_json())} does not fit the "
                    f"model's {json.dumps(ot.to_json())} ({sshape} vs {oshape})",
                )
            for part, obase, sbase in (("key", ot.key, st.key), ("value", ot.value, st.value)):
                if obase is None or sbase is None:
                    continue
                problem = _check_base(where, obase, sbase, warnings)
                if problem is not None:
                    raise SchemaError(where, f"{part} {problem}")
        for cname in sorted(set(stable.columns) - set(otable.columns)):
            warnings.append(f"{tname}.{cname}: the model has no such column; it is ignored")
    if not explicit:
        for tname in sorted(set(server.tables) - set(ours.tables)):
            warnings.append(f"{tname}: the models have no such table; it is ignored")
    return warnings
