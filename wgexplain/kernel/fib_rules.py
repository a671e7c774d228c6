"""The policy routing rule walk.

The twin of ``fib_rules_lookup()`` and ``fib_rule_match()``
(net/core/fib_rules.c) with the per-family hooks ``fib4_rule_match()``,
``fib4_rule_action()``, ``fib4_rule_suppress()`` (net/ipv4/fib_rules.c) and
``fib6_rule_match()``, ``fib6_rule_action()``, ``fib6_rule_suppress()``
(net/ipv6/fib6_rules.c).

Kernel details this follows (each one surprises readers):

* for an output lookup the flow's ``iif`` is the loopback device, so a rule
  ``iif lo`` matches locally generated traffic;
* ``from PREFIX`` is compared with the flow's source *as given*: an output
  lookup without ``from`` has source 0.0.0.0 (``::``), so such a rule only
  matches a prefix containing it;
* ``goto N`` jumps to the first rule with pref ``N``; a goto whose target
  does not exist (``[unresolved]``) is passed over like ``nop``;
* a ``lookup`` in a table that is missing or has no route for the
  destination, or that meets a ``throw`` route, goes on with the next rule
  (``-EAGAIN``); any other error ends the walk;
* ``suppress_prefixlength N`` refuses a found route whose prefix length is
  ``<= N``; ``suppress_ifgroup G`` refuses one whose first nexthop's device
  is in group ``G``: the walk then goes on;
* when no rule decides, the lookup fails with ``ENETUNREACH`` (``-ESRCH``
  mapped by ``__fib_lookup()``; the ``ip6_null_entry`` for IPv6).
"""

from __future__ import annotations

from dataclasses import dataclass
from wgexplain.inet import AF_INET as _SOCK_AF_INET, AF_INET6 as _SOCK_AF_INET6, inet_ntop
from typing import Callable, Sequence

from wgexplain.model import AF_INET, Route, Rule
from wgexplain.kernel.fib_trie import FibTable, TableHit, format_route

#: ``fib4_rule_action()`` / ``fib6_rule_action()``: rule actions -> errno.
ACTION_ERRNO = {"unreachable": "ENETUNREACH", "prohibit": "EACCES", "blackhole": "EINVAL"}

#: ``IPTOS_RT_MASK`` as ``fib_dscp_masked_match()`` applies it to a rule's ``tos``.
TOS_RULE_MASK = 0x1C


@dataclass(slots=True)
class FlowKey:
    """The mutable ``struct flowi4``/``flowi6`` one lookup works on (addresses as ints).

    ``saddr`` 0 means no source yet; ``iif`` is ``"lo"`` for output lookups
    (``LOOPBACK_IFINDEX``); ``oif`` ``None`` is ``flowi_oif == 0``.
    """

    family: int
    daddr: int
    saddr: int
    iif: str | None
    oif: str | None
    mark: int
    uid: int
    proto: int
    sport: int
    dport: int
    tos: int
    has_saddr: bool = True  # IPv6: RT6_LOOKUP_F_HAS_SADDR (a source was given)


@dataclass(frozen=True, slots=True)
class RuleStep:
    """One rule the walk looked at (rendered into a RouteStep by ``route.py``)."""

    rule: Rule
    result: str  # no match, matched, suppressed, not found, throw, error, nop, goto
    why: str
    table: int | None = None
    hit: TableHit | None = None


@dataclass(frozen=True, slots=True)
class RulesOutcome:
    """The end of ``fib_rules_lookup()``: the deciding rule and result, or an errno."""

    errno: str | None
    rule: Rule | None
    table: int | None
    hit: TableHit | None
    steps: tuple[RuleStep, ...]
    type: str  # the route type met; "unreachable" when nothing matched
    inexact: tuple[str, ...] = ()


