"""Client signatures: the tables, marks, rule preferences, devices and chains
each VPN client (and each container or VM manager) leaves on a machine.

A paste rarely says which client made it; these facts do. :func:`recognise`
names the clients whose signature a Host shows, and why;
:func:`missing_rules` gives, for a client recognised by its table, the
policy rules that client always installs and the paste does not show — so
that an answer can be computed both ways (with and without them) by the
simulator, never assumed.

Each signature was checked against the client's own source (cited per
entry). Where a number is derived at run time (NetworkManager's table and
mark from the connection UUID, wg-quick's first free table from 51820), the
signature holds the range the code draws from.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from wgexplain.model import (AF_INET, AF_INET6, RT_TABLE_MAIN, Host, IPNetwork, Nexthop, Origin,
                             Route, Rule, route_tables)


@dataclass(frozen=True, slots=True)
class Signature:
    """What one client leaves behind (any one of these facts names it)."""

    client: str
    #: routing table ids (an inclusive range: ``(first, last)``)
    tables: tuple[tuple[int, int], ...] = ()
    #: firewall marks of its rules: ``(mark, mask)``
    fwmarks: tuple[tuple[int, int], ...] = ()
    #: rule preferences it uses (an inclusive range)
    prefs: tuple[int, int] | None = None
    #: its device names
    devices: str | None = None
    #: its nftables table or chain (and iptables chain) names
    chains: str | None = None
    #: networks it puts on its devices (evidence only with one of its devices)
    networks: tuple[str, ...] = ()
    #: one sentence: what it always installs
    installs: str = ""
    #: the policy rules it always installs, for a family and its table (both ways)
    rules: Callable[[int, int], list[Rule]] | None = None
    #: the routes it puts in its own table, for a family, the table and the Host (both ways)
    table_routes: Callable[[int, int, Host], list[Route]] | None = None
    #: where this was checked
    source: str = ""


def _o(client: str) -> Origin:
    return Origin("<hypothesis>", 0, True, f"what {client} installs")


def _suppress_then_not_mark(client: str, first_pref: int) -> Callable[[int, int], list[Rule]]:
    """``P: lookup main suppress_prefixlength 0`` and ``P+1: not fwmark T lookup T``."""
    def rules(family: int, table: int) -> list[Rule]:
        o = _o(client)
        return [Rule(family, first_pref, "lookup", RT_TABLE_MAIN, suppress_prefixlength=0, origin=o),
                Rule(family, first_pref + 1, "lookup", table, invert=True, fwmark=table,
                     origin=o)]
    return rules


def _default_into(pattern: str, fallback: str | None) -> Callable[[int, int, Host], list[Route]]:
    """``default dev DEV`` in the client's table, DEV its device as the paste names it."""
    def routes(family: int, table: int, host: Host) -> list[Route]:
        from wgexplain.kernel import wireguard as wgmod

        devs = [d for d in device_names(host) if re.search(pattern, d)] or \
            [d for d in device_names(host) if wgmod.is_wireguard(host, d)] or \
            ([fallback] if fallback else [])
        if not devs:
            return []
        net = ipaddress.ip_network("0.0.0.0/0" if family == AF_INET else "::/0")
        return [Route(family, table, net, "unicast", metric=0 if family == AF_INET else 1024,
                      nexthops=(Nexthop(dev=devs[0]),), origin=_o("the client"))]
    return routes


def _mullvad_rules(family: int, table: int) -> list[Rule]:
    o = _o("Mullvad")
    return [Rule(family, 32764, "lookup", RT_TABLE_MAIN, suppress_prefixlength=0, origin=o),
            Rule(family, 32765, "lookup", table, invert=True, fwmark=0x6d6f6c65, origin=o)]


