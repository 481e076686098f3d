"""Prometheus metrics and health checks of a :class:`~ovsdb_ic.sync.runner.SyncEngine`.

:func:`register_sync_metrics` puts the engine's metrics on a ``prometheus_client``
registry (yours, for an embedded engine, or a new one); :func:`serve_metrics` serves that
registry over HTTP, as ``ovsdb-ic sync --metrics-address HOST:PORT`` does:

``/metrics``
    the Prometheus text format (prometheus-client's WSGI app);
``/healthz``
    200 when the engine is connected to all four databases, else 503 naming the others;
``/readyz``
    200 once the four replicas hold their initial copies and the ``ovn_ic`` lock state
    is known (held, or waited for as a standby), else 503.

Everything is read from the engine when scraped (its ``stats``, its clients' ``stats``),
except two things the engine produces as it runs: each pass's planning duration (a
histogram fed through ``engine.pass_observers``), and the advertised and learned route
counts, recounted after a pass only when the tables they come from changed. The HTTP
server runs in a thread (the standard library's ``wsgiref``) and only reads numbers that
the trio thread already computed. See docs/sync.md.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from prometheus_client import CollectorRegistry, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ovsdb_ic.ic.databases import (
    DATABASES,
    LEARNED_ROUTE_KEY,
    DatabaseKey,
    Snapshot,
    find_rows,
    index_name,
)
from ovsdb_ic.sync.az import local_az
from ovsdb_ic.sync.runner import SyncEngine

__all__ = ["PREFIX", "MetricsServer", "SyncMetrics", "register_sync_metrics", "serve_metrics"]

PREFIX: Final = "ovsdb_ic_sync"
"""The prefix of every metric name."""

_ROUTE_AZ: Final = ("availability_zone",)
_ROUTE_AZ_INDEX: Final = index_name(_ROUTE_AZ)
_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)


@attrs.frozen
class _RouteCounts:
    key: tuple[int, ...]
    advertised: int
    learned: int


def _count_routes(snap: Snapshot, key: tuple[int, ...]) -> _RouteCounts:
    az = local_az(snap)
    advertised = 0
    if az is not None:
        # the route planner's index over IC-SB Route.availability_zone (or a scan)
        advertised = len(find_rows(snap.ic_sb, "Route", _ROUTE_AZ_INDEX, _ROUTE_AZ, az.uuid))
    learned = sum(1 for r in snap.nb.table("Logical_Router_Static_Route")
                  if LEARNED_ROUTE_KEY in r["external_ids"])
    return _RouteCounts(key, advertised, learned)


class _EngineCollector(Collector):
    """Reads the engine's counters, its clients' states and the route counts."""

    def __init__(self, metrics: SyncMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        engine = self._m.engine
        st = engine.stats
        for name, value, doc in (
            ("passes", st.passes, "Sync passes planned."),
            ("settled", st.settled, "Passes that planned nothing."),
            ("commits", st.commits, "Transactions committed."),
            ("operations", st.ops, "Plan operations committed."),
            ("conflicts", st.conflicts,
             "Transactions refused by a guard or a unique index (planned again)."),
            ("errors", st.errors, "Transactions that failed otherwise."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=value)
        yield GaugeMetricFamily(f"{PREFIX}_last_pass_duration_seconds",
                                "Planning time of the last pass.", value=st.last_pass_seconds)
        yield GaugeMetricFamily(f"{PREFIX}_lock_held",
                                "1 while this engine holds the ovn_ic lock.",
                                value=1.0 if st.lock_held else 0.0)
        counts = self._m.route_counts
        yield GaugeMetricFamily(f"{PREFIX}_routes_advertised",
                                "IC-SB Route rows of this availability zone.",
                                value=counts.advertised)
        yield GaugeMetricFamily(f"{PREFIX}_routes_learned",
                                "NB static routes learned from other availability zones.",
                                value=counts.learned)
        connected = GaugeMetricFamily(f"{PREFIX}_database_connected",
                                      "1 while a checked connection to the database is up.",
                                      labels=["database"])
        leader = GaugeMetricFamily(f"{PREFIX}_database_leader",
                                   "1 when the connected server is the Raft leader (or "
                                   "standalone).", labels=["database"])
        reconnects = CounterMetricFamily(f"{PREFIX}_database_reconnects",
                                         "Connections made after a lost one.",
                                         labels=["database"])
        resyncs = CounterMetricFamily(f"{PREFIX}_database_resyncs",
                                      "Monitors that needed a full copy after a reconnect.",
                                      labels=["database"])
        resumes = CounterMetricFamily(f"{PREFIX}_database_resumes",
                                      "Monitors resumed with only the changes since.",
                                      labels=["database"])
        for key in DATABASES:
            client = engine.clients.get(key)
            up = client is not None and client.connected
            server = None if client is None else client.server
            connected.add_metric([key], 1.0 if up else 0.0)
            leader.add_metric([key], 1.0 if up and server is not None and server.leader else 0.0)
            cstats = None if client is None else client.stats
            reconnects.add_metric([key], 0 if cstats is None else cstats.reconnects)
            resyncs.add_metric([key], 0 if cstats is None else cstats.resyncs)
            resumes.add_metric([key], 0 if cstats is None else cstats.resumes)
        yield from (connected, leader, reconnects, resyncs, resumes)


@attrs.define(eq=False)
class SyncMetrics:
    """The metrics of one engine on one registry (see :func:`register_sync_metrics`)."""

    engine: SyncEngine
    """The engine measured."""
    registry: CollectorRegistry
    """Where the metrics are registered."""
    pass_duration: Histogram = attrs.field(init=False)
    """``ovsdb_ic_sync_pass_duration_seconds``: planning time of each pass."""
    route_counts: _RouteCounts = attrs.field(init=False, factory=lambda: _RouteCounts((), 0, 0))

    def __attrs_post_init__(self) -> None:
        self.pass_duration = Histogram(
            f"{PREFIX}_pass_duration_seconds", "Planning time of each sync pass.",
            buckets=_BUCKETS, registry=self.registry,
        )
        self.registry.register(_EngineCollector(self))
        self.engine.pass_observers.append(self._after_pass)

    def _after_pass(self, seconds: float) -> None:
        self.pass_duration.observe(seconds)
        self.refresh()

    def refresh(self) -> None:
        """Recount the advertised and learned routes if their tables changed (runs in
        the engine's thread after each pass; call it yourself before a scrape that
        must see the latest counts)."""
        replicas = self.engine.replicas
        if len(replicas) < len(DATABASES):
            return
        snap = self.engine.snapshot()
        tables: tuple[tuple[DatabaseKey, str], ...] = (
            ("nb", "NB_Global"), ("nb", "Logical_Router_Static_Route"),
            ("ic_sb", "Availability_Zone"), ("ic_sb", "Route"),
        )
        key = tuple(snap.db(db).table(t).version for db, t in tables)
        if key != self.route_counts.key:
            self.route_counts = _count_routes(snap, key)

    def healthz(self) -> tuple[bool, str]:
        """``(healthy, text)``: healthy when connected to all four databases."""
        down = [DATABASES[k] for k in DATABASES
                if (c := self.engine.clients.get(k)) is None or not c.connected]
        if down:
            return False, "not connected to " + ", ".join(down) + "\n"
        return True, "ok: connected to all four databases\n"

    def readyz(self) -> tuple[bool, str]:
        """``(ready, text)``: ready when the four replicas are loaded and the lock state
        is known (or the engine takes no lock)."""
        missing = [DATABASES[k] for k in DATABASES if k not in self.engine.replicas]
        if missing:
            return False, "replicas not loaded yet: " + ", ".join(missing) + "\n"
        cfg = self.engine.config
        if cfg.take_lock and not cfg.dry_run and self.engine.lock is None:
            return False, "ovn_ic lock state not known yet\n"
        role = ("holding the ovn_ic lock" if self.engine.stats.lock_held
                else "standby (waiting for the ovn_ic lock)"
                if cfg.take_lock and not cfg.dry_run else "no lock taken")
        return True, f"ok: replicas loaded, {role}\n"


def register_sync_metrics(
    engine: SyncEngine, registry: CollectorRegistry | None = None,
) -> SyncMetrics:
    """Register ``engine``'s metrics on ``registry`` (a new one when None) and return
    them; for an embedded engine, pass your application's registry. Call it before
    ``engine.run`` so that every pass is observed. One engine per registry (the names
    would collide)."""
    return SyncMetrics(engine, CollectorRegistry() if registry is None else registry)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def _app(metrics: SyncMetrics) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    scrape = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok, text = metrics.healthz() if path == "/healthz" else metrics.readyz()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain; charset=utf-8")])
            return [text.encode()]
        if path in ("/metrics", "/"):
            result: Iterable[bytes] = scrape(environ, start_response)
            return result
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: try /metrics, /healthz or /readyz\n"]

    return app


@attrs.define(eq=False)
class MetricsServer:
    """A running metrics HTTP server (see :func:`serve_metrics`)."""

    host: str
    """The address it listens on."""
    port: int
    """The port (the real one when 0 was asked)."""
    _server: _Server
    _thread: threading.Thread

    def close(self) -> None:
        """Stop serving and join the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_metrics(metrics: SyncMetrics, host: str, port: int) -> MetricsServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` (port 0: any
    free port) from a daemon thread; :meth:`MetricsServer.close` stops it. An address
    that cannot be bound raises :class:`OSError`."""
    server = make_server(host, port, _app(metrics),
                         server_class=_Server6 if ":" in host else _Server,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="ovsdb-ic-metrics",
                              daemon=True)
    thread.start()
    return MetricsServer(host, server.server_address[1], server, thread)
