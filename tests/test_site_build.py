"""The documentation site builds with ``mkdocs build --strict``: no warnings,
every code block and notebook cell ran, nothing is fetched from outside."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SiteBuild = Any  # tests/conftest.py's SiteBuild: returncode, output, site, seconds


def _offline_hook():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("wgx_offline_hook", ROOT / "hooks" / "offline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "assets" not in p.relative_to(site).parts)


def test_build_is_strict_clean(site_build: SiteBuild) -> None:
    print(f"mkdocs build: {site_build.seconds:.1f} s")
    assert site_build.returncode == 0, site_build.output[-4000:]
    warnings = [line for line in site_build.output.splitlines() if re.match(r"\s*WARNING\b", line)]
    assert warnings == []


def test_every_nav_page_is_built(site_build: SiteBuild) -> None:
    assert site_build.returncode == 0, site_build.output[-4000:]
    built = {p.relative_to(site_build.site).as_posix() for p in _pages(site_build.site)}
    for page in ("index.html", "concepts/suppress-prefixlength/index.html", "concepts/fwmark/index.html",
                 "howto/diagrams/index.html", "reference/cli/index.html", "reference/json/index.html",
                 "reference/api/index.html", "notebooks/trace-batch/index.html"):
        assert page in built


def test_outputs_come_from_the_code(site_build: SiteBuild) -> None:
    assert site_build.returncode == 0, site_build.output[-4000:]
    site = site_build.site
    index = (site / "index.html").read_text()
    assert index.count('<div class="wgx-diagram" style="--wgx-width: ') >= 1
    assert "1836018789" in index and "wg-mullvad" in index
    cli = (site / "reference/cli/index.html").read_text()
    assert "Usage: wgexplain [OPTIONS] COMMAND" in cli
    assert "wgexplain route" in cli
    api = (site / "reference/api/index.html").read_text()
    assert 'id="wgexplain.route"' in api and 'id="wgexplain.explain.dot.rule_ladder"' in api
    notebook = (site / "notebooks/trace-batch/index.html").read_text()
    # executed at build: the table of destinations is in the output cells
    assert "jp-OutputArea" in notebook and "185.195.233.76" in notebook and "wlp0s20f3" in notebook


def test_no_page_fetches_from_outside(site_build: SiteBuild) -> None:
    assert site_build.returncode == 0, site_build.output[-4000:]
    external = _offline_hook().external_references
    found = {p.name: external(p.read_text()) for p in _pages(site_build.site)}
    assert {k: v for k, v in found.items() if v} == {}
    assert "fonts.googleapis.com" not in (site_build.site / "index.html").read_text()


def test_offline_hook_sees_external_assets() -> None:
    external = _offline_hook().external_references
    html = ('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//fonts.example/c.css">'
            '<img src="/local.png"><a href="https://kernel.org">a link is fine</a>'
            '<style>@import "https://x.example/y.css"; body{background:url(http://bg.example/i.png)}</style>')
    assert external(html) == ["//fonts.example/c.css", "http://bg.example/i.png", "https://cdn.example/x.js",
                              "https://x.example/y.css"]


def test_notebooks_are_kept_without_outputs() -> None:
    """Notebooks are executed at build time; the files in git hold only their inputs."""
    import json

    notebooks = sorted((ROOT / "examples").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code, path
        assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in code), path


def test_offline_hook_allows_the_dev_server_itself(caplog: Any) -> None:
    """`mkdocs serve` sets site_url to its own address (canonical links, livereload):
    that is the site itself, not an outside request; anything else still warns."""
    import importlib.util
    import logging
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("offline_hook", ROOT / "hooks" / "offline.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = SimpleNamespace(file=SimpleNamespace(src_uri="concepts/fwmark.md"))
    config = SimpleNamespace(site_url="http://127.0.0.1:8000/")
    html = ('<link rel="canonical" href="http://127.0.0.1:8000/concepts/fwmark/">'
            '<script src="http://127.0.0.1:8000/livereload.js"></script>')
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.offline"):
        hook.on_post_page(html, page, config)
        assert not caplog.records
        hook.on_post_page(html + '<script src="https://cdn.example.org/x.js"></script>', page, config)
    assert [r.getMessage() for r in caplog.records] == [
        "concepts/fwmark.md: the page would fetch https://cdn.example.org/x.js from outside the site"]


def test_no_stylesheet_fetches_from_outside(site_build: SiteBuild) -> None:
    """markdown-exec's pyodide stylesheet once @imported a CDN; the HTML check did not see it."""
    assert site_build.returncode == 0, site_build.output[-4000:]
    external = _offline_hook().css_external_references
    found = {str(p.relative_to(site_build.site)): external(p.read_text(errors="replace"))
             for p in site_build.site.rglob("*.css")}
    assert {k: v for k, v in found.items() if v} == {}
    assert not (site_build.site / "assets" / "_markdown_exec_pyodide.css").exists()


def test_css_check_sees_imports_and_urls() -> None:
    external = _offline_hook().css_external_references
    css = ('html[data-theme="light"] { @import "https://cdn.example/t.css" }\n'
           '/* https://fontawesome.com/license in a comment */ a{background:url(//img.example/i.png)}'
           ' b{background:url(data:image/svg+xml;x)} c{background:url("../img/local.png")}')
    assert external(css) == ["//img.example/i.png", "https://cdn.example/t.css"]


_PRINTS_A_PRIVATE_KEY = re.compile(
    r"\bwg\s+show\s+\S+\s+dump\b|\bwg\s+showconf\b|/etc/wireguard/\S*\.conf|WG_HIDE_KEYS=never|\bwg\s+show\s+\S+\s+private-key\b")


def test_no_command_for_pasting_prints_a_private_key() -> None:
    """Every shell block the site and README give to copy prints no private key
    (`wg show all dump` does: the pages give `wg show all`, which prints `(hidden)`)."""
    found = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = md.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:sh|bash|console|shell)\b[^\n]*\n(.*?)```", text, re.S):
            for line in block.splitlines():
                if _PRINTS_A_PRIVATE_KEY.search(line.split("#", 1)[0]):
                    found.append(f"{md.relative_to(ROOT)}: {line.strip()}")
    assert found == []
    assert _PRINTS_A_PRIVATE_KEY.search("sudo wg show all dump")
    assert not _PRINTS_A_PRIVATE_KEY.search("sudo wg show all")


def test_the_seed_has_one_name_everywhere() -> None:
    """Every page and the notebook name the seed `examples/mullvad/session-en.txt`."""
    texts = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
             for p in [*sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").glob("*.ipynb"))]}
    short = {name: n for name, text in texts.items()
             if (n := len(re.findall(r"(?<![\w/])mullvad/session-en\.txt", text)))}
    assert short == {}


def test_pages_workflow_builds_strict_and_deploys() -> None:
    """The publishing path: a GitHub Actions workflow that builds the site as this test
    suite does (strict) and deploys that folder to GitHub Pages."""
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    build = flow["jobs"]["build"]["steps"]
    runs = " ".join(s.get("run", "") for s in build)
    assert "mkdocs build --strict --site-dir _site" in runs
    assert "graphviz" in runs and '".[docs]"' in runs
    upload = next(s for s in build if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_site"
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages@") for s in deploy["steps"])
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