def _tailscale_rules(family: int, table: int) -> list[Rule]:
    o = _o("Tailscale")
    m, k = 0x80000, 0xFF0000
    return [Rule(family, 5210, "lookup", RT_TABLE_MAIN, fwmark=m, fwmask=k, origin=o),
            Rule(family, 5230, "lookup", 253, fwmark=m, fwmask=k, origin=o),
            Rule(family, 5250, "unreachable", None, fwmark=m, fwmask=k, origin=o),
            Rule(family, 5270, "lookup", table, origin=o)]


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "wg-quick", tables=((51820, 51820 + 499),), fwmarks=((0xCA6C, 0xFFFFFFFF),),
        devices=r"^wg\d+$", chains=r"^wg-quick-",
        installs=("for AllowedIPs 0.0.0.0/0 it puts `default dev <wg>` in table T (51820, or "
                  "the next free one), sets the device's fwmark to T and adds the rules "
                  "`not fwmark T lookup T` and `lookup main suppress_prefixlength 0` (which the "
                  "kernel numbers 32765 and 32764 below the default rules)"),
        rules=_suppress_then_not_mark("wg-quick", 32764),
        table_routes=_default_into(r"^wg", None),
        # WireGuard/wireguard-tools src/wg-quick/linux.bash, add_default(): table=51820,
        # ((table++)) while taken; `wg set fwmark $table`; `ip rule add not fwmark $table
        # table $table`; `ip rule add table main suppress_prefixlength 0`; nft table
        # "wg-quick-$INTERFACE"; src_valid_mark=1
        source="WireGuard/wireguard-tools src/wg-quick/linux.bash add_default()"),
    Signature(
        "Mullvad", tables=((1836018789, 1836018789),), fwmarks=((0x6D6F6C65, 0xFFFFFFFF),),
        devices=r"^(wg-mullvad|wg0-mullvad)$", chains=r"^mullvad",
        installs=("table 1836018789 with `default dev wg-mullvad`, the rules `not fwmark "
                  "0x6d6f6c65 lookup 1836018789` and `lookup main suppress_prefixlength 0`, and "
                  "the nftables table `inet mullvad` (its firewall)"),
        rules=_mullvad_rules,
        table_routes=_default_into(r"^(wg-mullvad|wg0-mullvad)$", "wg-mullvad"),
        # mullvad/mullvadvpn-app talpid-core: `pub const TUNNEL_FW_MARK: u32 = 0x6d6f6c65`
        # (b"mole"), the table id is the same number (1836018789); the seed paste shows the
        # rules at 32764/32765
        source="mullvad/mullvadvpn-app talpid-core TUNNEL_FW_MARK = 0x6d6f6c65"),
    Signature(
        "Tailscale", tables=((52, 52),), fwmarks=((0x80000, 0xFF0000),), prefs=(5210, 5270),
        devices=r"^tailscale\d*$", chains=r"^ts-", networks=("100.64.0.0/10", "fd7a:115c:a1e0::/48"),
        installs=("table 52 and the rules 5210 `fwmark 0x80000/0xff0000 lookup main`, 5230 "
                  "`... lookup default`, 5250 `... unreachable` and 5270 `lookup 52`; chains "
                  "ts-input, ts-forward, ts-postrouting"),
        rules=_tailscale_rules,
        # tailscale/tailscale wgengine/router/router_linux.go: tailscaleRouteTable 52, ipRules
        # 5210/5230/5250/5270 with tailscaleBypassMark "0x80000" and mask 0xff0000
        # (util/linuxfw, "Keep this in sync with tailscaleBypassMark in net/netns/netns_linux.go")
        source="tailscale/tailscale wgengine/router/router_linux.go ipRules; util/linuxfw"),
    Signature(
        "NetworkManager", tables=((51820, 51820 + 499),), prefs=(30768, 31767),
        installs=("for a WireGuard connection with ip4-auto-default-route: table and fwmark "
                  "F (51820-52319, from the connection UUID) with the default route, and the "
                  "rules P `lookup main suppress_prefixlength 0` and P+1 `not fwmark F lookup "
                  "F` (P even, 30768-31766)"),
        rules=_suppress_then_not_mark("NetworkManager", 31000),
        table_routes=_default_into(r"^$", None),
        # NetworkManager src/core/devices/nm-device-wireguard.c:
        # _auto_default_route_get_auto_fwmark() "larger than 51820u ... one out of
        # AUTO_RANDOM_RANGE (500)", get_extra_rules()
        source="NetworkManager src/core/devices/nm-device-wireguard.c "
               "_auto_default_route_get_auto_fwmark(), get_extra_rules()"),
    Signature(
        "ProtonVPN", devices=r"^(proton\d+|pvpnksintrf\d+|ipv6leakintrf\d+)$", chains=r"pvpn",
        installs=("a NetworkManager WireGuard connection on proton0 (address 10.2.0.2/32, "
                  "allowed IPs 0.0.0.0/0), so NetworkManager's table, mark and rules; its kill "
                  "switch adds the dummy devices pvpnksintrf0 and ipv6leakintrf0"),
        # ProtonVPN/python-proton-vpn-network-manager-wireguard .../wireguard.py:
        # VIRTUAL_DEVICE_NAME = "proton0", ADDRESS = "10.2.0.2", ALLOWED_IP = "0.0.0.0/0";
        # the kill switch's dummy connections "pvpn-killswitch" on pvpnksintrf0
        source="ProtonVPN/python-proton-vpn-network-manager-wireguard wireguard.py"),
    Signature(
        "Mozilla VPN", tables=((0xCA6C, 0xCA6C),), fwmarks=((0xCA6C, 0xFFFFFFFF),),
        devices=r"^moz", chains=r"mozvpn",
        installs=("table 0xca6c (51820) and fwmark 0xca6c, as wg-quick's numbers, set over "
                  "netlink; cgroups /mozvpn.exclude and /mozvpn.block for split tunnelling"),
        # mozilla-mobile/mozilla-vpn-client src/platforms/linux/daemon/wireguardutilslinux.cpp:
        # WG_FIREWALL_MARK = 0xca6c; WG_ROUTE_TABLE = 0xca6c; VPN_EXCLUDE_CGROUP "/mozvpn.exclude"
        source="mozilla-mobile/mozilla-vpn-client src/platforms/linux/daemon/"
               "wireguardutilslinux.cpp"),
    Signature(
        "Docker", devices=r"^(docker0|br-[0-9a-f]{12})$",
        chains=r"^(DOCKER(-[A-Z0-9-]+)?|docker-bridges)$",
        networks=("172.17.0.0/16",),
        installs=("the bridge docker0 (172.17.0.1/16), one br-<id> per user network, and the "
                  "iptables chains DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2 (NAT for "
                  "published ports, MASQUERADE for the containers)"),
        # moby/moby libnetwork/drivers/bridge/interface_linux.go: DefaultBridgeName =
        # "docker0"; iptables chains DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2 (and
        # DOCKER-FORWARD, DOCKER-BRIDGE, DOCKER-CT; nftables table "docker-bridges" since 28)
        source="moby/moby libnetwork/drivers/bridge/interface_linux.go DefaultBridgeName; "
               "libnetwork iptables chains"),
    Signature(
        "libvirt", devices=r"^virbr\d+(-nic)?$",
        chains=r"^(LIBVIRT_(INP|OUT|FWO|FWI|FWX|PRT)|libvirt_network)$",
        networks=("192.168.122.0/24",),
        installs=("the bridge virbr0 (192.168.122.1/24, the 'default' network with NAT) and "
                  "the chains LIBVIRT_INP/OUT/FWO/FWI/FWX/PRT (or the nftables table "
                  "'libvirt_network')"),
        # libvirt/libvirt src/network/default.xml.in: bridge virbr0, ip 192.168.122.1/24;
        # network_iptables.c: VIR_IPTABLES_{INPUT,OUTPUT,FWD_IN,FWD_OUT,FWD_X,NAT_POSTROUTE}_CHAIN
        # "LIBVIRT_INP/OUT/FWI/FWO/FWX/PRT"; network_nftables.c: table "libvirt_network"
        source="libvirt/libvirt src/network/default.xml.in; src/network/network_iptables.c; "
               "src/network/network_nftables.c"),
)


