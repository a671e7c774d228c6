"""The seed rebuilt with a real WireGuard tunnel: four network namespaces.

::

    client  wlp0s20f3 192.168.44.83/24 ── 192.168.44.1 gw (forwarding, no NAT)
            wg-mullvad 10.147.23.252/32 (wireguard-go, fwmark 0x6d6f6c65)
    relay   203.0.113.76 (wireguard-go :19955, tunnel 10.64.0.1, masquerade)
    inet    198.51.100.10 (reports who called it), 198.51.100.53 (a "resolver")

The client namespace gets the seed's configuration *read from the bundle*
(``ip-addr.txt``, ``ip-route.txt``, ``ip-rule.txt``, ``nft-ruleset.nft``),
with the relay 185.195.233.76 rewritten to 203.0.113.76 (a documentation
range: this lab never sends to a real address). The links are recreated as
the kernel knows them: the uplink as a veth, the tunnel device as a real
wireguard-go tun device (``drivers/net/wireguard`` in userspace: the
encrypted UDP leaves with ``skb->mark = wg->fwmark``), and the nftables
ruleset is loaded last, because ``oif``/``iif`` match an interface *index*
(``nft_meta_get_eval()``, ``NFT_META_OIF``) that must exist at load time.

Everything lives in ``wgx-rt-…`` namespaces made by
:class:`wgexplain.lab.netns.Lab`; each wireguard-go runs in a private mount
namespace with its own ``/run/wireguard`` (its control socket path is
otherwise one file for the whole machine, so two labs could collide). The
split-tunnel cgroup is a net_cls cgroup ``wgx-rt-…`` with classid 0x4d9f41
(``task_cls_classid()`` → ``meta cgroup``). Teardown (context manager) kills
only the PIDs it started, deletes its namespaces and removes its cgroup.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wgexplain.errors import DumpError
from wgexplain.lab.netns import Lab, LabError, lab_available, run
from wgexplain.lab.responder import Responder
from wgexplain.lab.wireguard_go import WireguardGo, genkey

REPO = Path(__file__).resolve().parents[2]
#: The seed bundle (the founding question's dumps).
SEED_BUNDLE = REPO / "examples" / "mullvad" / "bundle"

#: The seed's relay and its lab stand-in (203.0.113.0/24 is TEST-NET-3).
SEED_RELAY = "185.195.233.76"
LAB_RELAY = "203.0.113.76"

#: Lab "internet" hosts (198.51.100.0/24 is TEST-NET-2; never 192.0.2.0/24 here).
INTERNET_HOST = ipaddress.IPv4Address("198.51.100.10")
INTERNET_DNS = ipaddress.IPv4Address("198.51.100.53")
#: Ports the responders answer on (UDP and TCP): an ordinary service and DNS.
SERVICE_PORT = 443
DNS_PORT = 53

NET_CLS_ROOT = Path("/sys/fs/cgroup/net_cls")

# The other ends of the links, inside the lab (names are the lab's own).
_GW_LAN, _GW_RELAY, _GW_INET = "gw-lan", "gw-relay", "gw-inet"
_RELAY_UP, _RELAY_WG = "rl-up", "wg-relay"
_INET_UP = "in-up"
_GW_RELAY_NET = ipaddress.IPv4Interface("203.0.113.1/24")
_GW_INET_NET = ipaddress.IPv4Interface("198.51.100.1/24")


def remap_relay(text: str) -> str:
    """The seed's text with its relay address replaced by the lab's."""
    return re.sub(rf"(?<![\d.]){re.escape(SEED_RELAY)}(?![\d])", LAB_RELAY, text)


# ---------------------------------------------------------------------------
# Reading the bundle: what the client namespace must look like
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One device of ``ip addr``: name, link type (ether/none/loopback), MTU, MAC."""

    name: str
    link_type: str
    mtu: int | None
    mac: str | None


