"""The WireGuard device: which peer gets a packet, and the UDP packet it becomes.

Mirrors drivers/net/wireguard: ``wg_xmit()`` (device.c) picks the peer by
cryptokey routing, ``wg_allowedips_lookup_dst()`` (allowedips.c: longest
prefix match over the peers' allowed-ips; no peer → the packet is dropped
and the sender gets -ENOKEY; a peer without endpoint → -EDESTADDRREQ);
``wg_socket_send_skb_to_peer()`` → ``send4()`` (socket.c) routes the
encrypted UDP packet with ``flowi4_mark = wg->fwmark`` and sets
``skb->mark = wg->fwmark`` on it; it then takes its own full output path.
On receive, ``wg_packet_consume_data_done()`` (receive.c) checks that the
inner source is in the sending peer's allowed-ips and hands the inner
packet to the stack as arriving on the WireGuard device.

Where the facts come from, in order: the caller's ``--endpoint`` /
``--wg-fwmark``; ``wg show`` (``Host.wireguard``); or inferred from the
ruleset and the rules, and then said so:

* endpoint: an output rule ``ip daddr A udp dport P ... accept`` or a
  prerouting rule ``ip saddr A udp sport P ... meta mark set M``;
* fwmark: the ``meta mark M`` of that rule, or the ``not fwmark M`` ip rule
  whose table routes into the WireGuard device.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from wgexplain import ruleset as rs
from wgexplain.model import Host, IPAddress, IPNetwork, WgInterface, WgPeer

_WG_NAME = re.compile(r"(^|[-_.])wg|wireguard|^mullvad|^wg", re.I)


#: the public key of the peer assumed to exist when `wg show` was not pasted
ASSUMED_PEER = "(assumed: wg show not pasted)"


@dataclass(frozen=True, slots=True)
class WgDevice:
    """A WireGuard device as the simulator knows it, and how each fact was learnt."""

    name: str
    how: str  # why we think the device is WireGuard
    fwmark: int
    fwmark_how: str
    listen_port: int | None
    peers: tuple[WgPeer, ...]
    peers_how: str
    inferred: bool


@dataclass(frozen=True, slots=True)
class PeerChoice:
    """The outcome of cryptokey routing for one inner destination."""

    peer: WgPeer | None
    errno: str | None
    why: str
    assumed: bool = False


def is_wireguard(host: Host, dev: str | None) -> str | None:
    """Why ``dev`` is taken to be a WireGuard device, or None if it is not."""
    if not dev:
        return None
    for wg in host.wireguard:
        if wg.name == dev:
            return "inferred from the ruleset" if wg.inferred else f"`wg show` lists {dev}"
    link = host.link(dev)
    if link is not None and link.kind == "wireguard":
        return f"`ip -d link` says {dev} is of kind wireguard"
    if _WG_NAME.search(dev) and (link is None or link.link_type in (None, "none")):
        return (f"its name {dev!r} says WireGuard" +
                (" and it is a point-to-point device without link-layer address" if link else ""))
    return None


def _single_addr(v: object) -> IPAddress | None:
    if isinstance(v, str):
        try:
            return ipaddress.ip_address(v)
        except ValueError:
            return None
    return None


def infer_from_ruleset(host: Host) -> list[tuple[IPAddress, int, int | None, str]]:
    """Endpoint candidates ``(addr, port, mark, origin)`` found in the nft ruleset."""
    out: list[tuple[IPAddress, int, int | None, str]] = []
    if host.ruleset is None:
        return out
    for chain, rule in host.ruleset.rules():
        daddr = saddr = None
        dport = sport = None
        mark_match = mark_set = None
        for st in rule.exprs:
            if isinstance(st, rs.Match) and st.op == "==":
                left = st.left
                if isinstance(left, rs.Payload):
                    if left.protocol in ("ip", "ip6") and left.field == "daddr":
                        daddr = _single_addr(st.right)
                    elif left.protocol in ("ip", "ip6") and left.field == "saddr":
                        saddr = _single_addr(st.right)
                    elif left.protocol == "udp" and left.field == "dport" and isinstance(st.right, int):
                        dport = st.right
                    elif left.protocol == "udp" and left.field == "sport" and isinstance(st.right, int):
                        sport = st.right
                elif isinstance(left, rs.Meta) and left.key == "mark" and isinstance(st.right, int):
                    mark_match = st.right
            elif isinstance(st, rs.Mangle) and isinstance(st.key, rs.Meta) and st.key.key == "mark" \
                    and isinstance(st.value, int):
                mark_set = st.value
        if daddr is not None and dport is not None and chain.hook in ("output", None):
            out.append((daddr, dport, mark_match, str(rule.origin)))
        elif saddr is not None and sport is not None and chain.hook in ("prerouting", "input", None):
            out.append((saddr, sport, mark_set, str(rule.origin)))
    # output rules first (they say where the tunnel sends), then the most corroborated
    counts: dict[tuple[IPAddress, int], int] = {}
    for a, p, _m, _o in out:
        counts[(a, p)] = counts.get((a, p), 0) + 1
    out.sort(key=lambda c: (-counts[(c[0], c[1])], c[2] is None))
    return out


def fwmark_from_rules(host: Host, dev: str) -> tuple[int, str] | None:
    """The ``not fwmark M lookup T`` rule whose table T routes into ``dev``: M is
    the mark that keeps the tunnel's own packets out of the tunnel."""
    for rule in host.rules:
        if rule.invert and rule.fwmark is not None and rule.table is not None:
            if any(r.table == rule.table and r.dev == dev for r in host.routes):
                return rule.fwmark, (f"ip rule {rule.pref} `not fwmark {rule.fwmark:#x}` sends everything "
                                     f"else to table {rule.table}, which routes into {dev} "
                                     f"({rule.origin})")
    return None


