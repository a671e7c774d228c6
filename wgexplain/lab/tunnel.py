"""Any dump with a WireGuard device, rebuilt with a real tunnel, and probed.

The generalisation of :mod:`wgexplain.lab.topology` (which rebuilds the
seed only) to whatever a user's dump holds, on top of
:func:`wgexplain.lab.build.build`:

::

    client   the dump, rebuilt by build() (veth stand-ins for every device);
             the WireGuard device's stand-in replaced by a real wireguard-go
             device of the same name (fwmark, listen port, allowed-ips from
             the dump), its addresses and routes put back, the ruleset
             reloaded (``oif``/``iif`` match an ifindex, fixed at load time)
    peer     the other ends of the veths (made by build()); the uplink's end
             gets the dump's gateway address and forwards: the "LAN router",
             which also holds the "internet" hosts 198.51.100.10 and
             198.51.100.53 (a "resolver") on its loopback
    relay    the peer's endpoint (remapped into 203.0.113.0/24 when the dump's
             endpoint is elsewhere), a wireguard-go server that masquerades
             what leaves the tunnel, and answers on the tunnel's far address

The uplink is the device the simulator routes the encrypted packet by (the
tunnel's own packet, ``send4()`` with ``flowi4_mark = fwmark``); its gateway
is that route's. Each wireguard-go runs in a private mount namespace with
its own ``/run/wireguard`` (the control socket path is otherwise one file
for the machine). Probes are bounded: one UDP datagram or one TCP connect,
2 s at most. The client's view of a probe is its errno; where the packet
went is what the answering server saw: the relay's address (through the
tunnel), the client's own address (directly, in plaintext), or nothing.

IPv6 probes are sent when the dump has an IPv6 default route via a gateway
on the uplink's IPv6 network (the "internet" is then 2001:db8:100::10).
Not modelled (said in the notes): WireGuard devices other than
the one the traffic to the internet takes (they stay veth stand-ins);
devices other than the uplink are not wired to the lab's internet.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from wgexplain.lab.build import address_args, build, nft_input, route_args
from wgexplain.lab.netns import Lab, LabError, lab_available
from wgexplain.lab.responder import Responder
from wgexplain.lab.wireguard_go import WireguardGo, genkey
from wgexplain.model import AF_INET, Flow, Host, IPAddress

if TYPE_CHECKING:  # pragma: no cover - typing only
    from wgexplain.lab.verify import ProbeOutcome

__all__ = ["ProbeRun", "TunnelPlan", "plan", "probe", "remap_source", "unavailable"]

#: The lab's "public" networks (documentation ranges; never 192.0.2.0/24 here).
LAB_NETS = (ipaddress.IPv4Network("203.0.113.0/24"), ipaddress.IPv4Network("198.51.100.0/24"))
INTERNET_HOST = ipaddress.IPv4Address("198.51.100.10")
INTERNET_DNS = ipaddress.IPv4Address("198.51.100.53")
#: IPv6 "internet" host and the relay's IPv6 link (documentation prefix 2001:db8::/32).
INTERNET6 = ipaddress.IPv6Address("2001:db8:100::10")
RELAY6_NET = ipaddress.IPv6Network("2001:db8:113::/64")
RELAY6 = ipaddress.IPv6Address("2001:db8:113::76")
RGW6 = ipaddress.IPv6Address("2001:db8:113::1")
SERVICE_PORT, DNS_PORT = 443, 53
#: Devices the lab adds (the relay link, the relay's WireGuard device).
_RGW, _RUP, _RWG = "wgxrgw", "wgxrup", "wgxrelay"
_TOOLS = ("wireguard-go", "wg", "nft", "nsenter", "unshare")

Progress = Callable[[str], None]


# --------------------------------------------------------------------------
# what to build
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TunnelPlan:
    """The tunnel to rebuild for real, as the simulator understands the dump."""

    dev: str
    fwmark: int
    listen_port: int | None
    endpoint: tuple[IPAddress, int]
    allowed_ips: tuple[str, ...]
    uplink: str
    gateway: ipaddress.IPv4Address
    lan: ipaddress.IPv4Interface  # the client's address on the uplink
    tunnel_addrs: tuple[ipaddress.IPv4Interface, ...]
    far_end: ipaddress.IPv4Address | None  # an address inside the tunnel (e.g. 10.64.0.1)
    #: IPv6: main's default gateway on the uplink (None: no IPv6 probes) and the
    #: tunnel device's IPv6 addresses
    gateway6: ipaddress.IPv6Address | None = None
    lan6: ipaddress.IPv6Interface | None = None
    tunnel_addrs6: tuple[ipaddress.IPv6Interface, ...] = ()


def _wg_names(host: Host) -> list[str]:
    from wgexplain.kernel import wireguard as wgmod

    names = [w.name for w in host.wireguard]
    names += [l.name for l in host.links if l.name not in names and wgmod.is_wireguard(host, l.name)]
    return names


def _tunnel_taken(host: Host) -> str | None:
    """The WireGuard device the simulator sends an ordinary internet packet into."""
    from wgexplain.kernel.path import trace

    names = _wg_names(host)
    try:
        t = trace(host, str(INTERNET_HOST), proto="tcp", dport=SERVICE_PORT)
    except Exception:  # noqa: BLE001 - a dump the simulator cannot trace: choose by name
        t = None
    dev = t.egress.dev if t is not None and t.egress is not None else None
    if dev in names:
        return dev
    return names[0] if names else None


def plan(host: Host) -> tuple[TunnelPlan | None, str]:
    """The tunnel to rebuild and the reason when there is none."""
    from wgexplain.kernel import wireguard as wgmod
    from wgexplain.kernel.route import lookup

    name = _tunnel_taken(host)
    if name is None:
        return None, "the dump has no WireGuard device"
    dev = wgmod.wg_device(host, name)
    if dev is None:
        return None, f"{name} is not known as a WireGuard device"
    peers = [p for p in dev.peers if p.endpoint is not None and p.endpoint[0].version == 4]
    if not peers:
        return None, f"not modelled: {name} has no IPv4 peer endpoint in the dump (IPv6 probes)"
    peer = peers[0]
    ep, port = peer.endpoint  # type: ignore[misc]
    out = lookup(host, Flow(dst=ep, mark=dev.fwmark, ipproto=17, sport=dev.listen_port, dport=port))
    if getattr(out, "error", None) or out.dev is None:
        return None, f"the simulator finds no route to the endpoint {ep} ({out.error})"
    if out.dev == name:
        return None, (f"the encrypted packet to {ep} routes back into {name} (a routing loop: "
                      "see `wgexplain check`); no tunnel can be built")
    gw = out.gateway
    lans = [a for a in host.addresses_of(out.dev, AF_INET)]
    if gw is None:
        # the endpoint is on the uplink's own network: it is its own "gateway"
        gw = ep
    lan = next((a.address for a in lans if gw in a.address.network), None)
    if lan is None or gw.version != 4:
        return None, (f"not modelled: the endpoint's route leaves {out.dev} via {gw}, which is on "
                      "none of that device's IPv4 networks")
    taddrs = tuple(a.address for a in host.addresses_of(name, AF_INET)
                   if isinstance(a.address, ipaddress.IPv4Interface))
    if not taddrs:
        return None, f"not modelled: {name} has no IPv4 address in the dump"
    far = _far_end(host, name, taddrs)
    allowed = tuple(str(n) for n in peer.allowed_ips) or ("0.0.0.0/0", "::/0")
    gw6, lan6 = _ipv6_uplink(host, out.dev)
    taddrs6 = tuple(ipaddress.IPv6Interface(str(a.address)) for a in host.addresses_of(name, 10)
                    if not a.ip.is_link_local)
    return TunnelPlan(name, dev.fwmark, dev.listen_port, (ep, port), allowed, out.dev,
                      ipaddress.IPv4Address(str(gw)), ipaddress.IPv4Interface(str(lan)),
                      taddrs, far, gw6, lan6, taddrs6), ""


def _ipv6_uplink(host: Host, uplink: str) -> tuple[Any, Any]:
    """Main's IPv6 default gateway on ``uplink`` and the uplink's address on its network."""
    for r in sorted(host.routes_of(10, 254), key=lambda r: r.metric):
        if r.dst.prefixlen == 0 and r.type == "unicast" and r.dev == uplink and r.gateway \
                and not r.gateway.is_link_local:
            for a in host.addresses_of(uplink, 10):
                if r.gateway in a.address.network and a.ip != r.gateway:
                    return (ipaddress.IPv6Address(str(r.gateway)),
                            ipaddress.IPv6Interface(str(a.address)))
    return None, None


def _far_end(host: Host, dev: str, taddrs: tuple[Any, ...]) -> ipaddress.IPv4Address | None:
    """An address inside the tunnel that is not ours: a host route on ``dev``
    (Mullvad's 10.64.0.1, the relay's DNS), else the tunnel network's first host."""
    own = {a.ip for a in taddrs}
    for r in host.routes_of(AF_INET):
        if r.dev == dev and r.dst.prefixlen == 32 and r.type == "unicast" \
                and r.dst.network_address not in own and not r.origin.derived:
            return ipaddress.IPv4Address(str(r.dst.network_address))
    for a in taddrs:
        if a.network.prefixlen < 31:
            for h in a.network.hosts():
                if h not in own:
                    return ipaddress.IPv4Address(str(h))
    return None


