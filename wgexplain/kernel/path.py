"""The journey of one packet: routing, netfilter hooks, NAT, the device.

Mirrors the IPv4/IPv6 paths of the kernel:

* sent by a local process (``--direction out``): the socket's route lookup
  (``ip_route_output_key_hash_rcu()``, which also picks the source address),
  ``__ip_local_out()`` → the ``output`` hook, where a ``type route`` chain that
  changed mark, addresses or tos makes ``nf_route_table_hook4()`` call
  ``ip_route_me_harder()`` (net/ipv4/netfilter.c); then ``ip_output()`` → the
  ``postrouting`` hook on the device of the route now attached to the skb,
  then the device (``ip_finish_output2()``, or the WireGuard device's
  ``wg_xmit()``).
  Kernel detail that surprises: after a re-route, later output chains still
  see the OLD ``oif`` (``state->out`` was fixed when ``nf_hook()`` was
  called); only postrouting sees the new device
  (tests/test_trace_seed.py::test_excluded_filter_chain_sees_old_oif).
* arriving (``--direction in`` / ``forward``): ``ip_rcv()`` → ``prerouting``,
  ``ip_route_input_slow()`` (with rp_filter, ``fib_validate_source()``), then
  ``input`` (``ip_local_deliver()``) or ``forward`` + ``postrouting``
  (``ip_forward()``).

Conntrack and NAT are the kernel's own hook functions placed among the
chains (nf_hooks.py). A packet of an *established* connection needs the
state its first packet left behind (ct mark, NAT binding): the first packet
is replayed silently and its connection reused, as the kernel's conntrack
table would have it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from wgexplain import ruleset as rs
from wgexplain.errors import UsageError
from wgexplain.kernel import nat as natmod
from wgexplain.kernel import wireguard as wgmod
from wgexplain.kernel.conntrack import Conn, CtInfo, CtTuple, nf_conntrack_in
from wgexplain.kernel.nf_hooks import HookEntry, hook_entries, other_family_chains
from wgexplain.kernel.nf_tables import ChainResult, NftContext, context_for, nft_do_chain
from wgexplain.kernel.record import Egress, Step, Trace
from wgexplain.kernel.skb import Skb, Sock, proto_name, proto_number
from wgexplain.model import AF_INET, Flow, Host, IPAddress

DIRECTIONS = ("out", "in", "forward")
STATES = ("new", "established")
_MAX_NESTING = 3


# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------


def _addr(value: Any, what: str) -> IPAddress:
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise UsageError(f"{what}: expected an IPv4 or IPv6 address, got {value!r}") from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        raise UsageError(f"{what}: expected a number (decimal or 0x hex), got {value!r}") from None


def parse_endpoint(value: Any) -> tuple[IPAddress, int]:
    """``ADDR:PORT`` or ``[V6ADDR]:PORT`` (as ``wg`` prints endpoints)."""
    if isinstance(value, tuple):
        return _addr(value[0], "--endpoint"), _int(value[1], "--endpoint port")
    text = str(value).strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    if not host or not port:
        raise UsageError(f"--endpoint: expected ADDR:PORT, got {value!r}")
    number = _int(port, "--endpoint port")
    if not 1 <= number <= 65535:
        raise UsageError(f"--endpoint: expected a UDP port 1..65535 after ':', got {port!r}")
    return _addr(host, "--endpoint"), number


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The packet and its context, as given to :func:`trace`."""

    dst: IPAddress
    src: IPAddress | None = None
    iif: str | None = None
    oif: str | None = None
    mark: int = 0
    uid: int | None = None
    proto: int | None = None
    sport: int | None = None
    dport: int | None = None
    tos: int = 0
    cgroup: int | str | None = None
    direction: str = "out"
    state: str = "new"
    endpoint: tuple[IPAddress, int] | None = None
    wg_fwmark: int | None = None
    inner_src: IPAddress | None = None


# ---------------------------------------------------------------------------
# The journey
# ---------------------------------------------------------------------------


