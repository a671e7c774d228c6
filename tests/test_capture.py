"""``wgexplain capture``: the bundle equals what ``ip -j`` prints, and capture only reads.

The lab: a ``wgx-cap-…`` namespace with veths whose peers live in a
second namespace, v4/v6 addresses (secondary, peer, noprefixroute,
deprecated), rules with many selectors (a table id > 255, not, fwmark/mask,
iif/oif, uidrange, ipproto, port ranges, tos, goto, nop, unreachable,
prohibit, blackhole, suppress_prefixlength, suppress_ifgroup, l3mdev),
routes of several types in several tables (multipath, metrics, realms,
IPv6 expires), a bridge, a tun device, a real WireGuard device
(wireguard-go) with a fwmark, an nft ruleset and non-default sysctls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from wgexplain.lab import netns
from wgexplain.lab.wireguard_go import WireguardGo, genkey
from wgexplain.sources import live

ROOT = Path(__file__).resolve().parent.parent


_OK, _WHY = netns.lab_available()
lab = pytest.mark.skipif(not _OK, reason=_WHY)

WG = f"wgcap{os.getpid() % 100000}"

SETUP = """
link set lo up
link add cap0 type veth peer name capp0 netns {peer}
link add cap1 type veth peer name capp1 netns {peer}
link add capdown type veth peer name cappd netns {peer}
link set cap0 up
link set cap1 up
link set capdown up
link add capbr0 type bridge
link add cap2 type veth peer name capp2 netns {peer}
link set cap2 master capbr0
link set cap1 group 5 alias uplink
link property add dev cap0 altname capzero
tuntap add mode tun name captun0
link set captun0 up mtu 1380
addr add 198.51.100.2/24 dev cap0
addr add 198.51.100.77/24 dev cap0
addr add 10.9.0.2/16 brd + dev cap1
addr add 203.0.113.9/32 peer 203.0.113.1 dev cap1
addr add 10.147.0.5/32 dev captun0
-6 addr add 2001:db8:1::2/64 dev cap0 nodad
-6 addr add fd00:9::2/64 dev cap1 noprefixroute nodad
-6 addr add 2001:db8:5::1/64 dev cap1 valid_lft 3000 preferred_lft 0 nodad
route add default via 198.51.100.1 dev cap0 proto static metric 100
route add 203.0.113.0/24 via 10.9.0.1 table 1836018789
route add default dev cap1 table 1836018789 proto static
route add blackhole 203.0.113.128/25 table 100
route add unreachable 198.51.100.128/25 table 100 metric 5
route add prohibit 10.99.0.0/16 table 100
route add throw 10.98.0.0/16 table 100
route add 10.50.0.0/16 table 100 nexthop via 10.9.0.1 dev cap1 weight 2 nexthop via 198.51.100.1 dev cap0 weight 1
route add 10.51.0.0/16 via 10.9.0.1 dev cap1 src 10.9.0.2 mtu 1400 onlink
route add 10.64.0.1 dev captun0 proto static
route add 10.77.0.0/16 dev cap1 realm 5
route add 10.78.0.0/16 dev cap1 table 100 tos 0x28 metric 3 advmss 1300 rtt 100ms mtu lock 1400 initcwnd 10 quickack 1 features ecn
-6 route add default via 2001:db8:1::1 dev cap0 metric 1024
-6 route add 2001:db8:99::/48 dev cap1 table 200
-6 route add unreachable 2001:db8:98::/48 table 200
-6 route add 2001:db8:77::/64 via fe80::1 dev cap0 expires 600
rule add pref 100 from 10.9.0.0/16 to 203.0.113.0/24 table 100
rule add pref 200 fwmark 0x10/0xff iif cap0 oif cap1 table 100
rule add pref 300 uidrange 1000-2000 ipproto udp dport 53 sport 1000-2000 lookup 100
rule add pref 400 tos 0x10 goto 32766
rule add pref 500 from 198.51.100.0/24 unreachable
rule add pref 501 from 10.99.0.0/16 prohibit
rule add pref 502 from 10.98.0.0/16 blackhole
rule add pref 503 nop
rule add pref 600 table 100 suppress_ifgroup 5
rule add pref 700 l3mdev
rule add pref 800 iif lo oif cap0 lookup 100 proto 99
rule add pref 900 ipproto 47 lookup 100
rule add pref 32764 table main suppress_prefixlength 0
rule add pref 32765 not fwmark 0x6d6f6c65 table 1836018789
-6 rule add pref 100 from 2001:db8:1::/64 table 200
-6 rule add pref 32764 table main suppress_prefixlength 0
-6 rule add pref 32765 not fwmark 0x6d6f6c65 table 1836018789
"""

RULESET = """
table inet capt {
    chain output {
        type filter hook output priority filter; policy accept;
        oif "cap1" meta mark set 0x6d6f6c65
        ip daddr 203.0.113.0/24 udp dport 53 counter reject
    }
    chain mangle {
        type route hook output priority mangle; policy accept;
        meta cgroup 5087041 ct mark set 0x00000f41 meta mark set 0x6d6f6c65
    }
}
"""

SYSCTLS = ("net.ipv4.conf.cap0.rp_filter=2", "net.ipv4.conf.all.src_valid_mark=1",
           "net.ipv4.ip_forward=1", "net.ipv6.conf.cap1.forwarding=1")

#: (bundle file, ip arguments) for the ip -j parity
IP_FILES = (("ip-rule.json", ["-4", "rule"]), ("ip6-rule.json", ["-6", "rule"]),
            ("ip-route.json", ["-4", "route", "show", "table", "all"]),
            ("ip6-route.json", ["-6", "route", "show", "table", "all"]),
            ("ip-addr.json", ["addr"]), ("ip-link.json", ["link"]))


def _sh(*args: str, inp: str | None = None) -> str:
    proc = subprocess.run(list(args), input=inp, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


@dataclasses.dataclass
class Lab:
    ns: str
    peer: str
    wg_pid: int | None
    wg_public: str | None


@contextlib.contextmanager
def build_lab() -> Iterator[Lab]:
    """The lab namespaces, torn down whatever happens (wireguard-go killed by its PID).

    wireguard-go uses the machine's shared socket path, as on a user's machine:
    ``wgexplain capture --netns`` runs ``wg`` with ``ip netns exec``.
    """
    with netns.Lab("cap") as built:
        ns, peer = built.netns("ns"), built.netns("peer")
        # no duplicate address detection: addresses must not change state during the tests
        built.sysctl(ns, [("net.ipv6.conf.all.accept_dad", "0"),
                          ("net.ipv6.conf.default.accept_dad", "0")])
        for line in SETUP.strip().splitlines():
            built.ip(ns, *line.format(peer=peer).split())
        built.exec(ns, ["nft", "-f", "-"], input=RULESET)
        built.sysctl(ns, [tuple(kv.split("=")) for kv in SYSCTLS])  # type: ignore[misc]
        wg_pid = wg_public = None
        if shutil.which("wireguard-go") and shutil.which("wg"):
            dev = WireguardGo(built, ns, WG, private=False)
            private, wg_public = genkey()
            dev.wg("set", WG, "private-key", "/dev/stdin", "listen-port", "51820",
                   "fwmark", "0x6d6f6c65", "peer", genkey()[1],
                   "allowed-ips", "0.0.0.0/0,::/0", "endpoint", "203.0.113.76:19955",
                   input=private + "\n")
            built.ip(ns, "addr", "add", "10.147.23.252/32", "dev", WG)
            built.ip(ns, "link", "set", WG, "up")
            built.ip(ns, "route", "add", "10.64.0.1", "dev", WG, "table", "1836018789")
            wg_pid = dev.proc.pid
        yield Lab(ns, peer, wg_pid, wg_public)


@pytest.fixture(scope="module")
def lab_ns() -> Iterator[Lab]:
    with build_lab() as built:
        yield built


def _ip_json(ns: str | None, args: list[str]) -> str:
    return _sh("ip", *(["-n", ns] if ns else []), "-j", *args)


def red_text(folder: Path) -> str:
    return "".join(p.read_text() for p in sorted(folder.iterdir()))


def _snapshot(ns: str | None) -> dict[str, str]:
    """Everything capture reads, as ip/nft print it (byte for byte)."""
    snap = {name: _ip_json(ns, args) for name, args in IP_FILES}
    nft = ["nft", "-j", "list", "ruleset"]
    snap["nft"] = _sh(*(["ip", "netns", "exec", ns] if ns else []), *nft)
    return snap


_COUNTDOWN = re.compile(r'"(expires|valid_life_time|preferred_life_time)":(?!4294967295\b)\d+')


_COUNTDOWN_VALUES = re.compile(r'"(expires|valid_life_time|preferred_life_time)":(?!4294967295\b)(\d+)')


def _mask_countdowns(text: str) -> str:
    """The kernel counts finite lifetimes and route expiry down every second: mask them."""
    return _COUNTDOWN.sub(lambda m: f'"{m.group(1)}":"<countdown>"', text)


@lab
def test_capture_equals_ip_json(lab_ns: Lab, tmp_path: Path) -> None:
    """Every rtnetlink file is byte-identical to ``ip -j`` (ip-link.json: plus linkinfo.info_kind).

    ``ip -j`` runs just before and just after the capture: the kernel's
    countdowns (route expiry, address lifetimes) may tick in between, so each
    countdown of the capture must lie between its two readings, and all the
    rest must be identical.
    """
    before = {name: _ip_json(lab_ns.ns, args) for name, args in IP_FILES}
    report = live.capture(tmp_path, netns=lab_ns.ns)
    after = {name: _ip_json(lab_ns.ns, args) for name, args in IP_FILES}
    assert not [n for n in report.notes if "permission" in n or "failed" in n], report.notes
    for name, _args in IP_FILES:
        mine = (tmp_path / name).read_text()
        if name == "ip-link.json":
            objs = json.loads(mine)
            kinds = {o["ifname"]: o.pop("linkinfo", {}).get("info_kind") for o in objs}
            assert kinds["cap0"] == "veth" and kinds["capbr0"] == "bridge"
            assert kinds["captun0"] == "tun" and kinds["lo"] is None
            mine = json.dumps(objs, separators=(",", ":")) + "\n"
        assert _mask_countdowns(mine) == _mask_countdowns(before[name]) == \
            _mask_countdowns(after[name]), name
        ticks = [[int(v) for _k, v in _COUNTDOWN_VALUES.findall(t)]
                 for t in (after[name], mine, before[name])]
        assert all(a <= m <= b for a, m, b in zip(*ticks)), (name, ticks)
    rules = json.loads((tmp_path / "ip-rule.json").read_text())
    by_pref = {r["priority"]: r for r in rules}
    assert by_pref[0] == {"priority": 0, "src": "all", "table": "local"}  # no FRA_PRIORITY
    assert by_pref[32765]["table"] == "1836018789" and "not" in by_pref[32765]
    assert by_pref[32764]["suppress_prefixlen"] == 0
    assert "suppress_prefixlen" not in by_pref[32766]  # 0xffffffff = unset
    # only IPv6 rules in ip6-rule.json (get_rules() also returns the multicast families)
    assert [r["priority"] for r in json.loads((tmp_path / "ip6-rule.json").read_text())] == \
        [0, 100, 32764, 32765, 32766]


@lab
def test_capture_sysctls_nft_and_wg(lab_ns: Lab, tmp_path: Path) -> None:
    live.capture(tmp_path, netns=lab_ns.ns)
    sysctl = dict(line.split(" = ", 1) for line in (tmp_path / "sysctl.txt").read_text().splitlines())
    assert sysctl["net.ipv4.conf.cap0.rp_filter"] == "2"
    assert sysctl["net.ipv4.conf.cap1.rp_filter"] == "0"
    assert sysctl["net.ipv4.conf.all.src_valid_mark"] == "1"
    assert sysctl["net.ipv4.ip_forward"] == "1"
    assert sysctl["net.ipv6.conf.cap1.forwarding"] == "1"
    assert "net.ipv6.conf.cap0.disable_ipv6" in sysctl
    ruleset = json.loads((tmp_path / "nft-ruleset.json").read_text())
    chains = {o["chain"]["name"] for o in ruleset["nftables"] if "chain" in o}
    assert chains == {"output", "mangle"}
    if lab_ns.wg_pid is None:
        pytest.skip("wireguard-go/wg not installed: wg.txt not checked")
    lines = (tmp_path / "wg.txt").read_text().splitlines()
    # only this namespace's device, even though wireguard-go sockets are shared
    assert {line.split("\t")[0] for line in lines} == {WG}
    iface = lines[0].split("\t")
    assert iface[2] == lab_ns.wg_public and iface[3] == "51820" and iface[4] == "0x6d6f6c65"
    assert iface[1] == "(hidden)"  # the private key never lands in a bundle made to be posted
    assert lines[1].split("\t")[3] == "203.0.113.76:19955"


@lab
def test_capture_is_read_only(lab_ns: Lab, tmp_path: Path) -> None:
    """(b) The namespace's and the host's ip/nft output are byte-identical before and after.

    Only the kernel's own countdowns (finite address lifetimes, route
    expiry: the lab has both) are masked; everything else is compared byte
    for byte, sysctls included.
    """
    def state(ns: str | None) -> dict[str, str]:
        snap = {k: _mask_countdowns(v) for k, v in _snapshot(ns).items()}
        snap["sysctl"] = live.format_sysctls(live.read_sysctls(ns))
        return snap

    before_ns, before_host = state(lab_ns.ns), state(None)
    assert '"<countdown>"' in before_ns["ip6-route.json"]
    live.capture(tmp_path / "ns", netns=lab_ns.ns)
    live.capture(tmp_path / "host")
    assert state(lab_ns.ns) == before_ns
    assert state(None) == before_host


@lab
def test_capture_parses_like_ip_json(lab_ns: Lab, tmp_path: Path) -> None:
    """(a) The capture reads (wgexplain.sources.load) to the same Host as ``ip -j`` output does."""
    from wgexplain.sources import load

    live.capture(tmp_path / "cap", netns=lab_ns.ns)
    ref = tmp_path / "ref"
    ref.mkdir()
    for name, args in IP_FILES:
        (ref / name).write_text(_ip_json(lab_ns.ns, args))
    a, b = load(str(tmp_path / "cap")), load(str(ref))

    def strip(items: tuple[object, ...]) -> list[object]:
        # origins name different folders; route expiry counts down between the two reads
        return [dataclasses.replace(x, origin=None, **(  # type: ignore[type-var]
            {"expires": x.expires and "<countdown>"} if hasattr(x, "expires") else {}))
            for x in items]

    assert len(a.rules) > 20 and len(a.routes) > 30
    assert strip(a.rules) == strip(b.rules)
    assert strip(a.routes) == strip(b.routes)
    assert strip(a.addresses) == strip(b.addresses)
    assert [(link.name, link.index) for link in a.links] == [(link.name, link.index) for link in b.links]
    compat = [r for r in a.rules if r.table == 1836018789]
    assert compat and all(r.invert for r in compat)


@lab
def test_capture_host_and_cli(lab_ns: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    from wgexplain.cli_capture import capture_command

    res = runner.invoke(capture_command, [str(tmp_path / "b"), "--netns", lab_ns.ns])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        f for f in live.BUNDLE_FILES if f != "wg.txt" or lab_ns.wg_pid is not None)
    # kernel.json: the bundle imitates the kernel it was captured from
    from wgexplain.lab.kernel_profile import detect

    from wgexplain import load

    captured = load(str(tmp_path / "b")).kernel
    assert captured is not None and captured.features() == detect().features()
    # a re-capture replaces the files, and removes what it could not write this time
    again = tmp_path / "again"
    shutil.copytree(tmp_path / "b", again)
    (again / "wg.txt").write_text("stale\tline\n")
    (again / "ip-route.txt").write_text("default dev eth9\n")
    res = runner.invoke(capture_command, [str(again), "--netns", lab_ns.peer])
    assert res.exit_code == 0, res.output
    assert not (again / "wg.txt").exists()
    assert "removed wg.txt left by an earlier capture" in res.stderr
    assert "also holds ip-route.txt, not from this capture" in res.stderr
    assert "capp0" in (again / "ip-link.json").read_text()
    res = runner.invoke(capture_command, [str(tmp_path / "c"), "--netns", "wgx-cap-no-such-ns"])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "wgexplain: no network namespace named 'wgx-cap-no-such-ns' (see 'ip netns list')"]
    # --redact: MACs and WireGuard keys replaced; documentation addresses kept (they carry meaning)
    monkeypatch.setattr("wgexplain.cli_capture._hostname", lambda: "uplink")  # cap1's alias
    res = runner.invoke(capture_command, [str(tmp_path / "r"), "--netns", lab_ns.ns, "--redact",
                                          "--key", "k"])
    assert res.exit_code == 0, res.output
    aliases = {o["ifname"]: o.get("ifalias") for o in
               json.loads((tmp_path / "r" / "ip-link.json").read_text())}
    assert aliases["cap1"].startswith("host-") and "uplink" not in red_text(tmp_path / "r")
    plain = "".join(p.read_text() for p in sorted((tmp_path / "b").iterdir()))
    red = "".join(p.read_text() for p in sorted((tmp_path / "r").iterdir()))
    macs = {o["address"] for o in json.loads((tmp_path / "b" / "ip-link.json").read_text())
            if o.get("link_type") == "ether"}
    assert macs and not any(m in red for m in macs)
    assert "198.51.100.2" in red and "203.0.113.76:19955" in red.replace("\t", " ") or \
        lab_ns.wg_pid is None
    if lab_ns.wg_public:
        assert lab_ns.wg_public in plain and lab_ns.wg_public not in red
    for name in ("ip-addr.json", "ip-link.json", "ip-route.json", "nft-ruleset.json"):
        json.loads((tmp_path / "r" / name).read_text())


def test_nft_permission_denied_is_said() -> None:
    """As an unprivileged user nft cannot list the ruleset: the capture says so, and goes on."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None or shutil.which("nft") is None:
        pytest.skip("needs root (to drop to an unprivileged user with setpriv) and nft")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = subprocess.run([*drop, "-c", "import wgexplain.sources.live"], capture_output=True,
                           text=True, timeout=60, env=env, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"python/the package is not usable by an unprivileged user: {probe.stderr[-200:]}")
    code = ("import json, sys; from wgexplain.sources.live import capture; "
            "r = capture(sys.argv[1]); print(json.dumps({'files': r.files, 'notes': r.notes}))")
    with tempfile.TemporaryDirectory(prefix="wgx-cap-", dir="/tmp") as tmp:
        os.chmod(tmp, 0o777)
        proc = subprocess.run([*drop, "-c", code, os.path.join(tmp, "b")], capture_output=True,
                              text=True, timeout=60, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "nft: permission denied (needs CAP_NET_ADMIN); the bundle has no ruleset" in result["notes"]
    assert "nft-ruleset.json" not in result["files"]
    assert {"ip-rule.json", "ip-route.json", "ip-addr.json", "sysctl.txt"} <= set(result["files"])


def test_rule_json_traps() -> None:
    """The rtnetlink traps, on hand-made messages: table > 255, pref 0, families 128/129."""
    compat = {"family": 2, "dst_len": 0, "src_len": 0, "tos": 0, "table": 252, "action": 1,
              "flags": 2, "attrs": [("FRA_TABLE", 1836018789), ("FRA_SUPPRESS_PREFIXLEN", 0xFFFFFFFF),
                                    ("FRA_PRIORITY", 32765), ("FRA_FWMARK", 0x6D6F6C65),
                                    ("FRA_FWMASK", 0xFFFFFFFF)]}
    assert live.rule_json(compat) == {"priority": 32765, "not": None, "src": "all",
                                      "fwmark": "0x6d6f6c65", "table": "1836018789"}
    pref0 = {"family": 10, "dst_len": 0, "src_len": 0, "tos": 0, "table": 255, "action": 1,
             "flags": 0, "attrs": [("FRA_TABLE", 255), ("FRA_PROTOCOL", 2)]}
    assert live.rule_json(pref0) == {"priority": 0, "src": "all", "table": "local"}
    assert live.rule_json({**pref0, "family": 128}) is None
    assert live.rule_json({**pref0, "family": 129}) is None
    zero_mark = {**pref0, "attrs": [("FRA_TABLE", 5), ("FRA_FWMARK", 0), ("FRA_FWMASK", 0xF0)]}
    assert live.rule_json(zero_mark)["fwmark"] == "0"  # C's %#llx prints 0 without 0x
    assert live.rule_json(zero_mark)["fwmask"] == "0xf0"


@lab
def test_live_host_routes_like_the_kernel(lab_ns: Lab) -> None:
    """``--live`` (capture_host): origins name the capture's files, and the simulator on the
    captured Host answers ``ip route get`` as the namespace's kernel does."""
    from wgexplain.kernel.route import route_get

    host = live.capture_host(lab_ns.ns)
    assert host.source == f"--live (netns {lab_ns.ns})"
    assert {r.origin.file for r in host.rules} == {f"live:{lab_ns.ns}/ip-rule.json",
                                                   f"live:{lab_ns.ns}/ip6-rule.json"}
    checked = 0
    for dst, mark in (("198.51.100.9", 0), ("8.8.8.8", 0), ("8.8.8.8", 0x6D6F6C65),
                      ("10.50.1.1", 0), ("10.9.3.3", 0), ("203.0.113.5", 0x6D6F6C65),
                      ("10.77.1.1", 0x6D6F6C65), ("2001:db8:1::9", 0), ("2001:db8:99::1", 0),
                      ("2606:4700::1111", 0x6D6F6C65), ("10.64.0.1", 0x6D6F6C65)):
        proc = subprocess.run(["ip", "-n", lab_ns.ns, "-j", "route", "get", dst, "mark",
                               str(mark)], capture_output=True, text=True)
        sim = route_get(host, dst, mark=mark)
        if proc.returncode != 0:
            errno = {"Permission denied": "EACCES", "Network is unreachable": "ENETUNREACH",
                     "No route to host": "EHOSTUNREACH", "Invalid argument": "EINVAL"}
            assert sim.error == errno.get(proc.stderr.split(": ", 1)[-1].strip()), (dst, mark)
            continue
        kernel = json.loads(proc.stdout)[0]
        assert (sim.dev, None if sim.gateway is None else str(sim.gateway)) == (
            kernel.get("dev"), kernel.get("gateway")), (dst, mark)
        checked += 1
    assert checked >= 8
