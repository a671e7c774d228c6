"""The site as a reader sees it, in a real browser (headless Chromium, Playwright).

The site is built into a temporary folder (``site_build`` in conftest.py)
and served on 127.0.0.1 **under a sub-path**, ``/wgexplain/``, as GitHub
Pages serves a project site: a link or asset that assumes the site sits at
the server's root fails here. Every page is opened at 1280 px (a laptop)
and at 390 px (a phone), and on each:

* no console error, every internal link answers 200, no request leaves the
  site (each one is intercepted, recorded and aborted);
* every diagram is drawn (those in content tabs after clicking their tab);
* no diagram, table or code block overflows its column, unless it is a
  deliberate scroller: it scrolls, and carries the ``wgx-scrolls`` mark
  (docs/assets/diagrams.js) that gives it a visible bar and a hint (phones
  have overlay scroll bars that hide); at 1280 px no diagram scrolls at all;
* the smallest text of every diagram is at least 11 px on screen;
* a full-page screenshot goes to ``artifacts/screenshots/`` (CI prints it).

Search answers "suppress", "docker" and "DNS"; a diagram opens full size
on click; the palette toggles; the dark scheme keeps the diagrams' light
panel.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
SUBPATH = "wgexplain/"
TIMEOUT_MS = 60_000  # generous: CI machines run the lab tests in parallel, pages may load slowly
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
WIDTHS = {"1280": {"viewport": {"width": 1280, "height": 900}},
          "390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                  "device_scale_factor": 1}}
MIN_DIAGRAM_TEXT_PX = 11.0

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
    """The built site served under ``/wgexplain/`` (the server's root holds nothing else)."""
    assert site_build.returncode == 0, site_build.output[-4000:]
    with tempfile.TemporaryDirectory(prefix="wgx-pages-") as root:
        (Path(root) / SUBPATH.strip("/")).symlink_to(site_build.site, target_is_directory=True)
        handler = functools.partial(_Quiet, directory=root)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/{SUBPATH}"
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


def _guard(context: Any, site_url: str, outside: list[str]) -> None:
    """Abort and record every request that leaves the site (another host, or this host outside the sub-path)."""

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http:", "https:", "ws:", "wss:")) and not url.startswith(site_url):
            outside.append(url)
            route.abort()
        else:
            route.continue_()

    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", handle)


@pytest.fixture()
def guarded(context: Any, site_url: str) -> Iterator[list[str]]:
    outside: list[str] = []
    _guard(context, site_url, outside)
    yield outside


def _shot(page: Any, url: str, site_url: str, tag: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = url[len(site_url):].strip("/").replace("/", "-") or "index"
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page in a full-page shot
    # JPEG: a third of the time of a full-page PNG, and small enough for CI to keep
    page.screenshot(path=str(SHOTS / f"{name}-{tag}.jpg"), full_page=True, type="jpeg", quality=50,
                    animations="disabled")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# What a reader sees, measured in the page, in one call: with each tab of
# every content-tab set shown in turn (Material shows a tab by its radio
# input), every element that holds wide content -- diagrams, tables
# (Material wraps them in a scroll box; notebook output tables are not),
# code blocks, notebook outputs -- and the text of every diagram.
_MEASURE = """() => {
  const wide = new Set(), sizes = [], drawn = new Set(), empty = new Set();
  const sel = '.md-content .wgx-diagram, .md-content .md-typeset__scrollwrap, .md-content pre > code, '
    + '.md-content table, .md-content .jp-OutputArea-output';
  const svgs = [...document.querySelectorAll('.wgx-diagram svg')];
  function measure() {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent) continue;                    // hidden (a closed tab or <details>)
      if (el.scrollWidth <= el.clientWidth + 1) continue;
      const cs = getComputedStyle(el);
      const scroller = ['auto', 'scroll'].includes(cs.overflowX);
      const hinted = el.classList.contains('wgx-scrolls');
      const diagramOnWideScreen = el.classList.contains('wgx-diagram') && window.innerWidth >= 1000;
      if (scroller && hinted && !diagramOnWideScreen) continue;   // a deliberate scroller with a hint
      wide.add(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} `
        + `scrollWidth ${el.scrollWidth} > ${el.clientWidth} (overflow-x ${cs.overflowX}, hint ${hinted}): `
        + (el.textContent || '').trim().slice(0, 60));
    }
    const doc = document.documentElement;               // nothing pushes the page sideways
    if (doc.scrollWidth > doc.clientWidth + 1) wide.add(`page scrollWidth ${doc.scrollWidth} > ${doc.clientWidth}`);
    svgs.forEach((svg, i) => {
      const box = svg.getBoundingClientRect();
      if (!box.width) return;
      drawn.add(i);
      if (box.width < 50 || box.height < 50 || !svg.querySelector('g.node') || !svg.textContent.trim()) empty.add(i);
      for (const t of svg.querySelectorAll('text')) {
        const m = t.getScreenCTM();
        sizes.push([parseFloat(t.getAttribute('font-size') || '14') * Math.hypot(m.a, m.b), t.textContent]);
      }
    });
  }
  window.dispatchEvent(new Event('resize'));            // diagrams.js marks what scrolls
  measure();
  for (const set of document.querySelectorAll('.tabbed-set')) {
    const inputs = [...set.querySelectorAll(':scope > input')];
    const was = inputs.find(i => i.checked);
    for (const input of inputs) {
      input.checked = true;
      window.dispatchEvent(new Event('resize'));
      measure();
    }
    if (was) was.checked = true;
  }
  sizes.sort((a, b) => a[0] - b[0]);
  return {wide: [...wide], smallest: sizes.length ? sizes[0] : null, diagrams: svgs.length,
          drawn: drawn.size, empty: [...empty]};
}"""


def _check_page(page: Any, url: str, problems: list[str]) -> int:
    """Overflow, diagram text size and diagram content of one page; returns how many diagrams it has."""
    measured = page.evaluate(_MEASURE)
    problems.extend(f"{url}: {w}" for w in measured["wide"])
    smallest = measured["smallest"]
    if smallest is not None and smallest[0] < MIN_DIAGRAM_TEXT_PX:
        problems.append(f"{url}: diagram text {smallest[0]:.1f} px ({smallest[1]!r})")
    if measured["drawn"] != measured["diagrams"]:
        problems.append(f"{url}: {measured['diagrams'] - measured['drawn']} diagram(s) never visible")
    if measured["empty"]:
        problems.append(f"{url}: diagram(s) {measured['empty']} without size or content")
    return int(measured["diagrams"])


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_as_a_reader_sees_it(browser: Any, pages: list[str], site_url: str, width: str) -> None:
    assert len(pages) >= 8
    outside: list[str] = []
    context = browser.new_context(**WIDTHS[width])
    _guard(context, site_url, outside)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    links: set[str] = set()
    problems: list[str] = []
    diagrams = 0
    start = time.perf_counter()
    try:
        for url in pages:
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == 200, url
            diagrams += _check_page(page, url, problems)
            if width == "1280":  # the same links at both widths: collected once
                for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                    target, _ = urldefrag(href)
                    if target.startswith(site_url):
                        links.add(target)
            _shot(page, url, site_url, width)
    finally:
        context.close()
    print(f"{len(pages)} pages at {width} px: {time.perf_counter() - start:.1f} s")
    (SHOTS / f"problems-{width}.txt").write_text("".join(p + "\n" for p in problems))
    assert problems == []
    assert diagrams >= 5
    assert errors == []
    if width == "1280":
        broken = sorted(link for link in links if _status(link) != 200)
        assert broken == []
    assert outside == []


def test_dark_scheme_keeps_the_light_panel(browser: Any, site_url: str) -> None:
    outside: list[str] = []
    context = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 900})
    _guard(context, site_url, outside)
    try:
        page = context.new_page()
        for path in ("", "concepts/cgroup-split-tunnelling/", "notebooks/trace-batch/"):
            page.goto(site_url + path, wait_until="networkidle")
            assert page.get_attribute("body", "data-md-color-scheme") == "slate"
            background = page.eval_on_selector(".wgx-diagram svg", "e => getComputedStyle(e).backgroundColor")
            assert background == "rgb(245, 245, 247)"
            _shot(page, site_url + path, site_url, "dark")
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


