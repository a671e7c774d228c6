"""MkDocs hook: the site loads nothing from outside.

nbconvert's HTML template (used by mkdocs-jupyter) always adds a MathJax
loader from cdnjs and a Mermaid loader; our notebooks use neither, so both
are removed from notebook pages. Then every page is checked: any ``<script
src>``, ``<link href>``, ``<img src>``, ``<iframe src>``, ``<source src>``,
CSS ``url()`` or ``@import`` pointing off-site is logged as a warning,
which fails ``mkdocs build --strict``. Plain ``<a href>`` links to other
sites are fine: a reader follows them, the page does not fetch them.
After the build, every stylesheet in the site is checked the same way
(``url()`` and ``@import``): a theme or plugin asset can fetch too.
"""

from __future__ import annotations

import logging
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.offline")

_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded".*?mermaid.*?</script>', re.S)
_EXTERNAL = re.compile(
    r"""<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc\s*=\s*["']?(?P<a>(?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?(?P<b>(?:https?:)?//[^"'\s>]+)"""
    r"""|url\(\s*["']?(?P<c>(?:https?:)?//[^"')\s]+)"""
    r"""|@import\s+(?:url\()?\s*["'](?P<d>(?:https?:)?//[^"']+)""",
    re.I,
)


def external_references(html: str) -> list[str]:
    """Every URL in ``html`` that a browser would fetch from another host."""
    return sorted({next(g for g in m.groups() if g) for m in _EXTERNAL.finditer(html)})


_CANONICAL = re.compile(r"""<link\b[^>]*\brel\s*=\s*["']?canonical["']?[^>]*>""", re.I)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url if "//" in url else "//" + url)
    return f"{parts.hostname or ''}:{parts.port or ''}"


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    if page.file.src_uri.endswith(".ipynb"):
        output = _MATHJAX.sub("", output)
        output = _MERMAID.sub("", output)
    # `mkdocs serve` sets site_url to its own address: the page's canonical link
    # (never fetched) and anything on that address are the site itself.
    own = _origin(config.site_url) if config.site_url else None
    checked = _CANONICAL.sub("", output)
    for url in external_references(checked):
        if own is not None and _origin(url) == own:
            continue
        log.warning("%s: the page would fetch %s from outside the site", page.file.src_uri, url)
    return output


_CSS_EXTERNAL = re.compile(
    r"""url\(\s*["']?(?P<a>(?:https?:)?//[^"')\s]+)|@import\s+(?:url\()?\s*["']?(?P<b>(?:https?:)?//[^"')\s;]+)""",
    re.I,
)


def css_external_references(css: str) -> list[str]:
    """Every URL on another host that a stylesheet would fetch (``url()``, ``@import``)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments fetch nothing (licence links)
    return sorted({next(g for g in m.groups() if g) for m in _CSS_EXTERNAL.finditer(css)})


def on_post_build(config: MkDocsConfig) -> None:
    from pathlib import Path

    site = Path(config.site_dir)
    for css in sorted(site.rglob("*.css")):
        for url in css_external_references(css.read_text(encoding="utf-8", errors="replace")):
            log.warning("%s: the stylesheet would fetch %s from outside the site", css.relative_to(site), url)
