"""Read ``ip route`` output (text and ``-j`` JSON) into :class:`Route` objects.

The twin of iproute2's ``print_route()`` (ip/iproute.c, 6.1): every field
it prints is read back here, in the same words. What it leaves out is the
default the kernel holds: no ``proto`` is ``boot``, no ``scope`` is
``global`` (universe), no type is ``unicast``, no ``table`` is the table the
listing was asked for (``main`` unless ``table X``; ``table all`` prints it).

The text reader is the hot path (a million routes): a hand tokenizer over
``str.partition()``, destinations read as integers, the text after the
destination parsed once per distinct text, and routes kept as columns until
something asks for them (:class:`RouteColumns`); repeated gateways and
nexthops cached.
"""

from __future__ import annotations

import gc
import json
import re
from array import array
from wgexplain.inet import AF_INET as _SOCK_AF_INET, AF_INET6 as _SOCK_AF_INET6, inet_pton
from typing import Any, Iterator, Sequence, overload

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, RT_TABLE_MAIN, ROUTE_TYPES, Nexthop, Route
from wgexplain.sources import _fast, rtnames
from wgexplain.sources.jsonlines import json_items

_TYPES = frozenset(ROUTE_TYPES)
#: flags ``print_rt_flags()`` prints
_FLAGS = frozenset({"dead", "onlink", "pervasive", "offload", "trap", "notify", "linkdown",
                    "unresolved", "rt_offload", "rt_trap", "rt_offload_failed"})
#: ``mx_names[]``: route metrics, kept in ``Route.extra``, not simulated
_METRICS = frozenset({"mtu", "window", "rtt", "rttvar", "ssthresh", "cwnd", "advmss",
                      "reordering", "hoplimit", "initcwnd", "features", "rto_min", "initrwnd",
                      "quickack", "congctl", "fastopen_no_cookie"})
_MS_METRICS = frozenset({"rtt", "rttvar", "rto_min"})
#: metrics ``print_rta_metrics()`` prints as a plain u32
_U32_METRICS = frozenset({"mtu", "window", "ssthresh", "cwnd", "advmss", "reordering",
                          "hoplimit", "initcwnd", "initrwnd", "quickack", "fastopen_no_cookie"})
_MS_VALUE = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?m?s")
#: single-value attributes kept in ``extra`` (cache info, marks, uid, iif...)
_KEEP1 = frozenset({"nhid", "mark", "uid", "iif", "error", "users", "used", "age", "ipid",
                    "ts", "tsage", "realm", "realms", "ttl-propogate"})
_PREFS = frozenset({"low", "medium", "high"})
#: prefix lengths as printed: text -> int (others go through int(), as before)
_PLENS = {str(p): p for p in range(129)}
_EMPTY: frozenset[str] = frozenset()
_EXPECT_ATTR = ("a route attribute as iproute2 prints it (via, dev, table, proto, scope, "
                "src, metric, pref, expires, mtu, nexthop, ...)")


class _Ctx:
    """Per-call caches: repeated strings map to the same objects."""

    __slots__ = ("file", "table_names", "gw", "nh", "flags", "origin_file", "warnings")

    def __init__(self, file: str, table_names: dict[str, int] | None,
                 warnings: list[str] | None) -> None:
        self.file = file
        self.table_names = table_names
        self.gw: dict[str, Any] = {}
        self.nh: dict[tuple[Any, ...], Nexthop] = {}
        self.flags: dict[tuple[str, ...], frozenset[str]] = {(): _EMPTY}
        self.warnings = warnings


def _col(line: str, token: str) -> int | None:
    i = line.find(token)
    return i + 1 if i >= 0 else None


def _err(ctx: _Ctx, lineno: int, line: str, expected: str, token: str) -> DumpError:
    return DumpError(ctx.file, lineno, expected, got=token, column=_col(line, token))


def _addr(ctx: _Ctx, text: str, family: int | None) -> tuple[Any, int] | None:
    """An address (cached) and its family, or None when ``text`` is not one."""
    hit = ctx.gw.get(text)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    res: tuple[Any, int]
    try:
        if ":" in text:
            res = (_fast.addr6(_fast.ip6_int(text)), AF_INET6)
        else:
            res = (_fast.addr4(_fast.ip4_int(text)), AF_INET)
    except (OSError, ValueError):
        return None
    ctx.gw[text] = res
    return res


def _plen(text: str) -> int:
    """A prefix length (0..128, ASCII digits as iproute2 prints them), else ValueError."""
    p = _PLENS.get(text)
    if p is None:
        raise ValueError(text)
    return p


