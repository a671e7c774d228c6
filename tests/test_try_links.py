"""The "Try in your browser" links under the site's shell blocks (hooks/try_links.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hooks"))
try_links = pytest.importorskip("try_links")


def test_a_trace_line_becomes_the_same_packet() -> None:
    shown, q = try_links.link_query(
        "wgexplain trace examples/mullvad/bundle 1.1.1.1 --proto tcp --dport 443 --cgroup 0x4d9f41")
    assert shown == "trace 1.1.1.1 --proto tcp --dport 443 --cgroup 0x4d9f41"
    assert q == {"example": "examples/mullvad/bundle", "cmd": "trace", "dst": "1.1.1.1",
                 "ipproto": "tcp", "dport": "443", "cgroup": "0x4d9f41"}


def test_ip_route_get_keywords_and_sudo_and_comments() -> None:
    _, q = try_links.link_query("sudo wgexplain route examples/wg-quick/bundle 203.0.113.5 mark 0xca6c"
                                "   # the relay")
    assert q == {"example": "examples/wg-quick/bundle", "cmd": "route", "dst": "203.0.113.5",
                 "mark": "0xca6c"}
    _, q = try_links.link_query("wgexplain check examples/mullvad/bundle     # lists lan-unreachable")
    assert q == {"example": "examples/mullvad/bundle", "cmd": "check"}


@pytest.mark.parametrize("line", [
    "wgexplain route examples/mullvad/session-en.txt 198.51.100.10 --format svg > ladder.svg",
    "wgexplain route examples/mullvad/session-en.txt 1.1.1.1 --kernel no-mroute",
    "wgexplain route mybundle 1.1.1.1",          # not a sample the playground carries
    "sudo wgexplain capture mybundle --redact",  # not a question the playground answers
    "wgexplain route examples/mullvad/session-en.txt 1.1.1.1 --mark",  # option without value
    "echo 'unbalanced",
])
def test_what_the_playground_cannot_answer_gets_no_link(line: str) -> None:
    assert try_links.link_query(line) is None


def test_a_page_block_gets_one_line_of_links_pointing_at_the_playground() -> None:
    class _File:
        src_uri = "concepts/fwmark-copy.md"

    class _Page:
        file = _File()
        url = "concepts/fwmark-copy/"

    md = ("Text\n\n```sh\nwgexplain route examples/mullvad/session-en.txt 185.195.233.76\n"
          "wgexplain route examples/mullvad/session-en.txt 185.195.233.76 --mark 0x6d6f6c65\n```\n")
    out = try_links.on_page_markdown(md, _Page(), None, None)
    (para,) = [ln for ln in out.splitlines() if ln.startswith('<div class="wgx-try">')]
    hrefs = [h.split('"', 1)[0] for h in para.split('href="')[1:]]
    assert len(hrefs) == 2
    assert '<span style="white-space:nowrap">--mark</span>' in para
    url = urlsplit(hrefs[1].replace("&amp;", "&"))
    assert url.path == "../../playground/"
    assert parse_qs(url.query) == {"example": ["examples/mullvad/session-en.txt"], "cmd": ["route"],
                                   "dst": ["185.195.233.76"], "mark": ["0x6d6f6c65"]}
    # a page that writes its own links is left alone
    own = md + '<a class="wgx-try-link" href="x">x</a>\n'
    assert try_links.on_page_markdown(own, _Page(), None, None) == own