class Journey:
    """One packet's trip; collects steps. Nested journeys (encapsulation) are new Journeys."""

    def __init__(self, host: Host, opts: Options, depth: int = 0, silent: bool = False) -> None:
        self.host = host
        self.opts = opts
        self.depth = depth
        self.silent = silent
        self.ruleset = host.ruleset
        self.ctx: NftContext | None = context_for(host, host.ruleset) if host.ruleset is not None else None
        self.steps: list[Step] = []
        self.exact = True
        self.notes: list[str] = []
        self.errno: str | None = None
        self.encapsulated: Trace | None = None
        self.decapsulated: Trace | None = None
        self.rerouted_from: str | None = None
        self.first_packet: str | None = None
        self.assumptions: list[str] = []
        self.to_paste: list[str] = []

    # -- recording --------------------------------------------------------

    def step(self, stage: str, why: str, **kw: Any) -> None:
        self.steps.append(Step(stage, why, **kw))

    def unmodelled(self, why: str, **kw: Any) -> None:
        self.exact = False
        self.step("unmodelled", "not modelled: " + why if not why.startswith("not modelled") else why, **kw)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def assume(self, text: str, paste: str | None = None) -> None:
        """Something the journey assumes because it was not pasted (makes it inexact)."""
        self.exact = False
        if text not in self.assumptions:
            self.assumptions.append(text)
        if paste and paste not in self.to_paste:
            self.to_paste.append(paste)

    def finish(self, verdict: str, skb: Skb, egress: Egress | None) -> Trace:
        return Trace(verdict=verdict, egress=egress if verdict == "accept" else None,
                     steps=tuple(self.steps), exact=self.exact, encapsulated=self.encapsulated,
                     decapsulated=self.decapsulated, errno=self.errno, direction=self.opts.direction,
                     packet=self.first_packet or _packet_text(skb), notes=tuple(self.notes),
                     kernel=_profile_json(self.host),
                     assumptions=tuple(self.assumptions), to_paste=tuple(self.to_paste))

    # -- routing ----------------------------------------------------------

    def route(self, flow: Flow, why_prefix: str, hook: str | None = None) -> Any:
        from wgexplain.kernel.route import lookup

        # the packet's own lookup: what only `ip route get` answers differently (an ipproto
        # it cannot key on, rt6_fill_node()'s multicast reply) comes back as a note
        res = lookup(self.host, flow, getroute=False)
        if getattr(res, "exact", True) is False:
            self.exact = False
        for n in getattr(res, "notes", ()) or ():
            self.note(str(n))
        for a in res.assumptions:
            self.assume(a)
        for c in res.to_paste:
            if c not in self.to_paste:
                self.to_paste.append(c)
        text = _route_text(res, self.host)
        decide = _deciding_step(res)
        why = f"{why_prefix}: {text}" + (f" — {decide}" if decide else "")
        if res.alternatives and res.type != "unknown":
            # the journey follows the answer as assumed; the other way is said, computed
            self.note(f"the route to {flow.dst} is taken as assumed; "
                      + "; ".join(a.text() for a in res.alternatives))
        if res.type == "unknown":
            why = f"{why_prefix}: unknown — it depends on what was not pasted: " + "; ".join(
                a.text() for a in res.alternatives)
            self.step("route", why, hook=hook, decisive=True,
                      extra=(("route", _route_json(res)),))
            return res
        err = getattr(res, "error", None)
        extra: tuple[tuple[str, Any], ...] = (("route", _route_json(res)),)
        self.step("route", why, hook=hook, verdict="drop" if err else None,
                  effect=f"error {err}" if err else None, decisive=True, extra=extra)
        return res

    # -- netfilter ----------------------------------------------------------

    def run_hook(self, hook: str, skb: Skb) -> ChainResult | None:
        """``nf_hook_slow()``: every entry of the hook in order; returns the refusing
        chain result (drop/reject), or None when the packet got through."""
        for entry in hook_entries(self.ruleset, skb.family, hook):
            if entry.kind == "conntrack":
                self.conntrack_in(skb, hook)
            elif entry.kind == "chain":
                res = self.run_chain(entry.chain, skb, hook)  # type: ignore[arg-type]
                if res.verdict in ("drop", "reject"):
                    return res
            elif entry.kind == "nat":
                res2 = self.nat_hook(entry, skb, hook)
                if res2 is not None:
                    return res2
            elif entry.kind == "confirm":
                if skb.ct is not None and skb.ct.conn is not None:
                    skb.ct.conn.status.add("confirmed")
        return None

    def run_chain(self, chain: rs.Chain, skb: Skb, hook: str) -> ChainResult:
        assert self.ctx is not None
        before = (skb.src, skb.dst, skb.mark, skb.tos)
        res = nft_do_chain(self.ctx, chain, skb, hook)
        self._record_chain(chain, hook, res)
        if (chain.type == "route" and hook == "output" and res.verdict not in ("drop", "reject")
                and (skb.src, skb.dst, skb.mark, skb.tos) != before):
            changed = [name for name, a, b in zip(("saddr", "daddr", "mark", "tos"), before,
                                                  (skb.src, skb.dst, skb.mark, skb.tos)) if a != b]
            self.ip_route_me_harder(skb, changed, chain)
            if skb.extra.get("reroute_error"):
                return ChainResult(verdict="drop")
        return res

    def _record_chain(self, chain: rs.Chain, hook: str, res: ChainResult) -> None:
        table = f"{chain.family} {chain.table}"
        for msg in res.unmodelled:
            self.unmodelled(msg, hook=hook, table=table, chain=chain.name)
        for n in res.notes:
            self.note(n)
        final_by_rule = not res.by_policy
        stale = ""
        if hook == "output" and self.rerouted_from is not None:
            stale = (f" (this chain still sees oif {self.rerouted_from}: the re-route does not change "
                     f"the hook's state->out)")
        for i, hit in enumerate(res.hits):
            is_last = i == len(res.hits) - 1
            decisive = bool(hit.effects) or (is_last and final_by_rule and hit.verdict in ("accept", "drop", "reject"))
            stage = "hook"
            self.step(stage, "matched: " + hit.why + stale, hook=hook, table=hit.table, chain=hit.chain,
                      rule=hit.index, handle=hit.rule.handle, text=hit.rule.text.strip() or None,
                      effect="; ".join(hit.effects) or None, verdict=hit.verdict,
                      origin=str(hit.rule.origin), decisive=decisive,
                      extra=(("rules_evaluated", res.evaluated),) if is_last else ())
        if res.by_policy:
            path = " → ".join(res.chain_path)
            self.step("hook", f"no rule of {path} decided ({res.evaluated} rules evaluated): "
                      f"the base chain's policy applies", hook=hook, table=table, chain=chain.name,
                      text=f"policy {chain.effective_policy}", verdict=res.verdict,
                      origin=str(chain.origin), decisive=True,
                      extra=(("rules_evaluated", res.evaluated),))
        elif not res.hits:
            pass

    def conntrack_in(self, skb: Skb, hook: str) -> None:
        """``nf_conntrack_in()`` at priority -200."""
        if skb.ct is not None:
            if skb.ct.state == "untracked":
                self.step("conntrack", "the packet was marked notrack: conntrack leaves it untracked "
                          "(ct state untracked, no NAT)", hook=hook)
            return  # loopback: already attached (nf_conntrack_in ignores it)
        tup = CtTuple(skb.src, skb.dst, skb.l4proto, skb.sport, skb.dport)  # type: ignore[arg-type]
        prior, how = self.prior_connection(skb)
        skb.ct = nf_conntrack_in(tup, self.opts.state, prior)
        if self.opts.state == "new":
            why = f"nf_conntrack_in (priority -200): a new connection, original {tup}"
        else:
            why = (f"nf_conntrack_in (priority -200): {skb.ct.direction} direction of an established "
                   f"connection, ct mark {skb.ct.conn.mark:#010x}" if skb.ct.conn else "")  # type: ignore[union-attr]
            if skb.ct.conn is not None:
                c = skb.ct.conn
                if c.snat:
                    why += f", source NAT to {c.snat.addr} ({c.snat.statement.strip()}, {c.snat.origin})"
                if c.dnat:
                    why += f", destination NAT to {c.dnat.addr} ({c.dnat.statement.strip()})"
            why += f"; {how}"
        self.step("conntrack", why, hook=hook, effect=f"ct state {skb.ct.state}",
                  extra=(("ct", _ct_json(skb.ct)),))

    def prior_connection(self, skb: Skb) -> tuple[Conn | None, str]:
        """The connection an established packet belongs to: replay its first packet."""
        if self.opts.state != "established":
            return None, ""
        if self.depth >= _MAX_NESTING or self.silent:
            return None, "no earlier packet replayed (nested too deep)"
        o = self.opts
        if o.direction == "out":
            replay = dataclasses.replace(o, state="new")
            j = Journey(self.host, replay, self.depth + 1, silent=True)
            t, last = j.local_out()
            conn = last.ct.conn if last.ct is not None else None
            how = (f"its first packet (replayed) was {t.verdict}ed" + (
                ", so this connection cannot exist in the kernel; its state is shown anyway"
                if t.verdict != "accept" else " and set up this conntrack entry"))
            return conn, how
        # arriving packet: is it the reply of a connection this host opened?
        wg_devs = wgmod.devices_with_endpoint(self.host, skb.src, skb.sport, o.endpoint, o.wg_fwmark) \
            if skb.src is not None else []
        mark = wg_devs[0].fwmark if wg_devs else o.mark
        cgroup = None if wg_devs else o.cgroup
        replay = Options(dst=skb.src, src=None, mark=mark, uid=o.uid if not wg_devs else 0,  # type: ignore[arg-type]
                         proto=skb.l4proto, sport=skb.dport, dport=skb.sport, tos=o.tos,
                         cgroup=cgroup, direction="out", state="new")
        j = Journey(self.host, replay, self.depth + 1, silent=True)
        t, last = j.local_out()
        conn = last.ct.conn if last.ct is not None else None
        if conn is not None and t.verdict == "accept" and conn.reply.dst == skb.dst and conn.reply.src == skb.src:
            who = (f"the tunnel's own UDP flow (sent with fwmark {mark:#x})" if wg_devs
                   else f"a connection this host opened to {skb.src}")
            return conn, (f"it is the reply to {who}; that connection's first packet (replayed) left "
                          f"with source {conn.reply.dst}")
        self.note(f"no connection opened by this host to {skb.src} would be answered at {skb.dst}: "
                  "the established connection is taken as opened by the remote side (ct mark 0)")
        return None, "opened by the remote side (assumed)"

    def nat_hook(self, entry: HookEntry, skb: Skb, hook: str) -> ChainResult | None:
        """``nf_nat_inet_fn()``: nat chains for a connection's first packet, else its binding."""
        ct = skb.ct
        if ct is None or ct.conn is None:
            return None
        conn = ct.conn
        manip = entry.manip or "snat"
        prio = entry.priority
        if ct.state in ("new", "related") and manip not in conn.nat_done:
            for chain in entry.nat_chains:
                res = self.run_chain(chain, skb, hook)
                if res.verdict in ("drop", "reject"):
                    return res
                if res.nat is not None:
                    refused = self.apply_nat(res.nat, skb, hook, conn, chain,
                                             res.hits[-1].chain if res.hits else chain.name)
                    if refused is not None:
                        return refused
                    break
            if manip not in conn.nat_done:
                conn.nat_done.add(manip)  # nf_nat_alloc_null_binding()
                return None
        else:
            if not entry.nat_chains and conn.snat is None and conn.dnat is None:
                return None
            if ct.state not in ("new", "related") and entry.nat_chains:
                self.step("nat", f"nat chains ({', '.join(c.name for c in entry.nat_chains)}) are not run: "
                          f"they see only a connection's first packet (nf_nat_inet_fn, priority {prio})",
                          hook=hook)
        before_dst = skb.dst
        changed = natmod.nf_nat_packet(ct, manip, skb)
        if changed:
            self.step("nat", f"nf_nat_packet (priority {prio}): {changed}", hook=hook,
                      effect=changed, decisive=True)
            if hook == "output" and skb.dst != before_dst:
                # nf_nat_ipv4_local_fn(): a changed destination is routed again
                self.ip_route_me_harder(skb, ["daddr"], None)
                if skb.extra.get("reroute_error"):
                    return ChainResult(verdict="drop")
        return None

    def apply_nat(self, req: Any, skb: Skb, hook: str, conn: Conn, chain: rs.Chain,
                  rule_chain: str) -> ChainResult | None:
        kind = req.kind
        if kind == "masquerade":
            gw = getattr(skb.route, "gateway", None) if skb.route is not None else None
            r = natmod.nf_nat_masquerade(self.host, skb, gw, req.port)
            binding_kind = "snat"
            fn = "nf_nat_masquerade_ipv4()" if skb.family == AF_INET else "nf_nat_masquerade_ipv6()"
        elif kind == "redirect":
            r = natmod.nf_nat_redirect(self.host, skb, hook, req.port)
            binding_kind = "dnat"
            fn = "nf_nat_redirect_ipv4()"
        else:
            addr = req.addr
            if addr is None:  # e.g. `snat to :1024` (port only) keeps the address
                addr = skb.src if kind == "snat" else skb.dst
            r = natmod.NatResult(addr, req.port, f"{kind} to {addr}")
            binding_kind = "snat" if kind == "snat" else "dnat"
            fn = "nf_nat_setup_info()"
        table = f"{chain.family} {chain.table}"
        if r.addr is None:
            self.step("nat", r.why, hook=hook, table=table, chain=rule_chain, text=req.text.strip(),
                      verdict="drop", origin=req.origin, decisive=True)
            return ChainResult(verdict="drop")
        bound = natmod.nf_nat_setup_info(conn, binding_kind, r, req.text, req.origin)
        if req.note:
            self.note(req.note)
        what = "source" if binding_kind == "snat" else "destination"
        if bound is None:
            self.step("nat", f"{fn}: {r.why}; that is already the packet's {what}: nothing is "
                      f"translated and the connection gets no {binding_kind} status "
                      f"(nf_nat_setup_info: new tuple equals the current one)", hook=hook, table=table,
                      chain=rule_chain, text=req.text.strip(), origin=req.origin,
                      effect=f"{kind}: {what} unchanged ({r.addr})")
            return None
        self.step("nat", f"{fn}: {r.why}; the connection is bound: {what} becomes {r.addr}"
                  + (f" port {r.port}" if r.port is not None else "")
                  + (" (ports kept: no clash with another connection assumed)" if r.port is None else ""),
                  hook=hook, table=table, chain=rule_chain, text=req.text.strip(), origin=req.origin,
                  effect=f"{kind} to {r.addr}", decisive=True)
        return None

    def ip_route_me_harder(self, skb: Skb, changed: list[str], chain: rs.Chain | None) -> None:
        """``ip_route_me_harder()``: route the packet again with its new mark/addresses."""
        old_dev = getattr(skb.route, "dev", None)
        src = skb.src if skb.src is not None and _is_local(self.host, skb.src) else None
        flow = Flow(dst=skb.dst, src=src, oif=skb.sk.bound_dev if skb.sk else None, mark=skb.mark,
                    uid=skb.sk.uid if skb.sk else None, ipproto=skb.l4proto, sport=skb.sport,
                    dport=skb.dport, tos=skb.tos)
        who = f"the route chain {chain.name}" if chain is not None else "NAT"
        res = self.route(flow, f"{who} changed {', '.join(changed)}: ip_route_me_harder() routes "
                               f"again", hook="output")
        if res.type == "unknown":
            return  # the first route stays; the step says what the re-route depends on
        if getattr(res, "error", None):
            skb.extra["reroute_error"] = res.error
            self.errno = res.error
            return
        skb.route = res
        if res.dev != old_dev:
            self.rerouted_from = old_dev
            self.note(f"after the re-route the packet will leave by {res.dev}, but the output chains "
                      f"after {chain.name if chain else 'NAT'} still see oif {old_dev}: the hook's "
                      f"state->out was fixed before the chains ran; only postrouting sees {res.dev}")
            self.step("route", f"the source address stays {skb.src}: it was chosen by the first "
                      f"lookup, and ip_route_me_harder() does not change the packet's addresses",
                      hook="output")

    # -- paths --------------------------------------------------------------

    def local_out(self) -> tuple[Trace, Skb]:
        """A packet sent by a local process: route, output, postrouting, device."""
        o = self.opts
        sk = Sock(uid=o.uid or 0, mark=o.mark, bound_dev=o.oif)
        if isinstance(o.cgroup, int):
            sk.classid = o.cgroup
        elif isinstance(o.cgroup, str):
            sk.cgroupv2 = o.cgroup
        skb = _new_skb(o)
        skb.sk = sk
        skb.mark = o.mark
        flow = Flow(dst=o.dst, src=o.src, oif=o.oif, mark=o.mark, uid=o.uid, ipproto=o.proto,
                    sport=o.sport, dport=o.dport, tos=o.tos)
        res = self.route(flow, "the sending socket's route lookup (ip_route_output_key) picks the "
                               "device and the source address")
        if res.type == "unknown":
            return self.finish("unknown", skb, None), skb
        if getattr(res, "error", None):
            self.errno = res.error
            self.step("device", f"nothing is sent: the socket's route lookup fails, so send()/connect() "
                      f"returns {res.error}", verdict="drop", effect=f"errno {res.error}", decisive=True)
            return self.finish("drop", skb, None), skb
        skb.route = res
        if skb.src is None:
            skb.src = _addr(res.src, "route source") if res.src is not None else None
        self.first_packet = _packet_text(skb)
        skb.oif = res.dev
        if res.type == "local" and o.dst is not None:
            skb.oif = "lo"
        for chain in other_family_chains(self.ruleset, None, skb.oif):
            self.unmodelled(f"{chain.family} {chain.name} on {','.join(chain.device)} "
                            f"(netdev/egress chains are not simulated)", chain=chain.name)
        # output hook: state->out is the device of the first route, for every chain of the hook
        refused = self.run_hook("output", skb) if self.ruleset is not None else None
        if refused is not None:
            return self.refuse(refused, skb, local=True), skb
        # ip_output(): the skb's (possibly new) route decides the device
        out_dev = getattr(skb.route, "dev", None) if skb.route is not None else skb.oif
        if getattr(skb.route, "type", None) == "local":
            out_dev = "lo"
        if out_dev != skb.oif:
            self.step("route", f"ip_output(): the packet now leaves by {out_dev} (the route attached by "
                      f"the re-route), not {skb.oif}; postrouting sees oif {out_dev}", hook="postrouting",
                      decisive=True)
        skb.oif = out_dev
        refused = self.run_hook("postrouting", skb) if self.ruleset is not None else None
        if refused is not None:
            return self.refuse(refused, skb, local=True), skb
        return self.device(skb), skb

    def receive(self) -> tuple[Trace, Skb]:
        """A packet arriving on ``iif``: prerouting, input routing, input or forward."""
        o = self.opts
        skb = _new_skb(o)
        skb.iif = o.iif
        skb.mark = o.mark
        if self.host.links and self.host.link(o.iif or "") is None:
            raise UsageError(f"--iif {o.iif}: no such device in the dump")
        for chain in other_family_chains(self.ruleset, skb.iif, None):
            self.unmodelled(f"{chain.family} {chain.table} {chain.name} on {','.join(chain.device)} "
                            f"(ingress chains are not simulated)", chain=chain.name)
        return self._after_arrival(skb)

    def _after_arrival(self, skb: Skb) -> tuple[Trace, Skb]:
        o = self.opts
        if self.first_packet is None:
            self.first_packet = _packet_text(skb) + f" on {skb.iif}"
        refused = self.run_hook("prerouting", skb) if self.ruleset is not None else None
        if refused is not None:
            return self.refuse(refused, skb, local=False), skb
        # uid 0: a received packet's flow (ip6_route_input(); ip_route_input_slow() for
        # IPv4), not the INVALID_UID of `ip -6 route get ... iif` without uid
        flow = Flow(dst=skb.dst, src=skb.src, iif=skb.iif, mark=skb.mark, uid=0,
                    ipproto=skb.l4proto, sport=skb.sport, dport=skb.dport, tos=skb.tos)
        res = self.route(flow, f"input route lookup (ip_route_input_slow) for a packet arriving on "
                               f"{skb.iif}, with mark {skb.mark:#x}")
        if res.type == "unknown":
            return self.finish("unknown", skb, None), skb
        if getattr(res, "error", None):
            self.step("device", f"the kernel drops the packet: the input route lookup fails with "
                      f"{res.error}", verdict="drop", decisive=True)
            return self.finish("drop", skb, None), skb
        skb.route = res
        if res.type in ("local", "broadcast", "multicast"):
            if o.direction == "forward":
                self.note(f"{skb.dst} is an address of this host: the packet is delivered locally, "
                          "not forwarded")
            refused = self.run_hook("input", skb) if self.ruleset is not None else None
            if refused is not None:
                return self.refuse(refused, skb, local=False), skb
            return self.deliver_local(skb), skb
        if o.direction == "in":
            self.note(f"{skb.dst} is not an address of this host: the packet is forwarded")
        skb.oif = res.dev
        refused = self.run_hook("forward", skb) if self.ruleset is not None else None
        if refused is not None:
            return self.refuse(refused, skb, local=False), skb
        refused = self.run_hook("postrouting", skb) if self.ruleset is not None else None
        if refused is not None:
            return self.refuse(refused, skb, local=False), skb
        return self.device(skb), skb

    def refuse(self, res: ChainResult, skb: Skb, local: bool) -> Trace:
        verdict = "reject" if res.verdict == "reject" else "drop"
        if skb.extra.get("reroute_error"):
            return self.finish("drop", skb, None)
        if local:
            tcp = skb.l4proto == 6
            if res.reject is not None:
                self.errno = res.reject.errno_tcp if tcp else res.reject.errno_other
                how = (f"the TCP socket gets {self.errno} ({res.reject.describe()} is delivered back to it)"
                       if tcp else f"send() fails with {self.errno}: the packet was refused in output")
            else:
                self.errno = "ETIMEDOUT" if tcp else "EPERM"
                how = ("connect() gets no answer: the SYN is dropped on each retry and the "
                       "connection times out (ETIMEDOUT)" if tcp else
                       "send() fails with EPERM (ip_local_out returns -EPERM for a dropped packet)")
            self.step("device", f"the packet never leaves: {how}", verdict=verdict,
                      effect=f"errno {self.errno}", decisive=True)
        elif res.reject is not None:
            self.step("device", f"the packet is refused and {res.reject.describe()} is sent back to "
                      f"{skb.src}", verdict=verdict, decisive=True)
        return self.finish(verdict, skb, None)

    def deliver_local(self, skb: Skb) -> Trace:
        """``ip_local_deliver_finish()``: to a socket, or to a WireGuard device's socket."""
        egress = Egress(dev=None, src=_s(skb.src), dst=str(skb.dst), mark=skb.mark,
                        proto=proto_name(skb.l4proto), sport=skb.sport, dport=skb.dport, local=True)
        wg = self._wg_for_incoming(skb)
        if wg is None:
            self.step("device", f"delivered to a local socket listening on {skb.dst}"
                      + (f" port {skb.dport}" if skb.dport is not None else ""), verdict="accept",
                      decisive=True)
            return self.finish("accept", skb, egress)
        return self.decapsulate(wg, skb, egress)

    def _wg_for_incoming(self, skb: Skb) -> wgmod.WgDevice | None:
        if skb.l4proto != 17 or skb.src is None:
            return None
        o = self.opts
        devs = wgmod.devices_with_endpoint(self.host, skb.src, skb.sport, o.endpoint, o.wg_fwmark)
        if devs:
            return devs[0]
        for link in self.host.links:
            d = wgmod.wg_device(self.host, link.name, endpoint=None, fwmark=o.wg_fwmark)
            if d is not None and d.listen_port is not None and d.listen_port == skb.dport:
                return d
        return None

    def decapsulate(self, wg: wgmod.WgDevice, skb: Skb, egress: Egress) -> Trace:
        """``wg_packet_receive()`` → ``wg_packet_consume_data_done()``: the inner packet
        enters the stack on the WireGuard device, with mark 0 and no conntrack entry."""
        o = self.opts
        inner_dst = _first_addr(self.host, wg.name, AF_INET)
        inner_src = o.inner_src or _tunnel_peer_addr(self.host, wg.name, AF_INET)
        self.step("tunnel", f"{wg.name} ({wg.how}) receives the encrypted UDP from {skb.src}:{skb.sport} "
                  f"(peer endpoint: {wg.peers_how}); after decryption the inner packet enters the stack "
                  f"on {wg.name} with mark 0 (wg_reset_packet scrubs it)", decisive=True,
                  extra=(("device", wg.name),))
        if inner_dst is None or inner_src is None:
            self.unmodelled(f"the inner packet of the tunnel (no address known on {wg.name})")
            return self.finish("accept", skb, egress)
        self.note(f"the inner packet is not in the outer headers: shown as {inner_src} -> {inner_dst} "
                  f"(a reply inside the tunnel; --inner-src / inner_src= chooses another source)")
        inner = Options(dst=inner_dst, src=inner_src, iif=wg.name, mark=0, uid=o.uid,
                        proto=None, tos=0, cgroup=o.cgroup, direction="in", state=o.state,
                        endpoint=o.endpoint, wg_fwmark=o.wg_fwmark)
        if self.depth < _MAX_NESTING:
            j = Journey(self.host, inner, self.depth + 1, self.silent)
            t, _ = j._after_arrival(_iif_skb(inner))
            self.decapsulated = t
        return self.finish("accept", skb, egress)

    def device(self, skb: Skb) -> Trace:
        """The packet reaches its device: sent, or encrypted by WireGuard."""
        dev = skb.oif
        gw = getattr(skb.route, "gateway", None) if skb.route is not None else None
        egress = Egress(dev=dev, src=_s(skb.src), dst=str(skb.dst), mark=skb.mark,
                        proto=proto_name(skb.l4proto), sport=skb.sport, dport=skb.dport,
                        gateway=_s(gw))
        if dev == "lo":
            self.step("device", f"looped back on lo to this host's own address {skb.dst}",
                      verdict="accept", decisive=True)
            if self.depth < _MAX_NESTING and not self.silent:
                inner = dataclasses.replace(self.opts, iif="lo", direction="in")
                j = Journey(self.host, inner, self.depth + 1, self.silent)
                nskb = skb.clone()
                nskb.iif, nskb.oif, nskb.route = "lo", None, None
                t, _ = j._after_arrival(nskb)
                self.decapsulated = t
            return self.finish("accept", skb, egress)
        o = self.opts
        wg = wgmod.wg_device(self.host, dev, endpoint=o.endpoint, fwmark=o.wg_fwmark) if dev else None
        if wg is None:
            via = f" via {gw}" if gw is not None else " directly to the destination"
            self.step("device", f"sent on {dev}{via}", verdict="accept", decisive=True,
                      effect=(f"src {skb.src} " if skb.src is not None else "") + f"mark {skb.mark:#x}")
            return self.finish("accept", skb, egress)
        return self.encapsulate(wg, skb, egress)

    def encapsulate(self, wg: wgmod.WgDevice, skb: Skb, egress: Egress) -> Trace:
        """``wg_xmit()``: cryptokey routing, then the outer UDP packet's own journey."""
        choice = wgmod.allowedips_lookup(wg, skb.dst)
        why_dev = f"{wg.name} is a WireGuard device ({wg.how})"
        if choice.peer is None:
            self.errno = choice.errno
            self.step("tunnel", f"{why_dev}; {choice.why}", verdict="drop", effect=f"errno {choice.errno}",
                      decisive=True)
            return self.finish("drop", skb, None)
        peer = choice.peer
        if peer.endpoint is None and peer.public_key == wgmod.ASSUMED_PEER:
            from wgexplain.evidence import wg_peer_assumption

            self.assume(wg_peer_assumption(wg.name).text, "wg show all")
            self.step("tunnel", f"{why_dev}; `wg show` was not pasted: a peer is assumed to "
                      f"take the packet, but its endpoint is unknown, so where the encrypted "
                      f"packet goes cannot be followed", verdict="accept", decisive=True,
                      extra=(("inferred", True),))
            return self.finish("accept", skb, egress)
        if peer.endpoint is None:
            self.errno = "EDESTADDRREQ"
            self.step("tunnel", f"{why_dev}; {choice.why}, but that peer has no endpoint: "
                      f"nothing can be sent (-EDESTADDRREQ)", verdict="drop", decisive=True)
            return self.finish("drop", skb, None)
        ep_addr, ep_port = peer.endpoint
        lp = wg.listen_port
        self.step("tunnel", f"{why_dev}; {choice.why}. The packet is encrypted into UDP to "
                  f"{ep_addr}:{ep_port} (endpoint: {wg.peers_how}) from listen port "
                  f"{lp if lp is not None else 'unknown'}; the outer packet carries "
                  f"skb->mark = fwmark {wg.fwmark:#x} ({wg.fwmark_how}) and takes its own journey",
                  verdict="accept", decisive=True,
                  extra=(("endpoint", f"{ep_addr}:{ep_port}"), ("fwmark", wg.fwmark),
                         ("inferred", wg.inferred or choice.assumed)))
        if wg.inferred:
            self.note(f"WireGuard facts for {wg.name} were not in the dump: endpoint {wg.peers_how}; "
                      f"fwmark {wg.fwmark_how}")
        if self.depth >= _MAX_NESTING or self.silent:
            return self.finish("accept", skb, egress)
        # --endpoint/--wg-fwmark describe the device the packet entered, not the one the
        # encrypted packet leaves by: not passed on (else that uplink would count as WireGuard).
        outer = Options(dst=ep_addr, src=None, mark=wg.fwmark, uid=0, proto=17, sport=lp, dport=ep_port,
                        direction="out", state="established")
        j = Journey(self.host, outer, self.depth + 1)
        from wgexplain.kernel.route import lookup

        probe = lookup(self.host, Flow(dst=ep_addr, mark=wg.fwmark, ipproto=17, sport=lp, dport=ep_port))
        if getattr(probe, "dev", None) == wg.name:
            # send4(): "Avoiding routing loop" — the encrypted packet would re-enter the device
            j.route(Flow(dst=ep_addr, mark=wg.fwmark, ipproto=17, sport=lp, dport=ep_port),
                    "the WireGuard socket's route lookup (send4, flowi4_mark = fwmark)")
            j.errno = "ELOOP"
            j.step("tunnel", f"the route to the endpoint {ep_addr} leads back into {wg.name}: "
                   f"send4() refuses the routing loop (-ELOOP) and nothing is sent. The fwmark "
                   f"{wg.fwmark:#x} does not exempt the tunnel's own packets from the rule that "
                   f"routes into {wg.name}", verdict="drop", effect="errno ELOOP", decisive=True)
            t = j.finish("drop", _new_skb(outer), None)
        else:
            t, _ = j.local_out()
        self.encapsulated = t
        if t.verdict != "accept":
            past = {"drop": "dropped", "reject": "rejected"}.get(t.verdict, t.verdict)
            self.note(f"the encrypted packet is {past}: nothing reaches {ep_addr}")
        return self.finish("accept", skb, egress)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _new_skb(o: Options) -> Skb:
    family = AF_INET if o.dst.version == 4 else 10
    l4 = o.proto
    skb = Skb(family=family, src=o.src, dst=o.dst, l4proto=l4, sport=o.sport, dport=o.dport, tos=o.tos)
    if l4 == 6:
        skb.tcp_flags = 0x02 if o.state == "new" else 0x10  # SYN / ACK
    if l4 in (1, 58):
        skb.icmp_type = 8 if l4 == 1 else 128  # echo-request
        skb.icmp_code = 0
        if o.direction == "in" and o.state == "established":
            skb.icmp_type = 0 if l4 == 1 else 129  # echo-reply
    if o.dst.is_multicast:
        skb.pkttype = "multicast"
    elif o.dst.version == 4 and str(o.dst) == "255.255.255.255":
        skb.pkttype = "broadcast"
    return skb


