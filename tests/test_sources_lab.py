"""Text and JSON agree, on dumps the real kernel prints right now.

A ``wgx-src-*`` namespace gets veths, addresses of both families (peer,
label, secondary, noprefixroute, dynamic/deprecated), rules with every
selector iproute2 6.1 prints, routes of every type (multipath, onlink,
linkdown, metrics, tos, IPv6 pref/expires) in several tables; then
``ip -n NS ...`` is run both as text and as ``-j`` and both must read to
the same model. A pasted session built from the same output must read
the same again, and every abbreviation must name the command ``ip`` runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from wgexplain.lab.netns import Lab, lab_available, wait_for
from wgexplain.lab.wireguard_go import WireguardGo, genkey
from wgexplain.model import AF_INET, AF_INET6, Origin
from wgexplain.sources import load_raw
from wgexplain.sources.iproute_addr import parse_addr_json, parse_addr_text
from wgexplain.sources.iproute_route import parse_routes_json, parse_routes_text, route_key
from wgexplain.sources.iproute_rule import parse_rules_json, parse_rules_text, rule_key
from wgexplain.sources.transcript import parse_command, strip_ansi


_OK, _WHY = lab_available()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(not _OK, reason=_WHY)]

SETUP = """
link set lo up
link add veth0 type veth peer name veth1
link add veth2 type veth peer name veth3
link set veth0 up
link set veth1 up
link set veth2 up
link set veth3 group 7 mtu 1400
addr add 198.51.100.2/24 dev veth0
addr add 198.51.100.3/24 dev veth0 label veth0:1
addr add 203.0.113.5 peer 203.0.113.6/32 dev veth2
addr add 10.20.0.1/24 dev veth1 valid_lft 100 preferred_lft 0
addr add 10.9.0.1/16 dev veth3 noprefixroute
addr add 2001:db8::2/64 dev veth0 nodad
addr add 2001:db8:1::2/64 dev veth2 nodad noprefixroute
rule add pref 100 from 198.51.100.0/24 to 203.0.113.0/24 tos 0x10 fwmark 0x10/0xff iif veth0 oif veth2 uidrange 100-200 ipproto tcp sport 1000-2000 dport 443 lookup 100 proto static
rule add pref 101 not from 10.0.0.0/8 lookup main suppress_prefixlength 0
rule add pref 102 lookup main suppress_ifgroup 7
rule add pref 103 goto 200
rule add pref 104 nop
rule add pref 105 blackhole
rule add pref 106 unreachable
rule add pref 107 prohibit
rule add pref 108 from 198.51.100.7 iif nosuchdev lookup 1836018789
rule add pref 109 ipproto 47 fwmark 5 lookup local
rule add pref 110 not fwmark 0x6d6f6c65 lookup 1836018789
rule add pref 111 oif veth0 dport 53 ipproto udp prohibit
-6 rule add pref 100 from 2001:db8::/32 lookup 100
-6 rule add pref 101 to 2001:db8:5::/48 fwmark 0x1/0x1 lookup main suppress_prefixlength 0
route add 203.0.113.0/26 via 198.51.100.1 dev veth0 metric 5 src 198.51.100.2 proto static
route add 192.168.0.0/16 dev veth0 mtu 1300 advmss 1200
route add 172.16.0.0/12 nexthop via 198.51.100.1 dev veth0 weight 2 nexthop via 203.0.113.6 dev veth2 weight 1
route add blackhole 10.1.0.0/16
route add unreachable 10.2.0.0/16 metric 10
route add prohibit 10.3.0.0/16
route add throw 10.4.0.0/16 table 100
route add default via 198.51.100.1 table 100
route add 10.5.0.0/16 tos 0x10 via 198.51.100.1
route add 10.6.0.1 via 198.51.100.99 dev veth0 onlink
route add local 10.7.0.0/16 dev lo table 100
route add broadcast 10.8.255.255 dev veth0 table local
route add anycast 10.10.0.0/16 dev veth0 table 100
route add multicast 224.1.0.0/16 dev veth0 table 100
route add default dev veth2 table 1836018789 scope link
route add 10.12.0.0/16 dev veth0 proto dhcp scope link rtt 10ms
-6 route add 2001:db8:5::/48 via 2001:db8::1 dev veth0 pref high expires 300
-6 route add 2001:db8:6::/48 nexthop via 2001:db8::1 dev veth0 nexthop via 2001:db8::3 dev veth0 weight 3
-6 route add unreachable 2001:db8:7::/48
-6 route add prohibit 2001:db8:8::/48 metric 5
-6 route add default via 2001:db8::1 dev veth0 metric 1024 pref low table 100
-6 route add 2001:db8:9::/48 dev veth0 mtu 1280
link set veth3 down
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab("src") as made:
        yield made


