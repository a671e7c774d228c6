"""Sample bundles of other VPN clients, produced by the real kernel in a lab.

Each recipe sets a client's configuration up inside throw-away ``wgx-``
network namespaces and then dumps it with the same commands a user would run
(``ip -4 rule``, ``ip -4 route show table all``, ``nft list ruleset``,
``wg show all dump``, ...), so every byte of a sample is the kernel's (or the
tools') own output, never typed by hand.

* ``wg-quick``: the real ``wg-quick`` script from wireguard-tools, run in the
  namespace with wireguard-go as its userspace implementation.
* ``networkmanager``: the two rules and the table that NetworkManager's
  ``get_extra_rules()`` (src/core/devices/nm-device-wireguard.c) installs
  for ``ip4-auto-default-route``: pref P ``lookup main suppress_prefixlength
  0`` and P+1 ``not fwmark F lookup F``, with P even in 30768..31766 and F in
  51820..52319, both derived from the connection UUID. NetworkManager itself
  is not run (it would take over the namespace's devices); the commands it
  issues over netlink are replayed with ``ip``.
* ``tailscale``: the rules 5210-5270 and table 52 that tailscaled installs with
  an exit node (``--exit-node-allow-lan-access``), its ``ts-*`` firewall
  chains, replayed with ``ip`` and ``nft``; the tun device is held by
  wireguard-go under the name ``tailscale0``.
* ``mullvad-tailscale``: the seed's Mullvad configuration with Tailscale's
  rules and table added on top.
* ``mullvad-tailscale-twins`` (``examples/mullvad-tailscale/bundle-twins``):
  the same machine with a host firewall of its own whose chains spell their
  priorities three ways (``filter - 10``, ``-100`` on an input hook, where no
  name fits, and ``srcnat``), dumped with both ``nft list ruleset`` and
  ``nft -j list ruleset``: a bundle whose two nft files are one ruleset.

Run ``scripts/lab-samples`` (root) to regenerate ``examples/<client>/``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from wgexplain.lab import netns
from wgexplain.lab.wireguard_go import WireguardGo, pubkey

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

#: Lab-only WireGuard keys (generated once for these samples; they protect nothing).
KEYS = {
    "client": "8NJzz234zFaJIrT4R/8S/YZUmh0STnhKklkJr750P1I=",
    "server": "EGju+B/jR++lld/E0seytp/oxyAbkumoeme1nMwNxXs=",
    "ts": "8MZ5xgzpKOvBkEzpIYS6NH6qKgeHka831yqv6beuVl4=",
}

#: The wg-quick sample's configuration (keys filled in by :func:`wg_quick_conf`).
WG_QUICK_CONF = (
    "[Interface]\n"
    "PrivateKey = {private}\n"
    "ListenPort = 51820\n"
    "Address = 10.8.0.2/32, fd42:42:42::2/128\n"
    "[Peer]\n"
    "PublicKey = {public}\n"
    "Endpoint = 203.0.113.5:51820\n"
    "AllowedIPs = 0.0.0.0/0, ::/0\n")


class Lab(netns.Lab):
    """A :class:`wgexplain.lab.netns.Lab` with a scratch directory and the recipes' helpers.

    The recipes build machines meant to look like a user's: their wireguard-go
    devices use the machine's shared ``/run/wireguard`` (so ``wg`` and
    ``wgexplain capture --netns`` see them as on a real machine).
    """

    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tmp = Path(tempfile.mkdtemp(prefix="wgx-samples-"))

    def ns(self, role: str) -> str:
        """A namespace with loopback up and no duplicate address detection."""
        name = self.netns(role)
        self.sysctl(name, [("net.ipv6.conf.all.accept_dad", "0"),
                           ("net.ipv6.conf.default.accept_dad", "0")])
        self.ip(name, "link", "set", "lo", "up")
        return name

    def sh(self, ns: str, script: str, env: Mapping[str, str] | None = None) -> str:
        """Run a shell script inside a namespace (``ip netns exec``)."""
        return self.exec(ns, ["bash", "-euo", "pipefail", "-c", script], env=env).stdout

    def wireguard_go(self, ns: str, ifname: str) -> WireguardGo:
        """Start wireguard-go in the foreground inside ``ns`` (shared socket path)."""
        return WireguardGo(self, ns, ifname, private=False)

    def close(self) -> None:
        try:
            super().close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def uplink(lab: Lab, client: str, peer: str, dev: str, mac: str) -> None:
    """A veth ``dev`` in ``client`` whose other end lives in the lab's ``peer`` namespace."""
    lab.ip(client, "link", "add", dev, "address", mac, "type", "veth",
           "peer", "name", "up0", "netns", peer)
    lab.ip(peer, "link", "set", "up0", "up")
    lab.ip(client, "link", "set", dev, "up")


