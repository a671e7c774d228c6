"""One routing table and its longest-prefix lookup.

The twin of ``fib_table_lookup()`` (net/ipv4/fib_trie.c) for IPv4 and of
``fib6_table_lookup()`` / ``fib6_select_path()`` / ``rt6_select()``
(net/ipv6/route.c) for IPv6. The kernel walks a level-compressed trie; we
keep, per prefix length present in the table, a dict from the masked
network (an ``int``) to the routes of that prefix, already in the order the
kernel keeps its ``fib_alias`` list (``fib_find_alias()``: higher tos
first, then lower priority/metric). A lookup tries only the prefix lengths
present, longest first, which gives the same answer as the trie's
backtracking.

Route types map to errors as in ``fib_props[]`` (net/ipv4/fib_semantics.c):
unreachable ``EHOSTUNREACH``, prohibit ``EACCES``, blackhole ``EINVAL``,
throw ``EAGAIN`` (the rule walk goes on), nat/xresolve ``EINVAL``.
"""

from __future__ import annotations

import gc
import ipaddress
from dataclasses import dataclass
from wgexplain.inet import AF_INET as _SOCK_AF_INET, AF_INET6 as _SOCK_AF_INET6, inet_ntop
from typing import Callable, Iterable, Sequence

from wgexplain.model import AF_INET, AF_INET6, Nexthop, Route
from wgexplain.sources._fast import slot_constructor

#: ``fib_props[type].error`` (net/ipv4/fib_semantics.c); IPv6 uses the same
#: errnos through ``ip6_rt_type_to_error()`` (net/ipv6/route.c).
TYPE_ERRNO: dict[str, str | None] = {
    "unicast": None, "local": None, "broadcast": None, "anycast": None, "multicast": None,
    "blackhole": "EINVAL", "unreachable": "EHOSTUNREACH", "prohibit": "EACCES",
    "throw": "EAGAIN", "nat": "EINVAL", "xresolve": "EINVAL",
}

#: ``IPTOS_RT_MASK``: the tos bits a route's ``tos`` is compared with
#: (``fib_dscp_masked_match()``).
TOS_RT_MASK = 0x1C

_BITS = {AF_INET: 32, AF_INET6: 128}
_MASKS = {fam: [((1 << bits) - 1) ^ ((1 << (bits - p)) - 1) for p in range(bits + 1)]
          for fam, bits in _BITS.items()}
_V4 = ipaddress.IPv4Address
_V6 = ipaddress.IPv6Address
_PREF_SCORE = {"high": 3, "medium": 2, None: 2, "low": 1}
#: a bucket holds the routes of one prefix, or (tables built by :meth:`FibTable.from_prefixes`)
#: the row of its only route, whose Route is built (and kept by its reader) when first met
Bucket = dict[int, "list[Route] | int"]
Probe = tuple[int, int, Bucket]


def addr_text(addr: object) -> str:
    """``str(addr)`` for an ``ipaddress`` address, through ``inet_ntop()`` where that prints
    the same text (several times faster: explanations quote thousands of addresses).

    IPv4: the same dotted quad. IPv6: the same RFC 5952 text (longest run of two or
    more zero groups as ``::``, the first on a tie) unless the first 80 bits are zero,
    where glibc may print a dotted IPv4 tail (``::ffff:1.2.3.4``) and Python does not.
    """
    cls = addr.__class__
    if cls is _V4:
        return inet_ntop(_SOCK_AF_INET, addr._ip.to_bytes(4, "big"))  # type: ignore[attr-defined]
    if cls is _V6 and addr._ip >> 80 and addr._scope_id is None:  # type: ignore[attr-defined]
        return inet_ntop(_SOCK_AF_INET6, addr._ip.to_bytes(16, "big"))  # type: ignore[attr-defined]
    return str(addr)


