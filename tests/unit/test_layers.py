"""The import direction of docs/architecture.md, checked by reading every module's imports.

Layers, lowest first: _lazy <- constants <- errors <- wire <- replica <- models <- client <- ic
<- sync <- kubeovn <- demo <- cli. A module may import its own layer and the layers below it,
never one above.
``ovsdb_ic/__init__.py`` and ``ovsdb_ic/__main__.py`` sit on top and may import any layer;
``ovsdb_ic/testing`` may import anything. Only the CLI (``cli``, ``__main__``), the demo
application (``demo``) and the testing package itself may import ``ovsdb_ic.testing``
(tests and benchmarks are outside the package and not checked). ``ovsdb_ic/wire`` is
sans-IO: it imports no I/O, concurrency or clock module.

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "ovsdb_ic"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

LAYERS: tuple[str, ...] = (
    "_lazy",
    "constants",
    "errors",
    "wire",
    "replica",
    "models",
    "client",
    "ic",
    "sync",
    "kubeovn",
    "demo",
    "cli",
)
RANK: dict[str, int] = {name: i for i, name in enumerate(LAYERS)}
# Pseudo-layers: the package root (``ovsdb_ic/__init__.py``, ``__main__.py``) and testing.
TOP = "<top>"
TESTING = "testing"
# Top-level modules the sans-IO core must not import.
SANS_IO_FORBIDDEN: frozenset[str] = frozenset(
    {
        "trio",
        "socket",
        "asyncio",
        "threading",
        "time",
        "select",
        "selectors",
        "ssl",
        "subprocess",
        "multiprocessing",
        "anyio",
        "sniffio",
    }
)


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """``ovsdb_ic/wire/framing.py`` -> ``ovsdb_ic.wire.framing`` (packages drop ``__init__``)."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of an ``ovsdb_ic`` module: a name of :data:`LAYERS`, :data:`TOP`,
    :data:`TESTING`, or ``None`` for a module outside every layer."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module} is not in {PACKAGE}")
    if len(parts) == 1 or parts[1] == "__main__":
        return TOP
    if parts[1] == TESTING:
        return TESTING
    return parts[1] if parts[1] in RANK else None


def iter_imports(module: str, is_package: bool, tree: ast.AST) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line, imported module, source text)`` for every import in *tree*.

    Relative imports are resolved against *module*. ``from X import name`` yields
    ``X.name`` (which may be a submodule or an attribute of ``X``; for the layer check
    only the first two components matter). A relative import that climbs out of the
    top-level package yields a name starting with ``..``.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            dots = "." * node.level
            text = f"from {dots}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 >= len(base_parts):
                    yield node.lineno, ".." + (node.module or ""), text
                    continue
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}" if alias.name != "*" else target, text


