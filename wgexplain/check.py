"""``wgexplain check``: findings a user can act on, each proven by a traced packet.

Every finding is the outcome of :func:`wgexplain.kernel.path.trace` on one
packet (the *proving packet*), whose ``wgexplain trace`` command line and
trace are part of the finding. Nothing is concluded without a trace: what
the dump cannot tell (no IPv6 routes, no sysctls, no WireGuard device) is
listed under "not checked", with the reason.

Checks (ids as in ``--json``):

``ipv6-leak``
    IPv6 not covered by the tunnel: TCP to a public IPv6 address leaves by a
    device that is not a tunnel, in plaintext.
``dns-leak``
    DNS (UDP and TCP port 53) to a resolver outside the tunnel — a public one
    (9.9.9.9) and the LAN router (the usual DHCP resolver) — leaves outside
    the tunnel.
``lan-unreachable`` / ``lan-exposed``
    A connection to the LAN router is refused or sent into the tunnel; a new
    inbound connection from a LAN host to this machine is accepted.
``no-killswitch``
    With the tunnel device gone — removed from the Host as the kernel does on
    ``unregister_netdevice()``: its addresses, every route through it
    (``fib_sync_down_dev()``, ``rt6_sync_down_dev()``), rules naming it
    detached — traffic to the internet leaves by another device.
``rp-filter``
    Strict ``rp_filter`` without ``src_valid_mark``: the tunnel's encrypted
    reply from the endpoint is dropped by ``fib_validate_source()`` (an
    input trace of that reply).
``endpoint-loop``
    The encrypted packet to the endpoint routes back into the WireGuard
    device (``send4()`` refuses with ``-ELOOP``): nothing can get out.

Exit status of the command: 0 nothing found, 1 findings, 2 bad input.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import shlex
from dataclasses import dataclass, field
from typing import Any, Mapping

from wgexplain.kernel.record import Egress, Trace
from wgexplain.model import AF_INET, AF_INET6, Host, IPAddress, Route

__all__ = ["CheckReport", "Finding", "NotChecked", "check", "summarize", "tunnel_devices",
           "without_device", "SEVERITIES"]

SEVERITIES = ("high", "medium", "low")

#: Proving packets' destinations: public hosts and resolvers (never contacted: simulated).
PUBLIC4 = "1.1.1.1"
PUBLIC6 = "2606:4700:4700::1111"
RESOLVER4 = "9.9.9.9"
RESOLVER6 = "2620:fe::fe"


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, with the packet that proves it.

    ``command`` is the ``wgexplain trace`` line that shows the proving packet
    (for ``no-killswitch``: on the dump with the tunnel device deleted, as
    ``condition`` says); ``evidence`` holds ``summary`` (one line) and
    ``trace`` (the trace's JSON), plus other packets that show the same.
    """

    id: str
    severity: str
    title: str
    explanation: str
    command: str
    evidence: Mapping[str, Any]
    condition: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"id": self.id, "severity": self.severity, "title": self.title,
               "explanation": self.explanation, "command": self.command,
               "evidence": dict(self.evidence)}
        if self.condition:
            out["condition"] = self.condition
        return out


@dataclass(frozen=True, slots=True)
class NotChecked:
    """A check the dump does not allow, and why (with what is known, if anything)."""

    id: str
    why: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "why": self.why}
        if self.evidence:
            out["evidence"] = dict(self.evidence)
        return out


@dataclass(frozen=True, slots=True)
class Passed:
    """A check that found nothing, with the packet that shows it."""

    id: str
    summary: str
    command: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "summary": self.summary, "command": self.command}


@dataclass(frozen=True, slots=True)
class CheckReport:
    source: str
    findings: tuple[Finding, ...]
    passed: tuple[Passed, ...]
    not_checked: tuple[NotChecked, ...]
    #: the kernel profile imitated (``KernelProfile.to_json()``)
    kernel: Mapping[str, Any] | None = None
    #: what the checks assume because it was not pasted (wgexplain.evidence)
    assumptions: tuple[str, ...] = ()
    to_paste: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.findings)

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "findings": [f.to_json() for f in self.findings],
                "passed": [p.to_json() for p in self.passed],
                "not_checked": [n.to_json() for n in self.not_checked],
                "kernel": dict(self.kernel) if self.kernel is not None else None,
                "assumptions": list(self.assumptions), "to_paste": list(self.to_paste)}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def tunnel_devices(host: Host) -> list[str]:
    """WireGuard devices of the dump (``wg show``, ``ip -d link``, or recognised by
    :func:`wgexplain.kernel.wireguard.is_wireguard`), also those only named by addresses,
    routes or rules (when ``ip link`` was not pasted, as ``trace`` recognises them)."""
    from wgexplain.kernel import wireguard as wgmod
    from wgexplain.signatures import device_names

    names = [w.name for w in host.wireguard]
    names += [d for d in device_names(host) if d not in names and wgmod.is_wireguard(host, d)]
    return names


