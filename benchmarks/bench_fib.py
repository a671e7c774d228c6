#!/usr/bin/env python3
"""FIB benchmark: a full-BGP-sized table in the simulator and in the kernel.

Synthesises 1,000,000 IPv4 and 200,000 IPv6 routes with the prefix-length
mix of a real full table (IPv4: /24 dominant, /16-/23 spread, few shorter;
IPv6: /48 dominant, /32-/44 next), writes them as ``ip route`` text into a
bundle directory, and measures

* load: ``wgexplain.load(bundle)`` (the iproute2 text reader) plus the FIB
  build the simulator does before its first lookup, through the real code
  path; memory as the process RSS growth and the tracemalloc peak of a
  10 % sample;
* lookups/s of the simulator (``wgexplain.kernel.route.lookup``) for random
  destinations: explained (its steps told when first read), bare
  (``explain=False``), and each rendered as the JSON line ``route --batch``
  prints (with and without steps: ``route.json_line()``, what the batch loop
  writes; and through ``to_json()`` + ``json.dumps()``, the general path);
* ``route --batch`` end to end (``cli.run_batch()``): reading ``route get DST``
  lines, the lookups, the JSON lines with steps;
* the same lookups against the kernel: the table loaded into a ``wgx-``
  namespace with ``ip -batch`` ``route add`` lines, queried with
  ``ip -batch`` ``route get`` lines (one process, JSON output);

and prints them side by side. A script, not a test: it asserts nothing.

    sudo .venv/bin/python benchmarks/bench_fib.py [--v4 N] [--v6 N] [--lookups N]
"""

from __future__ import annotations

import argparse
import gc
import io
import ipaddress
import json
import random
import resource
import socket
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wgexplain.model import Flow  # noqa: E402

# Prefix-length mixes (share of routes), after public full-table statistics.
V4_MIX = {24: 0.595, 23: 0.10, 22: 0.125, 21: 0.045, 20: 0.043, 19: 0.03, 18: 0.015, 17: 0.01,
          16: 0.017, 15: 0.005, 14: 0.005, 13: 0.003, 12: 0.002, 11: 0.0015, 10: 0.001,
          9: 0.0005, 8: 0.0025}
V6_MIX = {48: 0.52, 44: 0.08, 40: 0.05, 36: 0.03, 32: 0.18, 29: 0.04, 46: 0.02, 47: 0.01,
          45: 0.01, 42: 0.01, 33: 0.01, 34: 0.005, 35: 0.005, 28: 0.005, 64: 0.01, 56: 0.005}
DEVS = ("eth0", "eth1")
#: 16 gateways on each device's connected subnet: (gateway, dev)
V4_HOPS = [(f"10.{255 - d}.0.{i + 2}", dev) for i in range(16) for d, dev in enumerate(DEVS)]
V6_HOPS = [(f"2001:db8:{0xffff - d:x}::{i + 2:x}", dev) for i in range(16) for d, dev in enumerate(DEVS)]


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _prefixes(n: int, mix: dict[int, float], bits: int, rng: random.Random) -> list[tuple[int, int]]:
    lens = list(mix)
    weights = [mix[p] for p in lens]
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int]] = []
    full = (1 << bits) - 1
    while len(out) < n:
        for plen in rng.choices(lens, weights, k=n - len(out)):
            if bits == 32:
                addr = rng.randrange(1 << 24, 224 << 24)  # 1.0.0.0 - 223.255.255.255
                if (addr >> 24) in (10, 127):
                    continue
            else:
                addr = (0x2 << 125) | rng.getrandbits(125)  # 2000::/3
                if addr >> 96 == 0x20010db8:
                    continue
            net = addr & (full ^ ((1 << (bits - plen)) - 1))
            if (net, plen) not in seen:
                seen.add((net, plen))
                out.append((net, plen))
    return out


def _ntop4(v: int) -> str:
    return socket.inet_ntop(socket.AF_INET, v.to_bytes(4, "big"))


