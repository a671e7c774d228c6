"""Benchmark: reading pastes without prompts grows linearly (issue 9, issue 10).

For each shape a person pastes -- routes with a prompt, the same routes bare,
inside a Markdown fence, as an e-mail quote, prose between many small
fenced listings, hidden addresses on every line, and one very long word on a
command line -- it builds a paste of 1,000 / 10,000 / 100,000 lines, reads it
with ``wgexplain.sources.load_raw`` (the reader alone, no derivation), and
prints the wall time and the fitted exponent (log-log slope from the smallest
to the largest size: 1.0 = linear, 2.0 = quadratic).

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_paste.py [--sizes 1000,10000,100000]``.
It prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wgexplain.sources import load_raw  # noqa: E402


def _route(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} via 192.168.1.1 dev eth0 proto bgp metric 20"


def session(n: int) -> str:
    return "$ ip route\n" + "\n".join(_route(i) for i in range(n)) + "\n"


def bare(n: int) -> str:
    return "\n".join(_route(i) for i in range(n)) + "\n"


def fenced(n: int) -> str:
    return "### Routes\n\nHere they are:\n\n```console\n" + bare(n) + "```\n\nThanks!\n"


def quoted(n: int) -> str:
    return "On Mon, Bob wrote:\n" + "".join("> " + _route(i) + "\n" for i in range(n))


def prose(n: int) -> str:
    out = []
    for i in range(n // 4):
        out += [f"Paragraph {i} about the problem, in words.", "```",
                f"{i}:\tfrom all lookup main", "```"]
    return "\n".join(out) + "\n"


def hidden(n: int) -> str:
    return "```\n" + "\n".join(f"10.{(i >> 8) & 255}.{i & 255}.0/24 via x.x.x.x dev eth0"
                               for i in range(n)) + "\n```\n"


def long_word(n: int) -> str:
    return "$ ip route show table " + "a" * (n * 10) + "\ndefault dev wg0 scope link\n"


SHAPES: dict[str, Callable[[int], str]] = {
    "session": session, "bare": bare, "fenced": fenced, "quoted": quoted, "prose": prose,
    "hidden": hidden, "long word (10 chars/unit)": long_word,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"{'shape':28}" + "".join(f"{n:>12,}" for n in sizes) + "   exponent")
    for name, make in SHAPES.items():
        times = []
        for n in sizes:
            text = make(n)
            gc.collect()
            t = time.perf_counter()
            try:
                load_raw("bench.md", text=text)
            except Exception as e:  # a refusal is a result too: its time counts
                if type(e).__name__ != "DumpError":
                    raise
            times.append(time.perf_counter() - t)
        slope = (math.log(times[-1] / times[0]) / math.log(sizes[-1] / sizes[0])
                 if times[0] > 0 and len(sizes) > 1 else float("nan"))
        print(f"{name:28}" + "".join(f"{t:11.2f}s" for t in times) + f"   {slope:8.2f}")


if __name__ == "__main__":
    main()