def without_device(host: Host, dev: str) -> Host:
    """``host`` after ``ip link del DEV`` (``unregister_netdevice()``).

    The kernel drops the device's addresses with their local/broadcast routes
    (``fib_del_ifaddr()``, ``addrconf_ifdown()``), every route with a nexthop
    through it (``fib_sync_down_dev()`` with NETDEV_UNREGISTER kills the whole
    ``fib_info``; ``rt6_sync_down_dev()``), and detaches the rules that name it
    as ``iif``/``oif`` (``fib_rules_event()``: they stay, matching nothing).
    Sysctls and the nftables ruleset stay as they are (an ``oif`` match on the
    device then matches nothing).
    """
    routes = tuple(r for r in host.routes if not any(nh.dev == dev for nh in r.nexthops))
    rules = tuple(dataclasses.replace(r, iif_detached=r.iif_detached or r.iif == dev,
                                      oif_detached=r.oif_detached or r.oif == dev)
                  for r in host.rules)
    return dataclasses.replace(
        host, links=tuple(l for l in host.links if l.name != dev),
        addresses=tuple(a for a in host.addresses if a.dev != dev), routes=routes, rules=rules,
        wireguard=tuple(w for w in host.wireguard if w.name != dev),
        warnings=host.warnings + (f"{dev} deleted (simulated): its addresses and routes are gone",))


def _with_route(host: Host, route: Route) -> Host:
    return dataclasses.replace(host, routes=host.routes + (route,))


_PAST = {"accept": "accepted", "drop": "dropped", "reject": "rejected"}


def summarize(t: Trace) -> str:
    """One line: what happened to the packet, and by which device it left."""
    if t.verdict != "accept" or t.egress is None:
        last = next((s for s in reversed(t.steps) if s.decisive), None)
        why = last.why if last is not None else ""
        where = None
        if last is not None and last.table:
            where = f"{last.table} {last.chain}" + (f" rule {last.rule}" if last.rule else "")
        return (f"{_PAST.get(t.verdict, t.verdict)}" + (f" ({t.errno})" if t.errno else "")
                + (f" by {where}" if where else "") + (f": {why}" if why else ""))
    e = t.egress
    if e.local:
        return f"accepted and delivered locally to {e.dst}"
    s = f"accepted: leaves {e.dev}" + (f" from {e.src}" if e.src is not None else "") + \
        f" to {e.dst}"
    if e.gateway:
        s += f" via {e.gateway}"
    enc = t.encapsulated
    if enc is not None:
        if enc.verdict == "accept" and enc.egress is not None:
            s += (f", encrypted into UDP to {enc.egress.dst}:{enc.egress.dport} that leaves "
                  f"{enc.egress.dev}")
        else:
            s += f", but the encrypted packet is {_PAST.get(enc.verdict, enc.verdict)}" + (
                f" ({enc.errno})" if enc.errno else "")
    return s


def _leaks(t: Trace, tunnels: list[str]) -> Egress | None:
    """Accepted and sent by a device that is not a tunnel (nor loopback): plaintext out.

    The leaking egress, or None when the packet does not leak."""
    e = t.egress
    if (t.verdict == "accept" and e is not None and not e.local and e.dev is not None
            and e.dev not in tunnels and e.dev != "lo"):
        return e
    return None


def _command(source: str, dst: str, **kw: Any) -> str:
    parts = ["wgexplain", "trace", source or "SOURCE", dst]
    for key, flag in (("proto", "--proto"), ("dport", "--dport"), ("sport", "--sport"),
                      ("src", "--from"), ("iif", "--iif"), ("direction", "--direction"),
                      ("state", "--state")):
        if kw.get(key) is not None and not (key == "direction" and kw[key] == "out") \
                and not (key == "state" and kw[key] == "new"):
            parts += [flag, str(kw[key])]
    return " ".join(shlex.quote(p) for p in parts)


