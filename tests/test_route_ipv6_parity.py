"""Regressions from the wide random parity run (seeds 100-160), one per cause.

Each cause has a simulator test (runs everywhere; the expected answers are
what the 6.18 kernel here answered) and the same flows asked of the real
kernel in a ``wgx-`` namespace (skipped without root / ``ip netns``):

1. ``addrconf_prefix_route()`` makes no IPv6 prefix route for an address on
   a device that is administratively down: ``fib6_nh_init()`` refuses it
   with ``-ENETDOWN`` (the local route, ``addrconf_f6i_alloc()``, sets
   ``fc_ignore_dev_down`` and exists). Seed 101.
2. ``inet6_rtm_getroute()``: ``ip -6 route get ... iif DEV`` without ``uid``
   asks with ``INVALID_UID``, which no ``uidrange`` rule matches (``not
   uidrange`` ones then always do); with ``uid N`` it asks with N. Seeds
   105, 106, 109.
3. IPv4 differs: ``ip_route_input_slow()`` uses uid 0 (``sock_net_uid(net,
   NULL)``) whatever ``uid`` says.
4. ``224.0.0.1`` arriving on a device that is down: ``ip_mc_up()`` never
   joined it there, ``ip_check_mc_rcu()`` fails, EINVAL. Seed 143.
5. ``from ::`` is no source (``ipv6_addr_any()``): no
   ``RT6_LOOKUP_F_HAS_SADDR``, so no ``from PREFIX`` rule matches it, and an
   output lookup chooses a source as without ``from``. Found while fixing 2.
"""

from __future__ import annotations

import ipaddress as ip
from typing import Any

import pytest

from wgexplain.kernel.fib_frontend import complete
from wgexplain.kernel.path import trace
from wgexplain.kernel.route import lookup
from wgexplain.lab.netns import lab_available
from wgexplain.model import (AF_INET, AF_INET6, Address, Flow, Host, Link, Nexthop, Route,
                             Rule)

LAB_OK, LAB_WHY = lab_available()

UP = frozenset({"UP", "LOWER_UP", "BROADCAST", "MULTICAST"})
DOWN = frozenset({"BROADCAST", "MULTICAST"})


def _host() -> Host:
    """eth0 up, eth1 administratively down; main is not dumped for either family."""
    links = (Link(1, "lo", frozenset({"UP", "LOWER_UP", "LOOPBACK"}), 65536, "UNKNOWN", "loopback"),
             Link(2, "eth0", UP, 1500, "UP", "ether"),
             Link(3, "eth1", DOWN, 1500, "DOWN", "ether"))
    addrs = [("lo", "127.0.0.1/8", "host", ()), ("lo", "::1/128", "host", ("noprefixroute",)),
             ("eth0", "10.1.0.10/24", "global", ()), ("eth1", "10.2.0.10/24", "global", ()),
             ("eth0", "2001:db8:1::10/64", "global", ()), ("eth1", "2001:db8:2::10/64", "global", ())]
    addresses = tuple(Address(d, ip.ip_interface(a), s, flags=frozenset(f))
                      for d, a, s, f in addrs)
    routes = (
        Route(AF_INET6, 100, ip.ip_network("::/0"), metric=1024, protocol="static",
              nexthops=(Nexthop(ip.ip_address("2001:db8:1::1"), "eth0"),)),
        Route(AF_INET6, 200, ip.ip_network("2001:db8:98::/48"), "prohibit", metric=1024,
              protocol="static"),
        Route(AF_INET, 253, ip.ip_network("0.0.0.0/0"), protocol="static",
              nexthops=(Nexthop(ip.ip_address("10.1.0.1"), "eth0"),)),
    )
    n6 = ip.ip_network
    rules = (
        Rule(AF_INET6, 0, table=255),
        Rule(AF_INET6, 500, "unreachable", src=n6("::/8")),
        Rule(AF_INET6, 1000, "blackhole", dst=n6("2001:db8:99::/48"), uidrange=(0, 999)),
        Rule(AF_INET6, 2000, table=200, uidrange=(0, 999), invert=True),
        Rule(AF_INET6, 32766, table=254),
        Rule(AF_INET6, 32767, table=100),
        Rule(AF_INET, 0, table=255),
        Rule(AF_INET, 1000, "blackhole", dst=n6("10.99.0.0/16"), uidrange=(0, 0)),
        Rule(AF_INET, 32766, table=254),
        Rule(AF_INET, 32767, table=253),
    )
    sysctls = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.forwarding": "1",
               "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "0",
               "net.ipv4.conf.eth1.rp_filter": "0", "net.ipv6.conf.all.forwarding": "0"}
    return Host(links=links, addresses=addresses, rules=rules, routes=routes, sysctls=sysctls,
                dumped=frozenset({"ip-rule", "ip6-rule", "ip-route", "ip6-route", "ip-addr",
                                  "sysctl"}),
                source="test_route_ipv6_parity")


HOST = _host()


def _flow(dst: str, **kw: Any) -> Flow:
    if "src" in kw:
        kw["src"] = ip.ip_address(kw["src"])
    return Flow(dst=ip.ip_address(dst), **kw)


