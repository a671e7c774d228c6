"""The inputs mutations start from.

Each seed is a file name (what decides the reader: a bundle file name like
``ip-rule.json``, a pasted session ``paste.txt``, a ruleset ``*.nft``) and
its bytes. Bundles are also joined into one pasted session (``$ ip rule``,
``$ ip route show table all``...), so that a mutated seed still reaches
``route``, ``trace`` and ``check`` with a whole machine behind it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KERNEL_SEEDS = Path(__file__).resolve().parent / "seeds"
PASTES = ROOT / "tests" / "pastes"
CORPUS = ROOT.parent / "shared" / "corpus" / "nftables"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus/nftables")

#: bundle file -> the command a pasted session shows for it
SESSION_COMMANDS = {
    "ip-rule.txt": "ip rule", "ip6-rule.txt": "ip -6 rule",
    "ip-rule.json": "ip -j rule", "ip6-rule.json": "ip -6 -j rule",
    "ip-route.txt": "ip route show table all", "ip6-route.txt": "ip -6 route show table all",
    "ip-route.json": "ip -j route show table all",
    "ip6-route.json": "ip -6 -j route show table all",
    "ip-addr.txt": "ip addr", "ip-addr.json": "ip -j addr",
    "ip-link.txt": "ip link", "ip-link.json": "ip -j link",
    "nft-ruleset.nft": "nft list ruleset", "nft-ruleset.json": "nft -j list ruleset",
    "wg.txt": "wg show all dump", "sysctl.txt": "sysctl -a",
}


@dataclass(frozen=True)
class Seed:
    name: str      #: the file name the input is read as (decides the reader)
    data: bytes
    origin: str    #: where it came from (for reports)


def _bundle_session(files: dict[str, bytes], prompt: str) -> bytes:
    parts = []
    for fname, cmd in SESSION_COMMANDS.items():
        if fname in files:
            body = files[fname].decode("utf-8", "replace").rstrip("\n")
            if fname == "wg.txt" and "\t" not in body:
                cmd = "wg show"
            parts.append(f"{prompt}{cmd}\n{body}\n")
    return "\n".join(parts).encode()


def _bundles(root: Path) -> list[tuple[Path, dict[str, bytes]]]:
    out = []
    for d in sorted({p.parent for p in root.rglob("*") if p.name in SESSION_COMMANDS}):
        files = {p.name: p.read_bytes() for p in sorted(d.iterdir())
                 if p.is_file() and p.name in SESSION_COMMANDS}
        out.append((d, files))
    return out


@functools.lru_cache(maxsize=None)
def all_seeds(corpus_limit: int | None = None) -> tuple[Seed, ...]:
    """Every seed found (the corpus dumps: at most ``corpus_limit``)."""
    seeds: list[Seed] = []
    prompts = ("$ ", "user@laptop:~$ ", "[root@gw ~]# ", "root@box:/# ")
    for root in (EXAMPLES, KERNEL_SEEDS):
        if not root.is_dir():
            continue
        for i, (d, files) in enumerate(_bundles(root)):
            rel = d.relative_to(ROOT)
            for fname, data in files.items():
                seeds.append(Seed(fname, data, f"{rel}/{fname}"))
                if fname.endswith(".json"):  # as 'ip -j -p' / 'nft -j' piped to jq print it
                    pretty = json.dumps(json.loads(data), indent=4).encode() + b"\n"
                    seeds.append(Seed(fname, pretty, f"{rel}/{fname} (pretty)"))
            seeds.append(Seed("paste.txt", _bundle_session(files, prompts[i % len(prompts)]),
                              f"{rel} (as a session)"))
    for p in sorted(EXAMPLES.rglob("session-*.txt")):
        seeds.append(Seed("paste.txt", p.read_bytes(), str(p.relative_to(ROOT))))
    if PASTES.is_dir():
        for p in sorted(PASTES.rglob("*")):
            if p.is_file() and p.suffix in ("", ".txt", ".md", ".log", ".nft", ".json") \
                    and p.stat().st_size < 2_000_000:
                seeds.append(Seed("paste.txt" if p.suffix != ".nft" else "ruleset.nft",
                                  p.read_bytes(), str(p.relative_to(ROOT))))
    if CORPUS.is_dir():
        dumps = sorted(CORPUS.glob("shell/testcases/**/dumps/*.nft"))
        if corpus_limit == 0:
            dumps = []
        elif corpus_limit is not None and len(dumps) > corpus_limit:
            step = len(dumps) / corpus_limit
            dumps = [dumps[int(k * step)] for k in range(corpus_limit)]
        for p in dumps:
            seeds.append(Seed("ruleset.nft", p.read_bytes(), f"corpus/{p.relative_to(CORPUS)}"))
    return tuple(seeds)
