"""Big dumps kept as columns: RouteColumns, LazyRoutes, FibTable.from_prefixes, deferred steps.

Every lazy path is compared with its eager twin on the same input: the
routes a listing yields, the tables built from them, and whole lookups
(decision, steps and their sentences) on random rule sets.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab_random import random_host, random_route_args
from wgexplain.errors import DumpError
from wgexplain.kernel import route as sim
from wgexplain.kernel.fib_trie import FibTable
from wgexplain.model import AF_INET, AF_INET6, LazyRoutes, Route, as_dict, chain_routes, \
    route_tables
from wgexplain.sources.iproute_route import RouteColumns, parse_routes_text

ROUTES = """default via 10.0.0.1 dev eth0 proto dhcp metric 100
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5 metric 100

unreachable 10.9.0.0/16 metric 5
local 10.0.0.5 dev eth0 table local proto kernel scope host src 10.0.0.5
broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.5
10.8.0.0/16 via 10.0.0.2 dev eth0 tos 0x10 table 100
10.8.0.0/16 via 10.0.0.3 dev eth0 table 100
2001:db8::/32 dev eth0 metric 1024 pref medium
default via fe80::1 dev eth0 proto ra metric 1024 expires 1799sec pref medium
"""


def _fields(r: Route) -> tuple[Any, ...]:
    return tuple(getattr(r, f.name) for f in dataclasses.fields(r))


def test_columns_are_a_sequence_of_the_same_routes() -> None:
    cols = parse_routes_text(ROUTES, "r.txt", 5)
    assert isinstance(cols, RouteColumns) and len(cols) == 9
    routes = list(cols)
    assert [r.origin.line for r in routes] == [5, 6, 8, 9, 10, 11, 12, 13, 14]
    assert all(cols[i] is routes[i] for i in range(len(cols)))  # built once, kept
    assert cols[-1] is routes[-1] and cols[1:3] == tuple(routes[1:3])
    assert cols == routes and cols == tuple(routes) and routes == list(cols)
    with pytest.raises(IndexError):
        cols[9]
    assert str(cols[0].dst) == "0.0.0.0/0" and str(cols[8].dst) == "::/0"
    assert cols[8].family == AF_INET6 and cols[8].expires == 1799
    # the same text read again, through the general loop (a leading blank forces it)
    again = parse_routes_text(" " + ROUTES, "r.txt", 5)
    assert [_fields(r) for r in again] == [_fields(r) for r in routes]


def test_by_table_splits_without_building_routes() -> None:
    cols = parse_routes_text(ROUTES, "r.txt")
    parts = cols.by_table()
    assert not cols._store.built  # nothing built to split
    assert {k: [r.origin.line for r in v] for k, v in parts.items()} == {
        (AF_INET, 254): [1, 2, 4], (AF_INET, 255): [5, 6], (AF_INET, 100): [7, 8],
        (AF_INET6, 254): [9, 10]}
    assert cols.tables() == set(parts) == route_tables(cols)
    assert all(p.tables() == {k} and p.by_table() == {k: p} for k, p in parts.items())
    main = parts[(AF_INET, 254)]
    assert [t[0] for t in main.tails()] == ["unicast", "unicast", "unreachable"]
    rows, values, plens = main.prefixes()
    assert list(plens) == [0, 24, 16] and values[1] == int(ipaddress.ip_address("10.0.0.0"))
    assert main.route_of_row(rows[2]) is cols[2]


def test_lazy_routes_behave_as_a_tuple() -> None:
    cols = parse_routes_text(ROUTES, "r.txt")
    extra = (cols[0],)
    lazy = LazyRoutes([cols.by_table()[(AF_INET, 100)], (), extra])
    assert len(lazy) == 3 and list(lazy) == [cols[5], cols[6], cols[0]]
    assert lazy[2] is cols[0] and lazy[-3] is cols[5] and lazy[0:2] == (cols[5], cols[6])
    with pytest.raises(IndexError):
        lazy[3]
    both = lazy + (cols[1],)
    assert isinstance(both, LazyRoutes) and len(both) == 4 and both[3] is cols[1]
    assert len(both.blocks) == 3  # chained, not nested
    front = (cols[1],) + lazy
    assert isinstance(front, LazyRoutes) and front[0] is cols[1]
    assert lazy == (cols[5], cols[6], cols[0]) and (cols[5], cols[6], cols[0]) == lazy
    assert lazy != (cols[5],) and LazyRoutes() == ()
    assert route_tables(lazy) == {(AF_INET, 100), (AF_INET, 254)}
    assert as_dict(lazy)[0]["dst"] == "10.8.0.0/16"
    assert chain_routes([extra, [cols[1]]]) == (cols[0], cols[1])
    assert isinstance(chain_routes([extra, cols]), LazyRoutes)


@pytest.mark.parametrize("text,line,got", [
    ("10.0.0.0/8 dev eth0\n10.1.0.0/-1 dev eth0\n", 2, "10.1.0.0/-1"),
    ("10.0.0.0/8 dev eth0\n\n10.1.0.1/16 dev eth0\n", 3, "10.1.0.1/16"),
    ("2001:db8::/129 dev eth0\n", 1, "2001:db8::/129"),
    ("unreachable\n", 1, "unreachable"),
    ("10.0.0.0/8 dev eth0 metric\n", 1, "metric"),
])
def test_errors_are_the_same_in_both_loops(text: str, line: int, got: str) -> None:
    for variant in (text, text.replace(" dev", "\tdev", 1)):  # the fast loop, the general one
        with pytest.raises(DumpError) as e:
            parse_routes_text(variant, "r.txt")
        assert (e.value.line, e.value.got) == (line, got), variant


# ---------------------------------------------------------------- FibTable from columns

@st.composite
def _table_text(draw: Any) -> tuple[int, str, list[int]]:
    """A table's ``ip route`` lines (one family), with repeated prefixes; and addresses."""
    fam = draw(st.sampled_from([AF_INET, AF_INET6]))
    bits = 32 if fam == AF_INET else 128
    base = 0x0A000000 if fam == AF_INET else 0x20010DB8 << 96
    lines = []
    nets = []
    for _ in range(draw(st.integers(1, 40))):
        plen = draw(st.integers(0, bits) if draw(st.booleans()) else
                    st.sampled_from([8, 16, 24, 32] if fam == AF_INET else [32, 48, 64, 128]))
        value = (base | draw(st.integers(0, (1 << (bits - 8)) - 1))) & \
            (((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1))
        nets.append(value)
        cls = ipaddress.IPv4Network if fam == AF_INET else ipaddress.IPv6Network
        dst = "default" if plen == 0 else str(cls((value, plen)))
        rtype = draw(st.sampled_from(["", "", "", "unreachable ", "blackhole ", "throw "]))
        tos = draw(st.sampled_from([0, 0, 0x10])) if fam == AF_INET else 0
        metric = draw(st.sampled_from([0, 10, 100]))
        dev = "" if rtype else " dev " + draw(st.sampled_from(["eth0", "eth1"]))
        lines.append(f"{rtype}{dst}{dev}" + (f" tos 0x{tos:x}" if tos else "")
                     + f" metric {metric}")
    probes = nets + [base | draw(st.integers(0, (1 << (bits - 8)) - 1)) for _ in range(10)]
    return fam, "\n".join(lines) + "\n", probes


@settings(max_examples=60, deadline=None)
@given(_table_text(), st.sampled_from([0, 0x10]))
def test_from_prefixes_finds_what_from_routes_finds(case: tuple[int, str, list[int]],
                                                     tos: int) -> None:
    fam, text, probes = case  # read as 'ip -4 route' / 'ip -6 route' prints it
    eager = list(parse_routes_text(text, "t", family=fam))
    cols = parse_routes_text(text, "t", family=fam)  # unbuilt: routes built when reached
    ((key, part),) = cols.by_table().items()
    lazy = FibTable.from_prefixes(fam, 254, *part.prefixes(), part.route_of_row)
    full = FibTable.from_routes(eager, fam, 254)
    assert len(lazy) == len(full) == len(eager)
    for addr in probes:
        for oif in (None, "eth1"):
            a, b = lazy.lookup(addr, tos=tos, oif=oif), full.lookup(addr, tos=tos, oif=oif)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert (_fields(a.route), a.nexthop, a.errno, a.prefixlen) == \
                    (_fields(b.route), b.nexthop, b.errno, b.prefixlen)
    assert [_fields(r) for r in lazy.routes()] == [_fields(r) for r in full.routes()]


# ---------------------------------------------------------------- whole lookups

def _as_text(r: Route) -> str:
    """``ip route show table all`` wording of a route (no multipath in random hosts)."""
    words = [] if r.type == "unicast" else [r.type]
    full = r.dst.prefixlen == (32 if r.family == AF_INET else 128)
    words.append("default" if r.dst.prefixlen == 0 else
                 str(r.dst.network_address) if full else str(r.dst))
    if r.tos:
        words.append(f"tos 0x{r.tos:x}")
    for nh in r.nexthops:
        if nh.gateway is not None:
            words.append(f"via {nh.gateway}")
        if nh.dev:
            words.append(f"dev {nh.dev}")
    words.append(f"table {r.table}")
    if r.protocol:
        words.append(f"proto {r.protocol}")
    if r.scope != "global":
        words.append(f"scope {r.scope}")
    if r.prefsrc is not None:
        words.append(f"src {r.prefsrc}")
    words.append(f"metric {r.metric}")
    words += sorted(r.flags)
    if r.family == AF_INET6:
        words.append(f"pref {r.pref or 'medium'}")
    return " ".join(words)


def _answers(host: Any, flows: list[dict[str, Any]], explain: bool = True) -> list[str]:
    return [json.dumps(sim.route_get(host, **f, explain=explain).to_json(), sort_keys=True)
            for f in flows]


@pytest.mark.parametrize("seed", range(12))
def test_lazy_host_answers_as_the_eager_one(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    base = random_host(seed)
    text = "\n".join(_as_text(r) for r in base.routes) + "\n"
    lazy = dataclasses.replace(base, routes=LazyRoutes([parse_routes_text(text, "ip-route.txt")]))
    eager = dataclasses.replace(base, routes=tuple(parse_routes_text(text, "ip-route.txt")))
    assert [_fields(r) for r in lazy.routes] == [_fields(r) for r in eager.routes]
    flows = random_route_args(eager, random.Random(seed), 80)
    told_late = _answers(lazy, flows)
    assert told_late == _answers(eager, flows)
    monkeypatch.setattr(sim, "DEFER_STEPS", False)  # the steps told at once
    assert told_late == _answers(lazy, flows)
    # the decision alone is the same decision
    bare = [json.loads(a) for a in _answers(lazy, flows, explain=False)]
    for a, b in zip(bare, (json.loads(a) for a in told_late)):
        assert a.pop("steps") == [] and {k: v for k, v in b.items() if k != "steps"} == a


def test_deferred_steps_are_told_once_and_compare_as_a_tuple(
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = random_host(3)
    flow = dict(dst="10.1.0.9")
    late = sim.route_get(host, **flow)
    assert isinstance(late.steps, sim.LazySteps)
    monkeypatch.setattr(sim, "DEFER_STEPS", False)
    now = sim.route_get(host, **flow)
    assert isinstance(now.steps, tuple) and late.steps == now.steps and now.steps == late.steps
    assert late.steps.told() is late.steps.told() and len(late.steps) == len(now.steps)
    assert late == now and as_dict(late)["steps"] == as_dict(now)["steps"]
    assert late.decisive == now.decisive and late.steps[-1] is late.steps.told()[-1]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x0DB8]) | st.integers(0, 0xFFFF),
                min_size=8, max_size=8), st.integers(0, (1 << 32) - 1))
