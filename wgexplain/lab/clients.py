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

Run ``scripts/lab-samples`` (root) to regenerate ``examples/<client>/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

#: Lab-only WireGuard keys (generated once for these samples; they protect nothing).
KEYS = {
    "client": "8NJzz234zFaJIrT4R/8S/YZUmh0STnhKklkJr750P1I=",
    "server": "EGju+B/jR++lld/E0seytp/oxyAbkumoeme1nMwNxXs=",
    "ts": "8MZ5xgzpKOvBkEzpIYS6NH6qKgeHka831yqv6beuVl4=",
}


def _run(cmd: list[str], *, input: str | None = None, check: bool = True,
         env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30,
                          env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _pubkey(private: str) -> str:
    return _run(["wg", "pubkey"], input=private + "\n").strip()


@dataclass
class Lab:
    """Namespaces and processes one recipe made; :meth:`close` undoes them all."""

    tag: str
    namespaces: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wgx-samples-")))

    def ns(self, name: str) -> str:
        full = f"wgx-{self.tag}-{name}"
        _run(["ip", "netns", "add", full])
        self.namespaces.append(full)
        _run(["ip", "netns", "exec", full, "sysctl", "-q", "net.ipv6.conf.all.accept_dad=0",
              "net.ipv6.conf.default.accept_dad=0"])
        _run(["ip", "-n", full, "link", "set", "lo", "up"])
        return full

    def sh(self, ns: str, script: str, env: dict[str, str] | None = None) -> str:
        """Run a shell script inside a namespace (``ip netns exec``)."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        return _run(["ip", "netns", "exec", ns, "bash", "-euo", "pipefail", "-c", script],
                    env=full_env)

    def wireguard_go(self, ns: str, ifname: str) -> None:
        """Start wireguard-go in the foreground inside ``ns``; remember its PID."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "wireguard-go", "-f", ifname],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "WG_PROCESS_FOREGROUND": "1"})
        self.pids.append(proc.pid)
        sock = Path(f"/var/run/wireguard/{ifname}.sock")
        for _ in range(100):
            if sock.exists():
                return
            time.sleep(0.05)
        raise RuntimeError(f"wireguard-go did not create {sock}")

    def close(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _uplink(lab: Lab, client: str, peer: str, dev: str, mac: str) -> None:
    """A veth ``dev`` in ``client`` whose other end lives in the lab's ``peer`` namespace."""
    _run(["ip", "-n", client, "link", "add", dev, "address", mac, "type", "veth",
          "peer", "name", "up0", "netns", peer])
    _run(["ip", "-n", peer, "link", "set", "up0", "up"])
    _run(["ip", "-n", client, "link", "set", dev, "up"])


def dump_bundle(lab: Lab, ns: str, out: Path, wg_ifaces: list[str]) -> None:
    """Write the bundle files (DESIGN.md names) as the tools print them."""
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
    for name, cmd in cmds.items():
        (out / name).write_text(lab.sh(ns, cmd))
    if wg_ifaces:
        # `wg show all dump` lists every wireguard-go interface on the machine
        # (one control-socket directory for all namespaces): keep ours.
        lines = [ln for ln in _run(["wg", "show", "all", "dump"]).splitlines()
                 if ln.split("\t", 1)[0] in wg_ifaces]
        (out / "wg.txt").write_text("\n".join(lines) + "\n")
    keys = ["net.ipv4.ip_forward", "net.ipv4.conf.all.rp_filter",
            "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.all.src_valid_mark",
            "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"]
    (out / "sysctl.txt").write_text(lab.sh(ns, "sysctl " + " ".join(keys)))


def wg_quick(lab: Lab) -> str:
    """A laptop with wg-quick's full tunnel (IPv4 and IPv6): the real wg-quick script."""
    client, lan = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, lan, "eth0", "02:00:5e:10:00:50")
    srv_pub = _pubkey(KEYS["server"])
    lab.sh(client, """
        ip addr add 192.168.1.50/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        ip -6 addr add fd00:1::50/64 dev eth0 nodad
        ip -6 route add default via fd00:1::1 dev eth0 proto ra metric 100
    """)
    conf = lab.tmp / "wgq0.conf"
    conf.write_text(
        "[Interface]\n"
        f"PrivateKey = {KEYS['client']}\n"
        "ListenPort = 51820\n"
        "Address = 10.8.0.2/32, fd42:42:42::2/128\n"
        "[Peer]\n"
        f"PublicKey = {srv_pub}\n"
        "Endpoint = 203.0.113.5:51820\n"
        "AllowedIPs = 0.0.0.0/0, ::/0\n")
    conf.chmod(0o600)
    # wg-quick starts its userspace implementation and expects it to return:
    # a wrapper keeps wireguard-go in the foreground so we know its PID.
    pidfile = lab.tmp / "wg.pid"
    wrapper = lab.tmp / "wg-go-wrapper"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"WG_PROCESS_FOREGROUND=1 wireguard-go -f \"$1\" >/dev/null 2>&1 &\n"
        f"echo $! > {pidfile}\n"
        "i=0; while [ ! -S /var/run/wireguard/$1.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n")
    wrapper.chmod(0o755)
    try:
        lab.sh(client, f"wg-quick up {conf}",
               env={"WG_QUICK_USERSPACE_IMPLEMENTATION": str(wrapper)})
    finally:
        if pidfile.exists():
            lab.pids.append(int(pidfile.read_text().strip()))
    return client


