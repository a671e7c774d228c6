"""The ``nft list ruleset`` text reader (grammar in wgexplain/sources/nft.lark)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgexplain import ruleset as rs
from wgexplain.errors import DumpError
from wgexplain.sources import nft

ROOT = Path(__file__).resolve().parents[1]
SEED_NFT = ROOT / "examples" / "mullvad" / "bundle" / "nft-ruleset.nft"
SESSION_EN = ROOT / "examples" / "mullvad" / "session-en.txt"
SESSION_JA = ROOT / "examples" / "mullvad" / "session-ja.txt"


def _session_block(path: Path) -> tuple[str, int]:
    """The ``nft list ruleset`` output of a pasted session and its first line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "# nft list ruleset") + 1
    end = next(i for i in range(start, len(lines)) if lines[i] == "}") + 1
    return "\n".join(lines[start:end]) + "\n", start + 1


def test_seed_bundle_ruleset() -> None:
    ruleset = nft.parse_ruleset_text(SEED_NFT.read_text(), "nft-ruleset.nft")
    (table,) = ruleset.tables
    assert (table.family, table.name) == ("inet", "mullvad")
    chains = {c.name: c for c in table.chains}
    assert [(c.name, c.type, c.hook, c.priority, c.policy) for c in table.chains] == [
        ("prerouting", "filter", "prerouting", -199, "accept"),
        ("output", "filter", "output", 0, "drop"),
        ("input", "filter", "input", 0, "drop"),
        ("forward", "filter", "forward", 0, "drop"),
        ("mangle", "route", "output", -150, "accept"),
        ("nat", "nat", "postrouting", 100, "accept"),
    ]
    assert [len(c.rules) for c in table.chains] == [2, 16, 10, 21, 3, 2]
    pre = chains["prerouting"].rules[0]
    assert pre.exprs == (
        rs.Match(rs.Meta("iif"), "!=", "wg-mullvad"),
        rs.Match(rs.Ct("mark"), "==", 0xF41),
        rs.Mangle(rs.Meta("mark"), 0x6D6F6C65),
    )
    assert pre.text == 'iif != "wg-mullvad" ct mark 0x00000f41 meta mark set 0x6d6f6c65'
    assert str(pre.origin) == "nft-ruleset.nft:4"
    mangle = chains["mangle"].rules[2]
    assert mangle.exprs == (
        rs.Match(rs.Meta("cgroup"), "==", 5087041),
        rs.Mangle(rs.Ct("mark"), 0xF41),
        rs.Mangle(rs.Meta("mark"), 0x6D6F6C65),
    )
    out = chains["output"].rules
    assert out[6].exprs[0] == rs.Match(rs.Payload("ip6", "daddr"), "==", rs.Prefix("ff02::1:ff00:0", 104))
    assert out[13].exprs == (rs.Match(rs.Payload("tcp", "dport"), "==", 53), rs.Reject("tcp reset"))
    # a bare reject is made explicit as nft -j lists it (inet: icmpx port-unreachable)
    assert out[15].exprs == (rs.Reject("icmpx", "port-unreachable"),)
    assert out[15].text == "reject"
    inp = chains["input"].rules[8]
    assert rs.Match(rs.Ct("state"), "in", "established") in inp.exprs
    nat = chains["nat"].rules[1]
    assert nat.exprs[-1] == rs.Nat("masquerade")


@pytest.mark.parametrize("path", [SESSION_EN, SESSION_JA], ids=["en", "ja"])
def test_session_block_keeps_the_users_line_numbers(path: Path) -> None:
    text, first = _session_block(path)
    ruleset = nft.parse_ruleset_text(text, path.name, first_line=first)
    bundle = nft.parse_ruleset_text(SEED_NFT.read_text(), "b")
    assert [c.name for c in ruleset.tables[0].chains] == [c.name for c in bundle.tables[0].chains]
    lines = path.read_text(encoding="utf-8").splitlines()
    for chain in ruleset.tables[0].chains:
        assert lines[chain.origin.line - 1].strip().startswith(f"chain {chain.name} ")
        for rule in chain.rules:
            assert " ".join(lines[rule.origin.line - 1].split()) == rule.text
    assert ruleset.tables[0].origin.line == first


