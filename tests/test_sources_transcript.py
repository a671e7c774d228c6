"""Pasted sessions: prompts, abbreviations, prose, colours, block ends, errors with lines."""

from __future__ import annotations

import pytest

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6
from wgexplain.sources import load_raw, read_session
from wgexplain.sources.placeholders import is_stand_in
from wgexplain.sources.transcript import parse_command, split_prompt, split_session

RULES = "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"


@pytest.mark.parametrize("line", [
    "$ ip rule", "# ip rule", "% ip rule", "> ip rule", "user@host:~$ ip rule",
    "[user@host ~]$ ip rule", "root@h:/# ip rule", "root@h:/etc/iproute2# ip rule",
    "(venv) user@host:~/x$ ip rule", "user@host ~ % ip rule", "$ sudo ip rule",
    "$ sudo -E ip rule", "$ sudo -u root ip -4 rule show", "$ /sbin/ip rule",
    "$  ip rule   ", "host# ip ru", "$ sudo ip netns exec vpn ip rule",
])
def test_prompts(line: str) -> None:
    hit = split_prompt(line)
    assert hit is not None and hit[1].kind == "ip-rule" and hit[1].family == AF_INET


@pytest.mark.parametrize("line", [
    "# comment about ip rule", "    # ip rule in a comment", "$ echo ip rule", "ip rule",
    "出力ip route show table 1836018789", "Output of ip route show table 1836018789",
    "$ ip rule add from all lookup main", "$ ip route del default", "table inet mullvad {",
    "$ nft add rule inet x y accept", "$ ip -batch cmds.txt", "I ran $ ip rule and got this",
])
def test_not_command_lines(line: str) -> None:
    assert split_prompt(line) is None


@pytest.mark.parametrize("cmd,kind,family,table,json", [
    ("ip -c route", "ip-route", AF_INET, None, False),
    ("ip route show table all", "ip-route", None, "all", False),
    ("ip -4 route show table all", "ip-route", AF_INET, "all", False),
    ("ip -6 r", "ip-route", AF_INET6, None, False),
    ("ip route show table 1836018789", "ip-route", AF_INET, "1836018789", False),
    ("ip route show table main", "ip-route", AF_INET, "main", False),
    ("ip -j -p route", "ip-route", AF_INET, None, True),
    ("ip --json route", "ip-route", AF_INET, None, True),
    ("ip -6 -json rule show", "ip-rule", AF_INET6, None, True),
    ("ip ru", "ip-rule", AF_INET, None, False),
    ("ip -c a s", "ip-addr", None, None, False),
    ("ip -o l", "ip-link", None, None, False),
    ("ip -br a", "ip-addr", None, None, False),
    ("nft list ruleset", "nft", None, None, False),
    ("nft -j list ruleset", "nft", None, None, True),
    ("sudo nft -a list ruleset", "nft", None, None, False),
    ("wg show all dump", "wg", None, None, False),
    ("wg", "wg", None, None, False),
    ("wg showconf wg0", "wg", None, None, False),
    ("sysctl -a", "sysctl", None, None, False),
    ("sysctl net.ipv4.ip_forward", "sysctl", None, None, False),
    ("cat /proc/sys/net/ipv4/ip_forward", "proc", None, None, False),
    ("grep . /proc/sys/net/ipv4/conf/*/rp_filter", "sysctl", None, None, False),
    ("cat /etc/iproute2/rt_tables", "rt_tables", None, None, False),
])
def test_commands(cmd: str, kind: str, family: int | None, table: str | None, json: bool) -> None:
    c = parse_command(cmd)
    assert c is not None
    assert (c.kind, c.family, c.table, c.json) == (kind, family, table, json)


def test_ansi_colours_and_trailing_spaces() -> None:
    text = ("$ ip -c route\n"
            "\x1b[32mdefault \x1b[0mvia \x1b[35m192.168.44.1 \x1b[0mdev \x1b[36mwlp0s20f3 "
            "\x1b[0mproto dhcp metric 600 \r\n\n$ ip -c rule\n" + RULES)
    h = read_session(text, "s.txt")
    assert len(h.routes) == 1 and h.routes[0].dev == "wlp0s20f3"
    assert str(h.routes[0].gateway) == "192.168.44.1" and h.routes[0].origin.line == 2
    assert [r.pref for r in h.rules] == [0, 32766, 32767]


def test_table_all_has_both_families_and_table_x_gets_its_table() -> None:
    text = ("$ ip route show table all\n"
            "default via 10.0.0.1 dev eth0 \n"
            "default dev wg0 table 51820 scope link \n"
            "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2 \n"
            "default via fe80::1 dev eth0 proto ra metric 1024 expires 1799sec pref medium\n"
            "local ::1 dev lo table local proto kernel metric 0 pref medium\n"
            "\n$ ip route show table 51820\ndefault dev wg0 scope link \n")
    h = read_session(text, "s")
    fams = {(r.family, r.table) for r in h.routes}
    assert fams == {(AF_INET, 254), (AF_INET, 51820), (AF_INET, 255), (AF_INET6, 254),
                    (AF_INET6, 255)}
    assert {"ip-route:all", "ip6-route:all", "ip-route:51820"} <= h.dumped
    v6 = [r for r in h.routes if r.family == AF_INET6 and r.table == 254][0]
    assert str(v6.dst) == "::/0" and v6.expires == 1799 and v6.pref == "medium"
    assert not any("differs" in w for w in h.warnings)


