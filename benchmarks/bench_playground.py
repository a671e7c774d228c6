#!/usr/bin/env python3
"""Playground benchmark: wgexplain in headless Chromium, side by side with the CLI.

Builds the site (or takes ``--site DIR``, an already built one), serves it on
127.0.0.1 under ``/wgexplain/`` (as a project site is served), and opens the
playground in a fresh browser context (cold cache) with the seed session and
its packet in the address (``?example=examples/mullvad/session-en.txt&...``), as a
"Try it" link does. It measures

* **first answer**: from the start of navigation to the first answer on
  screen (the page's ``wgx-pg-first-answer`` performance mark), with the
  runtime's start (``wgx-pg-ready``) on the way;
* **each further trace**: ``--traces`` questions (the destination port
  changed each time), from the click to the answer drawn (verdict, steps and
  the journey's SVG), and the part spent in Python (the worker's own time);
* **added weight**: the bytes the playground page fetches (Resource Timing),
  and the size of ``assets/playground/`` on disk, raw and gzip-compressed
  (what a static host that compresses would send);
* **the CLI** on the same dump and packet: ``wgexplain trace`` as a process
  (start-up included), and :func:`wgexplain.web.answer` in CPython.

A script, not a test: it asserts nothing. The machine's load average is
printed with the numbers, since they depend on it.

    .venv/bin/python benchmarks/bench_playground.py [--site DIR] [--traces N] [--runs N]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SEED = "examples/mullvad/session-en.txt"
QUERY = "example=examples/mullvad/session-en.txt&dst=1.1.1.1&ipproto=tcp&dport=443"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def build_site(dest: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--clean", "--site-dir", str(dest)],
                   cwd=ROOT, env=env, check=True, capture_output=True)


def weight(site: Path) -> tuple[int, int]:
    """Bytes of assets/playground/ (and the page's scripts): raw and gzip -6."""
    raw = packed = 0
    files = list((site / "assets" / "playground").rglob("*")) + list((site / "javascripts").glob("playground*"))
    for f in files:
        if f.is_file():
            data = f.read_bytes()
            raw += len(data)
            packed += len(gzip.compress(data, 6))
    return raw, packed


def in_browser(base: str, traces: int, site: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # a fresh, empty cache
        page = context.new_page()
        urls: list[str] = []  # the page's and its worker's requests
        context.on("requestfinished", lambda r: urls.append(r.url))
        page.goto(f"{base}playground/?{QUERY}")
        page.wait_for_function("performance.getEntriesByName('wgx-pg-first-answer').length > 0",
                               timeout=300_000)
        marks = page.evaluate("""() => Object.fromEntries(["wgx-pg-ready", "wgx-pg-first-answer"].map(
            n => [n, performance.getEntriesByName(n)[0].startTime]))""")
        fetched = 0  # the files served (the local server sends them uncompressed)
        for url in set(urls):
            path = url.split("?")[0].split("#")[0][len(base):]
            f = site / (path + "index.html" if path.endswith("/") or not path else path)
            fetched += f.stat().st_size if f.is_file() else 0
        verdict = page.inner_text("#wgx-pg-answer .wgx-verdict")
        rounds, python = [], []
        for i in range(traces):
            before = page.evaluate("document.getElementById('wgx-pg').dataset.answered")
            page.fill("#wgx-pg-form [name=dport]", str(1000 + i))
            start = time.perf_counter()
            page.click("#wgx-pg-run")
            page.wait_for_function(
                f"(() => {{ const d = document.getElementById('wgx-pg').dataset;"
                f" return !d.busy && d.answered !== '{before}' && document.querySelector('#wgx-pg-diagram svg'); }})()")
            rounds.append(time.perf_counter() - start)
            python.append(float(page.evaluate("document.getElementById('wgx-pg').dataset.pythonMs")) / 1000)
        browser.close()
    return {"ready": marks["wgx-pg-ready"] / 1000, "first": marks["wgx-pg-first-answer"] / 1000,
            "fetched": fetched, "verdict": verdict, "rounds": rounds, "python": python}


def cli(traces: int) -> dict[str, float]:
    exe = ROOT / ".venv" / "bin" / "wgexplain"
    start = time.perf_counter()
    subprocess.run([str(exe), "trace", SEED, "1.1.1.1", "--proto", "tcp", "--dport", "443", "--json"],
                   cwd=ROOT, check=True, capture_output=True)
    process = time.perf_counter() - start
    from wgexplain.web import answer

    text = (ROOT / SEED).read_text()
    times = []
    for i in range(traces):
        start = time.perf_counter()
        answer({"files": [{"name": SEED, "text": text}], "command": "trace",
                "packet": {"dst": "1.1.1.1", "ipproto": "tcp", "dport": str(1000 + i)}})
        times.append(time.perf_counter() - start)
    return {"process": process, "first": times[0], "next": statistics.median(times[1:] or times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", type=Path, help="a site already built by mkdocs (else one is built)")
    ap.add_argument("--traces", type=int, default=10, help="further traces timed after the first")
    ap.add_argument("--runs", type=int, default=1, help="cold page loads")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wgx-bench-") as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            t = time.perf_counter()
            build_site(site)
            print(f"site built in {time.perf_counter() - t:.1f} s")
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "wgexplain").symlink_to(site.resolve(), target_is_directory=True)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/wgexplain/"
        runs = [in_browser(base, args.traces, site) for _ in range(args.runs)]
        server.shutdown()
        raw, packed = weight(site)
    c = cli(args.traces)
    load = os.getloadavg()
    r = runs[-1]
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"verdict shown: {r['verdict']}")
    for i, run in enumerate(runs, 1):
        print(f"run {i}: runtime ready {run['ready']:.2f} s, first answer {run['first']:.2f} s after navigation start")
    print(f"further traces ({args.traces}): median {statistics.median(r['rounds']) * 1000:.0f} ms click-to-drawn, "
          f"max {max(r['rounds']) * 1000:.0f} ms; Python part median {statistics.median(r['python']) * 1000:.0f} ms")
    print(f"CLI: `wgexplain trace` process {c['process']:.2f} s; in CPython: first {c['first'] * 1000:.0f} ms, "
          f"next median {c['next'] * 1000:.0f} ms")
    print(f"added weight: {raw / 1e6:.1f} MB on disk ({packed / 1e6:.1f} MB gzip-compressed); "
          f"the page fetched {r['fetched'] / 1e6:.1f} MB")
    print(json.dumps({"first_answer_s": r["first"], "ready_s": r["ready"],
                      "trace_ms": statistics.median(r["rounds"]) * 1000,
                      "python_ms": statistics.median(r["python"]) * 1000, "weight_mb": raw / 1e6,
                      "weight_gzip_mb": packed / 1e6, "fetched_mb": r["fetched"] / 1e6,
                      "cli_process_s": c["process"], "load": load[0]}))


if __name__ == "__main__":
    main()