# (flow, (type, dev, error)) as the kernel answered `ip route get` for each
CASES: list[tuple[Flow, tuple[str | None, str | None, str | None]]] = [
    # 1. no prefix route for eth1's 2001:db8:2::/64: table 100's default decides
    (_flow("2001:db8:2::1"), ("unicast", "eth0", None)),
    (_flow("2001:db8:1::1"), ("unicast", "eth0", None)),
    (_flow("2001:db8:2::10"), ("local", "lo", None)),  # eth1's local route exists
    # 2. IPv6 input: no uid = INVALID_UID, uid N = N
    (_flow("2001:db8:99::1", src="2001:db8:1::5", iif="eth0"), ("unicast", "eth0", None)),
    (_flow("2001:db8:99::1", src="2001:db8:1::5", iif="eth0", uid=0), (None, None, "EINVAL")),
    (_flow("2001:db8:99::1", src="2001:db8:1::5", iif="eth0", uid=1000), ("unicast", "eth0", None)),
    (_flow("2001:db8:98::1", src="2001:db8:1::5", iif="eth0"), (None, None, "EACCES")),
    (_flow("2001:db8:98::1", src="2001:db8:1::5", iif="eth0", uid=5), ("unicast", "eth0", None)),
    # ... and output lookups: uid 0 (root) when none is given
    (_flow("2001:db8:99::1"), (None, None, "EINVAL")),
    (_flow("2001:db8:99::1", uid=1000), ("unicast", "eth0", None)),
    (_flow("2001:db8:98::1"), ("unicast", "eth0", None)),
    # 5. 'from ::' is no source (no RT6_LOOKUP_F_HAS_SADDR): 'from ::/8' cannot match it
    (_flow("2001:db8:1::1", src="::"), ("unicast", "eth0", None)),
    (_flow("2001:db8:1::1", src="::", iif="eth0"), ("unicast", "eth0", None)),
    (_flow("2001:db8:1::1", src="::", oif="eth0"), ("unicast", "eth0", None)),
    (_flow("2001:db8:1::1", src="::1"), (None, None, "ENETUNREACH")),
    # 3. IPv4 input: always uid 0; output: the uid given
    (_flow("10.99.0.1", src="10.1.0.5", iif="eth0"), (None, None, "EINVAL")),
    (_flow("10.99.0.1", src="10.1.0.5", iif="eth0", uid=5000), (None, None, "EINVAL")),
    (_flow("10.99.0.1", uid=5000), ("unicast", "eth0", None)),
    (_flow("10.99.0.1"), (None, None, "EINVAL")),
    # 4. 224.0.0.1 is joined only on devices that are up
    (_flow("224.0.0.1", src="8.8.8.8", iif="eth0"), ("multicast", "lo", None)),
    (_flow("224.0.0.1", src="8.8.8.8", iif="eth1"), (None, None, "EINVAL")),
    (_flow("224.0.0.1", src="8.8.8.8", iif="eth1", tos=8), (None, None, "EINVAL")),
]


def test_no_ipv6_prefix_route_on_a_down_device() -> None:
    full = complete(HOST)
    main6 = {str(r.dst): r.dev for r in full.routes_of(AF_INET6) if r.table == 254}
    assert main6 == {"2001:db8:1::/64": "eth0"}
    local6 = {str(r.dst) for r in full.routes_of(AF_INET6) if r.table == 255 and r.type == "local"}
    assert {"2001:db8:1::10/128", "2001:db8:2::10/128"} <= local6
    # IPv4 has the same rule (fib_add_ifaddr() on a down device: the local route only)
    main4 = {str(r.dst) for r in full.routes_of(AF_INET) if r.table == 254}
    assert main4 == {"10.1.0.0/24"}


@pytest.mark.parametrize("flow,want", CASES, ids=lambda v: str(v) if isinstance(v, tuple) else
                         " ".join(f"{k}={getattr(v, k)}" for k in ("dst", "src", "iif", "uid", "tos")
                                  if getattr(v, k) not in (None, 0)))
def test_simulator_answers_like_the_kernel(flow: Flow, want: tuple[Any, ...]) -> None:
    res = lookup(HOST, flow)
    got = (None if res.error else res.type, res.dev, res.error)
    assert got == want, [s.why for s in res.steps]


def test_ipv6_input_without_uid_says_why_uidrange_cannot_match() -> None:
    res = lookup(HOST, _flow("2001:db8:99::1", src="2001:db8:1::5", iif="eth0"))
    assert any("INVALID_UID" in n for n in res.notes)
    step = next(s for s in res.steps if s.rule == 1000)
    assert step.result == "no match" and "4294967295" in step.why


def test_received_ipv6_packet_has_uid_0() -> None:
    """A packet arriving for real (ip6_route_input()) has uid 0, unlike `ip route get iif`."""
    t = trace(HOST, "2001:db8:99::1", src="2001:db8:1::5", iif="eth0", direction="forward")
    assert t.verdict == "drop"
    assert any("EINVAL" in (s.effect or "") for s in t.steps if s.stage == "route")


def test_from_any_is_no_source() -> None:
    out = lookup(HOST, _flow("2001:db8:1::1", src="::"))
    assert str(out.src) == "2001:db8:1::10"
    inp = lookup(HOST, _flow("2001:db8:1::1", src="::", iif="eth0"))
    assert inp.src is None and inp.prefsrc is None


def test_down_device_multicast_step_explains() -> None:
    res = lookup(HOST, _flow("224.0.0.1", src="8.8.8.8", iif="eth1"))
    assert res.error == "EINVAL" and "eth1 is down" in res.steps[-1].why


@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_kernel_answers_these_and_the_simulator_agrees() -> None:
    from wgexplain.lab.build import build
    from wgexplain.lab.kernel import route_get
    from wgexplain.lab.netns import Lab
    from wgexplain.lab.parity import compare

    flows = [f for f, _ in CASES]
    full = complete(HOST)
    with Lab("v6par") as lab:
        lh = build(lab, full)
        kernel = route_get(lh.ns, flows, lab=lab)
        report = compare(HOST, flows, labhost=lh)
    got = [(k.get("type") if not k.get("error") else None, k.get("dev"), k.get("error"))
           for k in kernel]
    assert got == [w for _, w in CASES]
    assert report.ok, report.format()
    assert report.agree == len(flows)