def test_nft_comments_are_not_prompts_and_prose_ends_the_block() -> None:
    text = ("# nft list ruleset\n"
            "table inet t {\n"
            "    # ip rule\n"
            "    chain c {\n"
            "# nft list ruleset\n"
            "        type filter hook output priority 0; policy accept;\n"
            "    }\n"
            "}\n"
            "\n"
            "関連情報\n"
            "$ ip rule\n" + RULES)
    blocks = split_session(text, "s")
    assert [b.command.kind for b in blocks] == ["nft", "ip-rule"]
    assert blocks[0].text.splitlines()[-1] == "}" and blocks[0].first_line == 2
    assert blocks[1].first_line == 12


def test_json_block_ends_at_the_end_of_the_value() -> None:
    text = ('$ ip -j -p rule\n[ {\n    "priority": 0,\n    "src": "all",\n    "table": "local"'
            '\n} ]\nthat was the output\n$ ip -6 -j route\n[{"dst":"::1","dev":"lo",'
            '"protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]\n')
    h = read_session(text, "s")
    assert [(r.pref, r.table, r.origin.line) for r in h.rules] == [(0, 255, 2)]
    assert [(str(r.dst), r.family, r.origin.line) for r in h.routes] == [("::1/128", AF_INET6, 9)]


def test_sysctl_forms() -> None:
    text = ("$ sysctl net.ipv4.conf.all.rp_filter net.ipv4.ip_forward\n"
            "net.ipv4.conf.all.rp_filter = 2\nnet.ipv4.ip_forward = 1\n\n"
            "$ cat /proc/sys/net/ipv4/conf/wlp0s20f3/src_valid_mark\n1\n"
            "$ sysctl -n net.ipv6.conf.all.forwarding\n0\n"
            "$ grep . /proc/sys/net/ipv4/conf/*/rp_filter\n"
            "/proc/sys/net/ipv4/conf/all/rp_filter:2\n/proc/sys/net/ipv4/conf/eth0.100/rp_filter:1\n"
            "$ sudo sysctl -a 2>/dev/null | grep ip_local\n"
            "net.ipv4.ip_local_port_range = 32768\t60999\n")
    h = read_session(text, "s")
    assert dict(h.sysctls) == {
        "net.ipv4.conf.all.rp_filter": "2", "net.ipv4.ip_forward": "1",
        "net.ipv4.conf.wlp0s20f3.src_valid_mark": "1", "net.ipv6.conf.all.forwarding": "0",
        "net.ipv4.conf.eth0/100.rp_filter": "1", "net.ipv4.ip_local_port_range": "32768 60999"}
    assert "sysctl" in h.dumped


def test_wg_show_and_dump_in_a_session() -> None:
    text = ("$ sudo wg show\n"
            "interface: wg-mullvad\n  public key: AAA=\n  private key: (hidden)\n"
            "  listening port: 51820\n  fwmark: 0x6d6f6c65\n\n"
            "peer: BBB=\n  endpoint: 185.195.233.76:19955\n  allowed ips: 0.0.0.0/0, ::/0\n"
            "  latest handshake: 1 minute, 2 seconds ago\n  transfer: 1.2 MiB received, 3 MiB sent\n"
            "\nThat's it.\n")
    h = read_session(text, "s")
    (w,) = h.wireguard
    assert (w.name, w.fwmark, w.listen_port, w.public_key) == ("wg-mullvad", 0x6D6F6C65, 51820,
                                                                "AAA=")
    (p,) = w.peers
    assert p.latest_handshake == -62 and [str(n) for n in p.allowed_ips] == ["0.0.0.0/0", "::/0"]
    assert h.blocks[0][0] == "sudo wg show" and "wg" in h.dumped

    dump = ("$ wg show all dump\n"
            "wg0\tPRIV=\tPUB=\t51820\toff\n"
            "wg0\tPEER=\t(none)\t[2001:db8::1]:51820\t10.0.0.0/8,::/0\t1700000000\t10\t20\t25\n")
    (w,) = read_session(dump, "d").wireguard
    assert w.fwmark == 0 and w.peers[0].endpoint[1] == 51820 and w.peers[0].keepalive == 25


def test_later_listing_replaces_and_warns() -> None:
    text = "$ ip rule\n" + RULES + "$ ip rule\n0:\tfrom all lookup local\n"
    h = read_session(text, "s")
    assert [r.pref for r in h.rules] == [0]
    assert any("two different ip rule listings" in w for w in h.warnings)