def _iif_skb(o: Options) -> Skb:
    skb = _new_skb(o)
    skb.iif = o.iif
    return skb


def _is_local(host: Host, addr: IPAddress) -> bool:
    return any(a.ip == addr for a in host.addresses) or addr.is_loopback


def _first_addr(host: Host, dev: str, family: int) -> IPAddress | None:
    addrs = host.addresses_of(dev, family)
    return addrs[0].ip if addrs else None


def _tunnel_peer_addr(host: Host, dev: str, family: int | None = None) -> IPAddress | None:
    """A plausible sender inside the tunnel: a host route's address on ``dev`` (Mullvad's
    10.64.0.1, the relay's tunnel address), else the device's own network's first host.
    Of ``family`` when given, and never one of the device's own addresses."""
    own = {a.ip for a in host.addresses_of(dev)}
    for r in host.routes:
        if r.dev == dev and r.dst.prefixlen == r.dst.max_prefixlen and r.type == "unicast" \
                and (family is None or r.family == family) and r.dst.network_address not in own:
            return r.dst.network_address
    for a in host.addresses_of(dev, family):
        if a.address.network.num_addresses > 2:
            return a.address.network[1]  # the first of hosts()
    return None


def _packet_text(skb: Skb) -> str:
    return skb.describe()


