"""The iproute2 readers on their own: fast constructors, properties, every error's line."""

from __future__ import annotations

import ipaddress
import json
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, Nexthop, Origin, Route
from wgexplain.sources import _fast
from wgexplain.sources.iproute_addr import parse_addr_text
from wgexplain.sources.iproute_route import parse_routes_json, parse_routes_text, route_key
from wgexplain.sources.iproute_rule import parse_rules_json, parse_rules_text, rule_key
from wgexplain.sources.sysctl import key_of_path, parse_values

# ------------------------------------------------------------------ _fast


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_fast_ipv4_network_is_ipaddress(value: int, plen: int) -> None:
    net = _fast.net4(value, plen)
    try:
        ref = ipaddress.IPv4Network((value, plen))
    except ValueError:
        assert net is None
        return
    assert net is not None
    assert net == ref and hash(net) == hash(ref) and str(net) == str(ref)
    assert net.broadcast_address == ref.broadcast_address and net.prefixlen == ref.prefixlen
    assert ipaddress.IPv4Address(value) in net and net.overlaps(ref)
    assert list(islice(net.hosts(), 2)) == list(islice(ref.hosts(), 2))


@given(st.integers(0, 2**128 - 1), st.integers(0, 128))
def test_fast_ipv6_network_is_ipaddress(value: int, plen: int) -> None:
    value &= ((1 << 128) - 1) << (128 - plen) & ((1 << 128) - 1)
    net = _fast.net6(value, plen)
    ref = ipaddress.IPv6Network((value, plen))
    assert net == ref and hash(net) == hash(ref) and str(net) == str(ref)
    assert net.network_address == ref.network_address and repr(net) == repr(ref)


def test_fast_constructors_are_the_dataclasses() -> None:
    nh = _fast.make_nexthop(ipaddress.IPv4Address("10.0.0.1"), "eth0", 2, False, frozenset())
    assert nh == Nexthop(ipaddress.IPv4Address("10.0.0.1"), "eth0", 2)
    o = _fast.make_origin("f", 3)
    assert o == Origin("f", 3) and hash(o) == hash(Origin("f", 3))
    r = _fast.make_route(AF_INET, 254, ipaddress.IPv4Network("10.0.0.0/8"), "unicast", 0, 0,
                         "boot", "global", None, (nh,), frozenset(), None, None, (), o)
    assert r == Route(AF_INET, 254, ipaddress.IPv4Network("10.0.0.0/8"), protocol="boot",
                      nexthops=(nh,), origin=o)


# ------------------------------------------------------------------ route round trip

_v4 = st.builds(lambda v, p: ipaddress.IPv4Network((v >> (32 - p) << (32 - p) if p else 0, p)),
                st.integers(0, 2**32 - 1), st.integers(0, 32))
_v6 = st.builds(lambda v, p: ipaddress.IPv6Network((v >> (128 - p) << (128 - p) if p else 0, p)),
                st.integers(0, 2**128 - 1), st.integers(0, 128))


@st.composite
def route_specs(draw):  # type: ignore[no-untyped-def]
    fam = draw(st.sampled_from([AF_INET, AF_INET6]))
    dst = draw(_v4 if fam == AF_INET else _v6)
    rtype = draw(st.sampled_from(["unicast", "local", "blackhole", "unreachable", "throw"]))
    gw = draw(st.none() | (st.builds(ipaddress.IPv4Address, st.integers(1, 2**32 - 1))
                           if fam == AF_INET else
                           st.builds(ipaddress.IPv6Address, st.integers(1, 2**128 - 1))))
    dev = draw(st.sampled_from([None, "eth0", "wg-mullvad", "veth0@x"]))
    table = draw(st.sampled_from([254, 255, 100, 1836018789]))
    metric = draw(st.integers(0, 2**32 - 1))
    proto = draw(st.sampled_from(["boot", "kernel", "static", "dhcp", "bird"]))
    scope = draw(st.sampled_from(["global", "link", "host"]))
    flags = draw(st.sets(st.sampled_from(["onlink", "linkdown", "dead"])))
    return fam, dst, rtype, gw, dev, table, metric, proto, scope, flags


