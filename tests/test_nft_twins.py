"""Chain priorities are numbers, and a bundle's nft text and JSON twins (issue 8 part 2).

The sample ``examples/mullvad-tailscale/bundle-twins`` was made by the real
``nft`` 1.0.6 in a wgx- namespace (``scripts/lab-samples
mullvad-tailscale-twins``): ``nft list ruleset`` and ``nft -j list ruleset``
of one ruleset whose chains spell their priorities ``filter - 10``, ``-100``
(on an input hook, where no name fits) and ``srcnat``. nft's text is the
judge of how a priority is printed, its JSON of the number.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain import cli
from wgexplain import ruleset as rs
from wgexplain.sources import nft

ROOT = Path(__file__).resolve().parents[1]
TWINS = ROOT / "examples" / "mullvad-tailscale" / "bundle-twins"


def _base_chains(r: rs.Ruleset) -> dict[tuple[str, str, str], rs.Chain]:
    return {(c.family, c.table, c.name): c for c in r.base_chains()}


def test_the_twin_bundle_reads_as_one_ruleset() -> None:
    host = wgexplain.load(str(TWINS))
    assert not [w for w in host.warnings if "nft-ruleset" in w], host.warnings
    assert host.ruleset is not None
    chains = _base_chains(host.ruleset)
    assert (chains[("inet", "filter", "input")].priority,
            chains[("inet", "filter", "input")].priority_text) == (-10, "filter - 10")
    assert (chains[("inet", "filter", "early")].priority,
            chains[("inet", "filter", "early")].priority_text) == (-100, "-100")
    assert (chains[("inet", "filter", "postrouting")].priority,
            chains[("inet", "filter", "postrouting")].priority_text) == (100, "srcnat")
    # the kernel runs input chains by priority: early (-100), filter input (-10), then 0
    order = [(c.table, c.name) for c in host.ruleset.base_chains("input")]
    assert order[:2] == [("filter", "early"), ("filter", "input")], order


def test_both_readers_give_nfts_numbers_and_spellings() -> None:
    """Every base chain: the number is ``nft -j``'s ``prio``; the JSON reader spells
    it the way ``nft list`` printed it (``prio2str()``), the text reader keeps the text."""
    text = nft.parse_ruleset_text((TWINS / "nft-ruleset.nft").read_text(), "t")
    from_json = nft.parse_ruleset_json((TWINS / "nft-ruleset.json").read_text(), "j")
    doc = json.loads((TWINS / "nft-ruleset.json").read_text())
    prios = {(c["family"], c["table"], c["name"]): c["prio"]
             for c in (i["chain"] for i in doc["nftables"] if "chain" in i) if "hook" in c}
    tc, jc = _base_chains(text), _base_chains(from_json)
    assert set(tc) == set(jc) == set(prios) and len(prios) == 12
    for key, prio in prios.items():
        assert tc[key].priority == jc[key].priority == prio, key
        assert jc[key].priority_text == tc[key].priority_text, key
    assert nft.ruleset_difference(text, from_json) is None


@pytest.mark.parametrize("family, text, hook, expected", [
    ("inet", "filter - 10", "input", -10),
    ("inet", "filter-10", "input", -10),
    ("inet", "-100", "input", -100),
    ("inet", "srcnat", "postrouting", 100),
    ("inet", "srcnat", "input", 100),
    ("ip", "dstnat", "output", -100),
    ("inet", "mangle + 0x10", "output", -134),
    ("bridge", "out", "output", 100),
    ("netdev", "filter", "ingress", 0),
    ("inet", -2147483648, "input", -2147483648),
])
def test_priority_names_resolve_per_family_and_hook(family: str, text: str | int, hook: str,
                                                    expected: int) -> None:
    assert rs.resolve_priority(family, text, hook) == expected


@pytest.mark.parametrize("family, text, hook", [
    ("inet", "dstnat", "input"),       # nft: 'dstnat' is invalid priority in this context
    ("inet", "srcnat", "prerouting"),
    ("bridge", "out", "input"),
    ("netdev", "mangle", "ingress"),
    ("arp", "raw", "input"),
    ("inet", "filter - x", "input"),
    ("inet", "2147483648", "input"),   # beyond the kernel's signed 32 bits
    ("inet", [], "input"),             # a JSON "prio": [] (issue 10)
    ("inet", True, "input"),
    ("inet", "1²", "input"),
])
def test_priorities_nft_refuses_are_refused(family: str, text: object, hook: str) -> None:
    with pytest.raises(ValueError):
        rs.resolve_priority(family, text, hook)  # type: ignore[arg-type]


def test_priority_text_is_nfts_prio2str() -> None:
    assert rs.priority_text("inet", "input", -100) == "-100"
    assert rs.priority_text("inet", "prerouting", -100) == "dstnat"
    assert rs.priority_text("inet", "output", -10) == "filter - 10"
    assert rs.priority_text("inet", "input", 45) == "security - 5"
    assert rs.priority_text("inet", "prerouting", -199) == "-199"
    assert rs.priority_text("bridge", "postrouting", 300) == "srcnat"
    assert rs.priority_text("netdev", "ingress", -500) == "-500"


def _twins(tmp_path: Path, edit_text: tuple[str, str] | None = None) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(TWINS, out)
    if edit_text:
        path = out / "nft-ruleset.nft"
        old = path.read_text()
        assert edit_text[0] in old
        path.write_text(old.replace(edit_text[0], edit_text[1], 1))
    return out


def test_twins_that_disagree_cost_a_warning_and_the_json_is_read(tmp_path: Path) -> None:
    bundle = _twins(tmp_path, ("\t\tudp dport 41641 accept\n\t}\n\n\tchain postrouting",
                               "\t\tudp dport 41642 accept\n\t}\n\n\tchain postrouting"))
    host = wgexplain.load(str(bundle))
    warns = [w for w in host.warnings if "not the same ruleset" in w]
    assert len(warns) == 1, host.warnings
    assert "table inet filter: chain input rule 3 differs" in warns[0]
    assert "nft-ruleset.nft:126" in warns[0] and "nft-ruleset.json" in warns[0]
    assert host.ruleset is not None
    rule = host.ruleset.table("inet", "filter").chain("input").rules[2]  # type: ignore[union-attr]
    assert rule.text == "udp dport 41641 accept" and rule.origin.file.endswith("nft-ruleset.json")
    res = CliRunner().invoke(cli.main, ["show", str(bundle)])
    assert res.exit_code == 0 and "not the same ruleset" in res.output


def test_a_chain_only_in_one_twin_is_named(tmp_path: Path) -> None:
    bundle = _twins(tmp_path, ("type filter hook input priority -100; policy accept;",
                               "type filter hook input priority -101; policy accept;"))
    host = wgexplain.load(str(bundle))
    warns = [w for w in host.warnings if "not the same ruleset" in w]
    assert len(warns) == 1 and "chain early differs" in warns[0], host.warnings
    assert host.ruleset.table("inet", "filter").chain("early").priority == -100  # type: ignore[union-attr]


def test_counters_that_ticked_between_the_two_listings_are_the_same_ruleset(tmp_path: Path) -> None:
    bundle = _twins(tmp_path, ('iifname "tailscale0" counter packets 0 bytes 0',
                               'iifname "tailscale0" counter packets 12 bytes 3456'))
    host = wgexplain.load(str(bundle))
    assert not [w for w in host.warnings if "nft-ruleset" in w], host.warnings


def test_a_packet_crosses_the_chains_in_priority_order() -> None:
    res = CliRunner().invoke(cli.main, ["trace", str(TWINS), "192.168.44.83", "--direction", "in",
                                        "--iif", "wlp0s20f3", "--from", "192.168.44.1",
                                        "--proto", "udp", "--dport", "41641", "--json"])
    assert res.exit_code == 0, res.output
    chains = [(s.get("table"), s.get("chain")) for s in json.loads(res.output)["steps"]
              if s.get("stage") == "hook" and s.get("hook") == "input"]
    seen = list(dict.fromkeys(chains))
    assert seen.index(("inet filter", "early")) < seen.index(("inet filter", "input")) \
        < seen.index(("inet mullvad", "input")), seen


def test_one_unreadable_twin_costs_a_warning_and_the_other_is_read(tmp_path: Path) -> None:
    bundle = _twins(tmp_path)
    (bundle / "nft-ruleset.json").write_text('{"nftables": [{"chain": {"family": "inet", "prio": []}}]}')
    host = wgexplain.load(str(bundle))
    warns = [w for w in host.warnings if "read " in w and "alone" in w]
    assert len(warns) == 1 and "nft-ruleset.json:1: expected" in warns[0], host.warnings
    assert host.ruleset is not None and host.ruleset.origin.file.endswith("nft-ruleset.nft")

    bundle = _twins(tmp_path / "2", ("table inet filter {", "table inet filter { {"))
    host = wgexplain.load(str(bundle))
    warns = [w for w in host.warnings if "alone" in w]
    assert len(warns) == 1 and "nft-ruleset.nft:" in warns[0], host.warnings
    assert host.ruleset is not None and host.ruleset.origin.file.endswith("nft-ruleset.json")
    assert len(host.ruleset.tables) == 4


def test_two_unreadable_twins_refuse_the_bundle(tmp_path: Path) -> None:
    bundle = _twins(tmp_path, ("table inet filter {", "table inet filter { {"))
    (bundle / "nft-ruleset.json").write_text("{")
    res = CliRunner().invoke(cli.main, ["show", str(bundle)])
    assert res.exit_code == 2 and "nft-ruleset.nft:" in res.stderr, res.output
