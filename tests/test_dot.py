"""The Graphviz diagrams: DOT structure (nodes, edges, attributes), never SVG bytes."""

from __future__ import annotations

import ipaddress
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import pytest

from wgexplain import ruleset as rs
from wgexplain.explain import dot
from wgexplain.model import AF_INET, Flow, Host, Nexthop, Route, Rule

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "mullvad" / "session-en.txt"
MARK = 0x6D6F6C65

# --- reading DOT source back ------------------------------------------------

_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*?>|[^\s\]]+)')
_EDGE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\w+)\s*->\s*("(?:[^"\\]|\\.)*"|\w+)\s*(?:\[(.*)\])?\s*$')
_NODE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\w+)\s*(?:\[(.*)\])?\s*$')


def _unquote(s: str) -> str:
    """A DOT ID as text: quotes removed, ``\\n`` a line break, other escapes literal."""
    if not s.startswith('"'):
        return s
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), s[1:-1])


def _attrs(text: str | None) -> dict[str, str]:
    return {k: _unquote(v) for k, v in _ATTR.findall(text or "")}


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)

    def edge(self, a: str, b: str) -> dict[str, str]:
        found = [e for x, y, e in self.edges if (x, y) == (a, b)]
        assert len(found) == 1, f"expected one edge {a} -> {b}, found {len(found)}"
        return found[0]

    def has_edge(self, a: str, b: str) -> bool:
        return any((x, y) == (a, b) for x, y, _ in self.edges)


def flat(label: str) -> str:
    """A label read as one line: labels wrap to fit a documentation column."""
    return " ".join(label.split("\n"))


def parse(g: graphviz.Digraph) -> Dot:
    """Nodes (with their last attributes), edges and clusters of a Digraph's source."""
    out = Dot()
    for line in g.source.splitlines():
        stripped = line.strip()
        if stripped.startswith("subgraph"):
            m = re.match(r"subgraph\s+(\S+)", stripped)
            if m and m.group(1).startswith("cluster"):
                out.clusters.append(m.group(1))
            continue
        if not stripped or stripped in ("{", "}") or stripped.startswith(("digraph", "graph ", "node ", "edge ")):
            continue
        if (m := _EDGE.match(line)) is not None:
            out.edges.append((_unquote(m.group(1)), _unquote(m.group(2)), _attrs(m.group(3))))
        elif (m := _NODE.match(line)) is not None:
            name = _unquote(m.group(1))
            if name in ("label", "rank", "rankdir", "style", "color", "fontcolor", "fillcolor", "penwidth",
                        "labelloc", "fontsize", "bgcolor", "fontname", "nodesep", "ranksep"):
                continue
            out.nodes.setdefault(name, {}).update(_attrs(m.group(2)))
    return out


def flow(d: Dot, a: str, b: str) -> dict[str, str]:
    """The edge that takes the packet from a to b: a -> b, or b -> a drawn back."""
    if d.has_edge(a, b):
        return d.edge(a, b)
    back = d.edge(b, a)
    assert back.get("dir") == "back"
    return back


def strong(attrs: dict[str, str]) -> bool:
    return attrs.get("penwidth") == dot.STRONG["penwidth"] and attrs.get("color") == dot.STRONG["color"]


def faint(attrs: dict[str, str]) -> bool:
    return attrs.get("color") == dot.FAINT["color"]


# --- a hand-built seed and route results ------------------------------------


@dataclass(frozen=True)
class Step:
    rule: int
    action: str
    result: str
    why: str = ""
    table: int | None = None
    route: Route | None = None


@dataclass(frozen=True)
class Result:
    flow: Flow
    type: str
    dev: str | None
    gateway: Any
    src: Any
    table: int | None
    rule: int | None
    steps: tuple[Step, ...]
    error: str | None = None


def net(s: str) -> Any:
    return ipaddress.ip_network(s)


RULES = (
    Rule(AF_INET, 0, table=255),
    Rule(AF_INET, 32764, table=254, suppress_prefixlength=0),
    Rule(AF_INET, 32765, table=1836018789, invert=True, fwmark=MARK),
    Rule(AF_INET, 32766, table=254),
    Rule(AF_INET, 32767, table=253),
)
DEFAULT_WIFI = Route(AF_INET, 254, net("0.0.0.0/0"), protocol="dhcp", metric=600,
                     prefsrc=ipaddress.ip_address("192.168.44.83"),
                     nexthops=(Nexthop(gateway=ipaddress.ip_address("192.168.44.1"), dev="wlp0s20f3"),))
