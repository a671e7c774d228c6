"""fib_rules: the rule walk as fib_rules_lookup() does it, every selector and action."""

from __future__ import annotations

import ipaddress as ip

import pytest
from hypothesis import given, settings, strategies as st

from _fibhost import host, route, rule
from wgexplain.kernel.fib_rules import format_rule
from wgexplain.kernel.route import route_get
from wgexplain.model import AF_INET6

LOCAL = rule(0, table=255)
MAIN = rule(32766)
DEFAULT = rule(32767, table=253)
BASE_ROUTES = [route("0.0.0.0/0", "eth0", gw="192.168.1.1"), route("10.0.0.0/8", "eth1", table=100),
               route("0.0.0.0/0", "wg0", table=200)]


def h(*extra, routes=None, **kw):  # type: ignore[no-untyped-def]
    return host([LOCAL, *extra, MAIN, DEFAULT], routes=BASE_ROUTES + (routes or []),
                addrs=[("eth0", "192.168.1.10/24"), ("wg0", "10.2.0.2/32")], **kw)


@pytest.mark.parametrize("action,errno", [("unreachable", "ENETUNREACH"), ("prohibit", "EACCES"),
                                          ("blackhole", "EINVAL")])
def test_rule_actions_errnos(action: str, errno: str) -> None:
    """fib4_rule_action(): checked in a wgx- namespace (ip rule add ... prohibit -> EACCES...)."""
    res = route_get(h(rule(100, action, dst="198.51.100.0/24")), "198.51.100.7")
    assert (res.error, res.type, res.rule, res.dev) == (errno, action, 100, None)
    assert res.steps[-1].result == "error"
    assert route_get(h(rule(100, action, dst="198.51.100.0/24")), "1.1.1.1").error is None


def test_goto_skips_rules_and_unresolved_goto_is_nop() -> None:
    hh = h(rule(100, "goto", goto=300), rule(200, "lookup", 200), rule(300, "lookup", 100))
    res = route_get(hh, "10.1.1.1")
    assert (res.dev, res.table, res.rule) == ("eth1", 100, 300)
    assert [s.result for s in res.steps][:3] == ["not found", "goto", "matched"]
    hh = h(rule(100, "goto", goto=250), rule(200, "lookup", 200))
    res = route_get(hh, "10.1.1.1")
    assert (res.dev, res.rule) == ("wg0", 200)
    assert res.steps[1].result == "nop" and "unresolved" in res.steps[1].why


def test_nop_continues() -> None:
    res = route_get(h(rule(100, "nop"), rule(200, "lookup", 200)), "1.1.1.1")
    assert (res.dev, res.rule) == ("wg0", 200)


def test_suppress_prefixlength_refuses_default_only() -> None:
    hh = h(rule(100, "lookup", 254, suppress_prefixlength=0), rule(200, "lookup", 200),
           routes=[route("192.168.1.0/24", "eth0", scope="link")])
    assert route_get(hh, "1.1.1.1").dev == "wg0"
    assert route_get(hh, "192.168.1.5").rule == 100  # the /24 is longer than 0
    res = route_get(hh, "1.1.1.1")
    assert res.steps[1].result == "suppressed" and "prefix length 0 is <= 0" in res.steps[1].why


def test_suppress_ifgroup() -> None:
    hh = h(rule(100, "lookup", 254, suppress_ifgroup=7), rule(200, "lookup", 200),
           groups={"eth0": 7})
    assert route_get(hh, "1.1.1.1").dev == "wg0"
    assert route_get(h(rule(100, "lookup", 254, suppress_ifgroup=7), rule(200, "lookup", 200)),
                     "1.1.1.1").dev == "eth0"


def test_throw_and_missing_table_go_on() -> None:
    hh = h(rule(100, "lookup", 300), rule(200, "lookup", 200),
           routes=[route("1.0.0.0/8", None, table=300, type_="throw")])
    res = route_get(hh, "1.1.1.1")
    assert (res.dev, res.rule) == ("wg0", 200)
    assert res.steps[1].result == "throw"
    res = route_get(h(rule(100, "lookup", 999), rule(200, "lookup", 200)), "1.1.1.1")
    assert res.steps[1].result == "not found" and "does not exist" in res.steps[1].why


