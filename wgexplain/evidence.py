"""Evidence: what a paste shows, and what an answer assumes about the rest.

A Host read from a source records in ``Host.dumped`` which listings were
pasted (``ip-rule``, ``ip-route:all``, ``ip-route:main``, ``ip-route:52``,
``ip-route:partial``, ``ip-addr``, ``ip-link``, ``nft``, ``wg``, ``sysctl``;
see :mod:`wgexplain.sources.assemble`). What was not pasted is *unknown*,
not empty: an answer that depends on it leads with an :class:`Assumption`
(one sentence, and the command whose output would settle it), is marked
inexact, and — where a known client's signature or a pasted table makes it
matter — is computed both ways (:func:`alternatives`), each way by the
simulator on a Host that holds the hypothesis.

"Does not exist" and an errno are said only when a complete listing shows
it: a lookup that fails only because a table was not pasted is *undecided*
(type ``unknown``), and its possible answers are the alternatives.

Decisions: table ``default`` not pasted is taken as empty without saying so
(the kernel creates it empty and nothing common adds to it; ``ip route``
never shows it); sysctls not pasted take the kernel's defaults and the
result's notes say which (``route.py``), as before; a WireGuard endpoint
inferred from the pasted firewall rules is derived evidence, said in a note.

A Host whose ``dumped`` is empty was built in code (the lab, tests,
``--live`` reads everything): what it holds is the whole truth, and nothing
is assumed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from wgexplain.model import (AF_INET, AF_INET6, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN,
                             Flow, Host, Nexthop, Origin, Route, Rule)

if TYPE_CHECKING:  # pragma: no cover
    from wgexplain.kernel.route import RouteResult

#: The commands that collect everything, without private keys (``wg show all dump``
#: prints the private key in field 2 of each interface line: awk blanks it). Each output
#: follows a ``$ command`` line, as a terminal session shows it, so the reader finds it.
#: Kept to short lines (continued with ``\``) so it can be copied from a narrow terminal.
COLLECT_LINES = (
    "for c in 'ip -d link show' 'ip addr show' 'ip rule show' 'ip -6 rule show' \\",
    " 'ip route show table all' 'nft list ruleset' 'wg show all dump' \\",
    " 'sysctl -a -r rp_filter|src_valid_mark|forward'; do echo \"\\$ $c\"; sudo $c 2>&1 | \\",
    " awk -v c=\"$c\" 'BEGIN{OFS=\"\\t\"} c ~ /^wg/ && NF == 5 {$2 = \"(hidden)\"} 1'; done",
)
COLLECT = "\n".join(COLLECT_LINES)

#: what to paste to settle each kind of assumption
PASTE = {
    "ip-rule": "ip rule show", "ip6-rule": "ip -6 rule show",
    "ip-route": "ip route show table all", "ip6-route": "ip -6 route show table all",
    "ip-link": "ip -d link show", "ip-addr": "ip addr show", "wg": "wg show all",
    "nft": "nft list ruleset",
    "sysctl": "sysctl -a -r 'rp_filter|src_valid_mark|forward'",
}


@dataclass(frozen=True, slots=True)
class Assumption:
    """One thing an answer assumes because it was not pasted.

    ``kind`` is the listing that would settle it (a key of :data:`PASTE`, or
    ``unknown-address`` for a redacted address); ``text`` the sentence shown.
    """

    kind: str
    text: str

    @property
    def paste(self) -> str | None:
        return PASTE.get(self.kind)


def _fam(family: int) -> str:
    return "ip" if family == AF_INET else "ip6"


def _ip(family: int) -> str:
    return "ip" if family == AF_INET else "ip -6"


class Evidence:
    """What ``Host.dumped`` says was pasted (everything, when it is empty)."""

    __slots__ = ("dumped", "recorded")

    def __init__(self, host: Host) -> None:
        self.dumped = host.dumped
        self.recorded = bool(host.dumped)

    def rules(self, family: int) -> bool:
        return not self.recorded or f"{_fam(family)}-rule" in self.dumped

    def table(self, family: int, table: int) -> bool:
        """A complete listing of ``table`` (of ``family``) was pasted."""
        if not self.recorded:
            return True
        p = _fam(family)
        d = self.dumped
        if f"{p}-route:all" in d or f"{p}-route:{table}" in d:
            return True
        if table == RT_TABLE_DEFAULT:
            return True  # see the module doc: empty, as the kernel creates it
        if f"{p}-route" in d and not any(k.startswith(f"{p}-route:") for k in d):
            return True  # a Host built in code saying only that routes were dumped: all of them
        return ((table == RT_TABLE_MAIN and f"{p}-route:main" in d) or
                (table == RT_TABLE_LOCAL and f"{p}-route:local" in d) or
                (table == RT_TABLE_DEFAULT and f"{p}-route:default" in d))

    def addresses(self, family: int) -> bool:
        if not self.recorded:
            return True
        return "ip-addr" in self.dumped or \
            f"ip-addr:{'inet' if family == AF_INET else 'inet6'}" in self.dumped

    def links(self) -> bool:
        """Every device is known: ``ip link``, or ``ip addr`` (which lists every link too)."""
        return not self.recorded or "ip-link" in self.dumped or "ip-addr" in self.dumped

    def wireguard(self) -> bool:
        return not self.recorded or "wg" in self.dumped

    def ruleset(self) -> bool:
        return not self.recorded or "nft" in self.dumped

    def sysctls(self) -> bool:
        return not self.recorded or "sysctl" in self.dumped

    def complete(self) -> bool:
        """Nothing a route lookup reads is missing."""
        return (not self.recorded) or all((
            self.rules(AF_INET), self.rules(AF_INET6), self.links(),
            self.table(AF_INET, RT_TABLE_MAIN), self.table(AF_INET6, RT_TABLE_MAIN),
            "ip-route:all" in self.dumped or self.table(AF_INET, 0x7FFFFFFF),
            "ip6-route:all" in self.dumped or self.table(AF_INET6, 0x7FFFFFFF),
            self.addresses(AF_INET), self.addresses(AF_INET6)))


# --------------------------------------------------------------------------
# the sentences (one wording each)
# --------------------------------------------------------------------------

def rules_assumption(family: int) -> Assumption:
    if family == AF_INET:
        return Assumption("ip-rule", "`ip rule` was not pasted: assuming the kernel's default "
                                     "rules (0 lookup local, 32766 lookup main, 32767 lookup "
                                     "default)")
    return Assumption("ip6-rule", "`ip -6 rule` was not pasted: assuming the kernel's default "
                                  "IPv6 rules (0 lookup local, 32766 lookup main)")


def table_assumption(host: Host, ev: Evidence, family: int, table: int) -> Assumption:
    name = host.table_name(table)
    label = "" if family == AF_INET else "IPv6 "
    kind = f"{_fam(family)}-route"
    if table == RT_TABLE_LOCAL:
        return Assumption("ip-addr", f"{label}table local was not pasted, nor `ip addr`: this "
                                     "host's own addresses are unknown (taken as none)")
    if table == RT_TABLE_DEFAULT:
        return Assumption(kind, f"{label}table default was not pasted: assumed empty (as it is "
                                "unless routes were added to it)")
    derived = sum(1 for r in host.routes if r.family == family and r.table == table
                  and r.origin.derived)
    shown = sum(1 for r in host.routes if r.family == family and r.table == table
                and not r.origin.derived)
    if shown:
        what = f"only the {shown} route{'s' if shown != 1 else ''} a filtered listing showed"
        return Assumption(kind, f"{label}table {name} was not pasted in full: {what} are known")
    if derived:
        return Assumption(kind, f"{label}table {name} was not pasted: only the {derived} prefix "
                                f"route{'s' if derived != 1 else ''} derived from the addresses "
                                f"{'are' if derived != 1 else 'is'} known, not what else it "
                                "holds (a default route?)")
    return Assumption(kind, f"{label}table {name} was not pasted: what it holds is unknown "
                            "(taken as empty)")


def link_assumption(dev: str) -> Assumption:
    return Assumption("ip-link", f"`ip link` was not pasted: device {dev} assumed to exist and "
                                 "be up")


def wg_peer_assumption(dev: str) -> Assumption:
    return Assumption("wg", f"`wg show` was not pasted: a peer of {dev} is assumed to exist "
                            "and take the packet; its endpoint is unknown")


def ruleset_assumption() -> Assumption:
    return Assumption("nft", "`nft list ruleset` was not pasted: no firewall assumed (no "
                             "filtering, NAT or marks, as with an empty ruleset)")


def unknown_assumption(what: str) -> Assumption:
    verb = "was" if what.endswith("destination") else "has an address the paste"
    return Assumption("unknown-address", f"{what} {verb} redacted: the decision that depends "
                                         "on it is unknown")


def to_paste(assumptions: Iterable[Assumption]) -> list[str]:
    """The commands that would settle ``assumptions``, each once, in order."""
    out: dict[str, None] = {}
    for a in assumptions:
        if a.paste:
            out.setdefault(a.paste)
    return list(out)


def redacted_lines(host: Host) -> frozenset[tuple[str, int]]:
    """The ``(file, line)`` of every line whose address the poster hid (``Host.redacted``,
    when the reader records it: a fact read from such a line holds a stand-in)."""
    return frozenset((r.origin.file, r.origin.line) for r in getattr(host, "redacted", ()) or ())


def is_unknown(fact: Any, redacted: frozenset[tuple[str, int]] = frozenset()) -> bool:
    """A rule, route or address that holds a redacted (unknown) address.

    Known as such by its line being in ``redacted`` (:func:`redacted_lines`),
    an ``unknown`` attribute, or an origin whose ``why`` starts with
    ``unknown``/``redacted``.
    """
    if fact is None:
        return False
    if getattr(fact, "unknown", False):
        return True
    origin = getattr(fact, "origin", None)
    if origin is None:
        return False
    if redacted and (origin.file, origin.line) in redacted:
        return True
    why = str(getattr(origin, "why", "") or "")
    return why.startswith(("unknown", "redacted"))


# --------------------------------------------------------------------------
# host-level: for show, check
# --------------------------------------------------------------------------

def host_assumptions(host: Host) -> list[Assumption]:
    """Everything the model assumes about ``host`` because it was not pasted."""
    ev = Evidence(host)
    if not ev.recorded:
        return []
    out: list[Assumption] = []
    v6 = any(k.startswith("ip6-") for k in host.dumped) or any(
        a.family == AF_INET6 and a.scope == "global" for a in host.addresses)
    for fam in (AF_INET, AF_INET6) if v6 else (AF_INET,):
        if not ev.rules(fam):
            out.append(rules_assumption(fam))
        for table in (RT_TABLE_MAIN, RT_TABLE_LOCAL):
            if not ev.table(fam, table) and not (table == RT_TABLE_LOCAL and ev.addresses(fam)):
                out.append(table_assumption(host, ev, fam, table))
    for fam in (AF_INET, AF_INET6):
        for r in host.rules:
            if r.family == fam and r.action == "lookup" and r.table is not None \
                    and r.table not in (RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT) \
                    and not ev.table(fam, r.table):
                out.append(table_assumption(host, ev, fam, r.table))
    if not ev.links():
        from wgexplain.signatures import device_names

        devs = device_names(host)
        if devs:
            what = f"the devices {', '.join(devs)} are" if len(devs) > 1 else \
                f"the device {devs[0]} is"
            out.append(Assumption("ip-link", f"`ip link` was not pasted: {what} assumed to "
                                  "exist and be up; any other is unknown"))
        else:
            out.append(Assumption("ip-link", "`ip link` was not pasted: the devices are unknown"))
    if not ev.wireguard():
        from wgexplain.check import tunnel_devices

        for dev in tunnel_devices(host):
            out.append(Assumption("wg", f"`wg show` was not pasted: {dev}'s peers and their "
                                        "allowed IPs are unknown (an endpoint may be inferred "
                                        "from the firewall rules)"))
    if not ev.ruleset():
        out.append(ruleset_assumption())
    if not ev.sysctls():
        out.append(Assumption("sysctl", "`sysctl` was not pasted: the kernel's defaults are "
                                        "assumed (rp_filter 0, src_valid_mark 0, forwarding 0)"))
    red = redacted_lines(host)
    for fact in (*host.rules, *host.addresses):
        if is_unknown(fact, red):
            out.append(unknown_assumption(_fact_text(fact)))
    for r in getattr(host, "redacted", ()) or ():
        out.append(unknown_assumption(f"the line {r.origin} ({r.text!r})"))
    return _dedupe(out)


def _hidden_dst(host: Host, route: Route) -> bool:
    """The route's destination is a reader's stand-in for a hidden address."""
    stand_ins = {str(r.stand_in) for r in getattr(host, "redacted", ()) or ()}
    return str(route.dst) in stand_ins or str(route.dst.network_address) in stand_ins or \
        any(str(route.dst) == str(ipaddress.ip_network(x, strict=False)) for x in stand_ins
            if "/" in x)


def _fact_text(fact: Any) -> str:
    if isinstance(fact, Rule):
        return f"rule {fact.pref} ({fact.origin})"
    if isinstance(fact, Route):
        return f"the route {fact.dst} in table {fact.table} ({fact.origin})"
    return f"{type(fact).__name__.lower()} ({getattr(fact, 'origin', '')})"


def _dedupe(items: Iterable[Assumption]) -> list[Assumption]:
    seen: dict[str, Assumption] = {}
    for a in items:
        seen.setdefault(a.text, a)
    return list(seen.values())


# --------------------------------------------------------------------------
# a routing decision: its assumptions and alternatives
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Alternative:
    """One way an undecided or assumption-bound answer could go, computed.

    ``result`` is the simulator's answer on a Host holding the hypothesis
    ``condition``; ``None`` when the hypothesis cannot be computed (nothing
    known to build it from), and then ``condition`` says what would decide.
    """

    condition: str
    result: "RouteResult | None"
    #: the Host holding the hypothesis (for ``check`` to run its checks on it too)
    host: Host | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"if": self.condition, "answer": None if self.result is None else
                answer_json(self.result)}

    def text(self) -> str:
        return self.condition + ": " + ("that route decides (nothing pasted says which)"
                                        if self.result is None else answer_text(self.result))


def answer_json(r: "RouteResult") -> dict[str, Any]:
    from wgexplain.kernel.fib_trie import addr_text

    out: dict[str, Any] = {"type": r.type, "dev": r.dev,
                           "gateway": None if r.gateway is None else addr_text(r.gateway),
                           "src": None if r.src is None else addr_text(r.src),
                           "table": r.table, "rule": r.rule}
    if r.error is not None:
        out["error"] = r.error
    return out


def answer_text(r: "RouteResult") -> str:
    """One line: what ``ip route get`` would print (the first line), plus table and rule."""
    from wgexplain.explain.route_text import kernel_lines

    line = kernel_lines(r)[0]
    if r.error is None and r.table is not None:
        where = f" (table {r.table_name or r.table}" + (f", rule {r.rule}" if r.rule is not None
                                                        else "") + ")"
        if f"table {r.table_name or r.table}" not in line:
            line += where
        elif r.rule is not None:
            line += f" (rule {r.rule})"
    elif r.error is not None and r.rule is not None:
        line += f" (rule {r.rule}, table {r.table_name or r.table})"
    return line


class RouteEvidence:
    """What one Host's FIB lacks, built once per FIB (see ``route._Fib``)."""

    def __init__(self, host: Host, completed: Host) -> None:
        self.ev = Evidence(host)
        self.host = completed
        self.rules_known = {f: self.ev.rules(f) for f in (AF_INET, AF_INET6)}
        self.hypotheses: dict[tuple[Any, ...], Host] = {}
        self._clients: list[Any] | None = None
        self._fast: dict[int, bool] = {}
        self.redacted = redacted_lines(host)
        #: (family, table) of the tables holding a route whose destination is hidden (it may
        #: have matched a lookup that found another route)
        self.unknown_tables: frozenset[tuple[int, int]] = frozenset(
            (r.family, r.table) for r in host.routes
            if is_unknown(r, self.redacted) and _hidden_dst(host, r)) \
            if self.redacted else frozenset()

    @classmethod
    def of(cls, host: Host, completed: Host) -> "RouteEvidence | None":
        """None when ``host`` was built in code (nothing recorded) or lacks nothing a lookup
        reads and hides no address; else what it lacks."""
        ev = Evidence(host)
        if not ev.recorded or (ev.complete() and not getattr(host, "redacted", ()) and not any(
                is_unknown(r) for r in host.rules)):
            return None
        return cls(host, completed)

    def qualify(self, result: "RouteResult") -> "RouteResult":
        """:func:`qualify`, after a cheap test that the answer read nothing missing."""
        fam = result.flow.family
        fast = self._fast.get(fam)
        if fast is None:
            fast = self._fast[fam] = self.rules_known[fam] and all(
                self.table_known(fam, r.table) and (fam, r.table) not in self.unknown_tables
                for r in self.host.rules_of(fam)
                if r.action == "lookup" and r.table is not None) and not any(
                is_unknown(r, self.redacted) for r in self.host.rules_of(fam))
        if fast and (self.ev.links() or not any((result.flow.iif, result.flow.oif, result.dev))) \
                and not is_unknown(result.route, self.redacted):
            return result
        return qualify(self, result)

    def clients(self) -> list[Any]:
        if self._clients is None:
            from wgexplain.signatures import recognise

            self._clients = recognise(self.host)
        return self._clients

    def table_known(self, family: int, table: int) -> bool:
        if table == RT_TABLE_LOCAL and self.ev.addresses(family):
            return True  # derived from the pasted addresses, as the kernel builds it
        return self.ev.table(family, table)

    def hypothesis(self, key: tuple[Any, ...], rules: Sequence[Rule] = (),
                   routes: Sequence[Route] = ()) -> Host:
        """The completed Host plus ``rules``/``routes``, as a Host built in code (nothing more
        is assumed on it), kept so its FIB is built once."""
        h = self.hypotheses.get(key)
        if h is None:
            h = dataclasses.replace(self.host, rules=self.host.rules + tuple(rules),
                                    routes=self.host.routes + tuple(routes),
                                    dumped=frozenset(), warnings=())
            self.hypotheses[key] = h
        return h