def unavailable(host: Host) -> str | None:
    """Why probes cannot be sent for this dump here, or None."""
    ok, why = lab_available()
    if not ok:
        return why
    for tool in _TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun is missing (wireguard-go needs tun)"
    p, why = plan(host)
    if p is None:
        return why
    if not _in_lab(p.endpoint[0]) and not _source_path(host):
        return (f"the endpoint {p.endpoint[0]} is outside the lab's ranges and the source "
                "cannot be re-read with it remapped (standard input)")
    return None


# --------------------------------------------------------------------------
# remapping the endpoint into the lab's ranges
# --------------------------------------------------------------------------

def _in_lab(addr: IPAddress) -> bool:
    return any(addr in n for n in LAB_NETS)


def _source_path(host: Host) -> Path | None:
    if not host.source or host.source in ("-", "<stdin>"):
        return None
    p = Path(host.source)
    return p if p.exists() else None


def lab_address(addr: IPAddress) -> ipaddress.IPv4Address:
    """The lab's stand-in for a public endpoint: 203.0.113.<last octet> (.1 is the gateway)."""
    if _in_lab(addr):
        return ipaddress.IPv4Address(str(addr))
    last = int(addr) & 0xFF
    if last in (0, 1, 255):
        last = 76
    return ipaddress.IPv4Address(f"203.0.113.{last}")