def format_route(route: Route, table_name: str | None = None) -> str:
    """The line ``ip route show table all`` prints for ``route`` (iproute2 ``print_route()``).

    Used to quote routes in explanations; close to iproute2 6.1's wording.
    """
    parts: list[str] = []
    if route.type != "unicast":
        parts.append(route.type)
    dst = route.dst
    plen = dst.prefixlen
    if plen == 0:
        parts.append("default")
    elif plen == (32 if route.family == AF_INET else 128):
        parts.append(addr_text(dst.network_address))
    else:
        parts.append(f"{addr_text(dst.network_address)}/{plen}")
    if route.tos:
        parts.append(f"tos 0x{route.tos:x}")
    if len(route.nexthops) == 1:
        nh = route.nexthops[0]
        if nh.gateway is not None:
            parts.append(f"via {addr_text(nh.gateway)}")
        if nh.dev:
            parts.append(f"dev {nh.dev}")
    if table_name and table_name != "main":
        parts.append(f"table {table_name}")
    if route.protocol and route.protocol != "boot":
        parts.append(f"proto {route.protocol}")
    if route.scope not in ("global", "universe"):
        parts.append(f"scope {route.scope}")
    if route.prefsrc is not None:
        parts.append(f"src {addr_text(route.prefsrc)}")
    if route.metric or route.family == AF_INET6:
        parts.append(f"metric {route.metric}")
    for flag in sorted(route.flags):
        parts.append(flag)
    if len(route.nexthops) > 1:
        for nh in route.nexthops:
            hop = ["nexthop"]
            if nh.gateway is not None:
                hop.append(f"via {addr_text(nh.gateway)}")
            if nh.dev:
                hop.append(f"dev {nh.dev}")
            hop.append(f"weight {nh.weight}")
            parts.append(" ".join(hop))
    if route.family == AF_INET6:
        parts.append(f"pref {route.pref or 'medium'}")
    return " ".join(parts)


def _sort_key(route: Route) -> tuple[int, int]:
    """Order of ``fib_alias`` entries of one prefix: tos descending, then priority."""
    return (-route.tos, route.metric)


@dataclass(frozen=True, slots=True)
class TableHit:
    """What ``fib_table_lookup()`` fills in ``struct fib_result``.

    ``errno`` is set for the reject types of ``fib_props[]`` (``EAGAIN`` for
    throw); ``nexthop`` is the hop chosen (``nh_sel``); ``inexact`` says why
    the choice is not reproducible (e.g. the multipath hash).
    """

    route: Route
    nexthop: Nexthop | None
    errno: str | None
    prefixlen: int
    inexact: str | None = None


#: TableHit(route, nexthop, errno, prefixlen, inexact), without the keyword __init__
_make_hit = slot_constructor(TableHit, ["route", "nexthop", "errno", "prefixlen", "inexact"])


