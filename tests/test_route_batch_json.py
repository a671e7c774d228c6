"""`route --batch`'s fast path: steps told from the fast walk's trail, the JSON line
written directly, the batch line reader. Each is compared with its general twin
(the explained walk ``fib_rules_lookup(explain=True)``, ``json.dumps(to_json())``,
``shlex.split()``, ``ipaddress.ip_address()``) byte for byte.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import random
import shlex
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wgexplain
from _fibhost import host, route, rule
from lab_random import random_host, random_route_args
from wgexplain import cli
from wgexplain.kernel import route as sim
from wgexplain.model import AF_INET6, Origin

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mullvad"


def _eager(h: Any, kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> sim.RouteResult:
    with monkeypatch.context() as m:
        m.setattr(sim, "DEFER_STEPS", False)  # the explained walk, run at once
        return sim.route_get(h, **kw)


def _check(h: Any, flows: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> int:
    """Trail-told steps == explained walk's steps; json_line == json.dumps(to_json())."""
    checked = 0
    for kw in flows:
        late = sim.route_get(h, **kw)
        again = sim.route_get(h, **kw)
        line = sim.json_line(late)  # steps not told yet: straight from the trail to JSON
        assert isinstance(late.steps, sim.LazySteps) or late.assumptions or not any(
            s.rule is not None for s in late.steps)
        now = _eager(h, kw, monkeypatch)
        ref = json.dumps(now.to_json(), ensure_ascii=False)
        assert line == ref, kw
        assert sim.json_line(late) == ref  # again, from the caches
        assert tuple(again.steps) == tuple(now.steps)  # every field, routes included
        assert sim.json_line(again) == ref  # told steps, written by step_json()
        checked += 1
    return checked


