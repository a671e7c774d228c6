"""The host model: plain, immutable data read from a user's dump.

Nothing here reads files or decides routing. ``sources/`` builds a
:class:`Host`; ``kernel/`` simulates on it; ``explain/`` renders the result.

Names follow the kernel's own structures so a reader can check them:
:class:`Rule` is a ``struct fib_rule`` (include/net/fib_rules.h),
:class:`Route` a ``struct fib_alias`` + ``struct fib_info``
(net/ipv4/fib_lookup.h), :class:`Flow` a ``struct flowi4`` / ``flowi6``.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence, Union, overload

if TYPE_CHECKING:  # pragma: no cover
    from wgexplain.ruleset import Ruleset
    from wgexplain.kernel.profile import KernelProfile

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]

AF_INET = 2
AF_INET6 = 10

#: Reserved routing table ids (include/uapi/linux/rtnetlink.h ``rt_class_t``).
RT_TABLE_UNSPEC = 0
RT_TABLE_COMPAT = 252
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
TABLE_NAMES: dict[int, str] = {
    RT_TABLE_DEFAULT: "default",
    RT_TABLE_MAIN: "main",
    RT_TABLE_LOCAL: "local",
}

#: Route types (``RTN_*`` in rtnetlink.h), as iproute2 names them.
ROUTE_TYPES = (
    "unicast", "local", "broadcast", "anycast", "multicast",
    "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve",
)

#: Rule actions (``FR_ACT_*`` in fib_rules.h), as iproute2 names them.
RULE_ACTIONS = ("lookup", "goto", "nop", "blackhole", "unreachable", "prohibit")


def family_of(addr: IPAddress | IPNetwork | IPInterface) -> int:
    """AF_INET or AF_INET6 for an address, network or interface."""
    return AF_INET if addr.version == 4 else AF_INET6


def family_name(family: int) -> str:
    return "inet" if family == AF_INET else "inet6"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a fact came from: the user's file and 1-based line.

    ``derived`` is set when the fact was not in the dump but built the way
    the kernel builds it (e.g. table ``local`` from the addresses); ``why``
    then says how.
    """

    file: str
    line: int = 0
    derived: bool = False
    why: str = ""

    def __str__(self) -> str:
        if self.derived:
            return f"derived: {self.why}" if self.why else "derived"
        return f"{self.file}:{self.line}" if self.line else self.file


NO_ORIGIN = Origin("<none>")


@dataclass(frozen=True, slots=True)
class Link:
    """A network device (``struct net_device``), as ``ip link`` shows it."""

    index: int
    name: str
    flags: frozenset[str] = frozenset()  # UP, LOWER_UP, LOOPBACK, POINTOPOINT, NOARP, ...
    mtu: int | None = None
    state: str | None = None  # operstate: UP, DOWN, UNKNOWN
    link_type: str | None = None  # ether, loopback, none, ...
    address: str | None = None  # MAC
    kind: str | None = None  # veth, wireguard, tun, bridge, vrf (from -d)
    master: str | None = None
    group: int = 0  # the device group (``ip link set group``; suppress_ifgroup)
    origin: Origin = NO_ORIGIN

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @property
    def carrier(self) -> bool:
        """IFF_LOWER_UP, or assumed when the dump shows the device UP without flags."""
        return "LOWER_UP" in self.flags or ("UP" in self.flags and "NO-CARRIER" not in self.flags)


