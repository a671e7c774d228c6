"""What the kernel builds by itself, and the reverse-path check.

The twin of net/ipv4/fib_frontend.c: ``fib_add_ifaddr()`` (the routes every
IPv4 address brings: ``local`` and ``broadcast`` in table local, the prefix
route in main), ``fib_validate_source()`` / ``__fib_validate_source()``
(rp_filter), and of the IPv6 side in net/ipv6/addrconf.c
(``addrconf_prefix_route()``, ``addrconf_add_mroute()``, the ``local``
route of every address) and the default rules of ``fib_default_rules_init()``
(net/ipv4/fib_rules.c) and ``fib6_default_rules_init()`` (net/ipv6/fib6_rules.c).

:func:`complete` fills in what a dump lacks; every fact it adds carries
``Origin(derived=True, why=...)`` and a warning says what was derived.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Callable, Mapping

from wgexplain.model import (
    AF_INET, AF_INET6, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN, Address, Host, Nexthop,
    Origin, Route, Rule, route_tables,
)

#: Kernel defaults of the sysctls routing reads (Documentation/networking/ip-sysctl.rst).
SYSCTL_DEFAULTS: dict[str, int] = {
    "forwarding": 0, "rp_filter": 0, "src_valid_mark": 0, "accept_local": 0,
    "route_localnet": 0, "send_redirects": 1, "ignore_routes_with_linkdown": 0,
    "bc_forwarding": 0,
}

#: ``RT_SCOPE_*`` (include/uapi/linux/rtnetlink.h)
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


def scope_num(scope: str | int | None) -> int:
    """``RT_SCOPE_*`` number of a scope as iproute2 prints it."""
    if scope is None:
        return 0
    if isinstance(scope, int):
        return scope
    if scope in SCOPES:
        return SCOPES[scope]
    try:
        return int(scope, 0)
    except ValueError:
        return 0


class Conf:
    """The ``IN_DEV_*`` accessors (include/linux/inetdevice.h) over ``host.sysctls``.

    A per-device value missing from the dump falls back to ``conf.default``
    (new devices copy it), then to the kernel default; each fallback used
    is recorded in :attr:`assumed` so results can say so.
    """

    def __init__(self, sysctls: Mapping[str, str],
                 memo: dict[tuple[str, ...], tuple[int, str | None]] | None = None) -> None:
        self._s = sysctls
        self.assumed: list[str] = []
        self.quiet = False
        self._memo = memo if memo is not None else {}

    def _cached(self, key: tuple[str, ...], compute: "Callable[[], tuple[int, str | None]]") -> int:
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = compute()
        if hit[1] is not None:
            self._assume(hit[1])
        return hit[0]

    def _raw(self, key: str) -> int | None:
        for k in (key, key.replace(".", "/")):
            v = self._s.get(k)
            if v is not None:
                try:
                    return int(str(v).strip().split()[0], 0)
                except (ValueError, IndexError):
                    return None
        return None

    def _assume(self, text: str) -> None:
        if not self.quiet and text not in self.assumed:
            self.assumed.append(text)

    def value(self, key: str, default: int) -> int:
        def compute() -> tuple[int, str | None]:
            v = self._raw(key)
            if v is None:
                return default, f"{key} = {default} (kernel default)"
            return v, None

        return self._cached(("value", key, str(default)), compute)

    def conf(self, dev: str, name: str, family: str = "ipv4") -> int:
        """``net.<family>.conf.<dev>.<name>``, with ``default`` and kernel-default fallbacks."""
        def compute() -> tuple[int, str | None]:
            devkey = dev.replace(".", "/")
            v = self._raw(f"net.{family}.conf.{devkey}.{name}")
            if v is not None:
                return v, None
            v = self._raw(f"net.{family}.conf.default.{name}")
            if v is not None:
                return v, f"net.{family}.conf.{dev}.{name} = {v} (from conf.default)"
            d = SYSCTL_DEFAULTS.get(name, 0)
            return d, f"net.{family}.conf.{dev}.{name} = {d} (kernel default)"

        return self._cached(("conf", dev, name, family), compute)

    def conf_all(self, name: str, family: str = "ipv4") -> int:
        return self.value(f"net.{family}.conf.all.{name}", SYSCTL_DEFAULTS.get(name, 0))

    def orconf(self, dev: str, name: str) -> bool:
        """``IN_DEV_ORCONF()``: all OR device."""
        return bool(self.conf_all(name)) or bool(self.conf(dev, name))

    def maxconf(self, dev: str, name: str) -> int:
        """``IN_DEV_MAXCONF()``: the larger of all and device (``rp_filter``)."""
        return max(self.conf_all(name), self.conf(dev, name))

    def forwarding(self, dev: str) -> bool:
        """``IN_DEV_FORWARD()``: the device's own ``forwarding`` (set from ip_forward/all)."""
        return bool(self._cached(("forwarding", dev), lambda: self._forwarding(dev)))

    def _forwarding(self, dev: str) -> tuple[int, str | None]:
        devkey = dev.replace(".", "/")
        v = self._raw(f"net.ipv4.conf.{devkey}.forwarding")
        if v is not None:
            return v, None
        for key in ("net.ipv4.conf.all.forwarding", "net.ipv4.ip_forward"):
            v = self._raw(key)
            if v is not None:
                return v, f"net.ipv4.conf.{dev}.forwarding = {v} (from {key})"
        return 0, f"net.ipv4.conf.{dev}.forwarding = 0 (kernel default)"