class FibTable:
    """One routing table (``struct fib_table`` / ``struct fib6_table``) of one family.

    Build it with :meth:`from_routes`; ask it with :meth:`lookup`.
    """

    __slots__ = ("family", "id", "_by_len", "_lens", "count", "_probes", "_hits", "_route_of")

    def __init__(self, family: int, table_id: int) -> None:
        self.family = family
        self.id = table_id
        self._by_len: dict[int, Bucket] = {}
        self._lens: list[int] = []
        self.count = 0
        #: (mask, prefixlen, {network: [routes]}) longest prefix first
        self._probes: list[Probe] = []
        #: id(route) -> its flow-independent hit (or None when checks are needed), filled lazily
        self._hits: dict[int, TableHit | None] = {}
        #: row -> Route for buckets holding a row (see :meth:`from_prefixes`)
        self._route_of: Callable[[int], Route] | None = None

    @classmethod
    def from_routes(cls, routes: Iterable[Route], family: int | None = None,
                    table_id: int | None = None) -> "FibTable":
        """A table holding ``routes`` (all of one family and table), like ``fib_table_insert()``.

        Routes of one prefix keep their dump order among equal (tos, metric),
        as the kernel appends them.
        """
        gc_was_on = gc.isenabled()
        gc.disable()  # a million small lists: generational GC passes would dominate the build
        try:
            return cls._from_routes(list(routes), family, table_id)
        finally:
            if gc_was_on:
                gc.enable()

    @classmethod
    def _from_routes(cls, routes: list[Route], family: int | None,
                     table_id: int | None) -> "FibTable":
        fam = family if family is not None else (routes[0].family if routes else AF_INET)
        tid = table_id if table_id is not None else (routes[0].table if routes else 0)
        slots: list[Bucket] = [{} for _ in range(_BITS[fam] + 1)]
        multi: list[list[Route]] = []
        for route in routes:
            dst = route.dst
            bucket = slots[dst._prefixlen]  # type: ignore[union-attr]
            net = dst.network_address._ip  # type: ignore[union-attr]
            lst = bucket.get(net)
            if lst is None:
                bucket[net] = [route]
            else:
                if len(lst) == 1:  # type: ignore[arg-type]
                    multi.append(lst)  # type: ignore[arg-type]
                lst.append(route)  # type: ignore[union-attr]
        table = cls(fam, tid)
        table._finish(slots, multi, len(routes))
        return table

    @classmethod
    def from_prefixes(cls, family: int, table_id: int, rows: Sequence[int],
                      values: Sequence[int], plens: Sequence[int],
                      route_of: Callable[[int], Route]) -> "FibTable":
        """A table from columns: route ``rows[i]`` is ``values[i]/plens[i]``, like ``fib_table_insert()``.

        The routes themselves are built by ``route_of(row)`` only when a
        lookup (or :meth:`routes`) reaches them: a full table of a million
        routes is ready without a million ``Route`` objects. Prefixes listed
        more than once get their routes at once, ordered as in
        :meth:`from_routes` (``rows`` are in listing order).
        """
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            return cls._from_prefixes(family, table_id, rows, values, plens, route_of)
        finally:
            if gc_was_on:
                gc.enable()

    @classmethod
    def _from_prefixes(cls, family: int, table_id: int, rows: Sequence[int],
                       values: Sequence[int], plens: Sequence[int],
                       route_of: Callable[[int], Route]) -> "FibTable":
        n = len(rows)
        slots: list[Bucket] = [{} for _ in range(_BITS[family] + 1)]
        # group by prefix length with C-level steps: a stable sort keeps the listing order
        order = sorted(range(n), key=plens.__getitem__)
        sval = list(map(values.__getitem__, order))
        srow = order if rows == range(n) else list(map(rows.__getitem__, order))
        multi: list[list[Route]] = []
        pos = 0
        for plen in sorted(set(plens)):
            count = plens.count(plen)
            vals, rws = sval[pos:pos + count], srow[pos:pos + count]
            pos += count
            bucket: Bucket = dict(zip(vals, rws))
            if len(bucket) < count:  # a prefix listed more than once (tos, metric)
                bucket = {}
                again: list[tuple[int, int]] = []
                for value, row in zip(vals, rws):
                    if bucket.setdefault(value, row) is not row:
                        again.append((value, row))
                for value, row in again:
                    lst = bucket[value]
                    if lst.__class__ is int:
                        lst = bucket[value] = [route_of(lst)]  # type: ignore[arg-type]
                        multi.append(lst)
                    lst.append(route_of(row))  # type: ignore[union-attr]
            slots[plen] = bucket
        table = cls(family, table_id)
        table._route_of = route_of
        table._finish(slots, multi, n)
        return table

    def _finish(self, slots: list[Bucket], multi: list[list[Route]], count: int) -> None:
        """Order the routes of shared prefixes; list the prefix lengths present, longest first.

        A lookup probes every length present (a hash lookup each): measured on a
        full table (18 lengths), as fast as indexing which lengths exist under
        each /16, and nothing to build.
        """
        by_len = {plen: bucket for plen, bucket in enumerate(slots) if bucket}
        for lst in multi:
            lst.sort(key=_sort_key)
        self._by_len = by_len
        self._lens = sorted(by_len, reverse=True)
        self.count = count
        masks = _MASKS[self.family]
        self._probes = [(masks[plen], plen, by_len[plen]) for plen in self._lens]

    def _built(self, bucket: Bucket, net: int, row: int) -> list[Route]:
        """The route of a bucket that holds a row, built by ``route_of`` (which keeps it).

        The bucket keeps the row: a dict of ints only is not tracked by the cyclic
        garbage collector, and a million-entry one that became tracked would be
        traversed by every full collection while lookups run (measured: lookups at
        half speed during those).
        """
        assert self._route_of is not None
        return [self._route_of(row)]

    def probes(self, addr: int) -> Sequence[Probe]:
        """The (mask, prefixlen, bucket) probes that may hold ``addr``, longest first."""
        return self._probes

    def __len__(self) -> int:
        return self.count

    def routes(self) -> list[Route]:
        """Every route, longest prefix first (for display)."""
        out: list[Route] = []
        for plen in self._lens:
            bucket = self._by_len[plen]
            for net in sorted(bucket):
                lst = bucket[net]
                out.extend(self._built(bucket, net, lst) if lst.__class__ is int
                           else lst)  # type: ignore[arg-type]
        return out

    def candidates(self, addr: int) -> Iterable[tuple[int, Sequence[Route]]]:
        """(prefixlen, routes) of every prefix holding ``addr``, longest first."""
        for mask, plen, bucket in self.probes(addr):
            lst = bucket.get(addr & mask)
            if lst is not None:
                if lst.__class__ is int:
                    lst = self._built(bucket, addr & mask, lst)  # type: ignore[arg-type]
                yield plen, lst  # type: ignore[misc]

    def lookup(self, addr: int, *, tos: int = 0, oif: str | None = None,
               linkdown_ignored: frozenset[str] = frozenset(), ignore_linkstate: bool = False,
               strict_oif: bool = True, mp_key: tuple[int, int] | None = None) -> TableHit | None:
        """``fib_table_lookup()`` (IPv4) or ``fib6_table_lookup()`` (IPv6); ``None`` = not found.

        ``oif`` filters nexthops by device as ``flowi4_oif`` does (IPv6:
        ``RT6_LOOKUP_F_IFACE`` when ``strict_oif``, else only a preference).
        ``linkdown_ignored`` names devices with ``ignore_routes_with_linkdown``.
        """
        if self.family == AF_INET:
            return self._lookup4(addr, tos, oif, linkdown_ignored, ignore_linkstate, mp_key)
        return self._lookup6(addr, oif, linkdown_ignored, ignore_linkstate, strict_oif)

    def _lookup4(self, addr: int, tos: int, oif: str | None, linkdown_ignored: frozenset[str],
                 ignore_linkstate: bool, mp_key: tuple[int, int] | None) -> TableHit | None:
        tos &= TOS_RT_MASK
        fast = oif is None and not linkdown_ignored
        hits = self._hits
        for mask, plen, bucket in self._probes:
            lst = bucket.get(addr & mask)
            if lst is None:
                continue
            if lst.__class__ is int:
                lst = self._built(bucket, addr & mask, lst)  # type: ignore[arg-type]
            for route in lst:  # type: ignore[union-attr]
                if fast:
                    rid = id(route)
                    if rid in hits:
                        simple = hits[rid]
                    else:
                        simple = hits[rid] = _simple_hit(route, plen)
                    if simple is not None:
                        return simple  # tos 0, one live hop (or a reject type): the common case
                if route.tos and route.tos != tos:
                    continue
                if "dead" in route.flags:
                    continue
                errno = TYPE_ERRNO.get(route.type)
                if errno is not None:
                    # fib_table_lookup(): "err = fib_props[fa->fa_type].error; if (err < 0) return err"
                    return TableHit(route, None, errno, plen)
                hops = route.nexthops
                if not hops:
                    return TableHit(route, None, None, plen)
                alive = [nh for nh in hops if _nh_usable(nh, route, oif, linkdown_ignored,
                                                         ignore_linkstate)]
                if not alive:
                    continue
                if len(hops) > 1 and oif is None:
                    # fib_select_multipath(): hash-threshold over the live hops.
                    return TableHit(route, alive[0], None, plen,
                                    inexact="not modelled: multipath hash (fib_multipath_hash() "
                                            "uses a per-boot random key); showing the first "
                                            "live nexthop")
                return TableHit(route, alive[0], None, plen)
        return None

    def _lookup6(self, addr: int, oif: str | None, linkdown_ignored: frozenset[str],
                 ignore_linkstate: bool, strict_oif: bool) -> TableHit | None:
        for mask, plen, bucket in self.probes(addr):
            lst = bucket.get(addr & mask)
            if lst is None:
                continue
            if lst.__class__ is int:
                lst = self._built(bucket, addr & mask, lst)  # type: ignore[arg-type]
            assert isinstance(lst, list)
            # rt6_select()/__find_rr_leaf(): lowest metric group first; within
            # it the best rt6_score_route() (device match, router preference).
            i = 0
            n = len(lst)
            while i < n:
                metric = lst[i].metric
                best: Route | None = None
                best_nh: Nexthop | None = None
                best_score = -1
                j = i
                while j < n and lst[j].metric == metric:
                    route = lst[j]
                    j += 1
                    if "dead" in route.flags:
                        continue
                    if TYPE_ERRNO.get(route.type) is not None:
                        # reject routes sit on the loopback device (rt6_check_dev() sees lo):
                        # a strict oif lookup skips them
                        rdev = route.nexthops[0].dev if route.nexthops and \
                            route.nexthops[0].dev else "lo"
                        dev_ok = oif is None or rdev == oif
                        if not dev_ok and strict_oif:
                            continue
                        score = (2 if dev_ok else 0) | (_PREF_SCORE.get(route.pref, 2) << 2)
                        if score > best_score:
                            best, best_nh, best_score = route, None, score
                        continue
                    hops = route.nexthops or (Nexthop(),)
                    for nh in hops:
                        if not _nh_usable(nh, route, None, linkdown_ignored, ignore_linkstate):
                            continue
                        dev_ok = oif is None or nh.dev == oif
                        if not dev_ok and strict_oif:
                            continue
                        score = (2 if dev_ok else 0) | (_PREF_SCORE.get(route.pref, 2) << 2)
                        if score > best_score:
                            best, best_nh, best_score = route, nh, score
                        break
                if best is not None:
                    errno = TYPE_ERRNO.get(best.type)
                    inexact = None
                    if len(best.nexthops) > 1:
                        inexact = ("not modelled: IPv6 multipath hash (rt6_multipath_hash()); "
                                   "showing the first live nexthop")
                    return TableHit(best, best_nh, errno, plen, inexact)
                i = j
        return None


def _simple_hit(route: Route, plen: int) -> TableHit | None:
    """The hit of ``route`` when it needs no per-flow check (IPv4: tos 0, one hop, no flags)."""
    if route.family != AF_INET or route.tos or route.flags or len(route.nexthops) > 1:
        return None
    errno = TYPE_ERRNO.get(route.type)
    if errno is not None:
        return _make_hit(route, None, errno, plen, None)
    if not route.nexthops:
        return _make_hit(route, None, None, plen, None)
    nh = route.nexthops[0]
    if nh.flags:
        return None
    return _make_hit(route, nh, None, plen, None)


def _nh_usable(nh: Nexthop, route: Route, oif: str | None, linkdown_ignored: frozenset[str],
               ignore_linkstate: bool) -> bool:
    """The nexthop checks of ``fib_table_lookup()``: dead, linkdown, ``flowi4_oif``."""
    if "dead" in nh.flags:
        return False
    if (not ignore_linkstate and nh.dev in linkdown_ignored
            and ("linkdown" in nh.flags or "linkdown" in route.flags)):
        return False
    if oif is not None and nh.dev != oif:
        return False
    return True