def _sub(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<![\d.]){re.escape(old)}(?![\d])", new, text)


def remap_source(source: Path, old: IPAddress, new: IPAddress, into: Path) -> Path:
    """A copy of the source (bundle directory or session file) with ``old`` → ``new``,
    as :func:`wgexplain.lab.topology.remap_relay` does for the seed."""
    if source.is_dir():
        out = into / source.name
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(source.iterdir()):
            if f.is_file():
                (out / f.name).write_text(_sub(f.read_text(encoding="utf-8"), str(old), str(new)),
                                          encoding="utf-8")
        return out
    out = into / source.name
    out.write_text(_sub(source.read_text(encoding="utf-8"), str(old), str(new)), encoding="utf-8")
    return out


# --------------------------------------------------------------------------
# the lab
# --------------------------------------------------------------------------

class TunnelLab:
    """client + peer (LAN router and internet) + relay, with two wireguard-go devices."""

    def __init__(self, host: Host, tp: TunnelPlan, lab: Lab) -> None:
        self.host = host
        self.plan = tp
        self.lab = lab
        self.wg_devices: dict[str, WireguardGo] = {}
        self.notes: list[str] = []
        self.client = self.peer = self.relay = ""
        self.relay_addr = ipaddress.IPv4Address(str(tp.endpoint[0]))

    # -- wireguard-go ------------------------------------------------------
    def _start_wg(self, ns: str, ifname: str) -> None:
        """wireguard-go in the foreground in ``ns``, with a private ``/run/wireguard``."""
        self.wg_devices[ifname] = WireguardGo(self.lab, ns, ifname)

    def wg(self, ifname: str, *args: str, input: str | None = None) -> str:
        return self.wg_devices[ifname].wg(*args, input=input)

    def _setconf(self, ifname: str, lines: list[str]) -> None:
        self.wg_devices[ifname].setconf(lines)

    # -- building ------------------------------------------------------------
    def build(self) -> "TunnelLab":
        tp, lab, host = self.plan, self.lab, self.host
        lh = build(lab, host, role="cl", check_routes=False)
        self.notes += lh.notes
        self.client, self.peer = lh.ns, lh.peer_ns
        self.relay = lab.netns("relay")
        # the uplink's other end, found by its ifindex (veth ``link_index``)
        info = json.loads(lab.ip(self.client, "-j", "link", "show", "dev", tp.uplink).stdout)[0]
        peers = json.loads(lab.ip(self.peer, "-j", "link").stdout)
        pdev = next((p["ifname"] for p in peers if p.get("ifindex") == info.get("link_index")), None)
        if pdev is None:
            raise LabError(f"cannot find the other end of {tp.uplink} in {self.peer}")
        rnet = ipaddress.IPv4Network(f"{self.relay_addr}/24", strict=False)
        rgw = next(h for h in rnet.hosts() if h != self.relay_addr and h not in
                   (INTERNET_HOST, INTERNET_DNS))
        router = [("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.rp_filter", "0"),
                  ("net.ipv4.conf.default.rp_filter", "0")]
        lab.sysctl(self.peer, router)
        lab.sysctl(self.relay, router + [("net.ipv6.conf.all.forwarding", "1")])
        lab.ip(self.peer, "link", "add", _RGW, "type", "veth", "peer", "name", _RUP,
               "netns", self.relay)
        lan_net = tp.lan.network
        local = [f"{INTERNET_HOST}/32", f"{INTERNET_DNS}/32"]
        cmds = ["link set lo up", f"addr add {tp.gateway}/{lan_net.prefixlen} dev {pdev}",
                f"link set {pdev} up", f"addr add {rgw}/24 dev {_RGW}", f"link set {_RGW} up"]
        cmds += [f"addr add {a} dev lo" for a in local
                 if ipaddress.ip_interface(a).ip != self.relay_addr]
        if tp.gateway6 is not None and tp.lan6 is not None:
            cmds += [f"addr add {tp.gateway6}/{tp.lan6.network.prefixlen} dev {pdev} nodad",
                     f"addr add {INTERNET6}/128 dev lo"]
        cmds.append(f"addr add {RGW6}/64 dev {_RGW} nodad")
        lab.ip(self.peer, "-batch", "-", input="\n".join(cmds) + "\n")
        # the relay: WireGuard server on the endpoint, masquerading the tunnel's traffic
        kc, kr = genkey(), genkey()
        self._start_wg(self.relay, _RWG)
        self._setconf(_RWG, ["[Interface]", f"PrivateKey = {kr[0]}",
                             f"ListenPort = {tp.endpoint[1]}", "[Peer]", f"PublicKey = {kc[1]}",
                             "AllowedIPs = " + ", ".join(
                                 [f"{a.ip}/32" for a in tp.tunnel_addrs]
                                 + [f"{a.ip}/128" for a in tp.tunnel_addrs6])])
        rcmds = ["link set lo up", f"addr add {self.relay_addr}/24 dev {_RUP}",
                 f"link set {_RUP} up", f"link set {_RWG} up"]
        if tp.far_end is not None:
            rcmds.append(f"addr add {tp.far_end}/32 dev {_RWG}")
        rcmds += [f"route add {a.ip}/32 dev {_RWG}" for a in tp.tunnel_addrs]
        rcmds += [f"route add {a.ip}/128 dev {_RWG}" for a in tp.tunnel_addrs6]
        rcmds += [f"route add default via {rgw}", f"addr add {RELAY6}/64 dev {_RUP} nodad",
                  f"route add default via {RGW6}"]
        lab.ip(self.relay, "-batch", "-", input="\n".join(rcmds) + "\n")
        saddrs = ", ".join(str(a.ip) for a in tp.tunnel_addrs)
        nat6 = ""
        if tp.tunnel_addrs6:
            s6 = ", ".join(str(a.ip) for a in tp.tunnel_addrs6)
            nat6 = f"    oifname \"{_RUP}\" ip6 saddr {{ {s6} }} masquerade\n"
        lab.exec(self.relay, ["nft", "-f", "-"], input=(
            "table inet wgxrelay {\n  chain post {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    oifname \"{_RUP}\" ip saddr {{ {saddrs} }} masquerade\n{nat6}  }}\n}}\n"))
        # the client: the stand-in replaced by a real WireGuard device of the same name
        lab.ip(self.client, "link", "del", tp.dev)
        self._start_wg(self.client, tp.dev)
        conf = ["[Interface]", f"PrivateKey = {kc[0]}"]
        if tp.listen_port:
            conf.append(f"ListenPort = {tp.listen_port}")
        if tp.fwmark:
            conf.append(f"FwMark = {tp.fwmark:#x}")
        # the peer comes last (below): no handshake may happen before the dump's
        # routes and ruleset are in place, or it would be made under another config
        self._setconf(tp.dev, conf)
        link = host.link(tp.dev)
        ccmds = [f"link set {tp.dev} addrgenmode none"]
        if link is not None and link.mtu:
            ccmds.append(f"link set {tp.dev} mtu {link.mtu}")
        ccmds.append(f"link set {tp.dev} up")
        ccmds += ["addr add " + " ".join(address_args(a, self.notes))
                  for a in host.addresses_of(tp.dev)]
        lab.ip(self.client, "-batch", "-", input="\n".join(ccmds) + "\n")
        self._tunnel_routes()
        self._reload_ruleset()
        self.wg(tp.dev, "set", tp.dev, "peer", kr[1], "allowed-ips", ",".join(tp.allowed_ips),
                "endpoint", f"{self.relay_addr}:{tp.endpoint[1]}")
        listen: list[Any] = [INTERNET_HOST, INTERNET_DNS, tp.gateway]
        if tp.gateway6 is not None:
            listen.append(INTERNET6)
        self.internet = Responder(lab, self.peer, listen, [SERVICE_PORT, DNS_PORT])
        self.inside = (Responder(lab, self.relay, [tp.far_end], [SERVICE_PORT, DNS_PORT])
                       if tp.far_end is not None else None)
        others = [n for n in _wg_names(host) if n != tp.dev]
        if others:
            self.notes.append("not modelled: " + ", ".join(others) + " stay veth stand-ins "
                              "(only the tunnel internet traffic takes is rebuilt for real)")
        return self

    def _tunnel_routes(self) -> None:
        dev = self.plan.dev
        for fam, flag in ((AF_INET, "-4"), (10, "-6")):
            routes = [r for r in self.host.routes_of(fam) if not r.origin.derived
                      and any(nh.dev == dev for nh in r.nexthops)]
            if routes:
                self.lab.ip(self.client, flag, "-force", "-batch", "-", check=False,
                            input="".join("route add " + " ".join(route_args(r)) + "\n"
                                          for r in routes))

    def _reload_ruleset(self) -> None:
        found = nft_input(self.host)
        if found is None:
            return
        text, is_json = found
        self.lab.exec(self.client, ["nft", "flush", "ruleset"])
        proc = self.lab.exec(self.client, ["nft", *(["-j"] if is_json else []), "-f", "-"],
                             input=text, check=False)
        if proc.returncode != 0:
            self.notes.append("nft ruleset not reloaded: "
                              + " | ".join(proc.stderr.strip().splitlines()[:3]))

    def client_port(self) -> int:
        """The listen port wireguard-go chose (or was given) for the client's device."""
        return int(self.wg(self.plan.dev, "show", self.plan.dev, "listen-port").strip())

    def tunnel_down(self) -> None:
        """Stop the client's wireguard-go: the device and its routes vanish (as on a crash)."""
        self.wg_devices.pop(self.plan.dev).stop()

    # -- probes ----------------------------------------------------------------
    def send(self, proto: str, dst: str, port: int, timeout: float) -> dict[str, Any]:
        """One bounded probe from a new process in the client namespace."""
        argv = ["nsenter", f"--net=/run/netns/{self.client}", sys.executable, "-I", "-S", "-c",
                SENDER, proto, dst, str(port), str(timeout)]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"probe {proto} {dst}:{port} did not finish") from exc
        try:
            return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
        except (IndexError, ValueError):
            raise LabError(f"probe {proto} {dst}:{port} failed: {out.stderr.strip()[-300:]}") from None