class _Checker:
    def __init__(self, host: Host) -> None:
        from wgexplain.kernel.fib_frontend import complete

        self.host = complete(host)
        self.source = "-" if host.source in ("<stdin>", "-") else (host.source or "SOURCE")
        self.tunnels = tunnel_devices(self.host)
        self.findings: list[Finding] = []
        self.passed: list[Passed] = []
        self.not_checked: list[NotChecked] = []

    def trace(self, host: Host | None = None, dst: str = PUBLIC4, **kw: Any) -> Trace:
        from wgexplain.kernel.path import trace

        return trace(host or self.host, dst, **kw)

    def evidence(self, t: Trace, **more: Any) -> dict[str, Any]:
        return {"summary": summarize(t), "trace": t.to_json(), **more}

    def find(self, id_: str, severity: str, title: str, explanation: str, dst: str, t: Trace,
             kw: Mapping[str, Any], condition: str | None = None, **more: Any) -> None:
        self.findings.append(Finding(id_, severity, title, explanation,
                                     _command(self.source, dst, **kw), self.evidence(t, **more),
                                     condition))

    def ok(self, id_: str, dst: str, t: Trace, kw: Mapping[str, Any], prefix: str = "") -> None:
        self.passed.append(Passed(id_, prefix + summarize(t), _command(self.source, dst, **kw)))

    # -- facts of the dump ----------------------------------------------------
    def uplink(self, family: int = AF_INET) -> tuple[str, IPAddress | None] | None:
        """The non-tunnel device of main's default route, and its gateway."""
        for r in sorted(self.host.routes_of(family), key=lambda r: r.metric):
            if r.table == 254 and r.dst.prefixlen == 0 and r.type == "unicast" and r.dev \
                    and r.dev not in self.tunnels:
                return r.dev, r.gateway
        return None

    def lan_device(self) -> tuple[str, IPAddress | None] | None:
        """The uplink, else the first other device with an IPv4 network (no gateway known)."""
        up = self.uplink()
        if up is not None:
            return up
        for a in self.host.addresses:
            if a.family == AF_INET and a.dev not in self.tunnels and a.dev != "lo" \
                    and a.address.network.prefixlen < 31:
                return a.dev, None
        return None

    def taken_tunnel(self) -> tuple[str | None, Trace]:
        """The WireGuard device the route to the internet picks (even when the firewall
        then refuses the packet), and the trace of that packet."""
        from wgexplain.kernel.route import route_get

        kw: dict[str, Any] = {"proto": "tcp", "dport": 443}
        t = self.trace(dst=PUBLIC4, **kw)
        dev = t.egress.dev if t.egress is not None else None
        if dev is None:
            dev = route_get(self.host, PUBLIC4, ipproto="tcp", dport=443).dev
        return (dev if dev in self.tunnels else None), t

    # -- the checks ---------------------------------------------------------
    def ipv6(self) -> None:
        kw: dict[str, Any] = {"proto": "tcp", "dport": 443}
        if "ip6-route" not in self.host.dumped:
            ev: dict[str, Any] = {}
            up = self.uplink()
            if up is not None and self.host.link(up[0]) is not None:
                hyp = _with_route(self.host, Route(
                    AF_INET6, 254, ipaddress.IPv6Network("::/0"), protocol="ra", metric=1024,
                    nexthops=(_nh(ipaddress.IPv6Address("fe80::1"), up[0]),)))
                t = self.trace(hyp, PUBLIC6, **kw)
                ev = {"assumption": f"an IPv6 default route via fe80::1 dev {up[0]} (not in the "
                                    "dump: an assumption, not a proof)",
                      "summary": summarize(t), "trace": t.to_json()}
            hint = ""
            if up is not None and ev:
                hint = ("; with an IPv6 default route on " + up[0] + " the packet would be: "
                        + ev["summary"])
            self.not_checked.append(NotChecked(
                "ipv6-leak", "the dump has no IPv6 routes (`ip -6 route show table all`): where "
                "an IPv6 packet would go is unknown" + hint, ev))
            return
        t = self.trace(dst=PUBLIC6, **kw)
        leak = _leaks(t, self.tunnels)
        if leak is not None:
            self.find("ipv6-leak", "high", "IPv6 is not covered by the tunnel",
                      f"An IPv6 packet to a public address ({PUBLIC6}) leaves by {leak.dev}, "
                      "outside the tunnel, in plaintext: every IPv6 destination reachable this way "
                      "sees your real address. Route ::/0 into the tunnel (AllowedIPs ::/0) or "
                      "block IPv6 outside it.", PUBLIC6, t, kw)
        else:
            self.ok("ipv6-leak", PUBLIC6, t, kw, "IPv6 to a public address: ")

    def dns(self) -> None:
        targets = [RESOLVER4]
        up = self.uplink()
        if up is not None and up[1] is not None and up[1].version == 4:
            targets.append(str(up[1]))
        if "ip6-route" in self.host.dumped:
            targets.append(RESOLVER6)
        leaks: list[tuple[str, dict[str, Any], Trace, Egress]] = []
        for dst in targets:
            for proto in ("udp", "tcp"):
                kw: dict[str, Any] = {"proto": proto, "dport": 53}
                t = self.trace(dst=dst, **kw)
                leak = _leaks(t, self.tunnels)
                if leak is not None:
                    leaks.append((dst, kw, t, leak))
                else:
                    self.ok("dns-leak", dst, t, kw, f"DNS over {proto.upper()} to {dst}: ")
        if leaks:
            dst, kw, t, leak = leaks[0]
            others = [{"command": _command(self.source, d, **k), "summary": summarize(x)}
                      for d, k, x, _ in leaks[1:]]
            where = ", ".join(sorted({f"{d} ({k['proto'].upper()})" for d, k, _, _ in leaks}))
            self.find("dns-leak", "medium", "DNS to resolvers outside the tunnel is possible",
                      f"DNS queries to {where} leave by {leak.dev}, outside the tunnel, in "
                      "plaintext: whoever runs that network or resolver sees the names you look "
                      "up. Nothing stops a program (or a DHCP-provided resolver) from using "
                      "them; reject port 53 except to the tunnel's resolver.",
                      dst, t, kw, also=others)

    def lan(self) -> None:
        up = self.lan_device()
        if up is None:
            self.not_checked.append(NotChecked("lan", "no IPv4 network on a device other than "
                                               "the tunnel: the LAN is unknown"))
            return
        dev, gw = up
        addrs = self.host.addresses_of(dev, AF_INET)
        if not addrs:
            self.not_checked.append(NotChecked("lan", f"{dev} has no IPv4 address in the dump"))
            return
        mine = addrs[0].address
        if gw is None or gw.version != 4 or gw not in mine.network:
            hosts = mine.network.hosts()
            gw = next((h for h in hosts if h != mine.ip), mine.ip)
        kw_out: dict[str, Any] = {"proto": "tcp", "dport": 443}
        t = self.trace(dst=str(gw), **kw_out)
        net = mine.network
        if t.verdict != "accept" or t.egress is None:
            self.find("lan-unreachable", "low", f"The LAN ({net}) is unreachable",
                      f"A connection to {gw} on your LAN is refused before it leaves: printers, "
                      "file shares and the router's own pages cannot be reached. If you need "
                      "them, allow the LAN in the VPN's settings (e.g. 'local network sharing').",
                      str(gw), t, kw_out)
        elif t.egress.dev in self.tunnels:
            self.find("lan-unreachable", "low", f"Traffic to the LAN ({net}) goes into the tunnel",
                      f"A connection to {gw} on your LAN is sent into {t.egress.dev}: LAN hosts "
                      "are unreachable (the packet reaches the VPN server, not your LAN).",
                      str(gw), t, kw_out)
        else:
            self.ok("lan-unreachable", str(gw), t, kw_out, "the LAN router: ")
        peer = next((h for h in net.hosts() if h not in (mine.ip, gw)), gw)
        kw_in: dict[str, Any] = {"proto": "tcp", "dport": 22, "src": str(peer), "iif": dev,
                                 "direction": "in"}
        t = self.trace(dst=str(mine.ip), **kw_in)
        if t.verdict == "accept" and t.egress is not None and t.egress.local:
            self.find("lan-exposed", "low", f"This machine accepts new connections from the LAN "
                      f"({net})",
                      f"A new TCP connection from {peer} on {dev} to port 22 of {mine.ip} is "
                      "accepted: any service listening here is reachable by everyone on this "
                      "network (a café's Wi-Fi, a hotel's LAN). Drop new inbound connections "
                      "that do not come through the tunnel.", str(mine.ip), t, kw_in)
        else:
            self.ok("lan-exposed", str(mine.ip), t, kw_in, "a new connection from the LAN: ")

    def killswitch(self, dev: str | None, t_up: Trace) -> None:
        if not self.tunnels:
            self.not_checked.append(NotChecked("no-killswitch", "no WireGuard device in the dump"))
            return
        if dev is None:
            self.not_checked.append(NotChecked(
                "no-killswitch", "traffic to the internet does not go into a WireGuard device "
                "even with the tunnel up: " + summarize(t_up), {"trace": t_up.to_json()}))
            return
        from wgexplain.kernel.fib_frontend import complete

        gone = complete(without_device(self.host, dev))
        cond = (f"with {dev} deleted (the VPN crashed or was stopped): its addresses and routes "
                "are gone; the rules and the ruleset stay")
        tries: list[tuple[str, dict[str, Any]]] = [(PUBLIC4, {"proto": "tcp", "dport": 443}),
                                                   (PUBLIC4, {"proto": "udp", "dport": 443})]
        if "ip6-route" in self.host.dumped:
            tries.append((PUBLIC6, {"proto": "tcp", "dport": 443}))
        for dst, kw in tries:
            t = self.trace(gone, dst, **kw)
            leak = _leaks(t, self.tunnels)
            if leak is not None:
                self.find("no-killswitch", "high", "No kill switch: traffic leaks when the tunnel "
                          "is down",
                          f"{cond}, a packet to {dst} leaves by {leak.dev} in plaintext "
                          f"from {leak.src}. Block traffic that does not leave by {dev} "
                          "(a firewall kill switch), or keep a blackhole/unreachable route in "
                          "the tunnel's table.", dst, t, kw, condition=cond)
                return
        self.passed.append(Passed("no-killswitch", f"{cond}: " + summarize(t),
                                  _command(self.source, dst, **kw) + f"  # with {dev} deleted"))

    def rp_filter(self, dev: str | None, t_up: Trace) -> None:
        enc = t_up.encapsulated
        if dev is None or enc is None or enc.egress is None or enc.verdict != "accept":
            self.not_checked.append(NotChecked("rp-filter", "no encrypted packet leaves the "
                                               "machine to take a reply from"))
            return
        from wgexplain.kernel import wireguard as wgmod

        wg = wgmod.wg_device(self.host, dev)
        out = enc.egress
        kw: dict[str, Any] = {
            "src": out.dst, "iif": out.dev, "proto": "udp", "sport": out.dport,
            "dport": (wg.listen_port if wg and wg.listen_port else out.sport),
            "direction": "in", "state": "established"}
        assumed = ""
        if kw["dport"] is None:
            kw["dport"] = 51820
            assumed = (f" (the listen port of {dev} is not in the dump: 51820 assumed; the "
                       "route lookup does not depend on it)")
        t = self.trace(dst=str(out.src), **kw)
        rp = [s for s in t.steps if s.stage == "route" and s.verdict == "drop"
              and "rp_filter" in (s.why or "")]
        note = assumed + ("" if any(k.endswith("rp_filter") for k in self.host.sysctls) else
                          " (no rp_filter sysctls in the dump: the kernel's defaults were assumed)")
        if t.verdict == "drop" and rp:
            self.find("rp-filter", "high", "Strict rp_filter drops the tunnel's replies",
                      f"The encrypted reply from the endpoint {out.dst}:{out.dport} arriving on "
                      f"{out.dev} is dropped by reverse-path filtering: without the mark, the "
                      f"route back to {out.dst} goes into {dev}, not {out.dev}. Set "
                      "net.ipv4.conf.all.src_valid_mark=1 (so the reverse lookup uses the "
                      "restored mark) or rp_filter=2 (loose).", str(out.src), t, kw)
        else:
            self.ok("rp-filter", str(out.src), t, kw, "the tunnel's encrypted reply: ")
            if note:
                self.passed[-1] = dataclasses.replace(self.passed[-1],
                                                      summary=self.passed[-1].summary + note)

    def endpoint_loop(self, dev: str | None, t_up: Trace) -> None:
        enc = t_up.encapsulated
        if dev is None or enc is None:
            self.not_checked.append(NotChecked("endpoint-loop", "no packet enters a WireGuard "
                                               "device with a known endpoint"))
            return
        kw: dict[str, Any] = {"proto": "tcp", "dport": 443}
        if enc.errno == "ELOOP":
            self.find("endpoint-loop", "high", "The encrypted packet loops back into the tunnel",
                      f"The route to the WireGuard endpoint leads back into {dev}: the device "
                      "refuses to send into itself (-ELOOP) and nothing gets out. Exempt the "
                      "tunnel's own packets (a fwmark and a 'not fwmark' rule, as wg-quick "
                      "does) or add a route to the endpoint via the real gateway.",
                      PUBLIC4, t_up, kw)
        else:
            self.ok("endpoint-loop", PUBLIC4, t_up, kw, "the tunnel's own packet: ")


