"""``wgexplain verify``: the simulator against the real kernel, for one user's dump.

Two kinds of evidence, both gathered in throw-away ``wgx-`` namespaces:

1. **Route decisions.** The dump is rebuilt with veth stand-ins
   (:func:`wgexplain.lab.build.build`) and the kernel is asked
   ``ip route get`` (``inet_rtm_getroute()`` / ``inet6_rtm_getroute()``)
   for a generated set of flows: destinations in and around every route of
   every table, the marks the rules test and the WireGuard fwmarks, uids,
   protocols and ports the rules use, input lookups on every device, both
   families (:func:`route_flows`). Each answer is compared with the
   simulator's ``fib_lookup()`` twin (:mod:`wgexplain.lab.parity`).
2. **Real probes** (when the dump has a WireGuard device with an endpoint):
   the dump is rebuilt with a real wireguard-go tunnel to a relay namespace
   (:mod:`wgexplain.lab.tunnel`), one bounded packet per case is sent (one
   UDP datagram or one TCP connect, ≤ 2 s) and where it really went — the
   sender's errno and the address the answering server saw — is compared with
   ``wgexplain trace`` (:func:`wgexplain.kernel.path.trace`).

:func:`verify` returns a :class:`VerifyReport`; it agrees when every route
decision and every probe agrees (flows the simulator itself marks "not
modelled" are counted apart, never as agreement). Needs root.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from wgexplain.lab.kernel import FIELDS, route_get_line
from wgexplain.lab.kernel_profile import detect as detect_profile
from wgexplain.lab.netns import Lab, LabError, lab_available
from wgexplain.lab.parity import ParityReport, compare, complete_host, flows_for
from wgexplain.model import AF_INET, AF_INET6, Flow, Host

__all__ = ["Category", "ProbeOutcome", "VerifyReport", "categorize", "route_flows", "verify",
           "unobservable", "ROOT_MESSAGE"]

#: What ``wgexplain verify`` prints without root (exit status 2).
ROOT_MESSAGE = "verify needs root to create network namespaces; run with sudo"

Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


# --------------------------------------------------------------------------
# flows
# --------------------------------------------------------------------------

def categorize(flow: Flow) -> str:
    """The report's category of one flow: family, then input or output lookup, then marked."""
    fam = "IPv4" if flow.dst.version == 4 else "IPv6"
    kind = "input (iif)" if flow.iif else "output"
    return f"{fam} {kind}" + (", marked" if flow.mark else "")


def _wg_flows(host: Host) -> list[Flow]:
    """The tunnel's own packets: to each endpoint with and without the fwmark, and
    the fwmark towards ordinary destinations (``send4()`` routes with ``flowi4_mark``)."""
    from wgexplain.kernel import wireguard as wgmod

    out: list[Flow] = []
    names = {w.name for w in host.wireguard} | {l.name for l in host.links
                                                 if wgmod.is_wireguard(host, l.name)}
    for name in sorted(names):
        dev = wgmod.wg_device(host, name)
        if dev is None:
            continue
        for peer in dev.peers:
            if peer.endpoint is None:
                continue
            addr, port = peer.endpoint
            for mark in {0, dev.fwmark}:
                out.append(Flow(dst=addr, mark=mark, ipproto=17, sport=dev.listen_port,
                                dport=port))
                out.append(Flow(dst=addr, mark=mark))
        if dev.fwmark:
            for dst in ("1.1.1.1", "9.9.9.9", "2606:4700:4700::1111"):
                out.append(Flow(dst=ipaddress.ip_address(dst), mark=dev.fwmark))
                out.append(Flow(dst=ipaddress.ip_address(dst), mark=dev.fwmark, ipproto=17,
                                dport=53))
    return out


def route_flows(host: Host, n: int = 400, *, seed: int = 0,
                mroute6: bool = True) -> list[Flow]:
    """``n`` generated flows per family (:func:`wgexplain.lab.parity.flows_for`) plus
    the WireGuard device's own packets, for the families the dump holds routes of.

    A family the dump says nothing about (no rules, no routes, no addresses)
    is skipped: there is nothing of the user's to verify there.
    """
    families = [fam for fam in (AF_INET, AF_INET6)
                if host.rules_of(fam) or host.routes_of(fam)
                or any(a.family == fam for a in host.addresses)]
    flows = flows_for(host, n, seed=seed, families=families)
    flows += [f for f in _wg_flows(host)
              if (AF_INET if f.dst.version == 4 else AF_INET6) in families]
    return [f for f in flows if not (mroute6 and unobservable(f))]