def wg_device(host: Host, dev: str, *, endpoint: tuple[IPAddress, int] | None = None,
              fwmark: int | None = None) -> WgDevice | None:
    """What is known about WireGuard device ``dev`` (None if it is not one)."""
    how = is_wireguard(host, dev)
    if how is None and endpoint is None:
        return None
    if how is None:
        how = "--endpoint was given for it"
    known: WgInterface | None = next((w for w in host.wireguard if w.name == dev and not w.inferred), None)
    inferred_wg: WgInterface | None = next((w for w in host.wireguard if w.name == dev and w.inferred), None)
    peers: tuple[WgPeer, ...] = ()
    peers_how = ""
    listen_port = None
    fw: int | None = None
    fw_how = ""
    if known is not None:
        peers, peers_how = known.peers, f"`wg show` ({known.origin})"
        listen_port = known.listen_port
        fw, fw_how = known.fwmark, f"`wg show` fwmark ({known.origin})"
    inferred = known is None
    if endpoint is not None:
        peers = (WgPeer(public_key="(given)", endpoint=endpoint,
                     allowed_ips=peers[0].allowed_ips if len(peers) == 1 else ()),) if len(peers) <= 1 \
            else tuple(p if p.endpoint != endpoint else p for p in peers)
        peers_how = "--endpoint"
    elif not peers and inferred_wg is not None:
        peers, peers_how = inferred_wg.peers, f"inferred ({inferred_wg.origin})"
        listen_port = inferred_wg.listen_port
        if inferred_wg.fwmark:
            fw, fw_how = inferred_wg.fwmark, f"inferred ({inferred_wg.origin})"
    elif not peers:
        cands = infer_from_ruleset(host)
        if cands:
            addr, port, mark, origin = cands[0]
            origins = [c[3] for c in cands if (c[0], c[1]) == (addr, port)]
            peers = (WgPeer(public_key="(inferred)", endpoint=(addr, port)),)
            peers_how = (f"inferred from the firewall rule{'s' if len(origins) > 1 else ''} at "
                         f"{', '.join(origins)} that let{'' if len(origins) > 1 else 's'} UDP to/from "
                         f"{addr}:{port} through (no `wg show` in the dump)")
            marks = {c[2] for c in cands if (c[0], c[1]) == (addr, port) and c[2] is not None}
            if len(marks) == 1 and fw is None:
                fw = marks.pop()
                fw_how = (f"inferred from the mark the rule{'s' if len(origins) > 1 else ''} at "
                          f"{', '.join(origins)} match or set")
                agree = fwmark_from_rules(host, dev)
                if agree is not None and agree[0] == fw:
                    fw_how += f"; it agrees with {agree[1]}"
    if fwmark is not None:
        fw, fw_how = fwmark, "--wg-fwmark"
    if fw is None:
        found = fwmark_from_rules(host, dev)
        if found is not None:
            fw, fw_how = found[0], "inferred: " + found[1]
    if fw is None:
        fw, fw_how = 0, "unknown (no `wg show`, no --wg-fwmark, nothing in the rules): 0 assumed"
    if not peers and host.dumped and "wg" not in host.dumped:
        # `wg show` was not pasted: its peers are unknown, not absent (wgexplain.evidence)
        peers, peers_how = (WgPeer(public_key=ASSUMED_PEER),), "assumed: `wg show` was not pasted"
    return WgDevice(dev, how, fw, fw_how, listen_port, peers, peers_how or "unknown", inferred)


