"""The nf_tables rule evaluator: one base chain, one packet.

Mirrors ``nft_do_chain()`` (net/netfilter/nf_tables_core.c): rules in order,
the expressions of a rule in order; a failing match breaks to the next rule
(``NFT_BREAK``); ``jump`` pushes a return point, ``goto`` does not, ``return``
(or the end of a regular chain) pops it; the end of the base chain applies
its policy. ``accept`` ends *this chain only*: the next base chain of the same
hook still runs (nf_hook_slow, see nf_hooks.py).

Expressions follow their kernel evaluators: ``nft_meta_get_eval()``,
``nft_ct_get_eval()``, ``nft_payload_eval()``, ``nft_fib4_eval()``,
``nft_socket_eval()``, ``nft_bitwise_eval()``, ``nft_lookup_eval()`` (sets,
maps and verdict maps are looked up in a dict or by bisection over sorted
intervals, never scanned, as the kernel's hash and rbtree sets are),
``nft_range_eval()``, ``nft_cmp_eval()``. Statements: ``nft_meta_set_eval()``,
``nft_ct_set_eval()``, ``nft_nat_eval()``, ``nft_masq_eval()``,
``nft_redir_eval()``, ``nft_reject_inet_eval()``, ``nft_notrack_eval()``.

Whatever is not modelled raises :class:`Unmodelled`; the rule is then taken
as not matching and the caller records an ``unmodelled`` step: never a silent
guess.
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

from wgexplain.kernel.conntrack import CT_STATE_BITS, CT_DIRECTIONS
from wgexplain.kernel.skb import Skb
from wgexplain.model import AF_INET, AF_INET6, Host, Origin
from wgexplain import ruleset as rs

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""The value of an expression that could not load: ``NFT_BREAK`` in the kernel."""

_MAX_JUMP_DEPTH = 16  # NFT_JUMP_STACK_SIZE

#: Well-known service names nft prints for ports (/etc/services subset).
SERVICES = {
    "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67, "bootpc": 68,
    "tftp": 69, "http": 80, "www": 80, "pop3": 110, "ntp": 123, "imap": 143, "snmp": 161,
    "ldap": 389, "https": 443, "submission": 587, "imaps": 993, "pop3s": 995,
    "dhcpv6-client": 546, "dhcpv6-server": 547, "isakmp": 500, "ipsec-nat-t": 4500,
    "openvpn": 1194, "wireguard": 51820, "mdns": 5353, "http-alt": 8080, "syslog": 514,
}

#: ARPHRD_* for meta iiftype/oiftype.
ARPHRD = {"ether": 1, "loopback": 772, "none": 65534, "ppp": 512, "ipip": 768, "sit": 776}

# nft reject / icmpx code → the errno a local sender sees (icmp_err_convert[], net/ipv4/icmp.c)
_ICMP_ERRNO = {
    "net-unreachable": "ENETUNREACH", "host-unreachable": "EHOSTUNREACH",
    "prot-unreachable": "ENOPROTOOPT", "port-unreachable": "ECONNREFUSED",
    "frag-needed": "EMSGSIZE", "net-prohibited": "EHOSTUNREACH",
    "host-prohibited": "EHOSTUNREACH", "admin-prohibited": "EHOSTUNREACH",
    "no-route": "ENETUNREACH", "addr-unreachable": "EHOSTUNREACH",
    "policy-fail": "EHOSTUNREACH", "reject-route": "EHOSTUNREACH",
}


class Unmodelled(Exception):
    """An expression or statement the simulator does not model."""


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RejectInfo:
    """What ``reject`` sends back (nft_reject_inet.c) and what a local sender sees.

    ``errno`` applies to a *locally generated* packet refused in output:
    EPERM for everything dropped before it left (UDP, ICMP: ``ip_local_out``
    returns -EPERM for NF_DROP), ECONNREFUSED for a TCP connect answered by
    a reset or ICMP port-unreachable (icmp_err_convert), EHOSTUNREACH for
    admin-prohibited; confirmed in a namespace (LAB-NOTES).
    """

    type: str  # "icmp", "icmpv6", "icmpx", "tcp reset"
    code: str | None
    errno_tcp: str
    errno_other: str = "EPERM"

    def describe(self) -> str:
        if self.type == "tcp reset":
            return "reject with tcp reset"
        return f"reject with {self.type} {self.code}"


