"""The nftables ruleset model: plain, immutable data shaped like ``nft -j``.

Every class mirrors one object of the libnftables JSON schema
(libnftables-json(5)) and, behind it, one kernel structure: :class:`Table`
is a ``struct nft_table``, :class:`Chain` a ``struct nft_chain`` /
``nft_base_chain`` (net/netfilter/nf_tables_api.c), :class:`Rule` a
``struct nft_rule`` whose expressions ``nft_do_chain()``
(net/netfilter/nf_tables_core.c) evaluates in order.

Conventions (shared by the text and the JSON reader, ``sources/nft.py``):

* Immediate values keep the JSON's representation: numbers as ``int``,
  symbolic constants and addresses as ``str`` (``"established"``,
  ``"nd-router-solicit"``, ``"10.64.0.1"``), quoted strings without quotes
  (``"wg-mullvad"``). :func:`resolve_constant` turns symbolic constants into
  the numbers the kernel compares.
* :class:`Match` ``op`` follows the JSON: ``"=="`` is equality, or set
  membership when the right side is a :class:`SetLiteral` / :class:`SetRef`;
  ``"in"`` is the implicit bitmask test (``ct state established,related``:
  ``left & right != 0``); ``"!"`` is its negation, none of the bits set
  (``ct status ! dnat``, ``tcp flags ! fin,rst``: ``left & right == 0``);
  ``"!="`` is plain inequality, also on flags (``ct state != established``
  is ``cmp neq`` in the kernel: established,related passes). Checked with
  ``nft --debug=netlink`` on this kernel (tests/test_nft_kernel.py).
* Family defaults are explicit, as ``nft -j`` lists them: a bare ``reject``
  in an inet table is ``Reject("icmpx", "port-unreachable")`` (ip: icmp,
  ip6: icmpv6); a packet :class:`Limit` without ``burst`` has burst 5, a
  byte limit burst 0 (``nft_limit_init()``).
* Times (set and element timeouts) are milliseconds.
* A chain binding (``jump { ... }``) becomes a regular chain named
  ``__chainN`` in its table, and the verdict jumps to it.
* Anything not modelled is kept as :class:`Unknown` (its canonical JSON), so
  nothing is dropped silently; ``unmodelled()`` lists it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Union

from wgexplain.model import NO_ORIGIN, Origin

FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")

# ---------------------------------------------------------------------------
# Expressions (left-hand sides and values)
# ---------------------------------------------------------------------------

#: An immediate value exactly as nft's JSON gives it.
Value = Union[str, int, bool, None]


@dataclass(frozen=True, slots=True)
class Payload:
    """Packet header field (``nft_payload``): ``ip saddr``, ``th dport``.

    Raw payload (``@nh,16,8``) has ``protocol``/``field`` None and
    ``base`` (ll, nh, th, ih), ``offset`` and ``length`` in bits.
    """

    protocol: str | None
    field: str | None
    base: str | None = None
    offset: int | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Exthdr:
    """Extension header / option (``nft_exthdr``).

    ``kind`` is the JSON key: ``exthdr`` (IPv6 ext headers: hbh, rt, frag,
    dst, mh, srh), ``tcp option``, ``ip option``, ``sctp chunk``,
    ``dccp option``. ``field`` None means an existence test.
    """

    kind: str
    name: str | None
    field: str | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Meta:
    """Packet metadata (``nft_meta_get_eval()``): mark, iif, oifname, l4proto, cgroup, ..."""

    key: str


@dataclass(frozen=True, slots=True)
class Ct:
    """Conntrack key (``nft_ct_get_eval()``): state, mark, status, original saddr, ..."""

    key: str
    dir: str | None = None  # original / reply
    family: str | None = None  # ip / ip6 (``ct original ip saddr``)


@dataclass(frozen=True, slots=True)
class Fib:
    """FIB lookup (``nft_fib4_eval()``): ``fib saddr . iif oif``."""

    result: str  # oif, oifname, type
    flags: tuple[str, ...] = ()  # saddr, daddr, mark, iif, oif


@dataclass(frozen=True, slots=True)
class Socket:
    """Socket lookup (``nft_socket_eval()``): transparent, mark, wildcard, cgroupv2 level N."""

    key: str
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Rt:
    """Routing info of the packet (``nft_rt_get_eval()``): classid, nexthop, mtu, ipsec."""

    key: str
    family: str | None = None


@dataclass(frozen=True, slots=True)
class Osf:
    """Passive OS fingerprint (``nft_osf_eval()``)."""

    key: str
    ttl: str | None = None


@dataclass(frozen=True, slots=True)
class Ipsec:
    """IPsec state of the packet (``nft_xfrm_get_eval()``)."""

    key: str
    dir: str | None = None
    spnum: int | None = None
    family: str | None = None


@dataclass(frozen=True, slots=True)
class Numgen:
    """Number generator (``nft_ng_inc_eval()`` / random)."""

    mode: str  # inc, random
    mod: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Jhash:
    """Jenkins hash of an expression (``nft_jhash_eval()``)."""

    expr: "Expr"
    mod: int
    seed: int | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Symhash:
    """Symmetric skb hash (``nft_symhash_eval()``)."""

    mod: int
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Binop:
    """Bitwise operation (``nft_bitwise_eval()``): ``meta mark & 0xff00``.

    ``op`` is one of ``&``, ``|``, ``^``, ``<<``, ``>>``; ``left`` the
    expression, ``right`` the operand (JSON: ``{"&": [left, right]}``).
    """

    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True, slots=True)
class Concat:
    """Concatenation ``ip saddr . tcp dport`` (registers laid side by side)."""

    exprs: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Prefix:
    """``10.0.0.0/8`` (``addr`` kept as JSON gives it, usually a string)."""

    addr: "Expr"
    len: int


@dataclass(frozen=True, slots=True)
class Range:
    """``22-25``, ``10.0.0.1-10.0.0.9`` (inclusive)."""

    lo: "Expr"
    hi: "Expr"


@dataclass(frozen=True, slots=True)
class FlagList:
    """A comma list of bitmask flags (``ct state established,related``,
    ``tcp flags syn,ack``): JSON's plain array; the bits are OR-ed."""

    values: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Elem:
    """A set element carrying options (JSON ``elem``): timeout/expires in ms."""

    val: "Expr"
    timeout: int | None = None
    expires: int | None = None
    comment: str | None = None
    counter: "Counter | None" = None
    stmts: tuple["Stmt", ...] = ()  # per-element statements (limit, quota)


