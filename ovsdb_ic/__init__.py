"""ovsdb_ic: a pure-Python OVSDB library for OVN Interconnection.

Layers (each imports only the ones before it): :mod:`ovsdb_ic.errors`,
:mod:`ovsdb_ic.wire` (the sans-IO protocol core), and :mod:`ovsdb_ic.testing`
(real ovsdb-server sandboxes for tests). See docs/architecture.md.
"""

from ovsdb_ic.errors import OvsdbError

__all__ = ["OvsdbError", "__version__"]

__version__ = "0.1.0"
