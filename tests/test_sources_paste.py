"""Real-shaped pastes: listings found by their shape, wherever they are (issue 9).

Each paste below is made up, in a shape seen in real forum posts and issues:
Markdown without prompts, fences with any tag, quotes, HTML escapes, prose
in other languages, hidden addresses, elisions, notes, other tools' output.
Each test checks what was read AND the warning that names what was skipped.
"""

from __future__ import annotations

import pytest

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, Host
from wgexplain.sources import load_raw
from wgexplain.sources.placeholders import is_stand_in
from wgexplain.sources.transcript import split_words

RULES = ("0:\tfrom all lookup local\n32764:\tfrom all lookup main suppress_prefixlength 0\n"
         "32765:\tnot from all fwmark 0xca6c lookup 51820\n32766:\tfrom all lookup main\n"
         "32767:\tfrom all lookup default\n")
ADDR = ("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default "
        "qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"
        "    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n"
        "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group "
        "default qlen 1000\n    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n"
        "    inet 192.168.1.23/24 brd 192.168.1.255 scope global eth0\n"
        "       valid_lft forever preferred_lft forever\n")


def read(text: str, name: str = "p.md") -> Host:
    return load_raw(name, text=text)


def warning(h: Host, needle: str) -> str:
    hits = [w for w in h.warnings if needle in w]
    assert len(hits) == 1, (needle, h.warnings)
    return hits[0]


def lines_of(text: str, *needles: str) -> list[int]:
    rows = text.split("\n")
    return [next(i for i, x in enumerate(rows, 1) if n in x) for n in needles]


# ------------------------------------------------------------------ Markdown, no prompt


def test_markdown_issue_without_any_prompt() -> None:
    text = ("### Current Behavior\n\nNothing goes through the tunnel. `ip rule`:\n\n"
            "```\n" + RULES + "```\n\nand `ip route show table all` (all of it):\n\n"
            "```console\ndefault via 192.168.1.1 dev eth0 proto dhcp metric 100\n"
            "default dev wg0 table 51820 scope link\n"
            "local 192.168.1.23 dev eth0 table local proto kernel scope host src 192.168.1.23\n"
            "```\n\n```nftables\ntable inet filter {\n\tchain output {\n"
            "\t\ttype filter hook output priority 0; policy accept;\n\t\toifname \"wg0\" accept\n"
            "\t}\n}\n```\n\n* restarted\n* still broken\n\nСпасибо!\n")
    h = read(text)
    assert [r.pref for r in h.rules] == [0, 32764, 32765, 32766, 32767]
    assert {(r.table, str(r.dst)) for r in h.routes} == {
        (254, "0.0.0.0/0"), (51820, "0.0.0.0/0"), (255, "192.168.1.23/32")}
    assert {"ip-rule", "ip-route:all", "nft"} <= h.dumped
    assert h.ruleset is not None and h.ruleset.tables[0].name == "filter"
    a, b, c, d, e, f = lines_of(text, "### Current", "Nothing goes", "and `ip route",
                                "* restarted", "* still", "Спасибо")
    assert e == d + 1
    assert warning(h, "skipped").startswith(f"p.md: lines {a}, {b}, {c}, {d}-{e}, {f} skipped")


def test_a_heading_names_the_family_and_the_table() -> None:
    h = read("### ip -6 rule\n```\n0:\tfrom all lookup local\n32766:\tfrom all lookup main\n```"
             "\nTable 51820 (`ip route show table 51820`):\n```\ndefault dev wg0 scope link\n```\n")
    assert {r.family for r in h.rules} == {AF_INET6}
    (rt,) = h.routes
    assert rt.table == 51820 and "ip-route:51820" in h.dumped and "ip-route:main" not in h.dumped


def test_bare_routes_go_to_main_and_say_so() -> None:
    h = read("```\ndefault via 192.168.1.1 dev eth0\n192.168.1.0/24 dev eth0 scope link\n```\n")
    assert {r.table for r in h.routes} == {254}
    assert {"ip-route:bare", "ip-route:main"} <= h.dumped and "ip6-route:main" not in h.dumped
    assert "read as table main" in warning(h, "without their command")


def test_bare_ipv6_routes_are_ipv6_only() -> None:
    h = read("- `ip -6 route`:\n\n  ```\n  default via fe80::1 dev eth0 proto ra metric 1024 pref"
             " medium\n  2001:db8::/64 dev eth0 proto kernel metric 256 pref medium\n  ```\n")
    assert {r.family for r in h.routes} == {AF_INET6} and "ip6-route:main" in h.dumped
    assert "ip-route" not in h.dumped


