"""Names of a package imported on first use (module ``__getattr__``, PEP 562), one way.

The package root, :mod:`ovsdb_ic.client`, :mod:`ovsdb_ic.ic`, :mod:`ovsdb_ic.sync` and
:mod:`ovsdb_ic.cli` keep some names out of their import (the threaded client, the typed
views, metrics, the other command groups...) so that a program pays only for what it
uses. Each declares which module holds each such name and takes its ``__getattr__`` and
``__dir__`` from :func:`lazy_attributes`. Imports nothing of the library, so any layer
may use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for *package* (whose globals are
    *namespace*).

    *names* maps each lazy name to the module that holds it: the name is that module's
    attribute of the same name, or the module itself when it is ``package.name`` (a
    submodule). A name is imported once, on first use, and kept in *namespace*; any
    other name raises :class:`AttributeError` as a module does. ``dir()`` lists the
    module's names, the lazy ones and ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