DEFAULT_WG = Route(AF_INET, 1836018789, net("0.0.0.0/0"), protocol="static", nexthops=(Nexthop(dev="wg-mullvad"),))
HOST = Host(rules=RULES, routes=(DEFAULT_WIFI, DEFAULT_WG), table_names={253: "default", 254: "main", 255: "local"})

TO_1111 = Result(
    flow=Flow(dst=ipaddress.ip_address("1.1.1.1")), type="unicast", dev="wg-mullvad", gateway=None,
    src=ipaddress.ip_address("10.147.23.252"), table=1836018789, rule=32765,
    steps=(
        Step(0, "lookup local", "not found", table=255),
        Step(32764, "lookup main", "suppressed", table=254, route=DEFAULT_WIFI),
        Step(32765, "lookup 1836018789", "matched", table=1836018789, route=DEFAULT_WG),
    ),
)
MARKED = Result(
    flow=Flow(dst=ipaddress.ip_address("185.195.233.76"), mark=MARK), type="unicast", dev="wlp0s20f3",
    gateway=ipaddress.ip_address("192.168.44.1"), src=ipaddress.ip_address("192.168.44.83"), table=254,
    rule=32766,
    steps=(
        Step(0, "lookup local", "not found", table=255),
        Step(32764, "lookup main", "suppressed", table=254, route=DEFAULT_WIFI),
        Step(32765, "lookup 1836018789", "no match"),
        Step(32766, "lookup main", "matched", table=254, route=DEFAULT_WIFI),
    ),
)
REFUSED = Result(
    flow=Flow(dst=ipaddress.ip_address("203.0.113.9")), type="unreachable", dev=None, gateway=None, src=None,
    table=None, rule=None, error="ENETUNREACH",
    steps=(Step(0, "lookup local", "not found", table=255),),
)


# --- the rule ladder ----------------------------------------------------------


def test_ladder_walks_every_rule_in_pref_order() -> None:
    d = parse(dot.rule_ladder(TO_1111, HOST))
    prefs = [0, 32764, 32765, 32766, 32767]
    for pref in prefs:
        assert f"rule_{pref}" in d.nodes
    chain = ["packet"] + [f"rule_{p}" for p in prefs]
    for a, b in zip(chain, chain[1:]):
        assert d.has_edge(a, b)
    assert flat(d.nodes["rule_32765"]["label"]) == "32765: not from all fwmark 0x6d6f6c65 lookup 1836018789"
    assert flat(d.nodes["rule_32764"]["label"]) == "32764: from all lookup main suppress_prefixlength 0"


def test_ladder_path_strong_until_decisive_rule_then_faint() -> None:
    d = parse(dot.rule_ladder(TO_1111, HOST))
    assert strong(d.edge("packet", "rule_0"))
    assert strong(d.edge("rule_32764", "rule_32765"))
    assert faint(d.edge("rule_32765", "rule_32766"))  # never reached
    assert faint(d.edge("rule_32766", "rule_32767"))
    assert faint(d.nodes["rule_32766"]) and faint(d.nodes["rule_32767"])
    assert d.nodes["rule_32765"]["fillcolor"] == dot.MATCH_FILL
    assert strong(d.nodes["rule_32765"])


def test_ladder_suppressed_lookup_is_a_dashed_loop() -> None:
    d = parse(dot.rule_ladder(TO_1111, HOST))
    into = d.edge("rule_32764", "lookup_32764_0")
    back = d.edge("lookup_32764_0", "rule_32764")
    assert into["style"] == "dashed" and back["style"] == "dashed"
    assert back["label"] == "suppressed: /0 ≤ 0"
    assert "default via 192.168.44.1 dev wlp0s20f3" in flat(d.nodes["lookup_32764_0"]["label"])


def test_ladder_final_table_route_device() -> None:
    d = parse(dot.rule_ladder(TO_1111, HOST))
    assert strong(d.edge("rule_32765", "lookup_32765_0"))
    assert flat(d.nodes["lookup_32765_0"]["label"]) == "table 1836018789 default dev wg-mullvad proto static"
    assert strong(d.edge("lookup_32765_0", "outcome"))
    assert d.nodes["outcome"]["label"].startswith("dev wg-mullvad")
    assert "src 10.147.23.252" in d.nodes["outcome"]["label"]