def check_source(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Return one message per forbidden import in *source*, the code of *module*."""
    tree = ast.parse(source, filename=module)
    own = layer_of(module)
    problems: list[str] = []

    def bad(line: int, text: str, why: str) -> None:
        problems.append(f"{module} (line {line}): `{text}`: {why}")

    if own is None:
        return [
            f"{module}: belongs to no layer; add {module.split('.')[1]!r} to LAYERS in "
            f"tests/unit/test_layers.py and to docs/architecture.md"
        ]
    for line, target, text in iter_imports(module, is_package, tree):
        top = target.split(".")[0]
        if target.startswith(".."):
            bad(line, text, f"relative import beyond the {PACKAGE} package")
            continue
        if own == "wire" and top in SANS_IO_FORBIDDEN:
            bad(line, text, f"ovsdb_ic.wire is sans-IO and must not import {top}")
            continue
        if top != PACKAGE:
            continue
        parts = target.split(".")
        if len(parts) < 2 or parts[1] not in {*RANK, TESTING}:
            # The package root itself, e.g. `import ovsdb_ic` or `from ovsdb_ic import X`
            # where X is re-exported by ovsdb_ic/__init__.py (which may import anything).
            if own not in (TOP, TESTING):
                bad(line, text, f"imports the package root {PACKAGE}; import from the module "
                    "that defines the name instead")
            continue
        dest = parts[1]
        if dest == TESTING:
            if own not in (TESTING, "demo", "cli") and module != f"{PACKAGE}.__main__":
                bad(line, text, "only the demo, the CLI, tests and benchmarks may import "
                    "ovsdb_ic.testing")
            continue
        if own in (TOP, TESTING):
            continue
        if RANK[dest] > RANK[own]:
            bad(line, text, f"layer {own!r} may not import the higher layer {dest!r} "
                f"(order: {' <- '.join(LAYERS)})")
    return problems


def check_file(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    return check_source(module_name(path), source, is_package=path.stem == "__init__")


MODULE_FILES = sorted(PACKAGE_DIR.rglob("*.py"))


def test_the_package_has_the_known_modules() -> None:
    names = {module_name(p) for p in MODULE_FILES}
    assert {"ovsdb_ic", "ovsdb_ic.errors", "ovsdb_ic.cli"} <= names, names


@pytest.mark.parametrize(
    "path", MODULE_FILES, ids=[str(p.relative_to(PACKAGE_DIR.parent)) for p in MODULE_FILES]
)
def test_module_imports_follow_the_layers(path: Path) -> None:
    problems = check_file(path)
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


# --- the checker itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # upward imports, absolute and relative
        ("ovsdb_ic.wire.framing", "from ovsdb_ic.client import session", "higher layer 'client'"),
        ("ovsdb_ic.wire.framing", "import ovsdb_ic.replica.rows", "higher layer 'replica'"),
        ("ovsdb_ic.wire.framing", "from ..models import ic_nb", "higher layer 'models'"),
        ("ovsdb_ic.errors", "from . import wire", "higher layer 'wire'"),
        ("ovsdb_ic.sync.runner", "from ovsdb_ic import cli", "higher layer 'cli'"),
        ("ovsdb_ic.kubeovn.commands", "from ovsdb_ic.demo import run_demo", "higher layer 'demo'"),
        (
            "ovsdb_ic.client.session",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ovsdb_ic.ic import az",
            "higher layer 'ic'",
        ),
        (
            "ovsdb_ic.replica.rows",
            "def f() -> None:\n    from ovsdb_ic.sync.planner import plan\n",
            "higher layer 'sync'",
        ),
        # testing is only for the CLI
        ("ovsdb_ic.kubeovn.workflow", "from ovsdb_ic.testing import Sandbox", "ovsdb_ic.testing"),
        ("ovsdb_ic", "from ovsdb_ic.testing import Sandbox", "ovsdb_ic.testing"),
        ("ovsdb_ic.wire.framing", "from ..testing import sandbox", "ovsdb_ic.testing"),
        # the package root re-exports from every layer
        ("ovsdb_ic.wire.framing", "from ovsdb_ic import OvsdbError", "package root"),
        ("ovsdb_ic.client", "import ovsdb_ic", "package root"),
        # sans-IO
        ("ovsdb_ic.wire.rpc", "import trio", "sans-IO"),
        ("ovsdb_ic.wire.rpc", "import socket", "sans-IO"),
        ("ovsdb_ic.wire.rpc", "from asyncio import Queue", "sans-IO"),
        ("ovsdb_ic.wire.rpc", "import threading", "sans-IO"),
        ("ovsdb_ic.wire.rpc", "from time import monotonic", "sans-IO"),
        ("ovsdb_ic.wire.rpc", "import select", "sans-IO"),
        # unknown layer, and climbing out of the package
        ("ovsdb_ic.gizmo", "import json", "belongs to no layer"),
        ("ovsdb_ic.wire.rpc", "from ... import something", "beyond the ovsdb_ic package"),
    ],
)
def test_checker_catches(module: str, source: str, expected: str) -> None:
    problems = check_source(module, source)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert problems[0].startswith(module)


def test_checker_names_the_module_line_and_import() -> None:
    source = "import json\n\nfrom ovsdb_ic.client.session import Session\n"
    (problem,) = check_source("ovsdb_ic.wire.framing", source)
    assert problem.startswith("ovsdb_ic.wire.framing (line 3): ")
    assert "`from ovsdb_ic.client.session import Session`" in problem


@pytest.mark.parametrize(
    ("module", "source", "is_package"),
    [
        ("ovsdb_ic.wire.framing", "from ovsdb_ic.errors import FramingError", False),
        ("ovsdb_ic.wire.framing", "from ..errors import FramingError\nfrom . import schema", False),
        ("ovsdb_ic.wire", "from .framing import JsonFramer\nfrom . import data", True),
        ("ovsdb_ic.wire.data", "import re, uuid, json, attrs, orjson", False),
        ("ovsdb_ic.client.session", "import trio\nfrom ovsdb_ic.wire import rpc", False),
        ("ovsdb_ic.client.session", "from ..replica import Replica\nimport time", False),
        ("ovsdb_ic.cli", "from ovsdb_ic.testing import Sandbox\nfrom ovsdb_ic import sync", False),
        ("ovsdb_ic.__main__", "from ovsdb_ic.cli import main", False),
        ("ovsdb_ic", "from ovsdb_ic.client import Client\nfrom .kubeovn import x", True),
        ("ovsdb_ic.testing.sandbox", "from ovsdb_ic.cli import main\nimport ovsdb_ic", False),
        ("ovsdb_ic.demo", "from ovsdb_ic.testing import Sandbox\nfrom ovsdb_ic import sync", False),
        ("ovsdb_ic.cli.demo", "from ovsdb_ic.demo import run_demo", False),
        ("ovsdb_ic.testing", "from .sandbox import Sandbox", True),
        ("ovsdb_ic.sync.planner", "from ovsdb_ic import ic\nfrom ovsdb_ic.models import nb", False),
    ],
)
def test_checker_allows(module: str, source: str, is_package: bool) -> None:
    assert check_source(module, source, is_package=is_package) == []


def test_checker_resolves_relative_imports() -> None:
    tree = ast.parse("from . import a\nfrom .. import b\nfrom ..errors import C\nfrom .x import y")
    got = [target for _, target, _ in iter_imports("ovsdb_ic.wire.framing", False, tree)]
    assert got == ["ovsdb_ic.wire.a", "ovsdb_ic.b", "ovsdb_ic.errors.C", "ovsdb_ic.wire.x.y"]
    got = [target for _, target, _ in iter_imports("ovsdb_ic.wire", True, tree)]
    assert got == ["ovsdb_ic.wire.a", "ovsdb_ic.b", "ovsdb_ic.errors.C", "ovsdb_ic.wire.x.y"]