def qualify(re_: RouteEvidence, result: "RouteResult") -> "RouteResult":
    """``result`` with the assumptions it rests on, marked inexact, and its alternatives.

    A lookup that failed (an errno) after consulting a table that was not
    pasted is undecided: type ``unknown``, no errno, and the alternatives say
    what each possibility gives.
    """
    from wgexplain.kernel.route import lookup

    flow = result.flow
    fam = flow.family
    host = re_.host
    ev = re_.ev
    steps = tuple(result.steps)
    assumptions: list[Assumption] = []
    if not re_.rules_known[fam]:
        assumptions.append(rules_assumption(fam))
    decisive = result.decisive
    unknown_before: list[int] = []
    for i, s in enumerate(steps):
        if s.table is None or not s.action.startswith("lookup"):
            continue
        if not re_.table_known(fam, s.table):
            assumptions.append(table_assumption(host, ev, fam, s.table))
            if decisive is None or i < decisive or s.result != "matched":
                unknown_before.append(s.table)
        if (fam, s.table) in re_.unknown_tables:
            assumptions.append(unknown_assumption(
                f"table {host.table_name(s.table)} holds a route whose destination"))
    if not ev.links():
        for dev in (flow.iif, flow.oif, result.dev):
            if dev and dev != "lo" and host.link(dev) is None:
                assumptions.append(link_assumption(dev))
    notes = list(result.notes)
    red = re_.redacted
    for fact in (result.route, *(s.route for s in steps)):
        if is_unknown(fact, red):
            assumptions.append(unknown_assumption(_fact_text(fact)))
    by_pref: dict[int, list[Rule]] = {}  # once, not a sort of every rule per step
    for r in host.rules_of(fam):
        by_pref.setdefault(r.pref, []).append(r)
    first_unknown: dict[int, Rule | None] = {}  # per preference, once (5000 rules of one
    for s in steps:                               # preference made this quadratic)
        if s.rule is not None:
            if s.rule not in first_unknown:
                first_unknown[s.rule] = next(
                    (r for r in by_pref.get(s.rule, ()) if is_unknown(r, red)), None)
            rule = first_unknown[s.rule]
            if rule is not None:
                assumptions.append(unknown_assumption(_fact_text(rule)))
    assumptions = _dedupe(assumptions)
    if not assumptions:
        return result
    # table local unknown alone does not leave the lookup undecided: it holds only this
    # host's own addresses, taken as none (the assumption says so)
    undecided = result.error is not None and any(t != RT_TABLE_LOCAL for t in unknown_before) and \
        result.error in ("ENETUNREACH", "EHOSTUNREACH") and result.rule is None
    alts = _alternatives(re_, flow, result, lookup, undecided, unknown_before)
    told = tuple(_reword(s, re_, fam) for s in steps)
    if any(a is not b for a, b in zip(told, steps)):
        result = dataclasses.replace(result, steps=told)
    base = dataclasses.replace(result, notes=tuple(notes), exact=False,
                               assumptions=tuple(a.text for a in assumptions),
                               to_paste=tuple(to_paste(assumptions)),
                               alternatives=tuple(alts))
    if undecided:
        base = dataclasses.replace(base, type="unknown", error=None, dev=None, gateway=None,
                                   rule=None, table=None, route=None, cache=(), prefsrc=None)
    return base


