"""Small hand-built hosts for the FIB tests."""

from __future__ import annotations

import ipaddress as ip
from typing import Any

from wgexplain.kernel.fib_frontend import complete
from wgexplain.model import AF_INET, AF_INET6, Address, Host, Link, Nexthop, Route, Rule

UP = frozenset({"UP", "LOWER_UP"})


def rule(pref: int, action: str = "lookup", table: int | None = None, fam: int = AF_INET,
         **kw: Any) -> Rule:
    for k in ("src", "dst"):
        if isinstance(kw.get(k), str):
            kw[k] = ip.ip_network(kw[k])
    if action == "lookup" and table is None:
        table = 254
    return Rule(fam, pref, action, table, **kw)


def route(dst: str, dev: str | None = "eth0", *, gw: str | None = None, table: int = 254,
          type_: str = "unicast", **kw: Any) -> Route:
    net = ip.ip_network(dst)
    fam = AF_INET if net.version == 4 else AF_INET6
    hops = () if dev is None and gw is None else (Nexthop(ip.ip_address(gw) if gw else None, dev),)
    if "prefsrc" in kw and isinstance(kw["prefsrc"], str):
        kw["prefsrc"] = ip.ip_address(kw["prefsrc"])
    return Route(fam, table, net, type_, nexthops=hops, **kw)


def host(rules: list[Rule] | None = None, routes: list[Route] | None = None,
         addrs: list[tuple[str, str]] | None = None, sysctls: dict[str, str] | None = None,
         groups: dict[str, int] | None = None, **kw: Any) -> Host:
    """A completed host; ``addrs`` are (dev, "addr/len") with global scope."""
    addresses = []
    for dev, a in addrs or [("eth0", "192.168.1.10/24")]:
        iface = ip.ip_interface(a)
        scope = "host" if dev == "lo" else ("link" if iface.ip.is_link_local else "global")
        addresses.append(Address(dev, iface, scope))
    devs = ["lo"] + [d for d in dict.fromkeys(a.dev for a in addresses) if d != "lo"]
    for r in routes or []:
        for nh in r.nexthops:
            if nh.dev and nh.dev not in devs:
                devs.append(nh.dev)
    links = tuple(Link(i + 1, d, UP | ({"LOOPBACK"} if d == "lo" else set()),
                       group=(groups or {}).get(d, 0)) for i, d in enumerate(devs))
    if not any(a.dev == "lo" for a in addresses):
        addresses.insert(0, Address("lo", ip.ip_interface("127.0.0.1/8"), "host"))
    return complete(Host(links=links, addresses=tuple(addresses), rules=tuple(rules or ()),
                         routes=tuple(routes or ()), sysctls=dict(sysctls or {}), **kw))
