"""What was not pasted is an assumption, said first (text) and listed (JSON), never an errno.

Each kind of assumption on a small partial paste, through the in-process CLI,
in text and JSON; the alternatives computed by the simulator; the client
signatures; the one-liner that collects everything; the complete samples
assume nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain import cli
from wgexplain.evidence import COLLECT, COLLECT_LINES, host_assumptions
from wgexplain.kernel.route import route_get
from wgexplain.model import Origin
from wgexplain.signatures import recognise

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

ONLY_TABLE_52 = """$ ip route show table 52
100.100.100.100 dev tailscale0
default dev tailscale0
"""
ONLY_TABLE_101 = """$ ip route show table 101
blackhole default
"""
WG_QUICK_NO_RULES = """$ ip addr
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 192.168.1.50/24 brd 192.168.1.255 scope global eth0
3: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN group default qlen 1000
    link/none
    inet 10.8.0.2/32 scope global wg0
$ ip -4 route show table all
default dev wg0 table 51820 scope link
default via 192.168.1.1 dev eth0
192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.50
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1
local 192.168.1.50 dev eth0 table local proto kernel scope host src 192.168.1.50
local 10.8.0.2 dev wg0 table local proto kernel scope host src 10.8.0.2
"""
NO_LINK_NO_WG = """$ ip route
default via 192.168.1.1 dev wlan0 proto dhcp metric 600
192.168.1.0/24 dev wlan0 proto kernel scope link src 192.168.1.50 metric 600
10.8.0.0/24 dev wg0 scope link
$ ip rule
0:	from all lookup local
32766:	from all lookup main
32767:	from all lookup default
"""


def run(*args: str) -> Any:
    return CliRunner().invoke(cli.main, list(args))


def paste(tmp_path: Path, text: str, name: str = "paste.txt") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def route_json(src: str, *args: str) -> dict[str, Any]:
    r = run("route", src, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_only_table_52_is_undecided_not_enetunreach(tmp_path: Path) -> None:
    src = paste(tmp_path, ONLY_TABLE_52)
    obj = route_json(src, "1.1.1.1")
    assert obj["type"] == "unknown" and "error" not in obj and obj["exact"] is False
    assert any(a.startswith("`ip rule` was not pasted") for a in obj["assumptions"])
    assert any(a.startswith("table main was not pasted") for a in obj["assumptions"])
    answers = {a["if"].split(" (")[0]: a["answer"] for a in obj["alternatives"]}
    ts = answers["if Tailscale's rules are in place"]
    assert (ts["dev"], ts["table"], ts["rule"]) == ("tailscale0", 52, 5270)
    assert answers["if no table holds a route for 1.1.1.1"]["error"] == "ENETUNREACH"
    assert "ip rule show" in obj["to_paste"]
    text = run("route", src, "1.1.1.1").stdout
    assert text.startswith("assuming (not pasted):\n  - `ip rule` was not pasted")
    assert "does not exist" not in text
    assert "table main was not pasted (taken as empty here)" in text
    assert "1.1.1.1: unknown — the answer depends on what was not pasted" in text
    assert "dev tailscale0 table 52" in text
    assert all("    " + line in text.splitlines() for line in COLLECT_LINES)


def test_only_table_101_blackhole_is_said_for_the_rule_that_would_reach_it(tmp_path: Path
                                                                         ) -> None:
    obj = route_json(paste(tmp_path, ONLY_TABLE_101), "1.1.1.1")
    assert obj["type"] == "unknown" and "error" not in obj
    alt = next(a for a in obj["alternatives"] if "table 101" in a["if"])
    assert alt["answer"]["type"] == "blackhole" and alt["answer"]["table"] == 101
    # main: nothing pasted names a device, so what it would answer is said, not computed
    assert any(a["if"] == "if table main holds a route for 1.1.1.1" and a["answer"] is None
               for a in obj["alternatives"])


def test_wg_quick_table_without_rules_is_answered_both_ways(tmp_path: Path) -> None:
    src = paste(tmp_path, WG_QUICK_NO_RULES)
    obj = route_json(src, "1.1.1.1")
    assert (obj["dev"], obj["table"], obj["exact"]) == ("eth0", 254, False)  # as assumed
    assert obj["assumptions"] == ["`ip rule` was not pasted: assuming the kernel's default "
                                  "rules (0 lookup local, 32766 lookup main, 32767 lookup "
                                  "default)"]
    (alt,) = obj["alternatives"]
    assert alt["if"].startswith("if wg-quick's rules are in place (32764: from all lookup main "
                                "suppress_prefixlength 0; 32765: not from all fwmark 0xca6c "
                                "lookup 51820")
    assert (alt["answer"]["dev"], alt["answer"]["table"]) == ("wg0", 51820)
    text = run("route", src, "1.1.1.1").stdout
    assert "both ways:\n  - as assumed above: 1.1.1.1 via 192.168.1.1 dev eth0" in text
    assert "1.1.1.1 dev wg0 table 51820" in text
    # a destination the two ways send alike: no alternative
    assert "alternatives" not in route_json(src, "192.168.1.7")


def test_no_wg_show_assumes_a_peer_instead_of_enokey(tmp_path: Path) -> None:
    src = paste(tmp_path, NO_LINK_NO_WG)
    r = run("trace", src, "10.8.0.5", "--json")
    obj = json.loads(r.stdout)
    assert obj["verdict"] == "accept" and "errno" not in obj and obj["exact"] is False
    assert any(a.startswith("`wg show` was not pasted: a peer of wg0 is assumed")
               for a in obj["assumptions"])
    assert "wg show all" in obj["to_paste"]
    text = run("trace", src, "10.8.0.5").stdout
    assert text.startswith("assuming (not pasted):")
    assert "ENOKEY" not in text and "Verdict: ACCEPT — leaves wg0 dst 10.8.0.5" in text


def test_no_ip_link_assumes_the_device_instead_of_enodev(tmp_path: Path) -> None:
    src = paste(tmp_path, NO_LINK_NO_WG)
    for dev in ("wlan0", "eth7"):  # named by a route, and named nowhere: both unknown
        obj = route_json(src, "1.1.1.1", "--oif", dev)
        assert obj.get("error") != "ENODEV"
        assert f"`ip link` was not pasted: device {dev} assumed to exist and be up" \
            in obj["assumptions"]
        assert "there is no device" not in run("route", src, "1.1.1.1", "--oif", dev).stdout
    # where `ip link`/`ip addr` was pasted, a device it does not list does not exist
    full = str(EXAMPLES / "wg-quick" / "bundle")
    assert route_json(full, "1.1.1.1", "--oif", "eth7")["error"] == "ENODEV"


def test_check_sees_the_wireguard_device_trace_sees(tmp_path: Path) -> None:
    src = paste(tmp_path, NO_LINK_NO_WG)
    r = run("check", src, "--json")
    obj = json.loads(r.stdout)
    assert all("no WireGuard device in the dump" not in n["why"] for n in obj["not_checked"])
    assert any(a.startswith("`wg show` was not pasted: wg0's") for a in obj["assumptions"])
    text = run("check", src).stdout
    assert text.startswith("assuming (not pasted):") and "from None" not in text


def test_show_lists_assumptions_once_and_the_clients(tmp_path: Path) -> None:
    src = paste(tmp_path, WG_QUICK_NO_RULES)
    obj = json.loads(run("show", src, "--json").stdout)
    assert obj["assumptions"][0].startswith("`ip rule` was not pasted")
    assert not any(w.startswith(("no ip rule", "no IPv4 rules")) for w in obj["warnings"])
    assert [c["client"] for c in obj["clients"]] == ["wg-quick"]
    text = run("show", src).stdout
    assert "clients recognised:\n  wg-quick: table 51820, device wg0" in text
    assert "assuming (not pasted):" in text


def test_batch_lines_carry_the_assumptions(tmp_path: Path) -> None:
    src = paste(tmp_path, ONLY_TABLE_52)
    batch = paste(tmp_path, "1.1.1.1\n100.100.100.100\n", "batch.txt")
    r = run("route", src, "--batch", batch)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0] == route_json(src, "1.1.1.1")
    assert all(x["assumptions"] for x in lines)


def test_a_redacted_address_on_the_deciding_route_is_said(tmp_path: Path) -> None:
    h = wgexplain.load(paste(tmp_path, WG_QUICK_NO_RULES))
    routes = tuple(dataclasses.replace(r, origin=Origin(r.origin.file, r.origin.line, False,
                                                        "redacted: <redacted> via 192.168.1.1"))
                   if r.table == 254 and r.dst.prefixlen == 0 else r for r in h.routes)
    res = route_get(dataclasses.replace(h, routes=routes), "1.1.1.1")
    assert any("has an address the paste redacted" in a for a in res.assumptions)
    assert res.exact is False


@pytest.mark.parametrize("sample", ["wg-quick", "tailscale", "networkmanager",
                                    "mullvad-tailscale"])
def test_complete_samples_assume_nothing(sample: str, tmp_path: Path) -> None:
    src = str(EXAMPLES / sample / "bundle")
    for args in (["1.1.1.1"], ["2606:4700:4700::1111"], ["192.168.1.1", "mark", "0xca6c"]):
        assert route_json(src, *args)["assumptions"] == []
    assert json.loads(run("trace", src, "1.1.1.1", "--json").stdout)["assumptions"] == []
    assert json.loads(run("check", src, "--json").stdout)["assumptions"] == []
    assert json.loads(run("show", src, "--json").stdout)["assumptions"] == []
    batch = paste(tmp_path, "1.1.1.1\n9.9.9.9 ipproto udp dport 53\n", "b.txt")
    for line in run("route", src, "--batch", batch).stdout.splitlines():
        assert json.loads(line)["assumptions"] == []


@pytest.mark.parametrize("sample,client", [("wg-quick", "wg-quick"), ("tailscale", "Tailscale"),
                                           ("networkmanager", "NetworkManager"),
                                           ("mullvad", "Mullvad")])
def test_samples_are_recognised(sample: str, client: str) -> None:
    assert [c.client for c in recognise(wgexplain.load(str(EXAMPLES / sample / "bundle")))] \
        == [client]


@pytest.mark.parametrize("text,client", [
    ("$ ip addr\n4: docker0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
     "    link/ether 02:42:ac:11:00:01 brd ff:ff:ff:ff:ff:ff\n"
     "    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\n", "Docker"),
    ("$ ip addr\n5: virbr0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
     "    link/ether 52:54:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff\n"
     "    inet 192.168.122.1/24 brd 192.168.122.255 scope global virbr0\n", "libvirt"),
    ("$ ip addr\n6: proton0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN\n"
     "    link/none\n    inet 10.2.0.2/32 scope global proton0\n", "ProtonVPN"),
])
def test_other_clients_are_recognised(tmp_path: Path, text: str, client: str) -> None:
    names = [c.client for c in recognise(wgexplain.load(paste(tmp_path, text)))]
    assert names == [client]


def test_the_seed_assumes_nothing_for_its_question() -> None:
    seed = str(EXAMPLES / "mullvad" / "session-ja.txt")
    obj = route_json(seed, "1.1.1.1")
    assert (obj["dev"], obj["table"], obj["assumptions"], obj["exact"]) == (
        "wg-mullvad", 1836018789, [], True)
    t = json.loads(run("trace", seed, "1.1.1.1", "--json").stdout)
    assert t["assumptions"] == [] and t["verdict"] == "accept"
    # what the seed lacks is said where an answer needs it: IPv6 was not pasted
    v6 = route_json(seed, "2606:4700:4700::1111")
    assert v6["type"] == "unknown" and "error" not in v6
    assert host_assumptions(wgexplain.load(seed))  # wg show, sysctl: listed by show/check


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("awk") is None,
                    reason="needs bash and awk")
def test_the_collect_one_liner_is_read_whole_and_hides_private_keys(tmp_path: Path) -> None:
    """Run the one-liner with stand-ins for sudo/ip/nft/wg/sysctl that print a sample's
    files: the reader must find every listing in its output, and no private key."""
    b = EXAMPLES / "wg-quick" / "bundle"
    PRIVATE = "8NJzz234zFaJIrT4R/8S/YZUmh0STnhKklkJr750P1I="  # noqa: N806 - a made-up key
    fake = tmp_path / "bin"
    fake.mkdir()
    scripts = {
        "sudo": 'exec "$@"',
        "ip": (f'case "$*" in\n"-d link show") cat {b}/ip-link.txt ;;\n'
               f'"addr show") cat {b}/ip-addr.txt ;;\n"rule show") cat {b}/ip-rule.txt ;;\n'
               f'"-6 rule show") cat {b}/ip6-rule.txt ;;\n'
               f'"route show table all") cat {b}/ip-route.txt {b}/ip6-route.txt ;;\n'
               'esac'),
        # the samples keep no private key: the fake `wg` prints one where `wg show all dump` does
        "nft": f"cat {b}/nft-ruleset.nft", "wg": f"sed 's|(hidden)|{PRIVATE}|' {b}/wg.txt",
        "sysctl": f"cat {b}/sysctl.txt",
    }
    for name, body in scripts.items():
        f = fake / name
        f.write_text("#!/bin/sh\n" + body + "\n")
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
    out = subprocess.run(["bash", "-c", COLLECT], env=env, capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert PRIVATE not in out and "(hidden)" in out
    collected = tmp_path / "collected.txt"
    collected.write_text(out)
    got, want = wgexplain.load(str(collected)), wgexplain.load(str(b))
    assert host_assumptions(got) == []
    assert {(r.family, r.pref, r.table) for r in got.rules} == \
        {(r.family, r.pref, r.table) for r in want.rules}
    assert {(r.family, r.table, r.dst, r.type) for r in got.routes} == \
        {(r.family, r.table, r.dst, r.type) for r in want.routes}
    assert [w.public_key for w in got.wireguard] == [w.public_key for w in want.wireguard]
    assert route_json(str(collected), "1.1.1.1") == {
        **route_json(str(b), "1.1.1.1"), "steps": route_json(str(collected), "1.1.1.1")["steps"]}


def test_cosmetics_outer_verdict_dominates_and_no_droped() -> None:
    src = str(EXAMPLES / "broken" / "endpoint-loop")
    text = run("trace", src, "1.1.1.1").stdout
    last = [x for x in text.splitlines() if x.startswith("Verdict:")][-1]
    assert last.startswith("Verdict: DROP — the packet enters") and "ELOOP" in last
    assert "droped" not in text and "src None" not in text
    assert "dropped: nothing reaches" in text


def test_a_client_table_not_pasted_is_answered_with_what_the_client_puts_there(
        tmp_path: Path) -> None:
    """The seed without `ip route show table 1836018789`: Mullvad's rules send 1.1.1.1 to a
    table that was not pasted; what Mullvad always puts there decides the other way."""
    seed = (EXAMPLES / "mullvad" / "session-en.txt").read_text()
    cut = paste(tmp_path, seed[:seed.index("$ ip route show table 1836018789")])
    obj = route_json(cut, "1.1.1.1")
    assert obj["dev"] == "wlp0s20f3" and obj["exact"] is False  # as assumed: table empty
    (alt,) = obj["alternatives"]
    assert alt["if"].startswith("if table 1836018789 holds what Mullvad puts there "
                                "(default dev wg-mullvad")
    assert (alt["answer"]["dev"], alt["answer"]["table"]) == ("wg-mullvad", 1836018789)
    t = run("trace", cut, "1.1.1.1").stdout
    assert "if table 1836018789 holds what Mullvad puts there" in t


def test_check_runs_the_tunnel_checks_on_the_clients_hypothesis(tmp_path: Path) -> None:
    """wg-quick's table without its rules: as assumed, nothing enters the tunnel; the tunnel
    checks then run with wg-quick's rules in place, and each result says so."""
    obj = json.loads(run("check", paste(tmp_path, WG_QUICK_NO_RULES), "--json").stdout)
    cond = "if wg-quick's rules are in place"
    ks = next(f for f in obj["findings"] if f["id"] == "no-killswitch")
    assert ks["condition"].startswith(cond)
    assert all(p["summary"].startswith(cond) for p in obj["passed"] if p["id"] == "dns-leak")
    assert not any("does not go into a WireGuard device" in n["why"] for n in obj["not_checked"])


REDACTED = """$ ip route
default via 192.168.1.1 dev eth0
198.51.100.0/24 via x.x.x.x dev eth0
x.x.x.x/24 dev eth0
192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.50
$ ip rule
0:	from all lookup local
32766:	from all lookup main
32767:	from all lookup default
$ ip addr
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500
    inet 192.168.1.50/24 brd 192.168.1.255 scope global eth0
"""


def test_redacted_addresses_the_reader_marks_are_said_where_they_decide(tmp_path: Path) -> None:
    src = paste(tmp_path, REDACTED)
    via = route_json(src, "198.51.100.7")  # decided by the route whose gateway is hidden
    assert via["exact"] is False
    assert any("198.51.100.0/24 in table 254" in a and "redacted" in a
               for a in via["assumptions"])
    # any lookup that walks main may have matched the route whose destination is hidden
    other = route_json(src, "1.1.1.1")
    assert other["dev"] == "eth0" and other["exact"] is False
    assert "table main holds a route whose destination was redacted: the decision that " \
        "depends on it is unknown" in other["assumptions"]