def _dst(text: str, family: int | None) -> tuple[Any, int] | None:
    """``default``, ``A.B.C.D[/N]``, ``X::Y[/N]`` -> (network, family); None if not one."""
    if text == "default":
        if family == AF_INET6:
            return _fast.net6(0, 0), AF_INET6
        return _fast.net4(0, 0), AF_INET  # family still open: fixed up by the caller
    addr, sep, plen_s = text.partition("/")
    try:
        if ":" in addr:
            plen = _plen(plen_s) if sep else 128
            if not 0 <= plen <= 128:
                return None
            net = _fast.net6(_fast.ip6_int(addr), plen)
            return (net, AF_INET6) if net is not None else None
        if addr == "0" and sep:  # "0/8": RTA_DST absent but a length set
            addr = "0.0.0.0"
        plen = _plen(plen_s) if sep else 32
        if not 0 <= plen <= 32:
            return None
        net4 = _fast.net4(_fast.ip4_int(addr), plen)
        return (net4, AF_INET) if net4 is not None else None
    except (OSError, ValueError):
        return None


def _table(ctx: _Ctx, text: str) -> int | None:
    return rtnames.table_id(text, ctx.table_names)


def _metric_value(key: str, value: str) -> str:
    """Normalise a metric as ``-j`` prints it (rtt ``10ms``/``1.5s`` -> ms)."""
    if key in _MS_METRICS:
        if value.endswith("ms"):
            return value[:-2]
        if value.endswith("s"):
            try:
                return str(int(round(float(value[:-1]) * 1000)))
            except (ValueError, OverflowError):
                return value
    return value


