"""The generated models under ``mypy --strict``: realistic use type-checks cleanly
(tests/typing/use_models.py), and misuse is rejected with the expected error on exactly the
marked lines (tests/typing/bad_models.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "tests" / "typing" / "use_models.py"
BAD = ROOT / "tests" / "typing" / "bad_models.py"

_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
_MARK = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, set[str]]]:
    """One ``mypy --strict`` run over both files: path -> line -> error codes."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache),
         "--no-pretty", "--show-error-codes", "--hide-error-context",
         str(GOOD.relative_to(ROOT)), str(BAD.relative_to(ROOT))],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode in (0, 1), f"mypy crashed:\n{result.stdout}\n{result.stderr}"
    errors: dict[str, dict[int, set[str]]] = {}
    for line in result.stdout.splitlines():
        m = _ERROR.match(line)
        if m:
            path = Path(m["path"]).name
            errors.setdefault(path, {}).setdefault(int(m["line"]), set()).add(m["code"])
        elif ": error:" in line:
            raise AssertionError(f"unparsed mypy error: {line}")
    return errors


def test_realistic_use_passes_mypy_strict(mypy_output: dict[str, dict[int, set[str]]]) -> None:
    assert mypy_output.get(GOOD.name, {}) == {}


def test_misuse_is_rejected_on_each_marked_line(
    mypy_output: dict[str, dict[int, set[str]]],
) -> None:
    expected: dict[int, set[str]] = {}
    for lineno, line in enumerate(BAD.read_text(encoding="utf-8").splitlines(), 1):
        m = _MARK.search(line)
        if m:
            expected[lineno] = {c.strip() for c in m["codes"].split(",")}
    assert len(expected) >= 10, "the misuse examples are gone"
    assert mypy_output.get(BAD.name, {}) == expected


def test_realistic_use_also_runs() -> None:
    # The typing example is real code: it must also work at run time.
    result = subprocess.run(
        [sys.executable, str(GOOD)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
