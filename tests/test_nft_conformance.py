"""Conformance with nftables' own test corpus (../shared/corpus/nftables).

The figures come from benchmarks/nft_conformance.py, which also prints them
and documents the normalisations used when comparing text with JSON.
Skipped when the corpus is not beside the repository.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/corpus/nftables beside the repository; WGEXPLAIN_NFT_CORPUS names another place
#: (a git worktree elsewhere)
CORPUS = Path(os.environ.get("WGEXPLAIN_NFT_CORPUS") or ROOT.parent / "shared" / "corpus" / "nftables")

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"nftables corpus not found at {CORPUS}")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nft_conformance", ROOT / "benchmarks" / "nft_conformance.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def figures():  # type: ignore[no-untyped-def]
    return _bench().run(CORPUS)


def test_corpus_is_the_expected_one(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures.dumps_total >= 150
    assert figures.ok_total >= 1500
    assert figures.json_total >= 1400
    assert figures.fail_total >= 150


def test_every_dump_parses(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures.dump_errors == []
    assert figures.dumps_ok == figures.dumps_total


def test_ok_rules_parse(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures.ok_parsed / figures.ok_total >= 0.99, figures.ok_errors[:10]


def test_text_and_json_give_the_same_model(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures.json_same / figures.json_total >= 0.99, figures.json_diffs[:5]


def test_fail_rules_never_crash(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures.fail_crashes == []
    assert figures.fail_clean == figures.fail_total
    assert figures.fail_rejected > 0  # some are refused with file:line, not all silently accepted


def test_the_comparison_can_fail() -> None:
    """The text≡JSON comparison is not vacuous: different rules differ."""
    from wgexplain.sources import nft

    bench = _bench()
    a = nft.parse_rule_text("ip saddr 10.0.0.1 accept").exprs
    b = nft.parse_rule_json([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                        "right": "10.0.0.2"}}, {"accept": None}]).exprs
    assert not bench.same_model(a, b)
    c = nft.parse_rule_json([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                        "right": "10.0.0.1"}}, {"accept": None}]).exprs
    assert bench.same_model(a, c)
    # documented normalisations: sets unordered, numeric vs symbolic constants
    assert bench.same_model(nft.parse_rule_text("tcp dport { 22, 80 }").exprs,
                            nft.parse_rule_text("tcp dport { 80, 22 }").exprs)
    assert bench.same_model(nft.parse_rule_text("ip protocol 6").exprs,
                            nft.parse_rule_text("ip protocol tcp").exprs)
    assert not bench.same_model(nft.parse_rule_text("ip protocol 17").exprs,
                                nft.parse_rule_text("ip protocol tcp").exprs)


# ---------------------------------------------------------------------------
# Every corpus dump through the whole CLI (issue 8 part 5: a valid ruleset
# must never end in an internal error)
# ---------------------------------------------------------------------------

#: The host the traces run on: the wg-quick sample (eth0 192.168.1.50/24,
#: fd00:1::50/64, full tunnel on wgq0), forwarding on, its ruleset replaced.
HOST = ROOT / "examples" / "wg-quick" / "bundle"
#: What nft 1.0.6 lists as the set/map types of the corpus dumps that once crashed
#: ``show`` (``typeof`` of raw payload, osf, vlan id, ipsec ...): loaded with
#: ``nft -f`` in a wgx- namespace, read back with ``nft -j list ruleset``.
TYPEOF_TYPES = {
    "maps/dumps/typeof_integer_0.nft": {"m1": (("integer", "integer"), "verdict"),
                                        "m2": (("integer", "integer"), "verdict")},
    "maps/dumps/typeof_maps_0.nft": {"m1": ("string", "mark"), "m2": ("integer", "mark"),
                                     "m3": (("ipv4_addr", "ipv4_addr"), "mark"),
                                     "m4": (("ifname", "inet_proto", "inet_service"), "verdict"),
                                     "m5": (("integer", "ifname"), "verdict")},
    "maps/dumps/typeof_raw_0.nft": {"y": (("ipv4_addr", "integer"), "verdict")},
    "sets/dumps/typeof_raw_0.nft": {"y": (("ipv4_addr", "integer"), None)},
    "sets/dumps/typeof_sets_0.nft": {"s1": ("string", None), "s2": ("integer", None),
                                     "s9": ("integer", None),
                                     "s10": (("ifname", "ipv4_addr", "integer"), None),
                                     "s11": (("integer", "ipv4_addr"), None)},
}


def test_typeof_sets_have_nfts_datatypes() -> None:
    from wgexplain.ruleset import Map
    from wgexplain.sources import nft

    for rel, want in TYPEOF_TYPES.items():
        path = CORPUS / "shell" / "testcases" / rel
        rs = nft.parse_ruleset_text(path.read_text(), str(path))
        got = {s.name: (s.type, s.map if isinstance(s, Map) else None)
               for t in rs.tables for s in (*t.sets, *t.maps) if s.name in want}
        assert got == want, rel


def _trace_args(family: str, hook: str | None) -> list[str]:
    """A packet whose path crosses ``hook`` on the wg-quick host."""
    v6 = family == "ip6"
    remote = "2001:db8:9::9" if v6 else "203.0.113.9"
    out_dst = "2001:db8:7::7" if v6 else "198.51.100.7"
    local = "fd00:1::50" if v6 else "192.168.1.50"
    ports = ["--proto", "tcp", "--sport", "40000", "--dport", "22", "--json"]
    if hook in ("output", "postrouting"):
        return [out_dst, *ports]
    if hook == "forward":
        return [out_dst, "--direction", "forward", "--iif", "eth0", "--from", remote, *ports]
    return [local, "--direction", "in", "--iif", "eth0", "--from", remote, *ports]


def _steps(trace: dict) -> list[dict]:
    out = list(trace.get("steps", []))
    if trace.get("encapsulated"):
        out += _steps(trace["encapsulated"])
    return out


def test_every_dump_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``show`` on each corpus dump (exit 0), then a ``trace`` through each of its
    base chains on a real host (never exit 1), all in-process. The traces
    of one dump share its parsed ruleset (the rulesets are immutable): the
    parse itself is what ``show`` exercised."""
    import functools
    import json

    from click.testing import CliRunner

    from wgexplain import cli
    from wgexplain.sources import nft

    host = tmp_path / "host"
    shutil.copytree(HOST, host)
    sysctl = (host / "sysctl.txt").read_text()
    (host / "sysctl.txt").write_text(sysctl.replace("ip_forward = 0", "ip_forward = 1")
                                     .replace("forwarding = 0", "forwarding = 1"))
    monkeypatch.setattr(nft, "parse_ruleset_text",
                        functools.lru_cache(maxsize=2)(nft.parse_ruleset_text))
    runner = CliRunner()
    dumps = sorted((CORPUS / "shell" / "testcases").glob("*/dumps/*.nft"))
    shown, traces, ip_chains, visited = 0, 0, 0, 0
    failures: list[str] = []
    for path in dumps:
        res = runner.invoke(cli.main, ["show", str(path)])
        if res.exit_code != 0:
            failures.append(f"show {path}: exit {res.exit_code}: {res.output[-300:]}")
            continue
        shown += 1
        text = path.read_text()
        (host / "nft-ruleset.nft").write_text(text)
        for c in nft.parse_ruleset_text(text, str(host / "nft-ruleset.nft")).base_chains():
            res = runner.invoke(cli.main, ["trace", str(host), *_trace_args(c.family, c.hook)])
            traces += 1
            if res.exit_code != 0:
                failures.append(f"trace {path} chain {c.family} {c.table} {c.name} "
                                f"(hook {c.hook}): exit {res.exit_code}: {res.output[-300:]}")
                continue
            if c.family in ("ip", "ip6", "inet"):
                ip_chains += 1
                visited += any(s.get("chain") == c.name and s.get("table") == f"{c.family} {c.table}"
                               for s in _steps(json.loads(res.output)))
    print(f"corpus through the CLI: show {shown}/{len(dumps)} exit 0; {traces} traces, "
          f"{visited}/{ip_chains} IP base chains crossed")
    assert failures == []
    assert shown == len(dumps) >= 150
    assert traces >= 400
    # the packets really cross the chains they were made for (the rest stop
    # earlier, at a drop in a chain of higher priority)
    assert visited >= 0.95 * ip_chains
