"""Regression tests for the bugs the type checker found (see tests/test_types.py).

- ``nft -j`` input whose ``map``/``vmap`` data is neither an anonymous set nor
  ``"@name"`` was accepted and crashed the trace later (``'str' object has no
  attribute 'elements'``, an internal error, exit 1): it is now a one-line
  DumpError naming file:line (exit 2), as libnftables refuses it.
- A JSON real number (``1.5``) was accepted as an nftables value and compared as
  one; libnftables' JSON parser has no such expression: now a DumpError.
- ``verify``'s text rendering of route disagreements and real probes (the
  loop variable of one table was reused by the next; rendered here without root).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from wgexplain.cli import main
from wgexplain.errors import DumpError
from wgexplain.lab.kernel import route_get_line
from wgexplain.lab.parity import Disagreement, ParityReport
from wgexplain.lab.verify import ProbeOutcome, VerifyReport, categories, render
from wgexplain.model import Flow
from wgexplain.sources import nft

ROOT = Path(__file__).resolve().parent.parent
MULLVAD = ROOT / "examples" / "mullvad" / "bundle"

MARK = {"meta": {"key": "mark"}}
BAD_RULES = {
    "vmap to a bare word": [{"vmap": {"key": MARK, "data": "foo"}}],
    "map to a bare word": [{"mangle": {"key": MARK, "value": {"map": {"key": MARK,
                                                                       "data": "foo"}}}}],
    "map to a number": [{"mangle": {"key": MARK, "value": {"map": {"key": MARK, "data": 7}}}}],
    "a real number": [{"match": {"op": "==", "left": MARK, "right": 1.5}}, {"drop": None}],
    "a real zero": [{"match": {"op": "==", "left": MARK, "right": 0.0}}, {"drop": None}],
}


def _ruleset(rule: list[object]) -> str:
    """A one-rule ``nft -j list ruleset`` document, one JSON object per line."""
    objs = [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5",
                      "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "t", "handle": 1}},
        {"chain": {"family": "inet", "table": "t", "name": "out", "handle": 1, "type": "filter",
                   "hook": "output", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "inet", "table": "t", "chain": "out", "handle": 2, "expr": rule}},
    ]
    return '{"nftables": [\n' + ",\n".join(json.dumps(o) for o in objs) + "\n]}\n"


@pytest.mark.parametrize("name", sorted(BAD_RULES))
def test_nft_json_refuses_what_libnftables_refuses(name: str) -> None:
    with pytest.raises(DumpError) as exc:
        nft.parse_ruleset_json(_ruleset(BAD_RULES[name]), "nft-ruleset.json")
    assert exc.value.file == "nft-ruleset.json"
    assert exc.value.line == 5  # the rule's line
    assert "nftables JSON" in exc.value.expected


def test_nft_json_still_reads_maps_and_vmaps() -> None:
    good = [{"vmap": {"key": MARK, "data": {"set": [[1, {"accept": None}]]}}},
            {"mangle": {"key": MARK, "value": {"map": {"key": MARK, "data": "@m"}}}}]
    rs = nft.parse_ruleset_json(_ruleset(good), "ok.json")
    text = rs.tables[0].chains[0].rules[0].text
    assert "vmap { 0x00000001 : accept }" in text and "map @m" in text


@pytest.mark.parametrize("name", ["vmap to a bare word", "a real number"])
def test_trace_with_such_a_ruleset_is_exit_2_not_an_internal_error(name: str,
                                                                   tmp_path: Path) -> None:
    for f in ("ip-rule.txt", "ip-route.txt", "ip-addr.txt"):
        shutil.copy(MULLVAD / f, tmp_path / f)
    (tmp_path / "nft-ruleset.json").write_text(_ruleset(BAD_RULES[name]))
    res = CliRunner().invoke(main, ["trace", str(tmp_path), "1.1.1.1"])
    assert res.exit_code == 2, res.output
    assert "nft-ruleset.json:5: expected nftables JSON" in res.output
    assert "internal error" not in res.output


def test_verify_renders_disagreements_and_probes_in_text() -> None:
    ip = ipaddress.ip_address
    flows = [Flow(ip("1.1.1.1")), Flow(ip("1.1.1.2"), mark=5)]
    bad = Disagreement(flows[1], route_get_line(flows[1]), ("dev",), {"dev": "eth0"},
                       {"dev": "wg0"})
    routes = ParityReport(flows=2, agree=1, disagreements=(bad,))
    probes = (ProbeOutcome("dns", "DNS to the tunnel's resolver", "wgexplain trace B 10.64.0.1",
                           {"path": "tunnel", "seen_src": "10.64.0.2"},
                           {"path": "direct", "errno": "ENOKEY"}, ("path",)),
              ProbeOutcome("web", "HTTPS to the internet", "wgexplain trace B 198.51.100.10",
                           {"path": "tunnel"}, {"path": "tunnel"}, ()))
    report = VerifyReport("B", routes, categories(flows, routes), probes=probes)
    console = Console(record=True, width=160)
    render(report, console)
    out = console.export_text()
    assert "route decisions: 1/2 agree (50.0%)" in out
    assert "real probes: 1/2 agree (50.0%)" in out
    assert "to 1.1.1.2 mark 0x5" in out and "dev=eth0" in out and "dev=wg0" in out
    assert "no (path)" in out
    assert "server saw 10.64.0.2" in out and "errno ENOKEY" in out
    assert "wgexplain trace B 10.64.0.1" in out