@pytest.fixture(scope="module")
def ns(lab: Lab) -> str:
    name = lab.netns("ns")
    for line in SETUP.strip().splitlines():
        lab.ip(name, *line.split())
    # the link-local addresses are tentative until DAD ends (about a second): two listings
    # taken on either side of that moment differ, so the tests start after it
    wait_for(lambda: "tentative" not in ip(name, "-6", "addr"), 10.0, "IPv6 DAD in the namespace")
    return name


def ip(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True,
                          text=True).stdout


def _no_origin_links(xs: list) -> list:  # type: ignore[type-arg]
    import dataclasses

    return [dataclasses.replace(x, origin=Origin("")) for x in xs]


@pytest.mark.parametrize("fam,opt", [(AF_INET, "-4"), (AF_INET6, "-6")])
@pytest.mark.parametrize("extra", [(), ("-d",)])
def test_rules_text_and_json_agree(ns: str, fam: int, opt: str, extra: tuple[str, ...]) -> None:
    text = parse_rules_text(ip(ns, opt, *extra, "rule"), "t", family=fam)
    js = parse_rules_json(ip(ns, opt, *extra, "-j", "-p", "rule"), "j", family=fam)
    assert [rule_key(r) for r in text] == [rule_key(r) for r in js]
    assert len(text) >= (14 if fam == AF_INET else 4)


def test_rule_selectors_read(ns: str) -> None:
    rules = {r.pref: r for r in parse_rules_text(ip(ns, "rule"), "t")}
    r = rules[100]
    assert (r.fwmark, r.fwmask, r.uidrange, r.ipproto, r.sport, r.dport, r.tos, r.iif, r.oif,
            r.table, r.protocol) == (0x10, 0xFF, (100, 200), 6, (1000, 2000), (443, 443), 0x10,
                                     "veth0", "veth2", 100, "static")
    assert rules[101].invert and rules[101].suppress_prefixlength == 0
    assert rules[102].suppress_ifgroup == 7
    assert (rules[103].action, rules[103].goto) == ("goto", 200)
    assert [rules[p].action for p in (104, 105, 106, 107)] == ["nop", "blackhole", "unreachable",
                                                               "prohibit"]
    assert rules[108].iif_detached and rules[108].table == 1836018789
    assert rules[109].ipproto == 47 and rules[109].table == 255
    assert rules[110].invert and rules[110].fwmark == 0x6D6F6C65 and rules[110].fwmask is None


@pytest.mark.parametrize("args,fam", [
    (("route", "show", "table", "all"), None),
    (("-4", "route", "show", "table", "all"), AF_INET),
    (("-6", "route", "show", "table", "all"), AF_INET6),
    (("-d", "route", "show", "table", "all"), None),
    (("route",), AF_INET),
    (("-6", "route"), AF_INET6),
])
def test_routes_text_and_json_agree(ns: str, args: tuple[str, ...], fam: int | None) -> None:
    cmd = parse_command("ip " + " ".join(args))
    assert cmd is not None and cmd.kind == "ip-route"
    assert cmd.family == fam
    text = parse_routes_text(ip(ns, *args), "t", family=cmd.family)
    js = parse_routes_json(ip(ns, "-j", *args), "j", family=cmd.family)
    assert [route_key(r) for r in text] == [route_key(r) for r in js]
    fams = {r.family for r in text}
    assert fams == ({AF_INET, AF_INET6} if fam is None else {fam})


