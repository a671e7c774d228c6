"""Kernel parity: the simulator against the real kernel, flow by flow.

:func:`compare` rebuilds a :class:`~wgexplain.model.Host` in a ``wgx-``
namespace (:mod:`wgexplain.lab.build`), asks the kernel ``ip route get`` for
every flow in one batch (:mod:`wgexplain.lab.kernel`), asks the simulator
(``wgexplain.kernel.route.lookup()``, the twin of ``fib_lookup()`` /
``ip_route_output_key_hash_rcu()`` / ``ip_route_input_slow()``) the same, and
compares the fields ``type, dev, gateway, src, table, error``. Where the
kernel refused the lookup it reveals only the errno, so only ``error`` and
``dev`` (null) are compared. Flows the simulator marks inexact
(``exact=False``: it said "not modelled") are counted apart, not as
disagreements. The derivation check (routes the kernel made from the
addresses vs the Host's derived routes) is part of the report.

:func:`flows_for` generates the flows a host deserves: destinations in and
around every route, the marks, uids, ports, protocols and tos its rules
test, input lookups on each device, and random ones, for both families.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from wgexplain.kernel.profile import KernelProfile
from wgexplain.lab.build import LabHost, RouteDiff, build
from wgexplain.lab.kernel_profile import detect as detect_profile
from wgexplain.lab.kernel import FIELDS, route_get, route_get_line
from wgexplain.lab.netns import Lab
from wgexplain.model import AF_INET, AF_INET6, Flow, Host, IPAddress

#: Compared when the kernel refused the lookup (it says nothing else).
ERROR_FIELDS = ("error", "dev")


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One flow where the simulator and the kernel differ."""

    flow: Flow
    query: str  # the ``ip route get`` line
    fields: tuple[str, ...]
    kernel: Mapping[str, Any]
    simulator: Mapping[str, Any]

    def __str__(self) -> str:
        k = {f: self.kernel.get(f) for f in FIELDS}
        s = {f: self.simulator.get(f) for f in FIELDS}
        return (f"ip {self.query}\n    differs in {', '.join(self.fields)}\n"
                f"    kernel:    {_fmt(k)}\n    simulator: {_fmt(s)}")


def _fmt(d: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in d.items() if v is not None) or "(nothing)"


@dataclass(frozen=True, slots=True)
class ParityReport:
    """Counts and every disagreement of one :func:`compare` run."""

    flows: int
    agree: int
    disagreements: tuple[Disagreement, ...]
    #: (query, the simulator's note) for flows it answered inexactly
    unmodelled: tuple[tuple[str, str], ...] = ()
    route_diff: RouteDiff | None = None
    rule_diff: RouteDiff | None = None
    #: what the lab could not reproduce ("not modelled: ...")
    notes: tuple[str, ...] = ()
    kernel_errors: int = 0
    seconds: Mapping[str, float] = field(default_factory=dict)
    #: the kernel profile the simulator imitated (the running kernel's)
    profile: KernelProfile | None = None

    @property
    def ok(self) -> bool:
        """No disagreement and the kernel derived exactly the Host's routes."""
        return (not self.disagreements and (self.route_diff is None or self.route_diff.same)
                and (self.rule_diff is None or self.rule_diff.same))

    def summary(self) -> str:
        s = (f"parity: {self.flows} flows, {self.agree} agree, {len(self.disagreements)} disagree, "
             f"{len(self.unmodelled)} not modelled by the simulator, "
             f"{self.kernel_errors} refused by the kernel")
        if self.profile is not None:
            s += f"; kernel profile {self.profile.name}"
        if self.route_diff is not None:
            s += (f"; routes: {len(self.route_diff.host_only)} only in the model, "
                  f"{len(self.route_diff.kernel_only)} only in the kernel")
        if self.rule_diff is not None and not self.rule_diff.same:
            s += (f"; rules: {len(self.rule_diff.host_only)} only in the model, "
                  f"{len(self.rule_diff.kernel_only)} only in the kernel")
        if self.seconds:
            s += " (" + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()) + ")"
        return s

    def format(self, limit: int = 40) -> str:
        """The summary, then the disagreements (at most ``limit``), route diffs and notes."""
        out = [self.summary()]
        for d in self.disagreements[:limit]:
            out.append(str(d))
        if len(self.disagreements) > limit:
            out.append(f"... and {len(self.disagreements) - limit} more disagreements")
        if self.route_diff is not None:
            out += [f"route only in the model:  {r}" for r in self.route_diff.host_only]
            out += [f"route only in the kernel: {r}" for r in self.route_diff.kernel_only]
        if self.rule_diff is not None:
            out += [f"rule only in the model:  {r}" for r in self.rule_diff.host_only]
            out += [f"rule only in the kernel: {r}" for r in self.rule_diff.kernel_only]
        out += [f"lab note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "flows": self.flows, "agree": self.agree, "ok": self.ok,
            "kernel_errors": self.kernel_errors,
            "disagreements": [{"query": d.query, "fields": list(d.fields),
                               "kernel": {f: d.kernel.get(f) for f in FIELDS},
                               "simulator": {f: d.simulator.get(f) for f in FIELDS}}
                              for d in self.disagreements],
            "unmodelled": [{"query": q, "note": n} for q, n in self.unmodelled],
            "routes_only_in_model": list(self.route_diff.host_only) if self.route_diff else [],
            "routes_only_in_kernel": list(self.route_diff.kernel_only) if self.route_diff else [],
            "rules_only_in_model": list(self.rule_diff.host_only) if self.rule_diff else [],
            "rules_only_in_kernel": list(self.rule_diff.kernel_only) if self.rule_diff else [],
            "notes": list(self.notes),
            "seconds": dict(self.seconds),
            "kernel": self.profile.to_json() if self.profile is not None else None,
        }