@dataclass(frozen=True, slots=True)
class Recognised:
    """A client whose signature the Host shows, and the facts that show it."""

    client: str
    why: tuple[str, ...]
    signature: Signature
    #: per family: the table of its own seen in the paste (for :func:`missing_rules`)
    tables: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"client": self.client, "why": list(self.why),
                "installs": self.signature.installs, "source": self.signature.source}


def in_ranges(ranges: Iterable[tuple[int, int]], value: int) -> bool:
    return _in(ranges, value)


def _in(ranges: Iterable[tuple[int, int]], value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def device_names(host: Host) -> list[str]:
    """Every device the Host names: links, addresses, routes' next hops, rules' iif/oif."""
    names: dict[str, None] = {}
    for link in host.links:
        names.setdefault(link.name)
    for a in host.addresses:
        names.setdefault(a.dev)
    for r in host.routes:
        for nh in r.nexthops:
            if nh.dev:
                names.setdefault(nh.dev)
    for rule in host.rules:
        for dev in (rule.iif, rule.oif):
            if dev:
                names.setdefault(dev)
    return list(names)


def _chain_names(host: Host) -> list[str]:
    rs = host.ruleset
    if rs is None:
        return []
    out: list[str] = []
    for t in getattr(rs, "tables", ()):
        out.append(str(getattr(t, "name", "")))
        for c in getattr(t, "chains", ()):
            out.append(str(getattr(c, "name", "")))
    return out


def recognise(host: Host) -> list[Recognised]:
    """The clients whose signature ``host`` shows (in :data:`SIGNATURES` order).

    A table number alone is weak evidence (wg-quick, NetworkManager and Mozilla
    VPN all draw from 51820 upwards), and so is a device named ``wgN``: a
    client known only by them is named when no other client shows a stronger
    fact for the same table; for the shared range wg-quick is named (its
    rules are the same shape as NetworkManager's).
    """
    tables = route_tables(host.routes)
    table_ids = {t for _f, t in tables} | {r.table for r in host.rules if r.table is not None}
    devs = device_names(host)
    chains = _chain_names(host)
    found: list[tuple[Signature, list[str], list[str], list[tuple[int, int]]]] = []
    for sig in SIGNATURES:
        weak: list[str] = []
        strong: list[str] = []
        own: list[tuple[int, int]] = []
        for t in sorted(table_ids):
            if _in(sig.tables, t):
                weak.append(f"table {t}")
                own += [(f, tt) for f, tt in sorted(tables) if tt == t]
        for r in host.rules:
            if r.fwmark is not None and any((r.fwmark & m) == mark and (r.fwmask or 0xFFFFFFFF) == m
                                            for mark, m in sig.fwmarks):
                (weak if sig.client in ("wg-quick", "Mozilla VPN") else strong).append(
                    f"rule {r.pref} matches fwmark {r.fwmark:#x}")
                break
        if sig.prefs is not None and any(sig.prefs[0] <= r.pref <= sig.prefs[1] and not
                                         r.origin.derived for r in host.rules):
            strong.append(f"rule preferences in {sig.prefs[0]}-{sig.prefs[1]}")
        sig_devs = [d for d in devs if sig.devices and re.search(sig.devices, d)]
        if sig_devs:
            (weak if sig.client == "wg-quick" else strong).append("device " + ", ".join(sig_devs))
            nets = [ipaddress.ip_network(n) for n in sig.networks]
            for a in host.addresses:
                if a.dev in sig_devs and any(a.ip in n for n in nets if n.version == a.ip.version):
                    strong.append(f"address {a.address} on {a.dev}")
        sig_chains = [c for c in chains if sig.chains and re.search(sig.chains, c)]
        if sig_chains:
            strong.append("nftables " + ", ".join(dict.fromkeys(sig_chains)))
        if strong or weak:
            found.append((sig, strong, weak, own))
    out: list[Recognised] = []
    for sig, strong, weak, own in found:
        if not strong:
            if not own:
                continue  # a device name or a mark alone: not enough
            rivals = [s for s, st, _w, o in found if s is not sig and st and set(o) & set(own)]
            if rivals or (sig.client != "wg-quick" and _shared(sig, own)):
                continue
        out.append(Recognised(sig.client, tuple(strong + weak), sig, tuple(own)))
    return out


def _shared(sig: Signature, own: list[tuple[int, int]]) -> bool:
    return any(other is not sig and any(_in(other.tables, t) for _f, t in own)
               for other in SIGNATURES)


def missing_rules(host: Host, rec: Recognised, family: int) -> list[Rule]:
    """The rules ``rec``'s client always installs for ``family`` that ``host`` lacks.

    Empty when the client installs no rules we know, when no table of its own
    was seen for that family, or when a pasted rule of the family already
    looks up that table.
    """
    sig = rec.signature
    if sig.rules is None:
        return []
    mine = [t for f, t in rec.tables if f == family]
    if not mine:
        return []
    table = mine[0]
    pasted = [r for r in host.rules if r.family == family and not r.origin.derived]
    if any(r.table == table for r in pasted):
        return []
    return sig.rules(family, table)


def family_label(family: int) -> str:
    return "IPv4" if family == AF_INET else "IPv6" if family == AF_INET6 else str(family)


def describe_rules(rules: Iterable[Rule], table_name: Callable[[int], str]) -> str:
    from wgexplain.kernel.fib_rules import format_rule

    return "; ".join(format_rule(r, table_name) for r in rules)


__all__ = ["SIGNATURES", "Signature", "Recognised", "recognise", "missing_rules",
           "device_names", "describe_rules", "IPNetwork"]
