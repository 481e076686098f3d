"""What a client's schema work at connect costs: parse the server's schema, check it.

Every connection of a client with ``database=`` parses the schema the server sends and
compares it with the models' (:func:`~ovsdb_ic.models.check_compatible`); the sync
engine does it for four databases at every start. This measures that work for the
four OVN-IC databases, in one process with every cache emptied before each repetition
(what a starting engine pays), for the schemas of two OVN releases: the checkout's
``schemas/`` (23.03, what ``benchmarks/convergence.py`` serves; older than the models)
and ``schemas/25.03`` (the models' release). The server's answer is made here as
``ovsdb-server`` spells a ``get_schema`` reply (see
:func:`ovsdb_ic.models.generate.server_spelling`), its tables in a shuffled order.
With ``--baseline DIR`` the same runs from another checkout, to compare two versions.

Usage::

    PYTHONPATH=. python benchmarks/schema_check.py
    PYTHONPATH=. python benchmarks/schema_check.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ovsdb_ic.models.generate import server_spelling
from ovsdb_ic.wire.schema import parse_schema

ROOT = Path(__file__).resolve().parents[1]
STEMS = ("ovn-ic-nb", "ovn-ic-sb", "ovn-nb", "ovn-sb")

CHILD = """
import json, sys, time
from ovsdb_ic.models import mapping
from ovsdb_ic.wire import schema as ws

answers = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
cached = getattr(ws, "parse_schema_cached", None)
like = hasattr(ws, "same_table")


def connect_work(texts):
    for name, text in texts.items():
        raw = json.loads(text)
        if like:
            server = cached(raw, mapping.model_schema(name))
        elif cached is not None:
            server = cached(raw)
        else:
            server = ws.parse_schema(raw)
        mapping.check_compatible(name, server)


def empty_caches():
    for name in ("_TYPE_CACHE", "_INTERNED", "_SCHEMA_CACHE"):
        if hasattr(ws, name):
            getattr(ws, name).clear()
    mapping._schema_of_text.cache_clear()


out = {}
for release, texts in answers.items():
    best = float("inf")
    for _ in range(repeat):
        empty_caches()
        t0 = time.perf_counter()
        connect_work(texts)
        best = min(best, time.perf_counter() - t0)
    out[release] = best
print(json.dumps(out))
"""


def answers(schema_dir: Path, seed: int) -> dict[str, str]:
    """Database name -> the schema of *schema_dir* as a server would send it."""
    rng = random.Random(seed)
    out: dict[str, str] = {}
    for stem in STEMS:
        schema = parse_schema(json.loads((schema_dir / f"{stem}.ovsschema").read_text()))
        raw: dict[str, Any] = server_spelling(schema)
        tables = list(raw["tables"].items())
        rng.shuffle(tables)
        raw["tables"] = dict(tables)
        out[schema.name] = json.dumps(raw)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the measurement in each checkout and print the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=30, help="repetitions (the best counts)")
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = ap.parse_args(argv)
    trees = {"this checkout": ROOT}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    data = {"23.03 servers": answers(ROOT / "schemas", 1),
            "25.03 servers": answers(ROOT / "schemas" / "25.03", 1)}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(data, f)
        f.flush()
        print("parse + check of the 4 schemas at connect, caches empty, best of "
              f"{args.repeat} (ms)")
        print(f"{'checkout':<16}" + "".join(f"{r:>16}" for r in data))
        for name, tree in trees.items():
            out = subprocess.run(
                [sys.executable, "-c", CHILD, f.name, str(args.repeat)],
                env={**os.environ, "PYTHONPATH": str(tree)}, cwd="/tmp",
                capture_output=True, text=True, check=True,
            )
            best = json.loads(out.stdout.splitlines()[-1])
            print(f"{name:<16}" + "".join(f"{1000 * best[r]:>16.2f}" for r in data))
    print("# load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