# --------------------------------------------------------------------------
# complete(): what the kernel derives
# --------------------------------------------------------------------------

def _derived(host: Host, why: str) -> Origin:
    return Origin(host.source or "<derived>", 0, True, why)


def _table_dumped(host: Host, family: int, table: int, present: set[tuple[int, int]]) -> bool:
    if (family, table) in present:
        return True
    prefix = "ip" if family == AF_INET else "ip6"
    return (f"{prefix}-route:all" in host.dumped or f"{prefix}-route:{table}" in host.dumped
            or (table == RT_TABLE_LOCAL and f"{prefix}-route:local" in host.dumped)
            or (table == RT_TABLE_MAIN and f"{prefix}-route:main" in host.dumped))


def _said(host: Host, prefix: str) -> bool:
    """The source already warned about this fact (the same warning is not given twice in
    two wordings)."""
    return any(w.startswith(prefix) for w in host.warnings)


def _link_up(host: Host, dev: str) -> bool:
    link = host.link(dev)
    return True if link is None else (link.up or not link.flags)


def _is_loopback(host: Host, dev: str) -> bool:
    link = host.link(dev)
    if link is not None and ("LOOPBACK" in link.flags or link.link_type == "loopback"):
        return True
    return dev == "lo"


def _v4_routes_of_address(host: Host, a: Address, prim: Address | None,
                          local: bool, main: bool) -> list[Route]:
    """``fib_add_ifaddr()``: the routes one IPv4 address brings."""
    out: list[Route] = []
    iface = a.address
    addr = iface.ip
    src = (prim or a).ip
    if a.peer is not None:
        net = ipaddress.IPv4Network(a.peer, strict=False)
    else:
        net = iface.network  # type: ignore[assignment]  # IPv4Network already: no copy
    prefix = net.network_address
    plen = net.prefixlen
    secondary = "secondary" in a.flags
    nh = (Nexthop(dev=a.dev),)
    why = f"fib_add_ifaddr() for {iface} on {a.dev} ({a.origin})"
    o = _derived(host, why)
    if local:
        out.append(Route(AF_INET, RT_TABLE_LOCAL, ipaddress.IPv4Network((int(addr), 32)), "local",
                         protocol="kernel", scope="host", prefsrc=src, nexthops=nh, origin=o))
    if not _link_up(host, a.dev):
        return out
    if local and a.broadcast is not None and int(a.broadcast) != 0xFFFFFFFF:
        out.append(Route(AF_INET, RT_TABLE_LOCAL, ipaddress.IPv4Network((int(a.broadcast), 32)),
                         "broadcast", protocol="kernel", scope="link", prefsrc=src, nexthops=nh,
                         origin=o))
    if int(prefix) != 0 and not secondary and (prefix != addr or plen < 32):
        if "noprefixroute" not in a.flags:
            if _is_loopback(host, a.dev):
                if local:
                    out.append(Route(AF_INET, RT_TABLE_LOCAL, net, "local", protocol="kernel",
                                     scope="host", prefsrc=src, nexthops=nh, origin=o))
            elif main:
                out.append(Route(AF_INET, RT_TABLE_MAIN, net, "unicast", protocol="kernel",
                                 scope="link", prefsrc=src, nexthops=nh, origin=o))
        if plen < 31 and local:
            brd = ipaddress.IPv4Network((int(net.broadcast_address), 32))
            out.append(Route(AF_INET, RT_TABLE_LOCAL, brd, "broadcast", protocol="kernel",
                             scope="link", prefsrc=src, nexthops=nh, origin=o))
    return out