@dataclass(frozen=True, slots=True)
class NatRequest:
    """A NAT statement that ran (``nft_nat_eval()`` etc.), to be bound by nat.py."""

    kind: str  # snat, dnat, masquerade, redirect
    addr: Any = None
    port: int | None = None
    text: str = ""
    origin: str = ""
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule whose matches all held (its statements ran)."""

    table: str
    chain: str
    index: int  # 1-based position in its chain
    rule: rs.Rule
    why: str
    effects: tuple[str, ...]
    verdict: str | None


@dataclass(slots=True)
class ChainResult:
    """The outcome of ``nft_do_chain()`` for one base chain.

    ``verdict`` is accept, drop, reject, queue; ``by_policy`` when the base
    chain's policy decided. ``hits`` lists the rules that matched, in order
    (including those in jumped-to chains); ``unmodelled`` what could not be
    evaluated.
    """

    verdict: str
    hits: list[RuleHit] = field(default_factory=list)
    by_policy: bool = False
    reject: RejectInfo | None = None
    nat: NatRequest | None = None
    unmodelled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    evaluated: int = 0
    chain_path: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Values: loading from the packet, normalising constants
# ---------------------------------------------------------------------------

_ADDR_FIELDS = {("ip", "saddr"), ("ip", "daddr"), ("ip6", "saddr"), ("ip6", "daddr")}
_NAME_META = {"iifname", "oifname", "ibrname", "obrname", "iifkind", "oifkind", "sdifname",
              "ibriport", "obriport"}
_INDEX_META = {"iif", "oif", "sdif"}


def value_kind(left: Any) -> Any:
    """How constants compared with ``left`` are normalised: addr, name, ifindex, int, path,
    or a tuple of those for a concatenation."""
    if isinstance(left, rs.Concat):
        return tuple(value_kind(e) for e in left.exprs)
    if isinstance(left, rs.Binop):
        return value_kind(left.left)
    if isinstance(left, rs.Payload):
        return "addr" if (left.protocol, left.field) in _ADDR_FIELDS else "int"
    if isinstance(left, rs.Ct):
        if left.key in ("saddr", "daddr", "ip saddr", "ip daddr", "ip6 saddr", "ip6 daddr"):
            return "addr"
        if left.key == "helper":
            return "name"
        return "int"
    if isinstance(left, rs.Meta):
        if left.key in _NAME_META:
            return "name"
        if left.key in _INDEX_META:
            return "ifindex"
        return "int"
    if isinstance(left, rs.Fib):
        return {"oifname": "name", "oif": "ifindex"}.get(left.result, "int")
    if isinstance(left, rs.Rt):
        return "addr" if left.key == "nexthop" else "int"
    if isinstance(left, rs.Socket):
        return "path" if left.key == "cgroupv2" else "int"
    return "int"


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s, 0)
        except ValueError:
            pass
        if s in SERVICES:
            return SERVICES[s]
        if s in ARPHRD:
            return ARPHRD[s]
        try:  # an address compared as a number (rare: bitwise on addresses)
            return int(ipaddress.ip_address(s))
        except ValueError:
            pass
    raise Unmodelled(f"value {v!r} (not a number this simulator knows)")


def _to_addr(v: Any) -> Any:
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v
    try:
        return ipaddress.ip_address(str(v))
    except ValueError:
        raise Unmodelled(f"address {v!r} (host names are not resolved)") from None


@dataclass(frozen=True, slots=True)
class Interval:
    """An inclusive [lo, hi] of normalised values (a prefix, a range, a wildcard name)."""

    lo: Any
    hi: Any

    def __contains__(self, v: Any) -> bool:  # type: ignore[override]
        try:
            return self.lo <= v <= self.hi
        except TypeError:
            return False


def normalise(kind: Any, raw: Any, left: Any = None) -> Any:
    """A right-hand constant as the value the packet's field is compared with.

    Returns a scalar, or an :class:`Interval` for prefixes, ranges and
    ``eth*`` wildcards, or a tuple for concatenations.
    """
    if left is not None and not isinstance(left, rs.Concat):
        raw = rs.resolve_constant(left, raw)
    if isinstance(kind, tuple):
        parts = raw.exprs if isinstance(raw, rs.Concat) else raw
        if not isinstance(parts, (tuple, list)) or len(parts) != len(kind):
            raise Unmodelled(f"concatenation value {raw!r}")
        lefts = left.exprs if isinstance(left, rs.Concat) else (None,) * len(kind)
        return tuple(normalise(k, p, l) for k, p, l in zip(kind, parts, lefts))
    if isinstance(raw, rs.Elem):
        return normalise(kind, raw.val, left)
    if isinstance(raw, rs.Prefix):
        if kind == "addr":
            net = ipaddress.ip_network(f"{raw.addr}/{raw.len}", strict=False)
            return Interval(net.network_address, net.broadcast_address)
        base = _to_int(raw.addr)
        width = 32
        span = (1 << (width - raw.len)) - 1
        return Interval(base & ~span, (base & ~span) | span)
    if isinstance(raw, rs.Range):
        return Interval(normalise(kind, raw.lo, left), normalise(kind, raw.hi, left))
    if isinstance(raw, rs.FlagList):
        out = 0
        for v in raw.values:
            out |= _to_int(normalise(kind, v, left))
        return out
    if kind == "addr":
        return _to_addr(raw)
    if kind in ("name", "ifindex"):
        s = str(raw)
        if kind == "name" and s.endswith("*") and not s.endswith("\\*"):
            return Interval(s[:-1], s[:-1] + "\U0010ffff")
        return s.replace("\\*", "*")
    if kind == "path":
        return str(raw).strip("/")
    if isinstance(raw, bool):
        return raw
    return _to_int(raw)


# ---------------------------------------------------------------------------
# Sets and maps: looked up, never scanned
# ---------------------------------------------------------------------------


class CompiledSet:
    """A set, map or verdict map ready for ``nft_lookup_eval()``.

    Exact keys go to a dict (the kernel's hash set); single-field intervals
    (prefixes, ranges, wildcards) to a sorted array searched by bisection
    (the kernel's rbtree set). Concatenations holding intervals (the
    kernel's pipapo set) are matched field by field over their elements:
    that one case is a scan.
    """

    __slots__ = ("exact", "starts", "ivals", "concat", "size")

    def __init__(self, kind: Any, elements: tuple[Any, ...], left: Any) -> None:
        self.exact: dict[Any, Any] = {}
        ivals: list[tuple[Any, Any, Any]] = []
        self.concat: list[tuple[tuple[Any, ...], Any]] = []
        for el in elements:
            data: Any = True
            key = el
            if isinstance(el, rs.MapElem):
                key, data = el.key, el.data
            elif isinstance(el, (list, tuple)) and len(el) == 2 and not isinstance(kind, tuple):
                key, data = el
            if isinstance(key, rs.Elem):
                key = key.val
            val = normalise(kind, key, left)
            if isinstance(val, Interval):
                ivals.append((val.lo, val.hi, data))
            elif isinstance(val, tuple) and any(isinstance(p, Interval) for p in val):
                self.concat.append((val, data))
            else:
                self.exact[val] = data
        ivals.sort(key=lambda t: (_sort_key(t[0])))
        self.ivals = ivals
        self.starts = [_sort_key(t[0]) for t in ivals]
        self.size = len(elements)

    def lookup(self, value: Any) -> tuple[bool, Any]:
        """``nft_lookup_eval()``: (found, data)."""
        try:
            if value in self.exact:
                return True, self.exact[value]
        except TypeError:
            pass
        if self.ivals:
            k = _sort_key(value)
            i = bisect.bisect_right(self.starts, k) - 1
            # intervals do not overlap in nft sets; check the nearest few for safety
            while i >= 0:
                lo, hi, data = self.ivals[i]
                if _sort_key(lo) <= k <= _sort_key(hi):
                    return True, data
                if _sort_key(hi) < k and i < len(self.ivals) - 1:
                    break
                i -= 1
                if len(self.ivals) - i > 4:
                    break
        for parts, data in self.concat:
            if len(parts) == len(value) and all(
                (v in p) if isinstance(p, Interval) else (v == p) for p, v in zip(parts, value)
            ):
                return True, data
        return False, None


def _sort_key(v: Any) -> Any:
    """Total order across values of one set (addresses of both families, ints, names)."""
    if isinstance(v, ipaddress.IPv4Address):
        return (4, int(v))
    if isinstance(v, ipaddress.IPv6Address):
        return (6, int(v))
    if isinstance(v, int):
        return (0, v)
    return (1, str(v))


# ---------------------------------------------------------------------------
# The evaluation context
# ---------------------------------------------------------------------------


class NftContext:
    """Per-ruleset state: compiled rules and sets, plus the host for fib/oif lookups."""

    def __init__(self, host: Host, ruleset: rs.Ruleset) -> None:
        self.host = host
        self.ruleset = ruleset
        self._rules: dict[int, list[Callable[..., Any]]] = {}
        self._sets: dict[tuple[int, Any], CompiledSet] = {}
        self._keep: list[Any] = []  # keeps id()-keyed objects alive
        self.link_names = {l.name for l in host.links}
        self.tables: dict[tuple[str, str], rs.Table] = {(t.family, t.name): t for t in ruleset.tables}

    def compiled_set(self, table: rs.Table, ref: Any, left: Any) -> CompiledSet:
        kind = value_kind(left)
        if isinstance(ref, rs.SetRef):
            obj = table.set(ref.name)
            if obj is None:
                raise Unmodelled(f"set @{ref.name.lstrip('@')} (not in table {table.family} {table.name})")
        else:
            obj = ref
        key = (id(obj), kind if not isinstance(left, rs.Meta) or left.key not in _INDEX_META else "ifindex")
        cs = self._sets.get(key)
        if cs is None:
            elements = obj.elements if not isinstance(obj, rs.SetLiteral) else obj.elements
            cs = CompiledSet(kind, tuple(elements), left)
            self._sets[key] = cs
            self._keep.append(obj)
        return cs

    def device_exists(self, name: str) -> bool:
        """Whether ``oif "X"`` can still match: its stored ifindex must be a live device."""
        return not self.link_names or name in self.link_names


_CONTEXTS: dict[int, tuple[Host, rs.Ruleset, NftContext]] = {}


def context_for(host: Host, ruleset: rs.Ruleset) -> NftContext:
    """The cached :class:`NftContext` of a (host, ruleset) pair."""
    hit = _CONTEXTS.get(id(ruleset))
    if hit is not None and hit[0] is host and hit[1] is ruleset:
        return hit[2]
    ctx = NftContext(host, ruleset)
    if len(_CONTEXTS) > 16:
        _CONTEXTS.clear()
    _CONTEXTS[id(ruleset)] = (host, ruleset, ctx)
    return ctx


@dataclass(slots=True)
class Eval:
    """One packet's pass through one hook: what expressions may consult."""

    ctx: NftContext
    skb: Skb
    hook: str
    table: rs.Table
    chain_type: str | None = None
    unmodelled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Loading expressions
# ---------------------------------------------------------------------------


def load(expr: Any, ev: Eval) -> Any:
    """The value of an expression for this packet, or MISSING (``NFT_BREAK``)."""
    if isinstance(expr, (int, str, bool)) or expr is None:
        return expr
    if isinstance(expr, rs.Meta):
        return _meta(expr.key, ev)
    if isinstance(expr, rs.Payload):
        return _payload(expr, ev.skb)
    if isinstance(expr, rs.Ct):
        return _ct(expr, ev.skb)
    if isinstance(expr, rs.Binop):
        return _binop(expr, ev)
    if isinstance(expr, rs.Concat):
        vals = tuple(load(e, ev) for e in expr.exprs)
        return MISSING if any(v is MISSING for v in vals) else vals
    if isinstance(expr, rs.Fib):
        return _fib(expr, ev)
    if isinstance(expr, rs.Socket):
        return _socket(expr, ev.skb)
    if isinstance(expr, rs.Rt):
        return _rt(expr, ev.skb)
    if isinstance(expr, rs.MapLookup):
        key = load(expr.key, ev)
        if key is MISSING:
            return MISSING
        found, data = ev.ctx.compiled_set(ev.table, expr.map, expr.key).lookup(key)
        return data if found else MISSING
    kind = type(expr).__name__.lower()
    raise Unmodelled(f"{kind} expression {getattr(expr, 'kind', '') or ''}".strip())


def _meta(key: str, ev: Eval) -> Any:
    skb = ev.skb
    if key == "mark":
        return skb.mark
    if key in ("iif", "iifname"):
        return skb.iif or ""  # nft_meta_store_ifindex/ifname store 0 / "" without a device
    if key in ("oif", "oifname"):
        return skb.oif or ""
    if key in ("iiftype", "oiftype"):
        dev = skb.iif if key == "iiftype" else skb.oif
        link = ev.ctx.host.link(dev) if dev else None
        if link is None or link.link_type is None:
            raise Unmodelled(f"meta {key} (device type unknown)")
        return ARPHRD.get(link.link_type, -1)
    if key in ("iifgroup", "oifgroup"):
        dev = skb.iif if key == "iifgroup" else skb.oif
        link = ev.ctx.host.link(dev) if dev else None
        return link.group if link else MISSING
    if key in ("iifkind", "oifkind"):
        dev = skb.iif if key == "iifkind" else skb.oif
        link = ev.ctx.host.link(dev) if dev else None
        if link is None or link.kind is None:
            raise Unmodelled(f"meta {key} (device kind not in the dump)")
        return link.kind
    if key in ("l4proto",):
        return skb.l4proto if skb.l4proto is not None else MISSING
    if key == "nfproto":
        return 2 if skb.family == AF_INET else 10
    if key == "protocol":
        return 0x0800 if skb.family == AF_INET else 0x86DD
    if key == "length":
        return skb.length
    if key == "priority":
        return skb.priority
    if key == "pkttype":
        return rs.PKTTYPES.get(skb.pkttype, 0)
    if key == "nftrace":
        return int(skb.nftrace)
    if key in ("skuid", "skgid"):
        if skb.sk is None:
            return MISSING  # nft_meta_get_eval_skugid: no socket -> NFT_BREAK
        return skb.sk.uid if key == "skuid" else skb.sk.gid
    if key == "cgroup":
        if skb.sk is None:
            return MISSING
        return skb.sk.classid
    raise Unmodelled(f"meta {key}")


_L4_WITH_PORTS = {6, 17, 33, 132, 136}


def _payload(p: rs.Payload, skb: Skb) -> Any:
    proto, f = p.protocol, p.field
    if proto is None:
        raise Unmodelled(f"raw payload @{p.base},{p.offset},{p.length}")
    if proto == "ip":
        if skb.family != AF_INET:
            return MISSING
        return _ip_field(f, skb, 4)
    if proto == "ip6":
        if skb.family != AF_INET6:
            return MISSING
        return _ip_field(f, skb, 6)
    if proto in ("tcp", "udp", "udplite", "sctp", "dccp", "th"):
        num = {"tcp": 6, "udp": 17, "udplite": 136, "sctp": 132, "dccp": 33}.get(proto)
        if num is not None and skb.l4proto != num:
            return MISSING
        if proto == "th" and skb.l4proto not in _L4_WITH_PORTS:
            return MISSING
        if f == "sport":
            return skb.sport if skb.sport is not None else MISSING
        if f == "dport":
            return skb.dport if skb.dport is not None else MISSING
        if proto == "tcp" and f == "flags":
            return skb.tcp_flags if skb.tcp_flags is not None else MISSING
        if proto == "udp" and f == "length":
            return skb.length - (20 if skb.family == AF_INET else 40)
        raise Unmodelled(f"{proto} {f}")
    if proto in ("icmp", "icmpv6"):
        num = 1 if proto == "icmp" else 58
        if skb.l4proto != num:
            return MISSING
        if f == "type":
            return skb.icmp_type if skb.icmp_type is not None else MISSING
        if f == "code":
            return skb.icmp_code if skb.icmp_code is not None else 0
        raise Unmodelled(f"{proto} {f}")
    raise Unmodelled(f"{proto} {f} (header not modelled)")


def _ip_field(f: str | None, skb: Skb, version: int) -> Any:
    if f == "saddr":
        return skb.src if skb.src is not None else MISSING
    if f == "daddr":
        return skb.dst
    if f in ("protocol", "nexthdr"):
        return skb.l4proto if skb.l4proto is not None else MISSING
    if f == "dscp":
        return skb.tos >> 2
    if f == "ecn":
        return skb.tos & 3
    if f in ("ttl", "hoplimit"):
        return skb.ttl
    if f == "version":
        return version
    if f in ("length", "payload length"):
        return skb.length
    if f == "flowlabel":
        return 0
    raise Unmodelled(f"ip {f}")


def _ct(c: rs.Ct, skb: Skb) -> Any:
    ct = skb.ct
    if c.key == "state":
        if ct is None:
            return CT_STATE_BITS["untracked"]
        return ct.state_bit
    if ct is None or ct.conn is None:
        return MISSING  # nft_ct_get_eval: no conntrack -> NFT_BREAK
    conn = ct.conn
    if c.key == "mark":
        return conn.mark
    if c.key == "status":
        return conn.status_bits()
    if c.key == "direction":
        return CT_DIRECTIONS[ct.direction]
    if c.key == "zone":
        return conn.zone
    if c.key in ("l3proto",):
        return 2 if skb.family == AF_INET else 10
    if c.key in ("protocol", "proto"):
        return conn.original.proto if conn.original.proto is not None else MISSING
    tup = conn.original if (c.dir or "original") == "original" else conn.reply
    key = c.key.split()[-1]
    if key == "saddr":
        return tup.src
    if key == "daddr":
        return tup.dst
    if key == "proto-src":
        return tup.sport if tup.sport is not None else MISSING
    if key == "proto-dst":
        return tup.dport if tup.dport is not None else MISSING
    raise Unmodelled(f"ct {c.key}")


def _binop(b: rs.Binop, ev: Eval) -> Any:
    left = load(b.left, ev)
    if left is MISSING:
        return MISSING
    right = load(b.right, ev)
    if right is MISSING:
        return MISSING
    is_addr = isinstance(left, (ipaddress.IPv4Address, ipaddress.IPv6Address))
    lv = int(left) if is_addr else _to_int(left)
    rv = int(ipaddress.ip_address(right)) if is_addr and isinstance(right, str) else _to_int(right)
    ops = {"&": lambda a, c: a & c, "|": lambda a, c: a | c, "^": lambda a, c: a ^ c,
           "<<": lambda a, c: (a << c) & 0xFFFFFFFF, ">>": lambda a, c: a >> c}
    if b.op not in ops:
        raise Unmodelled(f"bitwise operator {b.op}")
    out = ops[b.op](lv, rv)
    return ipaddress.ip_address(out) if is_addr and not isinstance(left, ipaddress.IPv6Address) \
        else (ipaddress.IPv6Address(out) if is_addr else out)


def _fib(f: rs.Fib, ev: Eval) -> Any:
    """``nft_fib4_eval()`` / ``nft_fib6_eval()``: a FIB lookup from the packet's addresses."""
    skb = ev.skb
    flags = set(f.flags)
    addr = skb.src if "saddr" in flags else skb.dst
    if addr is None:
        return MISSING
    if f.result == "type":
        return _addr_type(ev.ctx.host, addr)
    from wgexplain.kernel.route import lookup  # late: route.py is a sibling module
    from wgexplain.model import Flow

    other = skb.dst if "saddr" in flags else skb.src
    flow = Flow(dst=addr, src=other if other is not None and "daddr" in flags else None,
                mark=skb.mark if "mark" in flags else 0)
    res = lookup(ev.ctx.host, flow)
    if getattr(res, "error", None) or res.type != "unicast" or res.dev is None:
        found = ""
    else:
        found = res.dev
        want = skb.iif if "iif" in flags else (skb.oif if "oif" in flags else None)
        if want is not None and found != want:
            found = ""
    if f.result == "oif":
        return found
    if f.result == "oifname":
        return found
    raise Unmodelled(f"fib {f.result}")


def _addr_type(host: Host, addr: Any) -> int:
    """``inet_addr_type()``: the type of the route for ``addr`` in table local."""
    if addr.is_multicast:
        return rs.FIB_TYPES["multicast"]
    if addr.version == 4 and addr == ipaddress.IPv4Address("255.255.255.255"):
        return rs.FIB_TYPES["broadcast"]
    for a in host.addresses:
        if a.ip == addr:
            return rs.FIB_TYPES["local"]
        if a.family == AF_INET and a.broadcast is not None and a.broadcast == addr:
            return rs.FIB_TYPES["broadcast"]
    if addr.is_loopback:
        return rs.FIB_TYPES["local"]
    return rs.FIB_TYPES["unicast"]


def _socket(s: rs.Socket, skb: Skb) -> Any:
    sk = skb.sk
    if sk is None:
        return MISSING
    if s.key == "cgroupv2":
        if sk.cgroupv2 is None:
            return MISSING
        parts = [p for p in sk.cgroupv2.strip("/").split("/") if p]
        level = s.level or 0
        if len(parts) < level:
            return MISSING
        return "/".join(parts[:level])
    if s.key == "mark":
        return sk.mark
    if s.key in ("transparent", "wildcard"):
        return 0
    raise Unmodelled(f"socket {s.key}")


def _rt(r: rs.Rt, skb: Skb) -> Any:
    route = skb.route
    if route is None:
        return MISSING
    if r.key == "nexthop":
        gw = getattr(route, "gateway", None)
        return gw if gw is not None else skb.dst
    raise Unmodelled(f"rt {r.key}")


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------


def match(m: rs.Match, ev: Eval) -> bool:
    """``nft_cmp_eval()`` / ``nft_range_eval()`` / ``nft_lookup_eval()`` for one relation."""
    value = load(m.left, ev)
    if value is MISSING:
        return False
    op = m.op
    right = m.right
    if isinstance(right, (rs.SetLiteral, rs.SetRef)):
        cs = ev.ctx.compiled_set(ev.table, right, m.left)
        found, _ = cs.lookup(value)
        return found if op in ("==", "in") else (not found if op == "!=" else _bad_op(op))
    if isinstance(right, bool) or right in ("exists", "missing"):
        present = value not in (0, "", None)
        want = right is True or right == "exists"
        return present == want if op != "!=" else present != want
    kind = value_kind(m.left)
    rv = normalise(kind, right, m.left)
    if kind == "ifindex" and isinstance(rv, str) and not ev.ctx.device_exists(rv):
        ev.notes.append(f'"{rv}" does not exist: a rule matching its index (iif/oif) matches nothing')
        return op == "!="
    # Flag tests (nft's implicit match on a bitmask type): "in" = any of these bits
    # set (`ct state established,related`), "!" = none of them (`ct status ! dnat`).
    # A plain "!=" is a plain inequality: nft compiles `ct state != established` to
    # `cmp neq` (tests/test_nft_model.py::test_match_operators_mean_what_the_kernel_runs).
    if op in ("in", "!"):
        bits = _to_int(value) & _to_int(rv)
        return bits != 0 if op == "in" else bits == 0
    if isinstance(rv, Interval):
        inside = value in rv
        return inside if op == "==" else (not inside if op == "!=" else _bad_op(op))
    if isinstance(rv, tuple):
        eq = len(rv) == len(value) and all(
            (v in p) if isinstance(p, Interval) else (v == p) for p, v in zip(rv, value))
        return eq if op == "==" else (not eq if op == "!=" else _bad_op(op))
    try:
        if op == "==":
            return value == rv
        if op == "!=":
            return value != rv
        if op == "<":
            return value < rv
        if op == ">":
            return value > rv
        if op == "<=":
            return value <= rv
        if op == ">=":
            return value >= rv
    except TypeError:
        return False
    return _bad_op(op)


def _bad_op(op: str) -> bool:
    raise Unmodelled(f"relational operator {op!r}")


# ---------------------------------------------------------------------------
# Explaining
# ---------------------------------------------------------------------------


def expr_text(e: Any) -> str:
    """A short nft-like spelling of a left-hand expression."""
    if isinstance(e, rs.Meta):
        bare = ("iif", "oif", "iifname", "oifname", "iiftype", "oiftype", "iifgroup", "oifgroup")
        return e.key if e.key in bare else f"meta {e.key}"
    if isinstance(e, rs.Payload):
        return f"{e.protocol} {e.field}" if e.protocol else f"@{e.base},{e.offset},{e.length}"
    if isinstance(e, rs.Ct):
        return " ".join(x for x in ("ct", e.dir, e.key) if x)
    if isinstance(e, rs.Binop):
        return f"{expr_text(e.left)} {e.op} {fmt_value(e.right)}"
    if isinstance(e, rs.Concat):
        return " . ".join(expr_text(x) for x in e.exprs)
    if isinstance(e, rs.Fib):
        return f"fib {' . '.join(e.flags)} {e.result}"
    if isinstance(e, rs.Socket):
        return f"socket {e.key}" + (f" level {e.level}" if e.level is not None else "")
    if isinstance(e, rs.Rt):
        return f"rt {e.key}"
    return fmt_value(e)


def fmt_value(v: Any, left: Any = None) -> str:
    if v is MISSING:
        return "absent"
    if isinstance(left, (rs.Meta, rs.Ct)) and getattr(left, "key", "") == "mark" and isinstance(v, int):
        return f"{v:#010x}"
    if isinstance(left, rs.Meta) and left.key == "cgroup" and isinstance(v, int):
        return f"{v} ({v:#x})"
    if isinstance(left, rs.Ct) and left.key == "state" and isinstance(v, int):
        names = [n for n, b in CT_STATE_BITS.items() if v & b]
        return ",".join(names) or str(v)
    if isinstance(left, (rs.Meta, rs.Payload)) and isinstance(v, int):
        key = getattr(left, "key", None) if isinstance(left, rs.Meta) else left.field
        if key in ("l4proto", "protocol", "nexthdr"):
            from wgexplain.kernel.skb import proto_name
            return proto_name(v) or str(v)
    if isinstance(v, str):
        return f'"{v}"' if v else '"" (no device)'
    if isinstance(v, tuple):
        lefts = left.exprs if isinstance(left, rs.Concat) else (None,) * len(v)
        return " . ".join(fmt_value(x, l) for x, l in zip(v, lefts))
    return str(v)


def _why_matched(rule: rs.Rule, ev: Eval) -> str:
    parts = []
    for st in rule.exprs:
        if isinstance(st, rs.Vmap):
            try:
                value = load(st.key, ev)
            except Unmodelled:
                continue
            where = f"@{st.map.name.lstrip('@')}" if isinstance(st.map, rs.SetRef) else "the map"
            parts.append(f"{expr_text(st.key)} is {fmt_value(value, st.key)}, found in {where}")
        elif isinstance(st, rs.Match):
            try:
                value = load(st.left, ev)
            except Unmodelled:
                continue
            parts.append(f"{expr_text(st.left)} is {fmt_value(value, st.left)}")
    return "; ".join(parts) if parts else "the rule has no conditions"


# ---------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class _RuleOutcome:
    matched: bool
    verdict: rs.Verdict | None = None
    effects: list[str] = field(default_factory=list)
    reject: RejectInfo | None = None
    nat: NatRequest | None = None
    special: str | None = None  # "reject", "queue", "nat-accept", "nat-drop"


def _reject_info(st: rs.Reject, skb: Skb, table_family: str) -> RejectInfo:
    """``nft_reject_inet_eval()`` and nft's default: icmpx port-unreachable in inet,
    icmp(v6) port-unreachable in ip/ip6."""
    rtype = st.type
    code = st.code if isinstance(st.code, str) else (None if st.code is None else str(st.code))
    if rtype in (None, ""):
        if table_family == "inet":
            rtype, code = "icmpx", "port-unreachable"
        else:
            rtype = "icmpv6" if skb.family == AF_INET6 else "icmp"
            code = "port-unreachable"
    if rtype in ("tcp reset", "tcp-reset", "tcp rst"):
        if skb.l4proto != 6:
            # nft refuses `reject with tcp reset` without a tcp dependency; should not happen
            return RejectInfo("tcp reset", None, "ECONNREFUSED")
        return RejectInfo("tcp reset", None, "ECONNREFUSED")
    if code is None:
        code = "port-unreachable"
    return RejectInfo(rtype, code, _ICMP_ERRNO.get(code, "EHOSTUNREACH"))


def _set_value(st: rs.Mangle, ev: Eval) -> str:
    """``nft_meta_set_eval()`` / ``nft_ct_set_eval()`` / ``nft_payload_set_eval()``."""
    skb = ev.skb
    value = load(st.value, ev)
    if value is MISSING:
        # e.g. `meta mark set ct mark` without conntrack: the register load breaks the rule
        raise _Break()
    key = st.key
    if isinstance(key, rs.Meta):
        if key.key == "mark":
            old, skb.mark = skb.mark, _to_int(value)
            return f"meta mark {old:#x} -> {skb.mark:#x}"
        if key.key == "priority":
            skb.priority = _to_int(value)
            return f"meta priority set {skb.priority}"
        if key.key == "nftrace":
            skb.nftrace = bool(_to_int(value))
            return "meta nftrace set"
        if key.key == "pkttype":
            skb.pkttype = {v: k for k, v in rs.PKTTYPES.items()}.get(_to_int(value), "host")
            return f"meta pkttype set {skb.pkttype}"
        raise Unmodelled(f"meta {key.key} set")
    if isinstance(key, rs.Ct):
        ct = skb.ct
        if ct is None or ct.conn is None:
            return f"ct {key.key} set: no effect (the packet has no conntrack entry)"
        if key.key == "mark":
            old = ct.conn.mark
            ct.conn.mark = _to_int(value)
            return f"ct mark {old:#x} -> {ct.conn.mark:#x}"
        if key.key == "zone":
            ct.conn.zone = _to_int(value)
            return f"ct zone set {ct.conn.zone} (only takes effect before conntrack, priority < -200)"
        raise Unmodelled(f"ct {key.key} set")
    if isinstance(key, rs.Payload):
        f = (key.protocol, key.field)
        if f in (("ip", "saddr"), ("ip6", "saddr")):
            old_addr, skb.src = skb.src, _to_addr(value)
            return f"{key.protocol} saddr {old_addr} -> {skb.src}"
        if f in (("ip", "daddr"), ("ip6", "daddr")):
            old_addr, skb.dst = skb.dst, _to_addr(value)
            return f"{key.protocol} daddr {old_addr} -> {skb.dst}"
        if key.field == "dscp":
            skb.tos = (_to_int(value) << 2) | (skb.tos & 3)
            return f"{key.protocol} dscp set {_to_int(value)}"
        if key.field in ("ttl", "hoplimit"):
            skb.ttl = _to_int(value)
            return f"{key.protocol} {key.field} set {skb.ttl}"
        if key.field in ("sport", "dport"):
            setattr(skb, key.field, _to_int(value))
            return f"{key.protocol} {key.field} set {_to_int(value)}"
        raise Unmodelled(f"{key.protocol} {key.field} set")
    raise Unmodelled(f"set statement on {type(key).__name__}")


class _Break(Exception):
    pass


def _nat_request(st: rs.Nat, ev: Eval, rule: rs.Rule) -> NatRequest | None:
    skb = ev.skb
    if st.family and st.family in ("ip", "ip6"):
        want = AF_INET if st.family == "ip" else AF_INET6
        if skb.family != want:
            return None  # nft_nat_inet_eval: another family's nat statement is skipped
    addr: Any = None
    note = None
    if st.addr is not None:
        a: Any = st.addr  # an expression, or what load() made of it
        if isinstance(a, (rs.MapLookup, rs.Meta, rs.Payload, rs.Ct, rs.Concat)):
            a = load(a, ev)
            if a is MISSING:
                raise _Break()
        if isinstance(a, tuple):  # map with address . port data
            a, port_v = a[0], a[1]
            return NatRequest(st.kind, _to_addr(a), _to_int(port_v), rule.text, str(rule.origin))
        if isinstance(a, rs.Range):
            note = (f"{st.kind} to a range: the kernel picks an address in "
                    f"{a.lo}-{a.hi} by hashing the tuple; the first one is shown")
            a = a.lo
        elif isinstance(a, rs.Prefix):
            note = f"{st.kind} to a prefix: the first address of {a.addr}/{a.len} is shown"
            a = a.addr
        addr = _to_addr(a)
    port = None
    if st.port is not None:
        p: Any = st.port  # an expression, or what load() made of it
        if isinstance(p, rs.Range):
            note = (note + "; " if note else "") + "port range: the first port is shown"
            p = p.lo
        elif not isinstance(p, (int, str)):
            p = load(p, ev)
            if p is MISSING:
                raise _Break()
        port = _to_int(p)
    return NatRequest(st.kind, addr, port, rule.text, str(rule.origin), note)


def eval_rule(rule: rs.Rule, ev: Eval) -> _RuleOutcome:
    """Evaluate one rule's expressions in order (the inner loop of ``nft_do_chain()``)."""
    out = _RuleOutcome(matched=False)
    skb = ev.skb
    for st in rule.exprs:
        if isinstance(st, rs.Match):
            if not match(st, ev):
                return out
            continue
        if isinstance(st, rs.Verdict):
            out.matched = True
            out.verdict = st
            return out
        if isinstance(st, rs.Counter):
            continue
        if isinstance(st, rs.Log):
            out.effects.append("log" + (f' prefix "{st.prefix}"' if st.prefix else ""))
            continue
        if isinstance(st, rs.Limit):
            if st.inv:
                ev.notes.append(f"limit rate over {st.rate}/{st.per}: assumed not exceeded, so the rule does not match")
                return out
            ev.notes.append(f"limit rate {st.rate}/{st.per}: assumed not exceeded (rates are not simulated)")
            continue
        if isinstance(st, rs.Quota):
            if st.inv:
                ev.notes.append("quota over: assumed not used up, so the rule does not match")
                return out
            ev.notes.append("quota: assumed not used up")
            continue
        if isinstance(st, rs.Mangle):
            try:
                out.effects.append(_set_value(st, ev))
            except _Break:
                return out
            continue
        if isinstance(st, rs.Notrack):
            if skb.ct is not None and skb.ct.state != "untracked":
                out.effects.append("notrack: no effect, the packet already has a conntrack entry "
                                   "(notrack works only before priority -200)")
            else:
                from wgexplain.kernel.conntrack import CtInfo
                skb.ct = CtInfo("untracked", "original", None)
                out.effects.append("notrack: the packet will not be tracked")
            continue
        if isinstance(st, rs.Reject):
            out.matched = True
            out.reject = _reject_info(st, skb, ev.table.family)
            out.special = "reject"
            out.effects.append(out.reject.describe())
            return out
        if isinstance(st, rs.Nat):
            if ev.chain_type != "nat":
                raise Unmodelled(f"{st.kind} outside a nat chain")
            try:
                req = _nat_request(st, ev, rule)
            except _Break:
                return out
            if req is None:
                continue
            out.matched = True
            out.nat = req
            out.special = "nat"
            return out
        if isinstance(st, rs.Vmap):
            key = load(st.key, ev)
            if key is MISSING:
                return out
            found, data = ev.ctx.compiled_set(ev.table, st.map, st.key).lookup(key)
            if not found:
                return out
            out.matched = True
            out.verdict = data if isinstance(data, rs.Verdict) else rs.Verdict(str(data))
            out.effects.append(f"vmap: {fmt_value(key, st.key)} -> {out.verdict.kind}"
                               + (f" {out.verdict.target}" if out.verdict.target else ""))
            return out
        if isinstance(st, rs.Queue):
            raise Unmodelled("queue (the verdict is given by a userspace program)")
        if isinstance(st, (rs.SetStatement, rs.MapStatement)):
            ev.notes.append(f"{st.op} to a set: not kept between packets (not modelled)")
            continue
        if isinstance(st, rs.ObjectRef):
            ev.notes.append(f"{st.kind} object: not modelled, no effect on the verdict assumed")
            continue
        if isinstance(st, rs.Unknown):
            raise Unmodelled(f"statement {st.kind}")
        raise Unmodelled(f"statement {type(st).__name__}")
    out.matched = True
    return out


# ---------------------------------------------------------------------------
# The chain walk
# ---------------------------------------------------------------------------


def nft_do_chain(ctx: NftContext, chain: rs.Chain, skb: Skb, hook: str) -> ChainResult:
    """``nft_do_chain()``: run a base chain (and what it jumps to) for ``skb``."""
    table = ctx.tables[(chain.family, chain.table)]
    ev = Eval(ctx, skb, hook, table, chain.type)
    result = ChainResult(verdict="accept")
    stack: list[tuple[rs.Chain, int]] = []
    cur, idx = chain, 0
    result.chain_path.append(chain.name)
    while True:
        rules = cur.rules
        jumped = False
        while idx < len(rules):
            rule = rules[idx]
            idx += 1
            result.evaluated += 1
            try:
                out = eval_rule(rule, ev)
            except Unmodelled as exc:
                result.unmodelled.append(f"{table.family} {table.name} {cur.name} rule {idx} "
                                         f"({rule.text.strip()}, {rule.origin}): not modelled: {exc}; "
                                         f"taken as not matching")
                continue
            if not out.matched:
                continue
            v = out.verdict
            verdict_name = v.kind if v else ("reject" if out.special == "reject" else
                                             ("accept" if out.special == "nat" else None))
            hit = RuleHit(f"{table.family} {table.name}", cur.name, idx, rule,
                          _why_matched(rule, ev), tuple(out.effects), verdict_name)
            result.hits.append(hit)
            if out.special == "reject":
                result.verdict, result.reject = "reject", out.reject
                break
            if out.special == "nat":
                result.verdict, result.nat = "accept", out.nat
                break
            if v is None or v.kind == "continue":
                continue
            if v.kind in ("accept", "drop"):
                result.verdict = v.kind
                break
            if v.kind == "queue":
                result.unmodelled.append("queue verdict: decided by userspace (not modelled)")
                result.verdict = "accept"
                break
            if v.kind == "return":
                if not stack:
                    idx = len(rules)  # return from a base chain: its policy applies
                    continue
                cur, idx = stack.pop()
                jumped = True
                break
            if v.kind in ("jump", "goto"):
                target = table.chain(v.target or "")
                if target is None:
                    result.unmodelled.append(f"{v.kind} to unknown chain {v.target}")
                    continue
                if v.kind == "jump":
                    if len(stack) >= _MAX_JUMP_DEPTH:
                        result.unmodelled.append("jump stack deeper than 16")
                        result.verdict = "drop"
                        break
                    stack.append((cur, idx))
                cur, idx = target, 0
                result.chain_path.append(target.name)
                jumped = True
                break
            result.unmodelled.append(f"verdict {v.kind}")
        else:
            # end of chain: a regular chain returns to its caller, a base chain applies its policy
            if stack:
                cur, idx = stack.pop()
                continue
            result.verdict = chain.effective_policy
            result.by_policy = True
            break
        if jumped:
            continue
        break
    result.unmodelled.extend(ev.unmodelled)
    result.notes.extend(dict.fromkeys(ev.notes))
    return result


def origin_text(origin: Origin) -> str:
    return str(origin)
