"""Every ```python block of docs/*.md and README.md runs (or is marked a fragment).

The blocks of a page run in order in one interpreter, against a sandbox deployment
(IC-NB, a 3-member IC-SB cluster, NB and SB of az1 and az2) whose az1 remotes are in
``OVN_NB_DB``, ``OVN_SB_DB``, ``OVN_IC_NB_DB`` and ``OVN_IC_SB_DB``, as after ``ovsdb-ic
demo --keep-running``; blocks titled ``test_*.py`` run with pytest. See tests/docs_blocks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovsdb_ic.testing import IcDeployment, Sandbox
from tests.docs_blocks import PAGES, ROOT, blocks

RUNNABLE = [p for p in PAGES if any(not b.fragment for b in blocks(p))]


@pytest.fixture(scope="module")
def docs_env() -> Iterator[dict[str, str]]:
    with Sandbox() as sandbox:
        dep = IcDeployment.start(sandbox)
        az1 = dep.azs["az1"]
        subprocess.run(["ovn-nbctl", f"--db={az1.nb.remote}", "set", "NB_Global", ".",
                        "name=az1"], check=True, capture_output=True, timeout=30)
        yield {**os.environ, "OVN_NB_DB": az1.nb.remote, "OVN_SB_DB": az1.sb.remote,
               "OVN_IC_NB_DB": dep.ic_nb.remote, "OVN_IC_SB_DB": dep.ic_sb.remote,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}


def test_every_page_with_python_has_runnable_or_fragment_blocks() -> None:
    # The split is total: a block is a fragment, a pytest module, or a program.
    for page in PAGES:
        for block in blocks(page):
            assert block.fragment or block.pytest_module or not block.title, (
                f"{block.where}: title {block.title!r} is neither 'Fragment...' nor "
                "'test_*.py'")
    assert {p.name for p in RUNNABLE} >= {"getting-started.md", "sync.md", "client.md"}


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.name)
def test_page_examples_run(page: Path, docs_env: dict[str, str], tmp_path: Path) -> None:
    programs = [b for b in blocks(page) if not b.fragment and not b.pytest_module]
    modules = [b for b in blocks(page) if b.pytest_module]
    if programs:
        script = tmp_path / f"{page.stem}.py"
        script.write_text("\n\n".join(b.code for b in programs), encoding="utf-8")
        result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=docs_env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (
            f"the examples of {page.name} (lines {', '.join(str(b.line) for b in programs)})"
            f" failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    for block in modules:
        directory = tmp_path / f"pytest-{block.line}"
        directory.mkdir()
        (directory / block.title).write_text(block.code, encoding="utf-8")
        # The conftest.py the pages show next to their pytest modules.
        (directory / "conftest.py").write_text(
            'pytest_plugins = ["ovsdb_ic.testing.pytest_plugin"]\n', encoding="utf-8")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                                 "no:cacheprovider", block.title], cwd=directory,
                                env=docs_env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{block.where} failed:\n{result.stdout[-5000:]}"