def machine(lab: Lab, dev: str, mac: str, setup: str) -> str:
    """A ``client`` namespace whose uplink ``dev`` (MAC ``mac``) leads to a ``lan``
    namespace, then configured by the shell script ``setup``; returns the client."""
    client, lan = lab.ns("client"), lab.ns("lan")
    uplink(lab, client, lan, dev, mac)
    lab.sh(client, setup)
    return client


#: eth0 on 192.168.1.0/24 with DHCP's default route, and the same for IPv6 (RA).
ETH0_V4 = """
    ip addr add 192.168.1.50/24 dev eth0
    ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
"""
ETH0_V6 = """
    ip -6 addr add fd00:1::50/64 dev eth0 nodad
    ip -6 route add default via fd00:1::1 dev eth0 proto ra metric 100
"""


def laptop(lab: Lab, mac: str) -> str:
    """A client with eth0 on 192.168.1.0/24 and fd00:1::/64, default routes for both."""
    return machine(lab, "eth0", mac, ETH0_V4 + ETH0_V6)


def wg_quick_conf(*, address: str | None = None, allowed: str | None = None) -> str:
    """:data:`WG_QUICK_CONF` with the lab keys; ``Address``/``AllowedIPs`` replaced when given."""
    text = WG_QUICK_CONF.format(private=KEYS["client"], public=pubkey(KEYS["server"]))
    lines = []
    for line in text.splitlines():
        key = line.split(" = ", 1)[0]
        if key == "Address" and address is not None:
            line = f"Address = {address}"
        elif key == "AllowedIPs" and allowed is not None:
            line = f"AllowedIPs = {allowed}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def wg_quick_up(lab: Lab, client: str, conf_text: str, ifname: str = "wgq0") -> None:
    """``wg-quick up`` (the real script) with wireguard-go kept in the foreground.

    wg-quick starts its userspace implementation and expects it to return: a
    wrapper starts wireguard-go in the background and records its PID, which
    the lab then kills at teardown (:meth:`wgexplain.lab.netns.Lab.adopt`).
    """
    conf = lab.tmp / f"{ifname}.conf"
    conf.write_text(conf_text)
    conf.chmod(0o600)
    pidfile = lab.tmp / f"{ifname}.pid"
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
            lab.adopt(int(pidfile.read_text().strip()))


def load_nft(lab: Lab, ns: str, text: str, name: str) -> None:
    """``nft -f FILE`` in ``ns`` (a file, so nft's errors name its lines)."""
    path = lab.tmp / f"{name}.nft"
    path.write_text(text)
    lab.sh(ns, f"nft -f {path}")


def dump_bundle(lab: Lab, ns: str, out: Path, wg_ifaces: list[str], *,
                nft_json: bool = False) -> None:
    """Write the bundle files (DESIGN.md names) as the tools print them;
    with ``nft_json`` also ``nft -j list ruleset`` (``nft-ruleset.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    cmds = {
        "ip-rule.txt": "ip -4 rule",
        "ip6-rule.txt": "ip -6 rule",
        "ip-route.txt": "ip -4 route show table all",
        "ip6-route.txt": "ip -6 route show table all",
        "ip-addr.txt": "ip addr",
        "ip-link.txt": "ip link",
        "nft-ruleset.nft": "nft list ruleset",
    }
    if nft_json:
        cmds["nft-ruleset.json"] = "nft -j list ruleset"
    for name, cmd in cmds.items():
        (out / name).write_text(lab.sh(ns, cmd))
    if wg_ifaces:
        # `wg show all dump` lists every wireguard-go interface on the machine
        # (one control-socket directory for all namespaces): keep ours.
        from wgexplain.sources.live import hide_wg_secrets

        # ... and write no private key into a sample (as `wgexplain capture`)
        lines = [hide_wg_secrets(ln) for ln in lab.sh(ns, "wg show all dump").splitlines()
                 if ln.split("\t", 1)[0] in wg_ifaces]
        (out / "wg.txt").write_text("\n".join(lines) + "\n")
    keys = ["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter",
            "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.all.src_valid_mark",
            "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"]
    (out / "sysctl.txt").write_text(lab.sh(ns, "sysctl " + " ".join(keys)))


def wg_quick(lab: Lab) -> str:
    """A laptop with wg-quick's full tunnel (IPv4 and IPv6): the real wg-quick script."""
    client = laptop(lab, "02:00:5e:10:00:50")
    wg_quick_up(lab, client, wg_quick_conf())
    return client


