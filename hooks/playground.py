"""MkDocs hook: the playground's runtime, copied into the built site (no CDN).

The playground page (docs/playground.md, docs/javascripts/playground.js)
runs wgexplain in the reader's browser. After the build this hook puts under
``assets/playground/`` of the site:

* Pyodide's runtime from ``node_modules/pyodide`` (npm, pinned in
  package-lock.json; ``scripts/setup`` runs ``npm ci``): only the loader,
  the WebAssembly interpreter, the standard library and the lock file;
* Graphviz compiled to WebAssembly (``@viz-js/viz``'s ``viz-global.js``),
  which draws the same DOT ``wgexplain ... --format dot`` prints;
* the wheels the simulator needs at run time: wgexplain itself, built from
  this tree (``pip wheel --no-deps``), and the pure-Python ``lark`` and
  ``graphviz`` (the DOT writer; nothing runs the ``dot`` binary) repacked
  from the versions installed here, so the browser runs what the CLI runs;
* ``manifest.json``: the file names the page loads.

The wheel of wgexplain is cached in ``.cache/playground/`` under a hash of
the package's files, so ``mkdocs serve`` rebuilds it only when the code changes.
A missing ``node_modules`` fails the build (``mkdocs build --strict``) with
what to run.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.playground")

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
CACHE = ROOT / ".cache" / "playground"
OUT = "assets/playground"
PAGE = "playground.md"
#: what Pyodide needs to start (its other files are for Node or for debugging)
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
                 "pyodide-lock.json")
VIZ_FILE = "@viz-js/viz/dist/viz-global.js"
#: installed pure-Python distributions the simulator imports (besides itself)
DEPENDENCIES = ("lark", "graphviz")


def _tree_hash() -> str:
    h = hashlib.sha256()
    for p in sorted((ROOT / "wgexplain").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".lark") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes())
    h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()[:16]


def wgexplain_wheel() -> Path:
    """This tree as a wheel (``pip wheel --no-deps --no-build-isolation .``), cached by content."""
    key = CACHE / _tree_hash()
    found = sorted(key.glob("wgexplain-*.whl")) if key.is_dir() else []
    if found:
        return found[0]
    shutil.rmtree(CACHE, ignore_errors=True)  # older builds
    key.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="wgx-wheel-") as build:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
             "-w", str(key), str(ROOT)],
            cwd=build, capture_output=True, text=True, env={**os.environ, "PIP_NO_INDEX": "1"})
    # setuptools leaves build/ and *.egg-info in the tree: they are git-ignored
    found = sorted(key.glob("wgexplain-*.whl"))
    if proc.returncode != 0 or not found:
        shutil.rmtree(key, ignore_errors=True)
        raise RuntimeError(f"pip wheel failed: {proc.stderr.strip()[-2000:]}")
    return found[0]


def repack(dist_name: str, dest: Path) -> Path:
    """An installed pure-Python distribution as a wheel again (its files as installed).

    The wheel is what ``pip`` unpacked (RECORD lists every file); the installer's
    own files (INSTALLER, REQUESTED, direct_url.json) are left out, RECORD rewritten.
    """
    dist = importlib.metadata.distribution(dist_name)
    name = dist.metadata["Name"].replace("-", "_").lower()
    version = dist.version
    wheel_meta = dist.read_text("WHEEL") or ""
    if "Root-Is-Purelib: true" not in wheel_meta:
        raise RuntimeError(f"{dist_name} is not a pure-Python distribution")
    out = dest / f"{name}-{version}-py3-none-any.whl"
    skip = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    dist_info = ""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(dist.files or [], key=str):
            parts = Path(str(f)).parts
            if parts[0].endswith(".dist-info"):
                dist_info = parts[0]
                if parts[-1] in skip:
                    continue
            elif ".." in parts or "__pycache__" in parts or parts[0] == "bin":
                continue
            data = Path(str(f.locate())).read_bytes()
            arc = "/".join(parts)
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            writer.writerow([arc, f"sha256={digest}", len(data)])
        writer.writerow([f"{dist_info}/RECORD", "", ""])
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0))
        z.writestr(info, record.getvalue())
    return out


def samples() -> dict[str, dict[str, object]]:
    """The site's sample dumps, as the playground offers them: a pasted session is one
    file, a bundle directory its files; each named as the CLI names it from the
    repository's root (``examples/wg-quick/bundle/ip-rule.txt``), so the page's JSON
    is the CLI's byte for byte."""
    out: dict[str, dict[str, object]] = {}
    examples = ROOT / "examples"
    for p in sorted(examples.rglob("*")):
        rel = p.relative_to(ROOT).as_posix()
        key = p.relative_to(examples).as_posix()
        if p.is_file() and p.suffix == ".txt" and p.parent.parent == examples and p.stem.startswith("session"):
            out[key] = {"label": f"{key} (a pasted session)",
                        "files": [{"name": rel, "text": p.read_text(encoding="utf-8")}]}
        elif p.is_dir() and any(p.glob("ip-rule.*")):
            files = [{"name": f.relative_to(ROOT).as_posix(), "text": f.read_text(encoding="utf-8")}
                     for f in sorted(p.iterdir()) if f.is_file()]
            out[key] = {"label": f"{key} (a bundle, {len(files)} files)", "files": files}
    return out


def build_runtime(site: Path) -> dict[str, object]:
    """Copy Pyodide, Graphviz (wasm) and the wheels under ``site/assets/playground``."""
    pyodide = NODE / "pyodide"
    viz = NODE / VIZ_FILE
    if not (pyodide / "pyodide.mjs").is_file() or not viz.is_file():
        raise FileNotFoundError("node_modules/pyodide or @viz-js/viz is missing: run `npm ci` "
                                "(scripts/setup does) in the repository")
    out = site / OUT
    (out / "pyodide").mkdir(parents=True, exist_ok=True)
    (out / "wheels").mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copyfile(pyodide / name, out / "pyodide" / name)
    shutil.copyfile(viz, out / "viz-global.js")
    wheels = [wgexplain_wheel()]
    shutil.copyfile(wheels[0], out / "wheels" / wheels[0].name)
    for dep in DEPENDENCIES:
        wheels.append(repack(dep, out / "wheels"))
    (out / "examples.json").write_text(json.dumps(samples(), ensure_ascii=False))
    version = json.loads((pyodide / "package.json").read_text())["version"]
    manifest = {"pyodide": version, "wheels": [f"wheels/{w.name}" for w in wheels]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    """The playground's script on its own page only (a path relative to the page: any sub-path)."""
    if page.file.src_uri != PAGE:
        return output
    src = get_relative_url("javascripts/playground.js", page.url)
    css = get_relative_url("javascripts/playground.css", page.url)
    output = output.replace("</head>", f'<link rel="stylesheet" href="{css}">\n</head>', 1)
    return output.replace("</body>", f'<script src="{src}" defer></script>\n</body>', 1)


def on_post_build(config: MkDocsConfig) -> None:
    try:
        manifest = build_runtime(Path(config.site_dir))
    except (FileNotFoundError, RuntimeError) as e:
        log.warning("the playground cannot run: %s", e)
        return
    log.info("playground: Pyodide %s and %s", manifest["pyodide"], ", ".join(
        str(w).rsplit("/", 1)[-1] for w in manifest["wheels"]))  # type: ignore[attr-defined]