def test_bare_ip_addr_in_html_escaped_quote() -> None:
    esc = ADDR.replace("<", "&lt;").replace(">", "&gt;")
    text = "Here:\n" + "".join("&gt; " + x + "\n" for x in esc.splitlines())
    h = read(text)
    assert [(a.dev, str(a.address)) for a in h.addresses] == [("lo", "127.0.0.1/8"),
                                                               ("eth0", "192.168.1.23/24")]
    assert {"ip-addr", "ip-addr:bare"} <= h.dumped
    assert warning(h, "skipped").startswith("p.md: line 1 skipped")


def test_ip_link_without_addresses_is_ip_link() -> None:
    h = read("```\n2: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN "
             "mode DEFAULT group default qlen 1000\n    link/none \n```\n")
    assert [lk.name for lk in h.links] == ["wg0"] and "ip-link" in h.dumped
    assert not any(k.startswith("ip-addr") for k in h.dumped)


def test_email_quoting_and_pre_tags() -> None:
    h = read("On Mon, Bob wrote:\n> Here is my ip rule:\n>\n> > 0:\tfrom all lookup local\n"
             ">> 32766:\tfrom all lookup main\nThanks\n", "mail.txt")
    assert [(r.pref, r.origin.line) for r in h.rules] == [(0, 4), (32766, 5)]
    h = read("<pre><code>0:\tfrom all lookup local\n32766:\tfrom all lookup main</code></pre>\n"
             "<p>what now?</p>\n")
    assert [r.pref for r in h.rules] == [0, 32766]
    assert "line 3 skipped" in warning(h, "skipped")


def test_indented_code_and_prose_in_japanese() -> None:
    text = ("ルールの一覧です:\n\n    0:\tfrom all lookup local\n    32766:\tfrom all lookup main"
            "\n\n    table inet filter {\n        chain input {\n            type filter hook "
            "input priority 0; policy drop;\n\n            ct state established accept\n"
            "        }\n    }\n\nよろしくお願いします\n")
    h = read(text)
    assert [r.pref for r in h.rules] == [0, 32766] and "nft" in h.dumped
    assert h.ruleset is not None
    a, b = lines_of(text, "ルール", "よろしく")
    assert warning(h, "skipped").startswith(f"p.md: lines {a}, {b} skipped")


def test_bare_json_listings_by_their_keys() -> None:
    h = read('Output of ip -j route:\n[{"dst":"default","gateway":"192.168.1.1","dev":"eth0",'
             '"protocol":"dhcp","metric":100,"flags":[]}]\nand:\n[{"priority":0,"src":"all",'
             '"table":"local"},{"priority":32766,"src":"all","table":"main"}]\n')
    assert [r.pref for r in h.rules] == [0, 32766] and str(h.routes[0].gateway) == "192.168.1.1"


def test_bare_wg_show_sysctl_and_dump() -> None:
    h = read("interface: wg0\n  public key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
             "  private key: (hidden)\n  listening port: 51820\n\n"
             "peer: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\n  endpoint: 198.51.100.7:51820\n"
             "  allowed ips: 0.0.0.0/0\n\nnet.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 2\n")
    (w,) = h.wireguard
    assert w.listen_port == 51820 and str(w.peers[0].endpoint[0]) == "198.51.100.7"
    assert h.sysctls["net.ipv4.conf.all.rp_filter"] == "2" and {"wg", "sysctl"} <= h.dumped
    d = read("wg0\t(hidden)\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\t51820\toff\n"
             "wg0\tBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\t(none)\t198.51.100.7:51820\t"
             "0.0.0.0/0\t1700000000\t100\t200\toff\n")
    assert d.wireguard[0].peers[0].endpoint[1] == 51820


def test_nothing_usable_says_what_to_paste() -> None:
    with pytest.raises(DumpError) as e:
        read("\nHello, my VPN does not work.\nCan you help?\n", "q.md")
    assert e.value.line == 2 and "ip route show table all" in str(e.value)
    assert "sudo wg show" in str(e.value) and "private key" in str(e.value)


# ------------------------------------------------------------------ session structure


