"""Input number -> input: every case is rebuilt from (run seed, number) alone."""

from __future__ import annotations

import random
import re

from fuzz.mutate import colourise, encode, mutate
from fuzz.seeds import Seed, all_seeds
from fuzz.target import STAGES, Case


def _dashed_macs(text: str) -> str:
    return re.sub(r"\b([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):"
                  r"([0-9a-f]{2})\b", lambda m: "-".join(m.groups()).upper(), text)


def leak_case(r: random.Random, seed: Seed) -> Case:
    """A seed as people paste it (colour codes, CRLF, MACs with dashes): nothing sensitive
    may survive ``redact``."""
    text = seed.data.decode("utf-8", "replace")
    if r.random() < 0.7:
        text = colourise(text, r, r.choice((0.2, 0.6, 1.0)))
    if r.random() < 0.2:
        text = text.replace("\n", "\r\n")
    if r.random() < 0.3:
        text = _dashed_macs(text)
    return Case(seed.name, encode(text), "file", ("redact",), True, seed.origin + " (leak)")


def make_case(run_seed: int, i: int, seeds: tuple[Seed, ...] | None = None) -> Case:
    """Input number ``i`` of the run ``run_seed``."""
    seeds = seeds if seeds is not None else all_seeds()
    r = random.Random(run_seed * 1_000_003 + i)
    seed = r.choice(seeds)
    x = r.random()
    if x < 0.08:
        return leak_case(r, seed)
    if x < 0.10:
        return Case(seed.name, seed.data, "file", STAGES, True, seed.origin)
    other = r.choice(seeds).data
    data = mutate(r, seed.data, other)
    name = seed.name
    if r.random() < 0.05:  # the same text read as another kind of file
        name = r.choice(("paste.txt", "ip-rule.json", "ip-route.txt", "ip-addr.json",
                         "wg.txt", "ruleset.nft", "nft-ruleset.json", "sysctl.txt"))
    x = r.random()
    mode = "stdin" if x < 0.12 else "api" if x < 0.2 else "file"
    return Case(name, data, mode, stages(r), False, seed.origin)


def stages(r: random.Random) -> tuple[str, ...]:
    """Every input is read, shown and routed; trace, check and redact (the costly
    stages) run on about half of them each, so that a run covers more inputs."""
    picked = ["load", "show", "route"]
    picked += [s for s, p in (("trace", 0.5), ("check", 0.4), ("redact", 0.4)) if r.random() < p]
    return tuple(picked)