# --------------------------------------------------------------------------
# the processes that send and answer (both families)
# --------------------------------------------------------------------------

#: One probe (one UDP datagram or one TCP connect); prints the errno, reply, local address.
SENDER = r"""
import errno, json, socket, sys
proto, dst, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
res = {"errno": None, "reply": None, "local": None}
try:
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.connect((dst, port)); res["local"] = s.getsockname()[0]
    if proto == "udp":
        s.send(b"wgx-probe")
    try:
        res["reply"] = s.recv(256).decode()
    except TimeoutError:
        if proto == "tcp":
            raise
except OSError as e:
    res["errno"] = ("ETIMEDOUT" if isinstance(e, TimeoutError) or e.errno is None
                    else errno.errorcode.get(e.errno, str(e.errno)))
print(json.dumps(res))
"""


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Case:
    name: str
    title: str
    proto: str
    dst: str
    port: int
    tunnel_down: bool = False


def cases(tp: TunnelPlan) -> list[Case]:
    out = [
        Case("tcp-internet", "TCP to an internet host", "tcp", str(INTERNET_HOST), SERVICE_PORT),
        Case("udp-internet", "UDP to an internet host", "udp", str(INTERNET_HOST), SERVICE_PORT),
        Case("dns-udp-outside", "DNS over UDP to a resolver outside the tunnel", "udp",
             str(INTERNET_DNS), DNS_PORT),
        Case("dns-tcp-outside", "DNS over TCP to a resolver outside the tunnel", "tcp",
             str(INTERNET_DNS), DNS_PORT),
        Case("tcp-lan-gateway", "TCP to the LAN router", "tcp", str(tp.gateway), SERVICE_PORT),
        Case("dns-udp-lan", "DNS over UDP to the LAN router's resolver", "udp", str(tp.gateway),
             DNS_PORT),
    ]
    if tp.far_end is not None:
        out.append(Case("dns-udp-inside", f"DNS over UDP to {tp.far_end}, inside the tunnel",
                        "udp", str(tp.far_end), DNS_PORT))
    if tp.gateway6 is not None:
        out.append(Case("tcp6-internet", "TCP to an IPv6 internet host", "tcp", str(INTERNET6),
                        SERVICE_PORT))
    out += [
        Case("tunnel-down-tcp", f"{tp.dev} gone: TCP to an internet host", "tcp",
             str(INTERNET_HOST), SERVICE_PORT, tunnel_down=True),
        Case("tunnel-down-udp", f"{tp.dev} gone: UDP to an internet host", "udp",
             str(INTERNET_HOST), SERVICE_PORT, tunnel_down=True),
    ]
    if tp.gateway6 is not None:
        out.append(Case("tunnel-down-tcp6", f"{tp.dev} gone: TCP to an IPv6 internet host",
                        "tcp", str(INTERNET6), SERVICE_PORT, tunnel_down=True))
    return out


