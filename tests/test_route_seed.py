"""The seed (Mullvad) decisions, as the 6.18 kernel gave them in a wgx- namespace rebuild."""

from __future__ import annotations

import json

import pytest

from _seed_host import MOLE, TABLE, hand_built, seed_host
from wgexplain.explain.route_text import format_text, kernel_lines
from wgexplain.kernel.flowspec import parse_flowspec
from wgexplain.kernel.route import route_get


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return seed_host()


def get(host, spec: str):  # type: ignore[no-untyped-def]
    return route_get(host, **parse_flowspec(spec.split()))


# query -> (type, dev, gateway, src, table, rule, cache), from `ip -j -d route get` in the lab
OUTPUT = {
    "1.1.1.1": ("unicast", "wg-mullvad", None, "10.147.23.252", TABLE, 32765, ()),
    "10.64.0.1": ("unicast", "wg-mullvad", None, "10.147.23.252", 254, 32764, ()),
    "192.168.44.1": ("unicast", "wlp0s20f3", None, "192.168.44.83", 254, 32764, ()),
    "192.168.44.83": ("local", "lo", None, "192.168.44.83", 255, 0, ("local",)),
    "127.0.0.1": ("local", "lo", None, "127.0.0.1", 255, 0, ("local",)),
    "127.0.0.5": ("local", "lo", None, "127.0.0.1", 255, 0, ("local",)),
    "203.0.113.76 mark 0x6d6f6c65": ("unicast", "wlp0s20f3", "192.168.44.1", "192.168.44.83",
                                     254, 32766, ()),
    "255.255.255.255": ("broadcast", "wg-mullvad", None, "10.147.23.252", TABLE, 32765,
                        ("local", "brd")),
    "192.168.44.255": ("broadcast", "wlp0s20f3", None, "192.168.44.83", 255, 0, ("local", "brd")),
    "192.168.44.0": ("unicast", "wlp0s20f3", None, "192.168.44.83", 254, 32764, ()),
    "224.0.0.1": ("multicast", "wg-mullvad", None, "10.147.23.252", TABLE, 32765, ("local", "mc")),
    "0.0.0.0": ("local", "lo", None, "127.0.0.1", None, None, ("local",)),
    "1.1.1.1 from 192.168.44.83": ("unicast", "wg-mullvad", None, "192.168.44.83", TABLE, 32765, ()),
    "1.1.1.1 oif wlp0s20f3": ("unicast", "wlp0s20f3", "192.168.44.1", "192.168.44.83", 254, 32766, ()),
    "1.1.1.1 oif lo": ("unicast", "lo", None, "192.168.44.83", None, None, ("local",)),
    # 0.0.0.0/8 is unicast on this kernel (only 0.0.0.0 itself is special)
    "0.1.2.3": ("unicast", "wg-mullvad", None, "10.147.23.252", TABLE, 32765, ()),
    "10.64.0.1 oif wlp0s20f3": ("unicast", "wlp0s20f3", "192.168.44.1", "192.168.44.83", 254,
                                32766, ()),
}


@pytest.mark.parametrize("spec", list(OUTPUT))
def test_seed_output_decisions(seed, spec: str) -> None:  # type: ignore[no-untyped-def]
    r = get(seed, spec)
    got = (r.type, r.dev, None if r.gateway is None else str(r.gateway), str(r.src), r.table,
           r.rule, r.cache)
    assert r.error is None
    assert got == OUTPUT[spec]
    assert r.exact


@pytest.mark.parametrize("spec,errno", [("1.1.1.1 from 8.8.8.8", "ENETUNREACH"),
                                        ("1.1.1.1 from 127.0.0.1", "EINVAL"),
                                        ("1.1.1.1 oif nosuchdev", "ENODEV")])
def test_seed_output_refusals(seed, spec: str, errno: str) -> None:  # type: ignore[no-untyped-def]
    r = get(seed, spec)
    assert (r.error, r.dev) == (errno, None)
    assert r.to_json()["error"] == errno


