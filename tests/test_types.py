"""The package type-checks: ``mypy`` (configured in pyproject.toml's ``[tool.mypy]``)
reports no error in ``wgexplain``. Skipped, with the reason, where mypy is not installed
(it is in the ``test`` extra)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -e '.[test]')")
def test_mypy_finds_no_error_in_the_package() -> None:
    res = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary",
                          "--config-file", str(ROOT / "pyproject.toml")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    errors = [line for line in res.stdout.splitlines() if ": error:" in line]
    assert not errors, "mypy:\n" + "\n".join(errors)
    assert res.returncode == 0, res.stdout + res.stderr
