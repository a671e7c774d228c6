"""Shared fixtures: the site, built once per test session.

``site_build`` runs ``mkdocs build --strict`` into a temporary folder and
returns the process result and the folder; the build test checks the
result, the browser test serves the folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SiteBuild:
    returncode: int
    output: str
    site: Path
    seconds: float


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return SiteBuild(proc.returncode, proc.stdout + proc.stderr, site, time.perf_counter() - start)