def format_rule(rule: Rule, table_name: Callable[[int], str] | None = None) -> str:
    """The line ``ip rule show`` prints for ``rule`` (iproute2 ``print_rule()``), pref included."""
    name = table_name or str
    parts = [f"{rule.pref}:"]
    if rule.invert:
        parts.append("not")
    parts.append(f"from {_net_text(rule.src)}" if rule.src is not None and rule.src.prefixlen
                 else "from all")
    if rule.dst is not None and rule.dst.prefixlen:
        parts.append(f"to {_net_text(rule.dst)}")
    if rule.tos:
        parts.append(f"tos 0x{rule.tos:x}")
    if rule.fwmark is not None:
        mark = f"fwmark 0x{rule.fwmark:x}"
        if rule.fwmask is not None and rule.fwmask != 0xFFFFFFFF:
            mark += f"/0x{rule.fwmask:x}"
        parts.append(mark)
    if rule.iif:
        parts.append(f"iif {rule.iif}" + (" [detached]" if rule.iif_detached else ""))
    if rule.oif:
        parts.append(f"oif {rule.oif}" + (" [detached]" if rule.oif_detached else ""))
    if rule.l3mdev:
        parts.append("lookup [l3mdev-table]")
    if rule.uidrange is not None:
        parts.append(f"uidrange {rule.uidrange[0]}-{rule.uidrange[1]}")
    if rule.ipproto is not None:
        parts.append(f"ipproto {_proto_name(rule.ipproto)}")
    if rule.sport is not None:
        parts.append(f"sport {_range_text(rule.sport)}")
    if rule.dport is not None:
        parts.append(f"dport {_range_text(rule.dport)}")
    if rule.action == "lookup" and not rule.l3mdev:
        parts.append(f"lookup {name(rule.table if rule.table is not None else 0)}")
    elif rule.action == "goto":
        parts.append(f"goto {rule.goto}")
    elif rule.action != "lookup":
        parts.append(rule.action)
    if rule.suppress_prefixlength is not None:
        parts.append(f"suppress_prefixlength {rule.suppress_prefixlength}")
    if rule.suppress_ifgroup is not None:
        parts.append(f"suppress_ifgroup {rule.suppress_ifgroup}")
    if rule.protocol and rule.protocol not in ("unspec", "0"):
        parts.append(f"proto {rule.protocol}")
    return " ".join(parts)


def _net_text(net: object) -> str:
    text = str(net)
    if text.endswith("/32") and ":" not in text or text.endswith("/128"):
        return text.rsplit("/", 1)[0]
    return text


def _range_text(r: tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


_PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 33: "dccp",
                136: "udplite", 47: "gre", 50: "esp"}


def _proto_name(p: int) -> str:
    return _PROTO_NAMES.get(p, str(p))


def action_text(rule: Rule, table_name: Callable[[int], str]) -> str:
    """The short action of a rule: ``lookup main``, ``goto 32766``, ``blackhole``..."""
    return cached_text("act", rule, lambda: _action_text(rule, table_name))


def _action_text(rule: Rule, table_name: Callable[[int], str]) -> str:
    if rule.action == "lookup":
        if rule.l3mdev:
            return "lookup [l3mdev-table]"
        return f"lookup {table_name(rule.table if rule.table is not None else 0)}"
    if rule.action == "goto":
        return f"goto {rule.goto}"
    return rule.action


def _mask(family: int, plen: int) -> int:
    bits = 32 if family == AF_INET else 128
    return ((1 << bits) - 1) ^ ((1 << (bits - plen)) - 1)


def _addr_text(family: int, value: int) -> str:
    import ipaddress

    # str(ipaddress...), through inet_ntop() where it prints the same (fib_trie.addr_text())
    if family == AF_INET:
        return inet_ntop(_SOCK_AF_INET, value.to_bytes(4, "big"))
    if value >> 80:
        return inet_ntop(_SOCK_AF_INET6, value.to_bytes(16, "big"))
    return str(ipaddress.IPv6Address(value))