def unobservable(flow: Flow) -> bool:
    """An IPv6 input lookup of a multicast destination: the kernel decides it, but on a
    kernel with CONFIG_IPV6_MROUTE ``ip route get`` cannot report it —
    ``rt6_fill_node()`` asks ``ip6mr_get_route()``, which fails without a multicast
    routing entry, and the reply is refused with EMSGSIZE (net/ipv6/route.c). On such
    a kernel these flows are not asked (and :func:`verify` says so)."""
    return flow.iif is not None and flow.dst.version == 6 and flow.dst.is_multicast


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Category:
    """Route decisions of one kind (e.g. ``IPv4 output``) and how many agree."""

    name: str
    total: int
    agree: int
    disagree: int
    unmodelled: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "total": self.total, "agree": self.agree,
                "disagree": self.disagree, "unmodelled": self.unmodelled}


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """One real packet: what the kernel did with it and what the simulator says.

    ``kernel`` and ``simulator`` each hold ``path`` (``tunnel``, ``direct``,
    ``refused`` or ``lost``), ``errno`` (what the sender saw), ``seen_src``
    (the source address the answering server saw). ``command`` is the
    ``wgexplain trace`` line that shows the simulator's account.
    """

    name: str
    title: str
    command: str
    kernel: Mapping[str, Any]
    simulator: Mapping[str, Any]
    differs: tuple[str, ...]
    exact: bool = True

    @property
    def agrees(self) -> bool:
        return not self.differs

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "command": self.command,
                "agrees": self.agrees, "differs": list(self.differs), "exact": self.exact,
                "kernel": dict(self.kernel), "simulator": dict(self.simulator)}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Everything :func:`verify` found: route decisions, probes, what the lab could not do."""

    source: str
    routes: ParityReport
    categories: tuple[Category, ...]
    probes: tuple[ProbeOutcome, ...] = ()
    #: why no probes were sent (None when they were)
    probes_skipped: str | None = None
    notes: tuple[str, ...] = ()
    seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """100 % agreement: no route disagreement, derived routes equal, every probe agrees."""
        return self.routes.ok and all(p.agrees for p in self.probes)

    def headline(self) -> list[str]:
        """``route decisions: 412/412 agree (100%)`` and the probes' line."""
        r = self.routes
        agree, compared = exact_counts(r)
        pct = 100.0 * agree / compared if compared else 100.0
        lines = [f"route decisions: {agree}/{compared} agree ({_pct(pct)})"
                 + (f"; {len(r.unmodelled)} not modelled by the simulator (not counted)"
                    if r.unmodelled else "")]
        if r.route_diff is not None:
            derived_ok = r.route_diff.same
            lines.append("derived routes (table local, prefix routes): "
                         + ("the kernel made exactly the simulator's" if derived_ok else
                            f"{len(r.route_diff.host_only)} only in the simulator, "
                            f"{len(r.route_diff.kernel_only)} only in the kernel"))
        if self.probes:
            good = sum(1 for p in self.probes if p.agrees)
            lines.append(f"real probes: {good}/{len(self.probes)} agree "
                         f"({_pct(100.0 * good / len(self.probes))})")
        else:
            lines.append(f"real probes: none sent ({self.probes_skipped or 'not requested'})")
        return lines

    def to_json(self) -> dict[str, Any]:
        r = self.routes
        return {
            "source": self.source,
            "ok": self.ok,
            "headline": self.headline(),
            "route_decisions": {
                "flows": r.flows, "compared": exact_counts(r)[1], "agree": exact_counts(r)[0],
                "disagree": len(r.disagreements),
                "unmodelled": len(r.unmodelled),
                "refused_by_kernel": r.kernel_errors,
                "categories": [c.to_json() for c in self.categories],
                "disagreements": r.to_json()["disagreements"],
                "unmodelled_flows": r.to_json()["unmodelled"],
                "routes_only_in_simulator": list(r.route_diff.host_only) if r.route_diff else [],
                "routes_only_in_kernel": list(r.route_diff.kernel_only) if r.route_diff else [],
            },
            "probes": [p.to_json() for p in self.probes],
            "probes_skipped": self.probes_skipped,
            "notes": list(self.notes) + list(r.notes),
            "seconds": dict(self.seconds),
        }


def _pct(p: float) -> str:
    return f"{p:.0f}%" if p in (0.0, 100.0) else f"{p:.1f}%"


def exact_counts(r: ParityReport) -> tuple[int, int]:
    """(agree, compared) over the flows the simulator answered exactly: a flow it marked
    "not modelled" is counted neither as agreement nor as disagreement."""
    compared = r.flows - len(r.unmodelled)
    return compared - len(r.disagreements), compared


def categories(flows: Sequence[Flow], report: ParityReport) -> tuple[Category, ...]:
    """Per-category counts of one parity run (in a stable order)."""
    bad = {d.query for d in report.disagreements}
    inexact = {q for q, _ in report.unmodelled}
    counts: dict[str, list[int]] = {}
    for f in flows:
        c = counts.setdefault(categorize(f), [0, 0, 0, 0])
        q = route_get_line(f)
        c[0] += 1
        if q in bad:
            c[2] += 1
        elif q in inexact:
            c[3] += 1
        else:
            c[1] += 1
    order = sorted(counts, key=lambda k: (not k.startswith("IPv4"), "input" in k, "marked" in k))
    return tuple(Category(k, *counts[k]) for k in order)


# --------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------