@dataclass(frozen=True, slots=True)
class AddrSpec:
    """One ``inet``/``inet6`` line of ``ip addr``, as ``ip addr add`` arguments."""

    dev: str
    family: int  # 4 or 6
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SeedConfig:
    """The client's configuration read from a bundle (relay already remapped).

    ``routes`` and ``rules`` are argument lists for ``ip route add`` /
    ``ip rule add`` in the order they must be added; ``uplink``,
    ``tunnel`` and the addresses around them are what the other three
    namespaces are wired to.
    """

    bundle: Path
    links: tuple[LinkSpec, ...]
    addresses: tuple[AddrSpec, ...]
    routes: tuple[tuple[str, ...], ...]
    rules: tuple[tuple[str, ...], ...]
    rule_lines: tuple[str, ...]
    route_lines: tuple[str, ...]
    ruleset: str
    uplink: str
    tunnel: str
    lan_address: ipaddress.IPv4Interface
    gateway: ipaddress.IPv4Address
    tunnel_address: ipaddress.IPv4Interface
    tunnel_dns: ipaddress.IPv4Address
    fwmark: int
    classid: int
    relay: ipaddress.IPv4Address
    relay_port: int


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DumpError(str(path), 0, f"the bundle file {path.name}")
    return [(n, ln.rstrip()) for n, ln in enumerate(path.read_text().splitlines(), 1)
            if ln.strip()]


def _read_addr(path: Path) -> tuple[list[LinkSpec], list[AddrSpec]]:
    """``ip addr`` text → links and address arguments (``inet_rtm_newaddr()`` input)."""
    links: list[LinkSpec] = []
    addrs: list[AddrSpec] = []
    head = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<[^>]*>(.*)$")
    dev: str | None = None
    for n, line in _lines(path):
        m = head.match(line)
        if m:
            dev = m.group(1)
            mtu = re.search(r"\bmtu (\d+)", m.group(2))
            links.append(LinkSpec(dev, "", int(mtu.group(1)) if mtu else None, None))
            continue
        words = line.split()
        if dev is None:
            raise DumpError(str(path), n, "a link line like '3: eth0: <UP> mtu 1500'", line)
        if words[0].startswith("link/"):
            last = links[-1]
            mac = words[1] if words[0] == "link/ether" and len(words) > 1 else None
            links[-1] = LinkSpec(last.name, words[0][5:], last.mtu, mac)
        elif words[0] in ("inet", "inet6"):
            try:
                iface = ipaddress.ip_interface(words[1])
            except (IndexError, ValueError):
                raise DumpError(str(path), n, "an address with prefix length after 'inet'",
                                line) from None
            args: list[str] = [str(iface)]
            i = 2
            while i < len(words):
                w = words[i]
                if w in ("brd", "scope", "peer") and i + 1 < len(words):
                    args += [w, words[i + 1]]
                    i += 2
                    continue
                if w in ("noprefixroute", "nodad", "home", "mngtmpaddr"):
                    args.append(w)
                elif w in ("dynamic", "secondary", "temporary", "deprecated", "tentative",
                           "permanent", "stable-privacy"):
                    pass  # state the kernel sets, not something `ip addr add` takes
                elif w == dev or w.startswith(dev + ":"):
                    if w != dev:
                        args += ["label", w]
                else:
                    raise DumpError(str(path), n, "an address flag iproute2 prints", w)
                i += 1
            addrs.append(AddrSpec(dev, iface.version, tuple(args)))
        elif words[0] in ("valid_lft", "altname", "inet6", "link-netnsid") or \
                words[0].startswith(("vrf", "veth", "wireguard", "tun")):
            continue
        else:
            raise DumpError(str(path), n, "'link/…', 'inet …' or 'valid_lft …'", line)
    return links, addrs