def test_route_fields_read(ns: str) -> None:
    routes = parse_routes_text(ip(ns, "route", "show", "table", "all"), "t")
    by = {(r.family, r.table, str(r.dst), r.type): r for r in routes}
    types = {r.type for r in routes}
    assert {"unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable",
            "prohibit", "throw"} <= types
    mp = by[(AF_INET, 254, "172.16.0.0/12", "unicast")]
    assert [(str(h.gateway), h.dev, h.weight) for h in mp.nexthops] == [
        ("198.51.100.1", "veth0", 2), ("203.0.113.6", "veth2", 1)]
    assert "linkdown" in mp.nexthops[1].flags
    onl = by[(AF_INET, 254, "10.6.0.1/32", "unicast")]
    assert onl.nexthops[0].onlink and "onlink" in onl.flags
    assert by[(AF_INET, 254, "10.5.0.0/16", "unicast")].tos == 0x10
    assert dict(by[(AF_INET, 254, "192.168.0.0/16", "unicast")].extra) == {"mtu": "1300",
                                                                         "advmss": "1200"}
    assert dict(by[(AF_INET, 254, "10.12.0.0/16", "unicast")].extra) == {"rtt": "10"}
    vpn = by[(AF_INET, 1836018789, "0.0.0.0/0", "unicast")]
    assert vpn.dev == "veth2" and vpn.scope == "link" and "linkdown" in vpn.flags
    p = by[(AF_INET, 254, "203.0.113.0/26", "unicast")]
    assert (p.metric, p.protocol, str(p.prefsrc), str(p.gateway)) == (5, "static", "198.51.100.2",
                                                                      "198.51.100.1")
    v6 = by[(AF_INET6, 254, "2001:db8:5::/48", "unicast")]
    assert v6.pref == "high" and v6.expires is not None and 0 < v6.expires <= 300
    assert by[(AF_INET6, 100, "::/0", "unicast")].pref == "low"
    mp6 = by[(AF_INET6, 254, "2001:db8:6::/48", "unicast")]
    assert [h.weight for h in mp6.nexthops] == [1, 3]
    assert by[(AF_INET6, 255, "ff00::/8", "multicast")].family == AF_INET6


@pytest.mark.parametrize("args", [("addr",), ("-d", "addr"), ("-o", "addr"), ("-s", "addr"),
                                  ("link",), ("-d", "link"), ("-o", "link"), ("-s", "-s", "link"),
                                  ("-4", "addr"), ("-6", "addr")])
def test_addr_and_link_text_and_json_agree(ns: str, args: tuple[str, ...]) -> None:
    lt, at = parse_addr_text(ip(ns, *args), "t", details="-d" in args)
    lj, aj = parse_addr_json(ip(ns, "-j", *args), "j")
    assert _no_origin_links(lt) == _no_origin_links(lj)
    assert _no_origin_links(at) == _no_origin_links(aj)
    if "link" in args or ("-o" not in args and "-6" not in args):
        assert len(lt) == 5
    if "-d" in args:
        assert {lk.kind for lk in lt} == {None, "veth"}


def test_addr_fields_read(ns: str) -> None:
    links, addrs = parse_addr_text(ip(ns, "addr"), "t")
    by = {str(a.address): a for a in addrs}
    assert by["198.51.100.3/24"].label == "veth0:1" and "secondary" in by["198.51.100.3/24"].flags
    peer = by["203.0.113.5/32"]
    assert str(peer.peer) == "203.0.113.6/32" and peer.dev == "veth2"
    assert {"dynamic", "deprecated"} <= by["10.20.0.1/24"].flags
    assert "noprefixroute" in by["2001:db8:1::2/64"].flags
    assert by["127.0.0.1/8"].scope == "host"
    lk = {x.name: x for x in links}
    assert lk["veth3"].group == 7 and lk["veth3"].mtu == 1400 and not lk["veth3"].up
    assert lk["lo"].link_type == "loopback" and "LOOPBACK" in lk["lo"].flags


# Every abbreviation names the same listing as ``ip`` itself prints.
ABBREVIATIONS = [
    ("ip r", "ip route show"), ("ip ro", "ip route show"), ("ip r s", "ip route show"),
    ("ip route list", "ip route show"), ("ip r l", "ip route show"),
    ("ip ru", "ip rule show"), ("ip ru s", "ip rule show"), ("ip rule lst", "ip rule show"),
    ("ip -4 rule show", "ip rule show"), ("ip a", "ip addr show"), ("ip a s", "ip addr show"),
    ("ip ad l", "ip addr show"), ("ip addr lst", "ip addr show"), ("ip l", "ip link show"),
    ("ip li sh", "ip link show"), ("ip -c a s", "ip addr show"), ("ip -col=always r", "ip route show"),
    ("ip --color r", "ip route show"), ("ip -f inet6 r", "ip -6 route show"),
    ("ip -fam inet r", "ip route show"), ("ip r sh t all", "ip route show table all"),
    ("ip r s ta 100", "ip route show table 100"), ("ip -6 ro show tab local", "ip -6 route show table local"),
    ("ip -s -s l", "ip -s -s link show"), ("ip -d a", "ip -d addr show"),
]


