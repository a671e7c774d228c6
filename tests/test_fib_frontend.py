"""fib_frontend.complete(): what the kernel derives, as seen in a wgx- namespace on 6.18."""

from __future__ import annotations

import ipaddress as ip

from _fibhost import host, route, rule
from _seed_host import hand_built
from wgexplain.kernel.fib_frontend import Conf, complete
from wgexplain.kernel.fib_trie import format_route
from wgexplain.model import AF_INET, AF_INET6, Address, Host, Link

# `ip route show table local` in a namespace holding the seed's addresses (kernel 6.18):
# no broadcast for the network address (192.168.44.0) any more, none for 127.0.0.0.
SEED_LOCAL4 = {
    "local 10.147.23.252 dev wg-mullvad table local proto kernel scope host src 10.147.23.252",
    "local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1",
    "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1",
    "broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1",
    "local 192.168.44.83 dev wlp0s20f3 table local proto kernel scope host src 192.168.44.83",
    "broadcast 192.168.44.255 dev wlp0s20f3 table local proto kernel scope link src 192.168.44.83",
}


def table_lines(h: Host, fam: int, table: int) -> set[str]:
    return {format_route(r, h.table_name(table)) for r in h.routes_of(fam, table)}


def test_seed_local_table_as_the_kernel_builds_it() -> None:
    h = hand_built()
    assert table_lines(h, AF_INET, 255) == SEED_LOCAL4
    assert all(r.origin.derived and "fib_add_ifaddr" in r.origin.why for r in h.routes_of(AF_INET, 255))
    # main was dumped: nothing added to it (and noprefixroute would forbid the /24 anyway)
    assert len(h.routes_of(AF_INET, 254)) == 3
    assert any("table local was not in the dump" in w for w in h.warnings)


def test_seed_ipv6_derivations() -> None:
    h = hand_built()
    assert table_lines(h, AF_INET6, 255) == {
        "local ::1 dev lo table local proto kernel metric 0 pref medium",
        "local fe80::9f4e:c306:9e3d:8e8 dev wlp0s20f3 table local proto kernel metric 0 pref medium",
        "multicast ff00::/8 dev wlp0s20f3 table local proto kernel metric 256 pref medium",
        "multicast ff00::/8 dev wg-mullvad table local proto kernel metric 256 pref medium",
    }
    # every IPv6 address of the seed is noprefixroute: no main routes, and a warning says so
    assert h.routes_of(AF_INET6, 254) == []
    assert any("no IPv6 routes" in w for w in h.warnings)
    assert [(r.pref, r.table) for r in h.rules_of(AF_INET6)] == [(0, 255), (32766, 254)]
    assert all(r.origin.derived for r in h.rules_of(AF_INET6))


def test_default_rules_when_none_dumped() -> None:
    h = host(routes=[route("0.0.0.0/0", "eth0", gw="192.168.1.1")])
    assert [(r.pref, r.action, r.table) for r in h.rules_of(AF_INET)] == \
        [(0, "lookup", 255), (32766, "lookup", 254), (32767, "lookup", 253)]


def test_dumped_rules_are_kept_as_they_are() -> None:
    h = host([rule(0, table=255), rule(32766)])
    assert [r.pref for r in h.rules_of(AF_INET)] == [0, 32766]


def test_main_prefix_routes_only_when_main_missing() -> None:
    h = host(addrs=[("eth0", "192.168.1.10/24"), ("eth0", "192.168.1.11/24")])
    lines = table_lines(h, AF_INET, 254)
    assert lines == {"192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.10"}
    h = host(routes=[route("0.0.0.0/0", "eth0", gw="192.168.1.1")])
    assert table_lines(h, AF_INET, 254) == {"default via 192.168.1.1 dev eth0"}


def test_secondary_address_uses_primary_src_and_no_broadcast_dup() -> None:
    addrs = (Address("eth0", ip.ip_interface("192.168.1.10/24")),
             Address("eth0", ip.ip_interface("192.168.1.20/24"), flags=frozenset({"secondary"})))
    h = complete(Host(links=(Link(1, "eth0", frozenset({"UP"})),), addresses=addrs))
    lines = table_lines(h, AF_INET, 255)
    assert "local 192.168.1.20 dev eth0 table local proto kernel scope host src 192.168.1.10" in lines
    assert sum("broadcast" in x for x in lines) == 1


def test_down_link_gets_only_local_route() -> None:
    addrs = (Address("eth0", ip.ip_interface("192.168.1.10/24")),)
    h = complete(Host(links=(Link(1, "eth0", frozenset({"BROADCAST"})),), addresses=addrs))
    assert table_lines(h, AF_INET, 255) == {
        "local 192.168.1.10 dev eth0 table local proto kernel scope host src 192.168.1.10"}


def test_ipv6_prefix_and_link_local_routes() -> None:
    h = host(addrs=[("eth0", "2001:db8:1::10/64"), ("eth0", "fe80::1/64"), ("wg0", "fd00::2/128")])
    assert table_lines(h, AF_INET6, 254) == {
        "2001:db8:1::/64 dev eth0 proto kernel metric 256 pref medium",
        "fe80::/64 dev eth0 proto kernel metric 256 pref medium",
        "fd00::2 dev wg0 proto kernel metric 256 pref medium",
    }


def test_complete_is_idempotent() -> None:
    h = hand_built()
    assert complete(h) is h


def test_conf_defaults_and_fallbacks() -> None:
    c = Conf({"net.ipv4.conf.all.rp_filter": "2", "net.ipv4.conf.default.src_valid_mark": "1",
              "net.ipv4.ip_forward": "1"})
    assert c.maxconf("eth0", "rp_filter") == 2
    assert c.orconf("eth0", "src_valid_mark") is True
    assert c.forwarding("eth0") is True
    assert any("conf.default" in a for a in c.assumed)
    c = Conf({"net/ipv4/conf/eth0/rp_filter": "1"})
    assert c.maxconf("eth0", "rp_filter") == 1
    assert c.forwarding("eth0") is False
    assert any("forwarding = 0 (kernel default)" in a for a in c.assumed)


def test_ipv6_anycast_routes_only_with_forwarding() -> None:
    """addrconf_join_anycast(): seen as 'anycast 2001:db8:1:: ... table local' in the lab."""
    addrs = [("eth0", "2001:db8:1::10/64"), ("eth0", "fd00::2/128")]
    assert not any(r.type == "anycast" for r in host(addrs=addrs).routes)
    h = host(addrs=addrs, sysctls={"net.ipv6.conf.all.forwarding": "1"})
    assert {format_route(r, "local") for r in h.routes if r.type == "anycast"} == {
        "anycast 2001:db8:1:: dev eth0 table local proto kernel metric 0 pref medium"}
