"""Kube-OVN's ``ovn-ic-config`` ConfigMap as a typed, immutable value.

:class:`IcConfig` is built from the ConfigMap's ``data`` (:meth:`IcConfig.from_data`, a
mapping of strings) or from a whole ConfigMap document in YAML or JSON
(:meth:`IcConfig.from_document`). Validation looks at every key and reports every
problem at once in one :class:`IcConfigError`, each :class:`ConfigProblem` naming the
ConfigMap key and the reason.

YAML is read by PyYAML's ``safe_load`` (any YAML a user or ``kubectl -o yaml`` writes),
JSON by the ``json`` module; a document too large, or one whose aliases expand too
far, is refused before it is built. See docs/kubeovn.md.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import attrs
import yaml

from ovsdb_ic.constants import DEFAULT_IC_NB_PORT, DEFAULT_IC_SB_PORT
from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.addr import parse_address

__all__ = [
    "DEFAULT_IC_NB_PORT",
    "DEFAULT_IC_SB_PORT",
    "KEYS",
    "MAX_DOCUMENT_BYTES",
    "MAX_DOCUMENT_NODES",
    "ConfigProblem",
    "IcConfig",
    "IcConfigError",
    "parse_document",
]

KEYS: Final[tuple[str, ...]] = (
    "enable-ic",
    "az-name",
    "ic-db-host",
    "ic-nb-port",
    "ic-sb-port",
    "gw-nodes",
    "auto-route",
)
"""Every key ``ovn-ic-config`` may hold, in the order :meth:`IcConfig.to_data` writes them."""

_AZ_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_NODE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")


# --------------------------------------------------------------------------- errors


@attrs.frozen
class ConfigProblem:
    """One thing wrong with a config: the ``field`` (a ConfigMap key, or ``document``
    for a document that cannot be read), its ``value`` (``None`` when absent) and why."""

    field: str
    value: str | None
    reason: str

    def __str__(self) -> str:
        got = "missing" if self.value is None else f"got {self.value!r:.200}"
        return f"{self.field}: {self.reason} ({got})"


class IcConfigError(ConfigError):
    """An ``ovn-ic-config`` with one or more bad fields; ``problems`` lists them all.

    As a :class:`~ovsdb_ic.errors.ConfigError`, ``field`` is the bad fields joined with
    ``", "``, ``value`` maps each bad field to its value, and ``reason`` joins the
    reasons with ``"; "``. :attr:`fields` gives the bad fields as a tuple.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        if not problems:
            raise ValueError("IcConfigError needs at least one problem")
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        fields = tuple(dict.fromkeys(p.field for p in self.problems))
        super().__init__(
            ", ".join(fields),
            {p.field: p.value for p in self.problems},
            "; ".join(p.reason for p in self.problems),
        )
        count = len(self.problems)
        lines = [f"invalid ovn-ic-config ({count} problem{'s' if count > 1 else ''}):"]
        lines += [f"  {p}" for p in self.problems]
        self.args = ("\n".join(lines),)

    @property
    def fields(self) -> tuple[str, ...]:
        """The bad fields, each once, in the order found."""
        return tuple(dict.fromkeys(p.field for p in self.problems))

    def __str__(self) -> str:
        return str(self.args[0])