def _reword(step: Any, re_: RouteEvidence, fam: int) -> Any:
    """A step's reason, where it says a table that was not pasted "does not exist"."""
    if step.table is None:
        return step
    name = re_.host.table_name(step.table)
    if step.table == RT_TABLE_DEFAULT and not any(
            k in re_.ev.dumped for k in (f"{_fam(fam)}-route:all", f"{_fam(fam)}-route:253",
                                         f"{_fam(fam)}-route:default")):
        why = step.why.replace("table default does not exist (no route in it)",
                               "table default was not pasted (empty, as the kernel leaves it "
                               "unless routes are added to it)")
        return step if why == step.why else dataclasses.replace(step, why=why)
    if re_.table_known(fam, step.table):
        return step
    why = step.why.replace(f"table {name} does not exist (no route in it)",
                           f"table {name} was not pasted (taken as empty here)")
    why = why.replace(f"table {name} has no route for",
                      f"table {name} (not pasted; only what was derived or shown) has no route for")
    return step if why == step.why else dataclasses.replace(step, why=why)


def _same(a: "RouteResult", b: "RouteResult") -> bool:
    return (a.type, a.dev, a.gateway, a.error, a.table) == (b.type, b.dev, b.gateway, b.error,
                                                           b.table)


def uplink_candidate(host: Host, family: int) -> tuple[str, Any] | None:
    """A device that plausibly holds the default route when main was not pasted: one with a
    global address of ``family`` that is not a tunnel nor loopback; and its address."""
    from wgexplain.kernel import wireguard as wgmod

    for a in host.addresses:
        if a.family == family and a.scope in ("global", "0") and a.dev != "lo" \
                and not wgmod.is_wireguard(host, a.dev) and not a.dev.startswith(
                    ("tailscale", "docker", "virbr", "br-", "tun")):
            return a.dev, a.address
    return None