@dataclass(frozen=True, slots=True)
class MapElem:
    """``key : data`` inside a map or verdict map (JSON: ``[key, data]``)."""

    key: "Expr"
    data: "Expr"


@dataclass(frozen=True, slots=True)
class SetLiteral:
    """An anonymous set ``{ a, b, 1-5 }`` (or anonymous map when its
    elements are :class:`MapElem`)."""

    elements: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class SetRef:
    """A named set or map, ``@name`` (JSON: ``"@name"``)."""

    name: str


@dataclass(frozen=True, slots=True)
class MapLookup:
    """``key map { ... }`` / ``key map @m``: the data of the matching element."""

    key: "Expr"
    map: "SetLiteral | SetRef"


@dataclass(frozen=True, slots=True)
class UnknownExpr:
    """An expression this model does not know: ``kind`` and canonical JSON."""

    kind: str
    json: str


# ---------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A relational expression (``nft_cmp_eval()``, ``nft_lookup_eval()``,
    ``nft_range_eval()``, bitmask via ``nft_bitwise`` + cmp).

    ``op``: ``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=``, ``in`` (any bit
    of right set) or ``!`` (no bit of right set): JSON semantics, see the
    module docstring.
    """

    left: "Expr"
    op: str
    right: "Expr"


@dataclass(frozen=True, slots=True)
class Verdict:
    """``accept``, ``drop``, ``continue``, ``return``, ``jump X``, ``goto X``
    (``nft_immediate_eval()`` setting ``regs->verdict``); also the data of
    verdict-map elements."""

    kind: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Counter:
    """``counter packets N bytes M`` (anonymous) or ``counter name "x"``."""

    packets: int | None = None
    bytes: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Mangle:
    """``meta mark set X``, ``ct mark set meta mark``, ``ip dscp set 1``
    (``nft_meta_set_eval()``, ``nft_ct_set_eval()``, ``nft_payload_set_eval()``)."""

    key: "Expr"
    value: "Expr"


@dataclass(frozen=True, slots=True)
class Nat:
    """``snat``/``dnat``/``masquerade``/``redirect`` (net/netfilter/nft_nat.c,
    nft_masq.c, nft_redir.c)."""

    kind: str
    addr: "Expr | None" = None
    port: "Expr | None" = None
    flags: tuple[str, ...] = ()
    family: str | None = None
    type_flags: tuple[str, ...] = ()  # "prefix", "interval" (``snat ip prefix to``)


@dataclass(frozen=True, slots=True)
class Reject:
    """``reject [with tcp reset | icmp X | icmpv6 X | icmpx X]`` (nft_reject_inet.c).

    ``type`` None is the default (ICMP port-unreachable / ICMPv6
    port-unreachable, TCP reset not implied)."""

    type: str | None = None
    code: "Expr | None" = None


@dataclass(frozen=True, slots=True)
class Log:
    """``log prefix "x" level warn group 1 ...`` (nft_log.c)."""

    prefix: str | None = None
    group: int | None = None
    snaplen: int | None = None
    queue_threshold: int | None = None
    level: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit rate [over] N/unit [burst B packets]`` (nft_limit.c) or ``limit name "x"``."""

    rate: int | None = None
    per: str | None = None
    rate_unit: str = "packets"
    burst: int | None = None
    burst_unit: str | None = None
    inv: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    """``quota [over] N unit [used M unit]`` (nft_quota.c) or ``quota name "x"``."""

    val: int | None = None
    val_unit: str | None = None
    used: int | None = None
    used_unit: str | None = None
    inv: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Queue:
    """``queue [flags bypass,fanout] [num N]`` (nft_queue.c)."""

    num: "Expr | None" = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notrack:
    """``notrack`` (nft_ct.c ``nft_notrack_eval()``)."""