@pytest.mark.parametrize("abbr,full", ABBREVIATIONS)
def test_abbreviations_match_ip(ns: str, abbr: str, full: str) -> None:
    a, f = parse_command(abbr), parse_command(full)
    assert a is not None and f is not None
    assert (a.kind, a.family, a.table, a.json, a.details) == (f.kind, f.family, f.table, f.json,
                                                             f.details)
    # and ip itself agrees that they are the same listing
    out_a = strip_ansi(ip(ns, *abbr.split()[1:]))
    out_f = ip(ns, *full.split()[1:])
    def stable(out: str) -> list[str]:  # lifetimes, expiry and packet counters tick
        return [re.sub(r"expires \d+sec", "expires", x) for x in out.splitlines()
                if "valid_lft" not in x and not x.split()[0].isdigit()]

    assert stable(out_a) == stable(out_f)


def test_pasted_session_of_real_output_reads_like_the_listings(ns: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    parts = []
    for cmd in ("ip -c a s", "ip rule", "ip -6 rule show", "ip route show table all",
                "ip -j -p ru", "ip -6 -j route show table 100"):
        argv = cmd.split()[1:]
        out = subprocess.run(["ip", "-n", ns, "-c=always" if "-c" in argv else "-c=never",
                              *[a for a in argv if a != "-c"]], check=True, capture_output=True,
                             text=True).stdout
        parts.append(f"user@box:~$ {cmd}\n{out}\nSome prose the user wrote: 出力\n")
    session = tmp_path / "session.txt"
    session.write_text("Here is my setup.\n\n" + "".join(parts))
    host = load_raw(str(session))
    bundle_rules = parse_rules_text(ip(ns, "rule"), "x") + parse_rules_text(
        ip(ns, "-6", "rule"), "x", family=AF_INET6)
    assert sorted(rule_key(r) for r in host.rules) == sorted(rule_key(r) for r in bundle_rules)
    listed = parse_routes_text(ip(ns, "route", "show", "table", "all"), "x")
    assert sorted(map(repr, map(route_key, host.routes))) == sorted(map(repr, map(route_key,
                                                                               listed)))
    assert {"ip-rule", "ip6-rule", "ip-route:all", "ip6-route:all", "ip-addr"} <= host.dumped
    # origins point at the pasted lines
    for r in host.rules[:3]:
        line = session.read_text().split("\n")[r.origin.line - 1]
        assert line.startswith(f"{r.pref}:") or "{" in line


def _wg_ok() -> bool:
    return all(shutil.which(t) for t in ("wireguard-go", "wg", "unshare", "nsenter"))


@pytest.mark.skipif(not _wg_ok(), reason="wireguard-go, wg (wireguard-tools), unshare or "
                    "nsenter not installed")
def test_wg_outputs_of_a_real_device(lab: Lab, ns: str) -> None:
    from wgexplain.sources.wg import parse_wg_dump, parse_wg_show, parse_wg_showconf

    ifname = f"wgxs{os.getpid() % 100000}"
    dev = WireguardGo(lab, ns, ifname)
    try:
        key, pub = genkey()[0], genkey()[1]  # ours, and the peer's public key
        wg = dev.wg
        wg("set", ifname, "private-key", "/dev/stdin", "listen-port", "51999", "fwmark",
           "0x6d6f6c65", "peer", pub, "endpoint", "203.0.113.76:19955", "allowed-ips",
           "0.0.0.0/0,::/0", "persistent-keepalive", "25", input=key + "\n")
        dump = [w for w in parse_wg_dump(wg("show", "all", "dump"), "d") if w.name == ifname]
        human = [w for w in parse_wg_show(wg("show", ifname), "h")]
        conf = parse_wg_showconf(wg("showconf", ifname), "c", 1, ifname)
        for got in (dump, human, conf):
            assert len(got) == 1
            w = got[0]
            assert (w.name, w.fwmark, w.listen_port) == (ifname, 0x6D6F6C65, 51999)
            assert len(w.peers) == 1
            p = w.peers[0]
            assert p.public_key == pub and p.keepalive == 25
            assert str(p.endpoint[0]) == "203.0.113.76" and p.endpoint[1] == 19955
            assert [str(n) for n in p.allowed_ips] == ["0.0.0.0/0", "::/0"]
    finally:
        dev.stop()


def test_bundle_of_text_and_json_files_agrees(ns: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from wgexplain.sources.bundle import read_bundle

    files = {"ip-rule": ("-4", "rule"), "ip6-rule": ("-6", "rule"),
             "ip-route": ("-4", "route", "show", "table", "all"),
             "ip6-route": ("-6", "route", "show", "table", "all"), "ip-addr": ("addr",),
             "ip-link": ("-d", "link")}
    both, text_only = tmp_path / "both", tmp_path / "text"
    both.mkdir()
    text_only.mkdir()
    for stem, args in files.items():
        t = ip(ns, *args)
        (both / f"{stem}.txt").write_text(t)
        (text_only / f"{stem}.txt").write_text(t)
        (both / f"{stem}.json").write_text(ip(ns, "-j", *args))
    a, b = read_bundle(both), read_bundle(text_only)
    assert sorted(map(repr, map(route_key, a.routes))) == sorted(map(repr, map(route_key,
                                                                               b.routes)))
    assert [rule_key(r) for r in a.rules] == [rule_key(r) for r in b.rules]
    assert {"ip-route:all", "ip6-route:all", "ip-rule", "ip6-rule", "ip-addr"} <= a.dumped
    assert {lk.name: lk.kind for lk in a.links}["veth0"] == "veth"


def test_nft_text_and_json_blocks_in_a_session(ns: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("wgexplain.sources.nft")
    ruleset = ("table inet wgxsrc {\n  chain output {\n    type filter hook output priority 0; "
               "policy accept;\n    oif \"veth0\" udp dport 53 accept\n    # a comment\n  }\n}\n")
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=ruleset, text=True,
                   check=True, capture_output=True)
    try:
        text = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                              check=True, capture_output=True, text=True).stdout
        js = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "ruleset"],
                            check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "wgxsrc"],
                       capture_output=True)
    for body, cmd in ((text, "nft list ruleset"), (js, "nft -j list ruleset")):
        session = tmp_path / "s.txt"
        session.write_text(f"root@box:~# {cmd}\n{body}\nそれだけです\n$ ip rule\n"
                           + ip(ns, "rule"))
        host = load_raw(str(session))
        assert host.ruleset is not None, cmd
        assert [t.name for t in host.ruleset.tables] == ["wgxsrc"]
        (blk,) = host.blocks
        assert blk[0] == cmd and blk[1].line == 2 and "それだけ" not in blk[2]
        assert len(host.rules) >= 14


