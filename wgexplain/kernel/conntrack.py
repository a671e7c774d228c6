"""Connection tracking: the ``struct nf_conn`` a packet belongs to.

Mirrors net/netfilter/nf_conntrack_core.c: ``nf_conntrack_in()`` attaches a
connection to the packet at the conntrack hook (priority -200 in prerouting
and output, ``NF_IP_PRI_CONNTRACK``) and ``__nf_conntrack_confirm()`` commits
it at ``NF_IP_PRI_CONNTRACK_CONFIRM`` (INT_MAX) in postrouting and input.

The simulator never keeps a table of connections across traces: a packet
of an *established* connection gets the :class:`Conn` its first packet
built (path.py replays that first packet to learn the ct mark and the NAT
binding), which is what the kernel's hash lookup would find.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from wgexplain.model import IPAddress

# ``ct state`` bits as nft prints them (include/uapi/linux/netfilter/nf_conntrack_common.h:
# NF_CT_STATE_BIT(ctinfo) and NF_CT_STATE_UNTRACKED_BIT).
CT_STATE_BITS: dict[str, int] = {
    "invalid": 1,
    "established": 2,
    "related": 4,
    "new": 8,
    "untracked": 64,
}

# ``ct status`` bits (enum ip_conntrack_status, IPS_*).
CT_STATUS_BITS: dict[str, int] = {
    "expected": 1 << 0,
    "seen-reply": 1 << 1,
    "assured": 1 << 2,
    "confirmed": 1 << 3,
    "snat": 1 << 4,
    "dnat": 1 << 5,
    "seq-adjust": 1 << 6,
    "snat-done": 1 << 7,
    "dnat-done": 1 << 8,
    "dying": 1 << 9,
    "fixed-timeout": 1 << 10,
    "template": 1 << 11,
    "nat-clash": 1 << 12,
    "helper": 1 << 13,
    "offload": 1 << 14,
    "hw-offload": 1 << 15,
}

CT_DIRECTIONS = {"original": 0, "reply": 1}


@dataclass(frozen=True, slots=True)
class CtTuple:
    """One direction of a connection (``struct nf_conntrack_tuple``)."""

    src: IPAddress
    dst: IPAddress
    proto: int | None
    sport: int | None = None
    dport: int | None = None

    def inverted(self) -> "CtTuple":
        """``nf_ct_invert_tuple()``: the tuple a reply packet carries."""
        return CtTuple(self.dst, self.src, self.proto, self.dport, self.sport)

    def __str__(self) -> str:
        ports = "".join(f" {k}={v}" for k, v in (("sport", self.sport), ("dport", self.dport))
                        if v is not None)
        return f"src={self.src} dst={self.dst}{ports}"


@dataclass(frozen=True, slots=True)
class NatBinding:
    """A NAT manip set up by ``nf_nat_setup_info()``: which side, and to what.

    ``kind`` is ``snat`` (source manip: snat, masquerade) or ``dnat``
    (destination manip: dnat, redirect); ``statement`` is the nft text that
    made it, ``origin`` where that rule is in the user's dump.
    """

    kind: str
    addr: IPAddress
    port: int | None = None
    statement: str = ""
    origin: str = ""


@dataclass(slots=True)
class Conn:
    """A tracked connection (``struct nf_conn``).

    Mutable on purpose, like the kernel's: the first packet's journey writes
    its ct mark and NAT binding while it is still unconfirmed.
    """

    original: CtTuple
    reply: CtTuple
    mark: int = 0
    zone: int = 0
    status: set[str] = field(default_factory=set)
    snat: NatBinding | None = None
    dnat: NatBinding | None = None
    #: the manips already decided (``nf_nat_initialized()``): "snat", "dnat"
    nat_done: set[str] = field(default_factory=set)

    @classmethod
    def new(cls, tup: CtTuple, zone: int = 0) -> "Conn":
        """``init_conntrack()``: a new connection whose reply is the inverted tuple."""
        return cls(original=tup, reply=tup.inverted(), zone=zone)

    def copy(self) -> "Conn":
        return dataclasses.replace(self, status=set(self.status), nat_done=set(self.nat_done))

    def status_bits(self) -> int:
        bits = 0
        for name in self.status:
            bits |= CT_STATUS_BITS.get(name, 0)
        if self.snat is not None:
            bits |= CT_STATUS_BITS["snat"]
        if self.dnat is not None:
            bits |= CT_STATUS_BITS["dnat"]
        return bits


@dataclass(slots=True)
class CtInfo:
    """What ``nf_ct_get()`` returns for a packet: the connection and ``ctinfo``.

    ``state`` is one of new, established, related, invalid, untracked;
    ``direction`` original or reply. ``conn`` is None for invalid and
    untracked packets.
    """

    state: str
    direction: str = "original"
    conn: Conn | None = None

    @property
    def state_bit(self) -> int:
        return CT_STATE_BITS[self.state]

    def describe(self) -> str:
        if self.conn is None:
            return f"ct state {self.state}"
        return (f"ct state {self.state}, direction {self.direction}, ct mark {self.conn.mark:#010x}, "
                f"original {self.conn.original}, reply {self.conn.reply}")


def nf_conntrack_in(tup: CtTuple, state: str, prior: Conn | None, zone: int = 0) -> CtInfo:
    """``nf_conntrack_in()``: the connection a packet with tuple ``tup`` belongs to.

    ``state`` is what the caller says the packet is (``new`` or
    ``established``); ``prior`` the connection its first packet built, when
    known. A reply-direction packet matches ``prior.reply``; an
    original-direction one ``prior.original``.
    """
    if state == "new" or prior is None:
        conn = Conn.new(tup, zone)
        return CtInfo("new" if state == "new" else state, "original", conn)
    direction = "reply" if tup == prior.reply else "original"
    conn = prior.copy()
    conn.status |= {"confirmed", "seen-reply"}
    return CtInfo(state, direction, conn)