def test_ladder_non_matching_rule_is_faint_but_on_the_path() -> None:
    d = parse(dot.rule_ladder(MARKED, HOST))
    assert faint(d.nodes["rule_32765"])  # the selector did not match (mark set)
    assert strong(d.edge("rule_32765", "rule_32766"))  # the packet passed it
    assert not any(b.startswith("lookup_32765") for _, b, _ in d.edges)
    assert d.nodes["rule_32766"]["fillcolor"] == dot.MATCH_FILL
    assert faint(d.edge("rule_32766", "rule_32767"))
    assert "via 192.168.44.1" in d.nodes["outcome"]["label"]


def test_ladder_refused_lookup_ends_in_errno() -> None:
    d = parse(dot.rule_ladder(REFUSED, HOST))
    assert d.nodes["outcome"]["shape"] == "octagon"
    assert d.nodes["outcome"]["label"].startswith("ENETUNREACH")
    assert d.edges[-1][:2] == ("packet", "outcome")


def test_ladder_is_deterministic() -> None:
    assert dot.rule_ladder(TO_1111, HOST).source == dot.rule_ladder(TO_1111, HOST).source


# --- the journey ----------------------------------------------------------------

OUTER = {
    "verdict": "accept", "direction": "out",
    "egress": {"dev": "wlp0s20f3", "src": "192.168.44.83", "dst": "185.195.233.76", "proto": "udp",
               "dport": 19955, "mark": MARK},
    "encapsulated": None, "exact": True,
    "steps": [
        {"stage": "route", "why": "rule 32766: main, default via 192.168.44.1"},
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 10,
         "text": "ip daddr 185.195.233.76 udp dport 19955 meta mark 0x6d6f6c65 accept", "verdict": "accept",
         "why": "the tunnel's own UDP"},
        {"stage": "hook", "hook": "postrouting", "table": "inet mullvad", "chain": "nat", "rule": None,
         "verdict": "accept", "why": "policy accept"},
        {"stage": "device", "effect": "leaves by wlp0s20f3", "why": "-"},
    ],
}
INNER = {
    "verdict": "accept", "direction": "out",
    "egress": {"dev": "wg-mullvad", "src": "10.147.23.252", "dst": "1.1.1.1", "mark": 0},
    "encapsulated": OUTER, "exact": True,
    "steps": [
        {"stage": "route", "effect": "dev wg-mullvad src 10.147.23.252", "why": "rule 32765"},
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "mangle", "rule": 3,
         "text": "meta cgroup 5087041 ct mark set 0x00000f41 meta mark set 0x6d6f6c65", "verdict": None,
         "why": "no match"},
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 1,
         "text": "oif \"lo\" accept", "verdict": None, "why": "no match"},
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 15,
         "text": "oif \"wg-mullvad\" accept", "verdict": "accept", "why": "the tunnel"},
        {"stage": "hook", "hook": "postrouting", "table": "inet mullvad", "chain": "nat", "verdict": "accept",
         "why": "policy"},
        {"stage": "tunnel", "effect": "encrypted to 185.195.233.76:19955, mark 0x6d6f6c65", "why": "peer"},
    ],
}


class FakeTrace:
    def to_json(self) -> dict[str, Any]:
        return INNER


def test_journey_hooks_as_clusters_and_route_as_diamond() -> None:
    d = parse(dot.journey(INNER))
    assert "cluster_hook_output" in d.clusters and "cluster_hook_postrouting" in d.clusters
    assert d.nodes["route_decision"]["shape"] == "diamond"
    # consecutive steps of one chain collapse into one node naming the deciding rule
    assert "chain_output_inet_mullvad_output" in d.nodes
    assert "rule 15: oif \"wg-mullvad\" accept" in flat(d.nodes["chain_output_inet_mullvad_output"]["label"])
    assert strong(d.edge("start", "route_decision"))
    assert strong(d.edge("route_decision", "chain_output_inet_mullvad_mangle"))
    assert strong(flow(d, "chain_output_inet_mullvad_mangle", "chain_output_inet_mullvad_output"))


def test_journey_encapsulation_is_a_nested_cluster() -> None:
    d = parse(dot.journey(FakeTrace()))
    assert "cluster_encapsulated" in d.clusters
    assert "cluster_outer_hook_output" in d.clusters
    # the packet leaves by wg-mullvad, then the WireGuard device sends the outer packet
    assert strong(flow(d, "chain_postrouting_inet_mullvad_nat", "end"))
    assert strong(d.edge("end", "tunnel"))
    link = d.edge("tunnel", "outer_start")
    assert link["label"] == "encrypted, sent again"
    assert "constraint" not in link  # the nested journey continues below: the picture reads top down
    assert "leaves by wlp0s20f3" in d.nodes["outer_end"]["label"]
    assert "mark 0x6d6f6c65" in flat(d.nodes["outer_end"]["label"])