def test_a_diagram_opens_full_size(page: Any, guarded: list[str], site_url: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site_url + "concepts/fwmark/", wait_until="networkidle")
    svg = page.locator(".wgx-diagram svg").first
    shown = svg.bounding_box()
    svg.click()
    big = page.locator(".wgx-lightbox svg")
    big.wait_for(state="visible")
    natural = float(page.eval_on_selector(".wgx-diagram", "e => parseFloat(getComputedStyle(e).getPropertyValue('--wgx-width'))"))
    box = big.bounding_box()
    assert shown is not None and box is not None
    assert abs(box["width"] - natural) < 2  # full size: the natural width, not the column's
    page.keyboard.press("Escape")
    assert page.locator(".wgx-lightbox").count() == 0
    assert guarded == []


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("query, expected", [
    ("suppress", "concepts/suppress-prefixlength/"),
    ("docker", "howto/containers/"),
    ("DNS", "howto/dns-leak/"),
])
def test_search_finds_pages(browser: Any, site_url: str, query: str, expected: str, width: str) -> None:
    outside: list[str] = []
    context = browser.new_context(**WIDTHS[width])
    _guard(context, site_url, outside)
    try:
        page = context.new_page()
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
    finally:
        context.close()
    assert outside == []


def test_code_annotations_render(page: Any, guarded: list[str], site_url: str) -> None:
    """Material turns the `// (1)!` comment and the list after the block into an annotation."""
    page.goto(site_url + "concepts/suppress-prefixlength/", wait_until="networkidle")
    marker = page.locator(".md-annotation").first
    marker.wait_for(state="visible", timeout=10_000)
    marker.focus()
    page.get_by_text("so the answer is refused").first.wait_for(state="visible", timeout=10_000)
    assert guarded == []