def parse_routes_text(text: str, file: str, first_line: int = 1, family: int | None = None,
                      table: int | None = None, *, table_names: dict[str, int] | None = None,
                      dev: str | None = None, warnings: list[str] | None = None
                      ) -> "RouteColumns":
    """Read ``ip route`` text output (``print_route()`` in ip/iproute.c).

    ``family`` is the command's ``-4``/``-6`` (None: from each line's
    addresses; a route with none, like ``default dev X``, is IPv4 unless
    it carries IPv6-only fields such as ``pref``). ``table`` is the table of
    routes printed without ``table`` (the listing's ``table X``; None:
    ``main``). ``dev`` fills routes printed without ``dev`` (``ip route show
    dev X`` leaves it out). Blank lines are skipped. Raises
    :class:`DumpError` with the 1-based line in ``file``.

    Every line is read and checked here, but the :class:`Route` objects are
    built only when asked for: the result is a :class:`RouteColumns`, a
    sequence of routes kept as columns (destination, prefix length, family,
    line, and the text after the destination). Everything after the
    destination is parsed once per distinct text and reused: a full routing
    table repeats a few hundred such tails.
    """
    ctx = _Ctx(file, table_names, warnings)
    default_table = RT_TABLE_MAIN if table is None else table
    lines = text.split("\n")
    n = len(lines)
    types = _TYPES
    tails: dict[Any, int] = {}  # the text after dst (unicast) or (type, text) -> tail id
    tails_get = tails.get
    tail_list: list[tuple[Any, ...]] = []
    tail_fams: list[int] = []  # per tail: the family its src/via addresses imply, or 0
    dsts: list[int] = []
    plens = bytearray()
    fams = bytearray()
    tids = array("I")
    linenos = array("I")
    dst_append, plen_append, fam_append = dsts.append, plens.append, fams.append
    tid_append, line_append = tids.append, linenos.append
    from_bytes = int.from_bytes
    masks4, masks6 = _fast.MASKINT4, _fast.MASKINT6
    plen_of = _PLENS.get
    gc_was = gc.isenabled()
    gc.disable()  # a million small objects, none cyclic: the collector would only rescan them
    try:
        # The common shape (no tabs, no line starting with a blank, so no multipath
        # continuation lines): one line is one route, read by the loop below; anything
        # else goes through the general loop after it. Both make the same columns.
        simple = "\t" not in text and "\n " not in text and not text.startswith(" ")
        lineno = first_line - 1
        for line in (lines if simple else ()):
            lineno += 1
            head, _, rest = line.partition(" ")
            if head in types:
                rtype = head
                parts = rest.split(None, 1)
                if not parts:
                    raise _err(ctx, lineno, line, "a destination after the route type", head)
                head = parts[0]
                rest = parts[1] if len(parts) > 1 else ""
                key: Any = (rtype, rest)
            elif head:
                rtype = "unicast"
                key = rest
            else:
                continue  # a blank line
            if head == "default":
                value = plen = dfam = 0
            else:
                addr, sep, plen_s = head.partition("/")
                value = -1
                try:  # as in the loop below; the rare "0/8" is handled when inet_pton fails
                    if ":" in addr:
                        dfam = AF_INET6
                        plen = (plen_of(plen_s) or _plen(plen_s)) if sep else 128
                        value = from_bytes(inet_pton(_SOCK_AF_INET6, addr))
                        if plen < 0 or value & masks6[plen] != value:  # host bits: not a network
                            value = -1
                    else:
                        dfam = AF_INET
                        plen = (plen_of(plen_s) or _plen(plen_s)) if sep else 32
                        value = from_bytes(inet_pton(_SOCK_AF_INET, addr))
                        if plen < 0 or value & masks4[plen] != value:
                            value = -1
                except OSError:
                    if addr == "0" and sep and dfam == AF_INET and 0 <= plen <= 32:
                        value = 0  # "0/8": RTA_DST absent but a length set
                except (ValueError, IndexError):
                    value = -1
                if value < 0:
                    raise _dst_err(ctx, lineno, line, head, rtype)
            tid = tails_get(key)
            if tid is None:
                before = len(warnings) if warnings is not None else 0
                tpl, implied = _parse_tail(ctx, rtype, head, rest, line, lineno, family,
                                           default_table, dev)
                tid = len(tail_list)
                tail_list.append((rtype,) + tpl)
                tail_fams.append(implied)
                if warnings is None or len(warnings) == before:
                    tails[key] = tid
            if dfam:
                fam = dfam
                if family is not None and dfam != family:
                    raise _family_err(ctx, lineno, line, family, head)
                if tail_fams[tid] not in (0, dfam):  # src/via of the other family
                    raise _mixed_err(ctx, lineno, line, dfam)
            else:
                fam = tail_list[tid][1]
                if family is not None and fam != family:
                    raise _family_err(ctx, lineno, line, family, line.strip())
            dst_append(value)
            plen_append(plen)
            fam_append(fam)
            tid_append(tid)
        if simple:  # each non-blank line made one row, in order
            linenos = array("I", range(first_line, first_line + n)) if not (
                "\n\n" in text or text.startswith("\n")) else \
                array("I", [first_line + k for k, line in enumerate(lines) if line])
            del linenos[len(dsts):]  # the empty string after a final newline made no row
        i = n if simple else 0
        while i < n:
            line = lines[i]
            lineno = first_line + i
            i += 1
            head, _, rest = line.partition(" ")
            if not head or "\t" in head:  # leading blanks or tabs: the slow, general split
                parts = line.split(None, 1)
                if not parts:
                    continue
                head = parts[0]
                rest = parts[1] if len(parts) > 1 else ""
            if head in types:
                rtype = head
                parts = rest.split(None, 1)
                if not parts:
                    raise _err(ctx, lineno, line, "a destination after the route type", head)
                head = parts[0]
                rest = parts[1] if len(parts) > 1 else ""
                key = (rtype, rest)
            else:
                rtype = "unicast"
                key = rest
            # multipath continuation lines ("\tnexthop via ...") belong to this route
            while i < n and lines[i][:1] in (" ", "\t") and lines[i].split(None, 1)[:1] == ["nexthop"]:
                rest = rest + "\n" + lines[i]
                i += 1
                key = (rtype, rest)
            # the destination: its value, prefix length and family (0: default, any family)
            if head == "default":
                value = plen = dfam = 0
            else:
                addr, sep, plen_s = head.partition("/")
                value = -1
                try:
                    if ":" in addr:
                        plen = _plen(plen_s) if sep else 128
                        value = from_bytes(inet_pton(_SOCK_AF_INET6, addr))
                        if plen < 0 or value & masks6[plen] != value:  # host bits: not a network
                            value = -1
                        dfam = AF_INET6
                    else:
                        if addr == "0" and sep:  # "0/8": RTA_DST absent but a length set
                            addr = "0.0.0.0"
                        plen = _plen(plen_s) if sep else 32
                        value = from_bytes(inet_pton(_SOCK_AF_INET, addr))
                        if plen < 0 or value & masks4[plen] != value:
                            value = -1
                        dfam = AF_INET
                except (OSError, ValueError, IndexError):
                    value = -1
                if value < 0:
                    raise _dst_err(ctx, lineno, line, head, rtype)
            tid = tails_get(key)
            if tid is None:
                before = len(warnings) if warnings is not None else 0
                tpl, implied = _parse_tail(ctx, rtype, head, rest, line, lineno, family,
                                           default_table, dev)
                tid = len(tail_list)
                tail_list.append((rtype,) + tpl)
                tail_fams.append(implied)
                if warnings is None or len(warnings) == before:
                    tails[key] = tid
            if dfam:
                fam = dfam
                if family is not None and dfam != family:
                    raise _family_err(ctx, lineno, line, family, head)
                if tail_fams[tid] not in (0, dfam):  # src/via of the other family
                    raise _mixed_err(ctx, lineno, line, dfam)
            else:
                fam = tail_list[tid][1]
                if family is not None and fam != family:
                    raise _family_err(ctx, lineno, line, family, line.strip())
            dst_append(value)
            plen_append(plen)
            fam_append(fam)
            tid_append(tid)
            line_append(lineno)
    finally:
        if gc_was:
            gc.enable()
    store = _ColumnStore(file, tail_list, dsts, plens, fams, tids, linenos)
    return RouteColumns(store, range(len(dsts)))


def _dst_err(ctx: _Ctx, lineno: int, line: str, head: str, rtype: str) -> DumpError:
    if head == "nexthop":
        return _err(ctx, lineno, line, "a route line before its 'nexthop' lines", head)
    return _err(ctx, lineno, line, "a route destination (default, an address or prefix"
                + (", or a route type" if rtype == "unicast" else "") + ")", head)