@dataclass(frozen=True, slots=True)
class Address:
    """An interface address (``struct in_ifaddr`` / ``inet6_ifaddr``)."""

    dev: str
    address: IPInterface  # address with its prefix length
    scope: str = "global"  # global, link, host, site, or a number
    peer: IPNetwork | None = None  # ``peer`` on point-to-point links
    broadcast: ipaddress.IPv4Address | None = None
    flags: frozenset[str] = frozenset()  # secondary, noprefixroute, dynamic, deprecated, tentative, ...
    label: str | None = None
    origin: Origin = NO_ORIGIN

    @property
    def family(self) -> int:
        return family_of(self.address)

    @property
    def ip(self) -> IPAddress:
        return self.address.ip


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy routing rule (``struct fib_rule``), one line of ``ip rule``.

    Selectors left at ``None`` match everything, as in ``fib_rule_match()``.
    ``src``/``dst`` are networks; ``None`` is ``from all``/``to all``.
    ``table`` is the numeric id for ``lookup``; ``goto`` the target pref.
    """

    family: int
    pref: int
    action: str = "lookup"
    table: int | None = None
    goto: int | None = None
    invert: bool = False  # ``not``
    src: IPNetwork | None = None
    dst: IPNetwork | None = None
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None  # None = 0xffffffff when fwmark is set
    uidrange: tuple[int, int] | None = None
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    tos: int = 0  # ``tos``/``dsfield``
    l3mdev: bool = False
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    protocol: str | None = None  # ``proto`` of the rule (kernel, boot, static...)
    iif_detached: bool = False  # ``[detached]`` flag after iif
    oif_detached: bool = False
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class Nexthop:
    """One hop of a route (``struct fib_nh``)."""

    gateway: IPAddress | None = None
    dev: str | None = None
    weight: int = 1
    onlink: bool = False
    flags: frozenset[str] = frozenset()  # dead, linkdown, onlink, pervasive


@dataclass(frozen=True, slots=True)
class Route:
    """One route in one table (``struct fib_alias`` + ``fib_info``).

    A single-path route has one :class:`Nexthop` (possibly with neither
    gateway nor device, e.g. ``blackhole``); multipath routes have several.
    ``metric`` is the ``priority`` (``RTA_PRIORITY``); ``tos`` the
    ``fa_tos`` (IPv4) key.
    """

    family: int
    table: int
    dst: IPNetwork
    type: str = "unicast"
    tos: int = 0
    metric: int = 0
    protocol: str | None = None
    scope: str = "global"  # global/universe, link, host, nowhere, site
    prefsrc: IPAddress | None = None
    nexthops: tuple[Nexthop, ...] = ()
    flags: frozenset[str] = frozenset()  # linkdown, dead, onlink (route level)
    pref: str | None = None  # IPv6 router preference: low, medium, high
    expires: int | None = None
    extra: tuple[tuple[str, str], ...] = ()  # mtu, advmss, ... kept, not simulated
    origin: Origin = NO_ORIGIN

    @property
    def prefixlen(self) -> int:
        return self.dst.prefixlen

    @property
    def gateway(self) -> IPAddress | None:
        return self.nexthops[0].gateway if len(self.nexthops) == 1 else None

    @property
    def dev(self) -> str | None:
        return self.nexthops[0].dev if len(self.nexthops) == 1 else None

    @property
    def multipath(self) -> bool:
        return len(self.nexthops) > 1


class LazyRoutes(Sequence[Route]):
    """An immutable sequence of :class:`Route` whose objects are built on first access.

    A full routing table is a million routes: building every ``Route`` (and
    its ``ipaddress`` network and :class:`Origin`) costs seconds that a
    lookup never needs. A reader may therefore hand over a *block*: any
    ``Sequence[Route]`` that builds its items on demand and always returns
    the same object for the same index (``wgexplain.sources.iproute_route``
    keeps ``ip route`` listings as columns this way). ``LazyRoutes`` chains
    such blocks and plain tuples; it behaves like the tuple of its routes
    (indexing, slicing, iteration, ``+``, comparison with any sequence).

    Blocks may offer ``tables()`` (the set of ``(family, table)`` they hold)
    so :func:`route_tables` need not build their routes.
    """

    __slots__ = ("_blocks", "_ends")

    def __init__(self, blocks: Iterable[Sequence[Route]] = ()) -> None:
        flat: list[Sequence[Route]] = []
        for b in blocks:
            if isinstance(b, LazyRoutes):
                flat.extend(b._blocks)
            elif len(b):
                flat.append(b if not isinstance(b, list) else tuple(b))
        self._blocks: tuple[Sequence[Route], ...] = tuple(flat)
        self._ends = list(itertools.accumulate(len(b) for b in flat))

    @property
    def blocks(self) -> tuple[Sequence[Route], ...]:
        """The sequences chained, in order (tuples or on-demand blocks)."""
        return self._blocks

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> Route: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Route, ...]: ...

    def __getitem__(self, index: int | slice) -> Route | tuple[Route, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("route index out of range")
        k = bisect.bisect_right(self._ends, index)
        return self._blocks[k][index - (self._ends[k - 1] if k else 0)]

    def __iter__(self) -> Iterator[Route]:
        for b in self._blocks:
            yield from b

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (tuple, list, LazyRoutes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __add__(self, other: Sequence[Route]) -> "LazyRoutes":
        if not isinstance(other, (tuple, list, LazyRoutes)):
            return NotImplemented
        return LazyRoutes((self, other))

    def __radd__(self, other: Sequence[Route]) -> "LazyRoutes":
        if not isinstance(other, (tuple, list)):
            return NotImplemented
        return LazyRoutes((other, self))

    def __repr__(self) -> str:
        return f"LazyRoutes({len(self)} routes in {len(self._blocks)} blocks)"


def chain_routes(parts: Iterable[Sequence[Route]]) -> "tuple[Route, ...] | LazyRoutes":
    """``parts`` as one sequence: a tuple, or :class:`LazyRoutes` when a part is lazy.

    A part is lazy when it is neither a tuple nor a list; the routes are then
    not built here.
    """
    parts = list(parts)
    if all(isinstance(p, (tuple, list)) for p in parts):
        return tuple(r for p in parts for r in p)
    return LazyRoutes(parts)


def route_tables(routes: Sequence[Route]) -> set[tuple[int, int]]:
    """The ``(family, table)`` pairs present in ``routes``, without building lazy routes."""
    out: set[tuple[int, int]] = set()
    for block in (routes.blocks if isinstance(routes, LazyRoutes) else (routes,)):
        tables = getattr(block, "tables", None)
        if tables is not None and callable(tables):
            out |= tables()
        else:
            out |= {(r.family, r.table) for r in block}
    return out


@dataclass(frozen=True, slots=True)
class WgPeer:
    """A WireGuard peer, as ``wg show all dump`` lists it."""

    public_key: str
    endpoint: tuple[IPAddress, int] | None = None
    allowed_ips: tuple[IPNetwork, ...] = ()
    preshared_key: bool = False
    latest_handshake: int = 0
    keepalive: int | None = None


@dataclass(frozen=True, slots=True)
class WgInterface:
    """A WireGuard device (drivers/net/wireguard/device.h ``struct wg_device``)."""

    name: str
    public_key: str | None = None
    listen_port: int | None = None
    fwmark: int = 0
    peers: tuple[WgPeer, ...] = ()
    inferred: bool = False  # True when guessed from the ruleset, not read from wg
    origin: Origin = NO_ORIGIN


@dataclass(frozen=True, slots=True)
class Redacted:
    """An address the poster hid (``x.x.x.x``, ``198.51.100.XY``, ``[REDACTED]/24``).

    It is an *unknown address*: the line that held it is kept, with
    ``stand_in`` read in its place. A stand-in comes from a range no real
    configuration uses -- IPv4 ``240.0.0.0/4`` (reserved, RFC 1112), IPv6
    ``100::/64`` (discard-only, RFC 6666) -- one per placeholder, so a lookup
    never matches a hidden address by accident and no two hidden addresses
    look equal. ``wgexplain.sources.placeholders.is_stand_in()`` tells a
    stand-in apart; a rule, route, address or peer read from ``origin`` holds
    one. Every decision that depends on it depends on an unknown.
    """

    origin: Origin
    text: str  # the placeholder as pasted, e.g. "x.x.x.x" or "[REDACTED]/24"
    stand_in: str  # what was read in its place, e.g. "240.0.0.1" or "240.0.1.0/24"


@dataclass(frozen=True, slots=True)
class KernelAnswer:
    """What the kernel printed for ``ip route get`` in the paste: evidence, not state.

    ``command`` is the command line ("" when only the answer was pasted),
    ``answer`` the answer as pasted; the other fields are read from it
    (``error`` holds ``RTNETLINK answers: ...`` text).
    """

    command: str
    answer: str
    origin: Origin
    dst: str | None = None
    type: str = "unicast"
    gateway: str | None = None
    dev: str | None = None
    src: str | None = None
    table: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Host:
    """Everything known about one machine's network stack.

    ``rules`` and ``routes`` hold both families. ``routes`` holds every
    table; routes built by derivation have ``origin.derived``.
    ``dumped`` records which parts the dump actually contained, e.g.
    ``{"ip-rule", "ip6-route", "ip-addr", "nft"}``, so outputs can warn about
    what is missing instead of guessing silently.
    """

    links: tuple[Link, ...] = ()
    addresses: tuple[Address, ...] = ()
    rules: tuple[Rule, ...] = ()
    #: a tuple, or for big dumps a :class:`LazyRoutes` (routes built on first access)
    routes: "tuple[Route, ...] | LazyRoutes" = ()
    table_names: Mapping[int, str] = field(default_factory=lambda: dict(TABLE_NAMES))
    sysctls: Mapping[str, str] = field(default_factory=dict)
    ruleset: "Ruleset | None" = None
    wireguard: tuple[WgInterface, ...] = ()
    dumped: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()
    source: str = ""
    #: raw blocks read but not interpreted by the iproute2 readers (e.g. the
    #: nft text before issue 3's parser reads it): (command, first line, text)
    blocks: tuple[tuple[str, Origin, str], ...] = ()
    #: the kernel this Host's answers imitate (``kernel.json`` of a bundle, ``--kernel``);
    #: ``None``: :data:`wgexplain.kernel.profile.DEFAULT`
    kernel: "KernelProfile | None" = None
    #: addresses the poster hid, read as stand-ins (see :class:`Redacted`)
    redacted: tuple[Redacted, ...] = ()
    #: ``ip route get`` answers pasted (the kernel's own word, kept as evidence)
    kernel_answers: tuple[KernelAnswer, ...] = ()
    #: the indexes :meth:`link`, :meth:`link_by_index` and :meth:`addresses_of` answer
    #: from, built on first use (not a field of the data: no init, compare or repr;
    #: ``dataclasses.replace`` makes a copy without them)
    _index: "_HostIndex | None" = field(default=None, init=False, repr=False, compare=False,
                                        hash=False)

    def _indexes(self) -> "_HostIndex":
        """The lookup indexes (``dev_get_by_name()``'s name hash and friends), built once."""
        idx = self._index
        if idx is None:
            idx = _HostIndex(self)
            object.__setattr__(self, "_index", idx)
        return idx

    def link(self, name: str) -> Link | None:
        """The link named ``name`` (the first one listed), as ``dev_get_by_name()``."""
        return self._indexes().by_name.get(name)

    def link_by_index(self, index: int) -> Link | None:
        """The link with ifindex ``index``, as ``dev_get_by_index()``."""
        return self._indexes().by_ifindex.get(index)

    def addresses_of(self, dev: str, family: int | None = None) -> list[Address]:
        """The addresses on ``dev`` (of ``family``), in the order listed."""
        on_dev = self._indexes().by_dev.get(dev, ())
        return [a for a in on_dev if family is None or a.family == family]

    def rules_of(self, family: int) -> list[Rule]:
        """Rules of one family in the order the kernel walks them (by pref, stable).

        Sorted once per host (the index); each call returns a new list."""
        idx = self._indexes()
        done = idx.rules.get(family)
        if done is None:
            done = idx.rules[family] = tuple(sorted(
                (r for r in self.rules if r.family == family), key=lambda r: r.pref))
        return list(done)

    def routes_of(self, family: int, table: int | None = None) -> list[Route]:
        return [r for r in self.routes if r.family == family and (table is None or r.table == table)]

    def table_name(self, table: int) -> str:
        return self.table_names.get(table, str(table))

    def sysctl(self, key: str, default: str | None = None) -> str | None:
        return self.sysctls.get(key, default)


class _HostIndex:
    """Dicts over a :class:`Host`'s links and addresses: each lookup O(1), not a scan."""

    __slots__ = ("by_name", "by_ifindex", "by_dev", "rules")

    def __init__(self, host: Host) -> None:
        self.by_name: dict[str, Link] = {}
        self.by_ifindex: dict[int, Link] = {}
        for link in host.links:
            self.by_name.setdefault(link.name, link)
            self.by_ifindex.setdefault(link.index, link)
        self.by_dev: dict[str, list[Address]] = {}
        for a in host.addresses:
            self.by_dev.setdefault(a.dev, []).append(a)
        #: family -> the rules in walk order (filled by Host.rules_of)
        self.rules: dict[int, tuple[Rule, ...]] = {}


@dataclass(frozen=True, slots=True)
class Flow:
    """The lookup key of a routing decision (``struct flowi4`` / ``flowi6``).

    Mirrors the arguments of ``ip route get``: ``iif`` set means an input
    lookup (a packet arriving on that device), otherwise an output lookup.
    """

    dst: IPAddress
    src: IPAddress | None = None
    iif: str | None = None
    oif: str | None = None
    mark: int = 0
    uid: int | None = None
    ipproto: int | None = None
    sport: int | None = None
    dport: int | None = None
    tos: int = 0

    @property
    def family(self) -> int:
        return family_of(self.dst)


_SCALARS = (str, int, float, type(None))
_IP_TYPES = (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network,
             ipaddress.IPv6Network, ipaddress.IPv4Interface, ipaddress.IPv6Interface)
#: dataclass type -> the names of its data fields (those not starting with "_")
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def as_dict(obj: Any) -> Any:
    """Plain-JSON view of model objects (addresses as strings).

    The common kinds are tested first, by exact type, so that a show of
    100,000 links does not spend its time in ``typing.Sequence`` checks.
    """
    import dataclasses

    cls = type(obj)
    if cls in _SCALARS or cls is bool:
        return obj
    if cls in _IP_TYPES:
        return str(obj)
    if cls is tuple or cls is list:
        return [as_dict(x) for x in obj]
    if cls is frozenset:
        return sorted(as_dict(x) for x in obj)
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        names = _FIELD_NAMES[cls] = tuple(
            f.name for f in dataclasses.fields(obj) if not f.name.startswith("_"))
    if names is not None:
        return {name: as_dict(getattr(obj, name)) for name in names}
    if isinstance(obj, (list, tuple, LazyRoutes)) or (
            isinstance(obj, Sequence) and not isinstance(obj, (str, bytes))):
        return [as_dict(x) for x in obj]
    if isinstance(obj, frozenset):
        return sorted(as_dict(x) for x in obj)
    if isinstance(obj, Mapping):
        return {str(k): as_dict(v) for k, v in obj.items()}
    if isinstance(obj, _IP_TYPES):
        return str(obj)
    return obj
