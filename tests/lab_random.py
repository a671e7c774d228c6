"""Random Hosts for kernel-parity tests: rule sets and tables the kernel accepts.

``random_host(seed)`` builds, deterministically from ``seed``, a machine with
a few devices (up, down, up without carrier, in device groups), IPv4 and
IPv6 addresses (some ``noprefixroute``), policy rules with every selector
and action the model knows (from/to/iif/oif/fwmark/mask/not/uidrange/
ipproto/sport/dport/tos, lookup/goto/nop/blackhole/unreachable/prohibit,
suppress_prefixlength/suppress_ifgroup) and routes of every type the
kernel accepts in a table (unicast/local/blackhole/unreachable/prohibit/
throw/broadcast), with metrics and IPv4 tos keys, and the sysctls input
routing reads (forwarding, rp_filter, src_valid_mark, accept_local). Only what ``ip`` would
accept is generated: gateways on connected subnets of devices that are up,
``prefsrc`` among the local addresses, ``goto`` only forwards.
Multipath is left out: the kernel picks a hop by hash, which no simulator
can predict flow by flow.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from wgexplain.model import (AF_INET, AF_INET6, Address, Host, Link, Nexthop, Origin, Route,
                             Rule)

TABLES = (100, 101, 102, 254, 253)
MARKS = (0x1, 0x10, 0xff00, 0x6d6f6c65)
TOS = (0x08, 0x10, 0x18)


def _origin(what: str, n: int) -> Origin:
    return Origin(f"random:{what}", n)


def random_host(seed: int) -> Host:
    """A random, kernel-loadable Host (see module doc)."""
    rng = random.Random(seed)
    links: list[Link] = [Link(1, "lo", frozenset({"LOOPBACK", "UP", "LOWER_UP"}), 65536,
                              "UNKNOWN", "loopback")]
    addresses: list[Address] = [
        Address("lo", ipaddress.ip_interface("127.0.0.1/8"), "host"),
        Address("lo", ipaddress.ip_interface("::1/128"), "host", flags=frozenset({"noprefixroute"})),
    ]
    ndev = rng.randint(2, 4)
    up_devs: list[str] = []
    v4_nets: dict[str, list[ipaddress.IPv4Interface]] = {}
    v6_nets: dict[str, list[ipaddress.IPv6Interface]] = {}
    for i in range(ndev):
        name = f"eth{i}" if i else "wlan0"
        state = rng.choices(["up", "down", "nocarrier"], weights=[6, 1, 1])[0]
        flags = {"BROADCAST", "MULTICAST"}
        if state != "down":
            flags.add("UP")
            up_devs.append(name)
        if state == "up":
            flags.add("LOWER_UP")
        elif state == "nocarrier":
            flags.add("NO-CARRIER")
        group = rng.choice([0, 0, 1, 2])
        links.append(Link(i + 2, name, frozenset(flags), 1500, "UP" if state == "up" else "DOWN",
                          "ether", group=group, origin=_origin("link", i)))
        plen = rng.choice([16, 24, 24, 28, 32])
        net = ipaddress.ip_network(f"10.{i + 1}.0.0/{plen}", strict=False)
        host_ip = net.network_address + (1 if net.num_addresses > 1 else 0) + (4 if plen < 30 else 0)
        ifc = ipaddress.ip_interface(f"{host_ip}/{plen}")
        aflags = frozenset({"noprefixroute"}) if rng.random() < 0.3 else frozenset()
        brd = net.broadcast_address if plen < 31 and rng.random() < 0.7 else None
        addresses.append(Address(name, ifc, broadcast=brd, flags=aflags, origin=_origin("addr", i)))
        if "noprefixroute" not in aflags and plen < 30:  # gateways need a connected route
            v4_nets.setdefault(name, []).append(ifc)
        if rng.random() < 0.7:
            ifc6 = ipaddress.ip_interface(f"2001:db8:{i + 1}::{rng.randint(2, 200):x}/64")
            aflags6 = frozenset({"noprefixroute"}) if rng.random() < 0.3 else frozenset()
            addresses.append(Address(name, ifc6, flags=aflags6, origin=_origin("addr6", i)))
            if "noprefixroute" not in aflags6:
                v6_nets.setdefault(name, []).append(ifc6)

    routes: list[Route] = []
    for family in (AF_INET, AF_INET6):
        nets = v4_nets if family == AF_INET else v6_nets
        # Like a real dump, table main holds the prefix routes the kernel made from
        # the addresses; sometimes main is not in the dump at all, and the
        # simulator has to derive them (fib_frontend.complete()).
        dump_main = rng.random() < 0.7
        if dump_main:
            routes += _kernel_prefix_routes(family, addresses, up_devs)
        tables = TABLES if dump_main else tuple(t for t in TABLES if t != 254)
        seen: set[tuple[Any, ...]] = set()
        for j in range(rng.randint(6, 14)):
            route = _random_route(rng, family, up_devs, nets, addresses, j, tables)
            key = (route.table, route.dst, route.tos, route.metric)
            if key not in seen:  # the kernel refuses a second route with the same key
                seen.add(key)
                routes.append(route)
        # a default route in main most of the time, via a gateway on a connected net
        cands = [d for d in up_devs if d in nets]
        if dump_main and cands and rng.random() < 0.8:
            dev = rng.choice(cands)
            gw = nets[dev][0].network.network_address + 2
            any_net = ipaddress.ip_network("0.0.0.0/0" if family == AF_INET else "::/0")
            metric = rng.choice([0, 100, 600]) or (1024 if family == AF_INET6 else 0)
            routes.append(Route(family, 254, any_net, metric=metric, protocol="static",
                                nexthops=(Nexthop(gw, dev),), origin=_origin("route-default", family)))

    rules: list[Rule] = []
    for family in (AF_INET, AF_INET6):
        rules += _random_rules(rng, family, [l.name for l in links[1:]] + ["ghost0"])

    # the sysctls input routing reads: forwarding, rp_filter, src_valid_mark, accept_local
    fwd = rng.choice(["0", "1"])
    sysctls = {"net.ipv4.ip_forward": fwd, "net.ipv4.conf.all.forwarding": fwd,
               "net.ipv4.conf.default.forwarding": fwd,
               "net.ipv4.conf.all.rp_filter": rng.choice(["0", "0", "1", "2"]),
               "net.ipv4.conf.all.src_valid_mark": rng.choice(["0", "1"]),
               "net.ipv6.conf.all.forwarding": rng.choice(["0", "1"])}
    for link in links:
        sysctls[f"net.ipv4.conf.{link.name}.forwarding"] = fwd
        sysctls[f"net.ipv4.conf.{link.name}.rp_filter"] = rng.choice(["0", "1", "2"])
        sysctls[f"net.ipv4.conf.{link.name}.accept_local"] = rng.choice(["0", "0", "1"])

    return Host(links=tuple(links), addresses=tuple(addresses), rules=tuple(rules),
                routes=tuple(routes), sysctls=sysctls,
                dumped=frozenset({"ip-rule", "ip6-rule", "ip-route", "ip6-route", "ip-addr",
                                  "sysctl"}),
                source=f"random host seed {seed}")


def _random_net(rng: random.Random, family: int) -> Any:
    if family == AF_INET:
        plen = rng.choice([8, 12, 16, 20, 24, 24, 28, 32])
        base = rng.choice([10, 100, 172, 198, 203, 185, 1, 8])
        addr = ipaddress.IPv4Address((base << 24) | rng.getrandbits(24))
        return ipaddress.ip_network(f"{addr}/{plen}", strict=False)
    plen = rng.choice([16, 32, 48, 56, 64, 64, 128])
    addr = ipaddress.IPv6Address((0x2001 << 112) | rng.getrandbits(112))
    return ipaddress.ip_network(f"{addr}/{plen}", strict=False)


def _kernel_prefix_routes(family: int, addresses: list[Address], up_devs: list[str]) -> list[Route]:
    """What ``ip route`` lists for the addresses: ``fib_add_ifaddr()`` / ``addrconf_prefix_route()``."""
    out: list[Route] = []
    for a in addresses:
        if a.family != family or a.dev == "lo" or a.dev not in up_devs or "noprefixroute" in a.flags:
            continue
        net = a.address.network
        if family == AF_INET:
            if net.prefixlen == 32:
                continue
            out.append(Route(family, 254, net, protocol="kernel", scope="link", prefsrc=a.ip,
                             nexthops=(Nexthop(None, a.dev),), origin=_origin("route-kernel", 4)))
        else:
            out.append(Route(family, 254, net, metric=256, protocol="kernel", pref="medium",
                             nexthops=(Nexthop(None, a.dev),), origin=_origin("route-kernel", 6)))
    return out


def _random_route(rng: random.Random, family: int, up_devs: list[str],
                  nets: dict[str, list[Any]], addresses: list[Address], j: int,
                  tables: tuple[int, ...] = TABLES) -> Route:
    table = rng.choice(tables)
    dst = _random_net(rng, family)
    types = ["unicast"] * 5 + ["blackhole", "unreachable", "prohibit", "throw", "local"]
    if family == AF_INET:
        types.append("broadcast")
    rtype = rng.choice(types) if up_devs else rng.choice(["blackhole", "unreachable", "prohibit", "throw"])
    metric = rng.choice([0, 0, 10, 100, 1024])
    if family == AF_INET6 and metric == 0:
        metric = 1024
    tos = rng.choice([0, 0, 0] + list(TOS)) if family == AF_INET else 0
    origin = _origin(f"route{family}", j)
    if rtype in ("blackhole", "unreachable", "prohibit", "throw"):
        return Route(family, table, dst, type=rtype, tos=tos, metric=metric, origin=origin,
                     protocol="static")
    dev = rng.choice(up_devs)
    locals_ = [a.ip for a in addresses if a.family == family and a.dev != "lo"]
    prefsrc = rng.choice(locals_) if locals_ and family == AF_INET and rng.random() < 0.3 else None
    if rtype == "local":
        return Route(family, table, dst, type="local", tos=tos, metric=metric,
                     scope="host" if family == AF_INET else "global", prefsrc=prefsrc,
                     nexthops=(Nexthop(None, dev),), origin=origin, protocol="static")
    if rtype == "broadcast":
        return Route(family, table, dst, type="broadcast", tos=tos, metric=metric, scope="link",
                     prefsrc=prefsrc, nexthops=(Nexthop(None, dev),), origin=origin,
                     protocol="static")
    connected = [n for n in nets.get(dev, []) if n.network.prefixlen < (31 if family == AF_INET else 127)]
    if connected and rng.random() < 0.6:
        gw = connected[0].network.network_address + rng.randint(2, 3)
        return Route(family, table, dst, tos=tos, metric=metric, prefsrc=prefsrc,
                     nexthops=(Nexthop(gw, dev, onlink=True),) if rng.random() < 0.2
                     else (Nexthop(gw, dev),), origin=origin, protocol="static")
    scope = rng.choice(["link", "global"]) if family == AF_INET else "global"
    return Route(family, table, dst, tos=tos, metric=metric, scope=scope, prefsrc=prefsrc,
                 nexthops=(Nexthop(None, dev),), origin=origin, protocol="static")


def _random_rules(rng: random.Random, family: int, devs: list[str]) -> list[Rule]:
    rules = [Rule(family, 0, table=255, origin=_origin(f"rule{family}", 0))]
    prefs = sorted(rng.sample(range(100, 32000, 50), rng.randint(3, 10)))
    for n, pref in enumerate(prefs):
        kw: dict[str, Any] = {}
        r = rng.random
        if r() < 0.25:
            kw["src"] = _random_net(rng, family)
        if r() < 0.35:
            kw["dst"] = _random_net(rng, family)
        if r() < 0.15:
            kw["iif"] = rng.choice(devs)
        if r() < 0.15:
            kw["oif"] = rng.choice(devs)
        if r() < 0.35:
            kw["fwmark"] = rng.choice(MARKS)
            if r() < 0.4:
                kw["fwmask"] = rng.choice([0xff, 0xff00, 0xffff0000])
        if r() < 0.15:
            lo = rng.choice([0, 1000, 65534])
            kw["uidrange"] = (lo, lo + rng.choice([0, 999]))
        if r() < 0.2:
            kw["ipproto"] = rng.choice([6, 17])
            if r() < 0.5:
                lo = rng.choice([53, 443, 1024])
                kw["dport"] = (lo, lo + rng.choice([0, 10]))
            if r() < 0.3:
                lo = rng.choice([53, 68, 5000])
                kw["sport"] = (lo, lo + rng.choice([0, 100]))
        if r() < 0.15:
            kw["tos"] = rng.choice(TOS)
        if r() < 0.2:
            kw["invert"] = True
        action = rng.choices(["lookup", "goto", "nop", "blackhole", "unreachable", "prohibit"],
                             weights=[10, 2, 1, 1, 1, 1])[0]
        later = [p for p in prefs if p > pref] + [32766]
        if action in ("blackhole", "unreachable", "prohibit") and not kw:
            kw["dst"] = _random_net(rng, family)  # else nothing after it would ever run
        if action == "lookup":
            kw["table"] = rng.choice(TABLES)
            if r() < 0.3:
                kw["suppress_prefixlength"] = rng.choice([0, 0, 8, 16, 24, 32, 48, 64])
            if r() < 0.15:
                kw["suppress_ifgroup"] = rng.choice([1, 2])
        elif action == "goto":
            kw["goto"] = rng.choice(later)
        rules.append(Rule(family, pref, action=action, origin=_origin(f"rule{family}", n + 1), **kw))
    rules.append(Rule(family, 32766, table=254, origin=_origin(f"rule{family}", 90)))
    if family == AF_INET:
        rules.append(Rule(family, 32767, table=253, origin=_origin(f"rule{family}", 91)))
    return rules


def random_route_args(h: Any, rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Random `ip route get` arguments: destinations in and around the host's routes,
    sources, iif/oif, marks, tos, uid, ports."""
    nets = [r.dst for r in h.routes] or [ipaddress.ip_network("0.0.0.0/0")]
    addrs = [a.ip for a in h.addresses]
    devs = [link.name for link in h.links]
    out: list[dict[str, Any]] = []
    for _ in range(n):
        net = rng.choice(nets)
        dst = net.network_address + rng.randrange(min(net.num_addresses, 1 << 16))
        if rng.random() < 0.2:
            dst = ipaddress.ip_address(rng.getrandbits(32)) if net.version == 4 else \
                ipaddress.ip_address((0x20010DB8 << 96) | rng.getrandbits(64))
        kw: dict[str, Any] = {"dst": dst}
        same = [a for a in addrs if a.version == dst.version]
        if rng.random() < 0.3 and same:
            kw["src"] = rng.choice(same)
        if rng.random() < 0.3 and devs:
            kw["iif"] = rng.choice(devs)
            kw["src"] = dst + 1 if rng.random() < 0.5 else kw.get("src", dst - 1)
        elif rng.random() < 0.2 and devs:
            kw["oif"] = rng.choice(devs)
        if rng.random() < 0.3:
            kw["mark"] = rng.choice(MARKS)
        if rng.random() < 0.2 and dst.version == 4:
            kw["tos"] = rng.choice(TOS)
        if rng.random() < 0.2:
            kw["uid"] = rng.choice([0, 1000, 65534])
        if rng.random() < 0.2:
            kw["ipproto"] = rng.choice(["tcp", "udp", "icmp", "ipv6-icmp", "gre", "0"])
            kw["sport"], kw["dport"] = rng.randrange(1, 65536), rng.choice([22, 53, 443])
        out.append(kw)
    return out