LISTING = """\
table inet filter { # handle 4
	counter cnt { # handle 9
		comment "counted"
		packets 3 bytes 180
	}

	set allowed { # handle 5
		type ipv4_addr . inet_service
		flags interval,timeout
		timeout 1h
		size 65535
		elements = { 10.0.0.0/8 . 22 timeout 30m expires 29m59s comment "ssh",
			     192.0.2.0/24 . 80-443 }
	}

	map marks { # handle 6
		typeof ip saddr : meta mark
		elements = { 10.0.0.1 : 0x00000001,
			     10.0.0.2 : 0x00000002 }
	}

	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		comment "the input chain"
		ip saddr . tcp dport @allowed counter packets 12 bytes 720 accept comment "known" # handle 7
		tcp dport vmap { 22 : accept, 23 : drop, 8080 : jump web } # handle 8
		meta mark & 0x0000ff00 == 0x00000100 ip daddr != { 10.1.0.0/16, 10.2.0.1-10.2.0.9 } drop # handle 10
	}

	chain web { # handle 2
		meta mark set ip saddr map @marks return # handle 11
	}
}
"""


def test_full_listing_with_handles_sets_maps_and_comments() -> None:
    ruleset = nft.parse_ruleset_text(LISTING, "l.nft", first_line=10)
    t = ruleset.tables[0]
    assert t.handle == 4 and t.origin.line == 10
    (cnt,) = t.objects
    assert (cnt.kind, cnt.name, cnt.handle, cnt.get("packets"), cnt.get("comment")) == (
        "counter", "cnt", 9, 3, "counted")
    (allowed,) = t.sets
    assert allowed.type == ("ipv4_addr", "inet_service")
    assert allowed.flags == ("interval", "timeout") and allowed.timeout == 3_600_000
    assert allowed.size == 65535 and allowed.handle == 5
    assert allowed.elements == (
        rs.Elem(rs.Concat((rs.Prefix("10.0.0.0", 8), 22)), timeout=1_800_000, expires=1_799_000,
                comment="ssh"),
        rs.Concat((rs.Prefix("192.0.2.0", 24), rs.Range(80, 443))),
    )
    (marks,) = t.maps
    assert (marks.type, marks.map, marks.typeof) == ("ipv4_addr", "mark", "ip saddr : meta mark")
    assert marks.elements == (rs.MapElem("10.0.0.1", 1), rs.MapElem("10.0.0.2", 2))
    inp = t.chain("input")
    assert inp.comment == "the input chain" and inp.handle == 1
    r0, r1, r2 = inp.rules
    assert (r0.handle, r0.comment, r0.origin.line) == (7, "known", 34)
    assert r0.text == 'ip saddr . tcp dport @allowed counter packets 12 bytes 720 accept comment "known"'
    assert r0.exprs == (
        rs.Match(rs.Concat((rs.Payload("ip", "saddr"), rs.Payload("tcp", "dport"))), "==", rs.SetRef("allowed")),
        rs.Counter(12, 720),
        rs.Verdict("accept"),
    )
    assert r1.exprs == (rs.Vmap(rs.Payload("tcp", "dport"), rs.SetLiteral((
        rs.MapElem(22, rs.Verdict("accept")), rs.MapElem(23, rs.Verdict("drop")),
        rs.MapElem(8080, rs.Verdict("jump", "web"))))),)
    assert r2.exprs == (
        rs.Match(rs.Binop("&", rs.Meta("mark"), 0xFF00), "==", 0x100),
        rs.Match(rs.Payload("ip", "daddr"), "!=", rs.SetLiteral((
            rs.Prefix("10.1.0.0", 16), rs.Range("10.2.0.1", "10.2.0.9")))),
        rs.Verdict("drop"),
    )
    web = t.chain("web").rules[0]
    assert web.exprs == (rs.Mangle(rs.Meta("mark"), rs.MapLookup(rs.Payload("ip", "saddr"), rs.SetRef("marks"))),
                         rs.Verdict("return"))