def _simulate(host: Host, tl: TunnelLab, case: Case) -> tuple[dict[str, Any], bool, str | None]:
    """The simulator's account in the probe's terms; (answer, exact, why not observable)."""
    from wgexplain.kernel.path import trace

    tp = tl.plan
    t = trace(host, case.dst, proto=case.proto, dport=case.port)
    tcp = case.proto == "tcp"
    lost = {"path": "lost", "errno": "ETIMEDOUT" if tcp else None, "seen_src": None}
    if t.verdict != "accept" or t.egress is None:
        # a dropped TCP SYN is retransmitted until the timeout: the sender sees ETIMEDOUT
        path = "lost" if t.errno in (None, "ETIMEDOUT") else "refused"
        return {"path": path, "errno": t.errno, "seen_src": None}, t.all_exact, None
    dev = t.egress.dev
    if dev == tp.dev:
        enc = t.encapsulated
        if enc is None or enc.verdict != "accept" or enc.egress is None:
            return lost, t.all_exact, None
        if enc.egress.dev != tp.uplink:
            return {}, t.all_exact, f"the encrypted packet leaves by {enc.egress.dev}, not the uplink"
        # WireGuard sends nothing before a handshake, whose response comes back from the
        # endpoint like any encrypted reply: if that is dropped, nothing gets through
        back = trace(host, str(enc.egress.src), src=str(enc.egress.dst), iif=enc.egress.dev,
                     proto="udp", sport=enc.egress.dport,
                     dport=enc.egress.sport or tl.client_port(), direction="in",
                     state="established")
        if back.verdict != "accept":
            return lost, t.all_exact and back.all_exact, None
        inside = tp.far_end is not None and case.dst == str(tp.far_end)
        seen = t.egress.src if inside else (str(tl.relay_addr) if ":" not in case.dst
                                            else str(RELAY6))
        return {"path": "tunnel", "errno": None, "seen_src": seen}, t.all_exact, None
    if dev != tp.uplink:
        return {}, t.all_exact, f"it leaves by {dev}, which the lab does not wire to its internet"
    return {"path": "direct", "errno": None, "seen_src": t.egress.src}, t.all_exact, None