def selector_mismatch(rule: Rule, key: FlowKey) -> str | None:
    """``fib_rule_match()`` + ``fib4_rule_match()``/``fib6_rule_match()`` without ``not``.

    Returns ``None`` when every selector matches, else a phrase naming the
    first selector that does not (in the kernel's order of checks).
    """
    fam = key.family
    if rule.iif is not None:
        if rule.iif_detached:
            return f"its input device {rule.iif} does not exist (detached)"
        if rule.iif != key.iif:
            if key.iif == "lo":
                return (f"it is for packets arriving on {rule.iif} (iif), and a locally "
                        "generated packet has iif lo")
            return f"it is for packets arriving on {rule.iif}, this one arrives on {key.iif}"
    if rule.oif is not None:
        if rule.oif_detached or rule.oif != key.oif:
            if key.oif is None:
                return f"it is for lookups bound to device {rule.oif} (oif), this lookup has no oif"
            return f"it is for oif {rule.oif}, this lookup has oif {key.oif}"
    if rule.fwmark is not None or rule.fwmask is not None:
        mark = rule.fwmark or 0
        mask = 0xFFFFFFFF if rule.fwmask is None else rule.fwmask
        if (mark ^ key.mark) & mask:
            want = f"0x{mark:x}" + (f"/0x{mask:x}" if mask != 0xFFFFFFFF else "")
            return f"it is for packets with mark {want}, this one has mark {_mark_text(key.mark)}"
    if rule.l3mdev:
        return "it is for devices enslaved to a VRF (l3mdev), and no VRF is involved"
    if rule.uidrange is not None:
        lo, hi = rule.uidrange
        if key.uid < lo or key.uid > hi:
            return f"it is for uids {lo}-{hi}, this lookup has uid {key.uid}"
    if rule.src is not None and rule.src.prefixlen:
        if fam != AF_INET and not key.has_saddr:
            # fib6_rule_match(): without RT6_LOOKUP_F_HAS_SADDR a 'from' rule cannot match
            return (f"it is for sources in {rule.src}, and an IPv6 lookup without 'from' has "
                    "no source to compare")
        m = _mask(fam, rule.src.prefixlen)
        if (key.saddr ^ int(rule.src.network_address)) & m:
            src = _addr_text(fam, key.saddr)
            extra = " (no source chosen yet: an output lookup without 'from' has source 0)" \
                if key.saddr == 0 and key.iif == "lo" else ""
            return f"it is for sources in {rule.src}, this packet's source is {src}{extra}"
    if rule.dst is not None and rule.dst.prefixlen:
        m = _mask(fam, rule.dst.prefixlen)
        if (key.daddr ^ int(rule.dst.network_address)) & m:
            return f"it is for destinations in {rule.dst}, not {_addr_text(fam, key.daddr)}"
    if rule.tos and (rule.tos & TOS_RULE_MASK) != (key.tos & TOS_RULE_MASK):
        return f"it is for tos 0x{rule.tos:x}, this packet has tos 0x{key.tos:x}"
    if rule.ipproto is not None and rule.ipproto != key.proto:
        return (f"it is for protocol {_proto_name(rule.ipproto)}, this packet's protocol is "
                f"{_proto_name(key.proto) if key.proto else 'unset (0)'}")
    if rule.sport is not None and not (rule.sport[0] <= key.sport <= rule.sport[1]):
        return f"it is for source port {_range_text(rule.sport)}, this packet has {key.sport}"
    if rule.dport is not None and not (rule.dport[0] <= key.dport <= rule.dport[1]):
        return f"it is for destination port {_range_text(rule.dport)}, this packet has {key.dport}"
    return None


_TEXTS: dict[tuple[str, int], tuple[object, str]] = {}


def cached_text(kind: str, obj: object, make: Callable[[], str]) -> str:
    """``make()`` cached by (kind, identity of ``obj``): rules and routes are immutable."""
    key = (kind, id(obj))
    hit = _TEXTS.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    text = make()
    if len(_TEXTS) >= 200_000:
        _TEXTS.clear()
    _TEXTS[key] = (obj, text)
    return text


def _selectors_text(rule: Rule) -> str:
    return cached_text("sel", rule, lambda: _selectors_text_uncached(rule))


def _selectors_text_uncached(rule: Rule) -> str:
    text = format_rule(rule).split(":", 1)[1].strip()
    if text.startswith("not "):
        text = text[4:]
    for cut in (" lookup ", " goto ", " blackhole", " unreachable", " prohibit", " nop"):
        i = text.find(cut)
        if i >= 0:
            text = text[:i]
    return text


def _mark_text(mark: int) -> str:
    return "0" if mark == 0 else f"0x{mark:x}"


def _match_reason(rule: Rule, key: FlowKey, mismatch: str | None) -> str:
    """Why a rule matched, as the end of "rule N '...' (origin) ..."."""
    if rule.invert:
        if mismatch is not None and mismatch.startswith("it is for packets with mark"):
            want = mismatch.split("mark ", 1)[1].split(",", 1)[0]
            return (f"applies because the packet has no mark {want} (its mark is "
                    f"{_mark_text(key.mark)}) and the rule is for packets without it ('not')")
        return (f"applies because of 'not': the packet does not match "
                f"'{_selectors_text(rule)}' ({mismatch})")
    sel = _selectors_text(rule)
    if sel == "from all":
        return "applies to every packet ('from all')"
    if rule.fwmark is not None and sel.startswith("from all fwmark") and " " not in sel[16:]:
        return f"applies because the packet has mark {_mark_text(key.mark)}"
    return f"applies because the packet matches '{sel}'"


