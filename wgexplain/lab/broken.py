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

from wgexplain.lab.clients import EXAMPLES, KEYS, REPO, Lab, _pubkey, _uplink, dump_bundle

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


def _wg_quick_up(lab: Lab, client: str, conf_text: str) -> None:
    """``wg-quick up`` with wireguard-go kept in the foreground (its PID recorded)."""
    conf = lab.tmp / "wgq0.conf"
    conf.write_text(conf_text)
    conf.chmod(0o600)
    pidfile = lab.tmp / "wg.pid"
    wrapper = lab.tmp / "wg-go-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        "WG_PROCESS_FOREGROUND=1 wireguard-go -f \"$1\" >/dev/null 2>&1 &\n"
        f"echo $! > {pidfile}\n"
        "i=0; while [ ! -S /var/run/wireguard/$1.sock ] && [ $i -lt 100 ]; do sleep 0.05; "
        "i=$((i+1)); done\n")
    wrapper.chmod(0o755)
    try:
        lab.sh(client, f"wg-quick up {conf}",
               env={"WG_QUICK_USERSPACE_IMPLEMENTATION": str(wrapper)})
    finally:
        if pidfile.exists():
            lab.pids.append(int(pidfile.read_text().strip()))


def _laptop(lab: Lab, mac: str) -> str:
    """A client with eth0 on 192.168.1.0/24 and fd00:1::/64, default routes for both."""
    client, lan = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, lan, "eth0", mac)
    lab.sh(client, """
        ip addr add 192.168.1.50/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        ip -6 addr add fd00:1::50/64 dev eth0 nodad
        ip -6 route add default via fd00:1::1 dev eth0 proto ra metric 100
    """)
    return client


def _conf(allowed: str, address: str) -> str:
    return ("[Interface]\n"
            f"PrivateKey = {KEYS['client']}\n"
            "ListenPort = 51820\n"
            f"Address = {address}\n"
            "[Peer]\n"
            f"PublicKey = {_pubkey(KEYS['server'])}\n"
            "Endpoint = 203.0.113.5:51820\n"
            f"AllowedIPs = {allowed}\n")


def _full_tunnel(lab: Lab, mac: str) -> str:
    client = _laptop(lab, mac)
    _wg_quick_up(lab, client, _conf("0.0.0.0/0, ::/0", "10.8.0.2/32, fd42:42:42::2/128"))
    return client


def _nft(lab: Lab, ns: str, text: str, name: str) -> None:
    path = lab.tmp / f"{name}.nft"
    path.write_text(text)
    lab.sh(ns, f"nft -f {path}")


def ipv6_leak(lab: Lab) -> str:
    client = _laptop(lab, "02:00:5e:10:00:60")
    _wg_quick_up(lab, client, _conf("0.0.0.0/0", "10.8.0.2/32"))
    return client


def dns_leak(lab: Lab) -> str:
    client = _full_tunnel(lab, "02:00:5e:10:00:61")
    lan_out = "\t\tip daddr 192.168.1.0/24 accept\n\t\tip6 daddr fd00:1::/64 accept\n"
    _nft(lab, client, KILLSWITCH.format(lan_out=lan_out, input_policy="drop"), "ks")
    return client


def lan(lab: Lab) -> str:
    client = _full_tunnel(lab, "02:00:5e:10:00:62")
    _nft(lab, client, KILLSWITCH.format(lan_out="\t\treject\n", input_policy="accept"), "ks")
    return client


def no_killswitch(lab: Lab) -> str:
    """Full-tunnel rules and table (NetworkManager's shape) and no nftables at all."""
    client, peer = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, peer, "eth0", "02:00:5e:10:00:63")
    lab.wireguard_go(client, "wg0")
    lab.sh(client, f"""
        ip addr add 192.168.1.50/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        wg set wg0 private-key <(echo {KEYS['client']}) fwmark 51820 \
          peer {_pubkey(KEYS['server'])} endpoint 203.0.113.5:51820 allowed-ips 0.0.0.0/0
        ip link set wg0 mtu 1420 up
        ip addr add 10.8.0.2/32 dev wg0
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
    client, peer = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, peer, "eth0", "02:00:5e:10:00:65")
    lab.wireguard_go(client, "wg0")
    lab.sh(client, f"""
        ip addr add 192.168.1.50/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        wg set wg0 private-key <(echo {KEYS['client']}) \
          peer {_pubkey(KEYS['server'])} endpoint 203.0.113.5:51820 allowed-ips 0.0.0.0/0
        ip link set wg0 mtu 1420 up
        ip addr add 10.8.0.2/32 dev wg0
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
    lab = Lab(tag="brk")
    out = out or BROKEN / name
    try:
        client = recipe(lab)
        dump_bundle(lab, client, out, wg_ifaces)
    finally:
        lab.close()
    return out


def main(argv: list[str] | None = None) -> int:
    import sys

    names = (argv if argv is not None else sys.argv[1:]) or list(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        print(f"unknown sample(s): {', '.join(unknown)}; known: {', '.join(RECIPES)}",
              file=sys.stderr)
        return 2
    for name in names:
        out = produce(name)
        print(f"{name}: wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
