"""The package as users install it: a wheel, in a fresh virtual environment.

``scripts/setup`` installs the project in editable mode, which reads every
file from the source tree and so hides a wheel that forgets its data files
(issue 8: ``nft.lark`` was missing and every ruleset ended in an internal
error). This test builds the wheel from a copy of the sources, installs it
into a new venv, and runs ``wgexplain trace`` from outside the source tree.

Offline: the wheel is built with the build backend installed in ``.venv``
(``--no-build-isolation``; setuptools is in the ``test`` extra), and the new
venv finds the run-time dependencies (lark, rich, click, ...) through a
``.pth`` line naming ``.venv``'s site-packages, after its own: the
``wgexplain`` it imports is the wheel's (asserted).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "mullvad" / "session-en.txt"


def _run(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _backend_ready() -> tuple[bool, str]:
    """Whether .venv holds the build backend pyproject.toml asks for (scripts/setup
    installs it with the ``test`` extra; an older .venv predates that)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        major = 0
    return major >= 77, "setuptools>=77 is not in this .venv: run `bash scripts/setup test`"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel .`` builds, from a clean copy of the sources."""
    ready, why = _backend_ready()
    if not ready:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "wgexplain", src / "wgexplain",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "dist"
    res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "-q", "-w", str(out), str(src)], cwd=tmp)
    assert res.returncode == 0, res.stderr[-2000:]
    wheels = list(out.glob("wgexplain-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_ships_every_file_the_package_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "wgexplain").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)
    assert "wgexplain/sources/nft.lark" in data
    assert [d for d in data if d not in names] == []
    assert "wgexplain/cli.py" in names


def test_installed_wheel_traces_the_seed(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    res = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    py = venv / "bin" / "python"
    res = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-index",
                "--no-deps", "-q", str(wheel)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    # the run-time dependencies come from .venv, after the venv's own site-packages
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp_path).stdout.strip())
    (site / "zz-wgexplain-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    where = _run([str(py), "-c", "import wgexplain; print(wgexplain.__file__)"], cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    res = _run([str(venv / "bin" / "wgexplain"), "trace", str(SEED), "1.1.1.1"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "internal error" not in res.stderr
    assert "wg-mullvad" in res.stdout and "Verdict: ACCEPT" in res.stdout, res.stdout[-1500:]


def test_get_wgexplain_page_works_as_written(wheel: Path, tmp_path: Path) -> None:
    """docs/get.md: install the wheel into a fresh venv, `wgexplain --version`, then
    the page's first trace, run from the clone's root as the page says."""
    page = (ROOT / "docs" / "get.md").read_text(encoding="utf-8")
    assert "wgexplain --version" in page
    first = next(line for line in page.splitlines() if line.startswith("wgexplain trace "))
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path).returncode == 0
    py = venv / "bin" / "python"
    res = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-index", "--no-deps", "-q",
                str(wheel)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                     cwd=tmp_path).stdout.strip())
    (site / "zz-wgexplain-test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    exe = str(venv / "bin" / "wgexplain")
    version = _run([exe, "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("wgexplain, version "), version
    from importlib.metadata import version as installed

    assert version.stdout.split()[-1] == installed("wgexplain")
    res = _run([exe, *first.split()[1:]], cwd=ROOT)
    assert res.returncode == 0 and "Verdict: ACCEPT" in res.stdout, res.stderr[-1500:]
