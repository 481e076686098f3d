"""The tiny clustered database the failover tests write to: numbered rows per writer."""

from __future__ import annotations

from typing import Any

DB = "Failover"
SCHEMA: dict[str, Any] = {
    "name": DB,
    "version": "1.0.0",
    "tables": {
        "Write": {
            "columns": {
                "writer": {"type": "string"},
                "seq": {"type": "integer"},
            },
            "isRoot": True,
        }
    },
}
