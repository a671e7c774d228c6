"""The ``nft -j list ruleset`` reader, and the model's way back to JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from wgexplain import ruleset as rs
from wgexplain.errors import DumpError
from wgexplain.sources import nft

ROOT = Path(__file__).resolve().parents[1]
SEED_NFT = ROOT / "examples" / "mullvad" / "bundle" / "nft-ruleset.nft"

# Part of what nft 1.0.6 printed for the seed ruleset (nft -j list ruleset in a
# wgx- namespace), one object per line.
SEED_JSON = """{"nftables": [
 {"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}},
 {"table":{"family":"inet","name":"mullvad","handle":5}},
 {"chain":{"family":"inet","table":"mullvad","name":"prerouting","handle":1,"type":"filter","hook":"prerouting","prio":-199,"policy":"accept"}},
 {"chain":{"family":"inet","table":"mullvad","name":"mangle","handle":5,"type":"route","hook":"output","prio":-150,"policy":"accept"}},
 {"chain":{"family":"inet","table":"mullvad","name":"nat","handle":6,"type":"nat","hook":"postrouting","prio":100,"policy":"accept"}},
 {"rule":{"family":"inet","table":"mullvad","chain":"prerouting","handle":7,"expr":[{"match":{"op":"!=","left":{"meta":{"key":"iif"}},"right":"wg-mullvad"}},{"match":{"op":"==","left":{"ct":{"key":"mark"}},"right":3905}},{"mangle":{"key":{"meta":{"key":"mark"}},"value":1836018789}}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"prerouting","handle":8,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"185.195.233.76"}},{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"sport"}},"right":19955}},{"mangle":{"key":{"meta":{"key":"mark"}},"value":1836018789}}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"mangle","handle":56,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oif"}},"right":"wg-mullvad"}},{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":53}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.64.0.1"}},{"accept":null}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"mangle","handle":57,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oif"}},"right":"wg-mullvad"}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":53}},{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.64.0.1"}},{"accept":null}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"mangle","handle":58,"expr":[{"match":{"op":"==","left":{"meta":{"key":"cgroup"}},"right":5087041}},{"mangle":{"key":{"ct":{"key":"mark"}},"value":3905}},{"mangle":{"key":{"meta":{"key":"mark"}},"value":1836018789}}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"nat","handle":59,"expr":[{"match":{"op":"==","left":{"meta":{"key":"oif"}},"right":"wg-mullvad"}},{"match":{"op":"==","left":{"ct":{"key":"mark"}},"right":3905}},{"drop":null}]}},
 {"rule":{"family":"inet","table":"mullvad","chain":"nat","handle":60,"expr":[{"match":{"op":"!=","left":{"meta":{"key":"oif"}},"right":"lo"}},{"match":{"op":"==","left":{"ct":{"key":"mark"}},"right":3905}},{"masquerade":null}]}}
]}
"""


def _strip(x: Any, skip: frozenset[str] = frozenset({"origin", "text", "handle", "priority_text",
                                                      "typeof"})) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple(
            (f.name, _strip(getattr(x, f.name), skip)) for f in dataclasses.fields(x) if f.name not in skip)
    if isinstance(x, tuple):
        return tuple(_strip(v, skip) for v in x)
    return x


def test_seed_json_gives_the_same_model_as_the_seed_text() -> None:
    from_json = nft.parse_ruleset_json(SEED_JSON, "nft-ruleset.json", first_line=20)
    from_text = nft.parse_ruleset_text(SEED_NFT.read_text(), "nft-ruleset.nft")
    jt = from_json.tables[0]
    tt = from_text.tables[0]
    assert [c.name for c in jt.chains] == ["prerouting", "mangle", "nat"]
    for chain in jt.chains:
        assert _strip(chain) == _strip(tt.chain(chain.name))
    # origins: the line of each object in the user's file; handles kept
    assert jt.origin.line == 22 and jt.handle == 5
    assert [r.origin.line for r in jt.chain("prerouting").rules] == [26, 27]
    assert [r.handle for r in jt.chain("nat").rules] == [59, 60]
    # priority spelled as nft lists it
    assert [c.priority_text for c in jt.chains] == ["-199", "mangle", "srcnat"]


def test_rules_from_json_get_the_text_nft_would_list() -> None:
    ruleset = nft.parse_ruleset_json(SEED_JSON, "j")
    texts = {r.handle: r.text for _c, r in ruleset.rules()}
    assert texts[7] == 'iif != "wg-mullvad" ct mark 0x00000f41 meta mark set 0x6d6f6c65'
    assert texts[58] == "meta cgroup 5087041 ct mark set 0x00000f41 meta mark set 0x6d6f6c65"
    assert texts[60] == 'oif != "lo" ct mark 0x00000f41 masquerade'


def test_to_json_round_trip() -> None:
    ruleset = nft.parse_ruleset_text(SEED_NFT.read_text(), "nft-ruleset.nft")
    doc = ruleset.to_json()
    assert doc["nftables"][0] == {"metainfo": {"json_schema_version": 1}}
    again = nft.parse_ruleset_json(json.dumps(doc), "again.json")
    assert _strip(again) == _strip(ruleset)


@pytest.mark.parametrize(("obj", "expected"), [
    ({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}},
     rs.Match(rs.Ct("state"), "in", rs.FlagList(("established", "related")))),
    ({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": {"set": ["new", "untracked"]}}},
     rs.Match(rs.Ct("state"), "==", rs.SetLiteral(("new", "untracked")))),
    ({"match": {"op": "!", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
     rs.Match(rs.Ct("status"), "!", "dnat")),
    ({"match": {"op": "==", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}},
                                             {"|": [{"|": ["fin", "syn"]}, "rst"]}]}, "right": "syn"}},
     rs.Match(rs.Binop("&", rs.Payload("tcp", "flags"), rs.FlagList(("fin", "syn", "rst"))), "==", "syn")),
    ({"counter": None}, rs.Counter(0, 0)),
    ({"counter": "named"}, rs.Counter(name="named")),
    ({"limit": {"rate": 10, "per": "second"}}, rs.Limit(10, "second", "packets", 5)),
    ({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@vm"}}, rs.Vmap(rs.Meta("iifname"), rs.SetRef("vm"))),
    ({"ct helper": "ftp"}, rs.ObjectRef("ct helper", "ftp")),
    ({"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@s"}},
     rs.SetStatement("add", "@s", rs.Payload("ip", "saddr"))),
    ({"snat": {"addr": {"prefix": {"addr": "10.0.0.0", "len": 8}}, "flags": "persistent"}},
     rs.Nat("snat", rs.Prefix("10.0.0.0", 8), flags=("persistent",))),
    ({"xt": {"type": "match", "name": "conntrack"}}, rs.Unknown("xt", '{"xt":{"name":"conntrack","type":"match"}}')),
])
def test_json_statements(obj: dict, expected: rs.Stmt) -> None:
    assert nft.stmt_from_json(obj) == expected


@pytest.mark.parametrize(("text", "line", "expected"), [
    ('{"nftables": [\n{"table": {"family": "inet", "name": "x"}},\n', 3, "valid JSON"),
    ('[1, 2]', 1, '{"nftables": [...]}'),
    ('{"nftables": [\n {"table": {"family": "inet", "name": "x"}},\n {"frob": {"family": "inet"}}\n]}',
     3, "an nftables object"),
    ('{"nftables": [\n {"table": {"family": "nope", "name": "x"}}\n]}', 2, "a family"),
    ('{"nftables": [\n {"rule": {"family": "inet", "table": "x", "chain": "c", "expr": [{"match": {}}]}}\n]}',
     2, "nftables JSON statements"),
    ('{"nftables": [\n {"rule": {"family": "inet", "table": "x", "chain": "c", "expr": []}}\n]}',
     1, "a chain object"),
])
def test_bad_json_is_a_dump_error(text: str, line: int, expected: str) -> None:
    with pytest.raises(DumpError) as exc:
        nft.parse_ruleset_json(text, "r.json", first_line=1)
    assert exc.value.file == "r.json" and exc.value.line == line
    assert expected in str(exc.value)
