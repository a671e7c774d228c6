"""Bundle directories: file names, text/JSON agreement, single files and bare rulesets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET6
from wgexplain.sources import load_raw

EX = Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "bundle"

RULES_JSON = [
    {"priority": 0, "src": "all", "table": "local"},
    {"priority": 32764, "src": "all", "table": "main", "suppress_prefixlen": 0},
    {"priority": 32765, "not": None, "src": "all", "fwmark": "0x6d6f6c65",
     "table": "1836018789"},
    {"priority": 32766, "src": "all", "table": "main"},
    {"priority": 32767, "src": "all", "table": "default"},
]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    d = tmp_path / "b"
    shutil.copytree(EX, d)
    (d / "nft-ruleset.nft").unlink()  # these tests are about the iproute2 files
    return d


def test_text_and_json_agree(bundle: Path) -> None:
    (bundle / "ip-rule.json").write_text(json.dumps(RULES_JSON))
    h = load_raw(str(bundle))
    assert [r.pref for r in h.rules] == [0, 32764, 32765, 32766, 32767]
    # the text file is the one quoted
    assert all(r.origin.file.endswith("ip-rule.txt") for r in h.rules)


def test_text_and_json_disagree_names_both(bundle: Path) -> None:
    bad = [dict(r) for r in RULES_JSON]
    bad[2]["fwmark"] = "0x6d6f6c66"
    (bundle / "ip-rule.json").write_text(json.dumps(bad, indent=4))
    with pytest.raises(DumpError) as e:
        load_raw(str(bundle))
    msg = str(e.value)
    assert e.value.file.endswith("ip-rule.txt") and e.value.line == 3
    assert "ip-rule.json (line 13)" in msg


def test_route_disagreement(bundle: Path) -> None:
    routes = [{"dst": "default", "gateway": "192.168.44.1", "dev": "wlp0s20f3",
               "protocol": "dhcp", "prefsrc": "192.168.44.83", "metric": 600, "flags": []}]
    (bundle / "ip-route.json").write_text(json.dumps(routes))
    with pytest.raises(DumpError) as e:
        load_raw(str(bundle))
    assert e.value.file.endswith("ip-route.txt") and e.value.line == 2
    assert "ip-route.json" in str(e.value)


def test_ipv6_files(bundle: Path) -> None:
    (bundle / "ip6-rule.txt").write_text("0:\tfrom all lookup local\n32766:\tfrom all lookup main\n")
    (bundle / "ip6-route.txt").write_text(
        "default via fe80::1 dev wlp0s20f3 proto ra metric 600 pref medium\n"
        "local ::1 dev lo table local proto kernel metric 0 pref medium\n")
    h = load_raw(str(bundle))
    assert {r.family for r in h.rules} == {2, AF_INET6}
    assert "ip6-route:all" in h.dumped and "ip6-rule" in h.dumped
    assert "no IPv6 routes in this dump" not in h.warnings


def test_ipv4_route_in_the_ipv6_file(bundle: Path) -> None:
    (bundle / "ip6-route.txt").write_text("\n10.0.0.0/8 dev eth0 \n")
    with pytest.raises(DumpError) as e:
        load_raw(str(bundle))
    assert e.value.line == 2 and e.value.file.endswith("ip6-route.txt")


def test_sysctl_and_wg_files(bundle: Path) -> None:
    (bundle / "sysctl.txt").write_text("net.ipv4.conf.all.rp_filter = 2\n"
                                       "net.ipv4.conf.all.src_valid_mark = 1\n")
    (bundle / "wg.txt").write_text(
        "wg-mullvad\t(hidden)\tPUB=\t0\t0x6d6f6c65\n"
        "wg-mullvad\tPEER=\t(none)\t185.195.233.76:19955\t0.0.0.0/0,::/0\t0\t0\t0\toff\n")
    h = load_raw(str(bundle))
    assert h.sysctl("net.ipv4.conf.all.src_valid_mark") == "1"
    (w,) = h.wireguard
    assert w.fwmark == 0x6D6F6C65 and w.listen_port is None and w.peers[0].keepalive is None
    (bundle / "sysctl.txt").write_text("net.ipv4.ip_forward = 1\nrp_filter\n")
    with pytest.raises(DumpError) as e:
        load_raw(str(bundle))
    assert e.value.line == 2 and e.value.file.endswith("sysctl.txt")


def test_single_bundle_file_is_a_source(bundle: Path) -> None:
    h = load_raw(str(bundle / "ip-rule.txt"))
    assert len(h.rules) == 5 and h.dumped == frozenset({"ip-rule"})


def test_bare_ruleset_files(tmp_path: Path) -> None:
    pytest.importorskip("wgexplain.sources.nft")
    p = tmp_path / "rules.conf"
    p.write_text((EX / "nft-ruleset.nft").read_text())
    h = load_raw(str(p))
    assert h.ruleset is not None and "nft" in h.dumped and h.blocks[0][1].line == 1


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x")
    with pytest.raises(DumpError) as e:
        load_raw(str(tmp_path))
    assert "bundle" in e.value.expected