def test_journey_reads_top_down_and_names_untouched_hooks() -> None:
    g = dot.journey(INNER)
    assert re.search(r"\brankdir=TB\b", g.source)
    assert "rank=same" not in g.source  # one column: a phone scrolls down, not sideways
    title = flat(_attrs(re.search(r"^\s*(fontsize=12 label=.*)$", g.source, re.M).group(1))["label"])  # type: ignore[union-attr]
    assert title.startswith("the packet's journey (verdict: accept)")
    assert "hooks not crossed: PREROUTING, INPUT, FORWARD" in title
    assert "OUTPUT" not in title.split("crossed:")[1]


def test_journey_shows_a_rule_text_equal_to_the_previous_chains() -> None:
    """Two chains in a row whose deciding rules read the same are two rules: both are drawn.
    (The seed's DNS: mangle and output both hold `oif "wg-mullvad" udp dport 53 ...`.)"""
    dns = 'oif "wg-mullvad" udp dport 53 ip daddr 10.64.0.1 accept'
    data = {"verdict": "accept", "steps": [
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "mangle", "rule": 1,
         "text": dns, "verdict": "accept"},
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 11,
         "text": dns, "verdict": "accept"},
        # a second step of the same rule in the same chain adds only its outcome
        {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 11,
         "text": dns, "effect": "counted"},
    ]}
    d = parse(dot.journey(data))
    assert f"rule 1: {dns}" in flat(d.nodes["chain_output_inet_mullvad_mangle"]["label"])
    output = flat(d.nodes["chain_output_inet_mullvad_output"]["label"])
    assert f"rule 11: {dns}" in output
    assert output.count(dns) == 1 and "⇒ counted" in output


def test_seed_dns_journey_labels_both_dns_rules(seed: Host) -> None:
    import wgexplain

    d = parse(dot.journey(wgexplain.trace(seed, "10.64.0.1", proto="udp", dport=53)))
    dns = 'oif "wg-mullvad" udp dport 53 ip daddr 10.64.0.1 accept'
    assert dns in flat(d.nodes["chain_output_inet_mullvad_mangle"]["label"])
    assert dns in flat(d.nodes["chain_output_inet_mullvad_output"]["label"])


def test_journey_reject_and_unmodelled() -> None:
    data = {"verdict": "reject", "errno": "EPERM", "egress": None, "encapsulated": None, "exact": False,
            "steps": [{"stage": "route", "why": "x"},
                      {"stage": "unmodelled", "why": "meta secpath"},
                      {"stage": "hook", "hook": "output", "table": "inet mullvad", "chain": "output", "rule": 13,
                       "text": "udp dport 53 reject", "verdict": "reject", "why": "DNS"}]}
    d = parse(dot.journey(data))
    assert d.nodes["end"]["shape"] == "octagon"
    assert "sender gets EPERM" in d.nodes["end"]["label"]
    assert d.nodes["unmodelled"]["label"].startswith("not modelled:")
    assert "inexact" in d.nodes
    assert d.nodes["chain_output_inet_mullvad_output"]["fillcolor"] == dot.ERROR_FILL


def test_journey_rejects_other_objects() -> None:
    with pytest.raises(TypeError):
        dot.journey(object())


# --- the chain map ---------------------------------------------------------------


def _rule(*exprs: Any, text: str = "") -> rs.Rule:
    return rs.Rule(exprs=tuple(exprs), text=text)