def test_fast_address_text_is_ipaddress_text(words: list[int], v4: int) -> None:
    from wgexplain.kernel.fib_rules import _addr_text
    from wgexplain.kernel.fib_trie import addr_text

    v6 = 0
    for w in words:
        v6 = v6 << 16 | w
    a6, a4 = ipaddress.IPv6Address(v6), ipaddress.IPv4Address(v4)
    assert addr_text(a6) == str(a6) == _addr_text(AF_INET6, v6)
    assert addr_text(a4) == str(a4) == _addr_text(AF_INET, v4)
    scoped = ipaddress.IPv6Address(f"{a6}%eth0")
    assert addr_text(scoped) == str(scoped)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 32), st.integers(0, (1 << 32) - 1), st.integers(0, 128),
       st.integers(0, (1 << 128) - 1))
def test_fast_networks_are_ipaddress_networks(p4: int, v4: int, p6: int, v6: int) -> None:
    """The reader's networks (built without ``__init__``) behave as ``ipaddress``'s own."""
    from wgexplain.sources import _fast

    v4 &= _fast.MASKINT4[p4]
    v6 &= _fast.MASKINT6[p6]
    for fast, real in ((_fast.net4(v4, p4), ipaddress.IPv4Network((v4, p4))),
                       (_fast.net6(v6, p6), ipaddress.IPv6Network((v6, p6)))):
        assert fast == real and hash(fast) == hash(real) and str(fast) == str(real)
        assert repr(fast) == repr(real) and fast.prefixlen == real.prefixlen
        assert fast.broadcast_address == real.broadcast_address
        assert fast.num_addresses == real.num_addresses and fast.is_private == real.is_private
        if real.num_addresses <= 4:
            assert list(fast.hosts()) == list(real.hosts())
    if p4 < 32:  # the last bit is a host bit: not a network
        assert _fast.net4(v4 | 1, p4) is None


@pytest.mark.parametrize("line", [
    "0/8 dev eth0", "0/0 dev eth0", "0/33 dev eth0", "1.2.3.0/024 dev eth0", "1.2.3.0/+24 dev x",
    "0 dev eth0", "::/0 dev eth0 pref medium", "10.0.0.0/-0 dev eth0", "0/-1 dev eth0",
    "2001:db8::/0x3 dev e", "1.2.3.4 dev e", "::1 dev lo", "0/ dev e", "/8 dev e", "1.2.3.0/24",
    "2001:db8::/129 dev e", "1.2.3.0/33 dev e", "local 10.0.0.1 dev e table local",
])
def test_fast_and_general_loops_read_a_destination_alike(line: str) -> None:
    def read(text: str) -> Any:
        try:
            return [(_fields(r)[:-1], r.origin.line) for r in parse_routes_text(text, "x")]
        except DumpError as e:
            return (e.line, e.got, e.expected)

    assert read(line + "\n") == read(" " + line + "\n")  # a leading blank: the general loop