def test_the_explanation_of_1_1_1_1(seed) -> None:  # type: ignore[no-untyped-def]
    r = get(seed, "1.1.1.1")
    assert [(s.rule, s.action, s.result) for s in r.steps] == [
        (0, "lookup local", "not found"), (32764, "lookup main", "suppressed"),
        (32765, "lookup 1836018789", "matched")]
    assert "default via 192.168.44.1 dev wlp0s20f3" in r.steps[1].why
    assert "prefix length 0 is <= 0" in r.steps[1].why
    assert "no mark 0x6d6f6c65 (its mark is 0)" in r.steps[2].why
    assert "ip-rule.txt:3" in r.steps[2].why and "wg-mullvad" in r.steps[2].why
    assert r.steps[0].why.count("ip-rule.txt:1") == 1


def test_marked_tunnel_packet_skips_rule_32765(seed) -> None:  # type: ignore[no-untyped-def]
    r = route_get(seed, "203.0.113.76", mark=MOLE)
    assert [s.result for s in r.steps] == ["not found", "suppressed", "no match", "matched"]
    assert r.to_json()["mark"] == MOLE


def test_json_has_the_design_keys(seed) -> None:  # type: ignore[no-untyped-def]
    j = get(seed, "1.1.1.1").to_json()
    assert list(j)[:8] == ["dst", "type", "dev", "gateway", "src", "table", "rule", "steps"]
    assert (j["dst"], j["type"], j["dev"], j["gateway"], j["src"], j["table"], j["rule"]) == \
        ("1.1.1.1", "unicast", "wg-mullvad", None, "10.147.23.252", TABLE, 32765)
    assert set(j["steps"][0]) == {"rule", "action", "result", "why"}
    assert "error" not in j and j["derived"] is False and j["exact"] is True
    json.dumps(j)
    local = get(seed, "192.168.44.83").to_json()
    assert local["derived"] is True  # table local was derived from the addresses
    err = get(seed, "1.1.1.1 from 8.8.8.8").to_json()
    assert (err["error"], err["dev"], err["type"]) == ("ENETUNREACH", None, "unreachable")


def test_text_first_line_is_what_ip_route_get_prints(seed) -> None:  # type: ignore[no-untyped-def]
    assert kernel_lines(get(seed, "1.1.1.1")) == [
        "1.1.1.1 dev wg-mullvad table 1836018789 src 10.147.23.252 uid 0", "    cache"]
    assert kernel_lines(get(seed, "10.64.0.1"))[0] == "10.64.0.1 dev wg-mullvad src 10.147.23.252 uid 0"
    assert kernel_lines(get(seed, "203.0.113.76 mark 0x6d6f6c65"))[0] == \
        "203.0.113.76 via 192.168.44.1 dev wlp0s20f3 src 192.168.44.83 mark 0x6d6f6c65 uid 0"
    assert kernel_lines(get(seed, "192.168.44.83")) == [
        "local 192.168.44.83 dev lo table local src 192.168.44.83 uid 0", "    cache <local>"]
    assert kernel_lines(get(seed, "1.1.1.1 from 192.168.44.83"))[0] == \
        "1.1.1.1 from 192.168.44.83 dev wg-mullvad table 1836018789 uid 0"
    assert kernel_lines(get(seed, "1.1.1.1 from 8.8.8.8")) == \
        ["RTNETLINK answers: Network is unreachable"]
    text = format_text(get(seed, "1.1.1.1"))
    assert text.splitlines()[2].lstrip().startswith("0  lookup local")
    assert "> 32765" in text