def wg_device(lab: Lab, ns: str, ifname: str, *, endpoint: str, mtu: int,
              addresses: Sequence[str], fwmark: int | str | None = None,
              listen_port: int | None = None, private_key: str = KEYS["client"],
              allowed: str = "0.0.0.0/0") -> None:
    """A wireguard-go device as a VPN client sets it up: MTU, up, addresses, then its key,
    listen port, fwmark and one peer (the lab server's key) at ``endpoint``.

    The peer comes last: what the kernel sends when the device comes up (IPv6
    router solicitations, MLD reports) then finds no peer, so wireguard-go starts
    no handshake and the sample's transfer counters stay 0.
    """
    lab.wireguard_go(ns, ifname)
    opts = (f" listen-port {listen_port}" if listen_port else "") + \
        (f" fwmark {fwmark}" if fwmark is not None else "")
    addrs = "".join(f"ip -6 addr add {a} dev {ifname} nodad\n" if ":" in a else
                    f"ip addr add {a} dev {ifname}\n" for a in addresses)
    lab.sh(ns, f"""
ip link set {ifname} mtu {mtu} up
{addrs}wg set {ifname} private-key <(echo {private_key}){opts} \\
  peer {pubkey(KEYS['server'])} endpoint {endpoint} allowed-ips {allowed}
""")


def tailscale_setup(lab: Lab, ns: str, lan_prefix: str) -> None:
    """What tailscaled installs on Linux with an exit node and LAN access allowed."""
    wg_device(lab, ns, "tailscale0", endpoint="203.0.113.7:41641", mtu=1280,
              addresses=["100.101.102.103/32", "fd7a:115c:a1e0::1234/128"], fwmark="0x80000",
              listen_port=41641, private_key=KEYS["ts"], allowed="0.0.0.0/0,::/0")
    lab.sh(ns, f"""
        for f in -4 -6; do
          ip $f rule add pref 5210 fwmark 0x80000/0xff0000 table main
          ip $f rule add pref 5230 fwmark 0x80000/0xff0000 table default
          ip $f rule add pref 5250 fwmark 0x80000/0xff0000 type unreachable
          ip $f rule add pref 5270 table 52
        done
        ip route add 100.64.0.0/10 dev tailscale0 table 52
        ip route add 100.100.100.100 dev tailscale0 table 52
        ip route add default dev tailscale0 table 52
        ip route add throw 127.0.0.0/8 table 52
        ip route add throw {lan_prefix} table 52
        ip -6 route add fd7a:115c:a1e0::/48 dev tailscale0 table 52
        ip -6 route add default dev tailscale0 table 52
    """)
    nft = """
table ip filter {
	chain ts-input {
		iifname "lo" ip saddr 100.101.102.103 counter accept
		iifname != "tailscale0" ip saddr 100.115.92.0/23 counter return
		iifname != "tailscale0" ip saddr 100.64.0.0/10 counter drop
		iifname "tailscale0" counter accept
		udp dport 41641 counter accept
	}
	chain ts-forward {
		iifname "tailscale0" counter meta mark set mark and 0xff00ffff xor 0x40000
		meta mark and 0xff0000 == 0x40000 counter accept
		oifname "tailscale0" ip saddr 100.64.0.0/10 counter drop
		oifname "tailscale0" counter accept
	}
	chain INPUT {
		type filter hook input priority filter; policy accept;
		counter jump ts-input
	}
	chain FORWARD {
		type filter hook forward priority filter; policy accept;
		counter jump ts-forward
	}
}
table ip nat {
	chain ts-postrouting {
		meta mark and 0xff0000 == 0x40000 counter masquerade
	}
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		counter jump ts-postrouting
	}
}
"""
    load_nft(lab, ns, nft, f"ts-{ns}")


def tailscale(lab: Lab) -> str:
    client = machine(lab, "eth0", "02:00:5e:10:00:51", """
        ip addr add 192.168.1.51/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        sysctl -q net.ipv4.conf.all.rp_filter=2
    """)
    tailscale_setup(lab, client, "192.168.1.0/24")
    return client


def networkmanager(lab: Lab) -> str:
    """NetworkManager's WireGuard profile with ip4-auto-default-route (rules replayed)."""
    prio, mark = 31266, 52019  # an even P in 30768..31766 and F in 51820..52319, as NM picks
    client = machine(lab, "wlp2s0", "02:00:5e:10:00:52", """
        ip addr add 192.168.1.52/24 dev wlp2s0 noprefixroute
        ip route add 192.168.1.0/24 dev wlp2s0 proto kernel scope link src 192.168.1.52 metric 600
        ip route add default via 192.168.1.1 dev wlp2s0 proto dhcp src 192.168.1.52 metric 600
    """)
    wg_device(lab, client, "nm-wg0", endpoint="203.0.113.9:51820", mtu=1420,
              addresses=["10.9.0.2/32"], fwmark=mark)
    lab.sh(client, f"""
        ip route add default dev nm-wg0 table {mark} proto static metric 50
        ip rule add pref {prio} table main suppress_prefixlength 0
        ip rule add pref {prio + 1} not fwmark {mark} table {mark}
    """)
    return client


