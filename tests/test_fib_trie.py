"""fib_trie.FibTable: longest prefix, tos, metric, route types, nexthop checks (IPv4 and IPv6)."""

from __future__ import annotations

import ipaddress as ip
import random

import pytest
from hypothesis import given, settings, strategies as st

from wgexplain.kernel.fib_trie import TYPE_ERRNO, FibTable, format_route
from wgexplain.model import AF_INET, AF_INET6, Nexthop, Route


def r4(dst: str, dev: str = "eth0", *, gw: str | None = None, metric: int = 0, tos: int = 0,
       type_: str = "unicast", table: int = 254, flags: frozenset[str] = frozenset(),
       hops: tuple[Nexthop, ...] | None = None) -> Route:
    nh = hops if hops is not None else (
        () if type_ in ("unreachable", "prohibit", "blackhole", "throw") else
        (Nexthop(ip.ip_address(gw) if gw else None, dev),))
    return Route(AF_INET, table, ip.ip_network(dst), type_, tos=tos, metric=metric,
                 nexthops=nh, flags=flags)


def look(routes: list[Route], dst: str, **kw: object):  # type: ignore[no-untyped-def]
    t = FibTable.from_routes(routes)
    return t.lookup(int(ip.ip_address(dst)), **kw)  # type: ignore[arg-type]


def test_longest_prefix_wins_over_order() -> None:
    routes = [r4("0.0.0.0/0", "a"), r4("10.0.0.0/8", "b"), r4("10.1.0.0/16", "c")]
    assert look(routes, "10.1.2.3").route.dev == "c"
    assert look(routes, "10.2.2.3").route.dev == "b"
    assert look(routes, "11.0.0.1").route.dev == "a"
    assert look(routes, "10.1.2.3").prefixlen == 16


def test_not_found_without_default() -> None:
    assert look([r4("10.0.0.0/8")], "192.0.2.1") is None


def test_lowest_metric_first_among_same_prefix() -> None:
    routes = [r4("0.0.0.0/0", "slow", metric=600), r4("0.0.0.0/0", "fast", metric=100)]
    assert look(routes, "1.1.1.1").route.dev == "fast"


def test_tos_specific_route_only_for_that_tos() -> None:
    routes = [r4("10.0.0.0/8", "any"), r4("10.0.0.0/8", "tos10", tos=0x10)]
    assert look(routes, "10.0.0.1").route.dev == "any"
    assert look(routes, "10.0.0.1", tos=0x10).route.dev == "tos10"
    # route tos compares with the flow's tos masked by IPTOS_RT_MASK (0x1c)
    assert look(routes, "10.0.0.1", tos=0x12).route.dev == "tos10"


def test_reject_types_carry_fib_props_errno() -> None:
    for type_, errno in (("unreachable", "EHOSTUNREACH"), ("prohibit", "EACCES"),
                         ("blackhole", "EINVAL"), ("throw", "EAGAIN")):
        hit = look([r4("10.0.0.0/8", type_=type_), r4("0.0.0.0/0")], "10.0.0.1")
        assert hit.errno == errno == TYPE_ERRNO[type_]
        assert hit.route.type == type_


def test_dead_nexthop_falls_back_to_shorter_prefix() -> None:
    dead = Nexthop(None, "down0", flags=frozenset({"dead"}))
    routes = [r4("10.0.0.0/8", hops=(dead,)), r4("0.0.0.0/0", "up0")]
    assert look(routes, "10.0.0.1").route.dev == "up0"


def test_linkdown_only_skipped_when_ignored() -> None:
    ld = Nexthop(None, "wl0", flags=frozenset({"linkdown"}))
    routes = [r4("10.0.0.0/8", hops=(ld,)), r4("0.0.0.0/0", "eth0")]
    assert look(routes, "10.0.0.1").route.dev == "wl0"
    assert look(routes, "10.0.0.1", linkdown_ignored=frozenset({"wl0"})).route.dev == "eth0"


def test_oif_filters_nexthops_but_not_reject_routes() -> None:
    routes = [r4("10.0.0.0/8", "a"), r4("0.0.0.0/0", "b")]
    assert look(routes, "10.0.0.1", oif="b").route.dev == "b"
    assert look(routes, "10.0.0.1", oif="c") is None
    # fib_table_lookup() returns a reject type's error before any oif check
    assert look([r4("10.0.0.0/8", type_="prohibit")], "10.0.0.1", oif="c").errno == "EACCES"


def test_multipath_marked_inexact() -> None:
    hops = (Nexthop(ip.ip_address("10.0.0.1"), "a"), Nexthop(ip.ip_address("10.0.1.1"), "b"))
    hit = look([r4("0.0.0.0/0", hops=hops)], "1.1.1.1")
    assert hit.nexthop.dev == "a" and hit.inexact and "multipath" in hit.inexact
    # with oif the hop of that device is chosen, exactly
    hit = look([r4("0.0.0.0/0", hops=hops)], "1.1.1.1", oif="b")
    assert hit.nexthop.dev == "b" and hit.inexact is None


def r6(dst: str, dev: str = "eth0", metric: int = 1024, pref: str | None = None,
       type_: str = "unicast") -> Route:
    nh = () if type_ != "unicast" else (Nexthop(None, dev),)
    return Route(AF_INET6, 254, ip.ip_network(dst), type_, metric=metric, nexthops=nh, pref=pref)