def test_chain_map_hooks_priorities_and_jumps() -> None:
    jump = rs.Verdict("jump", "services")
    goto = rs.Verdict("goto", "drop_all")
    table = rs.Table("inet", "fw", chains=(
        rs.Chain("out", "fw", "inet", type="filter", hook="output", priority=0, priority_text="filter",
                 policy="drop", rules=(_rule(jump), _rule(goto))),
        rs.Chain("early", "fw", "inet", type="route", hook="output", priority=-150, priority_text="mangle"),
        rs.Chain("pre", "fw", "inet", type="filter", hook="prerouting", priority=-199, policy="accept",
                 rules=(_rule(rs.Vmap(rs.Meta("iifname"), rs.SetRef("@dispatch"))),)),
        rs.Chain("services", "fw", "inet"),
        rs.Chain("drop_all", "fw", "inet"),
        rs.Chain("lan", "fw", "inet"),
    ), maps=(rs.Map("dispatch", "fw", "inet", type="ifname", map="verdict",
                    elements=(rs.MapElem("eth0",
                                         rs.Verdict("jump", "lan")),)),))
    d = parse(dot.chain_map(rs.Ruleset(tables=(table,))))
    assert "cluster_table_inet_fw" in d.clusters
    assert d.edge("hook_output", "chain_inet_fw_early")["label"] == "1."
    assert d.edge("hook_output", "chain_inet_fw_out")["label"] == "2."
    assert "policy drop" in d.nodes["chain_inet_fw_out"]["label"]
    assert "priority filter (0)" in d.nodes["chain_inet_fw_out"]["label"]
    assert d.nodes["chain_inet_fw_out"]["fillcolor"] == dot.ERROR_FILL
    assert d.edge("chain_inet_fw_out", "chain_inet_fw_services")["label"] == "jump"
    assert d.edge("chain_inet_fw_out", "chain_inet_fw_drop_all")["style"] == "dashed"
    assert d.edge("chain_inet_fw_pre", "chain_inet_fw_lan")["label"] == "jump"  # through the named vmap
    # hooks in packet-flow order
    order = [n for n in d.nodes if n.startswith("hook_")]
    assert order == ["hook_prerouting", "hook_output"]


def test_chain_map_missing_jump_target_is_shown() -> None:
    table = rs.Table("ip", "t", chains=(
        rs.Chain("c", "t", "ip", type="filter", hook="input", priority=0, rules=(_rule(rs.Verdict("jump", "gone")),)),
    ))
    d = parse(dot.chain_map(rs.Ruleset(tables=(table,))))
    assert "(no such chain)" in d.nodes["missing_ip_t_gone"]["label"]


# --- SVG ---------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot binary is not installed")
def test_to_svg_is_inlineable_with_unique_ids() -> None:
    a = dot.to_svg(dot.rule_ladder(TO_1111, HOST))
    b = dot.to_svg(dot.rule_ladder(MARKED, HOST))
    assert a.startswith("<svg") and a.endswith("</svg>")
    assert "<?xml" not in a and "<!DOCTYPE" not in a and "<!--" not in a
    ids_a = set(re.findall(r'id="([^"]+)"', a))
    ids_b = set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    assert ">32765: not from all fwmark</text>" in a and ">0x6d6f6c65 lookup 1836018789</text>" in a


def test_ladder_shows_checks_that_are_not_rules() -> None:
    refused = Result(
        flow=Flow(dst=ipaddress.ip_address("10.147.23.252"), src=ipaddress.ip_address("1.1.1.1"), iif="wlp0s20f3"),
        type="unicast", dev=None, gateway=None, src=None, table=255, rule=0, error="EINVAL",
        steps=(Step(0, "lookup local", "matched", table=255),
               Step(None, "rp_filter", "refused", "strict: the reply would leave by wg-mullvad")),  # type: ignore[arg-type]
    )
    d = parse(dot.rule_ladder(refused, HOST))
    assert d.nodes["check_0"]["label"] == "rp_filter: refused"
    assert d.nodes["check_0"]["fillcolor"] == dot.ERROR_FILL
    assert strong(d.edge("lookup_0_0", "check_0")) and strong(d.edge("check_0", "outcome"))
    assert d.nodes["outcome"]["label"].startswith("EINVAL")


# --- the seed, end to end: the simulator's own results -----------------------------


@pytest.fixture(scope="module")
def seed() -> Host:
    import wgexplain

    return wgexplain.load(str(SEED))


def test_seed_ladder_for_1111(seed: Host) -> None:
    import wgexplain

    d = parse(dot.rule_ladder(wgexplain.route(seed, "1.1.1.1"), seed))
    assert d.edge("lookup_32764_0", "rule_32764")["label"] == "suppressed: /0 ≤ 0"
    assert d.nodes["rule_32765"]["fillcolor"] == dot.MATCH_FILL
    assert d.nodes["outcome"]["label"].startswith("dev wg-mullvad")
    assert faint(d.edge("rule_32765", "rule_32766"))