def allowedips_lookup(dev: WgDevice, addr: IPAddress) -> PeerChoice:
    """``wg_allowedips_lookup_dst()``: the peer whose allowed-ips hold ``addr``
    most specifically. Peers known only by inference have unknown allowed-ips:
    the single such peer is then assumed to take everything, and we say so."""
    best: tuple[int, WgPeer] | None = None
    for peer in dev.peers:
        for net in peer.allowed_ips:
            if net.version == addr.version and addr in net:
                if best is None or net.prefixlen > best[0]:
                    best = (net.prefixlen, peer)
    if best is not None:
        peer = best[1]
        nets = ", ".join(str(n) for n in peer.allowed_ips if addr in n) if peer.allowed_ips else ""
        return PeerChoice(peer, None, f"peer {_short(peer.public_key)} has allowed-ips {nets} holding {addr}")
    unknown = [p for p in dev.peers if not p.allowed_ips]
    if len(unknown) == 1 and len(dev.peers) == 1:
        return PeerChoice(unknown[0], None,
                          f"the peer's allowed-ips are not in the dump; assumed to hold {addr} "
                          f"(VPN clients use 0.0.0.0/0 and ::/0)", assumed=True)
    if not dev.peers:
        return PeerChoice(None, "ENOKEY", f"{dev.name} has no peer known: no key to encrypt for {addr}")
    return PeerChoice(None, "ENOKEY", f"no peer of {dev.name} has allowed-ips holding {addr}: "
                                      f"wg_xmit() drops the packet (-ENOKEY)")


def peer_for_source(dev: WgDevice, endpoint: tuple[IPAddress, int]) -> WgPeer | None:
    """The peer an encrypted packet from ``endpoint`` comes from (its roaming endpoint)."""
    for peer in dev.peers:
        if peer.endpoint is not None and peer.endpoint[0] == endpoint[0] and peer.endpoint[1] == endpoint[1]:
            return peer
    return None


def devices_with_endpoint(host: Host, addr: IPAddress, port: int | None,
                          endpoint: tuple[IPAddress, int] | None = None,
                          fwmark: int | None = None) -> list[WgDevice]:
    """WireGuard devices whose peer (known or inferred) has endpoint ``addr[:port]``."""
    out = []
    for link in host.links:
        d = wg_device(host, link.name, endpoint=endpoint, fwmark=fwmark)
        if d is None:
            continue
        for p in d.peers:
            if p.endpoint is not None and p.endpoint[0] == addr and (port is None or p.endpoint[1] == port):
                out.append(d)
                break
    return out


def _short(key: str) -> str:
    return key if len(key) <= 12 else key[:8] + "…"


def net_contains(nets: tuple[IPNetwork, ...], addr: IPAddress) -> bool:
    return any(n.version == addr.version and addr in n for n in nets)