def test_reject_route_in_table_stops_walk() -> None:
    hh = h(rule(100, "lookup", 300), routes=[route("1.0.0.0/8", None, table=300,
                                                     type_="unreachable")])
    res = route_get(hh, "1.1.1.1")
    assert (res.error, res.type, res.table, res.rule) == ("EHOSTUNREACH", "unreachable", 300, 100)


def test_nothing_matches_is_enetunreach() -> None:
    hh = host([rule(0, table=255), rule(100, "lookup", 200, fwmark=1)], routes=BASE_ROUTES)
    res = route_get(hh, "1.1.1.1")
    assert (res.error, res.type, res.rule, res.table) == ("ENETUNREACH", "unreachable", None, None)
    assert res.steps[-1].action == "end of rules"


def test_fwmark_mask_and_not() -> None:
    hh = h(rule(100, "lookup", 200, fwmark=0x10, fwmask=0xF0))
    assert route_get(hh, "1.1.1.1", mark=0x1F).dev == "wg0"
    assert route_get(hh, "1.1.1.1", mark=0x20).dev == "eth0"
    hh = h(rule(100, "lookup", 200, fwmark=0x6D6F6C65, invert=True))
    assert route_get(hh, "1.1.1.1").dev == "wg0"
    assert route_get(hh, "1.1.1.1", mark="0x6d6f6c65").dev == "eth0"


def test_iif_lo_matches_local_output_and_oif_needs_oif() -> None:
    hh = h(rule(100, "lookup", 200, iif="lo"))
    assert route_get(hh, "1.1.1.1").dev == "wg0"
    assert route_get(hh, "1.1.1.1", src="198.51.100.1", iif="eth0").rule != 100
    hh = h(rule(100, "lookup", 200, oif="wg0"))
    assert route_get(hh, "1.1.1.1").rule == 32766
    assert route_get(hh, "1.1.1.1", oif="wg0").rule == 100


def test_detached_iif_never_matches() -> None:
    hh = h(rule(100, "lookup", 200, iif="ghost", iif_detached=True))
    assert route_get(hh, "1.1.1.1", src="198.51.100.1", iif="eth0").rule != 100


def test_uidrange_default_uid_is_zero() -> None:
    hh = h(rule(100, "lookup", 200, uidrange=(1000, 1999)))
    assert route_get(hh, "1.1.1.1").dev == "eth0"
    assert route_get(hh, "1.1.1.1", uid=1500).dev == "wg0"


def test_from_rule_without_source_sees_zero_source() -> None:
    """Output lookups compare 'from' with saddr 0 when no source is given (fib4_rule_match())."""
    hh = h(rule(100, "lookup", 200, src="192.168.1.0/24"))
    assert route_get(hh, "1.1.1.1").dev == "eth0"
    assert route_get(hh, "1.1.1.1", src="192.168.1.10").dev == "wg0"
    assert route_get(h(rule(100, "lookup", 200, src="0.0.0.0/1")), "1.1.1.1").dev == "wg0"


def test_ipproto_ports_tos() -> None:
    hh = h(rule(100, "lookup", 200, ipproto=17, dport=(53, 53)))
    assert route_get(hh, "1.1.1.1", ipproto="udp", dport=53).dev == "wg0"
    assert route_get(hh, "1.1.1.1", ipproto="tcp", dport=53).dev == "eth0"
    assert route_get(hh, "1.1.1.1", ipproto="udp").dev == "eth0"
    hh = h(rule(100, "lookup", 200, sport=(1000, 2000)))
    assert route_get(hh, "1.1.1.1", sport=1500).dev == "wg0"
    hh = h(rule(100, "lookup", 200, tos=0x10))
    assert route_get(hh, "1.1.1.1", tos=0x10).dev == "wg0"
    assert route_get(hh, "1.1.1.1").dev == "eth0"