def fib_rules_lookup(rules: Sequence[Rule], key: FlowKey,
                     get_table: Callable[[int], FibTable | None],
                     table_name: Callable[[int], str],
                     device_group: Callable[[str | None], int],
                     table_lookup: Callable[[FibTable, FlowKey], TableHit | None],
                     explain: bool = True,
                     texts: dict[int, tuple[object, str]] | None = None) -> RulesOutcome:
    """Walk ``rules`` (already in pref order) for ``key``: ``fib_rules_lookup()``.

    ``table_lookup`` does the family's table lookup (``fib_table_lookup()``
    or ``fib6_table_lookup()``); ``device_group`` gives a device's group for
    ``suppress_ifgroup``.
    """
    steps: list[RuleStep] = []
    inexact: list[str] = []
    n = len(rules)
    memo: dict[int, tuple[object, str]] = texts if texts is not None else {}

    def quoted(obj: Rule | Route, make: Callable[[], str]) -> str:
        """The quoted text of a rule or route, cached by identity (objects are immutable)."""
        hit = memo.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = make()
        if len(memo) < 100_000:
            memo[id(obj)] = (obj, text)
        return text

    i = 0
    while i < n:
        rule = rules[i]
        where = quoted(rule, lambda: f"'{format_rule(rule, table_name).split(': ', 1)[1]}' "
                                     f"({rule.origin})") if explain else ""
        mismatch = selector_mismatch(rule, key)
        matched = (mismatch is None) != rule.invert
        if not matched:
            if explain:
                why = (f"rule {rule.pref} {where} does not apply: "
                       + (mismatch if mismatch else
                          f"it is for packets NOT matching '{_selectors_text(rule)}', "
                          "and this one matches"))
                steps.append(RuleStep(rule, "no match", why))
            i += 1
            continue
        reason = _match_reason(rule, key, mismatch) if explain else ""
        if rule.action == "goto":
            # the kernel refuses a goto to a pref <= its own, so look forward only
            target = next((j for j in range(i + 1, n) if rules[j].pref == rule.goto), None)
            if target is None:
                if explain:
                    steps.append(RuleStep(rule, "nop", f"rule {rule.pref} {where} "
                                          f"{reason} but no rule has pref {rule.goto}: an "
                                          "unresolved goto is passed over"))
                i += 1
                continue
            if explain:
                steps.append(RuleStep(rule, "goto", f"rule {rule.pref} {where} {reason} "
                                      f"and jumps to rule {rule.goto}"))
            i = target
            continue
        if rule.action == "nop":
            if explain:
                steps.append(RuleStep(rule, "nop", f"rule {rule.pref} {where} {reason} "
                                      "but does nothing (nop): the walk goes on"))
            i += 1
            continue
        if rule.action in ACTION_ERRNO:
            errno = ACTION_ERRNO[rule.action]
            if explain:
                steps.append(RuleStep(rule, "error", f"rule {rule.pref} {where} {reason}; "
                                      f"its action {rule.action} refuses the packet with {errno}"))
            return RulesOutcome(errno, rule, None, None, tuple(steps), rule.action, tuple(inexact))
        if rule.action != "lookup":
            if explain:
                steps.append(RuleStep(rule, "error", f"rule {rule.pref} {where}: action "
                                      f"{rule.action} is unknown to fib_rules_lookup(); EINVAL"))
            return RulesOutcome("EINVAL", rule, None, None, tuple(steps), "unreachable",
                                tuple(inexact))
        # FR_ACT_TO_TBL: fib4_rule_action() / fib6_rule_action()
        table_id = rule.table if rule.table is not None else 0
        tname = table_name(table_id)
        table = get_table(table_id)
        hit = table_lookup(table, key) if table is not None else None
        if hit is None:
            if explain:
                dst = _addr_text(key.family, key.daddr)
                what = (f"table {tname} does not exist (no route in it)" if table is None
                        else f"table {tname} has no route for {dst}")
                steps.append(RuleStep(rule, "not found", f"rule {rule.pref} {where} {reason}, "
                                      f"but {what}: the walk goes on", table_id))
            i += 1
            continue
        route_line = quoted(hit.route, lambda: f"'{format_route(hit.route, tname)}' "
                                               f"({hit.route.origin})") if explain else ""
        if hit.errno == "EAGAIN":
            if explain:
                steps.append(RuleStep(rule, "throw", f"rule {rule.pref} {where} {reason}; "
                                      f"table {tname} has the throw route {route_line}: back "
                                      "to the rules, the walk goes on",
                                      table_id, hit))
            i += 1
            continue
        if hit.errno is not None:
            if explain:
                steps.append(RuleStep(rule, "error", f"rule {rule.pref} {where} {reason}; "
                                      f"table {tname} has the {hit.route.type} route "
                                      f"{route_line}: the kernel refuses with {hit.errno}",
                                      table_id, hit))
            return RulesOutcome(hit.errno, rule, table_id, hit, tuple(steps), hit.route.type,
                                tuple(inexact))
        # fib4_rule_suppress() / fib6_rule_suppress()
        if rule.suppress_prefixlength is not None and hit.prefixlen <= rule.suppress_prefixlength:
            if explain:
                steps.append(RuleStep(rule, "suppressed", f"rule {rule.pref} {where} found "
                                      f"{route_line} in table {tname} but refused it: its prefix "
                                      f"length {hit.prefixlen} is <= {rule.suppress_prefixlength} "
                                      "(suppress_prefixlength): the walk goes on", table_id, hit))
            i += 1
            continue
        if rule.suppress_ifgroup is not None and hit.route.nexthops:
            dev0 = hit.route.nexthops[0].dev
            if dev0 is not None and device_group(dev0) == rule.suppress_ifgroup:
                if explain:
                    steps.append(RuleStep(rule, "suppressed", f"rule {rule.pref} {where} found "
                                          f"{route_line} in table {tname} but refused it: device "
                                          f"{dev0} is in group {rule.suppress_ifgroup} "
                                          "(suppress_ifgroup): the walk goes on", table_id, hit))
                i += 1
                continue
        if hit.inexact:
            inexact.append(hit.inexact)
        if explain:
            steps.append(RuleStep(rule, "matched", f"rule {rule.pref} {where} "
                                  f"{reason}; table {tname} decides with {route_line}",
                                  table_id, hit))
        return RulesOutcome(None, rule, table_id, hit, tuple(steps), hit.route.type,
                            tuple(inexact))
    return RulesOutcome("ENETUNREACH", None, None, None, tuple(steps), "unreachable",
                        tuple(inexact))



