"""A timeline of each sync engine process of ``benchmarks/fleet.py --trace DIR``.

``fleet.py --trace DIR`` puts this directory first on the agents' ``PYTHONPATH`` and sets
``FLEET_TRACE`` to a directory per case; Python imports this module at start-up, and in
a ``python -m ovsdb_ic sync`` process it writes ``engine-<pid>.txt`` there, one line per
step: wall-clock time (Unix), milliseconds since the process started, the process's CPU
milliseconds so far, and what happened (the library's imports done; each connection
attempt and whether the server could serve; each plan with its operations counted by
database, kind and table; each commit with what committed, what conflicted and what
failed; the engine's log lines). :func:`fleet.trace_summary` reads them.

With ``FLEET_TRACE_PROFILE=1`` as well, a ``cProfile`` of the process's thread CPU time
from the end of the imports is written to ``engine-<pid>.prof`` at every pass that plans
nothing (so the last one covers the run up to its last settled pass).

Nothing here is imported by the library; processes other than ``ovsdb_ic sync`` are left
alone.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

_DIR = os.environ.get("FLEET_TRACE")


def _process_start() -> float:
    """The Unix time this process started (``/proc/self/stat`` start time)."""
    with open("/proc/self/stat", encoding="ascii") as f:
        data = f.read()
    started = int(data[data.rfind(")") + 2:].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime", encoding="ascii") as f:
        uptime = float(f.read().split()[0])
    return time.time() - uptime + started


def _install(directory: str) -> None:
    import collections
    import cProfile
    import gc
    import importlib.abc
    import importlib.util
    import logging

    pid = os.getpid()
    out = open(f"{directory}/engine-{pid}.txt", "w", buffering=1, encoding="utf-8")  # noqa: SIM115
    t0 = _process_start()
    profile = cProfile.Profile(time.thread_time) if os.environ.get("FLEET_TRACE_PROFILE") \
        else None

    def mark(what: str) -> None:
        now = time.time()
        out.write(f"{now:.4f} {(now - t0) * 1000:.1f} {time.process_time() * 1000:.1f} "
                  f"{what}\n")

    mark("python up")
    collected = {"ms": 0.0, "n": 0, "t": 0.0, "ms2": 0.0, "n2": 0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected["t"] = time.thread_time()
        else:
            took = (time.thread_time() - collected["t"]) * 1000
            collected["ms"] += took
            collected["n"] += 1
            if info.get("generation") == 2:
                collected["ms2"] += took
                collected["n2"] += 1

    gc.callbacks.append(on_gc)

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            mark(f"log {record.levelname} {record.getMessage()[:300]}")

    logger = logging.getLogger("ovsdb_ic")
    logger.addHandler(Handler(logging.INFO))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)

    def summary(plan: Any) -> str:
        kinds = collections.Counter(f"{op.db}:{type(op).__name__}:{op.table}" for op in plan)
        return " ".join(f"{k}={v}" for k, v in sorted(kinds.items()))

    def patch_runner(runner: Any) -> None:
        commit_plan = runner.commit_plan
        plan_method = runner.SyncEngine.plan

        async def traced_commit(dbs: Any, plan: Any, policy: Any, **kw: Any) -> Any:
            mark(f"commit start ops={len(plan.ops)}")
            result = await commit_plan(dbs, plan, policy, **kw)
            conflicts = {k: " ".join(str(v).split())[:160] for k, v in result.conflicts.items()}
            failures = {k: " ".join(str(v).split())[:160] for k, v in result.failures.items()}
            mark(f"commit done committed={dict(result.committed)} conflicts={conflicts} "
                 f"failures={failures}")
            return result

        def traced_plan(self: Any) -> Any:
            plan = plan_method(self)
            mark(f"plan ops={len(plan.ops)} gc={collected['n']}/{collected['ms']:.1f}ms "
                 f"full={collected['n2']}/{collected['ms2']:.1f}ms "
                 f"{summary(plan)}")
            if not plan and profile is not None:
                profile.dump_stats(f"{directory}/engine-{pid}.prof")
                profile.enable()
            return plan

        runner.commit_plan = traced_commit
        runner.SyncEngine.plan = traced_plan
        mark("imports done")
        if profile is not None:
            profile.enable()

    def patch_connection(connection: Any) -> None:
        open_link = connection.Client._open_link

        async def traced_open_link(self: Any, remote: Any) -> Any:
            mark(f"connect {self.database} {remote}")
            try:
                link = await open_link(self, remote)
            except BaseException as exc:
                mark(f"connect refused {self.database} {remote}: {' '.join(str(exc).split())}")
                raise
            mark(f"connect ok {self.database} {remote}")
            return link

        connection.Client._open_link = traced_open_link

    hooks = {"ovsdb_ic.sync.runner": patch_runner, "ovsdb_ic.client.connection": patch_connection}

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name not in hooks:
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                if hooks:
                    sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            loader: Any = spec.loader
            exec_module = loader.exec_module

            def traced_exec(module: Any) -> None:
                exec_module(module)
                hooks.pop(name)(module)

            loader.exec_module = traced_exec
            return spec

    sys.meta_path.insert(0, Finder())


if _DIR and sys.orig_argv[1:4] == ["-m", "ovsdb_ic", "sync"]:
    _install(_DIR)