def _mixed_err(ctx: _Ctx, lineno: int, line: str, dfam: int) -> DumpError:
    v = "IPv4" if dfam == AF_INET else "IPv6"
    return _err(ctx, lineno, line, f"a source and gateway of the destination's family ({v}; a "
                "gateway of the other family is printed 'via inet6 ...')", line.strip())


def _family_err(ctx: _Ctx, lineno: int, line: str, family: int, got: str) -> DumpError:
    return _err(ctx, lineno, line, ("an IPv4" if family == AF_INET else "an IPv6")
                + " route (this listing is of one family)", got)


class _ColumnStore:
    """The columns of one listing and the routes built from them so far (by row)."""

    __slots__ = ("file", "tails", "dsts", "plens", "fams", "tids", "linenos", "built",
                 "_defaults")

    def __init__(self, file: str, tails: list[tuple[Any, ...]], dsts: list[int],
                 plens: bytearray, fams: bytearray, tids: "array[int]",
                 linenos: "array[int]") -> None:
        self.file = file
        #: per tail id: (type, family, table, tos, metric, protocol, scope, prefsrc,
        #: nexthops, flags, pref, expires, extra), as ``_parse_tail()`` returns them
        self.tails = tails
        self.dsts = dsts
        self.plens = plens
        self.fams = fams
        self.tids = tids
        self.linenos = linenos
        self.built: dict[int, Route] = {}
        self._defaults: dict[int, Any] = {}

    def route(self, row: int) -> Route:
        """The :class:`Route` of ``row``, built once (the same object on every call)."""
        r = self.built.get(row)
        if r is not None:
            return r
        (rtype, _, tbl, tos, metric, protocol, scope, prefsrc, nexthops, rfs, pref, expires,
         extra) = self.tails[self.tids[row]]
        fam = self.fams[row]
        plen = self.plens[row]
        value = self.dsts[row]
        if plen == 0:
            net = self._defaults.get(fam)
            if net is None:
                net = self._defaults[fam] = _fast.net6(0, 0) if fam == AF_INET6 \
                    else _fast.net4(0, 0)
        else:
            net = _fast.net6(value, plen) if fam == AF_INET6 else _fast.net4(value, plen)
        r = self.built[row] = _fast.make_route(
            fam, tbl, net, rtype, tos, metric, protocol, scope, prefsrc, nexthops, rfs, pref,
            expires, extra, _fast.make_origin(self.file, self.linenos[row]))
        return r


class RouteColumns(Sequence[Route]):
    """Routes read from ``ip route`` text, kept as columns; each built on first access.

    A ``Sequence[Route]`` (indexing, slicing, iteration, ``len``) whose items
    are exactly the :class:`Route` objects the reader would have built, each
    built once and then kept (the same object every time). It is a block of
    :class:`~wgexplain.model.LazyRoutes`: :meth:`by_table` splits it without
    building routes, :meth:`tables` names its (family, table) pairs, and
    :meth:`prefixes` gives the FIB its keys (``FibTable.from_prefixes()``).

    Row numbers stay valid in the parts :meth:`by_table` returns (they
    share the columns and the routes already built).
    """

    __slots__ = ("_store", "_rows", "_key")

    def __init__(self, store: _ColumnStore, rows: "range | array[int]",
                 key: tuple[int, int] | None = None) -> None:
        self._store = store
        self._rows = rows
        self._key = key  # (family, table) when every row has it

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Route: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Route, ...]: ...

    def __getitem__(self, index: int | slice) -> Route | tuple[Route, ...]:
        if isinstance(index, slice):
            route = self._store.route
            return tuple(route(row) for row in self._rows[index])
        return self._store.route(self._rows[index])

    def __iter__(self) -> Iterator[Route]:
        route = self._store.route
        for row in self._rows:
            yield route(row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (Sequence, RouteColumns)) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"RouteColumns({len(self)} routes from {self._store.file})"

    # -- without building routes ------------------------------------------------

    def _row_keys(self) -> Iterator[tuple[int, int]]:
        st = self._store
        tables = [t[2] for t in st.tails]
        fams, tids = st.fams, st.tids
        for row in self._rows:
            yield fams[row], tables[tids[row]]

    def tables(self) -> set[tuple[int, int]]:
        """The (family, table) pairs of these routes."""
        if self._key is not None:
            return {self._key} if len(self._rows) else set()
        return set(self._row_keys())

    def by_table(self) -> dict[tuple[int, int], "RouteColumns"]:
        """These routes split by (family, table), each part in listing order."""
        st = self._store
        if self._key is not None:
            return {self._key: self} if len(self._rows) else {}
        tables = {t[2] for t in st.tails}
        rows = self._rows
        full = isinstance(rows, range) and rows == range(len(st.fams))
        if full and len(tables) == 1:
            fams = st.fams
            n6 = fams.count(AF_INET6)
            if n6 in (0, len(fams)):
                key = (AF_INET6 if n6 else AF_INET, next(iter(tables)))
                return {key: RouteColumns(st, rows, key)} if len(rows) else {}
        groups: dict[tuple[int, int], array[int]] = {}
        for row, key in zip(rows, self._row_keys()):
            lst = groups.get(key)
            if lst is None:
                lst = groups[key] = array("I")
            lst.append(row)
        return {key: RouteColumns(st, lst, key) for key, lst in groups.items()}

    def tails(self) -> list[tuple[Any, ...]]:
        """The distinct tails these rows use (see :meth:`_ColumnStore.route`)."""
        st = self._store
        if isinstance(self._rows, range) and self._rows == range(len(st.tids)):
            used: Any = set(st.tids)
        else:
            tids = st.tids
            used = {tids[row] for row in self._rows}
        return [st.tails[t] for t in sorted(used)]

    def prefixes(self) -> tuple[Sequence[int], Sequence[int], Sequence[int]]:
        """(rows, destination values, prefix lengths): three columns in listing order.

        What ``FibTable.from_prefixes()`` reads; a row is turned into its
        route by :meth:`route_of_row`.
        """
        st = self._store
        rows = self._rows
        if isinstance(rows, range) and rows == range(len(st.dsts)):
            return rows, st.dsts, st.plens
        return (rows, list(map(st.dsts.__getitem__, rows)),
                bytes(map(st.plens.__getitem__, rows)))

    def route_of_row(self, row: int) -> Route:
        """The route of a row given by :meth:`prefixes`."""
        return self._store.route(row)