@dataclass(frozen=True, slots=True)
class SetStatement:
    """``add @s { ip saddr }`` / ``update @s { ip saddr timeout 10s }``
    (``nft_dynset_eval()``); ``stmts`` are per-element statements."""

    op: str  # add, update, delete
    set: str  # "@name"
    elem: "Expr"
    stmts: tuple["Stmt", ...] = ()


@dataclass(frozen=True, slots=True)
class MapStatement:
    """``add @m { ip saddr : 1 }`` / ``update @m { ... }`` on a map (``nft_dynset_eval()``)."""

    op: str
    map: str
    elem: "Expr"
    data: "Expr"
    stmts: tuple["Stmt", ...] = ()


@dataclass(frozen=True, slots=True)
class Vmap:
    """``key vmap { k : verdict, ... }`` / ``key vmap @m`` (``nft_lookup_eval()``
    with verdict data)."""

    key: "Expr"
    map: "SetLiteral | SetRef"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Reference to a stateful object set by a rule: ``ct helper set "ftp"``,
    ``ct timeout set``, ``ct expectation set``, ``synproxy name``,
    ``secmark name`` (nft_objref.c). ``name`` may be an expression (map)."""

    kind: str
    name: "Expr"


@dataclass(frozen=True, slots=True)
class Unknown:
    """A statement this model does not know, kept as canonical JSON."""

    kind: str
    json: str


Expr = Union[
    Value, Payload, Exthdr, Meta, Ct, Fib, Socket, Rt, Osf, Ipsec, Numgen, Jhash, Symhash,
    Binop, Concat, Prefix, Range, FlagList, Elem, MapElem, SetLiteral, SetRef, MapLookup,
    Verdict, UnknownExpr,
]
Stmt = Union[
    Match, Verdict, Counter, Mangle, Nat, Reject, Log, Limit, Quota, Queue, Notrack,
    SetStatement, MapStatement, Vmap, ObjectRef, Unknown,
]

# ---------------------------------------------------------------------------
# Objects of a table
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule (``struct nft_rule``): statements in order.

    ``text`` is the canonical text form as ``nft list ruleset`` prints it
    (for text input: the line read; for JSON input: rendered), used in
    explanations; ``origin`` the file:line it came from.
    """

    exprs: tuple[Stmt, ...]
    handle: int | None = None
    comment: str | None = None
    text: str = ""
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain (``struct nft_chain``); a base chain iff ``hook`` is set.

    ``priority`` is the number the kernel orders hooks by
    (``nf_register_net_hook()``): named priorities are resolved the way nft
    does (:func:`resolve_priority`); ``priority_text`` keeps the spelling.
    """

    name: str
    table: str
    family: str
    type: str | None = None  # filter, nat, route
    hook: str | None = None
    priority: int | None = None
    priority_text: str | None = None
    device: tuple[str, ...] = ()
    policy: str | None = None  # accept, drop (base chains; None = accept)
    rules: tuple[Rule, ...] = ()
    handle: int | None = None
    comment: str | None = None
    flags: tuple[str, ...] = ()
    origin: Origin = NO_ORIGIN

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    @property
    def effective_policy(self) -> str:
        return self.policy or "accept"


@dataclass(frozen=True, slots=True)
class _NamedSet:
    """What sets and maps share: in the kernel both are a ``struct nft_set``, a map
    being a set with ``NFT_SET_MAP`` and a data type (``nf_tables_newset()``)."""

    name: str
    table: str
    family: str
    type: str | tuple[str, ...] | None = None
    flags: tuple[str, ...] = ()
    elements: tuple[Expr, ...] = ()
    timeout: int | None = None
    gc_interval: int | None = None
    size: int | None = None
    policy: str | None = None
    auto_merge: bool = False
    comment: str | None = None
    typeof: str | None = None
    handle: int | None = None
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class Set(_NamedSet):
    """A named set (``struct nft_set``). ``type`` is a datatype name, or a
    tuple for concatenations (``ipv4_addr . inet_service``); ``typeof`` keeps
    the ``typeof`` expression text when the set was declared that way.
    Timeouts are in milliseconds, as in the JSON."""


@dataclass(frozen=True, slots=True)
class Map(_NamedSet):
    """A named map or verdict map: like :class:`Set`, plus ``map`` the data
    type (``"verdict"``, ``"mark"``, ``"ipv4_addr"``...); elements are
    :class:`MapElem`."""

    map: str | tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Flowtable:
    """A flowtable (``struct nft_flowtable``): ingress hook on ``devices``."""

    name: str
    table: str
    family: str
    hook: str | None = None
    priority: int | None = None
    priority_text: str | None = None
    devices: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    handle: int | None = None
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class NamedObject:
    """A stateful object (``struct nft_object``): counter, quota, limit,
    ct helper, ct timeout, ct expectation, secmark, synproxy.
    ``fields`` are the JSON members other than family/table/name/handle,
    sorted, values as canonical JSON text."""

    kind: str
    name: str
    table: str
    family: str
    fields: tuple[tuple[str, str], ...] = ()
    handle: int | None = None
    origin: Origin = NO_ORIGIN

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self.fields:
            if k == key:
                return json.loads(v)
        return default


@dataclass(frozen=True, slots=True)
class Table:
    """A table (``struct nft_table``) of one family."""

    family: str
    name: str
    chains: tuple[Chain, ...] = ()
    sets: tuple[Set, ...] = ()
    maps: tuple[Map, ...] = ()
    flowtables: tuple[Flowtable, ...] = ()
    objects: tuple[NamedObject, ...] = ()
    flags: tuple[str, ...] = ()
    handle: int | None = None
    comment: str | None = None
    origin: Origin = NO_ORIGIN

    def chain(self, name: str) -> Chain | None:
        for c in self.chains:
            if c.name == name:
                return c
        return None

    def set(self, name: str) -> Set | Map | None:
        """The named set or map (``@name`` in a rule)."""
        name = name.lstrip("@")
        for s in self.sets:
            if s.name == name:
                return s
        for m in self.maps:
            if m.name == name:
                return m
        return None


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The whole ruleset (``nft list ruleset``)."""

    tables: tuple[Table, ...] = ()
    origin: Origin = NO_ORIGIN

    def table(self, family: str, name: str) -> Table | None:
        for t in self.tables:
            if t.family == family and t.name == name:
                return t
        return None

    def base_chains(self, hook: str | None = None) -> list[Chain]:
        """Base chains (optionally of one hook) in the order the kernel
        runs them: by priority, stable (``nf_register_net_hook()`` keeps
        registration order for equal priorities)."""
        out = [c for t in self.tables for c in t.chains
               if c.hook is not None and (hook is None or c.hook == hook)]
        return sorted(out, key=lambda c: c.priority if c.priority is not None else 0)

    def rules(self) -> Iterator[tuple[Chain, Rule]]:
        for t in self.tables:
            for c in t.chains:
                for r in c.rules:
                    yield c, r

    def to_json(self) -> dict[str, Any]:
        """The ruleset as ``nft -j list ruleset`` would print it."""
        from wgexplain.sources.nft import ruleset_to_json

        return ruleset_to_json(self)

    def summary(self) -> list[str]:
        """One line per table/chain/set, then the rules, for ``wgexplain show``."""
        lines: list[str] = []
        for t in self.tables:
            lines.append(f"table {t.family} {t.name}" + (f" (flags {','.join(t.flags)})" if t.flags else ""))
            for s in t.sets:
                typ = " . ".join(map(str, s.type)) if isinstance(s.type, tuple) else s.type
                lines.append(f"  set {s.name}: type {typ}, {len(s.elements)} elements"
                             + (f", flags {','.join(s.flags)}" if s.flags else ""))
            for m in t.maps:
                typ = " . ".join(map(str, m.type)) if isinstance(m.type, tuple) else m.type
                data = " . ".join(map(str, m.map)) if isinstance(m.map, tuple) else m.map
                lines.append(f"  map {m.name}: {typ} : {data}, {len(m.elements)} elements")
            for f in t.flowtables:
                lines.append(f"  flowtable {f.name}: hook {f.hook} priority {f.priority} "
                             f"devices {', '.join(f.devices)}")
            for o in t.objects:
                lines.append(f"  {o.kind} {o.name}")
            for c in t.chains:
                if c.is_base:
                    dev = f" device {','.join(c.device)}" if c.device else ""
                    lines.append(f"  chain {c.name}: type {c.type} hook {c.hook}{dev} priority "
                                 f"{c.priority_text or c.priority} ({c.priority}); policy "
                                 f"{c.effective_policy}; {len(c.rules)} rules")
                else:
                    lines.append(f"  chain {c.name}: regular chain; {len(c.rules)} rules")
                for r in c.rules:
                    lines.append(f"    {r.text}   [{r.origin}]")
        return lines

    def unmodelled(self) -> list[tuple[Rule, str]]:
        """Rules holding statements or expressions not modelled: (rule, kind)."""
        out = []
        for _c, r in self.rules():
            for kind in _unknown_kinds(r.exprs):
                out.append((r, kind))
        return out


