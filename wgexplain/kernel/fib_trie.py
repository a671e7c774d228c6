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
from dataclasses import dataclass
from typing import Iterable, Sequence

from wgexplain.model import AF_INET, AF_INET6, Nexthop, Route

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
_PREF_SCORE = {"high": 3, "medium": 2, None: 2, "low": 1}
#: the two index levels (prefix bits) of big tables: IPv4 /16 and /8, IPv6 /32 and /16
_SPLITS = {AF_INET: (16, 8), AF_INET6: (32, 16)}
Probe = tuple[int, int, dict[int, list[Route]]]


def format_route(route: Route, table_name: str | None = None) -> str:
    """The line ``ip route show table all`` prints for ``route`` (iproute2 ``print_route()``).

    Used to quote routes in explanations; close to iproute2 6.1's wording.
    """
    parts: list[str] = []
    if route.type != "unicast":
        parts.append(route.type)
    full = route.dst.prefixlen == (32 if route.family == AF_INET else 128)
    if route.dst.prefixlen == 0:
        parts.append("default")
    else:
        parts.append(str(route.dst.network_address) if full else str(route.dst))
    if route.tos:
        parts.append(f"tos 0x{route.tos:x}")
    if len(route.nexthops) == 1:
        nh = route.nexthops[0]
        if nh.gateway is not None:
            parts.append(f"via {nh.gateway}")
        if nh.dev:
            parts.append(f"dev {nh.dev}")
    if table_name and table_name != "main":
        parts.append(f"table {table_name}")
    if route.protocol and route.protocol != "boot":
        parts.append(f"proto {route.protocol}")
    if route.scope not in ("global", "universe"):
        parts.append(f"scope {route.scope}")
    if route.prefsrc is not None:
        parts.append(f"src {route.prefsrc}")
    if route.metric or route.family == AF_INET6:
        parts.append(f"metric {route.metric}")
    for flag in sorted(route.flags):
        parts.append(flag)
    if len(route.nexthops) > 1:
        for nh in route.nexthops:
            hop = ["nexthop"]
            if nh.gateway is not None:
                hop.append(f"via {nh.gateway}")
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


class FibTable:
    """One routing table (``struct fib_table`` / ``struct fib6_table``) of one family.

    Build it with :meth:`from_routes`; ask it with :meth:`lookup`.
    """

    __slots__ = ("family", "id", "_by_len", "_lens", "count", "_probes", "_hits", "_idx1",
                 "_idx2", "_short", "_sh1", "_sh2")

    def __init__(self, family: int, table_id: int) -> None:
        self.family = family
        self.id = table_id
        self._by_len: dict[int, dict[int, list[Route]]] = {}
        self._lens: list[int] = []
        self.count = 0
        #: (mask, prefixlen, {network: [routes]}) longest prefix first
        self._probes: list[tuple[int, int, dict[int, list[Route]]]] = []
        #: id(route) -> its flow-independent hit (or None when checks are needed), filled lazily
        self._hits: dict[int, TableHit | None] = {}
        #: big tables: the probes that can hold an address, indexed by its top bits (a
        #: two-level "which prefix lengths exist under this /16 (/32), this /8 (/16)" map),
        #: so a lookup tries only the lengths present there, not every length of the table
        self._idx1: dict[int, tuple[Probe, ...]] | None = None
        self._idx2: dict[int, tuple[Probe, ...]] = {}
        self._short: tuple[Probe, ...] = ()
        self._sh1 = 0
        self._sh2 = 0

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
        bits = _BITS[fam]
        s1, s2 = _SPLITS[fam]
        sh1, sh2 = bits - s1, bits - s2
        slots: list[dict[int, list[Route]]] = [{} for _ in range(bits + 1)]
        multi: list[list[Route]] = []
        for route in routes:
            dst = route.dst
            bucket = slots[dst._prefixlen]  # type: ignore[attr-defined]
            net = dst.network_address._ip  # type: ignore[attr-defined]
            lst = bucket.get(net)
            if lst is None:
                bucket[net] = [route]
            else:
                if len(lst) == 1:
                    multi.append(lst)
                lst.append(route)
        by_len = {plen: bucket for plen, bucket in enumerate(slots) if bucket}
        table = cls(fam, tid)
        for lst in multi:
            lst.sort(key=_sort_key)
        table._by_len = by_len
        table._lens = sorted(by_len, reverse=True)
        table.count = len(routes)
        masks = _MASKS[fam]
        probe = {plen: (masks[plen], plen, by_len[plen]) for plen in table._lens}
        table._probes = [probe[plen] for plen in table._lens]
        if len(routes) > 256 and len(table._lens) > 4:
            under1: dict[int, set[int]] = {}
            under2: dict[int, set[int]] = {}
            for plen, bucket in by_len.items():
                if plen < s2:
                    continue
                under, sh = (under1, sh1) if plen >= s1 else (under2, sh2)
                for k in {net >> sh for net in bucket}:
                    seen = under.get(k)
                    if seen is None:
                        under[k] = {plen}
                    else:
                        seen.add(plen)
            cache: dict[frozenset[int], tuple[Probe, ...]] = {}

            def probes_of(lens: set[int]) -> tuple[Probe, ...]:
                key = frozenset(lens)
                hit = cache.get(key)
                if hit is None:
                    hit = cache[key] = tuple(probe[p] for p in sorted(lens, reverse=True))
                return hit

            table._idx1 = {k: probes_of(v) for k, v in under1.items()}
            table._idx2 = {k: probes_of(v) for k, v in under2.items()}
            table._short = tuple(probe[p] for p in table._lens if p < s2)
            table._sh1, table._sh2 = sh1, sh2
        return table

    def probes(self, addr: int) -> Sequence[Probe]:
        """The (mask, prefixlen, bucket) probes that may hold ``addr``, longest first."""
        idx1 = self._idx1
        if idx1 is None:
            return self._probes
        return (idx1.get(addr >> self._sh1, ()) + self._idx2.get(addr >> self._sh2, ())
                + self._short)

    def __len__(self) -> int:
        return self.count

    def routes(self) -> list[Route]:
        """Every route, longest prefix first (for display)."""
        out: list[Route] = []
        for plen in self._lens:
            for net in sorted(self._by_len[plen]):
                out.extend(self._by_len[plen][net])
        return out

    def candidates(self, addr: int) -> Iterable[tuple[int, Sequence[Route]]]:
        """(prefixlen, routes) of every prefix holding ``addr``, longest first."""
        for mask, plen, bucket in self.probes(addr):
            lst = bucket.get(addr & mask)
            if lst is not None:
                yield plen, lst

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
        for mask, plen, bucket in self.probes(addr) if self._idx1 is not None else self._probes:
            lst = bucket.get(addr & mask)
            if lst is None:
                continue
            for route in lst:
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
        return TableHit(route, None, errno, plen)
    if not route.nexthops:
        return TableHit(route, None, None, plen)
    nh = route.nexthops[0]
    if nh.flags:
        return None
    return TableHit(route, nh, None, plen)


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
