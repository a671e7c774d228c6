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
from typing import Any
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


def _kernel_profile_line() -> str:
    """Which kernel the parity tests compare against (wgexplain.lab.kernel_profile.detect)."""
    from wgexplain.kernel.profile import read_running_config
    from wgexplain.lab.kernel_profile import detect
    from wgexplain.lab.netns import LabError, lab_available

    ok, why = lab_available()
    text, _where = read_running_config()
    if not ok and text is None:
        return f"kernel profile: not detected (no kernel config readable, and {why})"
    try:
        return "kernel profile: " + detect().describe()
    except LabError as exc:  # the probe failed: say so, the parity tests will fail loudly
        return f"kernel profile: detection failed: {exc}"


def pytest_report_header(config: pytest.Config) -> str:
    return _kernel_profile_line()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    terminalreporter.write_line("parity compared with " + _kernel_profile_line())