def test_route_get_after_a_route_listing_is_the_kernels_answer() -> None:
    text = ("$ ip route\ndefault via 10.0.0.1 dev eth0 proto dhcp metric 100\n"
            "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n"
            "$ ip route get 8.8.8.8\n8.8.8.8 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 1000 \n"
            "    cache \n")
    h = read(text)
    assert len(h.routes) == 2
    (a,) = h.kernel_answers
    assert (a.command, a.dst, a.gateway, a.dev, a.src, a.origin.line) == (
        "ip route get 8.8.8.8", "8.8.8.8", "10.0.0.1", "eth0", "10.0.0.5", 5)


def test_a_paste_of_only_route_get_is_read() -> None:
    h = read("$ ip route get 10.9.9.9\nRTNETLINK answers: Network is unreachable\n")
    (a,) = h.kernel_answers
    assert a.error == "Network is unreachable" and a.command == "ip route get 10.9.9.9"
    h = read("```\n1.1.1.1 dev wg0 table 51820 src 10.2.0.2 uid 0 \n    cache \n```\n")
    assert h.kernel_answers[0].table == "51820" and not h.routes


def test_a_route_get_answer_quoted_in_a_sentence_is_kept() -> None:
    text = ("```\ndefault via 10.0.0.1 dev eth0\n```\n"
            "Результат `ip route get 1.1.1.1`: 1.1.1.1 dev wg0 table 51820 src 10.2.0.2 uid 0,"
            " то есть через туннель.\n")
    h = read(text)
    (a,) = h.kernel_answers
    assert (a.command, a.dev, a.table, a.src, a.origin.line) == (
        "ip route get 1.1.1.1", "wg0", "51820", "10.2.0.2", 4)
    assert not any("skipped" in w for w in h.warnings)


def test_show_lists_the_kernels_answers_and_the_hidden_addresses() -> None:
    from click.testing import CliRunner

    from wgexplain import cli

    text = ("$ ip route\ndefault via x.x.x.x dev eth0\n$ ip route get 8.8.8.8\n"
            "8.8.8.8 via 240.0.0.9 dev eth0 src 10.0.0.5 uid 1000 \n    cache \n")
    r = CliRunner().invoke(cli.main, ["show", "-", "--json"], input=text)
    d = __import__("json").loads(r.stdout)
    assert d["kernel_answers"][0]["command"] == "ip route get 8.8.8.8"
    assert d["kernel_answers"][0]["origin"] == "<stdin>:4"
    assert d["redacted"] == [{"text": "x.x.x.x", "stand_in": "240.0.0.1", "origin": "<stdin>:2"}]
    out = CliRunner().invoke(cli.main, ["show", "-"], input=text).stdout
    assert "$ ip route get 8.8.8.8" in out and "x.x.x.x -> 240.0.0.1  (<stdin>:2)" in out


def test_a_later_fence_is_not_glued_to_the_previous_command() -> None:
    text = ("```\n$ ip rule\n" + RULES + "```\nand then\n```\n" + ADDR + "```\n")
    h = read(text)
    assert len(h.rules) == 5 and len(h.addresses) == 2 and "ip-addr:bare" in h.dumped


def test_wg_quick_log_is_what_it_installed() -> None:
    text = ("$ sudo wg-quick up wg0\n[#] ip link add wg0 type wireguard\n"
            "[#] wg setconf wg0 /dev/fd/63\n[#] ip -4 address add 10.8.0.2/24 dev wg0\n"
            "[#] ip link set mtu 1420 up dev wg0\n[#] wg set wg0 fwmark 51820\n"
            "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51820\n"
            "[#] ip -4 rule add not fwmark 51820 table 51820\n"
            "[#] ip -4 rule add table main suppress_prefixlength 0\n"
            "[#] sysctl -q net.ipv4.conf.all.src_valid_mark=1\n[#] nft -f /dev/fd/63\n")
    h = read(text)
    # fib_default_rule_pref(): 32765 first, then 32764, as wg-quick's rules really get
    got = [(r.pref, r.table, r.invert, r.origin.derived) for r in h.rules if r.family == AF_INET]
    assert got == [(0, 255, False, True), (32764, 254, False, False),
                   (32765, 51820, True, False), (32766, 254, False, True),
                   (32767, 253, False, True)]
    assert [(r.table, r.dev) for r in h.routes] == [(51820, "wg0")]
    assert h.wireguard[0].fwmark == 51820 and h.sysctls["net.ipv4.conf.all.src_valid_mark"] == "1"
    assert [str(a.address) for a in h.addresses] == ["10.8.0.2/24"]
    assert {"wg-quick-log", "ip-rule:wg-quick-log"} <= h.dumped and "ip-rule" not in h.dumped
    w = warning(h, "not read from the wg-quick log")
    assert "wg setconf wg0 /dev/fd/63 (line 3)" in w and "nft -f /dev/fd/63 (line 11)" in w