def _unknown_kinds(obj: Any) -> Iterator[str]:
    if isinstance(obj, (Unknown, UnknownExpr)):
        yield obj.kind
    elif isinstance(obj, tuple):
        for x in obj:
            yield from _unknown_kinds(x)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from _unknown_kinds(getattr(obj, name))


# ---------------------------------------------------------------------------
# Priorities (nft src/rule.c ``std_prios`` / ``bridge_std_prios``)
# ---------------------------------------------------------------------------

#: In nft's order (``prio2str()`` takes the first name within reach).
STD_PRIORITIES: dict[str, int] = {
    "raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100,
}
BRIDGE_PRIORITIES: dict[str, int] = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}
#: The kernel keeps a hook priority as a signed 32-bit number (NFTA_HOOK_PRIORITY).
PRIORITY_MIN, PRIORITY_MAX = -(1 << 31), (1 << 31) - 1
_PRIO_REACH = 10  # prio2str(): a number within 10 of a standard one is written "name ± N"


def priority_name_fits(name: str, family: str, hook: str | None) -> bool:
    """nft's ``std_prio_family_hook_compat()`` (src/rule.c, nftables 1.0.8+,
    the more permissive of the versions): where a standard priority name may
    be used. ``filter`` anywhere but bridge's own; ``raw``, ``mangle``,
    ``security`` in ip/ip6/inet; ``dstnat`` on prerouting and output,
    ``srcnat`` on input and postrouting (ip/ip6/inet); bridge: ``dstnat``
    prerouting, ``out`` output, ``srcnat`` postrouting, ``filter`` anywhere.
    ``hook`` None (not known) checks the family only."""
    if family == "bridge":
        allowed = {"dstnat": ("prerouting",), "out": ("output",), "srcnat": ("postrouting",)}
        if name == "filter":
            return True
        return name in allowed and (hook is None or hook in allowed[name])
    if name == "filter":
        return family in ("inet", "ip", "ip6", "arp", "netdev")
    if family not in ("inet", "ip", "ip6"):
        return False
    if name in ("raw", "mangle", "security"):
        return True
    if name == "dstnat":
        return hook is None or hook in ("prerouting", "output")
    if name == "srcnat":
        return hook is None or hook in ("input", "postrouting")
    return False