# --------------------------------------------------------------------------
# the fast walk: same decisions, no explanations (batch lookups, benchmarks)
# --------------------------------------------------------------------------

_UNMATCHABLE = "\0detached"

#: What the fast walk records of each rule it looks at (``trail``): an event, the rule's
#: index in the compiled rules, and the table's hit (or ``None``).
TrailEvent = tuple[int, int, "TableHit | None"]
#: the events: no match, goto, unresolved goto, nop, action error (unreachable...),
#: unknown action, missing table, no route, throw route, reject route, suppressed
#: (prefix length), suppressed (device group), matched
(T_NO_MATCH, T_GOTO, T_UNRESOLVED, T_NOP, T_ACTION, T_UNKNOWN, T_NO_TABLE, T_NOT_FOUND,
 T_THROW, T_ROUTE_ERROR, T_SUPPRESSED_LEN, T_SUPPRESSED_GROUP, T_MATCHED) = range(13)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's selectors as ints, for :func:`fib_rules_lookup_fast`."""

    rule: Rule
    iif: str | None
    oif: str | None
    mark: int
    mask: int
    uid_lo: int
    uid_hi: int
    src: int
    src_mask: int
    dst: int
    dst_mask: int
    tos: int
    proto: int
    sport: tuple[int, int] | None
    dport: tuple[int, int] | None
    needs_saddr: bool
    invert: bool
    l3mdev: bool
    goto_index: int | None
    table: FibTable | None = None  # the table a lookup rule reads, resolved once
    trivial: bool = False  # no selector at all ('from all'): matches every flow


def compile_rules(rules: Sequence[Rule],
                  get_table: Callable[[int], FibTable | None] | None = None) -> list[CompiledRule]:
    """Precompute every rule's selectors (``rules`` in pref order) and resolve its table."""
    out: list[CompiledRule] = []
    for i, r in enumerate(rules):
        fam = r.family
        src = int(r.src.network_address) if r.src is not None and r.src.prefixlen else 0
        src_mask = _mask(fam, r.src.prefixlen) if r.src is not None and r.src.prefixlen else 0
        dst = int(r.dst.network_address) if r.dst is not None and r.dst.prefixlen else 0
        dst_mask = _mask(fam, r.dst.prefixlen) if r.dst is not None and r.dst.prefixlen else 0
        mark = r.fwmark or 0
        mask = (0xFFFFFFFF if r.fwmask is None else r.fwmask) \
            if (r.fwmark is not None or r.fwmask is not None) else 0
        lo, hi = r.uidrange if r.uidrange is not None else (0, 0xFFFFFFFF)
        goto_index = None
        if r.action == "goto":
            goto_index = next((j for j in range(i + 1, len(rules)) if rules[j].pref == r.goto),
                              None)
        out.append(CompiledRule(
            r, _UNMATCHABLE if r.iif is not None and r.iif_detached else r.iif,
            _UNMATCHABLE if r.oif is not None and r.oif_detached else r.oif,
            mark & mask, mask, lo, hi, src & src_mask, src_mask, dst & dst_mask, dst_mask,
            r.tos & TOS_RULE_MASK, r.ipproto or 0, r.sport, r.dport,
            fam != AF_INET and bool(src_mask), r.invert, r.l3mdev, goto_index,
            get_table(r.table if r.table is not None else 0)
            if get_table is not None and r.action == "lookup" else None,
            r.iif is None and r.oif is None and not mask and not r.l3mdev and r.uidrange is None
            and not src_mask and not dst_mask and not (r.tos & TOS_RULE_MASK) and not r.ipproto
            and r.sport is None and r.dport is None))
    return out


