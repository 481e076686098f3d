"""The public surface: one import for the common names, a cheap package root, and an
``__all__`` in every package that names only what exists."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import ovsdb_ic

PACKAGES = sorted(
    name for _, name, is_pkg in pkgutil.walk_packages(ovsdb_ic.__path__, "ovsdb_ic.")
    if is_pkg
)


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_one_obvious_import_works_in_a_fresh_interpreter() -> None:
    out = _run(
        "from ovsdb_ic import connect, Client, Txn, Interconnection, SyncConfig, "
        "SyncEngine, run_sync, RouteFilters, errors\n"
        "import trio, inspect\n"
        "assert inspect.iscoroutinefunction(run_sync)\n"
        "assert errors.OvsdbError is __import__('ovsdb_ic').OvsdbError\n"
        "print(SyncEngine.__module__, Txn.__module__)\n"
    )
    assert out.split() == ["ovsdb_ic.sync.runner", "ovsdb_ic.client.txn"]


def test_importing_the_root_imports_no_layer_and_no_trio() -> None:
    out = _run(
        "import sys, ovsdb_ic\n"
        "print(sorted(m for m in sys.modules if m == 'trio' or m.startswith('ovsdb_ic')))\n"
    )
    # ovsdb_ic._lazy: the package's lazy-attribute helper, which imports only importlib.
    assert out.strip() == "['ovsdb_ic', 'ovsdb_ic._lazy', 'ovsdb_ic.errors']"


def test_root_names_resolve_and_unknown_names_raise_attribute_error() -> None:
    for name in ovsdb_ic.__all__:
        assert getattr(ovsdb_ic, name) is not None, name
        assert name in dir(ovsdb_ic)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = ovsdb_ic.nope  # type: ignore[attr-defined]


def test_root_reexports_are_the_layer_objects() -> None:
    from ovsdb_ic.client import Client, connect
    from ovsdb_ic.ic import Interconnection
    from ovsdb_ic.sync.routes import RouteFilters
    from ovsdb_ic.sync.runner import SyncConfig, SyncEngine, run_sync, run_syncs

    assert ovsdb_ic.connect is connect and ovsdb_ic.Client is Client
    assert ovsdb_ic.Interconnection is Interconnection
    assert ovsdb_ic.SyncConfig is SyncConfig and ovsdb_ic.SyncEngine is SyncEngine
    assert ovsdb_ic.run_sync is run_sync and ovsdb_ic.RouteFilters is RouteFilters
    assert ovsdb_ic.run_syncs is run_syncs


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_exports_its_names_with_all(package: str) -> None:
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None)
    assert names, f"{package} has no __all__"
    assert len(set(names)) == len(names), f"{package}.__all__ repeats a name"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
    assert module.__doc__, f"{package} has no docstring"


def test_the_sync_package_exports_the_engine() -> None:
    import ovsdb_ic.sync as sync

    for name in ("SyncConfig", "SyncEngine", "SyncStats", "run_sync", "run_syncs",
                 "open_shared_ic", "SharedIc", "RouteFilters", "plan_routes", "empty_snapshot",
                 "simulate"):
        assert name in sync.__all__, name
    from ovsdb_ic.sync import runner

    assert "run_sync" in runner.__all__
