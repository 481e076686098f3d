"""What ``ovsdb-ic sync`` imports at start-up: only what its run needs.

The engine's cold start is mostly imports (docs/performance.md, "Cold convergence: the
engine's start-up"). Modules that only other commands, options or APIs use are
imported on first use; these tests run the real ``sync`` command in a fresh interpreter
(stopped by a bad remote right after its imports, before it connects anywhere) and
check that none of them was loaded, and that their names are still importable.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

# What `ovsdb-ic sync` must not import, each with the reason it is not needed.
LAZY: dict[str, str] = {
    "ovsdb_ic.cli.client": "the dump/monitor subcommands",
    "ovsdb_ic.cli.demo": "the demo subcommand",
    "ovsdb_ic.cli.icdb": "the icdb subcommand",
    "ovsdb_ic.cli.kubeovn": "the Kube-OVN subcommands",
    "ovsdb_ic.kubeovn": "only --kubeovn-policies",
    "ovsdb_ic.demo": "the demo",
    "ovsdb_ic.testing": "tests and the demo",
    "ovsdb_ic.sync.waiting": "only --wait=sb",
    "ovsdb_ic.sync.metrics": "only --metrics-address",
    "ovsdb_ic.ic.requirements": "the views' indexes",
    "ovsdb_ic.ic.views": "the IC object model",
    "ovsdb_ic.ic.show": "ovn-ic-sbctl show",
    "ovsdb_ic.client.blocking": "the threaded client",
    "ovsdb_ic.client.commands": "dump and monitor",
    "ovsdb_ic.wire.dump": "dump",
    "ovsdb_ic.wire.rowjson": "dump and monitor",
    "ovsdb_ic.models.nb": "typed models (the handshake checks schemas by name)",
    "ovsdb_ic.models.sb": "typed models",
    "ovsdb_ic.models.ic_nb": "typed models",
    "ovsdb_ic.models.ic_sb": "typed models",
    "ovsdb_ic.models.generate": "the model generator",
}

_SYNC_IMPORTS = """
import sys
from ovsdb_ic.cli import main
code = main(["sync", "--ovnnb-db=nowhere", "--ovnsb-db=tcp:127.0.0.1:1",
             "--ic-nb-db=tcp:127.0.0.1:2", "--ic-sb-db=tcp:127.0.0.1:3", "--once"])
assert code == 2, code  # the bad remote, reported after the imports
assert "ovsdb_ic.sync.runner" in sys.modules and "trio" in sys.modules
print("\\n".join(sorted(sys.modules)))
"""


def _sync_modules() -> set[str]:
    out = subprocess.run([sys.executable, "-c", _SYNC_IMPORTS], capture_output=True,
                         text=True, check=True)
    assert "--ovnnb-db" in out.stderr, out.stderr
    return set(out.stdout.split())


def test_the_sync_command_imports_none_of_the_lazy_modules() -> None:
    loaded = _sync_modules()
    assert "ovsdb_ic.sync.runner" in loaded and "ovsdb_ic.cli.sync" in loaded
    unexpected = {name: why for name, why in LAZY.items() if name in loaded}
    assert not unexpected, f"ovsdb-ic sync imported modules it does not need: {unexpected}"


@pytest.mark.parametrize(("package", "name", "module"), [
    ("ovsdb_ic.cli", "demo", "ovsdb_ic.cli.demo"),
    ("ovsdb_ic.cli", "kubeovn", "ovsdb_ic.cli.kubeovn"),
    ("ovsdb_ic.sync", "wait_ic_synced", "ovsdb_ic.sync.waiting"),
    ("ovsdb_ic.ic", "REQUIREMENTS", "ovsdb_ic.ic.requirements"),
    ("ovsdb_ic.ic", "MissingRequirementError", "ovsdb_ic.ic.requirements"),
    ("ovsdb_ic.ic", "install_indexes", "ovsdb_ic.ic.requirements"),
    ("ovsdb_ic.ic", "database_key", "ovsdb_ic.ic.requirements"),
])
def test_the_lazy_names_are_still_there(package: str, name: str, module: str) -> None:
    pkg = importlib.import_module(package)
    assert name in dir(pkg)
    value = getattr(pkg, name)
    owner = importlib.import_module(module)
    assert value is (owner if owner.__name__.rpartition(".")[2] == name
                     else getattr(owner, name))