def _observe(tl: TunnelLab, case: Case) -> dict[str, Any]:
    tp = tl.plan
    responders = [tl.internet] + ([tl.inside] if tl.inside is not None else [])
    before = [len(r.seen()) for r in responders]
    sent = tl.send(case.proto, case.dst, case.port, timeout=2.0 if case.proto == "tcp" else 1.0)
    # the responder logs a call just after answering it: give its log a moment
    deadline = time.monotonic() + (1.0 if sent.get("reply") else 0.3)
    while True:
        calls = [c for r, n in zip(responders, before) for c in r.seen()[n:]
                 if c[0] == case.proto and c[1] == case.port]
        if calls or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    seen = calls[0][2] if calls else None
    errno = sent.get("errno")
    if seen is not None:
        tunnel = {str(tl.relay_addr), str(RELAY6)} | {str(a.ip) for a in tp.tunnel_addrs}
        path = "tunnel" if seen in tunnel else "direct"
    else:
        path = "refused" if errno not in (None, "ETIMEDOUT") else "lost"
    return {"path": path, "errno": errno, "seen_src": seen}


def _differs(kernel: dict[str, Any], sim: dict[str, Any]) -> tuple[str, ...]:
    return tuple(k for k in ("path", "errno", "seen_src") if kernel.get(k) != sim.get(k))


