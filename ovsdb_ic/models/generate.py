"""Generate the typed model modules from the newest schemas in ``schemas/`` (``schemas/25.03``).

Run ``python -m ovsdb_ic.models.generate`` after changing a schema: it rewrites
``ovsdb_ic/models/{ic_nb,ic_sb,nb,sb}.py`` (and the documentation snapshot
``ovsdb_ic/models/man_docs.json``). ``--check`` writes nothing: it prints a unified
diff and exits with status 1 when regenerating would change a committed file.

Output is deterministic: tables and columns are emitted sorted by name, and the
docstrings come from the OVN manual pages (``ovn-ic-nb(5)``, ``ovn-ic-sb(5)``,
``ovn-nb(5)``, ``ovn-sb(5)``) when they are installed *and* document the same schema
version, else from the committed snapshot ``man_docs.json`` (same version only), else
from a sentence derived from the column type. The snapshot keeps machines without
manual pages producing the same files. Only this generator reads manual pages; the
generated modules need nothing but :mod:`attrs` and :mod:`ovsdb_ic.models.base`.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from ovsdb_ic.models.mapping import column_has_default
from ovsdb_ic.wire.monitor import default_value
from ovsdb_ic.wire.schema import (
    INT64_MAX,
    INT64_MIN,
    BaseType,
    ColumnSchema,
    ColumnType,
    DatabaseSchema,
    parse_schema,
)

__all__ = [
    "DATABASES",
    "SCHEMA_DIR",
    "OUT_DIR",
    "MAN_DIR",
    "SNAPSHOT",
    "TableDocs",
    "DatabaseDocs",
    "class_name",
    "field_name",
    "roff_to_text",
    "first_sentences",
    "parse_man_page",
    "read_man_docs",
    "collect_docs",
    "type_sentence",
    "render_module",
    "render_schemas",
    "server_spelling",
    "schema_text",
    "load_schemas",
    "render_all",
    "main",
]

DATABASES: Final = {
    "OVN_IC_Northbound": ("ovn-ic-nb", "ic_nb"),
    "OVN_IC_Southbound": ("ovn-ic-sb", "ic_sb"),
    "OVN_Northbound": ("ovn-nb", "nb"),
    "OVN_Southbound": ("ovn-sb", "sb"),
}
"""Database name -> (schema file / manual page stem, generated module name)."""

_REPO: Final = Path(__file__).resolve().parents[2]
SCHEMA_DIR: Final = _REPO / "schemas" / "25.03"
"""The newest schemas of the checkout (``schemas/25.03``, OVN 25.03): the models cover
every table and column of the newest OVN and still read and write older servers (see
docs/models.md, "Servers with another schema version")."""
OUT_DIR: Final = Path(__file__).resolve().parent
"""Where the generated modules go (this package)."""
MAN_DIR: Final = Path("/usr/share/man/man5")
"""Where the OVN schema manual pages are installed (Debian: ``ovn-common``/``ovn-ic``)."""
SNAPSHOT: Final = OUT_DIR / "man_docs.json"
"""The committed snapshot of the documentation extracted from the manual pages."""

_LINE: Final = 100
_INDENT: Final = "    "

# Names the generated class bodies use; a column with one of these names (or a Python
# keyword) gets a trailing underscore so it cannot shadow them.
_RESERVED: Final = frozenset(
    {
        "uuid", "UUID", "attrs", "frozenset", "str", "int", "float", "bool", "None",
        "Mapping", "Set", "ClassVar", "Literal", "TypeAlias", "Final", "final",
        "ZERO_UUID", "EMPTY_MAP", "Model", "frozen_map", "frozen_set",
    }
)


# --------------------------------------------------------------------------- naming


def class_name(table: str) -> str:
    """``Transit_Switch`` -> ``TransitSwitch``: drop underscores, capitalise each part.

    The rest of each part is kept as is, so acronyms stay: ``IC_NB_Global`` ->
    ``ICNBGlobal``, ``ACL`` -> ``ACL``, ``QoS`` -> ``QoS``.
    """
    return "".join(p[:1].upper() + p[1:] for p in table.split("_") if p)


def field_name(column: str) -> str:
    """The attribute name of a column: the column name, or the name plus ``_`` when it
    is a Python keyword (hard or soft) or a name the generated code itself uses
    (``uuid``, ``str``, ``frozenset``, ...)."""
    if keyword.iskeyword(column) or column in _RESERVED:
        return column + "_"
    return column


def _camel(column: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in column.split("_") if p)


# --------------------------------------------------------------------------- manual pages


@attrs.frozen
class TableDocs:
    """What the manual page says about one table: its meaning and its columns'."""

    doc: str | None = None
    columns: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class DatabaseDocs:
    """What the manual page of one database says (already cut to a sentence or two)."""

    version: str
    doc: str | None = None
    tables: Mapping[str, TableDocs] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The snapshot form (sorted keys; tables without anything are left out)."""
        tables: dict[str, Any] = {}
        for name in sorted(self.tables):
            t = self.tables[name]
            entry: dict[str, Any] = {}
            if t.doc:
                entry["doc"] = t.doc
            if t.columns:
                entry["columns"] = {c: t.columns[c] for c in sorted(t.columns)}
            if entry:
                tables[name] = entry
        out: dict[str, Any] = {"version": self.version}
        if self.doc:
            out["doc"] = self.doc
        out["tables"] = tables
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DatabaseDocs:
        """Read the snapshot form back."""
        tables = {
            name: TableDocs(t.get("doc"), dict(t.get("columns", {})))
            for name, t in value.get("tables", {}).items()
        }
        return cls(value["version"], value.get("doc"), tables)


_ESCAPES: Final = (
    ("\\[char46]", "."),
    ("\\(cq", "'"),
    ("\\(dq", '"'),
    ("\\(bu", "*"),
    ("\\(em", "--"),
    ("\\(en", "-"),
    ("\\-", "-"),
    ("\\ ", " "),
    ("\\&", ""),
)
_BOLD: Final = re.compile(r"\\f[BL](.*?)\\f[RP]")
_ANY_FONT: Final = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)")
_OTHER_ESCAPE: Final = re.compile(r"\\(?:\[[^\]]*\]|\(..|.)")
_SENTENCE_END: Final = re.compile(
    r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<!\bcf)[.!?](?=\s+\S)"
)
_TABLE_HEADER: Final = re.compile(r'^\.SH "(\w+) TABLE"')
_COLUMN_ITEM: Final = re.compile(r'^\.IP "\\fB(\w+)\\fR: ')
_COMMON_ITEM: Final = re.compile(r"^\\fB(\w+)\\fR: ")
_MAN_VERSION: Final = re.compile(r'^\.TH "[^"]*" 5 " ?DB Schema ([0-9.]+)"')
_MAN_NAME: Final = re.compile(r"^\S+ \\- (\w+) database schema")
_SEE_COMMON: Final = re.compile(r"at the beginning of this document", re.I)


def roff_to_text(text: str) -> str:
    """Plain text of one roff paragraph: bold and fixed-width text become ````literal````,
    other fonts plain; character escapes become ASCII; whitespace collapses."""
    # A literal backslash (\e, \\) must not start an escape below: park it in a NUL.
    text = text.replace("\\\\", "\0").replace("\\e", "\0")
    for esc, rep in _ESCAPES[:3]:
        text = text.replace(esc, rep)
    # roff quotes: ``like this'' (after \(cq\(cq became '').
    text = text.replace("``", '"').replace("''", '"')
    text = _BOLD.sub(lambda m: f"``{m.group(1)}``" if m.group(1).strip() else "", text)
    text = _ANY_FONT.sub("", text)
    for esc, rep in _ESCAPES[3:]:
        text = text.replace(esc, rep)
    text = _OTHER_ESCAPE.sub(lambda m: m.group(0)[1:] if len(m.group(0)) == 2 else "", text)
    text = text.replace("````", "").replace("\0", "\\")
    text = " ".join(text.split())
    return text.encode("ascii", "replace").decode("ascii")


def first_sentences(text: str, short: int = 80) -> str:
    """The first sentence of *text*, plus the second when the first is shorter than
    *short* characters."""
    text = " ".join(text.split())
    m = _SENTENCE_END.search(text)
    if m is None:
        return text
    first = text[: m.end()]
    if len(first) >= short:
        return first
    rest = text[m.end():].lstrip()
    m2 = _SENTENCE_END.search(rest)
    second = rest if m2 is None else rest[: m2.end()]
    return f"{first} {second}".strip()


def _paragraph(lines: Sequence[str], start: int) -> tuple[str, int]:
    """The text lines from *start* up to the next request line, joined."""
    out: list[str] = []
    i = start
    while i < len(lines) and not lines[i].startswith((".", "'")):
        out.append(lines[i])
        i += 1
    return " ".join(out), i


def parse_man_page(text: str) -> DatabaseDocs | None:
    """Extract the database, table and column meanings from an OVSDB schema manual page
    (the roff that ``ovsdb-doc`` writes). Returns ``None`` when *text* is not one."""
    lines = text.splitlines()
    version = None
    for line in lines[:10]:
        m = _MAN_VERSION.match(line)
        if m:
            version = m.group(1)
    if version is None:
        return None
    db_doc: str | None = None
    common: dict[str, str] = {}
    tables: dict[str, TableDocs] = {}
    i = 0
    n = len(lines)
    # Preamble: the database's meaning and the columns common to all tables.
    while i < n and not lines[i].startswith('.SH "TABLE SUMMARY"'):
        line = lines[i]
        if line.startswith(".SH NAME"):
            i += 1
            while i < n and (lines[i].startswith(".PP") or _MAN_NAME.match(lines[i])):
                i += 1
            para, i = _paragraph(lines, i)
            if para and db_doc is None:
                db_doc = first_sentences(roff_to_text(para))
            continue
        if line == ".TP" and i + 1 < n:
            m = _COMMON_ITEM.match(lines[i + 1])
            if m:
                para, i = _paragraph(lines, i + 2)
                if para:
                    common[m.group(1)] = first_sentences(roff_to_text(para))
                continue
        i += 1
    # One section per table.
    current: str | None = None
    tdoc: str | None = None
    cols: dict[str, str] = {}

    def close() -> None:
        if current is not None:
            tables[current] = TableDocs(tdoc, dict(cols))

    while i < n:
        line = lines[i]
        m = _TABLE_HEADER.match(line)
        if m:
            close()
            current, tdoc, cols = m.group(1), None, {}
            i += 1
            while i < n and not lines[i].startswith((".SS", ".SH")):
                if not lines[i].startswith((".", "'")):
                    para, i = _paragraph(lines, i)
                    tdoc = first_sentences(roff_to_text(para))
                    break
                i += 1
            continue
        if current is not None:
            m = _COLUMN_ITEM.match(line)
            if m:
                para, i = _paragraph(lines, i + 1)
                col = m.group(1)
                if para:
                    doc = first_sentences(roff_to_text(para))
                    if _SEE_COMMON.search(doc):
                        doc = common.get(col, "")
                else:
                    doc = ""
                if doc and col not in cols:
                    cols[col] = doc
                continue
        i += 1
    close()
    return DatabaseDocs(version, db_doc, tables)


def read_man_docs(database: str, version: str, man_dir: Path = MAN_DIR) -> DatabaseDocs | None:
    """The documentation of *database* from its installed manual page, when the page
    exists, names *database* and documents schema *version*; else ``None``."""
    stem = DATABASES[database][0]
    for path in (man_dir / f"{stem}.5.gz", man_dir / f"{stem}.5"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8", "replace")
        names = [m.group(1) for m in map(_MAN_NAME.match, text.splitlines()[:40]) if m]
        if database not in names:
            return None
        docs = parse_man_page(text)
        if docs is None or docs.version != version:
            return None
        return docs
    return None


def collect_docs(
    schemas: Mapping[str, DatabaseSchema],
    man_dir: Path | None = MAN_DIR,
    snapshot: Mapping[str, Any] | None = None,
) -> dict[str, DatabaseDocs]:
    """Documentation for each schema: from its manual page (same version), else from
    the *snapshot* (same version), else none (type-derived sentences are used)."""
    out: dict[str, DatabaseDocs] = {}
    for name, schema in schemas.items():
        docs = read_man_docs(name, schema.version, man_dir) if man_dir is not None else None
        if docs is None and snapshot is not None and name in snapshot:
            snap = DatabaseDocs.from_json(snapshot[name])
            if snap.version == schema.version:
                docs = snap
        if docs is not None:
            out[name] = docs
    return out


# --------------------------------------------------------------------------- types


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _base_words(base: BaseType, plural: bool) -> str:
    if base.ref_table is not None:
        kind = "weak reference" if base.ref_type == "weak" else "reference"
        if plural:
            return f"{kind}s to ``{base.ref_table}`` rows"
        article = _a(base.ref_table).split(" ", 1)[0]
        return f"{kind} to {article} ``{base.ref_table}`` row"
    word = {"integer": "integer", "real": "real number", "boolean": "boolean",
            "string": "string", "uuid": "UUID"}[base.type]
    if plural:
        word += "s"
    if base.enum is not None:
        values = ", ".join(_py_atom(v) for v in sorted(base.enum))
        return f"{word} (each one of {values})" if plural else f"{word} (one of {values})"
    if base.min_integer is not None or base.max_integer is not None:
        lo, hi = base.min_integer, base.max_integer
        if hi is None or hi == INT64_MAX:
            return f"{word} of at least {lo}"
        if lo is None or lo == INT64_MIN:
            return f"{word} of at most {hi}"
        return f"{word} in range {lo} to {hi}"
    return word


def type_sentence(ctype: ColumnType) -> str:
    """A sentence describing a column type, e.g. ``Set of references to ``Encap`` rows.``"""
    key = ctype.key
    if ctype.value is not None:
        k = _base_words(key, False)
        v = _base_words(ctype.value, False)
        bound = ""
        if ctype.min == 1:
            bound = " (at least one pair)"
        if ctype.max is not None and ctype.max != 1:
            bound = f" (at most {ctype.max} pairs)"
        return f"Map of {k} to {v}{bound}."
    if ctype.is_scalar:
        w = _base_words(key, False)
        return f"{_a(w)[0].upper()}{_a(w)[1:]}."
    if ctype.is_optional:
        return f"An optional {_base_words(key, False)}."
    words = _base_words(key, True)
    if ctype.min == 1 and ctype.max is None:
        return f"Set of 1 or more {words}."
    if ctype.max is not None:
        lo = "" if ctype.min == 0 else f"{ctype.min} to "
        return f"Set of {lo}up to {ctype.max} {words}."
    return f"Set of {words}."


def _py_atom(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | int | float):
        return repr(value)
    return repr(str(value))


def _atom_type(base: BaseType) -> str:
    return {"integer": "int", "real": "float", "boolean": "bool", "string": "str",
            "uuid": "UUID"}[base.type]


def _literal_ok(base: BaseType) -> bool:
    return base.enum is not None and base.type in ("string", "integer", "boolean")


@attrs.frozen
class _Field:
    column: ColumnSchema
    name: str
    annotation: str
    default: str | None  # Python source of the default, or None when required
    converter: str | None  # converter function name (sets, maps)
    doc: str


@attrs.frozen
class _Alias:
    name: str
    base: BaseType
    doc: str


def _default_source(ctype: ColumnType, value: Any) -> str:
    if ctype.value is not None:
        if not value:
            return "EMPTY_MAP"
        items = ", ".join(f"{_atom_source(k)}: {_atom_source(v)}" for k, v in value.items())
        return f"FrozenMap({{{items}}})"
    if ctype.is_optional:
        return "None"
    if ctype.is_set:
        if not value:
            return "frozenset()"
        return "frozenset({" + ", ".join(_atom_source(a) for a in sorted(value)) + "})"
    return _atom_source(value)


def _atom_source(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool | int | float):
        return repr(value)
    if int(value) == 0:
        return "ZERO_UUID"
    return f'UUID("{value}")'


# --------------------------------------------------------------------------- rendering


def _docstring(text: str, indent: str) -> list[str]:
    """A docstring (possibly several paragraphs separated by blank lines), wrapped."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    paras = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    if paras and paras[-1].endswith('"'):
        paras[-1] = paras[-1][:-1] + '\\"'
    one = f'{indent}"""{paras[0]}"""' if len(paras) == 1 else ""
    if one and len(one) <= _LINE:
        return [one]
    out: list[str] = []
    width = _LINE
    for i, para in enumerate(paras):
        first = f'{indent}"""' if i == 0 else indent
        wrapped = textwrap.wrap(
            para, width=width, initial_indent=first, subsequent_indent=indent,
            break_long_words=False, break_on_hyphens=False,
        )
        if i:
            out.append("")
        out.extend(wrapped)
    out.append(f'{indent}"""')
    return out


