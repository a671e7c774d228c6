"""The nftables model (wgexplain/ruleset.py): priorities, constants, helpers."""

from __future__ import annotations

import pytest

from wgexplain import ruleset as rs
from wgexplain.sources import nft


@pytest.mark.parametrize(("family", "text", "expected"), [
    ("inet", "filter", 0),
    ("inet", "mangle", -150),
    ("ip", "raw", -300),
    ("ip6", "security", 50),
    ("inet", "srcnat", 100),
    ("inet", "dstnat", -100),
    ("inet", "filter + 10", 10),
    ("inet", "mangle - 5", -155),
    ("inet", "-199", -199),
    ("inet", "0x10", 16),
    ("bridge", "filter", -200),
    ("bridge", "out", 100),
    ("bridge", "srcnat", 300),
    ("bridge", "dstnat", -300),
    ("bridge", "filter - 1", -201),
    ("netdev", -500, -500),
])
def test_resolve_priority_like_nft(family: str, text: str | int, expected: int) -> None:
    assert rs.resolve_priority(family, text) == expected


def test_unknown_priority_name_is_refused() -> None:
    with pytest.raises(ValueError, match="out"):
        rs.resolve_priority("inet", "out")  # bridge-only name


def test_constants_resolve_to_kernel_numbers() -> None:
    assert rs.resolve_constant(rs.Ct("state"), rs.FlagList(("established", "related"))) == 2 | 4
    assert rs.resolve_constant(rs.Payload("icmpv6", "type"), "nd-router-solicit") == 133
    assert rs.resolve_constant(rs.Payload("icmpv6", "code"), "no-route") == 0
    assert rs.resolve_constant(rs.Meta("l4proto"), "udp") == 17
    assert rs.resolve_constant(rs.Meta("pkttype"), "broadcast") == 1
    assert rs.resolve_constant(rs.Payload("tcp", "flags"), rs.FlagList(("syn", "ack"))) == 0x12
    assert rs.resolve_constant(rs.Meta("l4proto"), rs.SetLiteral(("tcp", "udp"))) == rs.SetLiteral((6, 17))
    assert rs.resolve_constant(rs.Meta("mark"), "x") == "x"  # no table: unchanged
    assert rs.resolve_constant(rs.Ct("state"), "nonsense") == "nonsense"


def test_bitmask_left_operands() -> None:
    assert rs.is_bitmask(rs.Ct("state"))
    assert rs.is_bitmask(rs.Payload("tcp", "flags"))
    assert not rs.is_bitmask(rs.Ct("mark"))
    assert not rs.is_bitmask(rs.Meta("mark"))


SAMPLE = """\
table inet t {
	set s {
		type ipv4_addr
		elements = { 10.0.0.1, 10.0.0.2 }
	}

	map m {
		type inet_service : verdict
		elements = { 22 : accept }
	}

	chain late {
		type filter hook output priority filter + 10; policy drop;
		accept
	}

	chain early {
		type route hook output priority mangle; policy accept;
		meta mark set 1
	}

	chain helper {
		foo_unknown_is_not_here accept
	}
}
table ip u {
	chain raw_out {
		type filter hook output priority raw; policy accept;
	}
}
"""


def test_base_chains_in_kernel_order_and_lookups() -> None:
    rs_ = nft.parse_ruleset_text(SAMPLE.replace("\t\tfoo_unknown_is_not_here accept\n", ""), "s.nft")
    order = [(c.table, c.name, c.priority) for c in rs_.base_chains("output")]
    assert order == [("u", "raw_out", -300), ("t", "early", -150), ("t", "late", 10)]
    t = rs_.table("inet", "t")
    assert t is not None and t.chain("helper") is not None and not t.chain("helper").is_base
    assert t.chain("late").effective_policy == "drop"
    assert isinstance(t.set("@s"), rs.Set) and isinstance(t.set("m"), rs.Map)
    assert t.set("nope") is None
    assert rs_.table("ip", "t") is None


def test_summary_lists_tables_chains_sets_and_rules_with_lines() -> None:
    text = SAMPLE.replace("\t\tfoo_unknown_is_not_here accept\n", "")
    lines = nft.parse_ruleset_text(text, "s.nft").summary()
    assert lines[0] == "table inet t"
    assert "  set s: type ipv4_addr, 2 elements" in lines
    assert "  map m: inet_service : verdict, 1 elements" in lines
    assert any(line.startswith("  chain late: type filter hook output priority filter + 10 (10); "
                               "policy drop") for line in lines)
    assert "    meta mark set 1   [s.nft:19]" in lines


def test_unmodelled_statements_are_kept_and_listed() -> None:
    rule = nft.parse_rule_text("ip saddr 10.0.0.1 tproxy ip to 127.0.0.1:8080")
    assert isinstance(rule.exprs[-1], rs.Unknown) and rule.exprs[-1].kind == "tproxy"
    ruleset = rs.Ruleset((rs.Table("ip", "x", (rs.Chain("c", "x", "ip", rules=(rule,)),)),))
    assert [(r.text, kind) for r, kind in ruleset.unmodelled()] == [(rule.text, "tproxy")]
    # the JSON keeps the statement, nothing dropped
    assert nft.rule_to_json(rule)[-1] == {"tproxy": {"family": "ip", "addr": "127.0.0.1", "port": 8080}}


def test_model_is_frozen_and_hashable() -> None:
    rule = nft.parse_rule_text("ip saddr { 10.0.0.1, 10.0.0.2 } ct state established,related accept")
    with pytest.raises(AttributeError):
        rule.handle = 3  # type: ignore[misc]
    assert hash(rule.exprs) == hash(nft.parse_rule_text(rule.text).exprs)