def fib_rules_lookup_fast(crules: Sequence[CompiledRule], key: FlowKey,
                          get_table: Callable[[int], FibTable | None] | None,
                          device_group: Callable[[str | None], int],
                          table_lookup: Callable[[FibTable, FlowKey], TableHit | None] | None,
                          v4_args: tuple[object, ...] | None = None,
                          trail: list[TrailEvent] | None = None) -> RulesOutcome:
    """:func:`fib_rules_lookup` without the explanations (``steps`` stays empty).

    Tables come from the compiled rules (``get_table`` is used when not resolved);
    with ``v4_args`` = (tos, oif, linkdown_ignored, ignore_linkstate) the IPv4 table
    lookup is called directly. With ``trail``, every rule looked at is appended to it
    as ``(event, index, hit)`` (the ``T_*`` events): :func:`explain_trail` tells the
    same steps as the explained walk from it, without walking again.
    """
    n = len(crules)
    i = 0
    daddr = key.daddr
    saddr = key.saddr
    inexact: tuple[str, ...] = ()
    while i < n:
        c = crules[i]
        ok = c.trivial or not (
            (c.iif is not None and c.iif != key.iif)
            or (c.oif is not None and c.oif != key.oif)
            or ((c.mark ^ key.mark) & c.mask)
            or c.l3mdev
            or key.uid < c.uid_lo or key.uid > c.uid_hi
            or (c.src_mask and (c.needs_saddr and not key.has_saddr
                                or (saddr & c.src_mask) != c.src))
            or (c.dst_mask and (daddr & c.dst_mask) != c.dst)
            or (c.tos and c.tos != (key.tos & TOS_RULE_MASK))
            or (c.proto and c.proto != key.proto)
            or (c.sport is not None and not c.sport[0] <= key.sport <= c.sport[1])
            or (c.dport is not None and not c.dport[0] <= key.dport <= c.dport[1]))
        if c.invert:
            ok = not ok
        if not ok:
            if trail is not None:
                trail.append((T_NO_MATCH, i, None))
            i += 1
            continue
        rule = c.rule
        action = rule.action
        if action == "goto":
            if trail is not None:
                trail.append((T_GOTO if c.goto_index is not None else T_UNRESOLVED, i, None))
            i = c.goto_index if c.goto_index is not None else i + 1
            continue
        if action == "nop":
            if trail is not None:
                trail.append((T_NOP, i, None))
            i += 1
            continue
        if action != "lookup":
            if trail is not None:
                trail.append((T_ACTION if action in ACTION_ERRNO else T_UNKNOWN, i, None))
            return RulesOutcome(ACTION_ERRNO.get(action, "EINVAL"), rule, None, None, (),
                                action if action in ACTION_ERRNO else "unreachable", inexact)
        table_id = rule.table if rule.table is not None else 0
        table = c.table if c.table is not None or get_table is None else get_table(table_id)
        if table is None:
            hit = None
        elif v4_args is not None:
            hit = table._lookup4(daddr, v4_args[0], v4_args[1], v4_args[2],  # type: ignore[arg-type]
                                 v4_args[3], None)  # type: ignore[arg-type]
        else:
            hit = table_lookup(table, key)  # type: ignore[misc]
        if hit is None or hit.errno == "EAGAIN":
            if trail is not None:
                trail.append((T_NO_TABLE if table is None else T_NOT_FOUND if hit is None
                              else T_THROW, i, hit))
            i += 1
            continue
        if hit.errno is not None:
            if trail is not None:
                trail.append((T_ROUTE_ERROR, i, hit))
            return RulesOutcome(hit.errno, rule, table_id, hit, (), hit.route.type, inexact)
        sp = rule.suppress_prefixlength
        if sp is not None and hit.prefixlen <= sp:
            if trail is not None:
                trail.append((T_SUPPRESSED_LEN, i, hit))
            i += 1
            continue
        if rule.suppress_ifgroup is not None and hit.route.nexthops:
            dev0 = hit.route.nexthops[0].dev
            if dev0 is not None and device_group(dev0) == rule.suppress_ifgroup:
                if trail is not None:
                    trail.append((T_SUPPRESSED_GROUP, i, hit))
                i += 1
                continue
        if hit.inexact:
            inexact = (hit.inexact,)
        if trail is not None:
            trail.append((T_MATCHED, i, hit))
        return RulesOutcome(None, rule, table_id, hit, (), hit.route.type, inexact)
    return RulesOutcome("ENETUNREACH", None, None, None, (), "unreachable", inexact)