def _parse_tail(ctx: _Ctx, rtype: str, dst_s: str, rest: str, line: str, lineno: int,
                family: int | None, default_table: int, dev: str | None
                ) -> tuple[tuple[Any, ...], int]:
    """Everything after the destination -> the route's fields but ``dst`` and ``origin``,
    and the family its ``src``/``via`` addresses imply (0: none).

    The family returned is the one the tail implies (gateway, ``src``,
    ``pref``), else the listing's, else IPv4; the destination's own family
    wins when it has one.
    """
    toks = rest.split()
    fam: int | None = None
    k = 0
    tbl = default_table
    tos = 0
    metric = 0
    protocol = "boot"
    scope = "global"
    prefsrc = None
    pref = None
    expires = None
    extra: list[tuple[str, str]] | None = None
    # the nexthop being filled; hops collects them for multipath
    gw = None
    ndev = None
    weight = 1
    nflags: list[str] | None = None
    rflags: list[str] | None = None
    hops: list[tuple[Any, Any, int, list[str] | None]] | None = None
    ntoks = len(toks)
    while k < ntoks:
        t = toks[k]
        k += 1
        if t == "dev":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "a device name after 'dev'", t)
            ndev = toks[k]
            k += 1
        elif t == "via":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "an address after 'via'", t)
            v = toks[k]
            k += 1
            explicit = v in ("inet", "inet6") and k < ntoks  # RTA_VIA: may be the other family
            if explicit:
                v = toks[k]
                k += 1
            a = _addr(ctx, v, family)
            if a is None:
                raise _err(ctx, lineno, line, "a gateway address after 'via'", v)
            gw = a[0]
            if fam is None and not explicit:
                fam = a[1]
            elif not explicit and fam != a[1]:
                raise _err(ctx, lineno, line, "a gateway of the route's family (or 'via inet6 ...')",
                           v)
        elif t == "proto":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "a protocol after 'proto'", t)
            protocol = toks[k]
            k += 1
        elif t == "scope":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "a scope after 'scope'", t)
            s = toks[k]
            k += 1
            if s == "universe":
                s = "global"
            elif s not in rtnames.SCOPES:
                sn = rtnames.parse_int(s)
                if sn is None or sn > 255:
                    raise _err(ctx, lineno, line, "a scope (global, site, link, host, nowhere "
                               "or a number)", s)
                s = rtnames.SCOPE_NAMES.get(sn, s)
            scope = s
        elif t == "metric":
            mv = rtnames.dec(toks[k]) if k < ntoks else None  # RTA_PRIORITY: a u32
            if mv is None:
                raise _err(ctx, lineno, line, "a number from 0 to 4294967295 after 'metric'",
                           toks[k] if k < ntoks else t)
            metric = mv
            k += 1
        elif t == "src":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "an address after 'src'", t)
            a = _addr(ctx, toks[k], family)
            if a is None:
                raise _err(ctx, lineno, line, "a source address after 'src'", toks[k])
            prefsrc = a[0]
            if fam is None:
                fam = a[1]
            elif fam != a[1]:
                raise _err(ctx, lineno, line, "a source address of the route's family", toks[k])
            k += 1
        elif t == "table":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "a table after 'table'", t)
            tid = _table(ctx, toks[k])
            if tid is None:
                raise _err(ctx, lineno, line, "a table number or a known table name (main, "
                           "local, default, or one from an rt_tables mapping)", toks[k])
            tbl = tid
            k += 1
        elif t in _FLAGS:
            if hops is not None:
                if nflags is None:
                    nflags = []
                nflags.append(t)
            else:
                if rflags is None:
                    rflags = []
                rflags.append(t)
        elif t == "nexthop":
            if hops is None:
                hops = []
                if gw is not None or ndev is not None:
                    raise _err(ctx, lineno, line, "no 'via'/'dev' before the 'nexthop' list", t)
            else:
                hops.append((gw, ndev, weight, nflags))
            gw = None
            ndev = None
            weight = 1
            nflags = None
        elif t == "weight":
            wv = rtnames.dec(toks[k], 1, 256) if k < ntoks else None  # rtnh_hops + 1
            if wv is None or hops is None:
                raise _err(ctx, lineno, line, "'weight N' (1 to 256) inside a 'nexthop'",
                           toks[k] if k < ntoks and hops is not None else t)
            weight = wv
            k += 1
        elif t == "pref":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "low, medium or high after 'pref'", t)
            pref = toks[k]
            k += 1
            if pref not in _PREFS and rtnames.dec(pref, 0, 255) is None:
                raise _err(ctx, lineno, line, "low, medium or high after 'pref'", pref)
            if fam is None:
                fam = AF_INET6
        elif t == "expires":
            v = toks[k] if k < ntoks else ""
            k += 1
            ev = rtnames.dec(v[:-3] if v.endswith("sec") else v, *rtnames.S32)
            if ev is None:
                raise _err(ctx, lineno, line, "'expires Nsec'", v or t)
            expires = ev
        elif t == "tos" or t == "dsfield":
            v = toks[k] if k < ntoks else ""
            k += 1
            ds = rtnames.dsfield(v)
            if ds is None:
                raise _err(ctx, lineno, line, "a tos value like 0x10 after 'tos'", v or t)
            tos = ds
        elif t in _METRICS:
            v = toks[k] if k < ntoks else ""
            k += 1
            if extra is None:
                extra = []
            if v == "lock":
                extra.append(("locked", t))
                v = toks[k] if k < ntoks else ""
                k += 1
            if not v:
                raise _err(ctx, lineno, line, f"a value after '{t}'", t)
            if t in _U32_METRICS and rtnames.dec(v) is None:
                raise _err(ctx, lineno, line, f"a number from 0 to 4294967295 after '{t}'", v)
            if t in _MS_METRICS and not _MS_VALUE.fullmatch(v):
                raise _err(ctx, lineno, line, f"a time like 10ms or 1.5s after '{t}'", v)
            extra.append((t, _metric_value(t, v)))
        elif t in _KEEP1:
            if k >= ntoks:
                raise _err(ctx, lineno, line, f"a value after '{t}'", t)
            if extra is None:
                extra = []
            extra.append((t, toks[k]))
            k += 1
        elif t == "from":
            if k >= ntoks:
                raise _err(ctx, lineno, line, "a source prefix after 'from'", t)
            if extra is None:
                extra = []
            extra.append(("from", toks[k]))
            if ctx.warnings is not None:
                ctx.warnings.append(f"not modelled: source-specific route {dst_s} from {toks[k]} "
                                    f"({ctx.file}:{lineno}); it is read as if it matched every "
                                    "source")
            k += 1
        elif t == "as" and k + 1 < ntoks and toks[k] == "to":
            if extra is None:
                extra = []
            extra.append(("as-to", toks[k + 1]))
            k += 2
        elif t == "\\":  # ip -o: multipath on one line
            continue
        elif t == "encap":
            raise _err(ctx, lineno, line, "a route without lightweight tunnel encapsulation "
                       "(not modelled: encap)", t)
        elif t == "cache":
            raise _err(ctx, lineno, line, "a FIB route, not a route cache entry (not modelled: "
                       "cache)", t)
        else:
            raise _err(ctx, lineno, line, _EXPECT_ATTR, t)
    implied = fam or 0
    if fam is None:
        fam = family if family is not None else AF_INET
    elif family is not None and fam != family and dst_s == "default":
        raise _err(ctx, lineno, line, ("an IPv4" if family == AF_INET else "an IPv6")
                   + " route (this listing is of one family)", line.strip())
    if dev is not None and ndev is None and hops is None:
        ndev = dev
    rfs = frozenset(rflags) if rflags else _EMPTY
    nhc = ctx.nh
    if hops is None:
        nexthops: tuple[Nexthop, ...] = (_fast.make_nexthop(gw, ndev, 1, "onlink" in rfs, rfs),)
    else:
        hops.append((gw, ndev, weight, nflags))
        lst = []
        for hgw, hdev, hw, hfl in hops:
            hfs = frozenset(hfl) if hfl else _EMPTY
            key3 = (hgw, hdev, hw, hfs)
            nh = nhc.get(key3)
            if nh is None:
                nh = nhc[key3] = _fast.make_nexthop(hgw, hdev, hw, "onlink" in hfs, hfs)
            lst.append(nh)
        nexthops = tuple(lst)
    return (fam, tbl, tos, metric, protocol, scope, prefsrc, nexthops, rfs, pref, expires,
            tuple(extra) if extra else ()), implied