def test_bundle_nft_text_and_json_agree_or_warn_naming_both(lab: Lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """nft's own two listings of one ruleset read as one; twins that differ
    cost a warning naming the first rule that differs, and the JSON is read."""
    pytest.importorskip("wgexplain.sources.nft")
    from wgexplain.sources.bundle import read_bundle

    seed = (Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "bundle"
            / "nft-ruleset.nft")
    name = lab.netns("nft")
    for dev, peer in (("wg-mullvad", "p0"), ("wlp0s20f3", "p1")):
        lab.ip(name, "link", "add", dev, "type", "veth", "peer", "name", peer)
    lab.exec(name, ["nft", "-f", str(seed)])
    text = lab.exec(name, ["nft", "list", "ruleset"]).stdout
    js = lab.exec(name, ["nft", "-j", "list", "ruleset"]).stdout
    (tmp_path / "nft-ruleset.nft").write_text(text)
    (tmp_path / "nft-ruleset.json").write_text(js)
    host = read_bundle(tmp_path)
    assert host.ruleset is not None and "nft" in host.dumped
    assert host.blocks[0][1].file.endswith("nft-ruleset.nft")
    assert not [w for w in host.warnings if "nft-ruleset" in w], host.warnings
    (tmp_path / "nft-ruleset.json").write_text(js.replace("19955", "19956"))
    host = read_bundle(tmp_path)
    warns = [w for w in host.warnings if "not the same ruleset" in w]
    assert len(warns) == 1 and "nft-ruleset.json" in warns[0], host.warnings
    assert "table inet mullvad: chain prerouting rule 2 differs" in warns[0], warns[0]
    assert host.blocks[0][1].file.endswith("nft-ruleset.json")
    assert host.ruleset is not None and "19956" in host.ruleset.tables[0].chains[0].rules[1].text