# --------------------------------------------------------------------------
# the simulator side
# --------------------------------------------------------------------------

def _default_simulator() -> Callable[..., Any]:
    from wgexplain.kernel.route import lookup

    return lookup


def complete_host(host: Host) -> Host:
    """The Host with its derived routes, as the simulator sees it (``fib_frontend.complete``)."""
    try:
        from wgexplain.kernel.fib_frontend import complete
    except ImportError:  # pragma: no cover - the simulator is not installed
        return host
    return complete(host)


def simulator_answer(result: Any) -> dict[str, Any]:
    """The compared fields of a ``RouteResult``, normalised like the kernel's."""
    data = result.to_json() if hasattr(result, "to_json") else dict(result)
    out: dict[str, Any] = {}
    for f in FIELDS:
        v = data.get(f)
        if f == "table" and v is not None:
            v = int(v)
        elif v is not None and f in ("gateway", "src", "dev", "type", "error"):
            v = str(v)
        out[f] = v
    return out


def differing(kernel: Mapping[str, Any], sim: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields that differ; only ``error`` and ``dev`` when the kernel refused."""
    fields = ERROR_FIELDS if kernel.get("error") else FIELDS
    return tuple(f for f in fields if _norm(kernel.get(f)) != _norm(sim.get(f)))


def _norm(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return str(ipaddress.ip_address(v))
        except ValueError:
            return v
    return v


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------

def compare(host: Host, flows: Sequence[Flow], *, lab: Lab | None = None,
            simulator: Callable[[Host, Flow], Any] | None = None,
            labhost: LabHost | None = None, profile: KernelProfile | None = None) -> ParityReport:
    """Rebuild ``host`` in the kernel, ask both sides about every flow, compare.

    ``lab`` reuses an open :class:`Lab` (else one is made and torn down here);
    ``labhost`` reuses a Host already built in it. The simulator imitates
    ``profile``, by default the running kernel's profile
    (:func:`wgexplain.lab.kernel_profile.detect`): the kernel answering is this one.
    """
    full = complete_host(host)
    t0 = time.perf_counter()
    own = lab is None and labhost is None
    the_lab = labhost.lab if labhost is not None else (lab or Lab("parity"))
    try:
        profile = profile or detect_profile(the_lab)
        if simulator is not None:
            lookup = simulator
        else:
            default = _default_simulator()

            def lookup(h: Host, f: Flow, _p: KernelProfile = profile) -> Any:
                return default(h, f, kernel=_p)
        lh = labhost or build(the_lab, full)
        t1 = time.perf_counter()
        kernel = route_get(lh.ns, flows, lab=the_lab)
        t2 = time.perf_counter()
    finally:
        if own:
            the_lab.close()
    sims: list[dict[str, Any]] = []
    unmodelled: list[tuple[str, str]] = []
    inexact: set[int] = set()
    for i, flow in enumerate(flows):
        try:
            res = lookup(full, flow)
        except Exception as exc:  # a simulator crash is a disagreement, not a test crash
            sims.append({f: None for f in FIELDS} | {"error": f"crash: {type(exc).__name__}: {exc}"})
            continue
        sims.append(simulator_answer(res))
        if getattr(res, "exact", True) is False:
            inexact.add(i)
            notes = getattr(res, "notes", ()) or ()
            unmodelled.append((route_get_line(flow), "; ".join(str(n) for n in notes)))
    t3 = time.perf_counter()
    dis: list[Disagreement] = []
    agree = 0
    for i, (flow, k, s) in enumerate(zip(flows, kernel, sims)):
        diff = differing(k, s)
        if not diff:
            agree += 1
        elif i not in inexact:
            dis.append(Disagreement(flow, route_get_line(flow), diff, k, s))
    return ParityReport(
        flows=len(flows), agree=agree, disagreements=tuple(dis), unmodelled=tuple(unmodelled),
        route_diff=lh.route_diff, rule_diff=lh.rule_diff, notes=tuple(lh.notes),
        kernel_errors=sum(1 for k in kernel if k.get("error")),
        seconds={"lab build": t1 - t0, "kernel": t2 - t1, "simulator": t3 - t2},
        profile=profile)


# --------------------------------------------------------------------------
# flows worth asking about
# --------------------------------------------------------------------------

def _addr_in(net: Any, rng: random.Random) -> IPAddress:
    if net.num_addresses <= 2:
        return net.network_address
    off = rng.randrange(net.num_addresses)
    return net.network_address + off


def _random_addr(family: int, rng: random.Random) -> IPAddress:
    if family == AF_INET:
        return ipaddress.IPv4Address(rng.getrandbits(32))
    # mostly global unicast, like real destinations
    return ipaddress.IPv6Address((0x2 << 125) | rng.getrandbits(125))


def destinations(host: Host, family: int, rng: random.Random) -> list[IPAddress]:
    """Addresses in and at the edges of every route, local addresses, specials, random."""
    out: list[IPAddress] = []
    full = host.routes_of(family)
    for r in full:
        net = r.dst
        out.append(net.network_address)
        out.append(_addr_in(net, rng))
        out.append(net.broadcast_address)
        if net.prefixlen > 0:
            after = int(net.broadcast_address) + 1
            before = int(net.network_address) - 1
            top = 2 ** (32 if family == AF_INET else 128)
            if after < top:
                out.append(ipaddress.ip_address(after) if family == AF_INET
                           else ipaddress.IPv6Address(after))
            if before >= 0:
                out.append(ipaddress.ip_address(before) if family == AF_INET
                           else ipaddress.IPv6Address(before))
        if r.gateway is not None and r.gateway.version == (4 if family == AF_INET else 6):
            out.append(r.gateway)
    for a in host.addresses:
        if a.family == family:
            out.append(a.ip)
            out.append(_addr_in(a.address.network, rng))
    if family == AF_INET:
        out += [ipaddress.IPv4Address(x) for x in
                ("127.0.0.1", "127.1.2.3", "255.255.255.255", "224.0.0.1", "1.1.1.1", "8.8.8.8")]
    else:
        out += [ipaddress.IPv6Address(x) for x in
                ("::1", "fe80::1", "ff02::1", "2606:4700:4700::1111", "2001:db8::1")]
    out += [_random_addr(family, rng) for _ in range(max(8, len(out) // 2))]
    return out


def _rule_values(host: Host, family: int) -> dict[str, list[Any]]:
    v: dict[str, list[Any]] = {"mark": [0], "uid": [None], "ipproto": [None], "sport": [None],
                               "dport": [None], "tos": [0], "src": [None], "iif": [], "oif": []}
    for r in host.rules_of(family):
        if r.fwmark is not None:
            v["mark"] += [r.fwmark, r.fwmark ^ 1, r.fwmark | 0x10000]
        if r.uidrange is not None:
            v["uid"] += [r.uidrange[0], r.uidrange[1], r.uidrange[1] + 1]
        if r.ipproto is not None:
            v["ipproto"].append(r.ipproto)
        for key, rng_ in (("sport", r.sport), ("dport", r.dport)):
            if rng_ is not None:
                v[key] += [rng_[0], rng_[1], min(rng_[1] + 1, 65535)]
        if r.tos:
            v["tos"].append(r.tos)
        if r.src is not None:
            v["src"].append(r.src.network_address)
        if r.iif:
            v["iif"].append(r.iif)
        if r.oif:
            v["oif"].append(r.oif)
    for route in host.routes_of(family):
        if route.tos:
            v["tos"].append(route.tos)
    return v


def _route_sort_key(r: Any) -> tuple[Any, ...]:
    return (r.family, r.table, str(r.dst), r.type, r.tos, r.metric,
            tuple((str(nh.gateway), str(nh.dev)) for nh in r.nexthops))


def flows_for(host: Host, n: int = 400, *, seed: int = 0,
              families: Iterable[int] = (AF_INET, AF_INET6)) -> list[Flow]:
    """``n`` flows per family exercising every route, rule selector and device of ``host``."""
    rng = random.Random(seed)
    # a canonical order, so that the same seed gives the same flows whatever order
    # the source listed things in
    host = dataclasses.replace(
        host, addresses=tuple(sorted(host.addresses, key=lambda a: (a.dev, str(a.address)))),
        routes=tuple(sorted(host.routes, key=_route_sort_key)),
        rules=tuple(sorted(host.rules, key=lambda r: (r.family, r.pref))))
    devs = sorted({l.name for l in host.links} | {a.dev for a in host.addresses}
                  | {nh.dev for r in host.routes for nh in r.nexthops if nh.dev})
    present = set(devs)
    flows: list[Flow] = []
    for family in families:
        dsts = destinations(host, family, rng)
        vals = _rule_values(host, family)
        # a device named only by a rule does not exist: ip would refuse the query
        vals["iif"] = [d for d in vals["iif"] if d in present]
        vals["oif"] = [d for d in vals["oif"] if d in present]
        locals_ = [a.ip for a in host.addresses if a.family == family]
        neighbours = [_addr_in(a.address.network, rng) for a in host.addresses
                      if a.family == family and a.address.network.prefixlen < (31 if family == AF_INET else 127)]
        for i in range(n):
            dst = dsts[i] if i < len(dsts) else rng.choice(dsts)
            kind = rng.random()
            kw: dict[str, Any] = {}
            if rng.random() < 0.5:
                kw["mark"] = rng.choice(vals["mark"])
            if rng.random() < 0.3:
                kw["uid"] = rng.choice(vals["uid"] + [0, 1000])
            if rng.random() < 0.3:
                proto = rng.choice(vals["ipproto"] + [6, 17])
                kw["ipproto"] = proto
                if proto in (6, 17):
                    kw["sport"] = rng.choice([p for p in vals["sport"] if p] + [rng.randrange(1, 65536)])
                    kw["dport"] = rng.choice([p for p in vals["dport"] if p] + [53, 443])
            if family == AF_INET and rng.random() < 0.2:
                kw["tos"] = rng.choice(vals["tos"] + [0x10, 0x08])
            if kind < 0.2 and devs:
                # an input lookup: a packet arriving on a device from a neighbour or afar
                kw["iif"] = rng.choice(vals["iif"] + devs if vals["iif"] else devs)
                kw["src"] = rng.choice(neighbours + [_random_addr(family, rng)] + vals["src"][1:]
                                       if neighbours else [_random_addr(family, rng)])
            elif kind < 0.35 and locals_:
                kw["src"] = rng.choice(locals_ + [a for a in vals["src"] if a is not None])
            elif kind < 0.45 and devs:
                kw["oif"] = rng.choice(vals["oif"] + devs if vals["oif"] else devs)
            flows.append(Flow(dst=dst, **kw))
        flows += _ipproto_flows(family, dsts, devs, random.Random(seed * 7919 + family))
    return flows


#: protocols ``ip route get`` keys on or refuses (``rtm_getroute_parse_ip_proto()``:
#: TCP, UDP and ICMP for IPv4, TCP, UDP and ICMPv6 for IPv6; 0 and the rest EOPNOTSUPP)
IPPROTO_PROBES = (0, 1, 6, 17, 47, 50, 58, 132)


def _ipproto_flows(family: int, dsts: Sequence[IPAddress], devs: Sequence[str],
                   rng: random.Random) -> list[Flow]:
    """Each of :data:`IPPROTO_PROBES`, output and input, from their own random stream
    (the other flows stay those of earlier versions)."""
    out: list[Flow] = []
    for proto in IPPROTO_PROBES:
        for _ in range(2):
            kw: dict[str, Any] = {"ipproto": proto}
            if proto in (6, 17) and rng.random() < 0.5:
                kw["sport"], kw["dport"] = rng.randrange(1, 65536), rng.choice([53, 443])
            if devs and rng.random() < 0.4:
                kw["iif"] = rng.choice(list(devs))
                kw["src"] = _random_addr(family, rng)
            out.append(Flow(dst=rng.choice(list(dsts)), **kw))
    return out