def test_filtered_listing_is_partial() -> None:
    h = read_session("$ ip route show dev eth0\ndefault via 10.0.0.1 \n10.0.0.0/24 proto kernel "
                     "scope link src 10.0.0.2 \n", "s")
    assert {r.dev for r in h.routes} == {"eth0"}
    assert "ip-route:partial" in h.dumped and "ip-route:main" not in h.dumped
    assert any("filtered" in w for w in h.warnings)


def test_missing_table_is_warned() -> None:
    h = read_session("$ ip rule\n0:\tfrom all lookup local\n100:\tfrom all lookup 7\n"
                     "$ ip r\ndefault dev eth0 scope link \n", "s")
    assert any("looks up table 7" in w for w in h.warnings)


def test_rt_tables_names() -> None:
    text = ("$ cat /etc/iproute2/rt_tables\n255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n"
            "100\tvpn\n\n$ ip rule\n0:\tfrom all lookup local\n100:\tfrom all lookup vpn\n"
            "$ ip route show table vpn\ndefault dev wg0 scope link \n")
    h = read_session(text, "s")
    assert [r.table for r in h.rules] == [255, 100]
    assert h.routes[0].table == 100 and h.table_name(100) == "vpn"


# ---------------------------------------------------------------- errors


def _err(text: str, name: str = "paste.txt") -> DumpError:
    with pytest.raises(DumpError) as e:
        read_session(text, name)
    return e.value


def test_unknown_table_name_in_a_rule_gets_an_id_and_a_warning() -> None:
    h = read_session("Hello\n\n$ ip rule\n0:\tfrom all lookup local\n"
                     "32766:\tfrom all lookup mian\n", "paste.txt")
    (r,) = [r for r in h.rules if r.pref == 32766]
    assert h.table_name(r.table or 0) == "mian" and r.table not in (253, 254, 255)
    assert any(w.startswith("paste.txt:5: table name 'mian'") and "rt_tables" in w
               for w in h.warnings)


def test_prose_between_route_lines_is_skipped_and_named() -> None:
    h = read_session("$ ip r\ndefault via 10.0.0.1 dev eth0 \nthis is not a route\n"
                     "10.0.0.0/24 dev eth0 \n", "paste.txt")
    assert [str(r.dst) for r in h.routes] == ["0.0.0.0/0", "10.0.0.0/24"]
    assert any("paste.txt: line 3 skipped" in w for w in h.warnings)


def test_unknown_table_name() -> None:
    h = read_session("$ ip rule\n0:\tfrom all lookup local\n5:\tfrom all lookup vpn\n", "p")
    (r,) = [r for r in h.rules if r.pref == 5]
    assert h.table_name(r.table or 0) == "vpn"
    assert any(w.startswith("p:3: table name 'vpn'") for w in h.warnings)


def test_bad_json_line() -> None:
    # '10.0.0.x' is a hidden address: read as an unknown one
    h = read_session('$ ip -j -p route\n[ {\n  "dst": "default",\n  "gateway": "10.0.0.x",\n'
                     '  "dev": "eth0"\n} ]\n', "p")
    assert [(x.text, x.origin.line) for x in h.redacted] == [("10.0.0.x", 4)]
    assert is_stand_in(h.routes[0].gateway)
    e = _err('$ ip -j route\n[{"dst": "default",, "dev": "eth0"}]\n')
    assert e.line == 2 and "JSON" in e.expected


def test_brief_output_is_refused_clearly() -> None:
    e = _err("$ ip -br a\nlo               UNKNOWN        127.0.0.1/8 ::1/128 \n")
    assert e.line == 2 and "-br" in e.expected


def test_ipv6_route_in_an_ipv4_listing() -> None:
    e = _err("$ ip route show table main\n2001:db8::/64 dev eth0 \n")
    assert e.line == 2 and "IPv4" in e.expected


def test_not_a_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "notes.txt"
    p.write_text("\n\nJust some notes\nwithout commands\n")
    with pytest.raises(DumpError) as e:
        load_raw(str(p))
    assert e.value.line == 3 and e.value.file == str(p)


def test_missing_file() -> None:
    with pytest.raises(DumpError) as e:
        load_raw("/nonexistent/wgx-nothing.txt")
    assert "no such file" in str(e.value)


def test_numbered_prose_after_output_is_not_a_route() -> None:
    text = ("1. My routes:\n$ ip r  # the main table\ndefault via 10.0.0.1 dev eth0 \n\n"
            "2. Then the rules:\n   (these came from mullvad)\n$ ip rule\n" + RULES +
            "\n3. 1.2 million thanks\n")
    h = read_session(text, "s")
    assert len(h.routes) == 1 and [r.pref for r in h.rules] == [0, 32766, 32767]
    assert "ip-route:main" in h.dumped and "ip-route:partial" not in h.dumped