# --------------------------------------------------------------------------
# the steps of a recorded fast walk, told without walking again
# --------------------------------------------------------------------------

#: (rule, result, why, table, hit): the fields of a :class:`RuleStep`, as a tuple
StepTuple = tuple[Rule, str, str, "int | None", "TableHit | None"]
#: what a rule's steps share, written once per rule: (rule, "rule N 'text' (origin)",
#: per event the sentence up to its packet-specific part (None: written per packet))
RuleLead = tuple[Rule, str, tuple["str | None", ...]]

#: the result each event is told as
TRAIL_RESULT = ("no match", "goto", "nop", "nop", "error", "error", "not found", "not found",
                "throw", "error", "suppressed", "suppressed", "matched")


def _rule_lead(rule: Rule, key: FlowKey, table_name: Callable[[int], str],
               texts: dict[int, tuple[object, str]]) -> RuleLead:
    """The sentences of ``rule`` that no packet detail enters, per event (see ``explain_trail``)."""
    hit_text = texts.get(id(rule))
    if hit_text is not None and hit_text[0] is rule:
        where = hit_text[1]
    else:
        where = f"'{format_rule(rule, table_name).split(': ', 1)[1]}' ({rule.origin})"
        if len(texts) < 100_000:
            texts[id(rule)] = (rule, where)
    head = f"rule {rule.pref} {where}"
    pre: list[str | None] = [None] * 13
    if rule.invert:
        pre[T_NO_MATCH] = (f"{head} does not apply: it is for packets NOT matching "
                           f"'{_selectors_text(rule)}', and this one matches")
    pre[T_UNKNOWN] = f"{head}: action {rule.action} is unknown to fib_rules_lookup(); EINVAL"
    if not rule.invert and rule.fwmark is None:
        # _match_reason() reads the packet only for 'not' rules and fwmark rules
        said = f"{head} {_match_reason(rule, key, None)}"
        tname = table_name(rule.table if rule.table is not None else 0)
        pre[T_GOTO] = f"{said} and jumps to rule {rule.goto}"
        pre[T_UNRESOLVED] = (f"{said} but no rule has pref {rule.goto}: an unresolved goto is "
                             "passed over")
        pre[T_NOP] = f"{said} but does nothing (nop): the walk goes on"
        pre[T_ACTION] = (f"{said}; its action {rule.action} refuses the packet with "
                         f"{ACTION_ERRNO.get(rule.action)}")
        pre[T_NO_TABLE] = (f"{said}, but table {tname} does not exist (no route in it): the "
                           "walk goes on")
        pre[T_NOT_FOUND] = f"{said}, but table {tname} has no route for "
        pre[T_THROW] = f"{said}; table {tname} has the throw route "
        pre[T_ROUTE_ERROR] = f"{said}; table {tname} has the "
        pre[T_MATCHED] = f"{said}; table {tname} decides with "
    return rule, head, tuple(pre)


def rule_lead(rule: Rule, key: FlowKey, table_name: Callable[[int], str],
              texts: dict[int, tuple[object, str]], leads: dict[int, RuleLead]) -> RuleLead:
    """The lead of ``rule`` (see :data:`RuleLead`), kept in ``leads`` by rule identity."""
    lead = leads.get(id(rule))
    if lead is None or lead[0] is not rule:
        lead = _rule_lead(rule, key, table_name, texts)
        if len(leads) < 10_000:
            leads[id(rule)] = lead
    return lead


def quoted_route(route: Route, tname: str, texts: dict[int, tuple[object, str]]) -> str:
    """"'ROUTE' (origin)", as the explained walk quotes a route (kept in ``texts``)."""
    quoted = texts.get(id(route))
    if quoted is not None and quoted[0] is route:
        return quoted[1]
    line = f"'{format_route(route, tname)}' ({route.origin})"
    if len(texts) < 100_000:
        texts[id(route)] = (route, line)
    return line