def _render(spec) -> str:  # type: ignore[no-untyped-def]
    """As print_route() prints it for ``ip route show table all``."""
    fam, dst, rtype, gw, dev, table, metric, proto, scope, flags = spec
    out = "" if rtype == "unicast" else rtype + " "
    out += ("default" if dst.prefixlen == 0 else
            str(dst.network_address) if dst.prefixlen == dst.max_prefixlen else str(dst)) + " "
    if gw is not None:
        out += f"via {gw} "
    if dev is not None:
        out += f"dev {dev} "
    if table != 254:
        out += f"table {dict([(255, 'local')]).get(table, table)} "
    if proto != "boot":
        out += f"proto {proto} "
    if scope != "global":
        out += f"scope {scope} "
    if metric or fam == AF_INET6:
        out += f"metric {metric} "
    for f in ("dead", "onlink", "linkdown"):
        if f in flags:
            out += f + " "
    if fam == AF_INET6:
        out += "pref medium"
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(route_specs(), min_size=1, max_size=8))
def test_route_text_round_trip(specs) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(_render(s) for s in specs) + "\n"
    routes = parse_routes_text(text, "r.txt")
    assert len(routes) == len(specs)
    for i, (r, s) in enumerate(zip(routes, specs)):
        fam, dst, rtype, gw, dev, table, metric, proto, scope, flags = s
        assert (r.family, r.dst, r.type, r.gateway, r.dev, r.table, r.metric, r.protocol,
                r.scope, r.flags) == (fam, dst, rtype, gw, dev, table, metric, proto, scope,
                                      frozenset(flags))
        assert r.origin == Origin("r.txt", i + 1)
        assert r.nexthops[0].onlink == ("onlink" in flags)


def test_route_json_matches_text_for_the_same_route() -> None:
    text = ("172.16.0.0/12 proto static metric 5 \n"
            "\tnexthop via 198.51.100.1 dev veth0 weight 2 \n"
            "\tnexthop via 203.0.113.6 dev veth2 weight 1 linkdown \n"
            "2001:db8:5::/48 via inet 192.0.2.1 dev veth0 metric 1024 mtu lock 1280 rtt 1.5s "
            "pref high\n")
    js = json.dumps([
        {"dst": "172.16.0.0/12", "protocol": "static", "metric": 5, "flags": [], "nexthops": [
            {"gateway": "198.51.100.1", "dev": "veth0", "weight": 2, "flags": []},
            {"gateway": "203.0.113.6", "dev": "veth2", "weight": 1, "flags": ["linkdown"]}]},
        {"dst": "2001:db8:5::/48", "via": {"family": "inet", "host": "192.0.2.1"},
         "dev": "veth0", "metric": 1024, "flags": [], "metrics": [{"mtu": 1280, "rtt": 1500}],
         "pref": "high"}])
    t, j = parse_routes_text(text, "t"), parse_routes_json(js, "j")
    assert [route_key(r) for r in t] == [route_key(r) for r in j]
    assert t[1].family == AF_INET6 and str(t[1].gateway) == "192.0.2.1"
    assert t[0].origin.line == 1 and t[1].origin.line == 4


def test_oneline_multipath() -> None:
    text = "10.0.0.0/8 \\\tnexthop via 10.1.0.1 dev a weight 1 \\\tnexthop via 10.2.0.1 dev b weight 1 \n"
    (r,) = parse_routes_text(text, "o")
    assert [h.dev for h in r.nexthops] == ["a", "b"]


@pytest.mark.parametrize("text,line,col,got", [
    ("default via 10.0.0.1 dev eth0\n10.0.0.0/33 dev eth0\n", 2, 1, "10.0.0.0/33"),
    ("\n\n10.0.0.1/24 dev eth0\n", 3, 1, "10.0.0.1/24"),  # host bits set: not a route dst
    ("default via 10.0.0.300 dev eth0\n", 1, 13, "10.0.0.300"),
    ("default dev eth0 metric x\n", 1, 25, "x"),
    ("default dev eth0 table vpn\n", 1, 24, "vpn"),
    ("default dev eth0 wibble 3\n", 1, 18, "wibble"),
    ("\tnexthop via 10.0.0.1 dev eth0\n", 1, 2, "nexthop"),
    ("default dev eth0 encap mpls 100\n", 1, 18, "encap"),
])
def test_route_errors(text: str, line: int, col: int, got: str) -> None:
    with pytest.raises(DumpError) as e:
        parse_routes_text(text, "r.txt", 10)
    assert (e.value.file, e.value.line, e.value.column, e.value.got) == ("r.txt", 9 + line, col,
                                                                        got)