def _on_hypothesis(c: "_Checker", host: Host) -> bool:
    """The tunnel checks on the hypothesis of :func:`_tunnel_hypothesis` (each result says
    its condition), and the LAN checks as assumed; False when there is none."""
    hyp = _tunnel_hypothesis(c)
    if hyp is None:
        return False
    h2, cond = hyp
    c2 = _Checker(dataclasses.replace(h2, source=host.source, dumped=host.dumped))
    dev2, t2 = c2.taken_tunnel()
    if dev2 is None:
        return False
    c2.ipv6()
    c2.dns()
    c2.killswitch(dev2, t2)
    c2.rp_filter(dev2, t2)
    c2.endpoint_loop(dev2, t2)
    c.findings += [dataclasses.replace(f, condition=cond + (f"; {f.condition}" if f.condition
                                                            else "")) for f in c2.findings]
    c.passed += [dataclasses.replace(p, summary=f"{cond}: {p.summary}") for p in c2.passed]
    c.not_checked += [dataclasses.replace(n, why=f"{cond}: {n.why}") for n in c2.not_checked]
    c.lan()
    return True


def _tunnel_hypothesis(c: "_Checker") -> tuple[Host, str] | None:
    """When the route to the internet, as assumed, misses the tunnel but a client's rules
    or table that were not pasted would send it there: that Host, and the condition."""
    from wgexplain.kernel import wireguard as wgmod
    from wgexplain.kernel.route import route_get

    res = route_get(c.host, PUBLIC4, ipproto="tcp", dport=443)
    for alt in res.alternatives:
        if alt.host is not None and alt.result is not None and alt.result.dev \
                and wgmod.is_wireguard(alt.host, alt.result.dev):
            return alt.host, alt.condition
    return None


