"""The documentation: the mkdocs site builds in strict mode, README links resolve, and the
Python examples of docs/getting-started.md run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]

# [text](target) and [text](target "title"), but not images' alt text handling: images
# (![alt](src)) match too, and their sources must exist as well.
_MD_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.M | re.S)
_PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def relative_links(markdown: str) -> list[str]:
    """The link targets of *markdown* that are relative paths (no scheme, not an anchor),
    without their #fragment; links inside fenced code blocks are ignored."""
    text = _FENCE.sub("", markdown)
    targets = _MD_LINK.findall(text) + _REF_LINK.findall(text)
    result = []
    for target in targets:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "//")):
            continue
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if path:
            result.append(path)
    return result


def test_relative_links_finds_paths_only() -> None:
    markdown = (
        "[a](docs/a.md) [b](docs/b.md#part) [c](https://example.org/x.md) [d](#top)\n"
        '![img](docs/i.png "title") [e](mailto:x@y.z)\n'
        "```sh\n[not](a-link.md)\n```\n"
        "[ref]: schemas/README.md\n"
    )
    assert relative_links(markdown) == [
        "docs/a.md",
        "docs/b.md",
        "docs/i.png",
        "schemas/README.md",
    ]


def test_readme_relative_links_point_to_existing_files() -> None:
    readme = ROOT / "README.md"
    links = relative_links(readme.read_text(encoding="utf-8"))
    assert links, "README.md links to no file at all"
    missing = [link for link in links if not (readme.parent / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_mkdocs_strict_build(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's end-of-life banner
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    assert (site / "index.html").is_file()
    for page in ("getting-started", "architecture", "wire", "testing", "demo", "performance"):
        assert (site / page / "index.html").is_file(), f"{page} page was not built"
    # A block titled as a fragment shows its title above the code (tests/docs_blocks.py).
    client = (site / "client" / "index.html").read_text(encoding="utf-8")
    assert '<span class="filename">Fragment: ' in client


def test_getting_started_python_examples_run(tmp_path: Path) -> None:
    # The ```python blocks run in order, in one interpreter, like a reader pasting them.
    page = ROOT / "docs" / "getting-started.md"
    blocks = _PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))
    assert len(blocks) >= 3, "the framing and sandbox examples are gone"
    script = tmp_path / "getting_started.py"
    script.write_text("\n\n".join(blocks), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"docs/getting-started.md examples failed:\n{result.stderr}"
