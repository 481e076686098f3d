"""The Python blocks of the documentation (docs/*.md and README.md), for the tests that
check their imports and run them.

A block is a fence opened with ```` ```python ```` (or ``py``, ``python3``, ``pycon``).
Its header may carry a title, which mkdocs (pymdownx.highlight) renders above the code:

* ```` ```python title="Fragment: ..." ```` marks a fragment: a piece of a larger program
  (it shows an API in context and relies on names it does not define). It is checked for
  imports only, never run.
* ```` ```python title="test_NAME.py" ```` is a pytest module: it is run with pytest.
* every other block is a complete program: the blocks of a page run in order, in one
  interpreter, like a reader pasting them, with the remotes of a sandbox deployment in
  ``OVN_NB_DB``, ``OVN_SB_DB``, ``OVN_IC_NB_DB`` and ``OVN_IC_SB_DB``.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

_BLOCK = re.compile(r"^```(?:python3?|py|pycon)\b([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
_TITLE = re.compile(r'title="([^"]*)"')


@attrs.frozen
class Block:
    """One ```python block of a page."""

    page: Path
    line: int
    title: str
    code: str

    @property
    def fragment(self) -> bool:
        """Marked as a fragment: imports checked, never run."""
        return self.title.startswith("Fragment")

    @property
    def pytest_module(self) -> bool:
        """A pytest module (titled ``test_*.py``)."""
        return self.title.startswith("test_") and self.title.endswith(".py")

    @property
    def where(self) -> str:
        """``page.md:line`` for messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The ```python blocks of *page*, in order."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        title = _TITLE.search(m[1])
        out.append(Block(page, text.count("\n", 0, m.start()) + 1,
                         title[1] if title else "", m[2]))
    return out