def mullvad_tailscale(lab: Lab) -> str:
    """The seed's Mullvad configuration with Tailscale's rules on top (relay remapped)."""
    client = machine(lab, "wlp0s20f3", "f0:20:ff:a7:68:db", """
        ip addr add 192.168.44.83/24 brd 192.168.44.255 dev wlp0s20f3 noprefixroute
        ip route add 192.168.44.0/24 dev wlp0s20f3 proto kernel scope link src 192.168.44.83 metric 600
        ip route add default via 192.168.44.1 dev wlp0s20f3 proto dhcp src 192.168.44.83 metric 600
    """)
    wg_device(lab, client, "wg-mullvad", endpoint="203.0.113.76:19955", mtu=1380,
              addresses=["10.147.23.252/32"], fwmark="0x6d6f6c65")
    lab.sh(client, """
        ip route add 10.64.0.1 dev wg-mullvad proto static scope global
        ip route add default dev wg-mullvad table 1836018789 proto static scope global
        ip rule add pref 32764 table main suppress_prefixlength 0
        ip rule add pref 32765 not fwmark 0x6d6f6c65 table 1836018789
    """)
    seed = (EXAMPLES / "mullvad" / "bundle" / "nft-ruleset.nft").read_text()
    load_nft(lab, client, seed.replace("185.195.233.76", "203.0.113.76"), "mullvad")
    tailscale_setup(lab, client, "192.168.44.0/24")
    return client


#: A host firewall of the machine's own (as a distribution's nftables.conf
#: would hold), beside Mullvad's and Tailscale's tables. Its chains accept
#: (they end in policy accept), so every verdict stays Mullvad's and Tailscale's.
HOST_FIREWALL = """
table inet filter {
	chain early {
		type filter hook input priority -100; policy accept;
		iifname "tailscale0" counter
	}
	chain input {
		type filter hook input priority filter - 10; policy accept;
		ct state established,related accept
		iifname "lo" accept
		udp dport 41641 accept
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "tailscale0" ip saddr 10.147.23.252 counter
	}
}
"""


def mullvad_tailscale_twins(lab: Lab) -> str:
    """:func:`mullvad_tailscale` plus :data:`HOST_FIREWALL`."""
    client = mullvad_tailscale(lab)
    load_nft(lab, client, HOST_FIREWALL, "host-firewall")
    return client


RECIPES = {
    "wg-quick": (wg_quick, ["wgq0"]),
    "tailscale": (tailscale, ["tailscale0"]),
    "networkmanager": (networkmanager, ["nm-wg0"]),
    "mullvad-tailscale": (mullvad_tailscale, ["wg-mullvad", "tailscale0"]),
    "mullvad-tailscale-twins": (mullvad_tailscale_twins, ["wg-mullvad", "tailscale0"]),
}
#: Samples written elsewhere than ``examples/<name>/bundle``.
OUT = {"mullvad-tailscale-twins": EXAMPLES / "mullvad-tailscale" / "bundle-twins"}
#: Samples that also hold ``nft -j list ruleset``.
NFT_JSON = {"mullvad-tailscale-twins"}


Recipe = Callable[[Lab], str]


def produce_bundle(recipe: Recipe, wg_ifaces: list[str], out: Path, tag: str, *,
                   nft_json: bool = False) -> Path:
    """Build one configuration in a fresh lab, dump it as a bundle into ``out``, tear down."""
    with Lab(tag=tag) as lab:
        client = recipe(lab)
        dump_bundle(lab, client, out, wg_ifaces, nft_json=nft_json)
    return out


def produce(name: str, out: Path | None = None) -> Path:
    """Build one client's configuration in the lab and dump it as a bundle."""
    recipe, wg_ifaces = RECIPES[name]
    return produce_bundle(recipe, wg_ifaces, out or OUT.get(name, EXAMPLES / name / "bundle"),
                          "smp", nft_json=name in NFT_JSON)


def run_recipes(argv: list[str] | None, recipes: Mapping[str, object],
                produce_one: Callable[[str], Path]) -> int:
    """The ``main()`` of a recipe module: produce the named samples (all when none named)."""
    names = (argv if argv is not None else sys.argv[1:]) or list(recipes)
    unknown = [n for n in names if n not in recipes]
    if unknown:
        print(f"unknown sample(s): {', '.join(unknown)}; known: {', '.join(recipes)}",
              file=sys.stderr)
        return 2
    for name in names:
        out = produce_one(name)
        print(f"{name}: wrote {out.relative_to(REPO)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_recipes(argv, RECIPES, produce)


if __name__ == "__main__":
    raise SystemExit(main())
