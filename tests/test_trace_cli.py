"""`wgexplain trace`: the command line, its JSON contract and the text story."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import wgexplain
from wgexplain.cli import main
from wgexplain.explain.trace_text import to_text
from wgexplain.kernel.path import trace

BUNDLE = str(Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "bundle")


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["trace", *args])
    return r.exit_code, r.stdout, r.stderr


def test_json_output_follows_the_contract() -> None:
    code, out, err = run(BUNDLE, "1.1.1.1", "--proto", "udp", "--dport", "443", "--json")
    assert code == 0, err
    j = json.loads(out)
    assert j["verdict"] == "accept" and j["exact"] is True
    assert j["egress"]["dev"] == "wg-mullvad" and j["egress"]["src"] == "10.147.23.252"
    assert j["encapsulated"]["egress"]["dev"] == "wlp0s20f3"
    assert j["encapsulated"]["egress"]["mark"] == 1836018789


def test_keywords_after_dst_are_route_options() -> None:
    code, out, _ = run(BUNDLE, "9.9.9.9", "ipproto", "tcp", "dport", "53", "--format", "json")
    assert code == 0
    j = json.loads(out)
    assert j["verdict"] == "reject" and j["errno"] == "ECONNREFUSED"


def test_trace_options() -> None:
    code, out, _ = run(BUNDLE, "1.1.1.1", "--proto", "tcp", "--dport", "443", "--cgroup", "0x4d9f41", "--json")
    assert code == 0 and json.loads(out)["egress"]["src"] == "192.168.44.83"
    code, out, _ = run(BUNDLE, "192.168.44.83", "--from", "185.195.233.76", "--iif", "wlp0s20f3",
                       "--proto", "udp", "--sport", "19955", "--dport", "51820", "--direction", "in",
                       "--state", "established", "--inner-src", "1.1.1.1", "--json")
    inner = json.loads(out)["decapsulated"]
    assert code == 0 and inner["verdict"] == "accept" and inner["egress"]["src"] == "1.1.1.1"
    code, out, _ = run(BUNDLE, "1.1.1.1", "--proto", "udp", "--endpoint", "185.195.233.76:19955",
                       "--wg-fwmark", "0x6d6f6c65", "--json")
    assert code == 0 and json.loads(out)["encapsulated"]["verdict"] == "accept"


def test_text_story_quotes_rules_with_their_lines() -> None:
    code, out, _ = run(BUNDLE, "1.1.1.1", "--proto", "tcp", "--dport", "443", "--cgroup", "0x4d9f41")
    assert code == 0
    assert "meta cgroup 5087041 ct mark set 0x00000f41 meta mark set 0x6d6f6c65" in out
    assert "nft-ruleset.nft:71" in out
    assert "ip_route_me_harder" in out
    assert "Verdict: ACCEPT" in out and "\x1b[" not in out  # plain when piped


def test_nested_journey_is_indented() -> None:
    h = wgexplain.load(BUNDLE)
    text = to_text(trace(h, "1.1.1.1", proto="udp", dport=443))
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "Encapsulated" in line)
    assert lines[start].startswith("    │ ")
    assert any(line.startswith("    │ ") and "nft-ruleset.nft:19" in line for line in lines[start:])


def test_bad_input_exits_2_with_one_line() -> None:
    code, _, err = run(BUNDLE, "not-an-address")
    assert code == 2 and err.count("\n") == 1 and err.startswith("wgexplain: ")
    code, _, err = run(BUNDLE, "1.1.1.1", "--direction", "in")
    assert code == 2 and "--iif" in err
    code, _, err = run(BUNDLE + "-missing", "1.1.1.1")
    assert code == 2 and "missing" in err
    code, _, err = run(BUNDLE, "1.1.1.1", "--endpoint", "1.2.3.4")
    assert code == 2 and "ADDR:PORT" in err
