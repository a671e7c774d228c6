"""Traces on the site (wgexplain.explain.trace_html): verdict first, one line per
step, detail folded, the point's steps shown and the full trace one click away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import wgexplain
from wgexplain.explain.trace_html import shorten_origins, step_line, to_html
from wgexplain.kernel.record import Step, Trace

SEED = Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "session-en.txt"


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return wgexplain.load(str(SEED))


def _shown(html: str) -> list[int]:
    """The step numbers of the first (shown) list."""
    first = html.split('<details class="wgx-full">')[0]
    return [int(n) for n in re.findall(r'<li value="(\d+)"', first)]


def test_verdict_comes_first_and_decisive_steps_are_shown(seed) -> None:  # type: ignore[no-untyped-def]
    trace = wgexplain.trace(seed, "198.51.100.10", proto="udp", dport=443, cgroup=0x4D9F41)
    html = to_html(trace)
    assert html.index("wgx-verdict") < html.index("wgx-steps")
    assert re.search(r'class="wgx-verdict"><strong class="wgx-accept">ACCEPT</strong> — leaves by <code>wlp0s20f3</code>', html)
    decisive = [n for n, s in enumerate(trace.steps, 1) if s.decisive]
    assert _shown(html) == decisive and len(decisive) < len(trace.steps)
    # the full trace, one click away, holds every step with its own number
    full = html.split('<details class="wgx-full">')[1]
    assert f"all {len(trace.steps)} steps" in full
    assert [int(n) for n in re.findall(r'<li value="(\d+)"', full)] == list(range(1, len(trace.steps) + 1))


def test_chosen_steps_keep_their_numbers(seed) -> None:  # type: ignore[no-untyped-def]
    trace = wgexplain.trace(seed, "9.9.9.9", proto="udp", dport=53)
    html = to_html(trace, steps=[4])
    assert _shown(html) == [4]
    assert "REJECT" in html and "the sender sees <strong>EPERM</strong>" in html
    what, where, result = step_line(trace.steps[3])
    assert (what, where) == ("rule 13", "output · inet mullvad · output")
    assert "udp dport 53 reject" in result and "reject" in result


def test_every_step_has_its_detail_folded(seed) -> None:  # type: ignore[no-untyped-def]
    trace = wgexplain.trace(seed, "1.1.1.1", proto="udp", dport=443)
    html = to_html(trace, steps=range(1, len(trace.steps) + 1))
    assert "wgx-full" not in html  # everything shown: nothing more to open
    assert html.count("<summary>") == html.count('<div class="wgx-detail">') + 1  # + the nested journey
    assert "examples/mullvad/session-en.txt:78" in html  # the rule's file:line, in the detail
    assert "the encrypted UDP packet's own journey" in html


def test_repeated_origins_are_shortened_and_notes_not_repeated(seed) -> None:  # type: ignore[no-untyped-def]
    assert shorten_origins("at a/s.txt:59, a/s.txt:73, a/s.txt:92 and b.txt:1") == "at a/s.txt:59, :73, :92 and b.txt:1"
    trace = wgexplain.trace(seed, "1.1.1.1", proto="udp", dport=443)
    html = to_html(trace)
    assert "session-en.txt:59, examples/mullvad/session-en.txt:73" not in html
    # the WireGuard evidence is told by the tunnel step; a note that only repeats it is left out
    refs = {n for n in trace.notes if "session-en.txt:59" in n}
    assert refs and all(n[:40] not in html for n in refs)
    assert "uid 0" in html  # a note with news stays


def test_text_is_escaped() -> None:
    step = Step("hook", "a <b> & c", hook="output", table="inet t", chain="c", rule=1,
                text='meta comment "<script>"', verdict="accept", decisive=True)
    html = to_html(Trace("accept", None, (step,)))
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt;b&gt; &amp; c" in html