def _ntop6(v: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, v.to_bytes(16, "big"))


def synthesise(n4: int, n6: int, seed: int = 1) -> tuple[list[str], list[str]]:
    """``ip route`` text lines, as ``ip -4 route`` / ``ip -6 route`` print a BGP table."""
    rng = random.Random(seed)
    v4 = ["{}/{} via {} dev {} proto bgp metric 20".format(_ntop4(net), plen, *V4_HOPS[i % 32])
          for i, (net, plen) in enumerate(_prefixes(n4, V4_MIX, 32, rng))]
    v6 = ["{}/{} via {} dev {} proto bgp metric 1024 pref medium".format(_ntop6(net), plen,
                                                                       *V6_HOPS[i % 32])
          for i, (net, plen) in enumerate(_prefixes(n6, V6_MIX, 128, rng))]
    return v4, v6


ADDR_TXT = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host noprefixroute
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff
    inet 10.255.0.1/16 brd 10.255.255.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet6 2001:db8:ffff::1/64 scope global
       valid_lft forever preferred_lft forever
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000
    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
    inet 10.254.0.1/16 brd 10.254.255.255 scope global eth1
       valid_lft forever preferred_lft forever
    inet6 2001:db8:fffe::1/64 scope global
       valid_lft forever preferred_lft forever
