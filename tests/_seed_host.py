"""The seed (examples/mullvad/bundle) as a hand-built Host, for the FIB tests.

Used until ``wgexplain.sources.load()`` reads bundles; :func:`seed_host`
then prefers the real loader.
"""

from __future__ import annotations

import ipaddress as ip
from pathlib import Path

from wgexplain.kernel.fib_frontend import complete
from wgexplain.model import AF_INET, Address, Host, Link, Nexthop, Origin, Route, Rule

BUNDLE = Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "bundle"
MOLE = 0x6D6F6C65
TABLE = 1836018789


def _o(file: str, line: int) -> Origin:
    return Origin(file, line)


def hand_built(sysctls: dict[str, str] | None = None) -> Host:
    """The seed bundle, built by hand line by line (then completed like sources do)."""
    R, T, A = "ip-rule.txt", "ip-route.txt", "ip-addr.txt"
    rules = (
        Rule(AF_INET, 0, "lookup", 255, origin=_o(R, 1)),
        Rule(AF_INET, 32764, "lookup", 254, suppress_prefixlength=0, origin=_o(R, 2)),
        Rule(AF_INET, 32765, "lookup", TABLE, invert=True, fwmark=MOLE, origin=_o(R, 3)),
        Rule(AF_INET, 32766, "lookup", 254, origin=_o(R, 4)),
        Rule(AF_INET, 32767, "lookup", 253, origin=_o(R, 5)),
    )
    routes = (
        Route(AF_INET, 254, ip.ip_network("0.0.0.0/0"), protocol="dhcp", metric=600,
              prefsrc=ip.ip_address("192.168.44.83"),
              nexthops=(Nexthop(ip.ip_address("192.168.44.1"), "wlp0s20f3"),), origin=_o(T, 1)),
        Route(AF_INET, 254, ip.ip_network("10.64.0.1/32"), protocol="static",
              nexthops=(Nexthop(dev="wg-mullvad"),), origin=_o(T, 2)),
        Route(AF_INET, 254, ip.ip_network("192.168.44.0/24"), protocol="kernel", scope="link",
              metric=600, prefsrc=ip.ip_address("192.168.44.83"),
              nexthops=(Nexthop(dev="wlp0s20f3"),), origin=_o(T, 3)),
        Route(AF_INET, TABLE, ip.ip_network("0.0.0.0/0"), protocol="static",
              nexthops=(Nexthop(dev="wg-mullvad"),), origin=_o(T, 4)),
    )
    up = frozenset({"UP", "LOWER_UP"})
    links = (
        Link(1, "lo", up | {"LOOPBACK"}, 65536, "UNKNOWN", "loopback", origin=_o(A, 1)),
        Link(3, "wlp0s20f3", up | {"BROADCAST", "MULTICAST"}, 1500, "UP", "ether",
             origin=_o(A, 7)),
        Link(9, "wg-mullvad", up | {"POINTOPOINT"}, 1380, "UNKNOWN", "none", origin=_o(A, 13)),
    )
    addrs = (
        Address("lo", ip.ip_interface("127.0.0.1/8"), "host", origin=_o(A, 3)),
        Address("lo", ip.ip_interface("::1/128"), "host", flags=frozenset({"noprefixroute"}),
                origin=_o(A, 5)),
        Address("wlp0s20f3", ip.ip_interface("192.168.44.83/24"), "global",
                broadcast=ip.IPv4Address("192.168.44.255"),
                flags=frozenset({"dynamic", "noprefixroute"}), origin=_o(A, 10)),
        Address("wlp0s20f3", ip.ip_interface("fe80::9f4e:c306:9e3d:8e8/64"), "link",
                flags=frozenset({"noprefixroute"}), origin=_o(A, 12)),
        Address("wg-mullvad", ip.ip_interface("10.147.23.252/32"), "global", origin=_o(A, 15)),
    )
    host = Host(links=links, addresses=addrs, rules=rules, routes=routes,
                sysctls=dict(sysctls or {}), dumped=frozenset({"ip-rule", "ip-route", "ip-addr"}),
                source=str(BUNDLE))
    return complete(host)


def seed_host(sysctls: dict[str, str] | None = None) -> Host:
    """The seed host: from ``wgexplain.sources.load`` when it works, else hand-built."""
    if sysctls is None:
        try:
            from wgexplain.sources import load  # type: ignore[attr-defined]

            return load(str(BUNDLE))
        except Exception:  # noqa: BLE001 - loader not there yet
            pass
    return hand_built(sysctls)