# ----------------------------------------------------------------------- validation


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not an IP address or a hostname, or ``None`` when it is one."""
    if not host:
        return "empty host in the list"
    if ":" in host:
        parsed = parse_address(host, v4_mapped=True)
        if parsed is None or parsed.version != 6:
            return f"{host!r} is not a valid IPv6 address"
        return None
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        if parse_address(host) is None:
            return f"{host!r} is not a valid IPv4 address"
        return None
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"{host!r} is not a valid hostname or IP address"
    return None


def _host_key(host: str) -> str:
    """A comparison key: equal for two spellings of one IP address."""
    parsed = parse_address(host, v4_mapped=True)
    return host.lower() if parsed is None else parsed.address_text()


def _typed_problems(
    *,
    enable_ic: bool | None,
    az_name: str | None,
    hosts: Sequence[str] | None,
    ports: Mapping[str, int | None],
    gw_nodes: Sequence[str] | None,
) -> list[ConfigProblem]:
    """The problems of already-typed values (``None``: unknown, not checked)."""
    problems: list[ConfigProblem] = []
    if az_name is not None:
        if not az_name.strip():
            problems.append(ConfigProblem("az-name", az_name, "must not be empty"))
        elif not _AZ_NAME.fullmatch(az_name):
            problems.append(ConfigProblem(
                "az-name", az_name,
                "must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending "
                "with a letter or digit",
            ))
    if hosts is not None:
        host_text = ",".join(hosts)
        if len(hosts) not in (1, 3):
            problems.append(ConfigProblem(
                "ic-db-host", host_text,
                f"must list 1 host or 3 hosts (a Raft cluster), not {len(hosts)}",
            ))
        bad = [why for why in map(_host_problem, hosts) if why]
        if bad:
            problems.append(ConfigProblem("ic-db-host", host_text, "; ".join(bad)))
        keys = [_host_key(h) for h in hosts if h]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            problems.append(ConfigProblem(
                "ic-db-host", host_text, f"duplicate host {', '.join(dups)}"
            ))
    for key, port in ports.items():
        if port is not None and (isinstance(port, bool) or not 1 <= port <= 65535):
            problems.append(ConfigProblem(key, str(port), "must be a port from 1 to 65535"))
    if gw_nodes is not None:
        text = ",".join(gw_nodes)
        bad_nodes = [n for n in gw_nodes if len(n) > 253 or not _NODE_NAME.fullmatch(n)]
        if bad_nodes:
            problems.append(ConfigProblem(
                "gw-nodes", text,
                f"{', '.join(map(repr, bad_nodes))}: a node name is lowercase letters, "
                "digits, '-' and '.', starting and ending with a letter or digit",
            ))
        dups = sorted({n for n in gw_nodes if gw_nodes.count(n) > 1})
        if dups:
            problems.append(ConfigProblem("gw-nodes", text, f"duplicate node {', '.join(dups)}"))
        if enable_ic and not gw_nodes:
            problems.append(ConfigProblem(
                "gw-nodes", text, "at least one gateway node is needed when enable-ic is true"
            ))
    return problems


def _split_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c,"`` -> ``("a", "b", "c")``: items stripped, empty items dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _split_hosts(text: str) -> tuple[str, ...]:
    """Like :func:`_split_list`; ``[IPv6]`` loses its brackets; empty items are kept
    (as ``""``) so that validation names them."""
    items = [item.strip() for item in text.split(",")]
    if items and not items[-1] and len(items) > 1:
        items.pop()  # one trailing comma is harmless
    out = []
    for item in items:
        if item.startswith("[") and item.endswith("]"):
            item = item[1:-1]
        out.append(item)
    return tuple(out)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# ---------------------------------------------------------------------------- config


def _to_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("give a sequence of strings, not one string")
    return tuple(value)


@attrs.frozen
class IcConfig:
    """A validated ``ovn-ic-config``.

    Build it with :meth:`from_data` or :meth:`from_document`; building it directly
    validates the same way (an :class:`IcConfigError` lists every bad field). Field
    names follow the ConfigMap keys: ``enable_ic`` is ``enable-ic``, ``ic_db_hosts``
    is ``ic-db-host`` split at commas, and so on.
    """

    enable_ic: bool
    """``enable-ic``: establish interconnection (``True``) or tear it down."""
    az_name: str
    """``az-name``: the availability zone's name (``NB_Global.name``)."""
    ic_db_hosts: tuple[str, ...] = attrs.field(converter=_to_tuple)
    """``ic-db-host``: 1 host, or the 3 hosts of a Raft IC database; IPv6 unbracketed."""
    ic_nb_port: int = DEFAULT_IC_NB_PORT
    """``ic-nb-port``: the IC-NB database's port (default 6645)."""
    ic_sb_port: int = DEFAULT_IC_SB_PORT
    """``ic-sb-port``: the IC-SB database's port (default 6646)."""
    gw_nodes: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    """``gw-nodes``: the gateway nodes, in the configured order."""
    auto_route: bool = False
    """``auto-route``: advertise and learn routes automatically."""

    def __attrs_post_init__(self) -> None:
        problems: list[ConfigProblem] = []
        for key, value in (("enable-ic", self.enable_ic), ("auto-route", self.auto_route)):
            if not isinstance(value, bool):
                problems.append(ConfigProblem(key, repr(value), "must be a bool"))
        for key, port in (("ic-nb-port", self.ic_nb_port), ("ic-sb-port", self.ic_sb_port)):
            if not isinstance(port, int) or isinstance(port, bool):
                problems.append(ConfigProblem(key, repr(port), "must be an int"))
        if not isinstance(self.az_name, str):
            problems.append(ConfigProblem("az-name", repr(self.az_name), "must be a str"))
        if problems:
            raise IcConfigError(problems)
        problems = _typed_problems(
            enable_ic=self.enable_ic,
            az_name=self.az_name,
            hosts=self.ic_db_hosts,
            ports={"ic-nb-port": self.ic_nb_port, "ic-sb-port": self.ic_sb_port},
            gw_nodes=self.gw_nodes,
        )
        if problems:
            raise IcConfigError(problems)

    # ----------------------------------------------------------------- parsing

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> IcConfig:
        """Parse a ConfigMap's ``data``; :class:`IcConfigError` lists every problem.

        Required: ``enable-ic``, ``az-name``, ``ic-db-host``, and ``gw-nodes`` (at
        least one node) when ``enable-ic`` is ``"true"``. Flags are exactly
        ``"true"`` or ``"false"``; ``auto-route`` defaults to false, the ports to
        6645 and 6646. List items (hosts, nodes) are stripped of blanks.
        """
        problems: list[ConfigProblem] = []
        for key in data:
            if key not in KEYS:
                problems.append(ConfigProblem(
                    str(key), _text(data[key]),
                    f"unknown key (known keys: {', '.join(KEYS)})",
                ))
        for key, value in data.items():
            if key in KEYS and not isinstance(value, str):
                problems.append(ConfigProblem(key, repr(value), "must be a string"))

        def get(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        def flag(key: str, required: bool) -> bool | None:
            if key not in data:
                if required:
                    problems.append(ConfigProblem(key, None, "required key is missing"))
                    return None
                return False
            text = get(key)
            if text is None:
                return None  # not a string: reported above
            if text.strip() not in ("true", "false"):
                problems.append(ConfigProblem(key, text, 'must be "true" or "false"'))
                return None
            return text.strip() == "true"

        def port(key: str, default: int) -> int | None:
            if key not in data:
                return default
            text = get(key)
            if text is None:
                return None
            stripped = text.strip()
            if not stripped.isascii() or not stripped.isdigit():
                problems.append(ConfigProblem(key, text, "must be a port from 1 to 65535"))
                return None
            return int(stripped)

        def required(key: str) -> str | None:
            if key not in data:
                problems.append(ConfigProblem(key, None, "required key is missing"))
                return None
            return get(key)

        enable_ic = flag("enable-ic", True)
        auto_route = flag("auto-route", False)
        az_text = required("az-name")
        host_text = required("ic-db-host")
        nb_port = port("ic-nb-port", DEFAULT_IC_NB_PORT)
        sb_port = port("ic-sb-port", DEFAULT_IC_SB_PORT)
        gw_text = get("gw-nodes") if "gw-nodes" in data else ""
        az_name = None if az_text is None else az_text.strip()
        hosts = None if host_text is None else _split_hosts(host_text)
        gw_nodes = None if gw_text is None else _split_list(gw_text)
        problems += _typed_problems(
            enable_ic=enable_ic,
            az_name=az_name,
            hosts=hosts,
            ports={"ic-nb-port": nb_port, "ic-sb-port": sb_port},
            gw_nodes=gw_nodes,
        )
        if problems:
            raise IcConfigError(problems)
        assert enable_ic is not None and auto_route is not None
        assert az_name is not None and hosts is not None and gw_nodes is not None
        assert nb_port is not None and sb_port is not None
        return cls(
            enable_ic=enable_ic,
            az_name=az_name,
            ic_db_hosts=hosts,
            ic_nb_port=nb_port,
            ic_sb_port=sb_port,
            gw_nodes=gw_nodes,
            auto_route=auto_route,
        )

    @classmethod
    def from_document(cls, text: str | bytes) -> IcConfig:
        """Parse a ConfigMap document (YAML or JSON); see :func:`parse_document`."""
        return cls.from_data(parse_document(text))

    @classmethod
    def from_file(cls, path: str | Path) -> IcConfig:
        """Read and parse a ConfigMap document from a file; ``"-"`` reads standard input
        (``kubectl get cm ovn-ic-config -n kube-system -o yaml | ovsdb-ic establish
        --config -``).

        A file that cannot be read is an :class:`IcConfigError` naming ``document``;
        so is one over :data:`MAX_DOCUMENT_BYTES` (no more than that is read).
        """
        try:
            if str(path) == "-":
                text = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
            else:
                with open(path, "rb") as f:
                    text = f.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise IcConfigError(
                [ConfigProblem("document", str(path), f"cannot read the file: {exc.strerror}")]
            ) from exc
        return cls.from_document(text)

    # ----------------------------------------------------------------- output

    def to_data(self) -> dict[str, str]:
        """The ConfigMap ``data``, every key written: ``from_data(c.to_data()) == c``."""
        return {
            "enable-ic": "true" if self.enable_ic else "false",
            "az-name": self.az_name,
            "ic-db-host": ",".join(self.ic_db_hosts),
            "ic-nb-port": str(self.ic_nb_port),
            "ic-sb-port": str(self.ic_sb_port),
            "gw-nodes": ",".join(self.gw_nodes),
            "auto-route": "true" if self.auto_route else "false",
        }

    def to_document(
        self,
        format: Literal["yaml", "json"] = "yaml",
        *,
        name: str = "ovn-ic-config",
        namespace: str = "kube-system",
    ) -> str:
        """A whole ConfigMap document holding :meth:`to_data` (values quoted in YAML)."""
        doc = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": self.to_data(),
        }
        if format == "json":
            return json.dumps(doc, indent=2) + "\n"
        lines = [
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            f"  name: {json.dumps(name, ensure_ascii=False)}",
            f"  namespace: {json.dumps(namespace, ensure_ascii=False)}",
            "data:",
        ]
        lines += [
            f"  {key}: {json.dumps(value, ensure_ascii=False)}"
            for key, value in self.to_data().items()
        ]
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- remotes

    def _remotes(self, port: int, scheme: str) -> str:
        if scheme not in ("tcp", "ssl"):
            raise ConfigError("scheme", scheme, 'must be "tcp" or "ssl"')
        return ",".join(f"{scheme}:{_bracket(h)}:{port}" for h in self.ic_db_hosts)

    def ic_nb_remotes(self, scheme: Literal["tcp", "ssl"] = "tcp") -> str:
        """The IC-NB remote list, e.g. ``tcp:10.0.0.1:6645,tcp:[fd00::2]:6645``."""
        return self._remotes(self.ic_nb_port, scheme)

    def ic_sb_remotes(self, scheme: Literal["tcp", "ssl"] = "tcp") -> str:
        """The IC-SB remote list, e.g. ``tcp:10.0.0.1:6646,tcp:10.0.0.2:6646,...``."""
        return self._remotes(self.ic_sb_port, scheme)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


