"""What grows with the input must not grow in the output: long rule walks are folded,
alike warnings counted, and a big paste's indexes answer what scans used to.

(Speed is measured by benchmarks/bench_scaling.py, never asserted here.)
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from wgexplain.cli import main
from wgexplain.explain.summary import RUN_MIN, fold_json_steps
from wgexplain.model import Address, Host, Link, Origin
from wgexplain.sources import load_text
from wgexplain.sources.warnings import collapse_warnings

N = 2000

HEAD = """\
$ ip addr
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0
$ ip route
default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.10 metric 100
192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.10 metric 100
"""


def _rules_paste(n: int) -> str:
    rules = "".join(f"{100 + i}:\tfrom 10.0.{i >> 8}.{i & 255} lookup 100\n" for i in range(n))
    return (HEAD + "$ ip rule\n0:\tfrom all lookup local\n" + rules
            + "32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n")


def _run(tmp_path: Path, text: str, *args: str) -> str:
    src = tmp_path / "paste.txt"
    src.write_text(text)
    res = CliRunner().invoke(main, [args[0], str(src), *args[1:]])
    assert res.exit_code in (0, 3), res.output
    return res.stdout


def test_route_text_folds_rules_that_did_not_match(tmp_path: Path) -> None:
    out = _run(tmp_path, _rules_paste(N), "route", "1.1.1.1")
    lines = out.splitlines()
    assert len(lines) < 20  # N rules walked, not N lines
    folded = [x for x in lines if "100…2099" in x]
    assert len(folded) == 1 and f"{N} rules, none applies" in folded[0]
    assert "all 'from 10.0.… lookup 100'" in folded[0]
    assert out.count("warning:") <= 1
    # the deciding rule is still the highlighted one
    assert any(x.startswith(">") and "32766" in x for x in lines)


def test_route_json_and_batch_fold_the_same_way(tmp_path: Path) -> None:
    text = _rules_paste(N)
    obj = json.loads(_run(tmp_path, text, "route", "1.1.1.1", "--json"))
    assert obj["rule"] == 32766 and len(obj["steps"]) == 3
    step = obj["steps"][1]
    assert (step["rule"], step["last_rule"], step["count"], step["result"]) == (
        100, 100 + N - 1, N, "no match")
    (tmp_path / "batch").write_text("1.1.1.1\n8.8.8.8 mark 7\n")
    res = CliRunner().invoke(main, ["route", str(tmp_path / "paste.txt"), "--batch",
                                    str(tmp_path / "batch")])
    batch = [json.loads(x) for x in res.stdout.splitlines()]
    assert batch[0] == obj and all(len(b["steps"]) == 3 for b in batch)


def test_short_runs_and_deciding_steps_are_kept() -> None:
    steps = [{"rule": i, "action": "lookup 1", "result": "no match", "why": f"rule {i} x"}
             for i in range(RUN_MIN)]
    assert fold_json_steps(steps) is steps  # RUN_MIN alike steps: told one by one
    steps += [{"rule": 99, "action": "lookup 2", "result": "matched", "why": "w"}]
    steps = [*steps[:RUN_MIN], {"rule": 50, "action": "lookup 1", "result": "no match",
                                "why": "rule 50 x"}, *steps[RUN_MIN:]]
    folded = fold_json_steps(steps)
    assert [s["result"] for s in folded] == ["no match", "matched"]
    assert folded[0]["count"] == RUN_MIN + 1 and folded[0]["last_rule"] == 50


def test_alike_warnings_are_counted_once(tmp_path: Path) -> None:
    text = HEAD + "$ ip -6 route show table 7\n" * N
    host = load_text(text, "p.txt")
    empty = [w for w in host.warnings if "has no output" in w]
    assert len(empty) == 1
    assert f"×{N}" in empty[0] and f"p.txt lines 11, 12, 13, 14, 15, …, {N + 10})" in empty[0]
    for args in (("show",), ("route", "1.1.1.1"), ("trace", "1.1.1.1")):
        out = _run(tmp_path, text, *args)
        assert out.count("has no output in the paste") == 1, args
    shown = json.loads(_run(tmp_path, text, "show", "--json"))
    assert sum("has no output" in w for w in shown["warnings"]) == 1


def test_collapse_keeps_single_and_distinct_warnings() -> None:
    ws = ["a.txt:3: 'ip r' has no output in the paste", "no nft ruleset in this dump",
          "a.txt:5: 'ip r' has no output in the paste", "no nft ruleset in this dump",
          "rule 7 (a.txt:9) looks up table 5, which is not in this dump"]
    out = collapse_warnings(ws)
    assert out == ("'ip r' has no output in the paste (×2; a.txt lines 3, 5)",
                   "no nft ruleset in this dump",
                   "rule 7 (a.txt:9) looks up table 5, which is not in this dump")


def test_host_lookups_by_name_index_and_device() -> None:
    o = Origin("x", 1)
    links = tuple(Link(index=i + 1, name=f"veth{i}", origin=o) for i in range(N))
    import ipaddress

    addrs = tuple(Address(dev=f"veth{i % N}", address=ipaddress.ip_interface(f"10.1.{i >> 8}.{i & 255}/32"),
                          origin=o) for i in range(N))
    host = Host(links=links, addresses=addrs)
    assert host.link("veth1999") is links[-1] and host.link("nope") is None
    assert host.link_by_index(7) is links[6]
    assert [str(a.address) for a in host.addresses_of("veth3")] == ["10.1.0.3/32"]
    from dataclasses import replace

    fewer = replace(host, links=links[:1])  # a copy builds its own index
    assert fewer.link("veth1999") is None and host == replace(host)