def _primary_for(addrs: list[Address], a: Address) -> Address | None:
    if "secondary" not in a.flags:
        return None
    for p in addrs:
        if p.dev == a.dev and "secondary" not in p.flags and a.ip in p.address.network:
            return p
    return None


def _dedupe(routes: list[Route]) -> list[Route]:
    seen: set[tuple[object, ...]] = set()
    out: list[Route] = []
    for r in routes:
        k = (r.family, r.table, r.type, r.dst, r.dev)
        if k in seen:
            continue
        seen.add(k)
        out.append(r)
    return out


def complete(host: Host) -> Host:
    """Add what the kernel derives and the dump lacks, each marked derived.

    * default rules per family with no rules dumped (``fib_default_rules_init()``:
      0 local, 32766 main, 32767 default; IPv6: 0 local, 32766 main);
    * table local, when none of its routes were dumped, from the addresses
      (``fib_add_ifaddr()``: ``local`` per address, ``broadcast`` for an
      explicit ``brd`` and the prefix's last address when the prefix is
      shorter than /31 — this kernel no longer adds the network-address
      broadcast —, ``local 127.0.0.0/8`` for loopback's prefix); IPv6:
      ``local`` per (non-tentative) address and ``multicast ff00::/8`` per
      up non-loopback device;
    * main-table prefix routes (``proto kernel scope link``; IPv6 ``metric
      256``, ``fe80::/64`` for link-local addresses) only when main was not
      dumped for that family, and not for ``noprefixroute`` addresses (IPv6:
      nor for addresses on a device that is administratively down, which
      ``fib6_nh_init()`` refuses with ``-ENETDOWN``).

    A table counts as dumped when it holds a route of that family, or
    ``host.dumped`` holds ``ip-route:all``/``ip-route:<id>``/``ip-route:main``
    (``ip6-route:…`` for IPv6). Calling it twice derives nothing new.
    """
    present = route_tables(host.routes)  # without building lazily kept routes
    new_rules: list[Rule] = []
    new_routes: list[Route] = []
    warnings: list[str] = []
    fams = {r.family for r in host.rules}
    if AF_INET not in fams:
        o = _derived(host, "fib_default_rules_init(): the kernel's default IPv4 rules "
                           "(no IPv4 rules in the dump)")
        new_rules += [Rule(AF_INET, 0, "lookup", RT_TABLE_LOCAL, origin=o),
                      Rule(AF_INET, 32766, "lookup", RT_TABLE_MAIN, origin=o),
                      Rule(AF_INET, 32767, "lookup", RT_TABLE_DEFAULT, origin=o)]
        if not _said(host, "no ip rule in this dump"):  # one wording per fact
            warnings.append("no IPv4 rules in the dump: assumed the kernel's defaults "
                            "(0 lookup local, 32766 lookup main, 32767 lookup default)")
    if AF_INET6 not in fams:
        o = _derived(host, "fib6_default_rules_init(): the kernel's default IPv6 rules "
                           "(no IPv6 rules in the dump)")
        new_rules += [Rule(AF_INET6, 0, "lookup", RT_TABLE_LOCAL, origin=o),
                      Rule(AF_INET6, 32766, "lookup", RT_TABLE_MAIN, origin=o)]
        if not _said(host, "no ip -6 rule in this dump"):
            warnings.append("no IPv6 rules in the dump: assumed the kernel's defaults "
                            "(0 lookup local, 32766 lookup main)")

    v4 = [a for a in host.addresses if a.family == AF_INET]
    v6 = [a for a in host.addresses if a.family == AF_INET6]
    local4 = not _table_dumped(host, AF_INET, RT_TABLE_LOCAL, present)
    main4 = not _table_dumped(host, AF_INET, RT_TABLE_MAIN, present)
    if local4 or main4:
        derived4: list[Route] = []
        primaries: dict[str, list[Address]] = {}  # per device: a secondary looks there only
        for a in v4:
            if "secondary" not in a.flags:
                primaries.setdefault(a.dev, []).append(a)
        for a in v4:
            derived4 += _v4_routes_of_address(
                host, a, _primary_for(primaries.get(a.dev, []), a), local4, main4)
        derived4 = _dedupe(derived4)
        n_local = sum(1 for r in derived4 if r.table == RT_TABLE_LOCAL)
        n_main = len(derived4) - n_local
        if local4 and v4:
            warnings.append(f"IPv4 table local was not in the dump: derived {n_local} routes "
                            "from the addresses (fib_add_ifaddr())")
        if main4 and n_main:
            warnings.append(f"IPv4 table main was not in the dump: derived {n_main} prefix "
                            "routes from the addresses")
        new_routes += derived4

    local6 = not _table_dumped(host, AF_INET6, RT_TABLE_LOCAL, present)
    main6 = not _table_dumped(host, AF_INET6, RT_TABLE_MAIN, present)
    derived6: list[Route] = []
    if local6:
        for a in v6:
            if a.flags & {"tentative", "dadfailed"}:
                continue
            o = _derived(host, f"addrconf: the local route of {a.address} on {a.dev} ({a.origin})")
            derived6.append(Route(AF_INET6, RT_TABLE_LOCAL,
                                  ipaddress.IPv6Network(f"{a.ip}/128"), "local", metric=0,
                                  protocol="kernel", nexthops=(Nexthop(dev=a.dev),),
                                  pref="medium", origin=o))
        conf = Conf(host.sysctls)
        for a in v6:
            # addrconf_join_anycast(): with forwarding on, the subnet-router anycast address
            # of each prefix gets an 'anycast' route in table local
            if a.flags & {"tentative", "dadfailed"} or a.address.network.prefixlen >= 128:
                continue
            if not (conf.conf(a.dev, "forwarding", "ipv6") or
                    conf.conf_all("forwarding", "ipv6")):
                continue
            anycast = a.address.network.network_address
            if int(anycast) == 0:
                continue
            o = _derived(host, f"addrconf_join_anycast(): subnet-router anycast of {a.address} "
                               f"on {a.dev} (IPv6 forwarding is on) ({a.origin})")
            derived6.append(Route(AF_INET6, RT_TABLE_LOCAL, ipaddress.IPv6Network(f"{anycast}/128"),
                                  "anycast", metric=0, protocol="kernel",
                                  nexthops=(Nexthop(dev=a.dev),), pref="medium", origin=o))
        devs = [link.name for link in sorted(host.links, key=lambda link: link.index)]
        if not devs:
            devs = list(dict.fromkeys(a.dev for a in host.addresses))
        for dev in devs:
            if _is_loopback(host, dev) or not _link_up(host, dev):
                continue
            o = _derived(host, f"addrconf_add_mroute(): multicast route of {dev}")
            derived6.append(Route(AF_INET6, RT_TABLE_LOCAL, ipaddress.IPv6Network("ff00::/8"),
                                  "multicast", metric=256, protocol="kernel",
                                  nexthops=(Nexthop(dev=dev),), pref="medium", origin=o))
    if main6:
        for a in v6:
            if "noprefixroute" in a.flags or a.flags & {"tentative", "dadfailed"}:
                continue
            if not _link_up(host, a.dev):
                # addrconf_prefix_route() -> ip6_route_add() -> fib6_nh_init(): a device
                # that is not IFF_UP refuses the route with -ENETDOWN (only the local
                # route, addrconf_f6i_alloc(), sets fc_ignore_dev_down); tested in
                # tests/test_route_ipv6_parity.py
                continue
            net6 = ipaddress.IPv6Network(a.address.network)
            if net6.is_link_local:
                net6 = ipaddress.IPv6Network("fe80::/64")
            o = _derived(host, f"addrconf_prefix_route() for {a.address} on {a.dev} ({a.origin})")
            derived6.append(Route(AF_INET6, RT_TABLE_MAIN, net6, "unicast", metric=256,
                                  protocol="kernel", nexthops=(Nexthop(dev=a.dev),),
                                  pref="medium", origin=o))
    derived6 = _dedupe(derived6)
    if derived6:
        n_local = sum(1 for r in derived6 if r.table == RT_TABLE_LOCAL)
        if n_local:
            warnings.append(f"IPv6 table local was not in the dump: derived {n_local} routes "
                            "from the addresses and devices")
        if len(derived6) - n_local:
            warnings.append(f"IPv6 table main was not in the dump: derived "
                            f"{len(derived6) - n_local} prefix routes from the addresses")
    new_routes += derived6
    if main6 and not any(fam == AF_INET6 and table != RT_TABLE_LOCAL for fam, table in present) \
            and not any(r.family == AF_INET6 and r.table != RT_TABLE_LOCAL for r in new_routes) \
            and not _said(host, "no IPv6 routes in this dump"):
        warnings.append("no IPv6 routes in this dump: IPv6 lookups other than local "
                        "addresses are answered as with no IPv6 route")

    known = set(host.warnings)
    fresh = tuple(w for w in warnings if w not in known)
    if not new_rules and not new_routes and not fresh:
        return host
    return dataclasses.replace(
        host, rules=host.rules + tuple(new_rules), routes=host.routes + tuple(new_routes),
        warnings=host.warnings + fresh)