@pytest.mark.parametrize(("text", "expected"), [
    ("ct state established,related accept",
     (rs.Match(rs.Ct("state"), "in", rs.FlagList(("established", "related"))), rs.Verdict("accept"))),
    ("ct state { new, untracked } drop",
     (rs.Match(rs.Ct("state"), "==", rs.SetLiteral(("new", "untracked"))), rs.Verdict("drop"))),
    ("ct state != established", (rs.Match(rs.Ct("state"), "!=", "established"),)),
    ("ct status ! dnat", (rs.Match(rs.Ct("status"), "!", "dnat"),)),
    ("tcp flags ! fin,rst", (rs.Match(rs.Payload("tcp", "flags"), "!", rs.FlagList(("fin", "rst"))),)),
    ("tcp flags syn / fin,syn,rst,ack",
     (rs.Match(rs.Binop("&", rs.Payload("tcp", "flags"), rs.FlagList(("fin", "syn", "rst", "ack"))), "==", "syn"),)),
    ("tcp flags & (syn | ack) == syn | ack",
     (rs.Match(rs.Binop("&", rs.Payload("tcp", "flags"), rs.FlagList(("syn", "ack"))), "==",
               rs.FlagList(("syn", "ack"))),)),
    ("meta mark and 0xff00 == 0x100", (rs.Match(rs.Binop("&", rs.Meta("mark"), 0xFF00), "==", 0x100),)),
    ("ip saddr . ip daddr . tcp dport { 10.0.0.1 . 10.0.0.2 . 22 }",
     (rs.Match(rs.Concat((rs.Payload("ip", "saddr"), rs.Payload("ip", "daddr"), rs.Payload("tcp", "dport"))),
               "==", rs.SetLiteral((rs.Concat(("10.0.0.1", "10.0.0.2", 22)),))),)),
    ("@nh,16,8 0x45", (rs.Match(rs.Payload(None, None, "nh", 16, 8), "==", 0x45),)),
    ("icmpv6 type nd-router-solicit icmpv6 code no-route",
     (rs.Match(rs.Payload("icmpv6", "type"), "==", "nd-router-solicit"),
      rs.Match(rs.Payload("icmpv6", "code"), "==", "no-route"))),
    ("meta l4proto tcp th dport 22", (rs.Match(rs.Meta("l4proto"), "==", "tcp"),
                                       rs.Match(rs.Payload("th", "dport"), "==", 22))),
    ("icmp type redirect accept",  # a keyword (redirect) where only a value fits
     (rs.Match(rs.Payload("icmp", "type"), "==", "redirect"), rs.Verdict("accept"))),
    ("ct original ip saddr 10.0.0.1", (rs.Match(rs.Ct("ip saddr", "original"), "==", "10.0.0.1"),)),
    ("fib saddr . iif oif missing drop",
     (rs.Match(rs.Fib("oif", ("saddr", "iif")), "==", False), rs.Verdict("drop"))),
    ("socket cgroupv2 level 1 \"user.slice\"", (rs.Match(rs.Socket("cgroupv2", 1), "==", "user.slice"),)),
    ("meta mark set ct mark", (rs.Mangle(rs.Meta("mark"), rs.Ct("mark")),)),
    ("ct mark set meta mark & 0xffff", (rs.Mangle(rs.Ct("mark"), rs.Binop("&", rs.Meta("mark"), 0xFFFF)),)),
    ("ct helper set \"ftp\"", (rs.ObjectRef("ct helper", "ftp"),)),
    ("oifname \"eth*\" masquerade random,persistent",
     (rs.Match(rs.Meta("oifname"), "==", "eth*"), rs.Nat("masquerade", flags=("random", "persistent")))),
    ("dnat ip to 10.0.0.1:8080", (rs.Nat("dnat", "10.0.0.1", 8080, family="ip"),)),
    ("redirect to :53", (rs.Nat("redirect", port=53),)),
    ("dnat ip6 to [2001:db8::1]:80", (rs.Nat("dnat", "2001:db8::1", 80, family="ip6"),)),
    ("snat to 10.0.0.1-10.0.0.9:1000-2000", (rs.Nat("snat", rs.Range("10.0.0.1", "10.0.0.9"), rs.Range(1000, 2000)),)),
    ("reject with icmpv6 admin-prohibited", (rs.Reject("icmpv6", "admin-prohibited"),)),
    ("limit rate over 10/second burst 20 packets drop",
     (rs.Limit(10, "second", "packets", 20, None, True), rs.Verdict("drop"))),
    ("limit rate 1 mbytes/second", (rs.Limit(1, "second", "mbytes", 0),)),
    ("log prefix \"in: \" level info flags tcp sequence,options",
     (rs.Log(prefix="in: ", level="info", flags=("tcp sequence", "tcp options")),)),
    ("quota over 10 mbytes used 1 mbytes", (rs.Quota(10, "mbytes", 1, "mbytes", True),)),
    ("update @seen { ip saddr timeout 10s counter }",
     (rs.SetStatement("update", "@seen", rs.Elem(rs.Payload("ip", "saddr"), timeout=10_000),
                      (rs.Counter(0, 0),)),)),
    ("queue flags bypass to 1-3", (rs.Queue(rs.Range(1, 3), ("bypass",)),)),
    ("meta nftrace set 1 notrack", (rs.Mangle(rs.Meta("nftrace"), 1), rs.Notrack())),
    ("jump other", (rs.Verdict("jump", "other"),)),
    ("goto \"quoted name\"", (rs.Verdict("goto", "quoted name"),)),
    ("ether saddr 0:f:54:c:11:4", (rs.Match(rs.Payload("ether", "saddr"), "==", "00:0f:54:0c:11:04"),)),
    ("meta mark 0xffffff00/24", (rs.Match(rs.Meta("mark"), "==", rs.Prefix(0xFFFFFF00, 24)),)),
])
def test_rules_read_as_nft_json_would_give_them(text: str, expected: tuple) -> None:
    assert nft.parse_rule_text(text).exprs == expected