def _wrap_call(head: str, items: Sequence[str], tail: str, indent: str) -> list[str]:
    """``head item, item tail`` on one line when it fits, else one item per line."""
    one = f"{indent}{head}{', '.join(items)}{tail}"
    if len(one) <= _LINE:
        return [one]
    lines = [f"{indent}{head}"]
    lines.extend(f"{indent}{_INDENT}{item}," for item in items)
    lines.append(f"{indent}{tail}")
    return lines


def _str_tuple(items: Sequence[str]) -> list[str]:
    if len(items) == 1:
        return [f"{json.dumps(items[0])},"]
    return [json.dumps(i) for i in items]


class _ModuleWriter:
    def __init__(
        self,
        schema: DatabaseSchema,
        docs: DatabaseDocs | None,
        source: str,
        raw: Mapping[str, Any] | None,
        shared_schema: bool = False,
    ) -> None:
        self.schema = schema
        self.shared_schema = shared_schema
        self.raw = schema.to_json() if raw is None else raw
        self.docs = docs
        self.source = source
        self.aliases: dict[str, _Alias] = {}
        self.converters: dict[str, tuple[str, str, str]] = {}  # name -> (param, result, helper)
        self.used: set[str] = set()
        self.classes = {t: class_name(t) for t in sorted(schema.tables)}
        names = list(self.classes.values())
        if len(set(names)) != len(names):
            raise ValueError(f"{schema.name}: two tables map to the same class name")
        for t, c in self.classes.items():
            if c in _RESERVED or keyword.iskeyword(c):
                raise ValueError(f"{schema.name}: table {t} maps to reserved name {c}")

    # types -----------------------------------------------------------------------------

    def _atom(self, table: str, column: str, base: BaseType, role: str) -> str:
        if _literal_ok(base):
            assert base.enum is not None
            name = self.classes[table] + _camel(column) + role
            if name in self.classes.values() or name in _RESERVED:
                raise ValueError(f"{self.schema.name}: enum alias {name} collides")
            self.aliases[name] = _Alias(
                name, base, f"The values of ``{table}.{column}``"
                + (" keys" if role == "Key" else " values" if role == "Value" else "") + ".",
            )
            self.used.add("Literal")
            return name
        t = _atom_type(base)
        if t == "UUID":
            self.used.add("UUID")
        return t

    @staticmethod
    def _param(ctype: ColumnType, ann: str) -> str:
        """The constructor's type of a map or set field: reference atoms also take a
        NamedUUID."""
        refs = [b for b in (ctype.key, ctype.value) if b is not None and b.ref_table]
        if not refs:
            return ann
        if ctype.value is not None:
            return ann.replace(", UUID]", ", Ref]") if ctype.value.ref_table else \
                ann.replace("[UUID,", "[Ref,")
        return "Set[Ref]"  # field() types scalar and optional references itself

    def field(self, table: str, col: ColumnSchema) -> _Field:
        ctype = col.type
        key = self._atom(table, col.name, ctype.key, "Key" if ctype.value is not None else "")
        converter: str | None = None
        is_ref = any(b is not None and b.ref_table for b in (ctype.key, ctype.value))
        if ctype.value is not None:
            val = self._atom(table, col.name, ctype.value, "Value")
            ann = f"Mapping[{key}, {val}]"
            param = self._param(ctype, ann)
            converter = f"_map_of_{_ident(param)}"
            helper = "ref_map" if is_ref else "frozen_map"
            self.converters[converter] = (param, ann, helper)
            self.used.update({"Mapping", helper})
        elif ctype.is_scalar:
            ann = key
            if is_ref:
                converter = "_ref"
                self.converters[converter] = ("Ref", ann, "ref")
        elif ctype.is_optional:
            ann = f"{key} | None"
            if is_ref:
                converter = "_optional_ref"
                self.converters[converter] = ("Ref | None", ann, "ref")
        else:
            ann = f"frozenset[{key}]"
            param = self._param(ctype, ann) if is_ref else f"Set[{key}]"
            converter = f"_set_of_{_ident(param)}"
            helper = "ref_set" if is_ref else "frozen_set"
            self.converters[converter] = (param, ann, helper)
            self.used.update({"Set", helper})
        if is_ref:
            self.used.add("Ref")
            if converter in ("_ref", "_optional_ref"):
                self.used.add("ref")
        value = default_value(ctype)
        default: str | None = None
        if column_has_default(ctype):
            default = _default_source(ctype, value)
            self.used.update(w for w in ("ZERO_UUID", "EMPTY_MAP", "FrozenMap") if w in default)
        doc = self._field_doc(table, col)
        return _Field(col, field_name(col.name), ann, default, converter, doc)

    def _field_doc(self, table: str, col: ColumnSchema) -> str:
        man = None
        if self.docs is not None and table in self.docs.tables:
            man = self.docs.tables[table].columns.get(col.name)
        ctype = col.type
        refs = [b for b in (ctype.key, ctype.value) if b is not None and b.ref_table]
        parts = []
        if man:
            parts.append(man)
            if refs:
                parts.append(type_sentence(ctype))
        else:
            parts.append(type_sentence(ctype))
        if field_name(col.name) != col.name:
            parts.append(f"Column ``{col.name}``.")
        return " ".join(parts)

    # output ----------------------------------------------------------------------------

    def render(self) -> str:
        s = self.schema
        fields = {
            t: [self.field(t, s.tables[t].columns[c]) for c in sorted(s.tables[t].columns)]
            for t in self.classes
        }
        self.used.update({"ZERO_UUID", "UUID", "Mapping"})  # MODELS is a Mapping
        out: list[str] = []
        cksum = f", cksum {s.cksum}" if s.cksum else ""
        out.append(f"# Generated by `python -m ovsdb_ic.models.generate` from {self.source}.")
        out.append(f"# Schema {s.name} version {s.version}{cksum}. Do not edit: regenerate.")
        db_doc = self.docs.doc if self.docs is not None and self.docs.doc else None
        mod_doc = f"Typed rows of the ``{s.name}`` database, schema version {s.version}."
        if db_doc:
            mod_doc += "\n\n" + db_doc
        mod_doc += (
            "\n\nOne frozen attrs class per table, named after the table without underscores."
            " See docs/models.md."
        )
        out.extend(_docstring(mod_doc, ""))
        out.append("")
        out.append("from __future__ import annotations")
        out.append("")
        abc = sorted(n for n in ("Mapping", "Set") if n in self.used)
        if abc:
            out.append(f"from collections.abc import {', '.join(abc)}")
        typing_names = ["ClassVar", "Final"]
        if "Literal" in self.used:
            typing_names += ["Literal", "TypeAlias"]
        typing_names.append("final")
        out.append(f"from typing import {', '.join(typing_names)}")
        out.append("from uuid import UUID")
        out.append("")
        out.append("import attrs")
        out.append("")
        base_names = _isort_names(
            [n for n in ("EMPTY_MAP", "FrozenMap", "Ref", "ZERO_UUID", "frozen_map",
                         "frozen_set", "ref", "ref_map", "ref_set")
             if n in self.used] + ["Model", "check_model"]
        )
        if self.shared_schema:
            out.append("from ovsdb_ic.models._schemas import SCHEMA_JSON as _SCHEMAS")
        out.extend(_import_lines("ovsdb_ic.models.base", base_names))
        out.append("")
        exports = sorted(
            ["DATABASE", "VERSION", "CKSUM", "SCHEMA_JSON", "MODELS",
             *self.aliases, *self.classes.values()]
        )
        out.append("__all__ = [")
        out.extend(f'    "{e}",' for e in exports)
        out.append("]")
        out.append("")
        out.append(f"DATABASE: Final = {json.dumps(s.name)}")
        out.append('"""The database these models belong to."""')
        out.append(f"VERSION: Final = {json.dumps(s.version)}")
        out.append('"""The schema version the models were generated from."""')
        out.append(f"CKSUM: Final = {json.dumps(s.cksum) if s.cksum else 'None'}")
        out.append('"""The ``cksum`` of that schema."""')
        if self.aliases:
            out.append("")
        for name in sorted(self.aliases):
            alias = self.aliases[name]
            assert alias.base.enum is not None
            values = [_py_atom(v) for v in sorted(alias.base.enum)]
            out.extend(_wrap_call(f"{name}: TypeAlias = Literal[", values, "]", ""))
            out.extend(_docstring(alias.doc, ""))
        for name in sorted(self.converters):
            param, result, helper = self.converters[name]
            out.append("")
            out.append("")
            sig = f"def {name}(value: {param}) -> {result}:"
            if len(sig) <= _LINE:
                out.append(sig)
            else:
                out.extend([f"def {name}(", f"    value: {param},", f") -> {result}:"])
            cast = "  # type: ignore[no-any-return]" if helper == "ref" else ""
            out.append(f"    return {helper}(value){cast}")
        for table, cls in self.classes.items():
            out.append("")
            out.append("")
            out.extend(self._render_class(table, cls, fields[table]))
        out.append("")
        out.append("")
        out.append("MODELS: Final[Mapping[str, type[Model]]] = {")
        out.extend(f'    "{t}": {c},' for t, c in self.classes.items())
        out.append("}")
        out.append('"""Table name -> model class."""')
        out.append("")
        if self.shared_schema:
            out.append(f"SCHEMA_JSON: Final = _SCHEMAS[{json.dumps(s.name)}]")
        else:
            out.append("SCHEMA_JSON: Final = (")
            out.extend(f"    {json.dumps(chunk)}"
                       for chunk in _chunks(schema_text(self.raw), _LINE - 8))
            out.append(")")
        out.append('"""The schema the models were generated from, as compact JSON."""')
        return "\n".join(out) + "\n"

    def _render_class(self, table: str, cls: str, fields: list[_Field]) -> list[str]:
        s = self.schema
        out = ["@final", "@attrs.frozen(slots=True, kw_only=True)", f"class {cls}:"]
        tdoc = None
        if self.docs is not None and table in self.docs.tables:
            tdoc = self.docs.tables[table].doc
        doc = (tdoc + "\n\n") if tdoc else ""
        doc += f"A row of table ``{table}`` of ``{s.name}``."
        out.extend(_docstring(doc, _INDENT))
        out.append("")
        out.append(f"    __database__: ClassVar[str] = {json.dumps(s.name)}")
        out.append(f"    __table__: ClassVar[str] = {json.dumps(table)}")
        cols = [f.column.name for f in fields]
        names = [f.name for f in fields]
        out.extend(_wrap_call("__columns__: ClassVar[tuple[str, ...]] = (", _str_tuple(cols),
                              ")", _INDENT))
        if names == cols:
            out.append("    __fields__: ClassVar[tuple[str, ...]] = __columns__")
        else:
            out.extend(_wrap_call("__fields__: ClassVar[tuple[str, ...]] = (",
                                  _str_tuple(names), ")", _INDENT))
        out.append("")
        out.append("    uuid: UUID = ZERO_UUID")
        out.append(
            '    """The row\'s ``_uuid``; ``ZERO_UUID`` for an instance not read from a server."""'
        )
        for f in fields:  # sorted by column name; kw_only allows required after defaulted
            out.extend(self._render_field(f))
        out.append("")
        out.append("    def __attrs_post_init__(self) -> None:")
        out.append("        check_model(self)")
        return out

    def _render_field(self, f: _Field) -> list[str]:
        head = f"    {f.name}: {f.annotation}"
        if f.converter is None:
            lines = [head if f.default is None else f"{head} = {f.default}"]
        else:
            args = [f"converter={f.converter}"]
            if f.default is not None:
                args.insert(0, f"default={f.default}")
            one = f"{head} = attrs.field({', '.join(args)})"
            if len(one) <= _LINE:
                lines = [one]
            else:
                lines = [f"{head} = attrs.field(", f"        {', '.join(args)}", "    )"]
                if len(lines[1]) > _LINE:
                    lines = [f"{head} = attrs.field(", *(f"        {a}," for a in args), "    )"]
        lines.extend(_docstring(f.doc, _INDENT))
        return lines