def test_ip_route_get_without_ipproto_is_udp_for_ipv4_only() -> None:
    """inet_rtm_getroute() builds a UDP packet: `ipproto udp` matches a bare lookup (lab)."""
    hh = h(rule(100, "lookup", 200, ipproto=17))
    assert route_get(hh, "1.1.1.1").dev == "wg0"
    assert route_get(hh, "1.1.1.1", ipproto="tcp").dev == "eth0"
    rules = [rule(0, table=255, fam=AF_INET6), rule(100, "lookup", 200, fam=AF_INET6, ipproto=17),
             rule(32766, fam=AF_INET6)]
    h6 = host(rules, routes=[route("::/0", "eth0", gw="fe80::1"), route("::/0", "wg0", table=200)],
              addrs=[("eth0", "2001:db8::10/64")])
    assert route_get(h6, "2606::1").dev == "eth0"
    assert route_get(h6, "2606::1", ipproto="udp").dev == "wg0"


def test_l3mdev_rule_does_not_match_without_vrf() -> None:
    assert route_get(h(rule(100, "lookup", 200, l3mdev=True)), "1.1.1.1").dev == "eth0"


def test_ipv6_from_rule_needs_a_source() -> None:
    rules = [rule(0, table=255, fam=AF_INET6),
             rule(100, "lookup", 200, fam=AF_INET6, src="::/1"), rule(32766, fam=AF_INET6)]
    routes = [route("::/0", "eth0", gw="fe80::1"), route("::/0", "wg0", table=200)]
    hh = host(rules, routes=routes, addrs=[("eth0", "2001:db8::10/64"), ("wg0", "fd00::2/128")])
    assert route_get(hh, "2606::1").dev == "eth0"  # fib6_rule_match(): no RT6_LOOKUP_F_HAS_SADDR
    assert route_get(hh, "2606::1", src="::5").dev == "wg0"


def test_format_rule() -> None:
    r = rule(32765, "lookup", 1836018789, fwmark=0x6D6F6C65, invert=True)
    assert format_rule(r) == "32765: not from all fwmark 0x6d6f6c65 lookup 1836018789"
    r = rule(100, "lookup", 254, src="10.0.0.0/8", dst="1.2.3.4/32", suppress_prefixlength=0)
    assert format_rule(r, {254: "main"}.get) == \
        "100: from 10.0.0.0/8 to 1.2.3.4 lookup main suppress_prefixlength 0"


# -- property: the fast walk (batch) decides exactly like the explaining walk ----------------

_tables = st.sampled_from([100, 200, 254, 300])
_rule = st.builds(
    lambda pref, action, table, inv, mark, sp, dst: rule(
        pref, action, table if action == "lookup" else None, invert=inv,
        fwmark=mark, suppress_prefixlength=sp,
        goto=pref + 50 if action == "goto" else None,
        dst=dst),
    st.integers(1, 32000), st.sampled_from(["lookup", "lookup", "lookup", "goto", "nop",
                                            "blackhole", "unreachable", "prohibit"]),
    _tables, st.booleans(), st.sampled_from([None, 1, 2]), st.sampled_from([None, 0, 8]),
    st.sampled_from([None, "10.0.0.0/8", "1.0.0.0/8"]))


@settings(max_examples=120, deadline=None)
@given(st.lists(_rule, max_size=6, unique_by=lambda r: r.pref),
       st.sampled_from(["1.1.1.1", "10.1.1.1", "192.168.1.20", "198.51.100.1"]),
       st.sampled_from([0, 1, 2]))
def test_fast_walk_equals_explained_walk(rules, dst, mark) -> None:  # type: ignore[no-untyped-def]
    hh = h(*rules, routes=[route("1.0.0.0/8", None, table=300, type_="throw"),
                           route("10.0.0.0/9", None, table=300, type_="prohibit")])
    a = route_get(hh, dst, mark=mark)
    b = route_get(hh, dst, mark=mark, explain=False)
    assert (a.error, a.type, a.dev, a.gateway, a.src, a.table, a.rule) == \
        (b.error, b.type, b.dev, b.gateway, b.src, b.table, b.rule)
    assert b.steps == ()
    assert ip.ip_address(dst) == a.flow.dst
