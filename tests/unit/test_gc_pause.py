"""The wire core pauses the cyclic GC only around big parses/decodes and always restores it."""

from __future__ import annotations

import gc
import json

import pytest

from ovsdb_ic.errors import DataError
from ovsdb_ic.wire import _gc
from ovsdb_ic.wire.framing import JsonFramer
from ovsdb_ic.wire.monitor import decode_update2
from tests.strategies import schema

SB = schema("OVN_IC_Southbound")


def _update(n: int) -> dict[str, object]:
    return {"Availability_Zone": {
        f"{i:08x}-0000-4000-8000-000000000000": {"initial": {"name": f"az{i}"}}
        for i in range(n)}}


def test_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with _gc.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), _gc.gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    with _gc.gc_paused(active=False):
        assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with _gc.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
        assert len(decode_update2(SB, _update(3000))) == 3000
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_big_decode_and_parse_restore_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = _gc.gc_paused

    def spy(active: bool = True):  # type: ignore[no-untyped-def]
        seen.append(active)
        return real(active)

    monkeypatch.setattr("ovsdb_ic.wire.monitor.gc_paused", spy)
    monkeypatch.setattr("ovsdb_ic.wire.framing.gc_paused", spy)
    assert len(decode_update2(SB, _update(10))) == 10
    assert seen == []  # a small decode does not even enter the pause's context manager
    assert len(decode_update2(SB, _update(2500))) == 2500
    assert seen == [True]
    assert gc.isenabled()
    big = json.dumps({"id": 1, "result": _update(30000), "error": None}).encode()
    assert len(big) > 1 << 20
    f = JsonFramer()
    for i in range(0, len(big), 65536):
        f.feed(big[i : i + 65536])
    assert seen[-1] is True
    assert gc.isenabled()
    bad = _update(2500)
    bad["Availability_Zone"]["not-a-uuid"] = {"initial": {}}  # type: ignore[index]
    with pytest.raises(DataError):
        decode_update2(SB, bad)
    assert gc.isenabled()