def _ident(annotation: str) -> str:
    """A converter-name part from a type: ``Set[Ref]`` -> ``Ref``, ``Mapping[str, UUID]``
    -> ``str_to_UUID``."""
    inner = annotation.split("[", 1)[1].rstrip("]") if "[" in annotation else annotation
    return "_to_".join(part.strip() for part in inner.split(","))


def _isort_names(names: list[str]) -> list[str]:
    # ruff's isort default (force-sort-within-sections off, order-by-type on): CONSTANTS,
    # then CamelCase classes, then lowercase functions, each alphabetically.
    def kind(n: str) -> int:
        if n.isupper():
            return 0
        if n[:1].isupper():
            return 1
        return 2

    return sorted(set(names), key=lambda n: (kind(n), n))


def _import_lines(module: str, names: list[str]) -> list[str]:
    one = f"from {module} import {', '.join(names)}"
    if len(one) <= _LINE:
        return [one]
    return [f"from {module} import (", *(f"    {n}," for n in names), ")"]


def _chunks(text: str, size: int) -> Iterable[str]:
    """Pieces of *text* whose JSON string literal is at most *size* characters."""
    i = 0
    while i < len(text):
        j = min(len(text), i + size - 2)
        while len(json.dumps(text[i:j])) > size:
            j -= 1
        yield text[i:j]
        i = j