# --------------------------------------------------------------------------- JSON

_JSON_KEYS = frozenset({"type", "dst", "from", "nhid", "tos", "gateway", "via", "dev", "table",
                        "protocol", "scope", "prefsrc", "metric", "flags", "mark", "flow", "uid",
                        "expires", "error", "users", "used", "age", "ipid", "ts", "tsage",
                        "metrics", "iif", "pref", "ttl-propogate", "nexthops", "to"})


def parse_routes_json(text: str, file: str, first_line: int = 1, family: int | None = None,
                      table: int | None = None, *, table_names: dict[str, int] | None = None,
                      dev: str | None = None, warnings: list[str] | None = None) -> list[Route]:
    """Read ``ip -j route`` output (the JSON side of ``print_route()``).

    Same meaning of ``family``/``table``/``dev`` as :func:`parse_routes_text`.
    Errors name the line of the offending object.
    """
    ctx = _Ctx(file, table_names, warnings)
    default_table = RT_TABLE_MAIN if table is None else table
    out: list[Route] = []
    for obj, lineno in json_items(text, file, first_line, "a JSON array of routes (ip -j route)"):
        out.append(_route_from_json(ctx, obj, lineno, family, default_table, dev))
    return out


def _jstr(ctx: _Ctx, obj: dict[str, Any], key: str, lineno: int) -> str:
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise DumpError(ctx.file, lineno, f"a string or number for {key!r}", got=repr(v)[:60])
    return str(v)