# -- input lookups (iif): forwarding, martians, rp_filter, src_valid_mark -------------------
# (spec, ip_forward, rp_filter, src_valid_mark) -> error or (type, dev, table, cache)
INPUT = [
    ("1.1.1.1 from 203.0.113.76 iif wlp0s20f3", 0, 0, 0, "EHOSTUNREACH"),
    ("1.1.1.1 from 203.0.113.76 iif wlp0s20f3", 1, 0, 0, ("unicast", "wg-mullvad", TABLE, ())),
    ("1.1.1.1 from 203.0.113.76 iif wlp0s20f3", 1, 1, 0, "EINVAL"),
    ("1.1.1.1 from 203.0.113.76 iif wlp0s20f3", 1, 2, 0, ("unicast", "wg-mullvad", TABLE, ())),
    ("192.168.44.83 from 192.168.44.1 iif wlp0s20f3", 0, 1, 0, ("local", "lo", 255, ("local",))),
    ("192.168.44.83 from 1.2.3.4 iif wlp0s20f3", 0, 0, 0, ("local", "lo", 255, ("local",))),
    ("192.168.44.83 from 1.2.3.4 iif wlp0s20f3", 0, 1, 0, "EINVAL"),
    ("192.168.44.83 from 1.2.3.4 iif wlp0s20f3", 0, 2, 0, ("local", "lo", 255, ("local",))),
    ("192.168.44.83 from 1.2.3.4 iif wlp0s20f3 mark 0x6d6f6c65", 0, 1, 0, "EINVAL"),
    ("192.168.44.83 from 1.2.3.4 iif wlp0s20f3 mark 0x6d6f6c65", 0, 1, 1,
     ("local", "lo", 255, ("local",))),
    ("192.168.44.83 from 1.2.3.4 iif wg-mullvad", 0, 1, 0, ("local", "lo", 255, ("local",))),
    ("192.168.44.83 from 1.2.3.4 iif wg-mullvad mark 0x6d6f6c65", 0, 1, 1, "EINVAL"),
    ("10.147.23.252 from 10.64.0.1 iif wg-mullvad", 0, 1, 0, ("local", "lo", 255, ("local",))),
    ("10.147.23.252 from 10.64.0.1 iif wlp0s20f3", 0, 1, 0, "EINVAL"),
    ("192.168.44.83 from 127.0.0.1 iif wlp0s20f3", 0, 0, 0, "EINVAL"),
    ("192.168.44.83 iif wlp0s20f3", 0, 0, 0, "EINVAL"),
    ("192.168.44.83 from 192.168.44.83 iif wlp0s20f3", 0, 0, 0, "EINVAL"),
    ("255.255.255.255 from 0.0.0.0 iif wlp0s20f3", 0, 1, 0, ("broadcast", "lo", None, ("local", "brd"))),
    ("192.168.44.255 from 192.168.44.1 iif wlp0s20f3", 0, 0, 0,
     ("broadcast", "lo", 255, ("local", "brd"))),
    ("192.168.44.5 from 192.168.44.1 iif wlp0s20f3", 1, 0, 0,
     ("unicast", "wlp0s20f3", 254, ("redirect",))),
    ("8.8.8.8 from 192.168.44.5 iif wlp0s20f3", 0, 0, 0, "EHOSTUNREACH"),
    ("192.168.44.83 from 0.1.2.3 iif wlp0s20f3", 0, 0, 0, ("local", "lo", 255, ("local",))),
    ("0.1.2.3 from 192.168.44.1 iif wlp0s20f3", 0, 0, 0, "EHOSTUNREACH"),
    ("0.0.0.0 from 192.168.44.1 iif wlp0s20f3", 0, 0, 0, "EINVAL"),
    ("224.0.0.1 from 0.0.0.0 iif wlp0s20f3", 0, 0, 0, ("multicast", "lo", None, ("local", "mc"))),
    ("224.0.0.5 from 192.168.44.1 iif wlp0s20f3", 0, 0, 0, "EINVAL"),
]


@pytest.mark.parametrize("spec,fwd,rpf,svm,want", INPUT)
def test_seed_input_decisions(spec: str, fwd: int, rpf: int, svm: int, want: object) -> None:
    host = hand_built({"net.ipv4.ip_forward": str(fwd), "net.ipv4.conf.all.rp_filter": str(rpf),
                       "net.ipv4.conf.all.src_valid_mark": str(svm)})
    r = get(host, spec)
    if isinstance(want, str):
        assert (r.error, r.dev) == (want, None)
    else:
        assert r.error is None
        assert (r.type, r.dev, r.table, r.cache) == want


def test_rp_filter_step_explains_and_defaults_are_stated() -> None:
    r = get(hand_built({"net.ipv4.conf.all.rp_filter": "1"}),
            "192.168.44.83 from 1.2.3.4 iif wlp0s20f3")
    step = r.steps[-1]
    assert (step.action, step.result) == ("rp_filter", "refused")
    assert "wg-mullvad" in step.why and "strict" in step.why and "EINVAL" in step.why
    assert any("src_valid_mark = 0 (kernel default)" in n for n in r.notes)
    r = get(hand_built(), "1.1.1.1 from 203.0.113.76 iif wlp0s20f3")
    assert any("forwarding = 0 (kernel default)" in n for n in r.notes)
    assert r.steps[-1].action == "forwarding"
