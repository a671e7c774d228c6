"""The nf_tables evaluator and the hook walk, on small hand-written rulesets.

Each test states one kernel behaviour (nft_do_chain, nf_hook_slow, conntrack,
NAT) with a ruleset whose outcome differs if the behaviour were otherwise.
"""

from __future__ import annotations

import dataclasses

import pytest

from wgexplain import ruleset as rs
from wgexplain.kernel.nf_hooks import hook_entries
from wgexplain.kernel.path import trace
from wgexplain.model import AF_INET, AF_INET6
from wgexplain.sources import load_text

SESSION = """\
$ ip rule
0:	from all lookup local
32766:	from all lookup main
32767:	from all lookup default
$ ip route
default via 198.51.100.1 dev eth0 proto static
198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.2
203.0.113.0/24 dev eth1 proto kernel scope link src 203.0.113.1
$ ip -6 route
2001:db8::/64 dev eth0 proto kernel metric 256
default via 2001:db8::1 dev eth0 metric 1024
$ ip addr
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:00:00:01 brd ff:ff:ff:ff:ff:ff
    inet 198.51.100.2/24 brd 198.51.100.255 scope global eth0
       valid_lft forever preferred_lft forever
    inet6 2001:db8::2/64 scope global
       valid_lft forever preferred_lft forever
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:00:00:02 brd ff:ff:ff:ff:ff:ff
    inet 203.0.113.1/24 brd 203.0.113.255 scope global eth1
       valid_lft forever preferred_lft forever
$ sysctl net.ipv4.ip_forward
net.ipv4.ip_forward = 1
# nft list ruleset
"""


def host_with(ruleset: str):  # type: ignore[no-untyped-def]
    return load_text(SESSION + ruleset.strip("\n") + "\n", "test-session.txt")


def verdict(h, dst: str, **kw) -> str:  # type: ignore[no-untyped-def]
    return trace(h, dst, **kw).verdict


def chain_texts(t, hook: str | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.text for s in t.steps if s.stage == "hook" and (hook is None or s.hook == hook)]


# -- nf_hook_slow: the walk across base chains --------------------------------------


def test_accept_ends_only_its_own_chain() -> None:
    h = host_with("""
table inet a {
    chain out { type filter hook output priority 0; policy accept;
        udp dport 53 accept
    }
}
table inet b {
    chain out { type filter hook output priority 10; policy accept;
        udp dport 53 drop
    }
}
""")
    t = trace(h, "198.51.100.9", proto="udp", dport=53)
    assert t.verdict == "drop"
    assert chain_texts(t) == ["udp dport 53 accept", "udp dport 53 drop"]
    assert t.errno == "EPERM"


RACE = """
table inet first {
    chain out { type filter hook output priority 0; policy accept;
        meta mark set 0x1
    }
}
table ip second {
    chain out { type filter hook output priority 0; policy accept;
        meta mark 0x1 drop
    }
}
"""


def test_equal_priority_last_registered_runs_first() -> None:
    """``nf_hook_entries_grow()`` puts a new entry before existing ones of equal priority:
    the `ip second` chain (loaded later) runs first and sees mark 0 (checked in the
    kernel by tests/test_netfilter_hooks.py)."""
    h = host_with(RACE)
    entries = [e.label for e in hook_entries(h.ruleset, AF_INET, "output")]
    assert entries.index("ip second out") < entries.index("inet first out")
    assert entries.index("conntrack") < entries.index("ip second out")
    assert verdict(h, "198.51.100.9", proto="udp", dport=9) == "accept"


def test_family_of_chain_decides_which_packets_it_sees() -> None:
    h = host_with("""
table ip v4only {
    chain out { type filter hook output priority 0; policy drop;
    }
}
table inet both {
    chain out { type filter hook output priority 0; policy accept;
        ip6 daddr 2001:db8::9 reject
    }
}
""")
    assert verdict(h, "198.51.100.9", proto="udp", dport=9) == "drop"
    t = trace(h, "2001:db8::9", proto="udp", dport=9)
    assert t.verdict == "reject"
    assert [e.label for e in hook_entries(h.ruleset, AF_INET6, "output") if e.chain] == ["inet both out"]


def test_conntrack_runs_at_minus_200() -> None:
    """A chain below -200 sees no conntrack entry yet (ct state untracked is not set either:
    the packet simply has no ct), one above it does; notrack works only before it."""
    h = host_with("""
table inet t {
    chain raw { type filter hook output priority -300; policy accept;
        udp dport 5353 notrack
    }
    chain late { type filter hook output priority 0; policy accept;
        ct state untracked udp dport 5353 drop
        ct state new udp dport 5354 notrack
        ct state untracked udp dport 5354 drop
    }
}
""")
    assert verdict(h, "198.51.100.9", proto="udp", dport=5353) == "drop"
    t = trace(h, "198.51.100.9", proto="udp", dport=5354)
    assert t.verdict == "accept"
    assert any("no effect" in (s.effect or "") for s in t.steps)


