"""Root pytest configuration for the docs-as-tests (pytest-markdown-docs).

Kept small on purpose: it affects only the code blocks collected from
``docs/*.md`` and from docstrings in ``wgexplain/``.

* Blocks inside admonitions and content tabs are indented; CommonMark's
  indented-code rule would swallow them, so the parser runs with the
  ``code`` rule disabled and sees them as fences.
* Every block runs from the repository root, as ``mkdocs build`` does, so
  a page can say ``wgexplain.load("examples/mullvad/session-en.txt")``.
* Blocks see ``wgexplain`` and ``EXAMPLES`` without importing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_markdown_docs_markdown_it():  # type: ignore[no-untyped-def]
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").disable("code")


def pytest_markdown_docs_globals() -> dict[str, Any]:
    import wgexplain

    return {"wgexplain": wgexplain, "EXAMPLES": ROOT / "examples"}


@pytest.fixture(autouse=True)
def _docs_run_from_root(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Code blocks from docs run in the repository root, like the site build."""
    if request.node.get_closest_marker("markdown-docs") is not None:
        monkeypatch.chdir(ROOT)