def test_seed_ladder_for_the_tunnels_own_udp(seed: Host) -> None:
    import wgexplain

    d = parse(dot.rule_ladder(wgexplain.route(seed, "185.195.233.76", mark=MARK), seed))
    assert faint(d.nodes["rule_32765"]) and strong(d.edge("rule_32765", "rule_32766"))
    assert d.nodes["outcome"]["label"].startswith("dev wlp0s20f3")


def test_seed_journey_nests_the_encrypted_packet(seed: Host) -> None:
    import wgexplain

    d = parse(dot.journey(wgexplain.trace(seed, "1.1.1.1", proto="udp", dport=443)))
    assert "cluster_encapsulated" in d.clusters
    assert d.nodes["end"]["label"].startswith("leaves by wg-mullvad")
    assert d.nodes["outer_end"]["label"].startswith("leaves by wlp0s20f3")
    assert "rule 15: oif \"wg-mullvad\" accept" in flat(d.nodes["chain_output_inet_mullvad_output"]["label"])


def test_seed_journey_of_rejected_dns(seed: Host) -> None:
    import wgexplain

    d = parse(dot.journey(wgexplain.trace(seed, "198.51.100.53", proto="udp", dport=53)))
    assert d.nodes["end"]["shape"] == "octagon" and d.nodes["end"]["label"].startswith("reject")
    assert "cluster_encapsulated" not in d.clusters


def test_seed_chain_map(seed: Host) -> None:
    assert seed.ruleset is not None
    d = parse(dot.chain_map(seed.ruleset))
    assert d.edge("hook_output", "chain_inet_mullvad_mangle")["label"] == "1."
    assert d.edge("hook_output", "chain_inet_mullvad_output")["label"] == "2."
    assert "policy drop; 16 rules" in d.nodes["chain_inet_mullvad_output"]["label"]
    assert [n for n in d.nodes if n.startswith("hook_")] == [
        "hook_prerouting", "hook_input", "hook_forward", "hook_output", "hook_postrouting"]


@pytest.mark.parametrize("args, first", [
    (["route", str(SEED), "1.1.1.1"], "digraph rule_ladder {"),
    (["trace", str(SEED), "1.1.1.1", "--proto", "udp", "--dport", "443"], "digraph journey {"),
    (["show", str(SEED)], "digraph chain_map {"),
])
def test_cli_formats_dot_and_svg(args: list[str], first: str) -> None:
    from click.testing import CliRunner

    from wgexplain.cli import main

    run = CliRunner().invoke(main, args + ["--format", "dot"])
    assert run.exit_code == 0, run.output
    assert run.output.splitlines()[0] == first
    if shutil.which("dot") is not None:
        run = CliRunner().invoke(main, args + ["--format", "svg"])
        assert run.exit_code == 0, run.output
        assert run.output.lstrip().startswith("<svg")


def test_cli_show_dot_without_ruleset_is_bad_input(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from wgexplain.cli import main

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "ip-rule.txt").write_text((ROOT / "examples/mullvad/bundle/ip-rule.txt").read_text())
    run = CliRunner().invoke(main, ["show", str(bundle), "--format", "dot"])
    assert run.exit_code == 2
    assert "has none" in run.output


def test_ladder_goto_jumps_over_rules() -> None:
    rules = (Rule(AF_INET, 0, table=255), Rule(AF_INET, 100, action="goto", goto=32766),
             Rule(AF_INET, 200, table=7), Rule(AF_INET, 32766, table=254))
    host = Host(rules=rules, routes=(DEFAULT_WIFI,), table_names={254: "main", 255: "local"})
    result = Result(
        flow=Flow(dst=ipaddress.ip_address("1.1.1.1")), type="unicast", dev="wlp0s20f3",
        gateway=ipaddress.ip_address("192.168.44.1"), src=None, table=254, rule=32766,
        steps=(Step(0, "lookup local", "not found", table=255), Step(100, "goto 32766", "goto"),
               Step(32766, "lookup main", "matched", table=254, route=DEFAULT_WIFI)))
    d = parse(dot.rule_ladder(result, host))
    assert d.nodes["rule_100"]["label"] == "100: from all goto 32766"
    assert strong(d.edge("rule_0", "rule_100"))
    jump = [e for a, b, e in d.edges if (a, b) == ("rule_100", "rule_32766") and e.get("label") == "goto"]
    assert len(jump) == 1 and strong(jump[0])
    assert faint(d.nodes["rule_200"])
    assert faint(d.edge("rule_100", "rule_200")) and faint(d.edge("rule_200", "rule_32766"))