# -- nft_do_chain: jumps, gotos, returns -----------------------------------------------


JUMPS = """
table inet t {
    chain out { type filter hook output priority 0; policy drop;
        udp dport 1 jump sub
        udp dport 2 goto sub
        udp dport 3 jump sub2
        udp dport 4 return
        accept
    }
    chain sub {
        udp dport 1 meta mark set 0x1
        return
    }
    chain sub2 {
        goto sub3
    }
    chain sub3 {
        meta mark set 0x3
    }
}
"""


@pytest.mark.parametrize("dport,expect,mark", [
    (1, "accept", 1),  # jump → return → back to the next rule (accept)
    (2, "drop", 0),    # goto sub, sub returns: nothing to return to → base policy
    (3, "accept", 3),  # jump sub2, goto sub3, end of sub3 → back after the jump
    (4, "drop", 0),    # return in a base chain → policy
])
def test_jump_goto_return(dport: int, expect: str, mark: int) -> None:
    h = host_with(JUMPS)
    t = trace(h, "198.51.100.9", proto="udp", dport=dport)
    assert t.verdict == expect
    if expect == "accept":
        assert t.egress is not None and t.egress.mark == mark


# -- expressions ---------------------------------------------------------------------


SETS = """
table inet t {
    set blocked {
        type ipv4_addr
        flags interval
        elements = { 203.0.113.128/25, 198.51.100.64-198.51.100.95 }
    }
    set svc {
        type ipv4_addr . inet_service
        elements = { 198.51.100.7 . 8000, 198.51.100.8 . 80 }
    }
    map marks {
        type ipv4_addr : mark
        elements = { 198.51.100.20 : 0x20 }
    }
    chain out { type filter hook output priority 0; policy accept;
        ip daddr @blocked drop
        ip daddr . tcp dport @svc accept
        tcp dport { 22, 25, 8000-8999 } reject with icmpx admin-prohibited
        meta mark set ip daddr map @marks
        meta mark 0x20 udp dport 9 drop
        oifname "eth*" udp dport 10 reject
        oifname != "eth*" udp dport 11 drop
        tcp dport vmap { 7000 : drop, 7001 : accept }
    }
}
"""


@pytest.mark.parametrize("dst,proto,dport,expect", [
    ("198.51.100.70", "udp", 9, "drop"),      # interval (range) in a named set
    ("198.51.100.63", "udp", 1, "accept"),    # just below the range
    ("198.51.100.7", "tcp", 8000, "accept"),  # concatenation matched before the port set
    ("198.51.100.8", "tcp", 8000, "reject"),  # same port, other address: not in the concatenation
    ("198.51.100.9", "tcp", 8080, "reject"),  # range inside an anonymous set
    ("198.51.100.20", "udp", 9, "drop"),      # map sets the mark, next rule matches it
    ("198.51.100.21", "udp", 9, "accept"),
    ("198.51.100.9", "udp", 10, "reject"),    # oifname wildcard
    ("198.51.100.9", "udp", 11, "accept"),    # negated wildcard
    ("198.51.100.9", "tcp", 7000, "drop"),    # verdict map
    ("198.51.100.9", "tcp", 7001, "accept"),
])
def test_sets_maps_and_vmaps(dst: str, proto: str, dport: int, expect: str) -> None:
    h = host_with(SETS)
    assert verdict(h, dst, proto=proto, dport=dport) == expect


def test_reject_types_and_what_the_sender_sees() -> None:
    h = host_with(SETS)
    t = trace(h, "198.51.100.9", proto="tcp", dport=22)
    assert t.errno == "EHOSTUNREACH"  # icmpx admin-prohibited → ICMP pkt-filtered (lab-checked)
    t = trace(h, "198.51.100.9", proto="udp", dport=10)
    assert t.errno == "EPERM"


MARKS = """
table ip t {
    chain out { type route hook output priority mangle; policy accept;
        udp dport 1 ct mark set 0x5
        udp dport 1 meta mark set ct mark
        udp dport 2 meta mark set 0x1234
        udp dport 2 ct mark set meta mark
        udp dport 2 ct mark & 0xff00 == 0x1200 meta mark set meta mark | 0x10000
    }
}
"""


def test_mark_copies_and_masks() -> None:
    h = host_with(MARKS)
    t = trace(h, "198.51.100.9", proto="udp", dport=1)
    assert t.egress.mark == 5
    t = trace(h, "198.51.100.9", proto="udp", dport=2)
    assert t.egress.mark == 0x11234