def with_kernel(host: Host, kernel: Any) -> Host:
    """``host`` imitating ``kernel`` (a KernelProfile, or a ``--kernel`` text)."""
    import dataclasses

    from wgexplain.kernel.profile import parse_profile

    profile = parse_profile(kernel, origin="kernel=") if isinstance(kernel, str) else kernel
    return host if host.kernel == profile else dataclasses.replace(host, kernel=profile)


def _profile_json(host: Host) -> dict[str, Any]:
    from wgexplain.kernel.profile import DEFAULT

    return (host.kernel or DEFAULT).to_json()


def _route_text(res: Any, host: Host) -> str:
    err = getattr(res, "error", None)
    table = getattr(res, "table", None)
    tname = host.table_name(table) if isinstance(table, int) else table
    rule = getattr(res, "rule", None)
    if err:
        return (f"{getattr(res, 'type', 'unreachable')} — the kernel refuses the lookup with {err}"
                + (f" (rule {rule}, table {tname})" if rule is not None else ""))
    parts = [f"type {res.type}", f"dev {res.dev}"]
    if getattr(res, "gateway", None) is not None:
        parts.append(f"via {res.gateway}")
    if getattr(res, "src", None) is not None:
        parts.append(f"src {res.src}")
    if table is not None:
        parts.append(f"table {tname}")
    if rule is not None:
        parts.append(f"(rule {rule})")
    return " ".join(parts)


