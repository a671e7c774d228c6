"""Purpose-made broken sample bundles, produced by the real kernel in a lab.

Each recipe sets up a configuration with one known problem inside
throw-away ``wgx-`` namespaces, using the same building blocks as
:mod:`wgexplain.lab.clients` (the real ``wg-quick`` script with wireguard-go,
``ip``, ``nft``, ``sysctl``), and dumps it with the commands a user would run
(:func:`wgexplain.lab.clients.dump_bundle`). ``wgexplain check`` must find
the problem on it (tests/test_check.py).

* ``ipv6-leak``: wg-quick with IPv4-only ``AllowedIPs = 0.0.0.0/0`` on a
  machine with an IPv6 default route: IPv6 leaves by eth0.
* ``dns-leak``: wg-quick full tunnel with a kill switch that allows the LAN
  but has no DNS rules: DNS to the LAN router's resolver leaves by eth0.
* ``lan``: wg-quick full tunnel with a kill switch that forgets the LAN
  (outbound to the LAN rejected) and no input filter (inbound from the LAN
  accepted): LAN unreachable and LAN exposed.
* ``no-killswitch``: full-tunnel rules and table (as NetworkManager and
  wg-quick make them) without any firewall: with the device gone, traffic
  leaves by the uplink.
* ``rp-filter``: wg-quick full tunnel, then ``rp_filter=1`` and
  ``src_valid_mark=0``: the tunnel's encrypted replies fail the strict
  reverse-path check.
* ``endpoint-loop``: a WireGuard device without fwmark, main's default route
  replaced by one into the device, no route to the endpoint: the encrypted
  packets would route back into the device.

Run ``scripts/lab-samples --broken [NAME...]`` (root) to regenerate
``examples/broken/<name>/``.
"""

from __future__ import annotations

from pathlib import Path

from wgexplain.lab.clients import (ETH0_V4, EXAMPLES, Lab, laptop, load_nft, machine,
                                   produce_bundle, run_recipes, wg_device, wg_quick_conf,
                                   wg_quick_up)

BROKEN = EXAMPLES / "broken"

#: The kill switch of the ``dns-leak`` and ``lan`` samples (wg-quick does not make one).
KILLSWITCH = """
table inet killswitch {{
	chain output {{
		type filter hook output priority filter; policy drop;
		oif "lo" accept
		oif "wgq0" accept
		meta mark 0x0000ca6c udp dport 51820 ip daddr 203.0.113.5 accept
{lan_out}	}}
	chain input {{
		type filter hook input priority filter; policy {input_policy};
		iif "lo" accept
		ct state established,related accept
		iif "wgq0" accept
	}}
}}
"""


def _full_tunnel(lab: Lab, mac: str) -> str:
    client = laptop(lab, mac)
    wg_quick_up(lab, client, wg_quick_conf())
    return client


def ipv6_leak(lab: Lab) -> str:
    client = laptop(lab, "02:00:5e:10:00:60")
    wg_quick_up(lab, client, wg_quick_conf(address="10.8.0.2/32", allowed="0.0.0.0/0"))
    return client


def dns_leak(lab: Lab) -> str:
    client = _full_tunnel(lab, "02:00:5e:10:00:61")
    lan_out = "\t\tip daddr 192.168.1.0/24 accept\n\t\tip6 daddr fd00:1::/64 accept\n"
    load_nft(lab, client, KILLSWITCH.format(lan_out=lan_out, input_policy="drop"), "ks")
    return client


def lan(lab: Lab) -> str:
    client = _full_tunnel(lab, "02:00:5e:10:00:62")
    load_nft(lab, client, KILLSWITCH.format(lan_out="\t\treject\n", input_policy="accept"), "ks")
    return client


def no_killswitch(lab: Lab) -> str:
    """Full-tunnel rules and table (NetworkManager's shape) and no nftables at all."""
    client = machine(lab, "eth0", "02:00:5e:10:00:63", ETH0_V4)
    wg_device(lab, client, "wg0", endpoint="203.0.113.5:51820", mtu=1420,
              addresses=["10.8.0.2/32"], fwmark=51820)
    lab.sh(client, """
        ip route add default dev wg0 table 51820
        ip rule add pref 31000 table main suppress_prefixlength 0
        ip rule add pref 31001 not fwmark 51820 table 51820
    """)
    return client


def rp_filter(lab: Lab) -> str:
    client = _full_tunnel(lab, "02:00:5e:10:00:64")
    lab.sh(client, """
        sysctl -q net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1 \
          net.ipv4.conf.eth0.rp_filter=1 net.ipv4.conf.all.src_valid_mark=0
    """)
    return client


def endpoint_loop(lab: Lab) -> str:
    client = machine(lab, "eth0", "02:00:5e:10:00:65", ETH0_V4)
    wg_device(lab, client, "wg0", endpoint="203.0.113.5:51820", mtu=1420,
              addresses=["10.8.0.2/32"])
    lab.sh(client, """
        ip route del default via 192.168.1.1 dev eth0
        ip route add default dev wg0
    """)
    return client


RECIPES = {
    "ipv6-leak": (ipv6_leak, ["wgq0"]),
    "dns-leak": (dns_leak, ["wgq0"]),
    "lan": (lan, ["wgq0"]),
    "no-killswitch": (no_killswitch, ["wg0"]),
    "rp-filter": (rp_filter, ["wgq0"]),
    "endpoint-loop": (endpoint_loop, ["wg0"]),
}

#: The problem each sample is made to show (a ``wgexplain check`` finding id).
EXPECTED = {
    "ipv6-leak": {"ipv6-leak"},
    "dns-leak": {"dns-leak"},
    "lan": {"lan-unreachable", "lan-exposed"},
    "no-killswitch": {"no-killswitch"},
    "rp-filter": {"rp-filter"},
    "endpoint-loop": {"endpoint-loop"},
}


def produce(name: str, out: Path | None = None) -> Path:
    """Build one broken configuration in the lab and dump it as a bundle."""
    recipe, wg_ifaces = RECIPES[name]
    return produce_bundle(recipe, wg_ifaces, out or BROKEN / name, "brk")


def main(argv: list[str] | None = None) -> int:
    return run_recipes(argv, RECIPES, produce)


if __name__ == "__main__":
    raise SystemExit(main())
