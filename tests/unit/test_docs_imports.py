"""Every ```python block of the documentation imports only public names: from
``ovsdb_ic`` or a package ``__init__`` (or a submodule such a package lists in
``__all__``), and only names that module lists in ``__all__``."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.docs_blocks import PAGES, Block, blocks

GENERATED_MODELS = {f"ovsdb_ic.models.{m}" for m in ("ic_nb", "ic_sb", "nb", "sb")}
"""The generated model modules are public by design (docs/models.md): the models
package imports them only on use, so they are not in its ``__all__``."""


def public_module(name: str) -> bool:
    """Whether *name* is a public module of ovsdb_ic."""
    if name == "ovsdb_ic" or name in GENERATED_MODELS:
        return True
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):  # a package: its __init__ is its public face
        return True
    parent, _, last = name.rpartition(".")
    return last in getattr(importlib.import_module(parent), "__all__", ())


def problems(block: Block) -> list[str]:
    """What *block* imports that is not public."""
    try:
        tree = ast.parse(block.code)
    except SyntaxError as exc:
        return [f"{block.where}: does not parse: {exc}"]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ovsdb_ic") and not public_module(alias.name):
                    out.append(f"{block.where}: `import {alias.name}`: not a public module")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ovsdb_ic"):
            module = node.module or ""
            if not public_module(module):
                out.append(f"{block.where}: `from {module} import ...`: {module} is not "
                           "public (import from ovsdb_ic or the package)")
                continue
            exported = set(getattr(importlib.import_module(module), "__all__", ()))
            for alias in node.names:
                if alias.name not in exported and \
                        f"{module}.{alias.name}" not in GENERATED_MODELS:
                    out.append(f"{block.where}: `from {module} import {alias.name}`: "
                               f"{alias.name} is not in {module}.__all__")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_doc_blocks_import_only_public_names(page: Path) -> None:
    found = [line for block in blocks(page) for line in problems(block)]
    assert not found, "\n".join(found)


def test_the_check_catches_a_private_import() -> None:
    page = Path(__file__)
    assert problems(Block(page, 1, "", "from ovsdb_ic.sync.runner import SyncConfig\n"))
    assert problems(Block(page, 1, "", "from ovsdb_ic.sync import _nothing\n"))
    assert problems(Block(page, 1, "", "import ovsdb_ic.client.txn\n"))
    assert not problems(Block(page, 1, "", "from ovsdb_ic import connect, run_sync\n"
                                           "from ovsdb_ic.client import blocking\n"
                                           "from ovsdb_ic.models.ic_sb import Route\n"))
