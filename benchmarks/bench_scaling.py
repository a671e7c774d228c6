"""Benchmark: does every command grow linearly with the size of what was pasted?

For each dimension of a paste (rules, routes, addresses, links, nft rules, set
elements, line length, empty commands) it generates a pasted session with
1,000, 10,000 and 100,000 of that thing (everything else small), runs
``show``, ``route``, ``trace`` and ``check`` on it through the command line
(in-process, one fresh load per command, as a user's run does), and prints
the CPU time of each (``time.process_time()``: this process only, so that
other work on a shared machine does not distort the fit; the wall time is
printed beside it) and the fitted exponent: the log-log slope of the CPU
time from the smallest to the largest size (1.0 = linear, 2.0 = quadratic). It also prints
the size of each command's output, so an explanation that grows with the
input (rather than being summarised) shows. The 100,000-interface ``show``
is the case issue 10 measured at 204 s for 30,000.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_scaling.py [--sizes 1000,10000,100000]
[--dims rules,links] [--commands show,route] [--timeout 600]``.
It prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BASE_ADDR = """\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0
       valid_lft forever preferred_lft forever
3: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN group default qlen 1000
    link/none
    inet 10.64.0.2/32 scope global wg0
       valid_lft forever preferred_lft forever
"""
BASE_RULES = ["0:\tfrom all lookup local", "32764:\tfrom all lookup main suppress_prefixlength 0",
              "32765:\tnot from all fwmark 0xca6c lookup 51820", "32766:\tfrom all lookup main",
              "32767:\tfrom all lookup default"]
BASE_ROUTES = ["default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.10 metric 100",
               "192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.10 metric 100"]
WG = ("wg0\tSJ8rOsdpiAK0FVB8iVaVbqYSoHQBWPb0nt35LVUSwnQ=\tJWMHwxh6LgjJa9yyeXxbkfAuvMdxtmV2p0vnZxz9zRI="
      "\t51820\t0xca6c\n"
      "wg0\tAQ+1OBUHZQeHDvHxg3a6l3hxcQpe2BvzJUCc6w8XdhQ=\t(none)\t198.51.100.7:51820\t0.0.0.0/0"
      "\t0\t0\t0\toff\n")
NFT_HEAD = "table inet filter {\n"


def _v4(i: int, base: int = 10 << 24) -> str:
    n = base + i + 1
    return f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def session(rules: list[str] | None = None, routes: list[str] | None = None,
            addr: str = BASE_ADDR, nft: str | None = None, extra: str = "") -> str:
    """A pasted session: prompts, ip rule / route / addr, wg, nft, and ``extra``."""
    parts = ["Here is my setup:\n", extra,
             "$ ip rule\n", "\n".join(BASE_RULES[:1] + (rules or []) + BASE_RULES[1:]), "\n",
             "$ ip route show table all\n", "\n".join(BASE_ROUTES + (routes or [])), "\n",
             "default dev wg0 table 51820 proto static\n",
             "$ ip addr\n", addr,
             "$ sudo wg show all dump\n", WG]
    if nft is not None:
        parts += ["$ sudo nft list ruleset\n", nft]
    return "".join(parts)


def gen_rules(n: int) -> str:
    """n rules that a lookup of 1.1.1.1 walks past without matching."""
    return session(rules=[f"{100 + i}:\tfrom {_v4(i)} lookup 100" for i in range(n)])


def gen_routes(n: int) -> str:
    return session(routes=[f"{_v4(i, 172 << 24 | 16 << 16)} via 192.168.1.1 dev eth0 proto static"
                           for i in range(n)])


def gen_addresses(n: int) -> str:
    lines = [BASE_ADDR]
    for i in range(n):
        lines.append(f"    inet {_v4(i, 10 << 24 | 200 << 16)}/32 scope global wg0\n"
                     "       valid_lft forever preferred_lft forever\n")
    return session(addr="".join(lines))


def gen_links(n: int) -> str:
    lines = [BASE_ADDR]
    for i in range(n):
        mac = f"52:54:{i >> 24 & 255:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        lines.append(f"{i + 4}: veth{i}@if{i + 3}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc "
                     "noqueue state UP group default qlen 1000\n"
                     f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff link-netnsid 0\n"
                     f"    inet {_v4(i, 10 << 24 | 100 << 16)}/32 scope global veth{i}\n"
                     "       valid_lft forever preferred_lft forever\n")
    return session(addr="".join(lines))


def _nft(chain_rules: list[str], sets: str = "") -> str:
    return (NFT_HEAD + sets + "\tchain output {\n\t\ttype filter hook output priority filter; "
            "policy accept;\n" + "".join(f"\t\t{r}\n" for r in chain_rules) + "\t}\n}\n")


def gen_nft_rules(n: int) -> str:
    """n rules in the output chain, none matching the traced packet: the walk visits all."""
    return session(nft=_nft([f"ip daddr {_v4(i, 10 << 24 | 50 << 16)} tcp dport {1 + i % 60000} "
                             "counter drop" for i in range(n)]))


def gen_set_elements(n: int) -> str:
    """One set of n elements (written a few per line, as nft prints it) used by one rule."""
    elems = [_v4(i, 10 << 24 | 60 << 16) for i in range(n)]
    lines = ",\n\t\t\t     ".join(", ".join(elems[i:i + 4]) for i in range(0, n, 4))
    sets = ("\tset blocked {\n\t\ttype ipv4_addr\n\t\telements = { " + lines + " }\n\t}\n")
    return session(nft=_nft(["ip daddr @blocked counter drop"], sets))


def gen_line_length(n: int) -> str:
    """One prose line and one command word of 10·n characters each."""
    return session(extra="x" * (10 * n) + "\n" + "$ echo " + "y" * (10 * n) + "\n" + "y" * 10 + "\n")


def gen_empty_commands(n: int) -> str:
    """n ``ip route`` commands without output (each one a 'no output' warning)."""
    return session(extra="".join("$ ip -6 route show table 7\n" for _ in range(n)))


DIMENSIONS: dict[str, Callable[[int], str]] = {
    "rules": gen_rules, "routes": gen_routes, "addresses": gen_addresses, "links": gen_links,
    "nft-rules": gen_nft_rules, "set-elements": gen_set_elements,
    "line-length": gen_line_length, "empty-commands": gen_empty_commands,
}
COMMANDS: dict[str, list[str]] = {
    "show": ["show", "{src}"],
    "route": ["route", "{src}", "1.1.1.1"],
    "trace": ["trace", "{src}", "1.1.1.1", "--proto", "tcp", "--dport", "443"],
    "check": ["check", "{src}"],
}


def run(cmd: list[str], src: str) -> tuple[float, float, int, int]:
    """CPU time, wall time, exit code and output size of one command, in-process."""
    from click.testing import CliRunner

    from wgexplain.cli import main

    gc.collect()
    args = [a.format(src=src) for a in cmd]
    c0, t0 = time.process_time(), time.perf_counter()
    res = CliRunner().invoke(main, args, catch_exceptions=True)
    cpu, dt = time.process_time() - c0, time.perf_counter() - t0
    if res.exit_code not in (0, 3):
        sys.stderr.write(f"  {' '.join(args[:1])} exit {res.exit_code}: "
                         f"{(res.stderr or res.output)[-300:]}\n")
    return cpu, dt, res.exit_code, len(res.stdout)


def slope(sizes: list[int], times: list[float]) -> float:
    """The log-log slope between the smallest and the largest size (NaN for one size)."""
    if len(sizes) < 2 or sizes[-1] == sizes[0]:
        return math.nan
    t0, t1 = max(times[0], 1e-3), max(times[-1], 1e-3)
    return math.log(t1 / t0) / math.log(sizes[-1] / sizes[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--dims", default=",".join(DIMENSIONS))
    ap.add_argument("--commands", default=",".join(COMMANDS))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dims = args.dims.split(",")
    commands = args.commands.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="wgx-bench-") as tmp:
        warm = Path(tmp) / "warm-up.txt"  # imports and caches once, outside the figures
        warm.write_text(session(nft=_nft(["ip daddr 10.9.9.9 drop"])))
        for c in commands:
            run(COMMANDS[c], str(warm))
        for dim in dims:
            for n in sizes:
                path = Path(tmp) / f"{dim}-{n}.txt"
                path.write_text(DIMENSIONS[dim](n))
                for c in commands:
                    cpu, dt, rc, size = run(COMMANDS[c], str(path))
                    rows.append((dim, c, n, cpu, rc, size, dt))
                    print(f"  {dim:15} {c:6} n={n:>7,}  cpu {cpu:8.2f} s  wall {dt:8.2f} s  "
                          f"exit {rc}  output {size:>10,} B", flush=True)
                path.unlink()
    print()
    print("CPU seconds per command and size; exponent = log-log slope, smallest to largest")
    print(f"{'dimension':15} {'command':7} " + " ".join(f"{n:>9,}" for n in sizes)
          + "   exponent   output at largest")
    worst = 0.0
    for dim in dims:
        for c in commands:
            times = [r[3] for r in rows if r[0] == dim and r[1] == c]
            out = [r[5] for r in rows if r[0] == dim and r[1] == c][-1]
            e = slope(sizes, times)
            worst = max(worst, e)
            print(f"{dim:15} {c:7} " + " ".join(f"{t:8.2f}s" for t in times)
                  + f"   {e:8.2f}   {out:>12,} B")
    print(f"\nlargest exponent: {worst:.2f} (target: <= 1.2)")
    links = [r for r in rows if r[0] == "links" and r[1] == "show"]
    if links:
        print(f"show on {links[-1][2]:,} interfaces: {links[-1][3]:.1f} s CPU "
              f"({links[-1][6]:.1f} s wall)")


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "100")
    main()
