"""IPv6 decisions, as `ip -6 route get` answered in a wgx- namespace (6.18) with this setup."""

from __future__ import annotations

import ipaddress as ip

import pytest

from _fibhost import route, rule
from wgexplain.explain.route_text import kernel_lines
from wgexplain.kernel.fib_frontend import complete
from wgexplain.kernel.flowspec import parse_flowspec
from wgexplain.kernel.route import route_get
from wgexplain.model import AF_INET6, Address, Host, Link

TABLE = 1836018789
LL_WL = "fe80::5884:eaff:fe44:42e6"
LL_WG = "fe80::1cf7:bff:fe20:8b7e"


def v6host(extra_rules=(), extra_routes=()):  # type: ignore[no-untyped-def]
    up = frozenset({"UP", "LOWER_UP"})
    links = (Link(1, "lo", up | {"LOOPBACK"}), Link(2, "wlp0s20f3", up | {"BROADCAST", "MULTICAST"}),
             Link(3, "wg-mullvad", up | {"BROADCAST", "MULTICAST"}))
    a = [("lo", "::1/128", "host"), ("wlp0s20f3", "2001:db8:44::83/64", "global"),
         ("wlp0s20f3", LL_WL + "/64", "link"), ("wg-mullvad", "fd00:147::252/128", "global"),
         ("wg-mullvad", LL_WG + "/64", "link")]
    addrs = tuple(Address(d, ip.ip_interface(x), s) for d, x, s in a)
    k = dict(protocol="kernel")
    routes = (
        route("2001:db8:44::/64", "wlp0s20f3", metric=256, **k),
        route("fd00:147::252/128", "wg-mullvad", metric=256, **k),
        route("fe80::/64", "wlp0s20f3", metric=256, **k),
        route("fe80::/64", "wg-mullvad", metric=256, **k),
        route("::/0", "wlp0s20f3", gw="fe80::1", metric=600),
        route("::/0", "wg-mullvad", table=TABLE, metric=1024),
        *extra_routes,
    )
    rules = (rule(0, table=255, fam=AF_INET6),
             rule(32764, table=254, fam=AF_INET6, suppress_prefixlength=0),
             rule(32765, table=TABLE, fam=AF_INET6, fwmark=0x6D6F6C65, invert=True),
             rule(32766, table=254, fam=AF_INET6), *extra_rules)
    return complete(Host(links=links, addresses=addrs, rules=rules, routes=routes))


H = v6host()

# spec -> (type, dev, gateway, prefsrc, table, metric)
CASES = {
    "2606:4700::1111": ("unicast", "wg-mullvad", None, "fd00:147::252", TABLE, 1024),
    "2001:db8:44::1": ("unicast", "wlp0s20f3", None, "2001:db8:44::83", 254, 256),
    "2001:db8:44::83": ("local", "lo", None, "2001:db8:44::83", 255, 0),
    "::1": ("local", "lo", None, "::1", 255, 0),
    LL_WL: ("local", "lo", None, LL_WL, 255, 0),
    "fe80::1": ("unicast", "wlp0s20f3", None, LL_WL, 254, 256),
    "fe80::1 oif wg-mullvad": ("unicast", "wg-mullvad", None, LL_WG, 254, 256),
    "2606:4700::1111 mark 0x6d6f6c65": ("unicast", "wlp0s20f3", "fe80::1", "2001:db8:44::83", 254, 600),
    "ff02::1": ("multicast", "wlp0s20f3", None, LL_WL, 255, 256),
    "ff02::1 oif wg-mullvad": ("multicast", "wg-mullvad", None, LL_WG, 255, 256),
    "2606:4700::1111 from 2001:db8:99::1": ("unicast", "wg-mullvad", None, "fd00:147::252", TABLE, 1024),
    "2001:db8:44::5 oif wg-mullvad": ("unicast", "wg-mullvad", None, "fd00:147::252", TABLE, 1024),
}