# -------------------------------------------------------------------------- documents


MAX_DOCUMENT_BYTES: Final = 1024 * 1024
"""The largest document read (1 MiB, Kubernetes' limit on a ConfigMap): a bigger one is
refused before it is parsed."""

MAX_DOCUMENT_NODES: Final = 100_000
"""The most YAML nodes a document may expand to, aliases counted at every use: a
"billion laughs" document is refused before it is built."""


def _doc_error(reason: str, line: int | None = None, text: str | None = None) -> IcConfigError:
    where = f"line {line}: " if line is not None else ""
    return IcConfigError([ConfigProblem("document", text, where + reason)])


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (plain data types only); composed nodes are checked first."""


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a node graph that expands to more than :data:`MAX_DOCUMENT_NODES` nodes or
    refers to itself, and a mapping with a duplicate key (the later one would win
    silently). Each node is visited once (sizes are memoised), so this is linear in
    the document's size however many times an anchor is used."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _doc_error("an alias refers to a node that contains it",
                             node.start_mark.line + 1)
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in seen:
                        raise _doc_error(f"duplicate key {k.value!r}", k.start_mark.line + 1)
                    seen.add(k.value)
                total += size(k) + size(v)
                if total > MAX_DOCUMENT_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_DOCUMENT_NODES:
                    break
        on_path.discard(key)
        if total > MAX_DOCUMENT_NODES:
            raise _doc_error(
                f"the document expands to more than {MAX_DOCUMENT_NODES} YAML nodes "
                "(aliases counted at each use)"
            )
        sizes[key] = total
        return total

    size(root)


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load`` of one document, after :func:`_check_nodes` on its nodes."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow
        raise _doc_error(f"invalid YAML: {exc}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise _doc_error("the document is empty")
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = None if mark is None else mark.line + 1
        lines = text.splitlines()
        shown = lines[line - 1].strip() if line is not None and line <= len(lines) else None
        raise _doc_error(f"invalid YAML: {reason}", line, shown) from None
    except yaml.YAMLError as exc:
        raise _doc_error(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _doc_error("the document is nested too deeply") from None
    finally:
        loader.dispose()


def _value_text(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (ValueError, RecursionError):
        return repr(value)


def parse_document(text: str | bytes) -> dict[str, str]:
    """The ``data`` of a ConfigMap document in YAML or JSON, as strings.

    Any YAML a user or ``kubectl get configmap ovn-ic-config -o yaml`` writes is read
    (by PyYAML's ``safe_load``: flow and block collections, quoted, plain and block
    scalars, comments, anchors and aliases), and JSON such as ``kubectl ... -o json``.
    A document with ``data``, ``kind`` or ``apiVersion`` at the top is a ConfigMap
    (``kind`` must then be ``ConfigMap``, and it must have a ``data`` mapping) and its
    ``data`` is returned; any other top-level mapping is taken as the data itself.
    YAML booleans and integers in ``data`` become their text (``enable-ic: true``
    gives ``"true"``); any other non-string value is a problem of that key. A
    document over :data:`MAX_DOCUMENT_BYTES`, expanding to more than
    :data:`MAX_DOCUMENT_NODES` nodes, holding several documents or a duplicate key
    is refused. Errors are one :class:`IcConfigError`.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise _doc_error(
            f"the document is larger than {MAX_DOCUMENT_BYTES} bytes (a ConfigMap's limit)"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _doc_error(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            try:  # a YAML flow mapping, e.g. {data: {az-name: az1}}
                doc = _load_yaml(text)
            except IcConfigError:
                raise _doc_error(
                    f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno
                ) from None
        except RecursionError:
            raise _doc_error("the document is nested too deeply") from None
    else:
        doc = _load_yaml(text)
    if not isinstance(doc, dict):
        raise _doc_error(
            f"the document must be a mapping (a ConfigMap or its data), not "
            f"{_kind_of(doc)}"
        )
    if "data" in doc or "kind" in doc or "apiVersion" in doc:
        kind = doc.get("kind", "ConfigMap")
        if kind != "ConfigMap":
            raise IcConfigError([ConfigProblem("kind", _text(kind), "must be ConfigMap")])
        data = doc.get("data")
        if data is None:
            raise IcConfigError([ConfigProblem(
                "data", None,
                "the ConfigMap has no data: ovn-ic-config needs enable-ic, az-name, "
                "ic-db-host and gw-nodes under data",
            )])
        if not isinstance(data, dict):
            raise IcConfigError([ConfigProblem("data", _value_text(data), "must be a mapping")])
    else:
        data = doc
    out: dict[str, str] = {}
    problems: list[ConfigProblem] = []
    for key, value in data.items():
        name = key if isinstance(key, str) else _value_text(key)
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int):
            out[name] = str(value)
        elif value is None:
            problems.append(ConfigProblem(name, None, "must be a string, not null"))
        else:
            problems.append(ConfigProblem(name, _value_text(value), "must be a string"))
    if problems:
        raise IcConfigError(problems)
    return out


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"