def _alternatives(re_: RouteEvidence, flow: Flow, result: "RouteResult", lookup: Any,
                  undecided: bool, unknown_tables: list[int]) -> list[Alternative]:
    from wgexplain.kernel.fib_trie import format_route
    from wgexplain.signatures import describe_rules, in_ranges, missing_rules

    host = re_.host
    fam = flow.family
    dst = flow.dst
    out: list[Alternative] = []
    tname = host.table_name
    covered: set[int] = set()
    for rec in re_.clients():
        fill = rec.signature.table_routes
        tried: set[int] = set()  # a table is filled once per client, not once per rule using it
        for rule in host.rules_of(fam):
            t = rule.table
            if fill is None or rule.action != "lookup" or t is None or t in covered \
                    or t in tried or not in_ranges(rec.signature.tables, t) \
                    or re_.table_known(fam, t):
                continue
            tried.add(t)
            routes = fill(fam, t, host)
            if not routes:
                continue
            covered.add(t)
            h = re_.hypothesis(("client-table", rec.client, fam, t), routes=routes)
            what = "; ".join(format_route(r, tname(t)) for r in routes)
            out.append(Alternative(f"if table {tname(t)} holds what {rec.client} puts there "
                                   f"({what}; the table was not pasted)", lookup(h, flow), h))
    for rec in re_.clients():
        rules = missing_rules(host, rec, fam)
        if not rules:
            continue
        covered |= {r.table for r in rules if r.table is not None}
        h = re_.hypothesis(("client", rec.client, fam), rules)
        alt = lookup(h, flow)
        pasted = "were not pasted" if not re_.rules_known[fam] else "are not in the paste"
        out.append(Alternative(f"if {rec.client}'s rules are in place ({describe_rules(rules, tname)}"
                               f"; they {pasted})", alt, h))
    if not re_.rules_known[fam]:
        for (f, t) in sorted({(r.family, r.table) for r in host.routes if r.family == fam}):
            if t in (RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT) or t in covered:
                continue
            rule = Rule(fam, 32765, "lookup", t, origin=Origin("<hypothesis>", 0, True,
                                                                "a rule that was not pasted"))
            h = re_.hypothesis(("table", t, fam), [rule])
            out.append(Alternative(f"if a rule sends it to table {tname(t)} (as a rule that "
                                   "was not pasted may)", lookup(h, flow)))
    # main matters only when a rule that may be walked looks it up (rules not pasted: the
    # default rules do); a paste whose rules left only ``lookup local`` never consults main.
    main_consulted = not re_.rules_known[fam] or any(
        r.action == "lookup" and r.table == RT_TABLE_MAIN for r in host.rules_of(fam))
    if main_consulted and (RT_TABLE_MAIN in unknown_tables or (undecided and not out)):
        up = uplink_candidate(host, fam)
        net = ipaddress.ip_network("0.0.0.0/0" if fam == AF_INET else "::/0")
        if up is not None:
            dev, addr = up
            route = Route(fam, RT_TABLE_MAIN, net, "unicast", metric=0 if fam == AF_INET else 1024,
                          nexthops=(Nexthop(dev=dev),),
                          origin=Origin("<hypothesis>", 0, True, "a default route not pasted"))
            h = re_.hypothesis(("main-default", dev, fam), routes=[route])
            out.append(Alternative(f"if table main holds a default route via {dev} (the device "
                                   f"of {addr}; its gateway unknown)", lookup(h, flow)))
        else:
            out.append(Alternative(f"if table main holds a route for {dst}", None))
    if undecided:
        out.append(Alternative(f"if no table holds a route for {dst}", result))
        return out
    return [a for a in out if a.result is None or not _same(a.result, result)]


__all__ = ["Assumption", "Alternative", "COLLECT", "Evidence", "PASTE", "RouteEvidence",
           "host_assumptions", "qualify", "to_paste", "is_unknown"]
