"""The seed: the user's pasted session (English and Japanese) and the bundle read alike."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from wgexplain.model import AF_INET, Origin
from wgexplain.sources import load, load_raw, load_text
from wgexplain.sources.iproute_route import route_key
from wgexplain.sources.iproute_rule import rule_key

EX = Path(__file__).resolve().parent.parent / "examples" / "mullvad"
SOURCES = [EX / "session-en.txt", EX / "session-ja.txt", EX / "bundle"]


def _addr_key(a):  # type: ignore[no-untyped-def]
    return dataclasses.replace(a, origin=Origin(""))


@pytest.fixture(scope="module")
def hosts():  # type: ignore[no-untyped-def]
    return [load_raw(str(p)) for p in SOURCES]


def test_same_rules_routes_addresses(hosts) -> None:  # type: ignore[no-untyped-def]
    keys = [(sorted(map(rule_key, h.rules), key=repr), sorted(map(route_key, h.routes), key=repr),
             [_addr_key(a) for a in h.addresses],
             [dataclasses.replace(lk, origin=Origin("")) for lk in h.links]) for h in hosts]
    assert keys[0] == keys[1] == keys[2]


def test_seed_content(hosts) -> None:  # type: ignore[no-untyped-def]
    h = hosts[1]
    rules = {r.pref: r for r in h.rules}
    assert sorted(rules) == [0, 32764, 32765, 32766, 32767]
    assert rules[32764].suppress_prefixlength == 0 and rules[32764].table == 254
    r = rules[32765]
    assert r.invert and r.fwmark == 0x6D6F6C65 and r.table == 1836018789
    vpn = [x for x in h.routes if x.table == 1836018789]
    assert len(vpn) == 1 and vpn[0].dev == "wg-mullvad" and vpn[0].prefixlen == 0
    assert vpn[0].protocol == "static" and vpn[0].family == AF_INET
    default = [x for x in h.routes if x.table == 254 and x.prefixlen == 0][0]
    assert (str(default.gateway), default.dev, default.metric, default.protocol,
            str(default.prefsrc)) == ("192.168.44.1", "wlp0s20f3", 600, "dhcp", "192.168.44.83")
    assert {lk.name: lk.index for lk in h.links} == {"lo": 1, "wlp0s20f3": 3, "wg-mullvad": 9}
    wg = h.link("wg-mullvad")
    assert wg is not None and wg.link_type == "none" and "POINTOPOINT" in wg.flags
    a = [x for x in h.addresses if x.dev == "wlp0s20f3" and x.family == AF_INET][0]
    assert {"dynamic", "noprefixroute"} <= a.flags and str(a.broadcast) == "192.168.44.255"


@pytest.mark.parametrize("i,name", [(0, "session-en.txt"), (1, "session-ja.txt")])
def test_session_origins_are_the_users_lines(hosts, i: int, name: str) -> None:  # type: ignore[no-untyped-def]
    lines = (EX / name).read_text(encoding="utf-8").split("\n")
    h = hosts[i]
    for r in h.rules:
        assert lines[r.origin.line - 1].startswith(f"{r.pref}:")
    for rt in h.routes:
        first = lines[rt.origin.line - 1]
        assert first.startswith("default" if rt.prefixlen == 0 else str(rt.dst.network_address))
    for a in h.addresses:
        assert str(a.ip) in lines[a.origin.line - 1]
    (cmd, origin, text), = h.blocks
    assert cmd == "nft list ruleset"
    assert lines[origin.line - 1] == "table inet mullvad {"
    assert lines[origin.line - 2] == "# nft list ruleset"
    assert text.endswith("}") and "関連情報" not in text and "Output of" not in text


def test_dumped_tags(hosts) -> None:  # type: ignore[no-untyped-def]
    session, _, bundle = hosts
    assert {"ip-rule", "ip-route", "ip-route:main", "ip-route:1836018789", "ip-addr", "ip-link",
            "nft"} <= session.dumped
    assert "ip-route:all" not in session.dumped and "ip6-route" not in session.dumped
    assert {"ip-rule", "ip-route:main", "ip-route:1836018789", "ip-addr", "nft"} <= bundle.dumped
    assert "no IPv6 routes in this dump" in session.warnings


def test_ruleset_is_read_when_the_nft_reader_exists(hosts) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("wgexplain.sources.nft")
    for h in hosts:
        assert h.ruleset is not None
        assert [t.name for t in h.ruleset.tables] == ["mullvad"]


def test_load_text_and_load_agree() -> None:
    text = (EX / "session-ja.txt").read_text(encoding="utf-8")
    a = load_text(text, str(EX / "session-ja.txt"))
    b = load(str(EX / "session-ja.txt"))
    assert a == b
    assert a.source.endswith("session-ja.txt")


def test_stdin(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    text = (EX / "session-en.txt").read_text(encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    h = load_raw("-")
    assert h.source == "<stdin>" and len(h.rules) == 5