def _deciding_step(res: Any) -> str:
    steps = getattr(res, "steps", None) or ()
    wanted = ("refused", "error") if getattr(res, "error", None) else ("matched", "found")
    for st in reversed(list(steps)):
        result = getattr(st, "result", None) if not isinstance(st, dict) else st.get("result")
        if result in wanted:
            why = getattr(st, "why", None) if not isinstance(st, dict) else st.get("why")
            return str(why) if why else ""
    return ""


def _route_json(res: Any) -> Any:
    to_json = getattr(res, "to_json", None)
    if callable(to_json):
        try:
            data = to_json()
            data.pop("steps", None)
            return data
        except Exception:  # pragma: no cover - defensive: rendering must not fail the trace
            return None
    return None


def _ct_json(ct: CtInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"state": ct.state, "direction": ct.direction}
    if ct.conn is not None:
        out["mark"] = ct.conn.mark
        out["original"] = str(ct.conn.original)
        out["reply"] = str(ct.conn.reply)
    return out


def _options(host: Host, dst: Any, **kw: Any) -> Options:
    direction = kw.get("direction") or "out"
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction: expected one of {', '.join(DIRECTIONS)}, got {direction!r}")
    state = kw.get("state") or "new"
    if state not in STATES:
        raise UsageError(f"--state: expected one of {', '.join(STATES)}, got {state!r}")
    d = _addr(dst, "DST")
    src = _addr(kw["src"], "--from") if kw.get("src") is not None else None
    if src is not None and src.version != d.version:
        raise UsageError(f"--from {src} and DST {d} are not of the same family")
    try:
        proto = proto_number(kw.get("proto"))
    except ValueError as exc:
        raise UsageError(f"--proto: {exc}") from None
    cg = kw.get("cgroup")
    if cg is not None and not isinstance(cg, int):
        text = str(cg).strip()
        try:
            cg = int(text, 0)
        except ValueError:
            cg = text  # a cgroup v2 path
    iif = kw.get("iif")
    if direction in ("in", "forward") and not iif:
        raise UsageError(f"--direction {direction} needs --iif DEV (the device the packet arrives on)")
    if direction == "out" and iif and iif != "lo":
        raise UsageError("--iif is for --direction in/forward; a locally sent packet has no input device")
    for key in ("sport", "dport"):
        if kw.get(key) is not None:
            v = _int(kw[key], f"--{key}")
            if not 0 <= v <= 65535:
                raise UsageError(f"--{key}: expected 0-65535, got {v}")
    if (kw.get("sport") is not None or kw.get("dport") is not None) and proto not in (6, 17, 132, 33, 136):
        raise UsageError("--sport/--dport need --proto tcp, udp, sctp or dccp")
    return Options(
        dst=d, src=src, iif=iif, oif=kw.get("oif"), mark=_int(kw.get("mark") or 0, "--mark"),
        uid=_int(kw["uid"], "--uid") if kw.get("uid") is not None else None,
        proto=proto, sport=_int(kw["sport"], "--sport") if kw.get("sport") is not None else None,
        dport=_int(kw["dport"], "--dport") if kw.get("dport") is not None else None,
        tos=_int(kw.get("tos") or 0, "--tos"), cgroup=cg, direction=direction, state=state,
        endpoint=parse_endpoint(kw["endpoint"]) if kw.get("endpoint") is not None else None,
        wg_fwmark=_int(kw["wg_fwmark"], "--wg-fwmark") if kw.get("wg_fwmark") is not None else None,
        inner_src=_addr(kw["inner_src"], "inner_src") if kw.get("inner_src") is not None else None,
    )