def test_ct_state_bitmask_and_established_replay() -> None:
    h = host_with("""
table inet t {
    chain out { type filter hook output priority 0; policy drop;
        ct state established,related accept
        ct state new udp dport 53 accept
    }
}
""")
    assert verdict(h, "198.51.100.9", proto="udp", dport=53) == "accept"
    assert verdict(h, "198.51.100.9", proto="udp", dport=54) == "drop"
    t = trace(h, "198.51.100.9", proto="udp", dport=54, state="established")
    assert t.verdict == "accept"
    # the first packet of that connection was dropped: the trace says the state cannot exist
    assert "cannot exist" in [s for s in t.steps if s.stage == "conntrack"][0].why


def test_missing_device_index_never_matches() -> None:
    h = host_with("""
table inet t {
    chain out { type filter hook output priority 0; policy accept;
        oif "eth0" udp dport 1 drop
    }
}
""")
    assert verdict(h, "198.51.100.9", proto="udp", dport=1) == "drop"
    gone = dataclasses.replace(h, links=tuple(l for l in h.links if l.name != "eth0"))
    # the device is gone: the rule's stored index matches nothing (the route fails first here)
    t = trace(gone, "203.0.113.9", proto="udp", dport=1)
    assert t.verdict == "accept"
    assert any("does not exist" in n for n in t.notes)


def test_unmodelled_expression_is_reported_not_guessed() -> None:
    h = host_with("""
table inet t {
    chain out { type filter hook output priority 0; policy accept;
        numgen random mod 2 0 drop
        udp dport 2 limit rate 10/second drop
    }
}
""")
    t = trace(h, "198.51.100.9", proto="udp", dport=1)
    j = t.to_json()
    assert j["exact"] is False
    assert any(s["stage"] == "unmodelled" and "numgen" in s["why"] for s in j["steps"])
    t = trace(h, "198.51.100.9", proto="udp", dport=2)
    assert t.verdict == "drop"
    assert any("limit" in n and "assumed" in n for n in t.notes)


def test_fib_reverse_path_check_in_prerouting() -> None:
    h = host_with("""
table inet t {
    chain pre { type filter hook prerouting priority -150; policy accept;
        fib saddr . iif oif missing drop
    }
}
""")
    # 203.0.113.5 is reachable through eth1, not eth0: spoofed when it arrives on eth0
    assert verdict(h, "198.51.100.2", src="203.0.113.5", iif="eth0", proto="udp", dport=1,
                   direction="in") == "drop"
    assert verdict(h, "198.51.100.2", src="203.0.113.5", iif="eth1", proto="udp", dport=1,
                   direction="in") == "accept"


# -- NAT and forwarding --------------------------------------------------------------


NAT = """
table ip nat {
    chain out { type nat hook output priority -100; policy accept;
        tcp dport 8080 dnat to 203.0.113.50:80
    }
    chain post { type nat hook postrouting priority srcnat; policy accept;
        oifname "eth0" masquerade
    }
}
table inet filter {
    chain fwd { type filter hook forward priority 0; policy drop;
        iifname "eth1" oifname "eth0" accept
    }
}
"""


def test_output_dnat_reroutes() -> None:
    h = host_with(NAT)
    t = trace(h, "198.51.100.9", proto="tcp", dport=8080)
    assert t.egress.dev == "eth1" and t.egress.dst == "203.0.113.50" and t.egress.dport == 80
    assert any(s.stage == "route" and "ip_route_me_harder" in s.why for s in t.steps)


def test_forward_with_masquerade() -> None:
    h = host_with(NAT)
    t = trace(h, "198.51.100.200", src="203.0.113.7", iif="eth1", proto="tcp", dport=443,
              direction="forward")
    assert t.verdict == "accept"
    assert t.egress.dev == "eth0" and t.egress.src == "198.51.100.2"
    t = trace(h, "203.0.113.9", src="198.51.100.7", iif="eth0", proto="tcp", dport=443,
              direction="forward")
    assert t.verdict == "drop"


def test_no_ruleset_means_no_firewall() -> None:
    h = load_text(SESSION.replace("# nft list ruleset\n", ""), "s.txt")
    t = trace(h, "198.51.100.9", proto="udp", dport=53)
    assert t.verdict == "accept" and t.egress.dev == "eth0"
    assert any("`nft list ruleset` was not pasted: no firewall assumed" in a
               for a in t.assumptions)