def schema_text(raw: Mapping[str, Any]) -> str:
    """A schema's JSON as the generated files embed it: compact, keys sorted."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"))


def server_spelling(schema: DatabaseSchema) -> dict[str, Any]:
    """The JSON of *schema* as ``ovsdb-server`` spells it in a ``get_schema`` reply:
    :meth:`DatabaseSchema.to_json` (defaults left out, enum atoms sorted), with an enum
    of one atom written as that atom. The models' schemas are kept in this spelling
    (:mod:`ovsdb_ic.models._schemas`) so that a server's table that is the models' is
    the same JSON, and is recognised without being parsed
    (:func:`~ovsdb_ic.wire.schema.parse_schema_cached` with ``like``)."""
    out = schema.to_json()
    for table in out["tables"].values():
        for column in table["columns"].values():
            ctype = column["type"]
            if not isinstance(ctype, dict):
                continue
            for part in ("key", "value"):
                base = ctype.get(part)
                if isinstance(base, dict) and "enum" in base and len(base["enum"][1]) == 1:
                    base["enum"] = base["enum"][1][0]
    return out


def render_schemas(raws: Mapping[str, Mapping[str, Any]], sources: Mapping[str, str]) -> str:
    """The Python source of :mod:`ovsdb_ic.models._schemas`: each database's schema
    text (:func:`schema_text`) by name. It is kept apart from the model classes so that
    a client can compare a server's schema with the models' (at every connection)
    without building the classes (see :func:`~ovsdb_ic.models.check_compatible`)."""
    out = [
        "# Generated by `python -m ovsdb_ic.models.generate` from "
        + ", ".join(sorted({src.rsplit("/", 1)[0] + "/" for src in sources.values()}))
        + ". Do not edit: regenerate.",
        '"""The schemas the model modules were generated from, as compact JSON, by database',
        "name (each model module's ``SCHEMA_JSON``). Importing this builds no model class:",
        ":func:`~ovsdb_ic.models.check_compatible` and :func:`~ovsdb_ic.models.model_schema`",
        'read it when given a database name."""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import Final",
        "",
        '__all__ = ["SCHEMA_JSON"]',
        "",
        "SCHEMA_JSON: Final[Mapping[str, str]] = {",
    ]
    for name, raw in raws.items():
        out.append(f"    {json.dumps(name)}: (")
        out.extend(f"        {json.dumps(chunk)}"
                   for chunk in _chunks(schema_text(raw), _LINE - 12))
        out.append("    ),")
    out.append("}")
    out.append('"""Database name -> the schema its model module was generated from."""')
    return "\n".join(out) + "\n"