def tailscale_setup(lab: Lab, ns: str, lan_prefix: str) -> None:
    """What tailscaled installs on Linux with an exit node and LAN access allowed."""
    lab.wireguard_go(ns, "tailscale0")
    lab.sh(ns, f"""
        ip link set tailscale0 mtu 1280 up
        ip addr add 100.101.102.103/32 dev tailscale0
        ip -6 addr add fd7a:115c:a1e0::1234/128 dev tailscale0 nodad
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
    path = lab.tmp / f"ts-{ns}.nft"
    path.write_text(nft)
    lab.sh(ns, f"nft -f {path}")
    lab.sh(ns, f"""
        wg set tailscale0 private-key <(echo {KEYS['ts']}) listen-port 41641 fwmark 0x80000 \
          peer {_pubkey(KEYS['server'])} endpoint 203.0.113.7:41641 allowed-ips 0.0.0.0/0,::/0
    """)


def tailscale(lab: Lab) -> str:
    client, lan = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, lan, "eth0", "02:00:5e:10:00:51")
    lab.sh(client, """
        ip addr add 192.168.1.51/24 dev eth0
        ip route add default via 192.168.1.1 dev eth0 proto dhcp metric 100
        sysctl -q net.ipv4.conf.all.rp_filter=2
    """)
    tailscale_setup(lab, client, "192.168.1.0/24")
    return client


def networkmanager(lab: Lab) -> str:
    """NetworkManager's WireGuard profile with ip4-auto-default-route (rules replayed)."""
    client, lan = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, lan, "wlp2s0", "02:00:5e:10:00:52")
    prio, mark = 31266, 52019  # an even P in 30768..31766 and F in 51820..52319, as NM picks
    lab.wireguard_go(client, "nm-wg0")
    lab.sh(client, f"""
        ip addr add 192.168.1.52/24 dev wlp2s0 noprefixroute
        ip route add 192.168.1.0/24 dev wlp2s0 proto kernel scope link src 192.168.1.52 metric 600
        ip route add default via 192.168.1.1 dev wlp2s0 proto dhcp src 192.168.1.52 metric 600
        wg set nm-wg0 private-key <(echo {KEYS['client']}) fwmark {mark} \
          peer {_pubkey(KEYS['server'])} endpoint 203.0.113.9:51820 allowed-ips 0.0.0.0/0
        ip link set nm-wg0 mtu 1420 up
        ip addr add 10.9.0.2/32 dev nm-wg0
        ip route add default dev nm-wg0 table {mark} proto static metric 50
        ip rule add pref {prio} table main suppress_prefixlength 0
        ip rule add pref {prio + 1} not fwmark {mark} table {mark}
    """)
    return client


def mullvad_tailscale(lab: Lab) -> str:
    """The seed's Mullvad configuration with Tailscale's rules on top (relay remapped)."""
    client, lan = lab.ns("client"), lab.ns("lan")
    _uplink(lab, client, lan, "wlp0s20f3", "f0:20:ff:a7:68:db")
    lab.wireguard_go(client, "wg-mullvad")
    lab.sh(client, f"""
        ip addr add 192.168.44.83/24 brd 192.168.44.255 dev wlp0s20f3 noprefixroute
        ip route add 192.168.44.0/24 dev wlp0s20f3 proto kernel scope link src 192.168.44.83 metric 600
        ip route add default via 192.168.44.1 dev wlp0s20f3 proto dhcp src 192.168.44.83 metric 600
        wg set wg-mullvad private-key <(echo {KEYS['client']}) fwmark 0x6d6f6c65 \
          peer {_pubkey(KEYS['server'])} endpoint 203.0.113.76:19955 allowed-ips 0.0.0.0/0
        ip link set wg-mullvad mtu 1380 up
        ip addr add 10.147.23.252/32 dev wg-mullvad
        ip route add 10.64.0.1 dev wg-mullvad proto static scope global
        ip route add default dev wg-mullvad table 1836018789 proto static scope global
        ip rule add pref 32764 table main suppress_prefixlength 0
        ip rule add pref 32765 not fwmark 0x6d6f6c65 table 1836018789
    """)
    seed = (EXAMPLES / "mullvad" / "bundle" / "nft-ruleset.nft").read_text()
    path = lab.tmp / "mullvad.nft"
    path.write_text(seed.replace("185.195.233.76", "203.0.113.76"))
    lab.sh(client, f"nft -f {path}")
    tailscale_setup(lab, client, "192.168.44.0/24")
    return client


RECIPES = {
    "wg-quick": (wg_quick, ["wgq0"]),
    "tailscale": (tailscale, ["tailscale0"]),
    "networkmanager": (networkmanager, ["nm-wg0"]),
    "mullvad-tailscale": (mullvad_tailscale, ["wg-mullvad", "tailscale0"]),
}


def produce(name: str, out: Path | None = None) -> Path:
    """Build one client's configuration in the lab and dump it as a bundle."""
    recipe, wg_ifaces = RECIPES[name]
    lab = Lab(tag="smp")
    out = out or EXAMPLES / name / "bundle"
    try:
        client = recipe(lab)
        dump_bundle(lab, client, out, wg_ifaces)
    finally:
        lab.close()
    return out


def main(argv: list[str] | None = None) -> int:
    import sys

    names = (argv if argv is not None else sys.argv[1:]) or list(RECIPES)
    for name in names:
        out = produce(name)
        print(f"{name}: wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