def test_json_shape_is_the_contract() -> None:
    h = host_with(NAT)
    j = trace(h, "198.51.100.9", proto="tcp", dport=8080).to_json()
    assert set(j) >= {"verdict", "egress", "encapsulated", "steps", "exact"}
    assert set(j["egress"]) >= {"dev", "src", "dst", "mark"}
    for s in j["steps"]:
        assert s["stage"] in ("route", "hook", "nat", "tunnel", "device", "conntrack", "unmodelled")
        assert isinstance(s["why"], str) and s["why"]
    hooks = [s for s in j["steps"] if s["stage"] == "hook"]
    assert all({"hook", "table", "chain", "verdict"} <= set(s) for s in hooks)


def test_bad_options_raise_usage_error() -> None:
    from wgexplain.errors import UsageError

    h = host_with(NAT)
    for kw in ({"direction": "sideways"}, {"state": "zombie"}, {"direction": "in"},
               {"proto": "tcp", "dport": 70000}, {"dport": 53}, {"endpoint": "nope"}):
        with pytest.raises(UsageError):
            trace(h, "198.51.100.9", **kw)
    with pytest.raises(UsageError):
        trace(h, "not-an-address")


def test_ruleset_base_chains_docstring_vs_kernel_order() -> None:
    """Ruleset.base_chains() is a stable sort; the kernel runs equal priorities in reverse
    registration order: the simulator must use hook_entries(), not base_chains()."""
    h = host_with(RACE)
    stable = [f"{c.family} {c.table} {c.name}" for c in h.ruleset.base_chains("output")]
    kernel = [e.label for e in hook_entries(h.ruleset, AF_INET, "output") if e.chain]
    assert stable == list(reversed(kernel))
    assert isinstance(h.ruleset, rs.Ruleset)


def test_socket_cgroupv2_and_skuid() -> None:
    h = host_with("""
table inet t {
    chain out { type filter hook output priority 0; policy accept;
        socket cgroupv2 level 2 "system.slice/vpn-bypass.service" udp dport 1 drop
        meta skuid 1000 udp dport 2 drop
    }
}
""")
    assert verdict(h, "198.51.100.9", proto="udp", dport=1,
                   cgroup="/system.slice/vpn-bypass.service/sub") == "drop"
    assert verdict(h, "198.51.100.9", proto="udp", dport=1, cgroup="/system.slice/other.service") == "accept"
    assert verdict(h, "198.51.100.9", proto="udp", dport=2, uid=1000) == "drop"
    assert verdict(h, "198.51.100.9", proto="udp", dport=2, uid=1001) == "accept"


def test_redirect_in_prerouting_and_ipv6_masquerade() -> None:
    h = host_with("""
table inet nat {
    chain pre { type nat hook prerouting priority dstnat; policy accept;
        iifname "eth1" tcp dport 80 redirect to :3128
    }
    chain post { type nat hook postrouting priority srcnat; policy accept;
        meta nfproto ipv6 oifname "eth0" masquerade
    }
}
""")
    t = trace(h, "198.51.100.80", src="203.0.113.7", iif="eth1", proto="tcp", dport=80, direction="in")
    assert t.verdict == "accept" and t.egress.local
    assert t.egress.dst == "203.0.113.1" and t.egress.dport == 3128
    t = trace(h, "2001:db8:1::9", proto="udp", dport=53)
    assert t.egress.dev == "eth0" and t.egress.src == "2001:db8::2"


def test_ct_direction_and_status_on_replies() -> None:
    h = host_with("""
table inet t {
    chain post { type nat hook postrouting priority srcnat; policy accept;
        oifname "eth1" masquerade
    }
    chain in { type filter hook input priority 0; policy drop;
        ct direction reply ct status snat accept
        ct direction reply udp sport 53 accept
    }
}
""")
    # reply to a connection this host opened to 198.51.100.9:53 (no NAT on eth0)
    t = trace(h, "198.51.100.2", src="198.51.100.9", iif="eth0", proto="udp", sport=53, dport=40000,
              direction="in", state="established")
    assert t.verdict == "accept"
    assert [s.text for s in t.steps if s.stage == "hook"][-1] == "ct direction reply udp sport 53 accept"
    # masquerade to the address the packet already has (eth1's own) translates nothing, and
    # nf_nat_setup_info() then sets no IPS_SRC_NAT: `ct status snat` does not match the reply
    t = trace(h, "203.0.113.1", src="203.0.113.9", iif="eth1", proto="tcp", sport=443, dport=40000,
              direction="in", state="established")
    assert t.verdict == "drop"
    first = trace(h, "203.0.113.9", proto="tcp", dport=443)
    assert any(s.stage == "nat" and "unchanged" in (s.effect or "") for s in first.steps)
    # the same packet opening a new connection is refused
    t = trace(h, "198.51.100.2", src="198.51.100.9", iif="eth0", proto="udp", sport=53, dport=40000,
              direction="in")
    assert t.verdict == "drop"
