"""``python -m fuzz`` (``scripts/fuzz``): many inputs, the count, every crash group shrunk.

    scripts/fuzz [-n 100000] [-j 2] [--seed 1] [--timeout 10] [--save DIR] [--report FILE]

Worker processes each run one input at a time; a worker that does not
answer within ``2 x timeout`` of CPU time (a hang the alarm cannot interrupt) is
killed, the input counted as a hang, and a new worker started. At the end,
each crash group (exception type x innermost ``wgexplain`` frame) is
printed with its count and a reproducer shrunk from its smallest input.
Exit status 0 when there were no crashes, hangs or leaks, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))


def _worker(conn: Any, run_seed: int, timeout: float) -> None:
    from fuzz.cases import make_case
    from fuzz.seeds import all_seeds
    from fuzz.target import run_case

    seeds = all_seeds()
    while True:
        i = conn.recv()
        if i is None:
            from fuzz.target import _WORKDIR
            import shutil

            for d in _WORKDIR.values():
                shutil.rmtree(d, ignore_errors=True)
            return
        try:
            case = make_case(run_seed, i, seeds)
        except Exception as e:  # noqa: BLE001 - a bug of the fuzzer itself, not of wgexplain
            conn.send((i, "harness", "", None, f"{type(e).__name__}: {e}", 0, [], False))
            continue
        o = run_case(case, timeout=timeout, seed=i)
        conn.send((i, o.status, o.stage, o.key, o.detail, len(case.data), o.leaks, o.redacted))


class _Proc:
    def __init__(self, ctx: Any, run_seed: int, timeout: float) -> None:
        self.conn, child = ctx.Pipe()
        self.p = ctx.Process(target=_worker, args=(child, run_seed, timeout), daemon=True)
        self.p.start()
        self.job: int | None = None
        self.since = 0.0
        self.cpu0 = 0.0

    def give(self, i: int) -> None:
        self.job = i
        self.since = time.monotonic()
        self.cpu0 = self.cpu()
        self.conn.send(i)

    def cpu(self) -> float:
        """The worker's CPU time so far (user + system), in seconds."""
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def stuck(self, timeout: float) -> bool:
        """No answer after 2 x timeout of CPU time (the alarm could not interrupt it), or
        after an hour of waiting."""
        return self.cpu() - self.cpu0 > 2 * timeout or time.monotonic() - self.since > 3600

    def kill(self) -> None:
        self.p.kill()
        self.p.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="inputs to run")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=1, help="run seed (inputs are a function of it)")
    ap.add_argument("--start", type=int, default=0, help="first input number")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds before a hang")
    ap.add_argument("--shrink", type=float, default=30.0, help="seconds to shrink each group")
    ap.add_argument("--save", type=Path, help="write each group's reproducer into this directory")
    ap.add_argument("--report", type=Path, help="write the figures as JSON to this file")
    args = ap.parse_args(argv)

    from fuzz.cases import make_case
    from fuzz.seeds import all_seeds
    from fuzz.target import minimise, reproducer

    seeds = all_seeds()
    print(f"fuzz: {len(seeds)} seeds, {args.n} inputs, {args.jobs} workers, seed {args.seed}",
          flush=True)
    ctx = mp.get_context("fork")
    procs = [_Proc(ctx, args.seed, args.timeout) for _ in range(max(1, args.jobs))]
    todo = iter(range(args.start, args.start + args.n))
    status: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    groups: dict[Any, dict[str, Any]] = {}
    leak_groups: dict[str, dict[str, Any]] = {}
    done = 0
    redacted = 0
    leak_cases = 0
    t0 = time.monotonic()
    last = t0

    def record(i: int, st: str, stage: str, key: Any, detail: str, size: int,
               lk: list[str], red: bool) -> None:
        nonlocal done, redacted, leak_cases
        done += 1
        status[st] += 1
        redacted += red
        if st in ("crash", "hang"):
            stages[stage] += 1
            if tuple(key) not in groups:
                print(f"fuzz: new group {key[0]} at {key[1]} ({stage}), input #{i}: {detail}",
                      flush=True)
            g = groups.setdefault(tuple(key), {"count": 0, "stage": stage, "detail": detail,
                                               "best": (size, i)})
            g["count"] += 1
            g["best"] = min(g["best"], (size, i))
        if lk:
            leak_cases += 1
            for item in lk:
                kind = item.split(":", 1)[0]
                if kind not in leak_groups:
                    print(f"fuzz: new leak {item} (input #{i})", flush=True)
                lg = leak_groups.setdefault(kind, {"count": 0, "examples": [], "best": (size, i)})
                lg["count"] += 1
                if len(lg["examples"]) < 5 and item not in lg["examples"]:
                    lg["examples"].append(item)
                lg["best"] = min(lg["best"], (size, i))

    for p in procs:
        i = next(todo, None)
        if i is not None:
            p.give(i)
    from multiprocessing.connection import wait

    while any(p.job is not None for p in procs):
        ready = wait([p.conn for p in procs if p.job is not None], timeout=1.0)
        for p in procs:
            if p.job is None:
                continue
            if p.conn in ready:
                try:
                    msg = p.conn.recv()
                except EOFError:  # the worker died (a crash of the interpreter itself)
                    record(p.job, "crash", "?", ("WorkerDied", "?"), "the worker process died",
                           0, [], False)
                    p.kill()
                    procs[procs.index(p)] = p = _Proc(ctx, args.seed, args.timeout)
                else:
                    record(*msg)
            elif p.stuck(args.timeout):
                record(p.job, "hang", "?", ("Hang", "uninterruptible"),
                       f"no answer after {2 * args.timeout:g} s of CPU time", 0, [], False)
                p.kill()
                procs[procs.index(p)] = p = _Proc(ctx, args.seed, args.timeout)
            else:
                continue
            i = next(todo, None)
            p.job = None
            if i is not None:
                p.give(i)
        now = time.monotonic()
        if now - last > 30:
            last = now
            print(f"fuzz: {done} inputs in {now - t0:.0f} s: {dict(status)}, "
                  f"{len(groups)} crash groups, {leak_cases} leaking", flush=True)
    for p in procs:
        p.conn.send(None)
        p.p.join(timeout=5)
    elapsed = time.monotonic() - t0

    print(f"\nfuzz: {done} inputs in {elapsed:.0f} s ({done / max(elapsed, 1e-9):.0f}/s): "
          f"{status['read']} read, {status['refused']} refused (exit 2), "
          f"{status['crash']} internal errors, {status['hang']} hangs over {args.timeout:g} s; "
          f"{redacted} redacted, {leak_cases} with a redaction leak"
          + (f"; {status['harness']} inputs the fuzzer itself failed to make" if status["harness"]
             else ""))
    if stages:
        print("crashes by stage: " + ", ".join(f"{k} {v}" for k, v in stages.most_common()))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    out_groups = []
    for n, (key, g) in enumerate(sorted(groups.items(), key=lambda kv: -kv[1]["count"]), 1):
        case = make_case(args.seed, g["best"][1], seeds)
        small = minimise(case, key, budget=args.shrink, timeout=args.timeout) \
            if key[0] != "Hang" or key[1] != "uninterruptible" else case
        print(f"\n[{n}] {key[0]} at {key[1]} ({g['stage']}): {g['count']} inputs")
        print(f"    {g['detail']}")
        print(f"    from {case.origin}, input #{g['best'][1]}; shrunk to {len(small.data)} bytes:")
        rep = reproducer(small)
        print(f"    {rep if len(rep) <= 600 else rep[:600] + f'... ({len(rep)} characters)'}")
        if args.save:
            (args.save / f"crash-{n}-{small.name}").write_bytes(small.data)
        out_groups.append({"type": key[0], "where": key[1], "stage": g["stage"],
                           "count": g["count"], "detail": g["detail"], "input": g["best"][1],
                           "reproducer": reproducer(small)[:20000]})
    for kind, lg in sorted(leak_groups.items()):
        case = make_case(args.seed, lg["best"][1], seeds)
        print(f"\n[leak] {kind}: {lg['count']} times, e.g. {', '.join(lg['examples'])}; "
              f"from {case.origin}, input #{lg['best'][1]}")
    if args.report:
        args.report.write_text(json.dumps({
            "inputs": done, "seconds": round(elapsed), "status": dict(status),
            "internal_errors": status["crash"], "hangs": status["hang"],
            "redacted": redacted, "leaking_inputs": leak_cases,
            "leaks": {k: {"count": v["count"], "examples": v["examples"]}
                      for k, v in leak_groups.items()},
            "groups": out_groups, "seed": args.seed, "start": args.start}, indent=1))
    return 0 if not groups and not leak_groups else 1


if __name__ == "__main__":
    sys.exit(main())