@pytest.mark.parametrize("seed", range(30))
def test_random_hosts_trail_steps_and_json_line(seed: int, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    h = random_host(1000 + seed)
    assert _check(h, random_route_args(h, random.Random(seed), 60), monkeypatch) == 60


@pytest.mark.parametrize("source", ["session-en.txt", "session-ja.txt", "bundle"])
def test_mullvad_examples(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    h = wgexplain.load(str(EXAMPLES / source))
    flows = random_route_args(h, random.Random(7), 120) + [
        {"dst": "1.1.1.1"}, {"dst": "1.1.1.1", "mark": 0x6D6F6C65},
        {"dst": "192.168.44.1"}, {"dst": "2606:4700::1111"}, {"dst": "10.64.0.1", "oif": "lo"}]
    _check(h, flows, monkeypatch)


LOCAL, MAIN, DEFAULT = rule(0, table=255), rule(32766), rule(32767, table=253)
ROUTES = [route("0.0.0.0/0", "eth0", gw="192.168.1.1"), route("10.0.0.0/8", "eth1", table=100),
          route("0.0.0.0/0", "wg0", table=200), route("10.9.0.0/16", None, table=100,
                                                      type_="throw"),
          route("10.8.0.0/16", None, table=100, type_="prohibit"),
          route("2001:db8::/32", "eth0", gw="fe80::1")]


@pytest.mark.parametrize("rules", [
    [rule(100, "goto", goto=300), rule(200, "lookup", 200), rule(300, "lookup", 100)],
    [rule(100, "goto", goto=250), rule(200, "lookup", 200)],  # unresolved goto: passed over
    [rule(100, "nop"), rule(200, "lookup", 200)],
    [rule(100, "blackhole", dst="10.0.0.0/8"), rule(110, "prohibit", fwmark=1)],
    [rule(100, "frobnicate")],  # an action the walk does not know: EINVAL
    [rule(100, "lookup", 100, invert=True, fwmark=0x10), rule(110, "lookup", 100,
                                                                invert=True, iif="eth1")],
    [rule(100, "lookup", 100, fwmark=0x10, fwmask=0xF0), rule(105, "lookup", 100, fwmark=1)],
    [rule(100, "lookup", 254, suppress_prefixlength=0), rule(200, "lookup", 200)],
    [rule(100, "lookup", 254, suppress_ifgroup=3), rule(200, "lookup", 200)],
    [rule(100, "lookup", 100, dst="10.0.0.0/8", ipproto=6, dport=(443, 443))],
    [rule(100, "lookup", 4242), rule(110, "lookup", 100, uidrange=(1000, 2000))],
    [rule(100, "lookup", 100, src="192.168.1.0/24", oif="eth1", tos=0x10)],
])
def test_every_event_of_the_trail(rules: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    h = host([LOCAL, *rules, MAIN, DEFAULT,
              rule(0, table=255, fam=AF_INET6), rule(32766, fam=AF_INET6)],
             routes=ROUTES, addrs=[("eth0", "192.168.1.10/24"), ("wg0", "10.2.0.2/32"),
                                   ("eth1", "10.0.0.2/8")], groups={"eth0": 3})
    flows = [{"dst": d, **kw} for d in ("10.1.1.1", "10.9.1.1", "10.8.0.1", "1.1.1.1",
                                        "192.168.1.20", "2001:db8::5", "2001:db9::1")
             for kw in ({}, {"mark": 0x10}, {"mark": 1}, {"uid": 1500}, {"oif": "eth1"},
                        {"ipproto": "tcp", "dport": 443, "sport": 5555},
                        {"iif": "eth1", "src": "10.0.0.7"}, {"tos": 0x10})
             if not (":" in d and ("tos" in kw or "src" in kw))]
    assert _check(h, flows, monkeypatch) == len(flows)


def test_json_line_escapes_as_json_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quotes, backslashes, control and non-ASCII characters in names and origins."""
    odd = 'wg"ü\\\t'
    where = Origin('ルール "dump".txt\\', 3)
    h = host([dataclasses.replace(LOCAL, origin=where), rule(100, "lookup", 100, oif=odd,
                                                              origin=where),
              dataclasses.replace(MAIN, origin=where)],
             routes=[dataclasses.replace(route("0.0.0.0/0", odd, table=100), origin=where),
                     route("0.0.0.0/0", "eth0", gw="192.168.1.1")])
    flows = [{"dst": "1.1.1.1"}, {"dst": "1.1.1.1", "oif": odd}, {"dst": "1.1.1.1", "oif": "x"}]
    assert _check(h, flows, monkeypatch) == 3
    line = sim.json_line(sim.route_get(h, "1.1.1.1", oif=odd))
    assert "ルール" in line and json.loads(line)["dev"] == odd


def test_json_line_writes_every_key_of_to_json() -> None:
    """A key to_json() gains must be written by json_line() too: this lists them all."""
    h = wgexplain.load(str(EXAMPLES / "bundle"))
    seen: set[str] = set()
    for kw in random_route_args(h, random.Random(3), 300):
        res = sim.route_get(h, **kw)
        seen |= set(res.to_json())
        assert sim.json_line(res) == json.dumps(res.to_json(), ensure_ascii=False)
    assert seen == {"dst", "type", "dev", "gateway", "src", "table", "rule", "steps", "error",
                    "from", "prefsrc", "iif", "oif", "mark", "uid", "ipproto", "sport",
                    "dport", "tos", "metric", "cache", "derived", "exact", "notes",
                    "kernel", "assumptions", "alternatives", "to_paste"}


_LINE = st.text(st.sampled_from(list("ab1.: \t\"'\\#\x0b\x0c\x1féー\xa0")), max_size=24)


@settings(max_examples=500, deadline=None)
@given(_LINE)
def test_batch_tokens_fast_split_is_shlex(line: str) -> None:
    def reference(text: str) -> list[str] | None:
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return None
        return shlex.split(stripped, comments=True)

    try:
        want = reference(line)
    except ValueError:  # unbalanced quotes: the batch loop reports the line
        with pytest.raises(ValueError):
            cli.batch_tokens(line)
        return
    assert cli.batch_tokens(line) == want


@settings(max_examples=1500, deadline=None)
@given(st.text(st.sampled_from(list("0123456789.x: /")), max_size=18)
       | st.text(st.sampled_from(list("0123aAfF:.%e")), max_size=42)
       | st.ip_addresses().map(str)
       | st.ip_addresses(v=6).map(lambda a: a.exploded)
       | st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"))
def test_fast_address_reads_what_ipaddress_reads(text: str) -> None:
    try:
        want: Any = ipaddress.ip_address(text)
    except ValueError:
        want = None
    got = cli._fast_addr(text)
    if got is not None:
        assert got == want and type(got) is type(want) and str(got) == str(want)
    else:  # left to ipaddress: errors, and scope ids
        assert want is None or "%" in text


def test_run_batch_prints_json_dumps_lines(tmp_path: Path) -> None:
    h = wgexplain.load(str(EXAMPLES / "session-en.txt"))
    lines = ["ip route get 1.1.1.1", "1.1.1.1 mark 0x6d6f6c65", "to 10.64.0.1 from 10.147.23.252",
             "# a comment", "", "route get 2606:4700::1111 uid 1000", "192.168.44.1 oif lo",
             "'1.1.1.1' ipproto tcp dport 443"]
    batch = tmp_path / "b.txt"
    batch.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    with out.open("w") as fh:
        assert cli.run_batch(h, str(batch), fh) == 6
    from wgexplain.kernel.flowspec import parse_flowspec

    want = [json.dumps(sim.route_get(h, **parse_flowspec(cli.batch_tokens(x) or [])).to_json(),
                       ensure_ascii=False) for x in lines if cli.batch_tokens(x)]
    assert out.read_text().splitlines() == want


def test_lookups_create_no_reference_cycles() -> None:
    """prepare() re-freezes the collector during lookups: safe only while lookups leave
    no cycles behind (a frozen cycle would never be freed)."""
    import gc

    for h in (wgexplain.load(str(EXAMPLES / "bundle")), random_host(5), random_host(9)):
        flows = random_route_args(h, random.Random(1), 300)
        sim.prepare(h)
        gc.collect()
        gc.disable()
        try:
            for kw in flows:
                try:
                    res = sim.route_get(h, **kw)
                except sim.UsageError:
                    continue
                sim.json_line(res)
                tuple(res.steps)
            assert gc.collect() == 0
        finally:
            gc.enable()