def verify(host: Host, *, flows: int = 400, probes: bool = True, seed: int = 0,
           progress: Progress = _quiet, source: str | None = None) -> VerifyReport:
    """Rebuild ``host`` in ``wgx-`` namespaces and compare the kernel with the simulator.

    ``flows``: generated route lookups per family. ``probes``: also rebuild
    the tunnel with wireguard-go and send real packets (when the dump has a
    WireGuard device with an endpoint). Raises :class:`LabError` without root.
    Teardown always runs (every namespace and process this made).
    """
    ok, why = lab_available()
    if not ok:
        raise LabError(ROOT_MESSAGE if "root" in why else why)
    t0 = time.perf_counter()
    full = complete_host(host)
    with Lab("vfy") as lab:
        profile = detect_profile(lab)
        flow_list = route_flows(full, flows, seed=seed, mroute6=profile.ipv6_mroute)
        progress(f"route decisions: rebuilding the dump and asking the kernel about "
                 f"{len(flow_list)} flows")
        report = compare(full, flow_list, lab=lab, profile=profile)
    t1 = time.perf_counter()
    cats = categories(flow_list, report)
    outcomes: tuple[ProbeOutcome, ...] = ()
    skipped: str | None = None
    notes: list[str] = [f"the simulator imitated this kernel: {profile.describe()}"]
    if profile.ipv6_mroute:
        notes.append("not asked: IPv6 input lookups of multicast destinations (this kernel "
                      "cannot report them through `ip route get`: rt6_fill_node() → "
                      "ip6mr_get_route() fails, EMSGSIZE)")
    if probes:
        from wgexplain.lab import tunnel

        reason = tunnel.unavailable(host)
        if reason is not None:
            skipped = reason
        else:
            progress("real probes: building a wireguard-go tunnel and a relay")
            res = tunnel.probe(host, progress=progress)
            outcomes = tuple(res.outcomes)
            notes += res.notes
    else:
        skipped = "--no-probes"
    t2 = time.perf_counter()
    return VerifyReport(source=source or host.source, routes=report, categories=cats,
                        probes=outcomes, probes_skipped=skipped, notes=tuple(notes),
                        seconds={"route decisions": round(t1 - t0, 3),
                                 "probes": round(t2 - t1, 3)})


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------

def _fmt_answer(d: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={d.get(k)}" for k in FIELDS if d.get(k) is not None) or "(nothing)"


def render(report: VerifyReport, console: Any, limit: int = 200) -> None:
    """The report on a rich console: headline, categories, every disagreement."""
    from rich.table import Table

    ok = report.ok
    for i, line in enumerate(report.headline()):
        style = "bold green" if ok else "bold red"
        console.print(line, style=style if i == 0 else None, highlight=False)
    t = Table(title="route decisions by category", title_justify="left")
    for col in ("category", "flows", "agree", "disagree", "not modelled"):
        t.add_column(col, justify="left" if col == "category" else "right")
    for c in report.categories:
        t.add_row(c.name, str(c.total), str(c.agree), str(c.disagree), str(c.unmodelled))
    console.print(t)
    dis = report.routes.disagreements
    if dis:
        d = Table(title=f"route decisions that disagree ({len(dis)})", title_justify="left",
                  show_lines=True)
        d.add_column("ip route get")
        d.add_column("differs")
        d.add_column("kernel")
        d.add_column("simulator")
        for x in dis[:limit]:
            d.add_row(x.query.removeprefix("route get "), ", ".join(x.fields),
                      _fmt_answer(x.kernel), _fmt_answer(x.simulator))
        console.print(d)
        if len(dis) > limit:
            console.print(f"... and {len(dis) - limit} more")
    rd = report.routes.route_diff
    if rd is not None and not rd.same:
        for r in rd.host_only:
            console.print(f"route only in the simulator: {r}", highlight=False)
        for r in rd.kernel_only:
            console.print(f"route only in the kernel:    {r}", highlight=False)
    if report.probes:
        p = Table(title="real probes", title_justify="left", show_lines=True)
        for col in ("probe", "kernel", "simulator", "agree"):
            p.add_column(col)
        for po in report.probes:
            p.add_row(f"{po.title}\n[dim]{po.command}[/dim]", _fmt_probe(po.kernel),
                      _fmt_probe(po.simulator),
                      "yes" if po.agrees else f"[red]no ({', '.join(po.differs)})[/red]")
        console.print(p)
    for n in list(report.notes) + list(report.routes.notes):
        console.print(f"note: {n}", highlight=False, markup=False)
    if report.routes.unmodelled:
        console.print(f"not modelled by the simulator ({len(report.routes.unmodelled)} flows, "
                      "not counted):", highlight=False)
        for q, note in report.routes.unmodelled[:20]:
            console.print(f"  {q}: {note}", highlight=False, markup=False)


def _fmt_probe(d: Mapping[str, Any]) -> str:
    parts = [str(d.get("path"))]
    if d.get("errno"):
        parts.append(f"errno {d['errno']}")
    if d.get("seen_src"):
        parts.append(f"server saw {d['seen_src']}")
    return ", ".join(parts)
