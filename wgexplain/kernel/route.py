"""The routing decision: what ``ip route get`` answers.

The twin of net/ipv4/route.c — ``ip_route_output_key_hash_rcu()`` (output
lookups, source address choice), ``__mkroute_output()``,
``ip_route_input_slow()`` (input lookups: martians, local delivery,
forwarding, rp_filter), ``inet_rtm_getroute()`` (what ``ip route get``
asks) — and of net/ipv6/route.c ``ip6_route_output_flags()``,
``ip6_pol_route()``, ``ip6_route_input_lookup()`` with
``ipv6_dev_get_saddr()`` (net/ipv6/addrconf.c) for the source address.

Public API: :func:`route_get` (``ip route get`` arguments, strings or ints)
and :func:`lookup` (a :class:`~wgexplain.model.Flow`), both returning a
:class:`RouteResult`.

Decisions (documented because the kernel takes them from the caller):

* no ``ipproto`` given: IPv4 lookups carry UDP, as ``inet_rtm_getroute()``
  builds a UDP packet (a rule ``ipproto udp`` matches ``ip route get X``);
  IPv6 lookups carry no protocol;
* no ``uid`` given: uid 0, as ``ip route get`` run by root (the kernel uses
  the caller's uid for output lookups; IPv4 input lookups use uid 0 of the
  namespace and ignore ``uid``; IPv6 input lookups use ``uid`` when given,
  else ``INVALID_UID``, which matches no ``uidrange`` rule);
* sysctls missing from the dump take the kernel's defaults (ip_forward 0,
  rp_filter 0, src_valid_mark 0...) and the result's ``notes`` say which;
* IPv4 routes of several nexthops: the kernel hashes with a per-boot random
  key (``fib_multipath_hash()``), so the first live hop is shown and
  ``exact`` is false.
"""

from __future__ import annotations

import gc
import ipaddress
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from wgexplain.errors import UsageError
from wgexplain.model import (
    AF_INET, AF_INET6, RT_TABLE_LOCAL, Address, Flow, Host, IPAddress, LazyRoutes, Nexthop, Route,
    Rule, as_dict,
)
from wgexplain.evidence import RouteEvidence
from wgexplain.kernel import fib_frontend
from wgexplain.kernel.fib_frontend import Conf, fib_validate_source, scope_num
from wgexplain.kernel.fib_rules import (
    T_MATCHED, T_NOT_FOUND, T_ROUTE_ERROR, T_SUPPRESSED_GROUP, T_SUPPRESSED_LEN, TRAIL_RESULT,
    FlowKey, RuleLead, RulesOutcome, RuleStep, TrailEvent, _addr_text, action_text, compile_rules,
    explain_trail, fib_rules_lookup, fib_rules_lookup_fast, format_rule, quoted_route, rule_lead,
)
from wgexplain.kernel.fib_trie import FibTable, TableHit, addr_text, format_route
from wgexplain.kernel.profile import DEFAULT as DEFAULT_PROFILE
from wgexplain.kernel.profile import KernelProfile, parse_profile
from wgexplain.sources._fast import slot_constructor

RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
IPPROTO_IGMP = 2
_LBCAST = 0xFFFFFFFF
_NO_DEVS: frozenset[str] = frozenset()
_LOOPBACK_V4 = 0x7F000001
#: ``INVALID_UID`` ((kuid_t){-1}): the uid of an ``ip -6 route get ... iif`` without ``uid``
INVALID_UID = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class RouteStep:
    """One step of the decision, for a learner.

    ``rule`` is the rule's pref, or ``None`` for a step that is not a rule
    (a martian check, rp_filter, forwarding, the source address...);
    ``action`` e.g. ``lookup main``, ``goto 32766``, ``blackhole``,
    ``rp_filter``; ``result`` one of ``no match``, ``matched``,
    ``suppressed``, ``not found``, ``throw``, ``error``, ``nop``, ``goto``
    (and ``ok``/``refused``/``info`` for non-rule steps).
    """

    rule: int | None
    action: str
    result: str
    why: str
    table: int | None = None
    route: Route | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "result": self.result,
                "why": self.why}


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The answer of ``ip route get`` for one :class:`Flow`, with its reasons.

    ``type`` is the kernel's route type; on refusal ``error`` holds the
    errno name, ``dev`` is ``None`` and ``type`` the route type met
    (``unreachable`` when nothing matched). ``src`` is the source address
    the packet carries (``from`` when given, else the kernel's choice);
    ``prefsrc`` is what ``ip route get`` prints as ``src``. ``cache`` holds
    the ``RTCF_*`` flags iproute2 prints after ``cache``.
    """

    flow: Flow
    type: str
    dev: str | None
    gateway: IPAddress | None
    src: IPAddress | None
    table: int | None
    rule: int | None
    steps: "tuple[RouteStep, ...] | LazySteps"  # LazySteps: told when first read
    error: str | None = None
    route: Route | None = None
    notes: tuple[str, ...] = ()
    exact: bool = True
    prefsrc: IPAddress | None = None
    cache: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    table_name: str | None = None
    #: the kernel profile the answer imitates (:mod:`wgexplain.kernel.profile`)
    kernel: KernelProfile | None = None
    #: what the answer assumes because it was not pasted (wgexplain.evidence), one sentence each
    assumptions: tuple[str, ...] = ()
    #: the answer computed under other hypotheses (wgexplain.evidence.Alternative)
    alternatives: tuple[Any, ...] = ()
    #: the commands whose output would settle the assumptions
    to_paste: tuple[str, ...] = ()

    @property
    def derived(self) -> bool:
        """True when the deciding route was derived, not read from the dump."""
        return bool(self.route is not None and self.route.origin.derived)

    @property
    def decisive(self) -> int | None:
        """Index in :attr:`steps` of the step that decided (the last rule step that acted)."""
        for i in range(len(self.steps) - 1, -1, -1):
            if self.steps[i].result in ("matched", "error", "refused"):
                return i
        return len(self.steps) - 1 if self.steps else None

    def to_json(self) -> dict[str, Any]:
        """The DESIGN.md object: dst, type, dev, gateway, src, table, rule, steps (+ extras)."""
        f = self.flow
        out: dict[str, Any] = {
            "dst": addr_text(f.dst), "type": self.type, "dev": self.dev,
            "gateway": None if self.gateway is None else addr_text(self.gateway),
            "src": None if self.src is None else addr_text(self.src),
            "table": self.table, "rule": self.rule,
            "steps": [s.to_json() for s in self.steps],
        }
        if self.error is not None:
            out["error"] = self.error
        if f.src is not None:
            out["from"] = addr_text(f.src)
        out["prefsrc"] = None if self.prefsrc is None else addr_text(self.prefsrc)
        if f.iif is not None:
            out["iif"] = f.iif
        if f.oif is not None:
            out["oif"] = f.oif
        out["mark"] = f.mark
        out["uid"] = 0 if f.uid is None else f.uid
        for key, val in (("ipproto", f.ipproto), ("sport", f.sport), ("dport", f.dport)):
            if val is not None:
                out[key] = val
        if f.tos:
            out["tos"] = f.tos
        if self.route is not None:
            out["metric"] = self.route.metric
        out["cache"] = list(self.cache)
        out["derived"] = self.derived
        out["exact"] = self.exact
        out["notes"] = list(self.notes)
        out["kernel"] = (self.kernel or DEFAULT_PROFILE).to_json()
        out["assumptions"] = list(self.assumptions)
        if self.alternatives:
            out["alternatives"] = [a.to_json() for a in self.alternatives]
        if self.to_paste:
            out["to_paste"] = list(self.to_paste)
        return out


#: RouteStep(rule, action, result, why, table, route), without the frozen dataclass's __init__
_make_step = slot_constructor(RouteStep, ["rule", "action", "result", "why", "table", "route"])


# --------------------------------------------------------------------------
# the JSON line of `route --batch`, written directly
# --------------------------------------------------------------------------

#: the string encoder of ``json.dumps(..., ensure_ascii=False)`` (C, when available)
_jstr: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _jany(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _jint(value: Any) -> str:
    return "null" if value is None else str(value) if value.__class__ is int else _jany(value)


def _jtext(value: Any) -> str:
    return "null" if value is None else _jstr(value) if value.__class__ is str else _jany(value)


def _jaddr(addr: Any) -> str:
    return "null" if addr is None else _jstr(addr_text(addr))


#: JSON of addresses met again and again (gateways, sources), by identity
_JADDR: dict[int, tuple[Any, str]] = {}


def _jaddr_kept(addr: Any) -> str:
    """:func:`_jaddr` of an address object shared between results (kept by identity)."""
    if addr is None:
        return "null"
    hit = _JADDR.get(id(addr))
    if hit is not None and hit[0] is addr:
        return hit[1]
    text = _jstr(addr_text(addr))
    if len(_JADDR) >= 4096:
        _JADDR.clear()
    _JADDR[id(addr)] = (addr, text)
    return text


#: JSON of lists of strings (notes, cache flags: few distinct ones), by value
_JLIST: dict[tuple[str, ...], str] = {}


def _jlist(values: Sequence[Any]) -> str:
    text = _JLIST.get(values) if values.__class__ is tuple else None  # type: ignore[arg-type]
    if text is not None:
        return text
    if all(v.__class__ is str for v in values):
        text = "[" + ", ".join(map(_jstr, values)) + "]"
        if values.__class__ is tuple and len(_JLIST) < 1024:
            _JLIST[values] = text  # type: ignore[index]
        return text
    return _jany(list(values))


def _jbool(value: Any) -> str:
    return "true" if value is True else "false" if value is False else _jany(value)


def step_json(step: RouteStep) -> str:
    """``json.dumps(step.to_json(), ensure_ascii=False)``, byte for byte."""
    return (f'{{"rule": {_jint(step.rule)}, "action": {_jtext(step.action)}, '
            f'"result": {_jtext(step.result)}, "why": {_jtext(step.why)}}}')


def json_line(result: RouteResult) -> str:
    """The line ``route --batch`` prints: ``json.dumps(result.to_json(), ensure_ascii=False)``.

    Byte for byte the same text (tests/test_route_batch_json.py compares them
    on thousands of random lookups, and fails on a key :meth:`RouteResult.to_json`
    gains that this does not write), written directly instead of through a
    dict and the json encoder, and with deferred steps told straight into JSON
    from the fast walk's record (:meth:`LazySteps.json_items`): about a third
    of the time.
    """
    f = result.flow
    steps = result.steps
    dst = addr_text(f.dst)
    items = steps.json_items((int(f.dst), dst)) if isinstance(steps, LazySteps) else \
        [step_json(s) for s in steps]
    src = _jaddr_kept(result.src) if result.src is not f.src else None
    parts = [f'{{"dst": {_jstr(dst)}, "type": {_jtext(result.type)}, '
             f'"dev": {_jtext(result.dev)}, "gateway": {_jaddr_kept(result.gateway)}, '
             f'"src": {src or _jaddr(result.src)}, "table": {_jint(result.table)}, '
             f'"rule": {_jint(result.rule)}, "steps": [{", ".join(items)}]']
    if result.error is not None:
        parts.append(f', "error": {_jtext(result.error)}')
    if f.src is not None:
        parts.append(f', "from": {_jaddr(f.src)}')
    parts.append(f', "prefsrc": {_jaddr_kept(result.prefsrc)}')
    if f.iif is not None:
        parts.append(f', "iif": {_jtext(f.iif)}')
    if f.oif is not None:
        parts.append(f', "oif": {_jtext(f.oif)}')
    parts.append(f', "mark": {_jint(f.mark)}, "uid": {_jint(0 if f.uid is None else f.uid)}')
    if f.ipproto is not None:
        parts.append(f', "ipproto": {_jint(f.ipproto)}')
    if f.sport is not None:
        parts.append(f', "sport": {_jint(f.sport)}')
    if f.dport is not None:
        parts.append(f', "dport": {_jint(f.dport)}')
    if f.tos:
        parts.append(f', "tos": {_jint(f.tos)}')
    if result.route is not None:
        parts.append(f', "metric": {_jint(result.route.metric)}')
    parts.append(f', "cache": {_jlist(result.cache)}, "derived": {_jbool(result.derived)}, '
                 f'"exact": {_jbool(result.exact)}, "notes": {_jlist(result.notes)}, '
                 f'"kernel": {_jprofile(result.kernel or DEFAULT_PROFILE)}, '
                 f'"assumptions": {_jlist(result.assumptions)}')
    if result.alternatives:
        parts.append(f', "alternatives": {_jany([a.to_json() for a in result.alternatives])}')
    if result.to_paste:
        parts.append(f', "to_paste": {_jlist(result.to_paste)}')
    parts.append("}")
    return "".join(parts)


#: JSON of the kernel profiles met (few: one per run)
_JPROFILE: dict[KernelProfile, str] = {}


def _jprofile(profile: KernelProfile) -> str:
    text = _JPROFILE.get(profile)
    if text is None:
        text = _JPROFILE[profile] = _jany(profile.to_json())
    return text

#: RouteResult(flow, type, dev, gateway, src, table, rule, steps, error, route, notes, exact,
#: prefsrc, cache, flags, table_name, kernel), without the frozen dataclass's keyword __init__
_make_result = slot_constructor(RouteResult, [
    "flow", "type", "dev", "gateway", "src", "table", "rule", "steps", "error", "route", "notes",
    "exact", "prefsrc", "cache", "flags", "table_name", "kernel"])


# --------------------------------------------------------------------------
# the per-host FIB, built once
# --------------------------------------------------------------------------

class _Fib:
    """Everything lookups need from one Host, built once (Host is frozen)."""

    def __init__(self, host: Host) -> None:
        pasted = host
        host = fib_frontend.complete(host)
        self.host = host
        #: what the paste lacks (None: a Host built in code, or nothing a lookup reads missing)
        self.evidence = RouteEvidence.of(pasted, host)
        self.rules: dict[int, list[Rule]] = {AF_INET: host.rules_of(AF_INET),
                                             AF_INET6: host.rules_of(AF_INET6)}
        # one pass over the routes (a full table has a million): tables, devices named,
        # linkdown hops, routes added to table local by hand. Blocks a reader keeps as
        # columns (LazyRoutes) are read through their distinct tails, and their tables
        # built from the columns: their Route objects are built only when a lookup needs one.
        groups: dict[tuple[int, int], list[Any]] = {}
        route_devs: set[str] = set()
        linkdown: set[str] = set()
        custom_local = False
        last_key: tuple[int, int] | None = None
        last_list: list[Route] = []
        last_hops: object = None
        for block in (host.routes.blocks if isinstance(host.routes, LazyRoutes)
                      else (host.routes,)):
            split = getattr(block, "by_table", None)
            if split is not None and hasattr(block, "prefixes"):
                for key, part in split().items():
                    groups.setdefault(key, []).append(part)
                    last_key = None
                    for tail in part.tails():
                        # (type, family, table, tos, metric, protocol, scope, prefsrc,
                        #  nexthops, flags, pref, expires, extra): see RouteColumns
                        hops, rflags = tail[8], tail[9]
                        for nh in hops:
                            if nh.dev:
                                route_devs.add(nh.dev)
                                if nh.flags and "linkdown" in nh.flags:
                                    linkdown.add(nh.dev)
                        if rflags and "linkdown" in rflags:
                            linkdown.update(nh.dev for nh in hops if nh.dev)
                        if key == (AF_INET, RT_TABLE_LOCAL) and tail[5] not in (None, "kernel"):
                            custom_local = True
                continue
            for r in block:
                key = (r.family, r.table)
                if key != last_key:
                    glist = groups.setdefault(key, [])
                    if not glist or not isinstance(glist[-1], list):
                        glist.append([])
                    last_list = glist[-1]
                    last_key = key
                last_list.append(r)
                hops = r.nexthops
                if hops is not last_hops:  # readers share hop tuples between routes
                    last_hops = hops
                    for nh in hops:
                        if nh.dev:
                            route_devs.add(nh.dev)
                            if nh.flags and "linkdown" in nh.flags:
                                linkdown.add(nh.dev)
                if r.flags and "linkdown" in r.flags:
                    linkdown.update(nh.dev for nh in hops if nh.dev)
                if r.table == RT_TABLE_LOCAL and r.protocol not in (None, "kernel") \
                        and r.family == AF_INET:
                    custom_local = True
        self.tables: dict[tuple[int, int], FibTable] = {
            k: _fib_table(k, parts) for k, parts in groups.items()}
        links = sorted(host.links, key=lambda link: link.index)
        self.dev_order: list[str] = [link.name for link in links]
        seen = set(self.dev_order)  # a set: a list's `in` made this quadratic in links
        for a in host.addresses:
            if a.dev not in seen:
                seen.add(a.dev)
                self.dev_order.append(a.dev)
        self.known_devs: set[str] = set(self.dev_order) | route_devs
        self.loopback = next((link.name for link in links
                              if "LOOPBACK" in link.flags or link.link_type == "loopback"), "lo")
        self.addrs: dict[int, dict[str, list[Address]]] = {AF_INET: {}, AF_INET6: {}}
        for a in host.addresses:
            self.addrs[a.family].setdefault(a.dev, []).append(a)
        self.local4: dict[int, str] = {}
        for a in host.addresses:
            if a.family == AF_INET:
                self.local4.setdefault(int(a.ip), a.dev)
        self.local6: dict[int, str] = {}
        for a in host.addresses:
            if a.family == AF_INET6:
                self.local6.setdefault(int(a.ip), a.dev)
        defaults = {AF_INET: [(0, RT_TABLE_LOCAL), (32766, 254), (32767, 253)],
                    AF_INET6: [(0, RT_TABLE_LOCAL), (32766, 254)]}
        self.custom_rules = {
            fam: [(r.pref, r.table) for r in self.rules[fam]
                  if r.action == "lookup" and not _has_selectors(r)] != defaults[fam]
            or any(_has_selectors(r) or r.action != "lookup" for r in self.rules[fam])
            for fam in (AF_INET, AF_INET6)}
        self.custom_local_routes = custom_local
        self.fldissect = any(r.ipproto is not None or r.sport is not None or r.dport is not None
                             for r in host.rules if r.family == AF_INET)
        self.groups = {link.name: link.group for link in host.links}
        self.crules = {fam: compile_rules(self.rules[fam], self._table_getter(fam))
                       for fam in (AF_INET, AF_INET6)}
        self.conf_memo: dict[tuple[str, ...], tuple[int, str | None]] = {}
        self.texts: dict[int, tuple[object, str]] = {}
        #: per rule: the parts of its steps no packet detail enters (explain_trail())
        self.leads: dict[int, RuleLead] = {}
        #: per rule: its steps' JSON, per trail event, up to the packet-specific part
        self.json_leads: dict[int, tuple[Rule, str, tuple[str | None, ...]]] = {}
        #: per route: its quoted text (quoted_route()) as the inside of a JSON string
        self.json_routes: dict[int, tuple[Route, str]] = {}
        self.select_memo: dict[tuple[str | None, int, int], int] = {}
        self.addr4_memo: dict[int, ipaddress.IPv4Address] = {}
        self.prefsrc_memo: dict[int, tuple[Route, int, int]] = {}
        self.multi_default: dict[tuple[int, int], bool] = {}
        self.linkdown_devs = frozenset(linkdown)
        #: lookups until the next gc.freeze() (see prepare()); 0: not prepared
        self.refreeze = 0

    def _table_getter(self, fam: int) -> Callable[[int], FibTable | None]:
        """The table of one family by id (what a rule's ``fib_get_table()`` resolves to)."""
        return lambda t: self.tables.get((fam, t))

    def table_name(self, table: int) -> str:
        return self.host.table_name(table)

    def addr4(self, value: int) -> ipaddress.IPv4Address:
        a = self.addr4_memo.get(value)
        if a is None:
            a = ipaddress.IPv4Address(value)
            if len(self.addr4_memo) < 4096:
                self.addr4_memo[value] = a
        return a

    def group(self, dev: str | None) -> int:
        return self.groups.get(dev or "", 0)

    def is_loopback_dev(self, dev: str | None) -> bool:
        return dev == self.loopback

    def dev_exists(self, dev: str) -> bool:
        if self.evidence is not None and not self.evidence.ev.links():
            return True  # `ip link` was not pasted: unknown, assumed to exist (and said so)
        return not self.known_devs or dev in self.known_devs or dev == self.loopback

    def dev_up(self, dev: str) -> bool:
        link = self.host.link(dev)
        return link is None or link.up or not link.flags

    def linkdown_ignored(self, conf: Conf) -> frozenset[str]:
        """Devices of linkdown nexthops whose routes ``ignore_routes_with_linkdown`` hides."""
        if not self.linkdown_devs:
            return frozenset()
        return frozenset(d for d in self.linkdown_devs
                         if conf.conf_all("ignore_routes_with_linkdown")
                         or conf.conf(d, "ignore_routes_with_linkdown"))


def _fib_table(key: tuple[int, int], parts: list[Any]) -> FibTable:
    """The table ``key`` from its parts: lists of routes, or one reader's column block."""
    if len(parts) == 1 and not isinstance(parts[0], list):
        block = parts[0]
        rows, values, plens = block.prefixes()
        return FibTable.from_prefixes(key[0], key[1], rows, values, plens, block.route_of_row)
    routes = [r for part in parts for r in part]
    return FibTable.from_routes(routes, key[0], key[1])


def _has_selectors(r: Rule) -> bool:
    return bool(r.invert or (r.src is not None and r.src.prefixlen) or
                (r.dst is not None and r.dst.prefixlen) or r.iif or r.oif or
                r.fwmark is not None or r.uidrange or r.ipproto is not None or r.sport or
                r.dport or r.tos or r.l3mdev or r.suppress_prefixlength is not None or
                r.suppress_ifgroup is not None)


_CACHE: "OrderedDict[int, tuple[Host, _Fib]]" = OrderedDict()
_CACHE_SIZE = 16


_LAST: list[tuple[Host, _Fib]] = []


def prepare(host: Host) -> Host:
    """Build (and cache) the FIB of ``host`` now, before many lookups (batch, benchmarks).

    Also moves every object alive now out of the cyclic garbage collector's
    reach (``gc.freeze()``): with a million routes loaded, each full
    collection triggered by the lookups' small allocations would rescan them
    all (measured: 4x slower lookups with explanations). Refcounting still
    frees them; only cycles created before the call are kept.

    Lookups on a prepared host freeze again every :data:`REFREEZE` lookups:
    they keep what they build (the routes they meet, the texts of their
    explanations), and full collections rescanning those cost a quarter of
    the time of `route --batch` on a full table (measured; lookups create no
    reference cycles: tests/test_route_batch_json.py checks it).
    """
    fib_for(host).refreeze = REFREEZE
    gc.freeze()
    return host


#: lookups between two ``gc.freeze()`` on a prepared host (see :func:`prepare`)
REFREEZE = 2000


def fib_for(host: Host) -> _Fib:
    """The built FIB of ``host`` (cached by identity; Host is immutable)."""
    if _LAST and _LAST[0][0] is host:
        return _LAST[0][1]
    key = id(host)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is host:
        _CACHE.move_to_end(key)
        fib = hit[1]
    else:
        gc_was_on = gc.isenabled()
        gc.disable()  # the build allocates per route; collections would only rescan them
        try:
            fib = _Fib(host)
        finally:
            if gc_was_on:
                gc.enable()
        _CACHE[key] = (host, fib)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _LAST[:] = [(host, fib)]
    return fib


# --------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------

_PROTOS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
           "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132, "dccp": 33, "udplite": 136}


def parse_int(value: int | str | None, what: str, *, maximum: int = 0xFFFFFFFF) -> int | None:
    """An int from ``17``, ``"0x6d6f6c65"`` or ``"42"`` (``UsageError`` otherwise)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    else:
        try:
            n = int(str(value).strip(), 0)
        except ValueError:
            raise UsageError(f"{what}: expected a number (decimal or 0x hex), "
                             f"got {value!r}") from None
    if n < 0 or n > maximum:
        raise UsageError(f"{what}: {n} is out of range 0..{maximum}")
    return n


def parse_proto(value: int | str | None) -> int | None:
    """``ipproto``: a name (tcp, udp, icmp...) or a number."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _PROTOS:
        return _PROTOS[value.strip().lower()]
    return parse_int(value, "ipproto", maximum=255)


def parse_addr(value: IPAddress | str, what: str) -> IPAddress:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    text = str(value).strip()
    if "/" in text:
        net, _, plen = text.partition("/")
        if plen not in ("32", "128"):
            raise UsageError(f"{what}: expected an address, got the prefix {text!r}")
        text = net
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UsageError(f"{what}: expected an IPv4 or IPv6 address, got {value!r}") from None


def make_flow(dst: IPAddress | str, *, src: IPAddress | str | None = None, iif: str | None = None,
              oif: str | None = None, mark: int | str | None = 0, uid: int | str | None = None,
              ipproto: int | str | None = None, sport: int | str | None = None,
              dport: int | str | None = None, tos: int | str | None = 0) -> Flow:
    """A :class:`Flow` from ``ip route get`` style arguments."""
    d = parse_addr(dst, "destination")
    s = None if src is None else parse_addr(src, "from")
    if s is not None and s.version != d.version:
        raise UsageError(f"from {s} and destination {d} are not of the same family")
    return Flow(dst=d, src=s, iif=iif or None, oif=oif or None, mark=parse_int(mark, "mark") or 0,
                uid=parse_int(uid, "uid"), ipproto=parse_proto(ipproto),
                sport=parse_int(sport, "sport", maximum=65535),
                dport=parse_int(dport, "dport", maximum=65535),
                tos=parse_int(tos, "tos", maximum=255) or 0)


def route_get(host: Host, dst: IPAddress | str, *, src: IPAddress | str | None = None,
              iif: str | None = None, oif: str | None = None, mark: int | str | None = 0,
              uid: int | str | None = None, ipproto: int | str | None = None,
              sport: int | str | None = None, dport: int | str | None = None,
              tos: int | str | None = 0, explain: bool = True,
              kernel: KernelProfile | str | None = None) -> RouteResult:
    """``ip route get DST [from SRC] [iif DEV] [oif DEV] [mark N] [uid N] ...`` on ``host``.

    Mirrors ``inet_rtm_getroute()`` / ``inet6_rtm_getroute()``: with ``iif``
    an input lookup (``ip_route_input_slow()``), otherwise an output lookup
    (``ip_route_output_key_hash_rcu()``). Bad arguments raise ``UsageError``.
    ``kernel``: the kernel profile to imitate (a :class:`KernelProfile` or a
    ``--kernel`` text such as ``"no-mroute"``); default the Host's own
    (``host.kernel``, from a bundle's ``kernel.json``), else ``distro``.
    """
    flow = make_flow(dst, src=src, iif=iif, oif=oif, mark=mark, uid=uid, ipproto=ipproto,
                     sport=sport, dport=dport, tos=tos)
    if isinstance(kernel, str):
        kernel = parse_profile(kernel, origin="kernel=")
    return lookup(host, flow, explain=explain, kernel=kernel)


#: ``rtm_getroute_parse_ip_proto()`` (net/ipv4/netlink.c): the protocols ``ip route get``
#: can key on; any other ``ipproto`` (0 included) is refused with EOPNOTSUPP
GETROUTE_PROTOS = {AF_INET: frozenset({1, 6, 17}), AF_INET6: frozenset({6, 17, 58})}


def getroute_refusal(flow: Flow) -> str | None:
    """Why ``ip route get`` refuses ``flow``'s ``ipproto`` (``None``: it does not)."""
    p = flow.ipproto
    if p is None or p in GETROUTE_PROTOS[flow.family]:
        return None
    which = ("TCP, UDP and ICMP for IPv4" if flow.family == AF_INET
             else "TCP, UDP and ICMPv6 (58) for IPv6")
    return (f"`ip route get` cannot key a lookup on ipproto {p}: rtm_getroute_parse_ip_proto() "
            f"accepts only {which}, and refuses the rest with EOPNOTSUPP (\"Unsupported ip proto\")")


def lookup(host: Host, flow: Flow, *, explain: bool = True,
           kernel: KernelProfile | None = None, getroute: bool = True) -> RouteResult:
    """The routing decision for ``flow`` on ``host`` (see :func:`route_get`).

    ``getroute`` (default): answer as ``ip route get`` does, with what only
    the netlink request changes (``ipproto`` it refuses, ``rt6_fill_node()``'s
    multicast reply); ``False``: the decision for the packet itself (a
    journey), with those differences told in ``notes``.
    """
    fib = fib_for(host)
    profile = kernel or host.kernel or DEFAULT_PROFILE
    if fib.refreeze:  # prepared for many lookups: see prepare()
        fib.refreeze -= 1
        if not fib.refreeze:
            fib.refreeze = REFREEZE
            gc.freeze()
    for dev, what in ((flow.iif, "iif"), (flow.oif, "oif")):
        if dev is not None and not fib.dev_exists(dev):
            return _fail(flow, "ENODEV", "unreachable", [RouteStep(
                None, what, "refused", f"there is no device {dev} on this host: the kernel "
                "answers ENODEV")], [], kernel=profile)
    refusal = getroute_refusal(flow) if flow.ipproto is not None else None
    if refusal is not None and getroute:
        return _fail(flow, "EOPNOTSUPP", "unreachable", [RouteStep(
            None, "ipproto", "refused", refusal)] if explain else [], [], kernel=profile)
    ctx = _Ctx(fib, flow, explain, profile, getroute)
    if refusal is not None:
        ctx.notes.append(refusal.replace("`ip route get` cannot key a lookup",
                                         "`ip route get` could not be asked: it cannot key a "
                                         "lookup", 1) + "; the packet is followed all the same")
    if flow.dst.version == 4:
        res = ctx.input4() if flow.iif is not None else ctx.output4()
    else:
        res = ctx.input6() if flow.iif is not None else ctx.output6()
    if fib.evidence is not None:
        res = fib.evidence.qualify(res)
    return res


def _fail(flow: Flow, errno: str, rtype: str, steps: "Sequence[RouteStep]", notes: list[str],
          rule: int | None = None, table: int | None = None, route: Route | None = None,
          exact: bool = True, kernel: KernelProfile | None = None) -> RouteResult:
    return _make_result(flow, rtype, None, None, flow.src, table, rule,
                        steps if isinstance(steps, LazySteps) else tuple(steps), errno, route,
                        tuple(notes), exact, None, (), (), None, kernel)


def _a4(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value)


def _is_mc4(a: int) -> bool:
    return (a & 0xF0000000) == 0xE0000000


def _is_local_mc4(a: int) -> bool:
    return (a & 0xFFFFFF00) == 0xE0000000


def _is_zeronet4(a: int) -> bool:
    """``ipv4_is_zeronet()``: on this kernel only 0.0.0.0 — 0.0.0.0/8 became usable
    unicast (commit 96125bf9985a; checked in a wgx- namespace: 0.1.2.3 routes)."""
    return a == 0


def _is_loopback4(a: int) -> bool:
    return (a & 0xFF000000) == 0x7F000000


class _Ctx:
    """One lookup: the flow, the notes and steps gathered on the way."""

    def __init__(self, fib: _Fib, flow: Flow, explain: bool,
                 kernel: KernelProfile = DEFAULT_PROFILE, getroute: bool = True) -> None:
        self.fib = fib
        self.flow = flow
        self.explain = explain
        self.kernel = kernel
        self.getroute = getroute
        self.conf = Conf(fib.host.sysctls, fib.conf_memo)
        #: steps, and rule walks whose steps are told only when read (see DEFER_STEPS)
        self.steps: list[Any] = []
        self.deferred = False
        self.notes: list[str] = []
        self.exact = True

    def told_steps(self) -> "tuple[RouteStep, ...] | LazySteps":
        return LazySteps(self.steps) if self.deferred else tuple(self.steps)

    # ---- helpers -----------------------------------------------------------

    def step(self, action: str, result: str, why: str) -> None:
        if self.explain:
            self.steps.append(RouteStep(None, action, result, why))

    def key(self, *, iif: str | None, oif: str | None, saddr: int, mark: int, uid: int) -> FlowKey:
        f = self.flow
        dst: int = f.dst._ip  # type: ignore[union-attr]
        # inet_rtm_getroute(): without RTA_IP_PROTO an IPv4 lookup carries UDP (its dummy
        # skb is a UDP packet); IPv6 carries none (checked in a wgx- namespace)
        proto = f.ipproto if f.ipproto is not None else (17 if f.dst.version == 4 else 0)
        # RT6_LOOKUP_F_HAS_SADDR only for a source that is not :: (ipv6_addr_any(): both
        # inet6_rtm_getroute() and ip6_route_output_flags() treat 'from ::' as no source)
        return FlowKey(f.family, dst, saddr, iif, oif, mark, uid, proto,
                       f.sport or 0, f.dport or 0, f.tos, saddr != 0)

    def rules_lookup(self, key: FlowKey, *, ignore_linkstate: bool = False,
                     strict_oif: bool = True, record: bool = True) -> RulesOutcome:
        """``fib_lookup()``: the rule walk with the family's table lookup."""
        fib = self.fib
        fam = key.family
        ld = fib.linkdown_ignored(self.conf) if fam == AF_INET and fib.linkdown_devs \
            else _NO_DEVS
        tables = fib.tables
        walk = _Walk(fib, key, ld, ignore_linkstate, strict_oif, key.oif, v6=False) \
            if self.explain and record else None
        if walk is not None and not DEFER_STEPS:
            return self._recorded(walk.outcome(), record, walk)
        trail = walk.trail if walk is not None else None
        if fam == AF_INET:
            return self._recorded(fib_rules_lookup_fast(
                fib.crules[fam], key, None, fib.group, None,
                (key.tos & 0x1C, key.oif, ld, ignore_linkstate), trail), record, walk)

        def table_lookup(table: FibTable, k: FlowKey) -> TableHit | None:
            return table.lookup(k.daddr, tos=k.tos, oif=k.oif, linkdown_ignored=ld,
                                ignore_linkstate=ignore_linkstate, strict_oif=strict_oif)

        out = fib_rules_lookup_fast(fib.crules[fam], key, lambda t: tables.get((fam, t)),
                                    fib.group, table_lookup, None, trail)
        return self._recorded(out, record, walk)

    def _recorded(self, out: RulesOutcome, record: bool, walk: "_Walk | None" = None
                  ) -> RulesOutcome:
        if record:
            self._record(out, walk)
        return out

    def _record(self, out: RulesOutcome, walk: "_Walk | None" = None) -> None:
        """Notes of ``out``; with explanations, its steps (the walk's, told when read)."""
        for n in out.inexact:
            self._inexact(n)
        if self.explain:
            if walk is not None:
                if walk.out is None:  # deferred: told from the fast walk's trail when read
                    walk.fast = out
                    self.steps.append(walk)
                    self.deferred = True
                    return
                out = walk.out
            self.steps.extend(_walk_steps(out, self.fib))

    def _inexact(self, note: str) -> None:
        self.exact = False
        if note not in self.notes:
            self.notes.append(note)

    def finish_notes(self) -> list[str]:
        if not self.conf.assumed:
            return list(self.notes)
        return self.notes + ["sysctls not in the dump, assumed: " + "; ".join(self.conf.assumed)]

    def result(self, *, rtype: str, dev: str | None, gateway: IPAddress | None,
               src: IPAddress | None, table: int | None, rule: int | None,
               route: Route | None, prefsrc: IPAddress | None, cache: tuple[str, ...] = (),
               flags: tuple[str, ...] = ()) -> RouteResult:
        return _make_result(self.flow, rtype, dev, gateway, src, table, rule, self.told_steps(),
                            None, route, tuple(self.finish_notes()), self.exact, prefsrc, cache,
                            flags, None if table is None else self.fib.table_name(table),
                            self.kernel)

    def fail(self, errno: str, rtype: str, *, rule: int | None = None, table: int | None = None,
             route: Route | None = None) -> RouteResult:
        return _fail(self.flow, errno, rtype, self.told_steps(), self.finish_notes(), rule,
                     table, route, self.exact, self.kernel)

    # ---- IPv4 source address ---------------------------------------------

    def inet_select_addr(self, dev: str | None, dst: int, scope: int) -> int:
        """``inet_select_addr()`` (net/ipv4/devinet.c): a primary address of ``dev``
        with scope <= ``scope``, preferring one whose subnet holds ``dst``;
        else the first non-link-scope one of any device (lo first)."""
        fib = self.fib
        memo_key = (dev, dst, scope)
        hit = fib.select_memo.get(memo_key)
        if hit is not None:
            return hit
        hit = fib.select_memo[memo_key] = self._inet_select_addr(dev, dst, scope)
        return hit

    def _inet_select_addr(self, dev: str | None, dst: int, scope: int) -> int:
        fib = self.fib
        self.conf.quiet = True
        localnet = RT_SCOPE_LINK if (dev and self.conf.orconf(dev, "route_localnet")) \
            else RT_SCOPE_HOST
        self.conf.quiet = False
        addr = 0
        for a in fib.addrs[AF_INET].get(dev or "", []):
            if "secondary" in a.flags:
                continue
            if min(scope_num(a.scope), localnet) > scope:
                continue
            net = a.peer if a.peer is not None else a.address.network
            if not dst or (dst & int(net.netmask)) == int(net.network_address):
                return int(a.ip)
            if not addr:
                addr = int(a.ip)
        if addr:
            return addr
        for other in fib.dev_order:
            for a in fib.addrs[AF_INET].get(other, []):
                if "secondary" in a.flags:
                    continue
                s = scope_num(a.scope)
                if s != RT_SCOPE_LINK and s <= scope:
                    return int(a.ip)
        return 0

    def fib_result_prefsrc(self, route: Route, nh: Nexthop | None) -> int:
        """``fib_result_prefsrc()``: the route's ``src``, else ``inet_select_addr()``."""
        memo = self.fib.prefsrc_memo.get(id(route))
        if memo is not None and memo[0] is route and memo[1] == id(nh):
            return memo[2]
        value = self._fib_result_prefsrc(route, nh)
        self.fib.prefsrc_memo[id(route)] = (route, id(nh), value)
        return value

    def _fib_result_prefsrc(self, route: Route, nh: Nexthop | None) -> int:
        if route.prefsrc is not None:
            return int(route.prefsrc)
        gw = int(nh.gateway) if nh is not None and nh.gateway is not None and \
            nh.gateway.version == 4 else 0
        return self.inet_select_addr(nh.dev if nh else None, gw, scope_num(route.scope))

    def ip_dev_find(self, saddr: int) -> str | None:
        """``__ip_dev_find()``: the device holding local address ``saddr`` (or a local route)."""
        dev = self.fib.local4.get(saddr)
        if dev is not None:
            return dev
        table = self.fib.tables.get((AF_INET, RT_TABLE_LOCAL))
        if table is not None:
            hit = table.lookup(saddr)
            if hit is not None and hit.route.type == "local" and hit.errno is None:
                return hit.nexthop.dev if hit.nexthop is not None else self.fib.loopback
        return None

    # ---- IPv4 output: ip_route_output_key_hash_rcu() ----------------------

    def output4(self) -> RouteResult:
        fib = self.fib
        f = self.flow
        daddr = f.dst._ip  # type: ignore[union-attr]
        saddr = f.src._ip if f.src is not None else 0  # type: ignore[union-attr]
        oif = f.oif
        uid = 0 if f.uid is None else f.uid
        if f.uid is None:
            self.notes.append("uid: none given, so uid 0 (as `ip route get` run by root)")
        if saddr:
            if _is_mc4(saddr) or saddr == _LBCAST or _is_zeronet4(saddr):
                self.step("source address", "refused", f"{f.src} cannot be a source address "
                          "(multicast or broadcast): EINVAL")
                return self.fail("EINVAL", "unreachable")
            if oif is None and (_is_mc4(daddr) or daddr == _LBCAST):
                dev = self.ip_dev_find(saddr)
                if dev is None:
                    self.step("source address", "refused", f"{f.src} is not an address of this "
                              "host: ENETUNREACH")
                    return self.fail("ENETUNREACH", "unreachable")
                self.step("source address", "info", f"a broadcast/multicast sent from {f.src} "
                          f"leaves by {dev}, the device holding that address (no table lookup)")
                return self.mkroute_output(None, None, dev, saddr, "unicast", None, None, 32)
            if self.ip_dev_find(saddr) is None:
                self.step("source address", "refused", f"from {f.src}: an output lookup needs a "
                          "source address of this host, and this is not one: ENETUNREACH")
                return self.fail("ENETUNREACH", "unreachable")
        if oif is not None:
            if not fib.dev_up(oif):
                self.step("oif", "refused", f"device {oif} is down: ENETUNREACH")
                return self.fail("ENETUNREACH", "unreachable")
            if _is_local_mc4(daddr) or daddr == _LBCAST or f.ipproto == IPPROTO_IGMP:
                if not saddr:
                    saddr = self.inet_select_addr(oif, 0, RT_SCOPE_LINK)
                self.step("oif", "info", f"{f.dst} is link-local multicast or broadcast and oif "
                          f"{oif} is given: sent there without a table lookup")
                return self.mkroute_output(None, None, oif, saddr, "unicast", None, None, 32)
            if not saddr:
                if _is_mc4(daddr):
                    saddr = self.inet_select_addr(oif, 0, RT_SCOPE_UNIVERSE)
                elif not daddr:
                    saddr = self.inet_select_addr(oif, 0, RT_SCOPE_HOST)
        if not daddr:
            daddr_eff = saddr or _LOOPBACK_V4
            self.step("destination", "info", "destination 0.0.0.0 means this host: delivered "
                      f"locally on {fib.loopback}")
            return self.mkroute_output(None, None, fib.loopback, saddr or daddr_eff, "local",
                                       None, None, 32, forced_local=True)
        key = self.key(iif=fib.loopback, oif=oif, saddr=saddr, mark=f.mark, uid=uid)
        out = self.rules_lookup(key)
        if out.errno is not None:
            if oif is not None:
                if not saddr:
                    saddr = self.inet_select_addr(oif, 0, RT_SCOPE_LINK)
                self.step("oif", "info", f"no usable route ({out.errno}), but oif {oif} is given: "
                          "the kernel assumes the destination is on that link "
                          "(ip_route_output_key_hash_rcu())")
                return self.mkroute_output(None, None, oif, saddr, "unicast", None, None, 32)
            return self.fail(out.errno, out.type, rule=_pref(out), table=out.table,
                             route=out.hit.route if out.hit else None)
        hit = out.hit
        assert hit is not None
        route = hit.route
        if route.type == "local":
            if not saddr:
                saddr = int(route.prefsrc) if route.prefsrc is not None else daddr
            return self.mkroute_output(out, route, fib.loopback, saddr, "local", hit.nexthop,
                                       out.table, hit.prefixlen)
        nh = hit.nexthop
        # fib_select_path(): multipath was handled by the table; fib_select_default():
        if oif is None and hit.prefixlen == 0 and route.type == "unicast" and not route.multipath:
            mkey = (out.table or 0, route.metric)
            multi = fib.multi_default.get(mkey)
            if multi is None:
                table = fib.tables.get((AF_INET, out.table or 0))
                same = [] if table is None else [
                    r for _, rs in table.candidates(0) for r in rs
                    if r.prefixlen == 0 and r.metric == route.metric and r.type == "unicast"
                    and r.gateway is not None]
                multi = fib.multi_default[mkey] = len(same) > 1
            if multi:
                if True:
                    self._inexact("not modelled: fib_select_default() picks among several "
                                  "default routes of the same metric by neighbour (ARP) state; "
                                  "showing the first")
        if not saddr:
            saddr = self.fib_result_prefsrc(route, nh)
        dev = nh.dev if nh is not None else None
        return self.mkroute_output(out, route, dev, saddr, route.type, nh, out.table,
                                   hit.prefixlen)

    def mkroute_output(self, out: RulesOutcome | None, route: Route | None, dev: str | None,
                       saddr: int, rtype: str, nh: Nexthop | None, table: int | None,
                       prefixlen: int, forced_local: bool = False) -> RouteResult:
        """``__mkroute_output()``: the destination's class decides broadcast/multicast."""
        f = self.flow
        fib = self.fib
        daddr = f.dst._ip  # type: ignore[union-attr]
        top = daddr >> 24
        is_lo_dev = dev == fib.loopback
        if saddr >> 24 == 127 and not is_lo_dev:
            self.step("source address", "refused", f"source {_a4(saddr)} is a loopback address "
                      f"but the packet would leave by {dev}: EINVAL")
            return self.fail("EINVAL", rtype, rule=_pref(out), table=table, route=route)
        cache: tuple[str, ...] = ()
        flags: tuple[str, ...] = ()
        gateway = nh.gateway if nh is not None else None
        if top >= 224:
            if daddr == _LBCAST:
                rtype = "broadcast"
            elif top < 240:
                rtype = "multicast"
        elif daddr == 0 and not forced_local:
            self.step("destination", "refused", f"{f.dst} cannot be a destination: EINVAL")
            return self.fail("EINVAL", rtype, rule=_pref(out), table=table, route=route)
        if rtype == "broadcast":
            cache = ("local", "brd")
            gateway = None
        elif rtype == "multicast":
            flags = ("rt_offload_failed",)  # RTCF_MULTICAST shares its bit (iproute2 prints it)
            if daddr == 0xE0000001 or is_lo_dev:  # 224.0.0.1: every device joined all-hosts
                cache = ("local", "mc")
            else:
                cache = ("mc",)
                self.notes.append("not modelled: multicast group membership (ip_check_mc_rcu()); "
                                  "assumed this host has not joined the group")
            if prefixlen < 4:
                gateway = None
        elif is_lo_dev or rtype == "local":
            cache = ("local",)
            if rtype == "local":
                gateway = None
        src_addr = fib.addr4(saddr) if saddr else None
        prefsrc = src_addr if f.src is None or (src_addr is not None and
                                                f.src._ip != saddr) else None  # type: ignore[union-attr]
        return self.result(rtype=rtype, dev=dev, gateway=gateway, src=src_addr, table=table,
                           rule=_pref(out), route=route, prefsrc=prefsrc, cache=cache,
                           flags=flags)

    # ---- IPv4 input: ip_route_input_slow() --------------------------------

    def input4(self) -> RouteResult:
        fib = self.fib
        f = self.flow
        dev = f.iif or ""
        daddr = int(f.dst)
        saddr = int(f.src) if f.src is not None else 0
        conf = self.conf
        localnet = conf.orconf(dev, "route_localnet")
        if f.uid is not None:
            self.notes.append("uid is ignored for input lookups (the kernel uses uid 0)")
        if _is_mc4(daddr):
            return self.input4_mc(dev, daddr, saddr)
        if _is_mc4(saddr) or saddr == _LBCAST:
            return self._martian("source", f"source {_a4(saddr)} is multicast or broadcast")
        if daddr == _LBCAST or (saddr == 0 and daddr == 0):
            return self.brd_input(dev, saddr, None, None)
        if _is_zeronet4(saddr):
            return self._martian("source", f"source {_a4(saddr)} is 0.0.0.0 (only a "
                                 "broadcast may come from 0.0.0.0; give 'from ADDR')")
        if _is_zeronet4(daddr):
            return self._martian("destination", f"destination {f.dst} is 0.0.0.0")
        if _is_loopback4(daddr):
            if not localnet:
                return self._martian("destination", f"destination {f.dst} is a loopback "
                                     f"address arriving on {dev} (route_localnet is 0)")
        elif _is_loopback4(saddr) and not localnet:
            return self._martian("source", f"source {_a4(saddr)} is a loopback address "
                                 f"arriving on {dev} (route_localnet is 0)")
        key = self.key(iif=dev, oif=None, saddr=saddr, mark=f.mark, uid=0)
        out = self.rules_lookup(key)
        forwarding = conf.forwarding(dev)
        if out.errno is not None:
            err = out.errno
            if not forwarding:
                err = "EHOSTUNREACH"
                self.step("forwarding", "refused", f"forwarding is off on {dev}, so a packet "
                          f"that cannot be routed gets EHOSTUNREACH (the lookup said "
                          f"{out.errno})")
            return self.fail(err, out.type, rule=_pref(out), table=out.table,
                             route=out.hit.route if out.hit else None)
        hit = out.hit
        assert hit is not None
        route = hit.route
        if route.type == "broadcast":
            if conf.orconf(dev, "bc_forwarding"):
                self._inexact("not modelled: bc_forwarding (forwarding directed broadcasts)")
            return self.brd_input(dev, saddr, out, route)
        if route.type == "local":
            chk = self.validate_source(saddr, daddr, None, dev)
            if chk.errno is not None:
                return self.fail(self.input_errno(chk.errno), "local", rule=_pref(out),
                                 table=out.table, route=route)
            return self.result(rtype="local", dev=fib.loopback, gateway=None, src=f.src,
                               table=out.table, rule=_pref(out), route=route, prefsrc=None,
                               cache=("local",))
        if not forwarding:
            self.step("forwarding", "refused", f"the route leads out again, but forwarding is "
                      f"off on {dev} (net.ipv4.conf.{dev}.forwarding): EHOSTUNREACH")
            return self.fail("EHOSTUNREACH", route.type, rule=_pref(out), table=out.table,
                             route=route)
        if route.type != "unicast":
            return self._martian("destination", f"a forwarded packet may only follow a unicast "
                                 f"route, this is {route.type}", out=out, route=route)
        nh = hit.nexthop
        out_dev = nh.dev if nh is not None else None
        chk = self.validate_source(saddr, daddr, out_dev, dev)
        if chk.errno is not None:
            return self.fail(self.input_errno(chk.errno), route.type, rule=_pref(out),
                             table=out.table, route=route)
        cache: tuple[str, ...] = ()
        if out_dev == dev and chk.ret and conf.orconf(dev, "send_redirects"):
            cache = ("redirect",)
        self.step("forwarding", "ok", f"forwarding is on for {dev}: the packet is forwarded "
                  f"out of {out_dev}")
        gw = nh.gateway if nh is not None else None
        return self.result(rtype="unicast", dev=out_dev, gateway=gw, src=f.src, table=out.table,
                           rule=_pref(out), route=route, prefsrc=None, cache=cache)

    def input4_mc(self, dev: str, daddr: int, saddr: int) -> RouteResult:
        f = self.flow
        if daddr != 0xE0000001:
            self._inexact("not modelled: multicast group membership and multicast forwarding "
                          "(ip_check_mc_rcu(), ip_mr_input())")
            if (self.kernel.ip_mroute and not _is_local_mc4(daddr)
                    and self.fib.host.sysctl("net.ipv4.conf.all.mc_forwarding") == "1"):
                # rt_fill_info(): a non-local group with mc_forwarding on is answered by
                # ipmr_get_route() on a kernel with CONFIG_IP_MROUTE
                self._inexact(f"not modelled: mc_forwarding is on, so `ip route get` on a "
                              f"kernel with IPv4 multicast routing (CONFIG_IP_MROUTE, kernel "
                              f"profile {self.kernel.name}) answers from the multicast routing "
                              f"cache (rt_fill_info() -> ipmr_get_route())")
            self.step("multicast", "refused", f"{f.dst}: assumed not joined on {dev}: EINVAL")
            return self.fail("EINVAL", "multicast")
        if not self.fib.dev_up(dev):
            # ip_mc_up() joins 224.0.0.1 (ip_mc_inc_group(IGMP_ALL_HOSTS)) when the device
            # comes up, ip_mc_down() leaves it: ip_check_mc_rcu() finds no membership on a
            # device that is down, so ip_route_input_rcu() answers EINVAL (seen in a wgx-
            # namespace; tests/test_route_ipv6_parity.py)
            self.step("multicast", "refused", f"{dev} is down: it has not joined {f.dst} "
                      "(ip_mc_up() joins it when the device comes up): EINVAL")
            return self.fail("EINVAL", "multicast")
        if _is_mc4(saddr) or saddr == _LBCAST:
            return self._martian("source", f"source {_a4(saddr)} is multicast or broadcast")
        if _is_loopback4(saddr) and not self.conf.orconf(dev, "route_localnet"):
            return self._martian("source", f"source {_a4(saddr)} is a loopback address")
        if saddr and not _is_zeronet4(saddr):
            chk = self.validate_source(saddr, 0, None, dev)
            if chk.errno is not None:
                return self.fail(self.input_errno(chk.errno), "multicast")
        self.step("multicast", "ok", f"{f.dst} (all hosts) is joined by every device: "
                  "delivered locally")
        return self.result(rtype="multicast", dev=self.fib.loopback, gateway=None, src=f.src,
                           table=None, rule=None, route=None, prefsrc=None, cache=("local", "mc"),
                           flags=("rt_offload_failed",))

    def brd_input(self, dev: str, saddr: int, out: RulesOutcome | None,
                  route: Route | None) -> RouteResult:
        f = self.flow
        if not _is_zeronet4(saddr):
            chk = self.validate_source(saddr, 0, None, dev)
            if chk.errno is not None:
                return self.fail(self.input_errno(chk.errno), "broadcast", rule=_pref(out),
                                 table=out.table if out else None, route=route)
        else:
            self.step("broadcast", "ok", f"a broadcast from {_a4(saddr)} is accepted without a "
                      "source check")
        if out is None:
            self.step("broadcast", "ok", f"{f.dst} is the limited broadcast: delivered locally "
                      "without a table lookup")
        return self.result(rtype="broadcast", dev=self.fib.loopback, gateway=None, src=f.src,
                           table=out.table if out else None, rule=_pref(out), route=route,
                           prefsrc=None, cache=("local", "brd"))

    def _martian(self, which: str, why: str, out: RulesOutcome | None = None,
                 route: Route | None = None) -> RouteResult:
        self.step("martian", "refused", f"martian {which}: {why}; the kernel drops it "
                  "(ip_route_input_slow()): EINVAL")
        return self.fail("EINVAL", route.type if route else "unreachable", rule=_pref(out),
                         table=out.table if out else None, route=route)

    def input_errno(self, check_errno: str) -> str:
        """The errno ``ip route get ... iif`` answers when ``fib_validate_source()`` refused
        with ``check_errno``: EINVAL since 6.13 (``inet_rtm_getroute()`` maps every refusal
        of ``ip_route_input_rcu()`` to it), before that the check's own (EXDEV for rp_filter)."""
        return "EINVAL" if self.kernel.input_einval else check_errno

    def validate_source(self, saddr: int, daddr: int, oif: str | None, dev: str
                        ) -> fib_frontend.SourceCheck:
        """``fib_validate_source()`` for a packet from ``saddr`` arriving on ``dev``."""
        fib = self.fib
        conf = self.conf
        f = self.flow
        rpf = conf.maxconf(dev, "rp_filter")
        vmark = conf.orconf(dev, "src_valid_mark")
        mark = f.mark if vmark else 0
        src = str(_a4(saddr))

        def reverse(first: bool) -> tuple[str | None, str, tuple[str, ...], bool, str]:
            key = FlowKey(AF_INET, saddr, daddr, oif or fib.loopback, None, mark, 0,
                          (17 if f.ipproto is None else f.ipproto) if fib.fldissect else 0,
                          (f.dport or 0) if fib.fldissect else 0,
                          (f.sport or 0) if fib.fldissect else 0, f.tos)
            out = self.rules_lookup(key, record=False)
            if out.errno is not None:
                return out.errno, out.type, (), False, f"{out.errno}" + (
                    f" at rule {out.rule.pref}" if out.rule else "")
            hit = out.hit
            assert hit is not None
            devs = tuple(nh.dev for nh in hit.route.nexthops if nh.dev)
            direct = bool(hit.nexthop is not None and hit.nexthop.gateway is None)
            text = (f"rule {out.rule.pref if out.rule else '?'}, table "
                    f"{fib.table_name(out.table or 0)}: "
                    f"'{format_route(hit.route, fib.table_name(out.table or 0))}'")
            return None, hit.route.type, devs, direct, text

        def loose() -> int:
            key = FlowKey(AF_INET, saddr, daddr, oif or fib.loopback, dev, mark, 0, 0, 0, 0, f.tos)
            out = self.rules_lookup(key, ignore_linkstate=True, record=False)
            if out.errno is None and out.hit is not None and out.hit.route.type == "unicast":
                return 1 if out.hit.nexthop is not None and out.hit.nexthop.gateway is None else 0
            return 0

        chk = fib_validate_source(
            src=src, dev=dev, rpf=rpf, accept_local=conf.orconf(dev, "accept_local"),
            tx_redirects=conf.orconf(dev, "send_redirects"), same_dev_out=(oif == dev),
            fast_path_allowed=not (fib.custom_local_routes or fib.custom_rules[AF_INET]),
            src_is_local=saddr in fib.local4, dev_has_addr=bool(fib.addrs[AF_INET].get(dev)),
            reverse=reverse, loose=loose)
        mark_note = (f" (mark 0x{f.mark:x} used: src_valid_mark is on)" if vmark and f.mark else
                     " (mark ignored: src_valid_mark is 0)" if f.mark else "")
        label = f"rp_filter={rpf}" + mark_note
        if chk.errno is not None:
            errtext = self.input_errno(chk.errno)
            if chk.errno != errtext:
                errtext += (f" (kernel profile {self.kernel.name}: since 6.13 every refused input "
                            f"lookup answers EINVAL; older kernels {chk.errno})")
            elif chk.errno == "EXDEV":
                errtext += (f" (kernel profile {self.kernel.name}: before 6.13; newer kernels "
                            "answer EINVAL)")
            self.step("rp_filter", "refused", f"source check ({label}): {chk.why}; "
                      f"refused with {errtext}")
        else:
            self.step("rp_filter", "ok", f"source check ({label}): {chk.why}")
        return chk

    # ---- IPv6 --------------------------------------------------------------

    def output6(self) -> RouteResult:
        fib = self.fib
        f = self.flow
        uid = 0 if f.uid is None else f.uid
        if f.uid is None:
            self.notes.append("uid: none given, so uid 0 (as `ip route get` run by root)")
        saddr = int(f.src) if f.src is not None else 0
        d = f.dst
        strict = (f.oif is not None and saddr == 0) or _need_strict6(d)
        key = self.key(iif=fib.loopback, oif=f.oif, saddr=saddr, mark=f.mark, uid=uid)
        return self._route6(key, strict, f.oif)

    def input6(self) -> RouteResult:
        f = self.flow

        saddr = int(f.src) if f.src is not None else 0
        # inet6_rtm_getroute(): with iif, the flow keeps RTA_UID when given, else
        # INVALID_UID, which no uidrange rule matches (IPv4 differs: ip_route_input_slow()
        # uses uid 0); a received packet (ip6_route_input()) has uid 0, so trace passes 0.
        # Tested in tests/test_route_ipv6_parity.py.
        if f.uid is None:
            uid = INVALID_UID
            self.notes.append("uid: none given, so INVALID_UID, as `ip -6 route get ... iif` "
                              "asks (inet6_rtm_getroute()): no uidrange rule matches")
        else:
            uid = f.uid
        key = self.key(iif=f.iif, oif=None, saddr=saddr, mark=f.mark, uid=uid)
        self.notes.append("IPv6 has no rp_filter and no forwarding check in the route lookup "
                          "(ip6_route_input_lookup()); forwarding is decided in ip6_forward()")
        # ip6_pol_route_input(): the arrival device plays the role of oif
        return self._route6(key, _need_strict6(f.dst), f.iif, input_=True)

    def _route6(self, key: FlowKey, strict: bool, oif: str | None, input_: bool = False
                ) -> RouteResult:
        fib = self.fib
        f = self.flow
        ld: frozenset[str] = frozenset()

        def table_lookup(table: FibTable, k: FlowKey) -> TableHit | None:
            return table.lookup(k.daddr, oif=oif, linkdown_ignored=ld, strict_oif=strict)

        walk = _Walk(fib, key, ld, False, strict, oif, v6=True) if self.explain else None
        if walk is not None and not DEFER_STEPS:
            out = walk.outcome()
        else:
            out = fib_rules_lookup_fast(fib.crules[AF_INET6], key, None, fib.group,
                                        table_lookup, None,
                                        walk.trail if walk is not None else None)
        self._record(out, walk)
        if out.errno is not None:
            return self.fail(out.errno, out.type, rule=_pref(out), table=out.table,
                             route=out.hit.route if out.hit else None)
        hit = out.hit
        assert hit is not None
        route = hit.route
        nh = hit.nexthop
        rtype = route.type
        dev = nh.dev if nh is not None else None
        gw = nh.gateway if nh is not None else None
        if input_ and route.dst.network_address.is_multicast:
            refused = self.mroute6_reply(rtype, dev)
            if refused:
                return self.fail("EMSGSIZE", route.type, rule=_pref(out), table=out.table,
                                 route=route)
        # ip6_route_get_saddr(): the route's prefsrc, else ipv6_dev_get_saddr() on the
        # route's own device (for local routes too, though the dst device is lo)
        if route.prefsrc is not None:
            chosen: IPAddress | None = route.prefsrc
        else:
            chosen = self.ipv6_dev_get_saddr(dev, f.dst)
        if rtype in ("local", "anycast"):
            dev = fib.loopback
        if input_:
            # an arriving packet carries its own source; the kernel chooses none
            chosen = None
            src = f.src if f.src is not None and f.src._ip else None  # type: ignore[union-attr]
        else:
            # rt6_fill_node(): an output lookup reports as src what ip6_route_get_saddr()
            # picks, with or without `from` (RTA_SRC only echoes the from); checked in wgx-
            # namespaces (tests/test_parity.py compares src on lookups with from); the packet
            # itself (getroute False: a journey) carries the from
            src = chosen if self.getroute or f.src is None or not int(f.src) else f.src
        cache: tuple[str, ...] = ()
        return self.result(rtype=rtype, dev=dev, gateway=gw, src=src, table=out.table,
                           rule=_pref(out), route=route, prefsrc=chosen, cache=cache)

    def mroute6_reply(self, rtype: str, dev: str | None) -> bool:
        """``rt6_fill_node()`` for an input lookup whose route's prefix is multicast: on a
        kernel with ``CONFIG_IPV6_MROUTE`` the reply is ``ip6mr_get_route()``'s, which
        fails without a multicast routing cache entry (no daemon is modelled):
        EMSGSIZE. True when ``ip route get`` is refused so."""
        f = self.flow
        on = dev or f.iif
        if self.kernel.ipv6_mroute:
            line = (f"`ip route get` on a kernel with IPv6 multicast routing (CONFIG_IPV6_MROUTE, "
                    f"kernel profile {self.kernel.name}) answers EMSGSIZE here; the packet itself "
                    f"is delivered as {rtype} on {on}")
        else:
            line = (f"`ip route get` on a kernel without IPv6 multicast routing (kernel profile "
                    f"{self.kernel.name}) answers {rtype} dev {on}; one built with "
                    f"CONFIG_IPV6_MROUTE (Debian, Ubuntu, Fedora) answers EMSGSIZE")
        self.notes.append(line)
        if self.kernel.ipv6_mroute and self.getroute:
            self.step("multicast", "refused", f"{f.dst} matched a multicast route: the reply to "
                      "an input lookup is filled by multicast routing (rt6_fill_node() -> "
                      "ip6mr_get_route()), which has no entry for it and fails: EMSGSIZE")
            return True
        return False

    def ipv6_dev_get_saddr(self, dst_dev: str | None, dst: IPAddress) -> IPAddress | None:
        """``ipv6_dev_get_saddr()`` (net/ipv6/addrconf.c), RFC 6724 rules 1, 2, 3, 5, 6, 7, 8."""
        fib = self.fib
        d = int(dst)
        dscope = _scope6(dst)
        dlabel = _label6(dst)
        use_oif = dst_dev is not None and (dst.is_multicast or dscope <= 2)
        devs = [dst_dev] if use_oif else fib.dev_order
        best: tuple[Any, ...] | None = None
        best_a: IPAddress | None = None
        pref_tmp = self.fib.host.sysctl("net.ipv6.conf.all.use_tempaddr", "0") in ("2",)
        for dev in devs:
            for a in fib.addrs[AF_INET6].get(dev or "", []):
                if a.flags & {"tentative", "dadfailed"}:
                    continue
                ip = a.ip
                s = _scope6(ip)
                scope_score = -s if s >= dscope else s - 128
                diff = _common_prefix6(int(ip), d)
                score = (
                    int(ip) == d,                       # rule 1: same address
                    scope_score,                        # rule 2: appropriate scope
                    "deprecated" not in a.flags,        # rule 3: avoid deprecated
                    dst_dev is None or dev == dst_dev,  # rule 5: outgoing interface
                    _label6(ip) == dlabel,              # rule 6: matching label
                    ("temporary" in a.flags) == pref_tmp,  # rule 7: privacy
                    min(diff, a.address.network.prefixlen),  # rule 8: longest matching prefix
                )
                if best is None or score > best:
                    best, best_a = score, ip
        return best_a


def _need_strict6(a: IPAddress) -> bool:
    """``rt6_need_strict()``: multicast, link-local or loopback destinations."""
    return bool(a.is_multicast or a.is_link_local or a.is_loopback)


def _scope6(a: IPAddress) -> int:
    """``__ipv6_addr_src_scope()``: 1 interface-local, 2 link, 5 site, 14 global;
    -1 (``__IPV6_ADDR_SCOPE_INVALID``) for ``::`` (IPV6_ADDR_ANY), so every scope is
    "appropriate" for it and rule 2 prefers the smallest: a link-local source."""
    if int(a) == 0:
        return -1
    if a.is_multicast:
        return int(a) >> 112 & 0xF
    if a.is_loopback:
        return 1
    if a.is_link_local:
        return 2
    if isinstance(a, ipaddress.IPv6Address) and a.is_site_local:
        return 5
    return 14


_LABELS = [(ipaddress.IPv6Network("::1/128"), 0), (ipaddress.IPv6Network("::ffff:0:0/96"), 4),
           (ipaddress.IPv6Network("::/96"), 3), (ipaddress.IPv6Network("2001::/32"), 6),
           (ipaddress.IPv6Network("2001:10::/28"), 7), (ipaddress.IPv6Network("2002::/16"), 2),
           (ipaddress.IPv6Network("3ffe::/16"), 12), (ipaddress.IPv6Network("fec0::/10"), 11),
           (ipaddress.IPv6Network("fc00::/7"), 5)]


def _label6(a: IPAddress) -> int:
    """``ipv6_addr_label()`` with the default policy table (net/ipv6/addrlabel.c)."""
    best = (-1, 1)
    for net, label in _LABELS:
        if a in net and net.prefixlen > best[0]:
            best = (net.prefixlen, label)
    return best[1]


def _common_prefix6(a: int, b: int) -> int:
    x = a ^ b
    return 128 - x.bit_length()


def _pref(out: RulesOutcome | None) -> int | None:
    return out.rule.pref if out is not None and out.rule is not None else None


#: Explained lookups decide with the fast rule walk, which records what each rule did
#: (its ``trail``), and tell the steps from that record (``explain_trail()``: the
#: sentences of the explained walk, ``fib_rules_lookup(explain=True)``) only when the
#: result's ``steps`` are first read: a lookup whose steps nobody reads costs about what
#: a bare one does. False: run the explained walk at once (tests compare both).
DEFER_STEPS = True


class _Walk:
    """One explained rule walk: run now (``outcome()``), or recorded by the fast walk
    (``trail``, ``fast``) and told when its steps are read."""

    __slots__ = ("fib", "key", "ld", "ignore_linkstate", "strict_oif", "oif", "v6", "out",
                 "trail", "fast")

    def __init__(self, fib: _Fib, key: FlowKey, ld: frozenset[str], ignore_linkstate: bool,
                 strict_oif: bool, oif: str | None, *, v6: bool) -> None:
        self.fib = fib
        self.key = key  # never changed after the lookup made it
        self.ld = ld
        self.ignore_linkstate = ignore_linkstate
        self.strict_oif = strict_oif
        self.oif = oif
        self.v6 = v6
        self.out: RulesOutcome | None = None
        #: the fast walk's record of each rule (fib_rules_lookup_fast(trail=...))
        self.trail: list[TrailEvent] = []
        #: the fast walk's outcome, once it recorded the trail
        self.fast: RulesOutcome | None = None

    def outcome(self) -> RulesOutcome:
        """``fib_rules_lookup()`` with explanations, as the eager lookup runs it."""
        if self.out is not None:
            return self.out
        fib, ld, strict = self.fib, self.ld, self.strict_oif
        fam = self.key.family
        if self.v6:
            oif = self.oif

            def table_lookup(table: FibTable, k: FlowKey) -> TableHit | None:
                return table.lookup(k.daddr, oif=oif, linkdown_ignored=ld, strict_oif=strict)
        else:
            ignore = self.ignore_linkstate

            def table_lookup(table: FibTable, k: FlowKey) -> TableHit | None:
                return table.lookup(k.daddr, tos=k.tos, oif=k.oif, linkdown_ignored=ld,
                                    ignore_linkstate=ignore, strict_oif=strict)
        tables = fib.tables
        self.out = fib_rules_lookup(fib.rules[fam], self.key, lambda t: tables.get((fam, t)),
                                    fib.table_name, fib.group, table_lookup, explain=True,
                                    texts=fib.texts)
        return self.out

    def steps(self) -> list[RouteStep]:
        fast = self.fast
        if self.out is None and fast is not None:
            fib = self.fib
            fam = self.key.family
            told = explain_trail(fib.crules[fam], self.key, self.trail, fib.table_name,
                                 fib.texts, fib.leads)
            name = fib.table_name
            steps = [_make_step(r.pref, action_text(r, name), result, why, table,
                                hit.route if hit is not None else None)
                     for r, result, why, table, hit in told]
            return _end_of_rules(fast, steps)
        return _walk_steps(self.outcome(), self.fib)

    def json_items(self, dst: tuple[int, str] | None = None) -> list[str]:
        """The JSON text of each step (:func:`step_json` of :meth:`steps`), told from the
        trail without building the steps; ``dst``: the destination and its text, when
        known."""
        fast = self.fast
        if self.out is not None or fast is None:
            return [step_json(s) for s in self.steps()]
        fib = self.fib
        key = self.key
        crules = fib.crules[key.family]
        jleads = fib.json_leads
        items: list[str] = []
        # JSON escapes character by character: the escaped parts of a sentence, joined,
        # are the escaped sentence
        for ev in self.trail:
            event, i, hit = ev
            r = crules[i].rule
            jl = jleads.get(id(r))
            if jl is None or jl[0] is not r:
                jl = self._json_lead(r)
            jpre = jl[2][event]
            if jpre is None:  # a sentence with packet details inside: told, then escaped
                for _r, result, why, _t, _h in explain_trail(
                        crules, key, (ev,), fib.table_name, fib.texts, fib.leads):
                    items.append(f'{jl[1]}{_jstr(result)}, "why": {_jstr(why)}}}')
            elif event == T_NOT_FOUND:  # addresses need no escaping
                dtext = dst[1] if dst is not None and dst[0] == key.daddr else \
                    _addr_text(key.family, key.daddr)
                items.append(f'{jpre}{dtext}: the walk goes on"}}')
            elif hit is None:
                items.append(jpre + '"}')
            else:
                route = hit.route
                q = fib.json_routes.get(id(route))
                if q is None or q[0] is not route:
                    q = (route, _jstr(quoted_route(route, fib.table_name(
                        r.table if r.table is not None else 0), fib.texts))[1:-1])
                    if len(fib.json_routes) < 100_000:
                        fib.json_routes[id(route)] = q
                items.append(f'{jpre}{q[1]}"}}' if event == T_MATCHED else
                             f'{jpre}{q[1]}: back to the rules, the walk goes on"}}')
        if fast.errno is not None and fast.rule is None:
            end = _END_JSON.get(fast.errno)
            if end is None:
                end = _END_JSON[fast.errno] = step_json(_end_of_rules(fast, [])[0])
            items.append(end)
        return items

    def _json_lead(self, r: Rule) -> tuple[Rule, str, tuple[str | None, ...]]:
        """(rule, '{"rule": N, "action": "...", "result": ', per trail event the step's JSON
        up to its packet-specific part, or None where it is written per packet)."""
        fib = self.fib
        lead = rule_lead(r, self.key, fib.table_name, fib.texts, fib.leads)
        head = (f'{{"rule": {_jint(r.pref)}, "action": '
                f'{_jtext(action_text(r, fib.table_name))}, "result": ')
        jpre = tuple(
            None if pre is None or event in (T_ROUTE_ERROR, T_SUPPRESSED_LEN, T_SUPPRESSED_GROUP)
            else f'{head}{_jstr(TRAIL_RESULT[event])}, "why": {_jstr(pre)[:-1]}'
            for event, pre in enumerate(lead[2]))
        jl = (r, head, jpre)
        if len(fib.json_leads) < 10_000:
            fib.json_leads[id(r)] = jl
        return jl


def _walk_steps(out: RulesOutcome, fib: _Fib) -> list[RouteStep]:
    """The steps of an explained rule walk, plus the end when no rule decided."""
    return _end_of_rules(out, [_route_step(s, fib) for s in out.steps])


#: the JSON of the "end of rules" step, by errno
_END_JSON: dict[str, str] = {}


def _end_of_rules(out: RulesOutcome, steps: list[RouteStep]) -> list[RouteStep]:
    if out.errno is not None and out.rule is None:
        steps.append(RouteStep(None, "end of rules", "error", "no rule decided "
                               "(fib_rules_lookup() returns -ESRCH): the lookup "
                               f"fails with {out.errno}"))
    return steps


class LazySteps(Sequence[RouteStep]):
    """The steps of a result, told when first read (see :data:`DEFER_STEPS`).

    Behaves as the tuple of its steps (indexing, iteration, ``len``,
    comparison with tuples); the rule walks it holds are explained once, on
    the first access, exactly as an eager lookup explains them.
    """

    __slots__ = ("_parts", "_told")

    def __init__(self, parts: list[Any]) -> None:
        self._parts: list[Any] | None = parts
        self._told: tuple[RouteStep, ...] | None = None

    def told(self) -> tuple[RouteStep, ...]:
        """The steps as a tuple (explaining the deferred walks now, once)."""
        if self._told is None:
            out: list[RouteStep] = []
            for part in self._parts or ():
                if isinstance(part, _Walk):
                    out.extend(part.steps())
                else:
                    out.append(part)
            self._told = tuple(out)
            self._parts = None
        return self._told

    def json_items(self, dst: tuple[int, str] | None = None) -> list[str]:
        """The JSON text of each step, as :func:`step_json` writes it (deferred rule walks
        told straight into JSON, without building their steps, when not told yet);
        ``dst``: the destination (an int) and its text, when known."""
        if self._told is not None or self._parts is None:
            return [step_json(s) for s in self.told()]
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, _Walk):
                out.extend(part.json_items(dst))
            else:
                out.append(step_json(part))
        return out

    def __len__(self) -> int:
        return len(self.told())

    def __getitem__(self, index: Any) -> Any:
        return self.told()[index]

    def __iter__(self) -> Iterator[RouteStep]:
        return iter(self.told())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazySteps):
            return self.told() == other.told()
        if isinstance(other, (tuple, list)):
            return self.told() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.told())

    def __add__(self, other: Any) -> tuple[RouteStep, ...]:
        return self.told() + tuple(other)

    def __radd__(self, other: Any) -> tuple[RouteStep, ...]:
        return tuple(other) + self.told()

    def __repr__(self) -> str:
        return repr(self.told())


def _route_step(s: RuleStep, fib: _Fib) -> RouteStep:
    return _make_step(s.rule.pref, action_text(s.rule, fib.table_name), s.result, s.why,
                      s.table, s.hit.route if s.hit is not None else None)


def result_as_dict(result: RouteResult) -> dict[str, Any]:
    """Everything in a result, as plain JSON (for debugging and the lab)."""
    return as_dict(result)


__all__ = ["RouteResult", "RouteStep", "route_get", "lookup", "make_flow", "fib_for",
           "format_rule", "format_route"]
