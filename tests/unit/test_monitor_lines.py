"""The ``monitor`` command's encoders for replica values equal the checked codecs'.

``ovsdb_ic.wire.rowjson.value_encoder`` gives the JSON ``ovsdb-ic monitor`` prints for
replica values, skipping validation (the replica's values were validated when decoded).
For every column of the four schemas and generated valid values, they must give
exactly the JSON that :func:`~ovsdb_ic.wire.data.column_codec`'s checked ``encode``
gives.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.testing import schema_path
from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.rowjson import value_encoder
from ovsdb_ic.wire.schema import BaseType, ColumnType, parse_schema
from tests.strategies import reals, text

COLUMNS = sorted(
    {col.type for name in ("ic-nb", "ic-sb", "nb", "sb")
     for table in parse_schema(json.loads(schema_path(name).read_text())).tables.values()
     for col in table.columns.values()},
    key=repr,
)


def _atoms(base: BaseType) -> st.SearchStrategy[Any]:
    if base.enum is not None:
        return st.sampled_from(sorted(base.enum))
    if base.type == "string":
        return text(0, 4)  # what a server can hold: no NUL, no lone surrogate
    if base.type == "integer":
        lo = -(2**63) if base.min_integer is None else base.min_integer
        hi = 2**63 - 1 if base.max_integer is None else base.max_integer
        return st.integers(lo, hi)
    if base.type == "real":
        return reals(base.min_real, base.max_real)
    if base.type == "boolean":
        return st.booleans()
    return st.uuids().map(lambda u: uuid.UUID(str(u)))


def _values(ctype: ColumnType) -> st.SearchStrategy[Any]:
    hi = 3 if ctype.max is None else min(ctype.max, 3)
    if ctype.value is not None:
        return st.dictionaries(_atoms(ctype.key), _atoms(ctype.value), min_size=ctype.min,
                               max_size=hi)
    if ctype.is_scalar:
        return _atoms(ctype.key)
    if ctype.is_optional:
        return st.none() | _atoms(ctype.key)
    return st.frozensets(_atoms(ctype.key), min_size=ctype.min, max_size=hi)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_trusted_encoders_equal_the_checked_ones(data: st.DataObject) -> None:
    ctype = data.draw(st.sampled_from(COLUMNS))
    value = data.draw(_values(ctype))
    fast = value_encoder(ctype)
    got = value if fast is None else fast(value)
    assert got == column_codec(ctype).encode(value)
    assert json.dumps(got) == json.dumps(column_codec(ctype).encode(value))
