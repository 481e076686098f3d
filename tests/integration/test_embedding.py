"""The embedding examples of docs/embedding.md run against a real server."""

from __future__ import annotations

import asyncio
import runpy
import threading
from pathlib import Path

import pytest

from ovsdb_ic.client.blocking import connect
from ovsdb_ic.testing import Server

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def test_threads_example(ic_sb_server: Server) -> None:
    ns = runpy.run_path(str(EXAMPLES / "threads_example.py"))
    assert ns["main"](ic_sb_server.remote) == [f"az{i}" for i in range(8)]


def test_asyncio_guest_mode_example(ic_sb_server: Server) -> None:
    ns = runpy.run_path(str(EXAMPLES / "asyncio_example.py"))
    assert sorted(asyncio.run(ns["asyncio_main"](ic_sb_server.remote))) == [
        "OVN_IC_Southbound", "_Server"]


def test_blocking_client_timeouts_and_errors(ic_sb_server: Server) -> None:
    with connect(ic_sb_server.remote, timeout=0.5) as client:
        assert client.echo(1) == [1]
        ic_sb_server.stop()
        try:
            with pytest.raises(TimeoutError):
                client.list_dbs()
        finally:
            ic_sb_server.cont()
        assert client.echo(2) == [2]
    # The client's thread is gone once the block ends.
    assert not [t for t in threading.enumerate() if t.name == "ovsdb-ic-client"]
    with pytest.raises(ConnectionError), connect("tcp:127.0.0.1:1", timeout=5):
        pass