@pytest.mark.parametrize("text,line,got", [
    ("0:\tfrom all lookup local\nx:\tfrom all lookup main\n", 2, "x:"),
    ("0:\tfrom all lookup local\n1:\tfrom all fwmark zz lookup main\n", 2, "zz"),
    ("0:\tfrom all lookup local\n1:\tfrom all\n", 2, "all"),
    ("1:\tfrom 2001:db8::/32 lookup main\n", 1, "2001:db8::/32"),
    ("1:\tfrom all ipproto nosuch lookup main\n", 1, "nosuch"),
    ("1:\tlookup main\n", 1, "lookup"),
])
def test_rule_errors(text: str, line: int, got: str) -> None:
    with pytest.raises(DumpError) as e:
        parse_rules_text(text, "rules.txt")
    assert (e.value.line, e.value.got) == (line, got)


def test_rule_json_errors_give_the_objects_line() -> None:
    text = '[\n  {"priority": 0, "src": "all", "table": "local"},\n  {"priority": 1, "src": "all", "table": "nope"}\n]'
    with pytest.raises(DumpError) as e:
        parse_rules_json(text, "r.json", 5)
    assert e.value.line == 7 and e.value.got == "nope"


def test_rules_json_and_text_same() -> None:
    text = ("0:\tfrom all lookup local\n"
            "32764:\tfrom all lookup main suppress_prefixlength 0\n"
            "32765:\tnot from all fwmark 0x6d6f6c65 lookup 1836018789\n"
            "40:\tfrom all iif lo lookup [l3mdev-table] \n"
            "41:\tfrom all to 10.0.0.0/8 dsfield AF11 lookup main proto boot\n")
    js = json.dumps([{"priority": 0, "src": "all", "table": "local"},
                     {"priority": 32764, "src": "all", "table": "main", "suppress_prefixlen": 0},
                     {"priority": 32765, "not": None, "src": "all", "fwmark": "0x6d6f6c65",
                      "table": "1836018789"},
                     {"priority": 40, "src": "all", "iif": "lo", "l3mdev": None},
                     {"priority": 41, "src": "all", "dst": "10.0.0.0", "dstlen": 8,
                      "tos": "AF11", "table": "main", "protocol": "boot"}])
    t, j = parse_rules_text(text, "t"), parse_rules_json(js, "j")
    assert [rule_key(r) for r in t] == [rule_key(r) for r in j]
    assert t[3].l3mdev and t[3].table is None and t[4].tos == 0x28


def test_addr_errors() -> None:
    good = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default\n"
            "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n")
    for bad, line, got in [
        (good + "    inet 127.0.0.1/88 scope host lo\n", 3, "127.0.0.1/88"),
        (good + "    inet 127.0.0.1/8 scope wobbly lo\n", 3, "wobbly"),
        (good + "    inet6 10.0.0.1/8 scope host\n", 3, "10.0.0.1/8"),
        (good + "    frobnicate 1\n", 3, "frobnicate"),
        ("lo: <LOOPBACK> mtu 1\n", 1, "lo:"),
        (good.replace("mtu 65536", "mtu big"), 1, "big"),
    ]:
        with pytest.raises(DumpError) as e:
            parse_addr_text(bad, "a.txt")
        assert (e.value.line, e.value.got) == (line, got), bad


def test_sysctl_helpers() -> None:
    assert key_of_path("/proc/sys/net/ipv4/conf/eth0.100/rp_filter") == \
        "net.ipv4.conf.eth0/100.rp_filter"
    with pytest.raises(DumpError) as e:
        parse_values("1\n2\n", "s", 7, ["a"])
    assert e.value.line == 8


def test_family_of_default_routes() -> None:
    r = parse_routes_text("default dev wg0 scope link\ndefault dev wg0 metric 1024 pref medium\n",
                          "x")
    assert [x.family for x in r] == [AF_INET, AF_INET6]
    assert str(r[1].dst) == "::/0"
    (r6,) = parse_routes_text("default dev wg0 metric 1024\n", "x", family=AF_INET6)
    assert r6.family == AF_INET6 and str(r6.dst) == "::/0"
