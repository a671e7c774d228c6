"""The packet in flight: ``struct sk_buff`` plus the ``nf_hook_state`` around it.

Unlike the frozen model, an :class:`Skb` is mutable on purpose: netfilter
rewrites the mark, the addresses and the conntrack entry as the packet
moves, exactly as the kernel writes into ``skb->mark`` or the IP header.
path.py copies it (:meth:`Skb.clone`) wherever it needs to remember a
previous state (``nf_route_table_hook4`` compares before and after).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from wgexplain.kernel.conntrack import CtInfo
from wgexplain.model import AF_INET, IPAddress

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58

PROTO_NAMES: dict[int, str] = {
    1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 33: "dccp", 41: "ipv6", 47: "gre",
    50: "esp", 51: "ah", 58: "icmpv6", 132: "sctp", 136: "udplite",
}
PROTO_NUMBERS: dict[str, int] = {v: k for k, v in PROTO_NAMES.items()}
PROTO_NUMBERS["ipv6-icmp"] = 58


def proto_number(proto: str | int | None) -> int | None:
    """``ipproto`` as iproute2 accepts it: a name or a number."""
    if proto is None or isinstance(proto, int):
        return proto
    p = proto.strip().lower()
    if p.isdigit():
        return int(p)
    if p in PROTO_NUMBERS:
        return PROTO_NUMBERS[p]
    raise ValueError(f"unknown protocol {proto!r}")


def proto_name(proto: int | None) -> str | None:
    if proto is None:
        return None
    return PROTO_NAMES.get(proto, str(proto))


@dataclass(slots=True)
class Sock:
    """What the kernel knows about the sending socket (``struct sock``).

    ``classid`` is the net_cls cgroup classid (``sock_cgroup_classid()``),
    ``cgroupv2`` the cgroup v2 path, ``mark`` the ``SO_MARK``.
    """

    uid: int = 0
    gid: int = 0
    classid: int = 0
    cgroupv2: str | None = None
    mark: int = 0
    bound_dev: str | None = None


@dataclass(slots=True)
class Skb:
    """One packet (``struct sk_buff``) and where it is (``struct nf_hook_state``).

    ``iif``/``oif`` are ``state->in`` / ``state->out``: device names, None
    where the hook has no such device (no ``iif`` on output).
    """

    family: int
    src: IPAddress | None
    dst: IPAddress
    l4proto: int | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    tcp_flags: int | None = None
    tos: int = 0
    ttl: int = 64
    length: int = 84
    mark: int = 0
    iif: str | None = None
    oif: str | None = None
    pkttype: str = "host"
    sk: Sock | None = None
    ct: CtInfo | None = None
    priority: int = 0
    nftrace: bool = False
    #: the route attached to the packet (``skb_dst()``), a RouteResult
    route: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_ipv4(self) -> bool:
        return self.family == AF_INET

    def clone(self) -> "Skb":
        return dataclasses.replace(self, extra=dict(self.extra))

    def describe(self) -> str:
        proto = proto_name(self.l4proto) or "ip"
        ports = ""
        if self.sport is not None or self.dport is not None:
            ports = f" sport {self.sport if self.sport is not None else '*'}" \
                    f" dport {self.dport if self.dport is not None else '*'}"
        return f"{proto} {self.src or '?'} -> {self.dst}{ports} mark {self.mark:#x}"
