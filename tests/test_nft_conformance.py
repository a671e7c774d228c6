"""Conformance with nftables' own test corpus (../shared/corpus/nftables).

The figures come from benchmarks/nft_conformance.py, which also prints them
and documents the normalisations used when comparing text with JSON.
Skipped when the corpus is not beside the repository.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nftables"

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