def _nh(gw: IPAddress, dev: str) -> Any:
    from wgexplain.model import Nexthop

    return Nexthop(gateway=gw, dev=dev)


def check(host: Host) -> CheckReport:
    """Run every check on ``host``; each finding carries its proving packet's trace."""
    c = _Checker(host)
    dev, t_up = c.taken_tunnel()
    if dev is None and _on_hypothesis(c, host):
        pass
    elif dev is None:
        # a leak is traffic that should be in the tunnel and is not: without a tunnel
        # that internet traffic takes, there is nothing to leak from
        why = ("no WireGuard device in the dump" if not c.tunnels else
               "traffic to the internet does not go into a WireGuard device (a split tunnel, "
               "or the tunnel is down): " + summarize(t_up))
        for id_ in ("ipv6-leak", "dns-leak", "no-killswitch", "rp-filter", "endpoint-loop"):
            c.not_checked.append(NotChecked(id_, why))
        c.lan()
    else:
        c.ipv6()
        c.dns()
        c.lan()
        c.killswitch(dev, t_up)
        c.rp_filter(dev, t_up)
        c.endpoint_loop(dev, t_up)
    from wgexplain.evidence import host_assumptions, to_paste
    from wgexplain.kernel.profile import DEFAULT as DEFAULT_PROFILE

    assumed = host_assumptions(host)
    return CheckReport(c.source, tuple(c.findings), tuple(c.passed), tuple(c.not_checked),
                       (host.kernel or DEFAULT_PROFILE).to_json(),
                       tuple(a.text for a in assumed), tuple(to_paste(assumed)))
