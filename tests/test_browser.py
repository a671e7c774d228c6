"""The site in a real browser (headless Chromium through Playwright).

The site is built into a temporary folder (``site_build`` in conftest.py)
and served on 127.0.0.1 from a thread. Every page is opened: no console
errors, every diagram present with a size, every internal link answers 200,
no request leaves 127.0.0.1 (each one is intercepted, recorded and
aborted). Search finds the concept pages. Screenshots of every page (light),
and of the start and concept pages in dark and on a phone-sized screen, go
to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import functools
import importlib.util
import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 60_000  # generous: CI machines run the lab tests in parallel, pages may load slowly
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]

HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None

if not HAVE_PLAYWRIGHT or not Path(CHROMIUM).exists():
    pytest.skip(f"needs Playwright for Python and Debian's chromium at {CHROMIUM}", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, pointed at Debian's chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site_url(site_build: Any) -> Iterator[str]:
    assert site_build.returncode == 0, site_build.output[-4000:]
    handler = functools.partial(_Quiet, directory=str(site_build.site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def pages(site_build: Any, site_url: str) -> list[str]:
    """The URL of every page of the site (use_directory_urls: one index.html per page)."""
    site: Path = site_build.site
    out = []
    for html in sorted(site.rglob("index.html")):
        rel = html.relative_to(site)
        if "assets" in rel.parts:
            continue
        out.append(urljoin(site_url, rel.parent.as_posix() + "/" if rel.parent.as_posix() != "." else ""))
    return out


@pytest.fixture()
def guarded(context: Any, site_url: str) -> Iterator[list[str]]:
    """Abort and record every request to anything but the local server."""
    outside: list[str] = []
    local = urlparse(site_url).netloc

    def handle(route: Any) -> None:
        url = route.request.url
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != local:
            outside.append(url)
            route.abort()
        else:
            route.continue_()

    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", handle)
    yield outside


def _shot(page: Any, url: str, site_url: str, tag: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = url[len(site_url):].strip("/").replace("/", "-") or "index"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page in a full-page shot
    page.screenshot(path=str(SHOTS / f"{name}-{tag}.png"), full_page=True)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _check_diagrams(page: Any, url: str) -> int:
    """Every inline diagram has a size and content; those in content tabs after
    clicking their tab. Returns how many were checked."""
    svgs = page.locator(".wgx-diagram svg")
    checked: set[int] = set()

    def check_visible() -> None:
        for i in range(svgs.count()):
            svg = svgs.nth(i)
            if i in checked or not svg.is_visible():
                continue
            box = svg.bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 50, url
            assert svg.locator("g.node").count() > 0, url
            assert (svg.text_content() or "").strip(), url
            checked.add(i)

    check_visible()
    labels = page.locator(".tabbed-labels > label")
    for i in range(labels.count()):
        labels.nth(i).click()
        check_visible()
    assert len(checked) == svgs.count(), f"{url}: a diagram is never visible"
    return len(checked)


def test_every_page_loads_clean(page: Any, guarded: list[str], pages: list[str], site_url: str) -> None:
    assert len(pages) >= 8
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    links: set[str] = set()
    diagrams = 0
    for url in pages:
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
        diagrams += _check_diagrams(page, url)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            target, _ = urldefrag(href)
            if target.startswith(site_url):
                links.add(target)
        _shot(page, url, site_url, "light")
    assert diagrams >= 5
    assert errors == []
    broken = sorted(link for link in links if _status(link) != 200)
    assert broken == []
    assert guarded == []


def test_dark_palette_toggle_and_phone(browser: Any, site_url: str, site_build: Any) -> None:
    outside: list[str] = []
    local = urlparse(site_url).netloc
    for tag, options in (("dark", {"color_scheme": "dark"}),
                         ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                                    "has_touch": True})):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                      if urlparse(route.request.url).netloc != local else route.continue_())
        try:
            page = context.new_page()
            for path in ("", "concepts/suppress-prefixlength/", "concepts/fwmark/", "notebooks/trace-batch/"):
                page.goto(site_url + path, wait_until="networkidle")
                scheme = page.get_attribute("body", "data-md-color-scheme")
                assert scheme == ("slate" if tag == "dark" else "default")
                _shot(page, site_url + path, site_url, tag)
            if tag == "phone":
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390 + 1  # nothing pushes the page sideways; wide diagrams scroll in their box
        finally:
            context.close()
    assert outside == []


def test_palette_toggle_switches_scheme(page: Any, guarded: list[str], site_url: str) -> None:
    page.goto(site_url, wait_until="networkidle")
    before = page.get_attribute("body", "data-md-color-scheme")
    page.locator("form[data-md-component=palette] label:visible").first.click()
    page.wait_for_function(f"document.body.getAttribute('data-md-color-scheme') !== {before!r}")
    assert page.get_attribute("body", "data-md-color-scheme") != before
    assert guarded == []


@pytest.mark.parametrize("query, expected", [
    ("suppress_prefixlength", "concepts/suppress-prefixlength/"),
    ("fwmark", "concepts/fwmark/"),
])
def test_search_finds_concept_pages(page: Any, guarded: list[str], site_url: str, query: str,
                                    expected: str) -> None:
    page.goto(site_url, wait_until="networkidle")
    opener = page.locator("label.md-header__button[for=__search]")
    if opener.is_visible():  # narrow screens: the search box opens from a button
        opener.click()
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(query, delay=10)  # Material searches on key events, not on fill()
    results = page.locator(".md-search-result__item a")
    results.first.wait_for(state="visible", timeout=20_000)
    hrefs = [results.nth(i).get_attribute("href") or "" for i in range(results.count())]
    assert any(expected in href for href in hrefs), hrefs
    assert guarded == []


def test_code_annotations_render(page: Any, guarded: list[str], site_url: str) -> None:
    """Material turns the `// (1)!` comment and the list after the block into an annotation."""
    page.goto(site_url + "concepts/suppress-prefixlength/", wait_until="networkidle")
    marker = page.locator(".md-annotation").first
    marker.wait_for(state="visible", timeout=10_000)
    marker.focus()
    page.get_by_text("so the answer is refused").first.wait_for(state="visible", timeout=10_000)
    assert guarded == []