def render_module(
    schema: DatabaseSchema,
    docs: DatabaseDocs | None,
    source: str,
    raw: Mapping[str, Any] | None = None,
    *,
    shared_schema: bool = False,
) -> str:
    """The Python source of the model module of *schema*; *raw* is the schema JSON to
    embed as ``SCHEMA_JSON`` (default: :meth:`DatabaseSchema.to_json`). With
    ``shared_schema`` (the package's own modules) ``SCHEMA_JSON`` is taken from
    :mod:`ovsdb_ic.models._schemas` (:func:`render_schemas`) instead of embedded."""
    return _ModuleWriter(schema, docs, source, raw, shared_schema).render()


def load_schemas(schema_dir: Path = SCHEMA_DIR) -> dict[str, tuple[DatabaseSchema, Any]]:
    """The four schemas of *schema_dir*, parsed and raw, keyed by database name."""
    out: dict[str, tuple[DatabaseSchema, Any]] = {}
    for name, (stem, _module) in DATABASES.items():
        raw = json.loads((schema_dir / f"{stem}.ovsschema").read_text(encoding="utf-8"))
        schema = parse_schema(raw)
        if schema.name != name:
            raise ValueError(f"{stem}.ovsschema holds {schema.name}, expected {name}")
        out[name] = (schema, raw)
    return out


