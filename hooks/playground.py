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
A missing ``node_modules`` is installed (``npm ci``); if that fails too, the
build fails (``mkdocs build --strict``) saying what to run.
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
    for old in CACHE.glob("*") if CACHE.is_dir() else ():  # older wheels
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
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
        if p.is_file() and p.suffix == ".txt" and p.parent.parent == examples and p.stem.startswith("session"):
            out[rel] = {"label": f"{rel} (a pasted session)",
                        "files": [{"name": rel, "text": p.read_text(encoding="utf-8")}]}
        elif p.is_dir() and any(p.glob("ip-rule.*")):
            files = [{"name": f.relative_to(ROOT).as_posix(), "text": f.read_text(encoding="utf-8")}
                     for f in sorted(p.iterdir()) if f.is_file()]
            out[rel] = {"label": f"{rel} (a bundle, {len(files)} files)", "files": files}
    return out


#: run by Node at build time: Pyodide builds the nft grammar's LALR tables once, as the
#: browser would (lark's cache file is keyed by the grammar, lark's and Python's versions)
_LARK_CACHE_JS = r"""
const [pyodideDir, ...wheels] = process.argv.slice(1);  // node -e: no script name
const fs = require("fs");
(async () => {
  const { loadPyodide } = require(pyodideDir + "/pyodide.js");
  const py = await loadPyodide({ indexURL: pyodideDir + "/" });
  const site = py.runPython("import site; site.getsitepackages()[0]");
  for (const w of wheels) py.unpackArchive(new Uint8Array(fs.readFileSync(w)), "wheel", { extractDir: site });
  const path = py.runPython(`
import glob, tempfile
from wgexplain.sources import nft
nft._parser()
(glob.glob(tempfile.gettempdir() + "/.lark_cache_*") or [""])[0]`);
  if (!path) throw new Error("lark wrote no cache file");
  process.stdout.write(JSON.stringify({ path, data: Buffer.from(py.FS.readFile(path)).toString("base64") }));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def lark_cache(wheels: list[Path]) -> tuple[str, bytes] | None:
    """The nft grammar's parser tables as Pyodide's lark caches them: (path in Pyodide, bytes).

    Made by Node running the same Pyodide on the same wheels (cached under a hash of
    the grammar, lark and Pyodide: what lark's own cache key holds). ``None`` without
    Node: the browser then builds the tables itself (about a second more).
    """
    node = shutil.which("node")
    if node is None:
        return None
    h = hashlib.sha256((ROOT / "wgexplain" / "sources" / "nft.lark").read_bytes())
    h.update(importlib.metadata.version("lark").encode())
    h.update((NODE / "pyodide" / "package.json").read_bytes())
    cached = CACHE / f"lark-{h.hexdigest()[:16]}.json"
    if not cached.is_file():
        proc = subprocess.run([node, "-e", _LARK_CACHE_JS, str(NODE / "pyodide"), *map(str, wheels)],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            log.info("playground: no lark cache (%s)", proc.stderr.strip()[-300:])
            return None
        CACHE.mkdir(parents=True, exist_ok=True)
        cached.write_text(proc.stdout)
    obj = json.loads(cached.read_text())
    return obj["path"], base64.b64decode(obj["data"])


def npm_ci() -> None:
    """``npm ci`` (package-lock.json) when node_modules lacks the runtime: a checkout
    set up before the playground existed builds without a second setup step."""
    npm = shutil.which("npm")
    if npm is None:
        return
    log.info("playground: node_modules is missing: running npm ci")
    proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 0:
        (NODE / ".wgexplain-installed").touch()  # scripts/setup's stamp
    else:
        log.info("playground: npm ci failed: %s", proc.stderr.strip()[-500:])


def build_runtime(site: Path) -> dict[str, object]:
    """Copy Pyodide, Graphviz (wasm) and the wheels under ``site/assets/playground``."""
    pyodide = NODE / "pyodide"
    viz = NODE / VIZ_FILE
    if not (pyodide / "pyodide.mjs").is_file() or not viz.is_file():
        npm_ci()
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
    manifest: dict[str, object] = {"pyodide": version, "wheels": [f"wheels/{w.name}" for w in wheels]}
    cache = lark_cache(wheels)
    if cache is not None:
        (out / "lark-cache.bin").write_bytes(cache[1])
        manifest["lark_cache"] = {"file": "lark-cache.bin", "path": cache[0]}
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
