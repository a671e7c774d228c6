"""Network address translation: masquerade, snat, dnat, redirect.

Mirrors net/netfilter/nf_nat_masquerade.c (``nf_nat_masquerade_ipv4()``,
``nf_nat_masquerade_ipv6()``), nf_nat_redirect.c (``nf_nat_redirect_ipv4()``)
and nf_nat_core.c (``nf_nat_setup_info()``, ``nf_nat_packet()``).

Port remapping on a clash (``get_unique_tuple()``) is not modelled: the
binding keeps the packet's own port, as the kernel does when no other
connection already uses the tuple. ``nf_nat_setup_info`` notes that.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from wgexplain.kernel.conntrack import Conn, CtInfo, NatBinding
from wgexplain.kernel.skb import Skb
from wgexplain.model import AF_INET, Address, Host, IPAddress

# enum rt_scope_t (include/uapi/linux/rtnetlink.h)
SCOPES: dict[str, int] = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}


def scope_value(scope: str) -> int:
    return int(scope) if scope.isdigit() else SCOPES.get(scope, 0)


@dataclass(frozen=True, slots=True)
class NatResult:
    """The address a NAT statement picked, or None with the reason it could not."""

    addr: IPAddress | None
    port: int | None
    why: str


def inet_select_addr(host: Host, dev: str, dst: IPAddress | None, scope: int = 0,
                     family: int = AF_INET) -> tuple[IPAddress | None, str]:
    """``inet_select_addr()`` (net/ipv4/devinet.c): a source address on ``dev``.

    The first primary address of ``dev`` with scope <= ``scope`` whose subnet
    holds ``dst`` wins; else the first such address; else a global address of
    any other device (lo first, as the kernel walks ``dev_base``).
    """
    candidates: list[Address] = [
        a for a in host.addresses_of(dev, family)
        if "secondary" not in a.flags and scope_value(a.scope) <= scope
    ]
    for a in candidates:
        if dst is not None and dst in a.address.network:
            return a.ip, f"{a.ip} is the address of {dev} in the same subnet as {dst}"
    if candidates:
        a = candidates[0]
        return a.ip, f"{a.ip} is the first primary address of {dev} with scope <= {scope}"
    for link in sorted(host.links, key=lambda l: (l.name != "lo", l.index)):
        for a in host.addresses_of(link.name, family):
            if "secondary" not in a.flags and scope_value(a.scope) <= scope:
                return a.ip, f"{dev} has no usable address; {a.ip} of {link.name} is used instead"
    return None, f"no address of scope <= {scope} on {dev} or any other device"


def nf_nat_masquerade(host: Host, skb: Skb, gateway: IPAddress | None,
                      port: int | None = None) -> NatResult:
    """``nf_nat_masquerade_ipv4()`` / ``nf_nat_masquerade_ipv6()``.

    IPv4 takes ``inet_select_addr(out, nexthop, RT_SCOPE_UNIVERSE)``: the
    outgoing device's address, chosen for the route's next hop — NOT the
    source the first route lookup picked. IPv6 uses ``ipv6_dev_get_saddr()``
    (RFC 6724); only its first rule (a global address on the device,
    preferring one whose prefix holds the destination) is modelled.
    """
    if skb.oif is None:
        return NatResult(None, None, "masquerade needs an output device")
    nexthop = gateway if gateway is not None else skb.dst
    if skb.family == AF_INET:
        addr, why = inet_select_addr(host, skb.oif, nexthop, 0, AF_INET)
    else:
        cands = [a for a in host.addresses_of(skb.oif, skb.family)
                 if scope_value(a.scope) == 0 and "tentative" not in a.flags
                 and "deprecated" not in a.flags]
        match = [a for a in cands if skb.dst in a.address.network]
        pick = (match or cands)[0] if (match or cands) else None
        addr = pick.ip if pick else None
        why = (f"{addr} is a global address of {skb.oif} (RFC 6724 source selection "
               f"simplified to: global, same prefix first)") if pick else \
            f"{skb.oif} has no global IPv6 address"
    if addr is None:
        return NatResult(None, None, f"masquerade drops the packet: {why}")
    return NatResult(addr, port, why)


def nf_nat_redirect(host: Host, skb: Skb, hook: str, port: int | None) -> NatResult:
    """``nf_nat_redirect_ipv4()`` / ``_ipv6()``: DNAT to this host.

    In output the new destination is the loopback address; in prerouting the
    first address of the incoming device (none → drop).
    """
    if hook == "output":
        lo = ipaddress.ip_address("127.0.0.1" if skb.family == AF_INET else "::1")
        return NatResult(lo, port, "redirect in output sends to the loopback address")
    if skb.iif is None:
        return NatResult(None, None, "redirect needs an input device")
    addrs = host.addresses_of(skb.iif, skb.family)
    if not addrs:
        return NatResult(None, None, f"redirect drops the packet: {skb.iif} has no address")
    return NatResult(addrs[0].ip, port, f"{addrs[0].ip} is the first address of {skb.iif}")


def nf_nat_setup_info(conn: Conn, kind: str, res: NatResult, statement: str,
                      origin: str) -> NatBinding | None:
    """``nf_nat_setup_info()``: bind the connection; its reply tuple changes.

    Ports are kept (no clash with another connection is assumed). When the
    translation changes nothing (masquerade to the address the packet already
    has), the kernel sets no NAT status bit: None is returned.
    """
    assert res.addr is not None
    binding = NatBinding(kind, res.addr, res.port, statement, origin)
    orig = conn.original
    same = (res.addr == orig.src and res.port in (None, orig.sport)) if kind == "snat" else \
        (res.addr == orig.dst and res.port in (None, orig.dport))
    if same:
        # nf_nat_setup_info(): the new tuple equals the current one: nothing to translate,
        # and IPS_SRC_NAT / IPS_DST_NAT stay unset (a null binding)
        conn.nat_done.add(kind)
        return None
    if kind == "snat":
        conn.snat = binding
        sport = res.port if res.port is not None else orig.sport
        conn.reply = type(orig)(orig.dst, res.addr, orig.proto, orig.dport, sport)
        if conn.dnat is not None:
            conn.reply = type(orig)(conn.dnat.addr, res.addr, orig.proto,
                                    conn.dnat.port if conn.dnat.port is not None else orig.dport, sport)
    else:
        conn.dnat = binding
        dport = res.port if res.port is not None else orig.dport
        src = conn.snat.addr if conn.snat is not None else orig.src
        conn.reply = type(orig)(res.addr, src, orig.proto, dport, conn.reply.dport)
    conn.nat_done.add(kind)
    return binding


def nf_nat_packet(ct: CtInfo, manip: str, skb: Skb) -> str | None:
    """``nf_nat_packet()``: rewrite the packet by its connection's binding.

    ``manip`` is the hook's kind (``snat`` at postrouting/input, ``dnat`` at
    prerouting/output). In the reply direction the roles swap: a reply to a
    source-NATed connection gets its *destination* restored at the dnat hook.
    Returns a sentence saying what changed, or None.
    """
    conn = ct.conn
    if conn is None:
        return None
    if ct.direction == "original":
        if manip == "snat" and conn.snat is not None:
            old = skb.src
            skb.src = conn.snat.addr
            if conn.snat.port is not None:
                skb.sport = conn.snat.port
            if old == skb.src:
                return f"source stays {skb.src} (connection's {conn.snat.statement.strip()} binding)"
            return f"source {old} -> {skb.src} (connection's {conn.snat.statement.strip()} binding)"
        if manip == "dnat" and conn.dnat is not None:
            old = skb.dst
            skb.dst = conn.dnat.addr
            if conn.dnat.port is not None:
                skb.dport = conn.dnat.port
            return f"destination {old} -> {skb.dst} (connection's {conn.dnat.statement.strip()} binding)"
        return None
    # reply direction: restore what the original direction rewrote
    if manip == "dnat" and conn.snat is not None:
        old = skb.dst
        skb.dst = conn.original.src
        skb.dport = conn.original.sport
        return f"destination {old} -> {skb.dst} (undoing the connection's {conn.snat.statement.strip()})"
    if manip == "snat" and conn.dnat is not None:
        old = skb.src
        skb.src = conn.original.dst
        skb.sport = conn.original.dport
        return f"source {old} -> {skb.src} (undoing the connection's {conn.dnat.statement.strip()})"
    return None