def _read_routes(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """``ip route show table all`` text → (line, text, ``ip route add`` arguments).

    A device route printed without ``scope`` has scope global (universe):
    ``ip route add`` alone would give it scope link (``iproute_modify()``
    picks RT_SCOPE_LINK for a route without gateway), so it is added
    explicitly, to reproduce the dump byte for byte.
    """
    out = []
    for n, line in _lines(path):
        words = line.split()
        if words[0] in ("local", "broadcast", "multicast", "anycast") or \
                "table local" in line or ":" in words[0]:
            continue  # the kernel builds these from the addresses (fib_add_ifaddr())
        if "dev" not in words and words[0] not in ("blackhole", "unreachable", "prohibit", "throw"):
            raise DumpError(str(path), n, "a route with 'dev' or a type like 'unreachable'", line)
        args = list(words)
        if "via" not in words and "scope" not in words and words[0] not in (
                "blackhole", "unreachable", "prohibit", "throw"):
            args += ["scope", "global"]
        out.append((n, line, tuple(args)))
    # noprefixroute addresses: the on-link routes must exist before any `via`.
    out.sort(key=lambda r: "via" in r[2])
    return out


def _read_rules(path: Path) -> list[tuple[int, str, int, tuple[str, ...]]]:
    """``ip rule`` text → (line, text, pref, ``ip rule add`` arguments)."""
    out = []
    for n, line in _lines(path):
        m = re.match(r"^(\d+):\s+(.*)$", line)
        if not m:
            raise DumpError(str(path), n, "a rule preference like '32766:'", line)
        out.append((n, line, int(m.group(1)), tuple(m.group(2).split())))
    return out


def read_seed(bundle: Path | str = SEED_BUNDLE) -> SeedConfig:
    """The client configuration of a Mullvad-style bundle, relay remapped.

    Everything is read from the four bundle files; only the relay address
    is rewritten (:func:`remap_relay`). Raises :class:`DumpError` naming
    the file and line when a file cannot be used.
    """
    bundle = Path(bundle)
    links, addrs = _read_addr(bundle / "ip-addr.txt")
    route_rows = _read_routes(bundle / "ip-route.txt")
    rule_rows = _read_rules(bundle / "ip-rule.txt")
    nft_path = bundle / "nft-ruleset.nft"
    if not nft_path.is_file():
        raise DumpError(str(nft_path), 0, "the bundle file nft-ruleset.nft")
    ruleset = remap_relay(nft_path.read_text())

    rule_file, route_file = str(bundle / "ip-rule.txt"), str(bundle / "ip-route.txt")
    fw = [(n, r) for n, _t, _p, r in rule_rows if "fwmark" in r and r[0] == "not"]
    if not fw:
        raise DumpError(rule_file, 0, "a rule 'not from all fwmark MARK lookup TABLE' "
                        "(the tunnel's fwmark exemption)")
    n, words = fw[0]
    try:
        fwmark = int(words[words.index("fwmark") + 1].split("/")[0], 0)
        fw_table = words[words.index("lookup") + 1]
    except (ValueError, IndexError):
        raise DumpError(rule_file, n, "'fwmark MARK lookup TABLE'", " ".join(words)) from None
    tunnel = gateway = uplink = tunnel_dns = None
    for n, _line, args in route_rows:
        dev = args[args.index("dev") + 1] if "dev" in args else None
        table = args[args.index("table") + 1] if "table" in args else "main"
        if table == fw_table and args[0] == "default":
            tunnel = dev
        if table == "main" and args[0] == "default" and "via" in args:
            gateway, uplink = ipaddress.IPv4Address(args[args.index("via") + 1]), dev
    for n, _line, args in route_rows:
        dev = args[args.index("dev") + 1] if "dev" in args else None
        if dev == tunnel and "table" not in args and args[0] != "default":
            net = ipaddress.ip_network(args[0], strict=False)
            if isinstance(net, ipaddress.IPv4Network) and net.prefixlen == 32:
                tunnel_dns = net.network_address
    if tunnel is None or uplink is None or gateway is None:
        raise DumpError(route_file, 0, f"'default dev TUNNEL table {fw_table}' and "
                        "'default via GATEWAY dev UPLINK' routes")
    if tunnel_dns is None:
        raise DumpError(route_file, 0, f"a host route on {tunnel} (the relay's tunnel address)")
    lan = [a for a in addrs if a.dev == uplink and a.family == 4]
    tun = [a for a in addrs if a.dev == tunnel and a.family == 4]
    if not lan or not tun:
        raise DumpError(str(bundle / "ip-addr.txt"), 0,
                        f"IPv4 addresses on {uplink} and {tunnel}")
    m_relay = re.search(r"ip daddr (\S+) udp dport (\d+) meta mark (0x[0-9a-f]+) accept", ruleset)
    m_cg = re.search(r"meta cgroup (\d+|0x[0-9a-f]+)", ruleset)
    if not m_relay or not m_cg:
        raise DumpError(str(nft_path), 0, "the relay rule 'ip daddr RELAY udp dport PORT "
                        "meta mark MARK accept' and a 'meta cgroup CLASSID' rule")
    return SeedConfig(
        bundle=bundle, links=tuple(links), addresses=tuple(addrs),
        routes=tuple(r[2] for r in route_rows), rules=tuple(("pref", str(p), *r) for _n, _t, p, r
                                                            in rule_rows),
        rule_lines=tuple(t for _n, t, _p, _r in rule_rows),
        route_lines=tuple(t for _n, t, _a in sorted(route_rows)),
        ruleset=ruleset, uplink=uplink, tunnel=tunnel,
        lan_address=ipaddress.IPv4Interface(lan[0].args[0]), gateway=gateway,
        tunnel_address=ipaddress.IPv4Interface(tun[0].args[0]), tunnel_dns=tunnel_dns,
        fwmark=fwmark, classid=int(m_cg.group(1), 0),
        relay=ipaddress.IPv4Address(m_relay.group(1)), relay_port=int(m_relay.group(2)))


# ---------------------------------------------------------------------------
# The lab
# ---------------------------------------------------------------------------

class SeedLab:
    """The seed, rebuilt: four namespaces, two wireguard-go devices, responders.

    Use :func:`seed_lab` (a context manager). Attributes: ``config`` (what
    was read from the bundle), ``client``/``gw``/``relay``/``inet``
    (namespace names), ``cgroup`` (the net_cls cgroup directory whose
    processes the ruleset excludes from the tunnel), ``internet``/``tunnel_dns_server``
    (:class:`Responder`), ``sysctls`` (what was set in the client).
    """

    #: Client sysctls: loose rp_filter (distribution default) and
    #: src_valid_mark=1 (set by the Mullvad daemon), so the tunnel's
    #: replies pass fib_validate_source() with their mark.
    CLIENT_SYSCTLS = (
        ("net.ipv4.conf.all.rp_filter", "2"), ("net.ipv4.conf.default.rp_filter", "2"),
        ("net.ipv4.conf.all.src_valid_mark", "1"), ("net.ipv4.ip_forward", "0"),
        ("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0"),
        ("net.ipv6.conf.default.addr_gen_mode", "1"),
        ("net.ipv6.conf.default.router_solicitations", "0"),
    )
    _ROUTER_SYSCTLS = (
        ("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.default.rp_filter", "0"),
        ("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.disable_ipv6", "1"),
        ("net.ipv6.conf.default.disable_ipv6", "1"),
    )

    def __init__(self, config: SeedConfig, tag: str = "rt") -> None:
        self.config = config
        self.lab = Lab(tag)
        self.cgroup: Path | None = None
        self._mounted_net_cls = False
        self.wg_devices: dict[str, WireguardGo] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self.sysctls = dict(self.CLIENT_SYSCTLS)
        self.client = self.gw = self.relay = self.inet = ""

    # -- helpers -----------------------------------------------------------
    def ip(self, ns: str, *args: str) -> str:
        return self.lab.ip(ns, *args).stdout

    def ip_batch(self, ns: str, commands: Sequence[Sequence[str]]) -> None:
        """Many ``ip`` commands in one process (``ip -batch -``)."""
        text = "".join(" ".join(c) + "\n" for c in commands)
        self.lab.ip(ns, "-batch", "-", input=text)

    def nft(self, ns: str, text: str) -> None:
        """Load nftables text into NS atomically (``nft -f -``)."""
        self.lab.exec(ns, ["nft", "-f", "-"], input=text)

    # -- building ------------------------------------------------------------
    def build(self) -> "SeedLab":
        cfg = self.config
        lab = self.lab
        self.client, self.gw = lab.netns("client"), lab.netns("gw")
        self.relay, self.inet = lab.netns("relay"), lab.netns("inet")
        lab.sysctl(self.client, self.CLIENT_SYSCTLS)
        for ns in (self.gw, self.relay, self.inet):
            lab.sysctl(ns, self._ROUTER_SYSCTLS)
        lab.sysctl(self.inet, [("net.ipv4.ip_forward", "0")])
        uplink = next(link for link in cfg.links if link.name == cfg.uplink)
        relay_addr = ipaddress.IPv4Interface(f"{cfg.relay}/{_GW_RELAY_NET.network.prefixlen}")
        if relay_addr.network != _GW_RELAY_NET.network:
            raise LabError(f"relay {cfg.relay} is not in the lab's {_GW_RELAY_NET.network}")
        veth = ["link", "add"]
        self.ip(self.client, *veth, cfg.uplink, *(["address", uplink.mac] if uplink.mac else []),
                *(["mtu", str(uplink.mtu)] if uplink.mtu else []),
                "type", "veth", "peer", "name", _GW_LAN, "netns", self.gw)
        self.ip(self.gw, *veth, _GW_RELAY, "type", "veth", "peer", "name", _RELAY_UP,
                "netns", self.relay)
        self.ip(self.gw, *veth, _GW_INET, "type", "veth", "peer", "name", _INET_UP,
                "netns", self.inet)
        gw_lan = ipaddress.IPv4Interface(f"{cfg.gateway}/{cfg.lan_address.network.prefixlen}")
        self.ip_batch(self.gw, [
            ["addr", "add", str(gw_lan), "dev", _GW_LAN],
            ["addr", "add", str(_GW_RELAY_NET), "dev", _GW_RELAY],
            ["addr", "add", str(_GW_INET_NET), "dev", _GW_INET],
            ["link", "set", "lo", "up"], ["link", "set", _GW_LAN, "up"],
            ["link", "set", _GW_RELAY, "up"], ["link", "set", _GW_INET, "up"],
        ])
        self.ip_batch(self.inet, [
            ["addr", "add", f"{INTERNET_HOST}/24", "dev", _INET_UP],
            ["addr", "add", f"{INTERNET_DNS}/24", "dev", _INET_UP],
            ["link", "set", "lo", "up"], ["link", "set", _INET_UP, "up"],
            ["route", "add", "default", "via", str(_GW_INET_NET.ip)],
        ])
        # The relay: WireGuard server on RELAY:PORT, tunnel address = the
        # client's DNS route (10.64.0.1), masquerading the tunnel's traffic.
        self._keys["relay"], self._keys["client"] = genkey(), genkey()
        self._start_wg(self.relay, _RELAY_WG)
        self._configure_wg(self.relay, _RELAY_WG, self._keys["relay"][0], listen=cfg.relay_port,
                           peer=self._keys["client"][1],
                           allowed=f"{cfg.tunnel_address.ip}/32")
        self.ip_batch(self.relay, [
            ["addr", "add", str(relay_addr), "dev", _RELAY_UP],
            ["addr", "add", f"{cfg.tunnel_dns}/32", "dev", _RELAY_WG],
            ["link", "set", "lo", "up"], ["link", "set", _RELAY_UP, "up"],
            ["link", "set", _RELAY_WG, "up"],
            ["route", "add", "default", "via", str(_GW_RELAY_NET.ip)],
            ["route", "add", f"{cfg.tunnel_address.ip}/32", "dev", _RELAY_WG],
        ])
        self.nft(self.relay, (
            "table ip wgx_relay {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    oifname \"{_RELAY_UP}\" ip saddr {cfg.tunnel_address.ip} masquerade\n"
            "  }\n}\n"))
        # The client: links, the tunnel, addresses, routes, rules, then nft.
        self.ip(self.client, "link", "set", "lo", "up")
        self._client_tunnel()
        self.ip_batch(self.client, [["addr", "add", *a.args, "dev", a.dev]
                                    for a in cfg.addresses
                                    if a.dev == cfg.uplink])
        self.ip(self.client, "link", "set", cfg.uplink, "up")
        self._client_routes(tunnel_only=False)
        self._client_rules()
        self._load_client_ruleset()
        # Who answers: the internet host and resolver; the relay's resolver.
        self.internet = Responder(lab, self.inet, [INTERNET_HOST, INTERNET_DNS],
                                  [SERVICE_PORT, DNS_PORT])
        self.tunnel_dns_server = Responder(lab, self.relay, [cfg.tunnel_dns],
                                           [SERVICE_PORT, DNS_PORT])
        self._make_cgroup()
        return self

    def _start_wg(self, ns: str, ifname: str) -> None:
        """wireguard-go in the foreground, in ``ns``, with a private ``/run/wireguard``."""
        self.wg_devices[ifname] = WireguardGo(self.lab, ns, ifname)

    def wg(self, ifname: str, *args: str, input: str | None = None) -> str:
        """``wg ARGS`` against one of this lab's wireguard-go devices."""
        return self.wg_devices[ifname].wg(*args, input=input)

    def _configure_wg(self, ns: str, ifname: str, private: str, *, peer: str, allowed: str,
                      listen: int | None = None, fwmark: int | None = None,
                      endpoint: str | None = None) -> None:
        conf = ["[Interface]", f"PrivateKey = {private}"]
        if listen is not None:
            conf.append(f"ListenPort = {listen}")
        if fwmark is not None:
            conf.append(f"FwMark = {fwmark:#x}")
        conf += ["[Peer]", f"PublicKey = {peer}", f"AllowedIPs = {allowed}"]
        if endpoint:
            conf.append(f"Endpoint = {endpoint}")
        self.wg_devices[ifname].setconf(conf)

    def _client_tunnel(self) -> None:
        cfg = self.config
        tun = next(link for link in cfg.links if link.name == cfg.tunnel)
        self._start_wg(self.client, cfg.tunnel)
        self._configure_wg(self.client, cfg.tunnel, self._keys["client"][0],
                           peer=self._keys["relay"][1], allowed="0.0.0.0/0",
                           fwmark=cfg.fwmark, endpoint=f"{cfg.relay}:{cfg.relay_port}")
        cmds = [["link", "set", cfg.tunnel, *(["mtu", str(tun.mtu)] if tun.mtu else []), "up"]]
        cmds += [["addr", "add", *a.args, "dev", a.dev] for a in cfg.addresses
                 if a.dev == cfg.tunnel]
        self.ip_batch(self.client, cmds)

    def _client_routes(self, tunnel_only: bool) -> None:
        cfg = self.config
        cmds = []
        for args in cfg.routes:
            dev = args[args.index("dev") + 1] if "dev" in args else None
            if tunnel_only and dev != cfg.tunnel:
                continue
            cmds.append(["route", "add", *args])
        self.ip_batch(self.client, cmds)

    def _client_rules(self) -> None:
        """Make ``ip rule`` equal the dump: add what is missing, delete what is extra."""
        have = {ln.strip() for ln in self.ip(self.client, "-4", "rule").splitlines()}
        want = {ln.strip() for ln in self.config.rule_lines}
        cmds = [["rule", "del", *_rule_args(ln)] for ln in sorted(have - want)]
        cmds += [["rule", "add", *r] for r, ln in zip(self.config.rules,
                                                             self.config.rule_lines)
                 if ln.strip() not in have]
        if cmds:
            self.ip_batch(self.client, cmds)

    def _load_client_ruleset(self) -> None:
        tables = re.findall(r"^table\s+(\S+)\s+(\S+)\s*\{", self.config.ruleset, re.M)
        current = self.lab.exec(self.client, ["nft", "list", "tables"]).stdout
        drop = "".join(f"delete table {fam} {name}\n" for fam, name in tables
                       if f"table {fam} {name}" in current)
        self.nft(self.client, drop + self.config.ruleset)

    def _make_cgroup(self) -> None:
        """Our own net_cls cgroup (``wgx-rt-…``) with the ruleset's classid.

        The net_cls hierarchy is mounted when missing and then left mounted:
        other labs may share it; only our cgroup is removed at teardown.
        """
        if not (NET_CLS_ROOT / "net_cls.classid").exists():
            NET_CLS_ROOT.mkdir(parents=True, exist_ok=True)
            run(["mount", "-t", "cgroup", "-o", "net_cls", "net_cls", str(NET_CLS_ROOT)])
            self._mounted_net_cls = True
        group = NET_CLS_ROOT / self.lab.prefix
        group.mkdir()
        self.cgroup = group
        (group / "net_cls.classid").write_text(f"{self.config.classid:#x}\n")

    # -- scenarios -----------------------------------------------------------
    @contextmanager
    def tunnel_down(self) -> Iterator[None]:
        """Stop the client's wireguard-go (its device, and the routes on it, vanish).

        On exit the tunnel is rebuilt: a new wireguard-go, its address and
        routes from the bundle, and the ruleset reloaded (the new device has
        a new ifindex, which the old ``oif`` matches would silently miss).
        """
        self.wg_devices.pop(self.config.tunnel).stop()
        try:
            yield
        finally:
            self._client_tunnel()
            self._client_routes(tunnel_only=True)
            self._load_client_ruleset()

    @contextmanager
    def without_ruleset(self) -> Iterator[None]:
        """Delete the user's nft tables (the kill switch with them); reload them after.

        The counterfactual of LAB-NOTES: without the firewall, a tunnel
        that is down lets plaintext out on the uplink.
        """
        tables = re.findall(r"^table\s+(\S+)\s+(\S+)\s*\{", self.config.ruleset, re.M)
        self.nft(self.client, "".join(f"delete table {fam} {name}\n" for fam, name in tables))
        try:
            yield
        finally:
            self._load_client_ruleset()

    # -- teardown ------------------------------------------------------------
    def close(self) -> None:
        """Kill our PIDs, delete our namespaces, remove our cgroup (idempotent)."""
        try:
            self.lab.close()
        finally:
            if self.cgroup is not None:
                procs = self.cgroup / "cgroup.procs"
                for _ in range(50):
                    try:
                        if not procs.read_text().strip():
                            break
                    except OSError:
                        break
                    time.sleep(0.02)
                try:
                    self.cgroup.rmdir()
                except OSError:
                    pass
                self.cgroup = None

    def dumps(self) -> dict[str, str]:
        """``ip -4 rule`` and ``ip -4 route show table all`` of the client, as printed."""
        return {"ip-rule": self.ip(self.client, "-4", "rule"),
                "ip-route": self.ip(self.client, "-4", "route", "show", "table", "all")}


def _rule_args(line: str) -> list[str]:
    m = re.match(r"^(\d+):\s+(.*)$", line.strip())
    if not m:
        raise LabError(f"cannot read rule {line!r}")
    return ["pref", m.group(1), *m.group(2).split()]


def lab_ready() -> tuple[bool, str]:
    """Whether this machine can run the seed lab, and if not, why (for skips)."""
    ok, why = lab_available()
    if not ok:
        return ok, why
    import shutil

    for tool in ("wireguard-go", "wg", "nft", "tcpdump", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed"
    if not Path("/dev/net/tun").exists():
        return False, "/dev/net/tun is missing (wireguard-go needs tun)"
    return True, ""


@contextmanager
def seed_lab(bundle: Path | str = SEED_BUNDLE, tag: str = "rt") -> Iterator[SeedLab]:
    """Build the seed lab from ``bundle``; always tear it down afterwards."""
    lab = SeedLab(read_seed(bundle), tag)
    try:
        lab.build()
        yield lab
    finally:
        lab.close()
