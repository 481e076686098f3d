"""``python -m ovsdb_ic``: the ``ovsdb-ic`` command line (see :mod:`ovsdb_ic.cli`)."""

import sys

from ovsdb_ic.cli import main

if __name__ == "__main__":
    sys.exit(main())