@dataclass
class ProbeRun:
    outcomes: list["ProbeOutcome"] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _command(case: Case, shown: str, down: str | None) -> str:
    cmd = f"wgexplain trace {shown} {case.dst} --proto {case.proto} --dport {case.port}"
    return cmd + (f"   # with {down} deleted" if down else "")


def probe(host: Host, *, progress: Progress = lambda _m: None) -> ProbeRun:
    """Build the tunnel lab for ``host``, run every case, compare with the simulator."""
    from wgexplain.kernel.fib_frontend import complete
    from wgexplain.check import without_device
    from wgexplain.lab.verify import ProbeOutcome
    from wgexplain.sources import load

    tp0, why = plan(host)
    if tp0 is None:
        raise LabError(why)
    res = ProbeRun()
    shown = "-" if host.source in ("<stdin>", "-") else (host.source or "SOURCE")
    with tempfile.TemporaryDirectory(prefix="wgx-vfy-") as tmp:
        sim_host = host
        ep = tp0.endpoint[0]
        if not _in_lab(ep):
            src = _source_path(host)
            if src is None:
                raise LabError("the source cannot be remapped")
            new = lab_address(ep)
            sim_host = load(str(remap_source(src, ep, new, Path(tmp))))
            res.notes.append(f"the endpoint {ep} is remapped to {new} in the lab (and in the "
                             "dump the simulator reads for the probes)")
        tp, why = plan(sim_host)
        if tp is None:
            raise LabError(why)
        down_host = complete(without_device(sim_host, tp.dev))
        with Lab("prb") as lab:
            tl = TunnelLab(sim_host, tp, lab).build()
            for case in cases(tp):
                if case.tunnel_down and tp.dev in tl.wg_devices:
                    progress(f"real probes: stopping wireguard-go ({tp.dev} disappears)")
                    tl.tunnel_down()
                progress(f"real probe: {case.title}")
                sim, exact, skip = _simulate(down_host if case.tunnel_down else sim_host, tl, case)
                if skip is not None:
                    res.notes.append(f"probe {case.name} not sent: {skip}")
                    continue
                kern = _observe(tl, case)
                res.outcomes.append(ProbeOutcome(case.name, case.title,
                                                 _command(case, shown, tp.dev if case.tunnel_down
                                                          else None),
                                                 kern, sim, _differs(kern, sim), exact))
            res.notes += tl.notes
    if tp.gateway6 is None:
        res.notes.append("no IPv6 probes: the dump has no IPv6 default route via a gateway on "
                         f"{tp.uplink}'s IPv6 network (route decisions cover IPv6)")
    return res
