"""Using ovsdb_ic from a threaded program (docs/embedding.md)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from ovsdb_ic.client import blocking
from ovsdb_ic.wire import ops


def main(remote: str) -> list[str]:
    """Insert availability zones from four threads at once, then list them."""
    with blocking.connect(remote, database="OVN_IC_Southbound", timeout=10) as client:
        schema = client.schema
        assert schema is not None

        def add(name: str) -> None:
            client.transact([ops.insert(schema, "Availability_Zone", {"name": name})])

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(add, [f"az{i}" for i in range(8)]))
        rows = client.transact([ops.select(schema, "Availability_Zone", [], ["name"])])[0].rows
        return sorted(r["name"] for r in rows or ())


if __name__ == "__main__":
    print(main(sys.argv[1]))