def test_wg_quick_log_lines_cut_short_are_named() -> None:
    h = read("[#] ip link add\n[#] wg set wg0 fwmark\n"
             "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51820\n")
    assert [(r.table, r.dev) for r in h.routes] == [(51820, "wg0")]
    w = warning(h, "not read from the wg-quick log")
    assert "ip link add (line 1: cut short)" in w and "wg set wg0 fwmark (line 2)" in w


def test_a_failed_wg_quick_rolls_back() -> None:
    text = ("[#] ip link add wg0 type wireguard\n[#] ip -4 address add 10.8.0.2/24 dev wg0\n"
            "[#] ip link set mtu 1420 up dev wg0\n"
            "[#] ip -4 route add 0.0.0.0/0 dev wg0 table 51820\n"
            "[#] ip -4 rule add not fwmark 51820 table 51820\n"
            "[#] ip -4 rule add table main suppress_prefixlength 0\n[#] iptables-restore -n\n"
            "iptables-restore: line 5 failed\n[#] ip -4 rule delete table 51820\n"
            "[#] ip -4 rule delete table main suppress_prefixlength 0\n"
            "[#] ip link delete dev wg0\n")
    h = read(text)
    assert [r.pref for r in h.rules if r.family == AF_INET] == [0, 32766, 32767]
    assert not h.links and not h.addresses and not h.routes


def test_a_bare_listing_interrupted_by_log_lines_is_one_listing() -> None:
    text = ("2021-05-09 11:20:55 DEBG 'start-script' stdout output:\n"
            "default via 10.244.0.1 dev eth0\n"
            "local 10.244.0.139 dev eth0 table local proto kernel scope host src 10.244.0.139\n"
            "\n2021-05-09 11:20:55 DEBG 'start-script' stdout output:\n"
            "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1\n")
    h = read(text)
    assert sorted(str(r.dst) for r in h.routes) == ["0.0.0.0/0", "10.244.0.139/32",
                                                     "127.0.0.1/32"]
    assert "lines 1, 5 skipped" in warning(h, "skipped")


def test_long_words_split_linearly() -> None:
    assert split_words("sudo ip -4 'route' \"show\" table\\ x # note") == [
        "sudo", "ip", "-4", "route", "show", "table x"]
    assert len(split_words("ip " + "a" * 1_000_000)[1]) == 1_000_000
    assert split_words('ip "unbalanced') == ["ip", "unbalanced"]


# ------------------------------------------------------------------ partial and redacted


def test_cut_ruleset_keeps_every_complete_rule() -> None:
    text = ("# nft list ruleset\ntable inet filter {\n\tchain input {\n"
            "\t\ttype filter hook input priority 0; policy drop;\n\t\tct state established accept\n"
            "\t}\n\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n"
            "\t\toifname \"wg0\" accept\n\t\tip daddr 10.0.0.0/8 dr")
    h = read(text)
    assert h.ruleset is not None
    chains = {ch.name: ch for ch in h.ruleset.tables[0].chains}
    assert len(chains["input"].rules) == 1 and len(chains["output"].rules) == 1
    assert "nft:cut" in h.dumped
    assert "ends inside chain output at line 10" in warning(h, "ends inside")


def test_hidden_addresses_are_unknown_addresses() -> None:
    text = ("```\n<redacted> via 10.0.0.1 dev eth8\ndefault via 198.51.100.XY dev eth0\n"
            "198.51.100.XY/24 dev eth0 scope link\n```\n\n```\n" + ADDR.replace(
                "192.168.1.23/24", "[REDACTED]/24") + "```\n\n"
            "interface: wg0\n\n"
            "peer: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=\n  endpoint: x.x.x.x:51820\n"
            "  allowed ips: 0.0.0.0/0\n")
    h = read(text)
    by_line = {r.origin.line: r for r in h.routes}
    assert is_stand_in(by_line[2].dst) and is_stand_in(by_line[3].gateway)
    assert str(by_line[4].dst) == "198.51.100.0/24"  # the hidden part is host bits only
    assert is_stand_in(h.addresses_of("eth0")[0].address)
    assert is_stand_in(h.wireguard[0].peers[0].endpoint[0])
    assert [(x.origin.line, x.text) for x in h.redacted] == [
        (2, "<redacted>"), (3, "198.51.100.XY"), (4, "198.51.100.XY/24"), (14, "[REDACTED]/24"),
        (21, "x.x.x.x:51820")]
    assert "redacted" in h.dumped
    assert "lines 2-4, 14, 21" in warning(h, "hidden addresses")
    assert not is_stand_in(by_line[4].dst) and not is_stand_in("10.0.0.1")


