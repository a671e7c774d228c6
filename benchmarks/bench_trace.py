"""Benchmark: time per traced packet on a large, kube-proxy-like ruleset.

Generates (in memory, as the model nft's readers produce) a ruleset of about
20,000 rules: a filter table whose output chain jumps into a ``services``
chain that dispatches with a verdict map keyed by ``ip daddr . meta l4proto .
th dport`` into one chain per service (4 rules each), a large interval set of
blocked prefixes, and a nat table that DNATs every service through a second
verdict map. Then it traces packets to random services and prints the time
per packet, for two set sizes, to show that sets and maps are looked up
(dict / bisection), not scanned: the time must not grow with the set size.

Run: ``python benchmarks/bench_trace.py [--services N] [--packets N]``.
It prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import ipaddress
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wgexplain import ruleset as rs  # noqa: E402
from wgexplain.model import Origin  # noqa: E402

HOST_SESSION = """\
$ ip rule
0:	from all lookup local
32766:	from all lookup main
32767:	from all lookup default
$ ip route
default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.10 metric 100
192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.10 metric 100
$ ip addr
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0
       valid_lft forever preferred_lft forever
"""


def service_ip(i: int) -> str:
    return str(ipaddress.IPv4Address("10.96.0.0") + i + 1)


def endpoint_ip(i: int) -> str:
    return str(ipaddress.IPv4Address("10.244.0.0") + i + 1)


def blocked_prefix(i: int) -> rs.Prefix:
    # /28 blocks inside 100.64.0.0/10 (never overlapping)
    base = ipaddress.IPv4Address("100.64.0.0") + i * 16
    return rs.Prefix(str(base), 28)


def build_ruleset(services: int, blocked: int) -> rs.Ruleset:
    o = Origin("generated")
    filt_chains: list[rs.Chain] = []
    nat_chains: list[rs.Chain] = []
    vmap_elems = []
    nat_elems = []
    key = rs.Concat((rs.Payload("ip", "daddr"), rs.Meta("l4proto"), rs.Payload("th", "dport")))
    for i in range(services):
        name = f"service-{i}"
        vmap_elems.append(rs.MapElem(rs.Concat((service_ip(i), "tcp", 80)), rs.Verdict("goto", name)))
        filt_chains.append(rs.Chain(name, "filter", "ip", rules=(
            rs.Rule((rs.Match(rs.Payload("ip", "saddr"), "==", rs.Prefix("192.168.0.0", 16)),
                     rs.Counter()), text="ip saddr 192.168.0.0/16 counter", origin=o),
            rs.Rule((rs.Match(rs.Meta("mark"), "==", 0x1), rs.Verdict("drop")),
                    text="meta mark 0x1 drop", origin=o),
            rs.Rule((rs.Mangle(rs.Meta("mark"), rs.Binop("|", rs.Meta("mark"), 0x4000)),),
                    text="meta mark set meta mark | 0x4000", origin=o),
            rs.Rule((rs.Match(rs.Ct("state"), "in", rs.FlagList(("new",))), rs.Verdict("accept")),
                    text="ct state new accept", origin=o),
        ), origin=o))
        nat_elems.append(rs.MapElem(rs.Concat((service_ip(i), "tcp", 80)), rs.Verdict("goto", f"svc-nat-{i}")))
        nat_chains.append(rs.Chain(f"svc-nat-{i}", "nat", "ip", rules=(
            rs.Rule((rs.Nat("dnat", endpoint_ip(i), 8080, family="ip"),),
                    text=f"dnat ip to {endpoint_ip(i)}:8080", origin=o),), origin=o))
    blocked_set = rs.Set("blocked", "filter", "ip", type="ipv4_addr", flags=("interval",),
                         elements=tuple(blocked_prefix(i) for i in range(blocked)), origin=o)
    service_map = rs.Map("service-ips", "filter", "ip", type=("ipv4_addr", "inet_proto", "inet_service"),
                         map="verdict", elements=tuple(vmap_elems), origin=o)
    output = rs.Chain("output", "filter", "ip", type="filter", hook="output", priority=-150, policy="accept",
                      rules=(
                          rs.Rule((rs.Match(rs.Payload("ip", "daddr"), "==", rs.SetRef("blocked")),
                                   rs.Verdict("drop")), text="ip daddr @blocked drop", origin=o),
                          rs.Rule((rs.Verdict("jump", "services"),), text="jump services", origin=o),
                      ), origin=o)
    services_chain = rs.Chain("services", "filter", "ip", rules=(
        rs.Rule((rs.Vmap(key, rs.SetRef("service-ips")),),
                text="ip daddr . meta l4proto . th dport vmap @service-ips", origin=o),), origin=o)
    nat_map = rs.Map("service-nat", "nat", "ip", type=("ipv4_addr", "inet_proto", "inet_service"),
                     map="verdict", elements=tuple(nat_elems), origin=o)
    nat_out = rs.Chain("output", "nat", "ip", type="nat", hook="output", priority=-100, policy="accept",
                       rules=(rs.Rule((rs.Vmap(key, rs.SetRef("service-nat")),),
                                      text="ip daddr . meta l4proto . th dport vmap @service-nat",
                                      origin=o),), origin=o)
    nat_post = rs.Chain("postrouting", "nat", "ip", type="nat", hook="postrouting", priority=100,
                        policy="accept", rules=(
                            rs.Rule((rs.Match(rs.Meta("oifname"), "==", "eth*"), rs.Nat("masquerade")),
                                    text='oifname "eth*" masquerade', origin=o),), origin=o)
    filt = rs.Table("ip", "filter", chains=(output, services_chain, *filt_chains),
                    sets=(blocked_set,), maps=(service_map,), origin=o)
    nat = rs.Table("ip", "nat", chains=(nat_out, nat_post, *nat_chains), maps=(nat_map,), origin=o)
    return rs.Ruleset((filt, nat), origin=o)


def run(services: int, blocked: int, packets: int, seed: int = 1) -> dict[str, float]:
    from wgexplain.kernel.path import trace
    from wgexplain.sources import load_text

    base = load_text(HOST_SESSION, "bench-session.txt")
    t0 = time.perf_counter()
    ruleset = build_ruleset(services, blocked)
    t_build = time.perf_counter() - t0
    host = dataclasses.replace(base, ruleset=ruleset)
    nrules = sum(len(c.rules) for t in ruleset.tables for c in t.chains)
    rnd = random.Random(seed)
    # warm-up: compiles the sets and maps once (as the kernel builds them at load time)
    t0 = time.perf_counter()
    first = trace(host, service_ip(0), proto="tcp", dport=80)
    t_warm = time.perf_counter() - t0
    assert first.verdict == "accept", first.to_json()
    # the ruleset is long-lived: keep the cyclic GC from rescanning its objects on every
    # collection (what a resident process would do); the figures then measure the lookups
    gc.collect()
    gc.freeze()
    targets = [rnd.randrange(services) for _ in range(packets)]
    t0 = time.perf_counter()
    for i in targets:
        t = trace(host, service_ip(i), proto="tcp", dport=80)
        if t.verdict != "accept" or t.egress is None or t.egress.dst != endpoint_ip(i):
            raise SystemExit(f"unexpected trace for service {i}: {t.to_json()}")
    t_svc = (time.perf_counter() - t0) / packets
    # packets to blocked prefixes: dropped by the interval set
    t0 = time.perf_counter()
    for _ in range(packets):
        j = rnd.randrange(blocked)
        addr = str(ipaddress.IPv4Address(blocked_prefix(j).addr) + 5)
        t = trace(host, addr, proto="tcp", dport=443)
        if t.verdict != "drop":
            raise SystemExit(f"unexpected trace for blocked {addr}: {t.to_json()}")
    t_blk = (time.perf_counter() - t0) / packets
    gc.unfreeze()
    return {"rules": nrules, "build_s": t_build, "warm_s": t_warm, "service_ms": t_svc * 1e3,
            "blocked_ms": t_blk * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=5000, help="services (4 rules each: 20,000 rules)")
    ap.add_argument("--packets", type=int, default=300)
    args = ap.parse_args()
    print(f"{'set size':>22} {'rules':>7} {'warm-up s':>10} {'ms/packet (service)':>20} "
          f"{'ms/packet (blocked)':>20}")
    for services, blocked in ((args.services, 1_000), (args.services, 100_000)):
        r = run(services, blocked, args.packets)
        label = f"{services} svc, {blocked} pfx"
        print(f"{label:>22} {r['rules']:>7} {r['warm_s']:>10.2f} {r['service_ms']:>20.3f} "
              f"{r['blocked_ms']:>20.3f}")
    r_small = run(500, 1_000, args.packets)
    print(f"{'500 svc, 1000 pfx':>22} {r_small['rules']:>7} {r_small['warm_s']:>10.2f} "
          f"{r_small['service_ms']:>20.3f} {r_small['blocked_ms']:>20.3f}")
    print("Sets and maps are looked up (dict / bisection): the time per packet should not "
          "grow with the set size.")


if __name__ == "__main__":
    main()