def test_ipv6_longest_prefix_then_metric_then_router_pref() -> None:
    routes = [r6("::/0", "a", 1024), r6("::/0", "b", 100), r6("2001:db8::/32", "c")]
    assert look(routes, "2001:db8::1").route.dev == "c"
    assert look(routes, "2606::1").route.dev == "b"
    routes = [r6("::/0", "low", 100, "low"), r6("::/0", "high", 100, "high")]
    assert look(routes, "2606::1").route.dev == "high"


def test_ipv6_strict_oif_and_preference() -> None:
    routes = [r6("fe80::/64", "a", 256), r6("fe80::/64", "b", 256)]
    assert look(routes, "fe80::1", oif="b").route.dev == "b"
    assert look(routes, "fe80::1", oif="c") is None
    assert look(routes, "fe80::1", oif="c", strict_oif=False).route.dev == "a"
    assert look([r6("2001:db8::/32", type_="unreachable")], "2001:db8::1").errno == "EHOSTUNREACH"


def test_format_route_like_iproute2() -> None:
    r = r4("0.0.0.0/0", "wlp0s20f3", gw="192.168.44.1", metric=600)
    assert format_route(r) == "default via 192.168.44.1 dev wlp0s20f3 metric 600"
    assert format_route(r4("10.64.0.1/32", "wg0"), "1836018789") == "10.64.0.1 dev wg0 table 1836018789"
    assert format_route(r4("10.0.0.0/8", type_="blackhole")) == "blackhole 10.0.0.0/8"


prefixes = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: ip.IPv4Network(((t[0] >> (32 - t[1]) << (32 - t[1])) if t[1] else 0, t[1])))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(prefixes, st.integers(0, 3)), min_size=0, max_size=25),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=10))
def test_lookup_equals_brute_force_longest_prefix(entries, addrs) -> None:  # type: ignore[no-untyped-def]
    routes = [r4(str(net), f"d{i}", metric=m) for i, (net, m) in enumerate(entries)]
    table = FibTable.from_routes(routes)
    for a in addrs:
        addr = ip.IPv4Address(a)
        cands = [(i, r) for i, r in enumerate(routes) if addr in r.dst]
        hit = table.lookup(a)
        if not cands:
            assert hit is None
            continue
        best = max(c[1].prefixlen for c in cands)
        same = [c for c in cands if c[1].prefixlen == best]
        want = min(same, key=lambda c: (c[1].metric, c[0]))[1]  # lowest metric, then dump order
        assert hit is not None and hit.route is want


def _brute(routes: list[Route], addr: ip.IPv4Address | ip.IPv6Address) -> Route | None:
    cands = [(i, r) for i, r in enumerate(routes) if addr in r.dst]
    if not cands:
        return None
    best = max(r.prefixlen for _, r in cands)
    return min((c for c in cands if c[1].prefixlen == best), key=lambda c: (c[1].metric, c[0]))[1]


@pytest.mark.parametrize("seed", range(4))
def test_big_table_index_equals_brute_force(seed: int) -> None:
    """Big tables of many prefix lengths, built from routes and from columns: brute force's answers."""
    rnd = random.Random(seed)
    for fam, bits, lens, make in ((AF_INET, 32, (0, 4, 8, 12, 14, 16, 19, 22, 24, 28, 32),
                                  ip.IPv4Network),
                                 (AF_INET6, 128, (0, 8, 16, 24, 32, 40, 48, 56, 64, 128),
                                  ip.IPv6Network)):
        routes = []
        for i in range(600):
            plen = rnd.choice(lens)
            base = rnd.getrandbits(bits) & ~((1 << (bits - plen)) - 1) if plen else 0
            base &= (0x0F << (bits - 8)) | ((1 << (bits - 8)) - 1)  # crowd the first /4
            net = make((base & (((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)), plen))
            routes.append(Route(fam, 254, net, metric=rnd.randrange(3),
                                nexthops=(Nexthop(None, f"d{i}"),)))
        table = FibTable.from_routes(routes)
        columns = FibTable.from_prefixes(fam, 254, range(len(routes)),
                                         [int(r.dst.network_address) for r in routes],
                                         [r.dst.prefixlen for r in routes], routes.__getitem__)
        addrs = [rnd.getrandbits(bits) & ((0x0F << (bits - 8)) | ((1 << (bits - 8)) - 1))
                 for _ in range(40)]
        addrs += [int(r.dst.network_address) + rnd.randrange(r.dst.num_addresses)
                  for r in rnd.sample(routes, 40)]
        for a in addrs:
            hit = table.lookup(a)
            hit2 = columns.lookup(a)
            assert (hit is None and hit2 is None) or (
                hit is not None and hit2 is not None and hit2.route is hit.route)
            want = _brute(routes, ip.IPv4Address(a) if fam == AF_INET else ip.IPv6Address(a))
            if want is None:
                assert hit is None
            elif fam == AF_INET:
                assert hit is not None and hit.route is want
            else:  # IPv6: lowest metric, ties to the first (same device score)
                assert hit is not None and hit.route.dst == want.dst and \
                    hit.route.metric == want.metric