def trace(host: Host, dst: Any, *, src: Any = None, iif: str | None = None, oif: str | None = None,
          mark: int | str = 0, uid: int | None = None, proto: str | int | None = None,
          sport: int | None = None, dport: int | None = None, tos: int = 0,
          cgroup: int | str | None = None, direction: str = "out", state: str = "new",
          endpoint: Any = None, wg_fwmark: int | str | None = None, inner_src: Any = None,
          kernel: Any = None) -> Trace:
    """The whole journey of one packet to ``dst`` (``wgexplain trace``).

    ``direction``: ``out`` (sent by a local process with ``uid``, net_cls
    ``cgroup`` classid (or a cgroup v2 path) and ``SO_MARK`` ``mark``),
    ``in`` or ``forward`` (arriving on ``iif`` from ``src``). ``state``:
    conntrack state ``new`` or ``established``. ``endpoint`` (``"ADDR:PORT"``)
    and ``wg_fwmark`` describe the WireGuard device when the dump lacks
    ``wg show``. ``kernel``: the kernel profile to imitate (a
    :class:`~wgexplain.kernel.profile.KernelProfile` or a ``--kernel`` text),
    default the Host's own. Raises :class:`~wgexplain.errors.UsageError` on bad options.
    """
    if kernel is not None:
        host = with_kernel(host, kernel)
    opts = _options(host, dst, src=src, iif=iif, oif=oif, mark=mark, uid=uid, proto=proto,
                    sport=sport, dport=dport, tos=tos, cgroup=cgroup, direction=direction,
                    state=state, endpoint=endpoint, wg_fwmark=wg_fwmark, inner_src=inner_src)
    if opts.oif and host.links and host.link(opts.oif) is None:
        raise UsageError(f"--oif {opts.oif}: no such device in the dump")
    j = Journey(host, opts)
    if host.ruleset is None and host.dumped and "nft" not in host.dumped:
        from wgexplain.evidence import ruleset_assumption

        j.assume(ruleset_assumption().text, "nft list ruleset")
    elif host.ruleset is None:
        j.note("no nftables ruleset in the dump: no firewall, NAT or marks are applied "
               "(as on a host with an empty ruleset)")
    if opts.proto is None:
        j.note("no --proto given: rules matching a protocol or port do not match this packet")
    if opts.direction == "out":
        t, _ = j.local_out()
    else:
        t, _ = j.receive()
    return t