def test_bare_reject_depends_on_the_table_family() -> None:
    assert nft.parse_rule_text("reject", "ip").exprs == (rs.Reject("icmp", "port-unreachable"),)
    assert nft.parse_rule_text("reject", "ip6").exprs == (rs.Reject("icmpv6", "port-unreachable"),)
    assert nft.parse_rule_text("reject", "inet").exprs == (rs.Reject("icmpx", "port-unreachable"),)


def test_chain_binding_becomes_a_named_chain() -> None:
    text = ("table inet x {\n\tchain y {\n\t\ttype filter hook input priority filter; policy accept;\n"
            "\t\ttcp dport 53 jump {\n\t\t\tip saddr 10.0.0.1 accept\n\t\t\tdrop\n\t\t}\n\t}\n}\n")
    t = nft.parse_ruleset_text(text, "b.nft").tables[0]
    assert t.chain("y").rules[0].exprs[-1] == rs.Verdict("jump", "__chain0")
    assert [r.text for r in t.chain("__chain0").rules] == ["ip saddr 10.0.0.1 accept", "drop"]
    assert [r.origin.line for r in t.chain("__chain0").rules] == [5, 6]


def test_priority_spellings_and_netdev_devices() -> None:
    text = """table netdev n {
	chain ingress {
		type filter hook ingress devices = { eth0, "lo" } priority -500; policy accept;
	}
}
table bridge b {
	chain f {
		type filter hook forward priority filter + 10; policy accept;
	}
}
"""
    ruleset = nft.parse_ruleset_text(text, "p.nft")
    ingress = ruleset.tables[0].chains[0]
    assert (ingress.device, ingress.priority, ingress.priority_text) == (("eth0", "lo"), -500, "-500")
    f = ruleset.tables[1].chains[0]
    assert (f.priority, f.priority_text) == (-190, "filter + 10")


