"""What the distribution promises: typing marker, the ``ovsdb-ic`` command, the schemas."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import ovsdb_ic
from ovsdb_ic.testing import DEBIAN_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
SCHEMA_FILES = (
    "ovn-ic-nb.ovsschema",
    "ovn-ic-sb.ovsschema",
    "ovn-nb.ovsschema",
    "ovn-sb.ovsschema",
)


def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "ovsdb_ic" / "py.typed").is_file()
    package_data = pyproject()["tool"]["setuptools"]["package-data"]["ovsdb_ic"]
    assert "py.typed" in package_data


def test_version_matches_pyproject() -> None:
    assert ovsdb_ic.__version__ == pyproject()["project"]["version"]


def test_console_script_is_declared() -> None:
    assert pyproject()["project"]["scripts"] == {"ovsdb-ic": "ovsdb_ic.cli:main"}
    from ovsdb_ic.cli import main

    assert callable(main)


def _assert_help_lists_demo(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ovsdb-ic"), result.stdout
    assert re.search(r"^\s+demo\s", result.stdout, re.M), result.stdout


def test_python_m_ovsdb_ic_help_lists_demo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ovsdb_ic", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    _assert_help_lists_demo(result)


def test_installed_console_script_help_lists_demo() -> None:
    # The script pip generates from [project.scripts], next to this interpreter: ./dev
    # installs the package into .venv with pip install -e '.[test]'.
    script = Path(sys.executable).parent / "ovsdb-ic"
    assert script.exists(), (
        f"{script} does not exist: the package is not installed for {sys.executable}; "
        "run the tests with ./dev test (or pip install -e '.[test]' first)"
    )
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    _assert_help_lists_demo(result)


# The OVN releases whose schemas schemas/ holds: 23.03 at the top, newer ones in a
# directory named after the release, with the package versions they came from.
SCHEMA_RELEASES = {
    "": ("23.03.1-1~deb12u2", {"1.0.0", "1.1.1", "7.0.0", "20.27.0"}),
    "25.03/": ("25.03.0-1", {"1.2.0", "1.3.0", "7.11.0", "20.41.0"}),
}


@pytest.mark.parametrize("subdir", SCHEMA_RELEASES)
def test_schemas_directory_holds_the_four_schemas(subdir: str) -> None:
    found = sorted(p.name for p in (SCHEMAS / subdir).glob("*.ovsschema"))
    assert found == sorted(SCHEMA_FILES)
    versions = {json.loads((SCHEMAS / subdir / f).read_text())["version"] for f in SCHEMA_FILES}
    assert versions == SCHEMA_RELEASES[subdir][1]
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    assert SCHEMA_RELEASES[subdir][0] in readme


def _readme_row(readme: str, file: str) -> str:
    rows = [line for line in readme.splitlines() if f"`{file}`" in line and line.startswith("|")]
    assert len(rows) == 1, f"schemas/README.md must have exactly one table row for {file}"
    return rows[0]


@pytest.mark.parametrize("file", [d + f for d in SCHEMA_RELEASES for f in SCHEMA_FILES])
def test_schemas_readme_describes_the_file(file: str) -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    data = (SCHEMAS / file).read_bytes()
    schema = json.loads(data)
    cells = [cell.strip().strip("`") for cell in _readme_row(readme, file).strip("|").split("|")]
    # | file | database | version | cksum | Debian package | sha256 |
    assert cells[0] == file
    assert cells[1] == schema["name"]
    assert cells[2] == schema["version"]
    assert cells[3] == schema["cksum"]
    assert cells[4] in {"ovn-common", "ovn-central", "ovn-ic-db"}
    assert cells[5] == hashlib.sha256(data).hexdigest(), f"sha256 of schemas/{file} changed"


def test_dev_script_installs_the_packages_the_sandbox_names() -> None:
    # ./dev cannot import the package before it has installed it, so it keeps its own list.
    dev = (ROOT / "dev").read_text(encoding="utf-8")
    match = re.search(r"^OVN_PACKAGES=\(([^)]*)\)", dev, re.M)
    assert match, "OVN_PACKAGES=(...) not found in ./dev"
    assert tuple(match.group(1).split()) == DEBIAN_PACKAGES
    assert (ROOT / "dev").stat().st_mode & 0o111, "./dev must be executable"


def test_dev_script_provisions_the_25_03_root_the_sandbox_uses() -> None:
    from ovsdb_ic.testing.install import DEFAULT_25_03_ROOT, ROOT_25_03_ENV

    dev = (ROOT / "dev").read_text(encoding="utf-8")
    assert f'OVN_2503_ROOT="${{{ROOT_25_03_ENV}:-{DEFAULT_25_03_ROOT}}}"' in dev
    assert re.search(r"^    provision_ovn_2503$", dev, re.M), "setup must provision the root"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in ci.splitlines() if line.strip()]
    assert commands[-1] == "./dev test"
    assert "./dev test" in (ROOT / "README.md").read_text(encoding="utf-8")