"""
RULE_TXT = "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
RULE6_TXT = "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n"


def write_bundle(directory: Path, v4: list[str], v6: list[str]) -> None:
    """A bundle as ``wgexplain capture`` writes one (routes of main only, like ``ip route``)."""
    # the gateways' own connected routes, as the kernel lists them
    v4 = ["10.255.0.0/16 dev eth0 proto kernel scope link src 10.255.0.1",
          "10.254.0.0/16 dev eth1 proto kernel scope link src 10.254.0.1", *v4]
    v6 = ["2001:db8:ffff::/64 dev eth0 proto kernel metric 256 pref medium",
          "2001:db8:fffe::/64 dev eth1 proto kernel metric 256 pref medium", *v6]
    (directory / "ip-route.txt").write_text("\n".join(v4) + "\n")
    (directory / "ip6-route.txt").write_text("\n".join(v6) + "\n")
    (directory / "ip-addr.txt").write_text(ADDR_TXT)
    (directory / "ip-rule.txt").write_text(RULE_TXT)
    (directory / "ip6-rule.txt").write_text(RULE6_TXT)


def random_dsts(n: int, seed: int, v6_share: float = 0.2) -> list[Flow]:
    rng = random.Random(seed)
    out: list[Flow] = []
    for _ in range(n):
        if rng.random() < v6_share:
            out.append(Flow(ipaddress.IPv6Address((0x2 << 125) | rng.getrandbits(125))))
        else:
            out.append(Flow(ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))))
    return out


def bench_simulator(bundle: Path, flows: list[Flow], seed: int = 7) -> dict[str, float]:
    """Load, FIB build and lookup rates; each rate on its own flows (the first lookup of
    a route builds its ``Route`` object, so no rate is measured on routes another warmed)."""
    import wgexplain
    from wgexplain.kernel import route as sim

    gc.collect()
    rss0 = _rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    host = wgexplain.load(str(bundle))
    t1, c1 = time.perf_counter(), time.process_time()
    prepare = getattr(sim, "prepare", None)  # the FIB build, when exposed
    if prepare is not None:
        host = prepare(host) or host
    else:
        sim.lookup(host, flows[0])  # the first lookup builds (and caches) the tables
    t2, c2 = time.perf_counter(), time.process_time()
    rss1 = _rss_mb()
    devs = 0
    lookup = sim.lookup
    t3, c3 = time.perf_counter(), time.process_time()
    for f in flows:  # with the steps explained, as `route` does (results not kept)
        if lookup(host, f).dev:
            devs += 1
    t4, c4 = time.perf_counter(), time.process_time()
    out = {"parse": t1 - t0, "fib_build": t2 - t1, "load": t2 - t0, "load_cpu": c2 - c0,
           "rss_mb": rss1 - rss0, "lookups": len(flows), "lookup_s": t4 - t3,
           "per_s": len(flows) / (t4 - t3), "per_cpu_s": len(flows) / (c4 - c3),
           "answered": devs, "routes": len(host.routes)}
    n = len(flows)

    def rate(fn: Callable[[Flow], object], k: int) -> tuple[float, float]:
        fl = random_dsts(n, seed=seed + k)
        t, c = time.perf_counter(), time.process_time()
        for f in fl:
            fn(f)
        return n / (time.perf_counter() - t), n / (time.process_time() - c)

    # the decision alone, without the explanation
    out["bare_per_s"], out["bare_per_cpu_s"] = rate(
        lambda f: sim.lookup(host, f, explain=False), 1)
    line = getattr(sim, "json_line", None) or (
        lambda r: json.dumps(r.to_json(), ensure_ascii=False))
    # what `route --batch` prints: the JSON line, steps told (their sentences written)
    out["json_per_s"], out["json_per_cpu_s"] = rate(lambda f: line(sim.lookup(host, f)), 2)
    # the like of `ip -j route get`: the decision as a JSON line, no steps
    out["bare_json_per_s"], out["bare_json_per_cpu_s"] = rate(
        lambda f: line(sim.lookup(host, f, explain=False)), 3)
    # the general path: the result as a dict, then json.dumps()
    out["dict_json_per_s"], out["dict_json_per_cpu_s"] = rate(
        lambda f: json.dumps(sim.lookup(host, f).to_json(), ensure_ascii=False), 4)
    # `wgexplain route SOURCE --batch FILE` end to end: its loop on `route get DST` lines
    from wgexplain.cli import run_batch

    batch = bundle / "batch.txt"
    batch.write_text("".join(f"route get {f.dst}\n" for f in random_dsts(n, seed=seed + 5)))
    sink = io.StringIO()
    t, c = time.perf_counter(), time.process_time()
    done = run_batch(host, str(batch), sink)
    out["batch_per_s"] = done / (time.perf_counter() - t)
    out["batch_per_cpu_s"] = done / (time.process_time() - c)
    batch.unlink()
    out["rss_after_mb"] = _rss_mb() - rss0
    return out


def tracemalloc_sample(bundle: Path, share: float = 0.1) -> float:
    """tracemalloc peak (MB) of reading a ``share`` of the routes, scaled to the whole."""
    from wgexplain.sources.iproute_route import parse_routes_text

    text4 = (bundle / "ip-route.txt").read_text().splitlines()
    text6 = (bundle / "ip6-route.txt").read_text().splitlines()
    s4 = "\n".join(text4[: int(len(text4) * share)])
    s6 = "\n".join(text6[: int(len(text6) * share)])
    gc.collect()
    tracemalloc.start()
    r4 = parse_routes_text(s4, "ip-route.txt")
    r6 = parse_routes_text(s6, "ip6-route.txt")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del r4, r6
    return peak / share / 2**20


def bench_kernel(v4: list[str], v6: list[str], flows: list[Flow], budget_s: float) -> dict[str, float]:
    from wgexplain.lab.kernel import route_get
    from wgexplain.lab.netns import Lab, lab_available

    ok, why = lab_available()
    if not ok:
        return {"skipped": 1.0, "why": why}  # type: ignore[dict-item]
    out: dict[str, float] = {}
    with Lab("bench") as lab:
        ns = lab.netns("fib")
        peer = lab.netns("fibp")
        setup = ["link set lo up"]
        for i, dev in enumerate(DEVS):
            setup += [f"link add {dev} type veth peer name p{i} netns {peer}",
                      f"link set {dev} addrgenmode none", f"link set {dev} up"]
        lab.ip(ns, "-batch", "-", input="\n".join(setup) + "\n")
        lab.ip(peer, "-batch", "-", input="".join(f"link set p{i} up\n" for i in range(2)))
        lab.ip(ns, "-batch", "-", input="addr add 10.255.0.1/16 dev eth0\n"
               "addr add 10.254.0.1/16 dev eth1\naddr add 2001:db8:ffff::1/64 dev eth0 nodad\n"
               "addr add 2001:db8:fffe::1/64 dev eth1 nodad\n")
        # Load a sample first to see whether the whole table fits the budget.
        sample = 50_000
        t0 = time.perf_counter()
        lab.ip(ns, "-batch", "-", input="".join(f"route add {l}\n" for l in v4[:sample]), timeout=600)
        rate = sample / (time.perf_counter() - t0)
        total = len(v4) + len(v6)
        if total / rate > budget_s:
            keep = max(sample, int(rate * budget_s))
            n4 = min(len(v4), int(keep * len(v4) / total))
            n6 = min(len(v6), keep - n4)
            out["subset"] = 1.0
        else:
            n4, n6 = len(v4), len(v6)
        t1 = time.perf_counter()
        # chunks: one ip process for a million lines grows to gigabytes of RSS
        todo = v4[sample:n4] + v6[:n6]
        for i in range(0, len(todo), 100_000):
            lab.ip(ns, "-batch", "-", input="".join(f"route add {l}\n" for l in todo[i:i + 100_000]),
                   timeout=1200)
        out["load_s"] = (time.perf_counter() - t1) + sample / rate
        out["routes_v4"] = n4
        out["routes_v6"] = n6
        out["add_per_s"] = (n4 + n6) / out["load_s"]
        ru0, c2 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        t2 = time.perf_counter()
        answers = route_get(ns, flows, lab=lab)
        t3 = time.perf_counter()
        ru1, c3 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        out["lookup_s"] = t3 - t2
        out["per_s"] = len(flows) / (t3 - t2)
        # CPU: the ip process (its user time, and the kernel's route lookups as its system
        # time) plus this process reading ip's answers
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime) + (c3 - c2)
        out["per_cpu_s"] = len(flows) / cpu
        out["answered"] = sum(1 for a in answers if a.get("dev"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--v4", type=int, default=1_000_000)
    ap.add_argument("--v6", type=int, default=200_000)
    ap.add_argument("--lookups", type=int, default=100_000)
    ap.add_argument("--kernel-budget", type=float, default=120.0,
                    help="seconds allowed for loading routes into the kernel (else a subset)")
    ap.add_argument("--no-kernel", action="store_true")
    args = ap.parse_args()

    t = time.perf_counter()
    v4, v6 = synthesise(args.v4, args.v6)
    print(f"synthesised {len(v4):,} IPv4 + {len(v6):,} IPv6 routes in {time.perf_counter() - t:.1f} s")
    flows = random_dsts(args.lookups, seed=7)
    with tempfile.TemporaryDirectory(prefix="wgx-bench-") as tmp:
        bundle = Path(tmp)
        write_bundle(bundle, v4, v6)
        size = sum(f.stat().st_size for f in bundle.iterdir()) / 2**20
        print(f"bundle: {size:.0f} MB of ip route text in {bundle}")
        sim = bench_simulator(bundle, flows)
        peak = tracemalloc_sample(bundle)
    print(f"simulator load: {sim['load']:.2f} s (reading {sim['parse']:.2f} s + FIB build "
          f"{sim['fib_build']:.2f} s; CPU {sim['load_cpu']:.2f} s) for {sim['routes']:,} routes; "
          f"RSS +{sim['rss_mb']:.0f} MB (+{sim['rss_after_mb']:.0f} MB after the lookups built "
          f"the routes they met); tracemalloc peak of the reader ≈ {peak:.0f} MB (scaled from "
          "a 10 % sample)")
    kern = {} if args.no_kernel else bench_kernel(v4, v6, flows, args.kernel_budget)
    if "why" in kern:
        print(f"kernel: skipped ({kern['why']})")
        kern = {}
    if kern:
        sub = " (SUBSET: the full load would exceed the budget)" if kern.get("subset") else ""
        print(f"kernel load: {kern['load_s']:.1f} s for {int(kern['routes_v4']):,} IPv4 + "
              f"{int(kern['routes_v6']):,} IPv6 routes via ip -batch route add "
              f"({kern['add_per_s']:,.0f}/s){sub}")
    print(f"\n{args.lookups:,} random destinations (20 % IPv6); rates per second of wall-clock "
          "time, and per second of CPU time (steadier on a busy machine; the kernel's CPU is the "
          "ip process's user + system time plus reading its answers)")
    print(f"{'':44}{'simulator':>12}{'(CPU)':>10}{'kernel (ip -batch)':>20}{'(CPU)':>10}")
    kw = f"{kern['per_s']:,.0f}" if kern else "-"
    kc = f"{kern['per_cpu_s']:,.0f}" if kern else "-"
    print(f"{'lookups/s, explained (steps told when read)':44}{sim['per_s']:>12,.0f}"
          f"{sim['per_cpu_s']:>10,.0f}{kw:>20}{kc:>10}")
    kpl = f"{1e6 / kern['per_s']:.1f} µs" if kern else "-"
    print(f"{'per lookup, explained':44}{1e6 / sim['per_s']:>9.1f} µs{'':>10}{kpl:>20}")
    rows = (("lookups/s, explain=False", "bare_per_s", "bare_per_cpu_s"),
            ("lookups/s, explain=False, JSON line", "bare_json_per_s", "bare_json_per_cpu_s"),
            ("lookups/s, explained, JSON line with steps", "json_per_s", "json_per_cpu_s"),
            ("  the same via to_json() + json.dumps()", "dict_json_per_s", "dict_json_per_cpu_s"),
            ("route --batch end to end (lines/s)", "batch_per_s", "batch_per_cpu_s"))
    for label, k, kcpu in rows:
        print(f"{label:44}{sim[k]:>12,.0f}{sim[kcpu]:>10,.0f}")
    print(f"{'answered with a device':44}{sim['answered']:>12,}{'':>10}"
          f"{int(kern['answered']) if kern else 0:>20,}")
    if kern:
        print("\nsimulator / kernel speed ratio, wall (CPU): "
              + ", ".join(f"{sim[k] / kern['per_s']:.2f}x ({sim[kc2] / kern['per_cpu_s']:.2f}x) "
                          f"{label}" for label, k, kc2 in (
                              ("explained", "per_s", "per_cpu_s"),
                              ("explain=False", "bare_per_s", "bare_per_cpu_s"),
                              ("explain=False as JSON (the like of ip -j route get)",
                               "bare_json_per_s", "bare_json_per_cpu_s"),
                              ("explained as JSON with steps", "json_per_s", "json_per_cpu_s"),
                              ("route --batch end to end", "batch_per_s", "batch_per_cpu_s"))))
    print(f"targets: load ≤ 3 s -> {'met' if sim['load'] <= 3 else 'NOT met'} "
          f"({sim['load']:.2f} s wall, {sim['load_cpu']:.2f} s CPU)")
    if kern:
        for label, k, kc2 in (("explained", "per_s", "per_cpu_s"),
                              ("explain=False", "bare_per_s", "bare_per_cpu_s"),
                              ("explain=False, JSON", "bare_json_per_s", "bare_json_per_cpu_s"),
                              ("explained, JSON with steps", "json_per_s", "json_per_cpu_s"),
                              ("route --batch end to end", "batch_per_s", "batch_per_cpu_s")):
            print(f"         faster per lookup than the kernel via ip -batch ({label}) -> "
                  f"wall {'met' if sim[k] > kern['per_s'] else 'NOT met'}, "
                  f"CPU {'met' if sim[kc2] > kern['per_cpu_s'] else 'NOT met'}")


if __name__ == "__main__":
    main()
