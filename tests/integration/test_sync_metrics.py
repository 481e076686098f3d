"""An embedded engine's metrics on the caller's registry, scraped over loopback, and the
health checks following a database that goes away and comes back."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request

import pytest
import trio
from prometheus_client import CollectorRegistry, Counter, generate_latest

from ovsdb_ic.sync.metrics import register_sync_metrics, serve_metrics
from ovsdb_ic.sync.runner import SyncConfig, SyncEngine
from ovsdb_ic.testing import IcDeployment

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not scraped")


def test_embedded_engine_metrics_and_health(ic_deployment: IcDeployment) -> None:
    dep = ic_deployment
    zone = dep.azs["az1"]
    subprocess.run(["ovn-nbctl", f"--db={zone.nb.remote}", "set", "NB_Global", ".",
                    "name=az1"], check=True, timeout=30)
    registry = CollectorRegistry()
    mine = Counter("my_app_requests", "The application's own metric.", registry=registry)
    mine.inc()
    config = SyncConfig(ovnnb_db=zone.nb.remote, ovnsb_db=zone.sb.remote,
                        ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                        probe_interval=1.0)
    engine = SyncEngine(config)
    metrics = register_sync_metrics(engine, registry)
    server = serve_metrics(metrics, "127.0.0.1", 0)
    base = f"http://{server.host}:{server.port}"
    try:
        assert get(f"{base}/readyz")[0] == 503  # nothing loaded yet
        assert get(f"{base}/healthz")[0] == 503

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                with trio.fail_after(30):
                    await engine.wait_settled()
                status, text = await trio.to_thread.run_sync(get, f"{base}/metrics")
                assert status == 200
                assert value(text, "my_app_requests_total") == 1  # the caller's, kept
                assert value(text, "ovsdb_ic_sync_passes_total") >= 2
                assert value(text, "ovsdb_ic_sync_commits_total") >= 1  # the AZ registered
                assert value(text, "ovsdb_ic_sync_lock_held") == 1
                assert value(text, 'ovsdb_ic_sync_database_connected{database="nb"}') == 1
                assert value(text, "ovsdb_ic_sync_pass_duration_seconds_count") >= 2
                assert await trio.to_thread.run_sync(get, f"{base}/readyz") == (
                    200, "ok: replicas loaded, holding the ovn_ic lock\n")
                assert (await trio.to_thread.run_sync(get, f"{base}/healthz"))[0] == 200
                # IC-NB goes away: not healthy, and says which.
                await trio.to_thread.run_sync(dep.ic_nb.kill)
                with trio.fail_after(20):
                    while True:
                        status, text = await trio.to_thread.run_sync(get, f"{base}/healthz")
                        if status == 503:
                            break
                        await trio.sleep(0.1)
                assert text == "not connected to OVN_IC_Northbound\n"
                scraped = generate_latest(registry).decode()
                assert value(scraped, 'ovsdb_ic_sync_database_connected{database="ic_nb"}') == 0
                # Back again: healthy, one reconnect counted.
                await trio.to_thread.run_sync(dep.ic_nb.restart)
                with trio.fail_after(30):
                    while (await trio.to_thread.run_sync(get, f"{base}/healthz"))[0] != 200:
                        await trio.sleep(0.1)
                scraped = generate_latest(registry).decode()
                assert value(scraped,
                             'ovsdb_ic_sync_database_reconnects_total{database="ic_nb"}') >= 1
                nursery.cancel_scope.cancel()

        trio.run(main)
    finally:
        server.close()