def _route_from_json(ctx: _Ctx, obj: Any, lineno: int, family: int | None, default_table: int,
                     dev: str | None) -> Route:
    if not isinstance(obj, dict):
        raise DumpError(ctx.file, lineno, "a route object", got=json.dumps(obj)[:60])
    for key in obj:
        if key not in _JSON_KEYS:
            if key == "encap":
                raise DumpError(ctx.file, lineno, "a route without encapsulation (not modelled: "
                                "encap)", got=key)
            if key in ("cache", "deleted"):
                raise DumpError(ctx.file, lineno, "a FIB route as 'ip -j route' lists it", got=key)
            raise DumpError(ctx.file, lineno, "a key 'ip -j route' prints (dst, gateway, dev, "
                            "table, protocol, scope, prefsrc, metric, flags, nexthops, ...)",
                            got=key)
    if "dst" not in obj:
        raise DumpError(ctx.file, lineno, "a route object with 'dst'", got=json.dumps(obj)[:60])
    dst_s = _jstr(ctx, obj, "dst", lineno)
    d = _dst(dst_s, family)
    if d is None:
        raise DumpError(ctx.file, lineno, "a route destination (default, an address or prefix)",
                        got=dst_s)
    net, fam = d
    fam_known = dst_s != "default"
    rtype = _jstr(ctx, obj, "type", lineno) if "type" in obj else "unicast"
    if rtype not in _TYPES:
        raise DumpError(ctx.file, lineno, "a route type (unicast, local, broadcast, ...)",
                        got=rtype)

    def addr(key: str, value: Any) -> Any:
        nonlocal fam, fam_known
        a = _addr(ctx, str(value), family)
        if a is None:
            raise DumpError(ctx.file, lineno, f"an address for {key!r}", got=str(value))
        if not fam_known and key != "via":
            fam, fam_known = a[1], True
        return a[0]

    tbl = default_table
    if "table" in obj:
        tid = _table(ctx, _jstr(ctx, obj, "table", lineno))
        if tid is None:
            raise DumpError(ctx.file, lineno, "a table number or a known table name",
                            got=str(obj["table"]))
        tbl = tid
    tos = 0
    if "tos" in obj:
        ds = rtnames.dsfield(_jstr(ctx, obj, "tos", lineno))
        if ds is None:
            raise DumpError(ctx.file, lineno, "a tos value like 0x10", got=str(obj["tos"]))
        tos = ds
    metric = _int(ctx, obj, "metric", lineno, 0)
    protocol = _jstr(ctx, obj, "protocol", lineno) if "protocol" in obj else "boot"
    scope = _jstr(ctx, obj, "scope", lineno) if "scope" in obj else "global"
    if scope == "universe":
        scope = "global"
    prefsrc = addr("prefsrc", obj["prefsrc"]) if "prefsrc" in obj else None
    pref = None
    if "pref" in obj:
        pref = _jstr(ctx, obj, "pref", lineno)
        if not fam_known:
            fam, fam_known = AF_INET6, True
    expires = _int(ctx, obj, "expires", lineno, None, *rtnames.S32) if "expires" in obj else None
    rflags = _flags(ctx, obj, lineno)
    extra: list[tuple[str, str]] = []
    for key in ("nhid", "mark", "uid", "iif", "error", "users", "used", "age", "ipid", "ts",
                "tsage", "ttl-propogate"):
        if key in obj:
            extra.append((key, str(obj[key]).lower() if isinstance(obj[key], bool) else
                          str(obj[key])))
    if "flow" in obj and isinstance(obj["flow"], dict):
        f = obj["flow"]
        extra.append(("realms" if "from" in f else "realm",
                      (f"{f['from']}/" if "from" in f else "") + str(f.get("to", ""))))
    if "to" in obj:
        extra.append(("as-to", str(obj["to"])))
    if "from" in obj:
        extra.append(("from", str(obj["from"])))
        if ctx.warnings is not None:
            ctx.warnings.append(f"not modelled: source-specific route {dst_s} from {obj['from']} "
                                f"({ctx.file}:{lineno}); it is read as if it matched every source")
    if "metrics" in obj:
        ms = obj["metrics"]
        if not isinstance(ms, list):
            raise DumpError(ctx.file, lineno, "a list for 'metrics'", got=repr(ms)[:60])
        for m in ms:
            if not isinstance(m, dict):
                raise DumpError(ctx.file, lineno, "metric objects", got=repr(m)[:60])
            for mk, mv in m.items():
                extra.append((str(mk), str(mv)))

    def hop(h: Any, flags: frozenset[str], weight: int) -> Nexthop:
        gw = None
        if "gateway" in h:
            gw = addr("gateway", h["gateway"])
        elif "via" in h:
            v = h["via"]
            gw = addr("via", v.get("host") if isinstance(v, dict) else v)
        if "dev" in h and not isinstance(h["dev"], str):
            raise DumpError(ctx.file, lineno, "a device name for 'dev'", got=repr(h["dev"])[:60])
        hdev = h["dev"] if "dev" in h else None
        return _fast.make_nexthop(gw, hdev, weight, "onlink" in flags, flags)

    if "nexthops" in obj:
        hs = obj["nexthops"]
        if not isinstance(hs, list) or not hs or not all(isinstance(h, dict) for h in hs):
            raise DumpError(ctx.file, lineno, "a non-empty list of objects for 'nexthops'",
                            got=repr(hs)[:60])
        nexthops = tuple(hop(h, _flags(ctx, h, lineno), _int(ctx, h, "weight", lineno, 1, 1, 256))
                         for h in hs)
    else:
        nh = hop(obj, rflags, 1)
        if nh.dev is None and dev is not None:
            nh = _fast.make_nexthop(nh.gateway, dev, 1, nh.onlink, nh.flags)
        nexthops = (nh,)
    if family is not None and fam != family:
        if fam_known:
            raise DumpError(ctx.file, lineno, ("an IPv4" if family == AF_INET else "an IPv6")
                            + " route (this listing is of one family)", got=dst_s)
        fam = family
    if fam == AF_INET6 and net.version == 4:
        net = _fast.net6(0, 0)
    want = 4 if fam == AF_INET else 6
    for nh in nexthops:
        if nh.gateway is not None and nh.gateway.version != want and "via" not in obj and not \
                any("via" in h for h in obj.get("nexthops", ())):
            raise DumpError(ctx.file, lineno, "a gateway of the route's family (or 'via')",
                            got=str(nh.gateway))
    if prefsrc is not None and prefsrc.version != want:
        raise DumpError(ctx.file, lineno, "a source address ('prefsrc') of the route's family",
                        got=str(prefsrc))
    return _fast.make_route(fam, tbl, net, rtype, tos, metric, protocol, scope, prefsrc,
                            nexthops, rflags, pref, expires, tuple(extra),
                            _fast.make_origin(ctx.file, lineno))