@pytest.mark.parametrize(("text", "line", "expected"), [
    ("table inet t {\n\tchain c {\n\t\tip saddr\n\t}\n}\n", 12, "got 'end of line'"),
    ("table inet t {\n\tchain c {\n\t\tip saddr 1.2.3.4 acept\n\t}\n}\n", 12, "acept"),
    ("table inet t {\n\tchain c {\n\t\ttype filter hook input priority bogus; policy drop;\n\t}\n}\n",
     12, "chain priority"),
    ("define lan = 10.0.0.0/8\ntable inet t {\n}\n", 10, "not modelled: 'define'"),
    ('include "other.nft"\n', 10, "not modelled: 'include'"),
    ("table inet t {\n\tchain c {\n\t\tip saddr $lan accept\n\t}\n}\n", 12, "variables"),
    ("table inet t {\n\tchain c {\n", 11, "end of input"),
    ("table inet t {\n\tchain c {\n\t\tip saddr 10.0.0.1 ~ accept\n\t}\n}\n", 12, "~"),
    ("table foo t {\n}\n", 10, "got 't'"),
])
def test_bad_input_is_a_dump_error_with_the_users_line(text: str, line: int, expected: str) -> None:
    with pytest.raises(DumpError) as exc:
        nft.parse_ruleset_text(text, "user.txt", first_line=10)
    err = exc.value
    assert err.file == "user.txt"
    assert err.line in (line, line + 1)  # the line of the error or of the token after it
    assert expected in str(err)


def test_rule_errors() -> None:
    for bad in ("", "ip saddr", "tcp dport vmap", "ip saddr 1.1.1.1 {", "accept accept("):
        with pytest.raises(DumpError):
            nft.parse_rule_text(bad)
    with pytest.raises(DumpError, match="family"):
        nft.parse_rule_text("accept", "ipx")


# --- property: what we render, we read back the same -------------------------

_LEFT = st.sampled_from([
    "ip saddr", "ip6 daddr", "tcp dport", "udp sport", "meta mark", "ct mark", "ct state",
    "meta l4proto", "iifname", "oif", "meta cgroup", "ct status", "tcp flags",
])
_VALUES = {
    "ip saddr": st.sampled_from(["10.0.0.1", "10.0.0.0/8", "198.51.100.1-198.51.100.9"]),
    "ip6 daddr": st.sampled_from(["fe80::/10", "::1", "ff02::1:2"]),
    "tcp dport": st.integers(1, 65535).map(str),
    "udp sport": st.sampled_from(["53", "1000-2000"]),
    "meta mark": st.integers(0, 2**32 - 1).map(lambda n: f"0x{n:08x}"),
    "ct mark": st.integers(0, 2**32 - 1).map(lambda n: f"0x{n:08x}"),
    "ct state": st.sampled_from(["established", "established,related", "new", "invalid"]),
    "meta l4proto": st.sampled_from(["tcp", "udp", "icmp", "ipv6-icmp"]),
    "iifname": st.sampled_from(['"wg-mullvad"', '"eth*"']),
    "oif": st.sampled_from(['"lo"', '"wlp0s20f3"']),
    "meta cgroup": st.integers(0, 2**32 - 1).map(str),
    "ct status": st.sampled_from(["dnat", "snat,dnat"]),
    "tcp flags": st.sampled_from(["syn", "syn,ack", "syn / fin,syn,rst,ack"]),
}


@st.composite
def _rules(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        left = draw(_LEFT)
        op = draw(st.sampled_from(["", "!= "])) if left not in ("tcp flags",) else ""
        value = draw(_VALUES[left])
        if draw(st.booleans()) and "," not in value and "/" not in value:
            value = "{ " + value + ", " + draw(_VALUES[left]).split(",")[0].split(" /")[0] + " }"
        parts.append(f"{left} {op}{value}")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["meta mark set 0x00000001", "ct mark set meta mark",
                                           "counter packets 1 bytes 2", "log prefix \"x\" level warn"])))
    parts.append(draw(st.sampled_from(["accept", "drop", "jump other", "reject with tcp reset",
                                       "masquerade", "return"])))
    return " ".join(parts)


@settings(max_examples=150, deadline=None)
@given(_rules())
def test_render_then_read_gives_the_same_model(text: str) -> None:
    rule = nft.parse_rule_text(text)
    again = nft.parse_rule_text(nft.render_rule(rule))
    assert again.exprs == rule.exprs
    # and through JSON too
    assert nft.parse_rule_json(nft.rule_to_json(rule)).exprs == rule.exprs