def _prio_int(s: str) -> int | None:
    """A priority number as nft's scanner reads it (decimal or 0x hex, ASCII only)."""
    neg = s.startswith("-")
    body = s[1:].strip() if neg else s
    if not body.isascii() or not body or len(body) > 12:
        return None
    try:
        n = int(body, 16) if body[:2].lower() == "0x" else int(body, 10)
    except ValueError:
        return None
    return -n if neg else n


def resolve_priority(family: str, text: str | int, hook: str | None = None) -> int:
    """A chain priority as the number the kernel stores, as nft's parser and
    ``evaluate_priority()`` / ``std_prio_lookup()`` make it: ``filter`` → 0,
    ``mangle`` → -150, ``filter + 10`` → 10, ``filter - 10`` → -10, ``-199``
    → -199; bridge: ``filter`` → -200, ``out`` → 100, ``srcnat`` → 300,
    ``dstnat`` → -300. With ``hook``, a name must fit it
    (:func:`priority_name_fits`: nft refuses ``dstnat`` on an input hook).
    Raises ValueError for an unknown or misplaced name, a malformed offset
    or a number outside the kernel's signed 32 bits."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise ValueError(f"a priority number or name, not {text!r:.40}")
    if isinstance(text, int):
        n = text
    else:
        s = " ".join(text.split())
        n_or_none = _prio_int(s.replace(" ", "")) if s[:1] in "-0123456789" else None
        if n_or_none is None:
            name, offset = s, 0
            for sign in ("+", "-"):
                head, sep, tail = s.partition(sign)
                if sep:
                    off = _prio_int(tail.strip())
                    if off is None or off < 0:
                        raise ValueError(f"a priority like 'filter {sign} 10', not {s!r:.40}")
                    name, offset = head.strip(), off if sign == "+" else -off
                    break
            table = BRIDGE_PRIORITIES if family == "bridge" else STD_PRIORITIES
            if name not in table:
                raise ValueError(f"unknown priority name {name!r:.40} for family {family}")
            if not priority_name_fits(name, family, hook):
                raise ValueError(f"priority {name!r} is not valid for family {family}"
                                 + (f" hook {hook}" if hook else ""))
            n_or_none = table[name] + offset
        n = n_or_none
    if not PRIORITY_MIN <= n <= PRIORITY_MAX:
        raise ValueError(f"a priority within the kernel's signed 32 bits, not {n}")
    return n


def priority_text(family: str, hook: str | None, prio: int) -> str:
    """How ``nft list`` prints a priority (nft's ``prio2str()``): the first
    standard name within 10 of it, as ``name`` or ``name ± N``, when that name
    fits the family and hook; else the number. ``-100`` is ``dstnat`` on
    prerouting but ``-100`` on input; ``-10`` is ``filter - 10``."""
    table = BRIDGE_PRIORITIES if family == "bridge" else STD_PRIORITIES
    for name, val in table.items():
        offset = prio - val
        if abs(offset) <= _PRIO_REACH:
            if not priority_name_fits(name, family, hook):
                break
            return name if offset == 0 else f"{name} {'+' if offset > 0 else '-'} {abs(offset)}"
    return str(prio)


# ---------------------------------------------------------------------------
# Symbolic constants → numbers (for the evaluator)
# ---------------------------------------------------------------------------

#: ``ct state`` bits (include/uapi/linux/netfilter/nf_conntrack_common.h ``NF_CT_STATE_BIT``).
CT_STATES = {"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64}
#: ``ct status`` bits (``enum ip_conntrack_status``).
CT_STATUS = {"expected": 1, "seen-reply": 2, "assured": 4, "confirmed": 8, "snat": 16,
             "dnat": 32, "dying": 512, "offload": 1 << 14}
CT_DIRECTIONS = {"original": 0, "reply": 1}
#: ``tcp flags`` bits.
TCP_FLAGS = {"fin": 0x01, "syn": 0x02, "rst": 0x04, "psh": 0x08, "ack": 0x10, "urg": 0x20,
             "ecn": 0x40, "cwr": 0x80}
#: ``meta pkttype`` (``PACKET_*``).
PKTTYPES = {"host": 0, "unicast": 0, "broadcast": 1, "multicast": 2, "other": 3}
#: ``meta nfproto`` (``NFPROTO_*``).
NFPROTOS = {"ipv4": 2, "ipv6": 10}
#: IP protocol numbers (``meta l4proto``, ``ip protocol``, ``ip6 nexthdr``).
L4PROTOS = {"hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17,
            "ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50,
            "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
            "pim": 103, "comp": 108, "vrrp": 112, "l2tp": 115, "sctp": 132, "mh": 135,
            "udplite": 136, "dccp": 33, "ospf": 89, "ethernet": 143}
ICMP_TYPES = {"echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5,
              "echo-request": 8, "router-advertisement": 9, "router-solicitation": 10,
              "time-exceeded": 11, "parameter-problem": 12, "timestamp-request": 13,
              "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
              "address-mask-request": 17, "address-mask-reply": 18}
ICMPV6_TYPES = {"destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3,
                "parameter-problem": 4, "echo-request": 128, "echo-reply": 129,
                "mld-listener-query": 130, "mld-listener-report": 131, "mld-listener-done": 132,
                "mld-listener-reduction": 132, "nd-router-solicit": 133,
                "nd-router-advert": 134, "nd-neighbor-solicit": 135,
                "nd-neighbor-advert": 136, "nd-redirect": 137, "router-renumbering": 138,
                "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142,
                "mld2-listener-report": 143}
ICMPV6_CODES = {"no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3,
                "port-unreachable": 4, "policy-fail": 5, "reject-route": 6}
ICMP_CODES = {"net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2,
              "port-unreachable": 3, "frag-needed": 4, "net-prohibited": 9,
              "host-prohibited": 10, "admin-prohibited": 13}
ICMPX_CODES = {"no-route": 0, "port-unreachable": 1, "host-unreachable": 2,
               "admin-prohibited": 3}
ETHER_TYPES = {"ip": 0x0800, "arp": 0x0806, "ip6": 0x86DD, "8021q": 0x8100, "8021ad": 0x88A8,
               "vlan": 0x8100}
ARP_OPS = {"request": 1, "reply": 2, "rrequest": 3, "rreply": 4, "inrequest": 8, "inreply": 9,
           "nak": 10}
FIB_TYPES = {"unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4,
             "multicast": 5, "blackhole": 6, "unreachable": 7, "prohibit": 8}

#: Which table resolves a symbolic right-hand side, by left operand.
_CONSTANTS: dict[tuple[str, str], dict[str, int]] = {
    ("ct", "state"): CT_STATES,
    ("ct", "status"): CT_STATUS,
    ("ct", "direction"): CT_DIRECTIONS,
    ("tcp", "flags"): TCP_FLAGS,
    ("meta", "pkttype"): PKTTYPES,
    ("meta", "nfproto"): NFPROTOS,
    ("meta", "l4proto"): L4PROTOS,
    ("meta", "protocol"): ETHER_TYPES,
    ("ether", "type"): ETHER_TYPES,
    ("vlan", "type"): ETHER_TYPES,
    ("ip", "protocol"): L4PROTOS,
    ("ip6", "nexthdr"): L4PROTOS,
    ("icmp", "type"): ICMP_TYPES,
    ("icmp", "code"): ICMP_CODES,
    ("icmpv6", "type"): ICMPV6_TYPES,
    ("icmpv6", "code"): ICMPV6_CODES,
    ("fib", "type"): FIB_TYPES,
    ("arp", "operation"): ARP_OPS,
}

#: Codes of ``reject with <type> <code>`` by type.
REJECT_CODES: dict[str, dict[str, int]] = {"icmp": ICMP_CODES, "icmpv6": ICMPV6_CODES,
                                           "icmpx": ICMPX_CODES}

#: Left operands whose implicit match is a bitmask test (JSON op ``in``).
BITMASK_KEYS = frozenset({("ct", "state"), ("ct", "status"), ("tcp", "flags"),
                          ("ct", "event"), ("ct", "label")})


def constant_table(left: Expr) -> dict[str, int] | None:
    """The symbol table for values compared with ``left``, if any."""
    if isinstance(left, Ct):
        return _CONSTANTS.get(("ct", left.key))
    if isinstance(left, Meta):
        return _CONSTANTS.get(("meta", left.key))
    if isinstance(left, Payload) and left.protocol:
        return _CONSTANTS.get((left.protocol, left.field or ""))
    if isinstance(left, Fib):
        return _CONSTANTS.get(("fib", left.result))
    return None


def resolve_constant(left: Expr, value: Expr) -> Expr:
    """A symbolic value compared with ``left`` as the kernel's number:
    ``(Ct("state"), "established")`` → 2, ``(Payload("icmpv6","type"),
    "nd-router-solicit")`` → 133, ``(Meta("l4proto"), "udp")`` → 17.
    Flag lists become the OR of their bits; sets, ranges and prefixes are
    resolved element by element. Unknown names are returned unchanged."""
    table = constant_table(left)
    if table is None:
        return value
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, FlagList):
        out = 0
        for v in value.values:
            r = resolve_constant(left, v)
            if not isinstance(r, int):
                return value
            out |= r
        return out
    if isinstance(value, Range):
        return Range(resolve_constant(left, value.lo), resolve_constant(left, value.hi))
    if isinstance(value, SetLiteral):
        return SetLiteral(tuple(resolve_constant(left, v) for v in value.elements))
    if isinstance(value, Elem):
        return Elem(resolve_constant(left, value.val), value.timeout, value.expires,
                    value.comment, value.counter)
    if isinstance(value, MapElem):
        return MapElem(resolve_constant(left, value.key), value.data)
    return value


def is_bitmask(left: Expr) -> bool:
    """Whether an implicit match on ``left`` is a bitmask test (nft's
    ``expr_evaluate_relational()``: implicit op on a bitmask datatype)."""
    if isinstance(left, Ct):
        return ("ct", left.key) in BITMASK_KEYS
    if isinstance(left, Payload):
        return (left.protocol or "", left.field or "") in BITMASK_KEYS
    if isinstance(left, Exthdr):
        return (left.name or "", left.field or "") in BITMASK_KEYS
    return False