@pytest.mark.parametrize("spec", list(CASES))
def test_ipv6_decisions(spec: str) -> None:
    r = route_get(H, **parse_flowspec(spec.split()))
    assert r.error is None
    got = (r.type, r.dev, None if r.gateway is None else str(r.gateway), str(r.prefsrc),
           r.table, r.route.metric)
    assert got == CASES[spec]


def test_ipv6_kernel_line() -> None:
    assert kernel_lines(route_get(H, "2606:4700::1111")) == [
        "2606:4700::1111 from :: dev wg-mullvad table 1836018789 src fd00:147::252 "
        "metric 1024 pref medium"]
    assert kernel_lines(route_get(H, "2001:db8:44::1")) == [
        "2001:db8:44::1 from :: dev wlp0s20f3 proto kernel src 2001:db8:44::83 metric 256 "
        "pref medium"]
    assert kernel_lines(route_get(H, "2001:db8:44::83", src="2001:db8:44::7", iif="wlp0s20f3")) == [
        "local 2001:db8:44::83 from 2001:db8:44::7 dev lo table local proto kernel metric 0 "
        "iif wlp0s20f3 pref medium"]


@pytest.mark.parametrize("action,errno", [("prohibit", "EACCES"), ("blackhole", "EINVAL"),
                                          ("unreachable", "ENETUNREACH")])
def test_ipv6_rule_actions(action: str, errno: str) -> None:
    h = v6host([rule(100, action, fam=AF_INET6, dst="2001:db8:77::/48")])
    r = route_get(h, "2001:db8:77::1")
    assert (r.error, r.type, r.rule) == (errno, action, 100)


@pytest.mark.parametrize("type_,errno", [("unreachable", "EHOSTUNREACH"), ("prohibit", "EACCES"),
                                         ("blackhole", "EINVAL")])
def test_ipv6_route_types(type_: str, errno: str) -> None:
    h = v6host([rule(100, "lookup", 50, fam=AF_INET6)],
               [route("2001:db8:50::/64", None, table=50, type_=type_)])
    r = route_get(h, "2001:db8:50::1")
    assert (r.error, r.type, r.table) == (errno, type_, 50)


def test_ipv6_throw_goes_on_and_no_route_is_enetunreach() -> None:
    h = v6host([rule(100, "lookup", 50, fam=AF_INET6)],
               [route("2001:db8:50::/64", None, table=50, type_="throw")])
    assert route_get(h, "2001:db8:50::1").dev == "wg-mullvad"
    bare = complete(Host(addresses=(Address("lo", ip.ip_interface("::1/128"), "host"),)))
    r = route_get(bare, "2606::1")
    assert (r.error, r.type) == ("ENETUNREACH", "unreachable")


def test_ipv6_input_lookup_has_no_rp_filter() -> None:
    r = route_get(H, "2606:4700::1111", src="2001:db8:44::7", iif="wlp0s20f3")
    assert (r.error, r.dev, r.table, r.prefsrc) == (None, "wg-mullvad", TABLE, None)
    assert any("no rp_filter" in n for n in r.notes)


def test_ipv6_strict_oif_skips_reject_routes_on_lo() -> None:
    """rt6_check_dev(): a prohibit route sits on lo, so `oif wlan0` passes over it (lab)."""
    h = v6host(extra_routes=[route("2001:db8:60::/48", None, type_="prohibit")])
    assert route_get(h, "2001:db8:60::1").error == "EACCES"
    r = route_get(h, "2001:db8:60::1", oif="wlp0s20f3")
    assert (r.error, r.dev) == (None, "wlp0s20f3")  # the default route via fe80::1


def test_ipv6_multicast_input_is_emsgsize() -> None:
    r = route_get(H, "ff02::1", src="fe80::2", iif="wlp0s20f3")
    assert (r.error, r.type) == ("EMSGSIZE", "multicast")
    assert kernel_lines(r) == ["RTNETLINK answers: Message too long"]