def _said(rule: Rule, key: FlowKey, head: str) -> str:
    """"rule N '...' (origin) applies ...": ``_match_reason()`` for this packet."""
    return f"{head} {_match_reason(rule, key, selector_mismatch(rule, key))}"


def explain_trail(crules: Sequence[CompiledRule], key: FlowKey, trail: Sequence[TrailEvent],
                  table_name: Callable[[int], str],
                  texts: dict[int, tuple[object, str]],
                  leads: dict[int, RuleLead]) -> list[StepTuple]:
    """The steps of the walk :func:`fib_rules_lookup_fast` recorded in ``trail``.

    The same rule, result, sentence, table and hit, byte for byte, as the
    :class:`RuleStep` s ``fib_rules_lookup(explain=True)`` tells for ``key``
    (the explained twin of ``fib_rules_lookup()``; tests/test_fib_columns.py
    and tests/test_route_batch_json.py compare both on random rule sets), told
    from the record: no second walk, no table looked up again. What depends
    only on the rule is written once and kept in ``leads`` (by rule identity:
    rules are immutable), and the packet's own part (its destination, the
    route found, a selector it misses) is filled in; ``texts`` keeps quoted
    rules and routes as the explained walk does.
    """
    out: list[StepTuple] = []
    for event, i, hit in trail:
        rule = crules[i].rule
        lead = leads.get(id(rule))
        if lead is None or lead[0] is not rule:
            lead = _rule_lead(rule, key, table_name, texts)
            if len(leads) < 10_000:
                leads[id(rule)] = lead
        head = lead[1]
        pre = lead[2][event]
        if event == T_NO_MATCH:
            out.append((rule, "no match", pre if pre is not None else
                        f"{head} does not apply: {selector_mismatch(rule, key)}", None, None))
            continue
        table_id = rule.table if rule.table is not None else 0
        if hit is None:
            if event == T_NOT_FOUND:
                dst = _addr_text(key.family, key.daddr)
                why = f"{pre}{dst}: the walk goes on" if pre is not None else (
                    f"{_said(rule, key, head)}, but table {table_name(table_id)} has no route "
                    f"for {dst}: the walk goes on")
                out.append((rule, "not found", why, table_id, None))
                continue
            if pre is None:
                said = _said(rule, key, head)
                tname = table_name(table_id)
                pre = (f"{said} and jumps to rule {rule.goto}" if event == T_GOTO else
                       f"{said} but no rule has pref {rule.goto}: an unresolved goto is passed "
                       "over" if event == T_UNRESOLVED else
                       f"{said} but does nothing (nop): the walk goes on" if event == T_NOP else
                       f"{said}; its action {rule.action} refuses the packet with "
                       f"{ACTION_ERRNO.get(rule.action)}" if event == T_ACTION else
                       f"{said}, but table {tname} does not exist (no route in it): the walk "
                       "goes on")
            out.append((rule, TRAIL_RESULT[event], pre,
                        table_id if event == T_NO_TABLE else None, None))
            continue
        route = hit.route
        quoted = texts.get(id(route))
        route_line = quoted[1] if quoted is not None and quoted[0] is route else \
            quoted_route(route, table_name(table_id), texts)
        if event == T_MATCHED:
            why = pre + route_line if pre is not None else \
                f"{_said(rule, key, head)}; table {table_name(table_id)} decides with {route_line}"
        elif event == T_THROW:
            why = (pre if pre is not None else f"{_said(rule, key, head)}; table "
                   f"{table_name(table_id)} has the throw route ") + \
                f"{route_line}: back to the rules, the walk goes on"
        elif event == T_ROUTE_ERROR:
            why = (pre if pre is not None else f"{_said(rule, key, head)}; table "
                   f"{table_name(table_id)} has the ") + \
                f"{route.type} route {route_line}: the kernel refuses with {hit.errno}"
        elif event == T_SUPPRESSED_LEN:
            why = (f"{head} found {route_line} in table {table_name(table_id)} but refused it: "
                   f"its prefix length {hit.prefixlen} is <= {rule.suppress_prefixlength} "
                   "(suppress_prefixlength): the walk goes on")
        else:  # T_SUPPRESSED_GROUP
            why = (f"{head} found {route_line} in table {table_name(table_id)} but refused it: "
                   f"device {route.nexthops[0].dev} is in group {rule.suppress_ifgroup} "
                   "(suppress_ifgroup): the walk goes on")
        out.append((rule, TRAIL_RESULT[event], why, table_id, hit))
    return out