def render_all(
    schema_dir: Path = SCHEMA_DIR,
    man_dir: Path | None = MAN_DIR,
    snapshot_path: Path | None = SNAPSHOT,
) -> dict[str, str]:
    """Every generated file: file name (relative to the models package) -> text."""
    loaded = load_schemas(schema_dir)
    schemas = {name: schema for name, (schema, _raw) in loaded.items()}
    snapshot = None
    if snapshot_path is not None and snapshot_path.is_file():
        snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    docs = collect_docs(schemas, man_dir, snapshot)
    files: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name, (schema, raw) in loaded.items():
        stem, module = DATABASES[name]
        where = schema_dir.resolve()
        label = where.relative_to(_REPO).as_posix() if where.is_relative_to(_REPO) else "schemas"
        source = sources[name] = f"{label}/{stem}.ovsschema"
        files[f"{module}.py"] = render_module(schema, docs.get(name), source, raw,
                                              shared_schema=True)
    files["_schemas.py"] = render_schemas(
        {name: server_spelling(schema) for name, (schema, _raw) in loaded.items()}, sources)
    snap = {name: docs[name].to_json() for name in schemas if name in docs}
    files[SNAPSHOT.name] = json.dumps(snap, indent=1, sort_keys=True) + "\n"
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: write the generated files, or ``--check`` them."""
    parser = argparse.ArgumentParser(
        prog="python -m ovsdb_ic.models.generate",
        description="Generate ovsdb_ic/models/{ic_nb,ic_sb,nb,sb}.py from schemas/.",
    )
    parser.add_argument("--check", action="store_true",
                        help="write nothing; print a diff and exit 1 if anything would change")
    parser.add_argument("--schemas", type=Path, default=SCHEMA_DIR, help="schema directory")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    parser.add_argument("--man-dir", type=Path, default=MAN_DIR,
                        help="manual page directory (default: %(default)s)")
    parser.add_argument("--no-man", action="store_true",
                        help="ignore installed manual pages (use the snapshot only)")
    args = parser.parse_args(argv)
    files = render_all(args.schemas, None if args.no_man else args.man_dir,
                       args.out / SNAPSHOT.name)
    changed = 0
    for name, text in files.items():
        path: Path = args.out / name
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old == text:
            continue
        changed += 1
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), text.splitlines(keepends=True),
                f"a/{name}", f"b/{name}",
            ))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and changed:
        print(f"{changed} generated file(s) out of date: run python -m ovsdb_ic.models.generate",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