def _int(ctx: _Ctx, obj: dict[str, Any], key: str, lineno: int, default: Any,
         lo: int = 0, hi: int = rtnames.U32) -> Any:
    """A JSON integer in ``lo..hi`` (metric: u32, weight 1..256, expires: s32)."""
    if key not in obj:
        return default
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise DumpError(ctx.file, lineno, f"a number from {lo} to {hi} for {key!r}",
                        got=repr(v)[:60])
    return v


def _flags(ctx: _Ctx, obj: dict[str, Any], lineno: int) -> frozenset[str]:
    fl = obj.get("flags", [])
    if not isinstance(fl, list) or not all(isinstance(f, str) for f in fl):
        raise DumpError(ctx.file, lineno, "a list of flag names for 'flags'", got=repr(fl)[:60])
    bad = [f for f in fl if f not in _FLAGS]
    if bad:
        raise DumpError(ctx.file, lineno, "route flags as iproute2 prints them (onlink, "
                        "linkdown, dead, ...)", got=bad[0])
    return frozenset(fl) if fl else _EMPTY


def route_key(r: Route) -> tuple[Any, ...]:
    """What must agree between two dumps of the same route (not origin, not the clock).

    ``expires`` counts down between two commands and a metric's ``lock``
    is not in ``-j`` output, so neither is compared.
    """
    extra = tuple(sorted((k, v) for k, v in r.extra if k != "locked"))
    return (r.family, r.table, r.dst, r.type, r.tos, r.metric, r.protocol, r.scope, r.prefsrc,
            r.nexthops, r.flags, r.pref, extra)