def test_hidden_ipv6_and_nft_words() -> None:
    h = read("```\n2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1500 state UP\n"
             "    inet6 fd00::x:xxxx/64 scope global\n       valid_lft forever preferred_lft "
             "forever\n```\n")
    assert is_stand_in(h.addresses[0].address) and h.addresses[0].family == AF_INET6
    h = read("table inet f {\n\tchain c {\n\t\ttype filter hook output priority 0;\n"
             "\t\tip saddr redacted accept\n\t}\n}\n")
    assert [x.text for x in h.redacted] == ["redacted"]


def test_unknown_table_name_gets_an_id() -> None:
    h = read("ルーティング:\n```\n0:\tfrom all lookup local\n100:\tfrom all lookup wgc5\n```\n")
    (r,) = [r for r in h.rules if r.pref == 100]
    assert h.table_name(r.table or 0) == "wgc5"
    assert warning(h, "'wgc5'").startswith("p.md:4: table name 'wgc5' is not a standard one")


def test_rt_tables_pasted_bare_names_the_table() -> None:
    h = read("```\n#\n# reserved values\n#\n255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n"
             "100\twgc5\n```\n```\n100:\tfrom all lookup wgc5\n```\n")
    assert h.rules[0].table == 100


def test_elision_marks_the_listing_incomplete_and_notes_are_cut() -> None:
    text = ("$ ip route\ndefault via 10.0.0.1 dev eth0 proto dhcp metric 100 -> main docker network"
            "\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5   <-- this one\n...\n"
            "172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown # docker\n")
    h = read(text)
    assert len(h.routes) == 3
    assert {"ip-route:partial", "ip-route:elided"} <= h.dumped and "ip-route:main" not in h.dumped
    assert "lines 2-3, 5" in warning(h, "notes after the output")
    assert "line 4" in warning(h, "incomplete route listing")


def test_route_n_is_table_main() -> None:
    h = read("$ route -n\nKernel IP routing table\nDestination     Gateway         Genmask    "
             "     Flags Metric Ref    Use Iface\n0.0.0.0         192.168.1.1     0.0.0.0    "
             "     UG    100    0        0 eth0\n192.168.1.0     0.0.0.0         255.255.255.0 "
             "  U     100    0        0 eth0\n10.9.0.0        -               255.255.0.0     !"
             "     0      -        0 -\n")
    got = sorted((str(r.dst), r.type, str(r.gateway), r.dev, r.metric) for r in h.routes)
    assert got == [("0.0.0.0/0", "unicast", "192.168.1.1", "eth0", 100),
                   ("10.9.0.0/16", "unreachable", "None", None, 0),
                   ("192.168.1.0/24", "unicast", "None", "eth0", 100)]
    assert {"route-n", "ip-route:main"} <= h.dumped


def test_other_tools_are_named_not_read() -> None:
    text = ("```\n" + RULES + "```\n\n"
            "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
            " pkts bytes target     prot opt in     out     source               destination\n"
            "    0     0 ACCEPT     all  --  lo     *       0.0.0.0/0            0.0.0.0/0\n\n"
            "# Generated by iptables-save v1.8.7 on Mon Jan  1 00:00:00 2024\n*filter\n"
            ":INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n\n"
            "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n"
            "        inet 192.168.1.23  netmask 255.255.255.0  broadcast 192.168.1.255\n")
    h = read(text)
    assert len(h.rules) == 5
    w = warning(h, "not read:")
    assert "'iptables -L' output at lines 9-11" in w
    assert "'iptables-save' output at lines 13-17" in w
    assert "'ifconfig' output at lines 19-20" in w
    assert {"not-read:iptables", "not-read:iptables-save", "not-read:ifconfig"} <= h.dumped


def test_prompt_sessions_read_as_before() -> None:
    text = "$ ip rule\n" + RULES + "\n$ ip -4 route show table 51820\ndefault dev wg0 scope link\n"
    h = read(text, "s.txt")
    assert len(h.rules) == 5 and h.routes[0].table == 51820
    assert not any("skipped" in w for w in h.warnings)
    assert AF_INET in {r.family for r in h.rules}