# --------------------------------------------------------------------------
# fib_validate_source(): rp_filter
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class SourceCheck:
    """The outcome of ``fib_validate_source()``: ``ret`` >= 0 or an ``errno``, and why."""

    errno: str | None
    ret: int
    why: str


def fib_validate_source(*, src: str, dev: str, rpf: int, accept_local: bool,
                        tx_redirects: bool, same_dev_out: bool, fast_path_allowed: bool,
                        src_is_local: bool, dev_has_addr: bool,
                        reverse: Callable[[bool], tuple[str | None, str, tuple[str, ...], bool, str]],
                        loose: Callable[[], int]) -> SourceCheck:
    """``fib_validate_source()`` + ``__fib_validate_source()`` (net/ipv4/fib_frontend.c).

    ``reverse(first)`` performs the reverse lookup (to ``src``, from the
    packet's destination, iif = the output device or lo, mark only with
    ``src_valid_mark``) and returns ``(errno, type, nexthop devices,
    direct, text)``; ``loose()`` the second, oif-bound lookup of loose mode.
    Refusals are ``EXDEV`` (rp_filter) or ``EINVAL`` (martian); the caller
    maps them as ``ip_route_input_slow()`` does on this kernel (``EINVAL``).
    """
    if not rpf and not (same_dev_out and tx_redirects):
        if accept_local:
            return SourceCheck(None, 0, "rp_filter is off and accept_local is on: not checked")
        if fast_path_allowed:
            if src_is_local:
                return SourceCheck("EINVAL", 0, f"the source {src} is one of this host's own "
                                   "addresses (martian source)")
            return SourceCheck(None, 0, "rp_filter is off: the source is not checked (only "
                               "that it is not a local address)")
    errno, rtype, devs, direct, text = reverse(True)
    mode = {0: "off", 1: "strict", 2: "loose"}.get(rpf, str(rpf))
    if errno is not None:
        if rpf:
            return SourceCheck("EXDEV", 0, f"the reverse lookup to {src} fails ({text}), and "
                               f"rp_filter is {rpf} ({mode}): refused")
        return SourceCheck(None, 0, f"the reverse lookup to {src} fails ({text}); rp_filter "
                           "is off, so that is accepted")
    if rtype != "unicast" and not (rtype == "local" and accept_local):
        return SourceCheck("EINVAL", 0, f"the reverse lookup to {src} finds a {rtype} route "
                           f"({text}): a packet cannot come from there (martian source)")
    if dev in devs or (rtype == "local" and dev == "lo"):
        return SourceCheck(None, 1 if direct else 0, f"the reverse lookup to {src} leaves by "
                           f"{dev}, the device it arrived on ({text})")
    if not dev_has_addr:
        if rpf:
            return SourceCheck("EXDEV", 0, f"{dev} has no IPv4 address and rp_filter is {rpf}")
        return SourceCheck(None, 0, f"{dev} has no IPv4 address; rp_filter is off")
    if rpf == 1:
        return SourceCheck("EXDEV", 0, f"the reverse lookup to {src} leaves by "
                           f"{', '.join(devs) or 'no device'}, not by {dev} where it arrived "
                           f"({text}): strict rp_filter (1) refuses it")
    return SourceCheck(None, loose(), f"the reverse lookup to {src} leaves by "
                       f"{', '.join(devs) or 'no device'}, not {dev} ({text}); "
                       + ("loose rp_filter (2) only needs a route back: accepted" if rpf == 2
                          else "rp_filter is off: accepted"))
