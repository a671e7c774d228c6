"""Real traffic through the seed, rebuilt with a real WireGuard tunnel (issue 3 §6).

The client namespace holds the seed's rules, routes, addresses and nftables
ruleset (relay remapped to 203.0.113.76), wg-mullvad is a real wireguard-go
device, and every case sends one bounded probe. What the kernel did —
sender's errno, ``nft monitor trace``, a capture on wlp0s20f3, the server's
own log — is asserted against LAB-NOTES "Observed outcomes", then compared
with the simulator (``wgexplain.kernel.path.trace``) on the seed bundle.

One lab per module (setup ≈ 0.6 s); the tunnel-down cases restore the tunnel.
The first tests need no root: they check the readers the lab relies on.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from wgexplain.errors import DumpError
from wgexplain.lab import probes
from wgexplain.lab.topology import (LAB_RELAY, SEED_BUNDLE, SEED_RELAY, lab_ready, read_seed,
                                    remap_relay, seed_lab)

MOLE = 0x6D6F6C65
CLIENT_LAN = "192.168.44.83"
CLIENT_TUNNEL = "10.147.23.252"
OUTER_OUT = f"out udp {CLIENT_LAN} -> {LAB_RELAY}:19955"
OUTER_IN = f"in udp {LAB_RELAY}:19955 -> {CLIENT_LAN}"


# ---------------------------------------------------------------------------
# Without root: the bundle reader, the trace and frame parsers
# ---------------------------------------------------------------------------

def test_read_seed_takes_everything_from_the_bundle() -> None:
    cfg = read_seed(SEED_BUNDLE)
    assert (cfg.uplink, cfg.tunnel) == ("wlp0s20f3", "wg-mullvad")
    assert str(cfg.gateway) == "192.168.44.1" and str(cfg.lan_address) == f"{CLIENT_LAN}/24"
    assert str(cfg.tunnel_address) == f"{CLIENT_TUNNEL}/32" and str(cfg.tunnel_dns) == "10.64.0.1"
    assert (cfg.fwmark, cfg.classid) == (MOLE, 0x4D9F41)
    assert (str(cfg.relay), cfg.relay_port) == (LAB_RELAY, 19955)
    assert SEED_RELAY not in cfg.ruleset and cfg.ruleset.count(LAB_RELAY) == 3
    # device routes print without scope: added with scope global to print the same
    assert ("10.64.0.1", "dev", "wg-mullvad", "proto", "static", "scope", "global") in cfg.routes
    # noprefixroute: the /24 on-link route is added before the default via it
    order = [r[0] for r in cfg.routes]
    assert order.index("192.168.44.0/24") < order.index("default")
    assert ("pref", "32765", "not", "from", "all", "fwmark", "0x6d6f6c65", "lookup",
            "1836018789") in cfg.rules


def test_remap_relay_touches_only_the_relay_address() -> None:
    text = "ip saddr 185.195.233.76 x 185.195.233.761 1185.195.233.76 185.195.233.7"
    assert remap_relay(text) == "ip saddr 203.0.113.76 x 185.195.233.761 1185.195.233.76 185.195.233.7"


@pytest.mark.parametrize("name,content,line,expected", [
    ("ip-rule.txt", "0:\tfrom all lookup local\nbogus line\n", 2, "a rule preference"),
    ("ip-rule.txt", "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n", 0,
     "fwmark exemption"),
    ("ip-addr.txt", "    inet 10.0.0.1/8 scope host lo\n", 1, "a link line"),
    ("ip-addr.txt", "1: lo: <LOOPBACK,UP> mtu 65536\n    inet 10.0.0.1/8 wobble lo\n", 2,
     "an address flag"),
    ("nft-ruleset.nft", "table inet t {\n}\n", 0, "the relay rule"),
])
def test_read_seed_names_file_and_line_on_bad_input(tmp_path: Path, name: str, content: str,
                                                   line: int, expected: str) -> None:
    for f in SEED_BUNDLE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / name).write_text(content)
    with pytest.raises(DumpError) as err:
        read_seed(tmp_path)
    assert err.value.file.endswith(name) and err.value.line == line
    assert expected in str(err.value)


def test_read_seed_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match="ip-addr.txt"):
        read_seed(tmp_path)


TRACE_SAMPLE = """\
trace id aa inet wgxtrace out packet: oif "wg-mullvad" ip saddr 10.147.23.252 ip daddr 198.51.100.10 ip protocol udp udp sport 1 udp dport 443
trace id aa inet wgxtrace out rule meta nftrace set 1 (verdict continue)
trace id aa inet mullvad mangle rule meta cgroup 5087041 ct mark set 0x00000f41 meta mark set 0x6d6f6c65 (verdict continue)
trace id aa inet mullvad mangle policy accept meta mark 0x6d6f6c65
trace id bb inet wgxtrace out packet: oif "wg-mullvad" ip saddr 10.147.23.252 ip daddr 198.51.100.53 ip protocol udp udp sport 2 udp dport 53
trace id bb inet mullvad output rule udp dport 53 reject (verdict drop)
trace id aa inet mullvad output rule ct mark 0x00000f41 accept (verdict accept)
trace id aa inet mullvad nat rule oif != "lo" ct mark 0x00000f41 masquerade (verdict accept)
trace id aa inet wgxtrace post packet: oif "wlp0s20f3" ip saddr 192.168.44.83 ip daddr 198.51.100.10 ip protocol udp udp sport 1 udp dport 443
trace id aa inet wgxtrace post policy accept meta mark 0x6d6f6c65
trace id cc inet mullvad input rule iif "lo" accept (verdict accept)
"""


def test_parse_trace_groups_interleaved_packets() -> None:
    aa, bb = probes.parse_trace(TRACE_SAMPLE.splitlines())
    assert aa.matches(dst="198.51.100.10", proto="udp", dport=443) and not aa.matches(dport=53)
    assert aa.verdict == "accept"
    assert aa.final == {"oif": "wlp0s20f3", "saddr": CLIENT_LAN, "daddr": "198.51.100.10",
                        "proto": "udp", "sport": "1", "dport": "443"}
    assert aa.final_mark == MOLE
    assert aa.rules() == [
        "inet mullvad mangle: meta cgroup 5087041 ct mark set 0x00000f41 meta mark set "
        "0x6d6f6c65 (verdict continue)",
        "inet mullvad mangle: policy accept",
        "inet mullvad output: ct mark 0x00000f41 accept (verdict accept)",
        'inet mullvad nat: oif != "lo" ct mark 0x00000f41 masquerade (verdict accept)']
    assert bb.verdict == "reject" and bb.final == {}


def test_parse_frame_reads_ethernet_ipv4_udp() -> None:
    own = bytes.fromhex("f020ffa768db")
    ip = bytes.fromhex("45000021000040004011" "0000" "c0a82c53" "cb00714c")
    udp = bytes.fromhex("d431" "4df3" "000d" "0000") + b"hello"
    frame = bytes.fromhex("aabbccddeeff") + own + b"\x08\x00" + ip + udp
    pkt = probes.parse_frame(frame, own)
    assert pkt is not None
    assert (pkt.direction, pkt.proto, pkt.src, pkt.dst, pkt.dport) == (
        "out", "udp", CLIENT_LAN, LAB_RELAY, 19955)
    assert pkt.payload == b"hello" and pkt.summary() == OUTER_OUT
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    assert probes.parse_frame(arp, own) is None


# ---------------------------------------------------------------------------
# With root: the lab
# ---------------------------------------------------------------------------

_READY, _WHY = lab_ready()
_skip_lab = pytest.mark.skipif(not _READY, reason=f"real-traffic lab unavailable: {_WHY}")


def lab_only(test):  # type: ignore[no-untyped-def]
    """Marked ``lab`` (pyproject) and skipped, with the reason, without root/netns/tools."""
    return pytest.mark.lab(_skip_lab(test))



@pytest.fixture(scope="module")
def lab():  # type: ignore[no-untyped-def]
    if not _READY:
        pytest.skip(f"real-traffic lab unavailable: {_WHY}")
    with seed_lab() as built:
        yield built


@pytest.fixture(scope="module")
def observer(lab):  # type: ignore[no-untyped-def]
    return probes.Observer(lab)


@pytest.fixture(scope="module")
def seed_host(lab, tmp_path_factory):  # type: ignore[no-untyped-def]
    import wgexplain

    return wgexplain.load(str(probes.seed_bundle(lab, tmp_path_factory.mktemp("seed"))))


@pytest.fixture(scope="module")
def observed(observer, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Observations by case name, each case run once (with a snapshot of the client)."""
    cache: dict[str, tuple[dict[str, Any], Path]] = {}

    def get(name: str) -> tuple[dict[str, Any], Path]:
        if name not in cache:
            snap = tmp_path_factory.mktemp(name)
            cache[name] = (observer.observe(probes.CASES_BY_NAME[name], snapshot=snap), snap)
        return cache[name]
    return get


def _agrees(lab, seed_host, observed, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The observation, after checking the simulator says the same thing.

    Cases with the tunnel up run the simulator on the seed bundle (relay
    remapped); the others on the lab's own state at the time (the snapshot).
    """
    import wgexplain

    obs, snap = observed(name)
    case = probes.CASES_BY_NAME[name]
    host = seed_host if case.firewall and not case.tunnel_down else wgexplain.load(str(snap))
    sim = probes.simulate(host, lab, case)
    assert sim["exact"], sim
    assert probes.compare(obs, sim, probes.nat_chains(lab.config.ruleset)) == []
    return obs


@lab_only
def test_client_namespace_prints_the_seed_dump(lab) -> None:  # type: ignore[no-untyped-def]
    dumps = lab.dumps()
    rules = [ln.split() for ln in dumps["ip-rule"].splitlines()]
    assert rules == [ln.split() for ln in (SEED_BUNDLE / "ip-rule.txt").read_text().splitlines()]
    shown = {ln.strip() for ln in dumps["ip-route"].splitlines() if "table local" not in ln}
    seed = {ln.strip() for ln in (SEED_BUNDLE / "ip-route.txt").read_text().splitlines()}
    assert shown == seed
    addr = lab.ip(lab.client, "addr", "show", "dev", "wlp0s20f3")
    assert "inet 192.168.44.83/24 brd 192.168.44.255 scope global noprefixroute wlp0s20f3" in addr
    assert "link/ether f0:20:ff:a7:68:db" in addr
    assert "mtu 1380" in lab.ip(lab.client, "link", "show", "dev", "wg-mullvad")
    wg = lab.wg("wg-mullvad", "show", "wg-mullvad", "dump").splitlines()
    assert wg[0].split("\t")[3] == "0x6d6f6c65"  # fwmark
    peer = wg[1].split("\t")
    assert peer[2] == f"{LAB_RELAY}:19955" and peer[3] == "0.0.0.0/0"
    ruleset = lab.lab.exec(lab.client, ["nft", "list", "table", "inet", "mullvad"]).stdout
    assert f"ip saddr {LAB_RELAY} udp sport 19955 ct state established accept" in ruleset
    assert SEED_RELAY not in ruleset


@lab_only
@pytest.mark.parametrize("name", ["tcp-internet", "udp-internet"])
def test_ordinary_traffic_leaves_only_encrypted(lab, seed_host, observed, name) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, name)
    assert obs["verdict"] == "accept" and obs["errno"] is None
    assert obs["egress_dev"] == "wg-mullvad" and obs["egress_src"] == CLIENT_TUNNEL
    assert obs["src_seen_by_server"] == LAB_RELAY  # the relay masqueraded it
    assert obs["plaintext_on_uplink"] is False
    assert obs["uplink"] == [OUTER_IN, OUTER_OUT]
    enc = obs["encapsulated"]
    assert enc["src"] == CLIENT_LAN and enc["dst"] == LAB_RELAY and enc["dport"] == 19955
    assert enc["mark"] == MOLE and enc["egress_dev"] == "wlp0s20f3"
    assert ("inet mullvad output: ip daddr 203.0.113.76 udp dport 19955 meta mark 0x6d6f6c65 "
            "accept (verdict accept)") in enc["trace_rules"]
    assert 'inet mullvad output: oif "wg-mullvad" accept (verdict accept)' in obs["trace_rules"]


@lab_only
def test_encrypted_reply_is_accepted_as_established(lab, seed_host, observed) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, "tunnel-reply")
    assert obs["verdict"] == "accept" and obs["ingress_dev"] == "wlp0s20f3"
    assert obs["encapsulated"]["mark"] == MOLE  # set by the prerouting rule
    assert obs["trace_rules"] == [
        "inet mullvad prerouting: ip saddr 203.0.113.76 udp sport 19955 meta mark set "
        "0x6d6f6c65 (verdict continue)",
        "inet mullvad prerouting: policy accept",
        "inet mullvad input: ip saddr 203.0.113.76 udp sport 19955 ct state established "
        "accept (verdict accept)"]


@lab_only
@pytest.mark.parametrize("name,errno,rule", [
    ("dns-udp-internet", "EPERM", "udp dport 53 reject"),
    ("dns-tcp-internet", "ECONNREFUSED", "tcp dport 53 reject with tcp reset"),
    ("lan-ping", "EPERM", "reject"),
])
def test_kill_switch_rejects(lab, seed_host, observed, name, errno, rule) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, name)
    assert obs["verdict"] == "reject" and obs["errno"] == errno
    assert obs["trace_rules"][-1] == f"inet mullvad output: {rule} (verdict drop)"
    assert obs["src_seen_by_server"] is None
    assert not [p for p in obs["uplink"] if p.startswith("out ")]


@lab_only
@pytest.mark.parametrize("name,proto", [("dns-udp-tunnel", "udp"), ("dns-tcp-tunnel", "tcp")])
def test_dns_to_the_tunnel_resolver_goes_through_the_tunnel(lab, seed_host, observed, name,
                                                            proto) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, name)
    assert obs["verdict"] == "accept" and obs["egress_dev"] == "wg-mullvad"
    assert obs["src_seen_by_server"] == CLIENT_TUNNEL  # answered inside the tunnel
    assert obs["encapsulated"]["mark"] == MOLE and not obs["plaintext_on_uplink"]
    assert (f'inet mullvad output: oif "wg-mullvad" {proto} dport 53 ip daddr 10.64.0.1 accept '
            "(verdict accept)") in obs["trace_rules"]


@lab_only
@pytest.mark.parametrize("name,proto,dst", [
    ("excluded-tcp-internet", "tcp", "198.51.100.10:443"),
    ("excluded-udp-internet", "udp", "198.51.100.10:443"),
    ("excluded-dns-udp-internet", "udp", "198.51.100.53:53"),
])
def test_excluded_process_leaves_by_wifi_masqueraded(lab, seed_host, observed, name, proto,
                                                     dst) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, name)
    assert obs["verdict"] == "accept" and obs["errno"] is None
    assert obs["local_src"] == CLIENT_TUNNEL  # chosen by the first lookup, before the re-route
    assert obs["egress_dev"] == "wlp0s20f3" and obs["egress_src"] == CLIENT_LAN
    assert obs["egress_mark"] == MOLE and obs["encapsulated"] is None
    assert obs["src_seen_by_server"] == CLIENT_LAN
    assert obs["plaintext_on_uplink"] is True
    assert f"out {proto} {CLIENT_LAN} -> {dst}" in obs["uplink"]
    assert obs["trace_rules"][0].startswith("inet mullvad mangle: meta cgroup 5087041 ")
    assert obs["trace_rules"][-1] == ('inet mullvad nat: oif != "lo" ct mark 0x00000f41 '
                                      "masquerade (verdict accept)")


@lab_only
def test_excluded_traffic_to_the_tunnel_is_dropped_by_the_nat_chain(lab, seed_host,
                                                                     observed) -> None:  # type: ignore[no-untyped-def]
    obs = _agrees(lab, seed_host, observed, "excluded-ping-tunnel")
    assert obs["verdict"] == "drop" and obs["errno"] == "EPERM"
    assert obs["trace_rules"][-1] == ('inet mullvad nat: oif "wg-mullvad" ct mark 0x00000f41 '
                                      "drop (verdict drop)")
    assert obs["uplink"] == [] and obs["src_seen_by_server"] is None


@lab_only
@pytest.mark.parametrize("name,errno", [("tunnel-down-udp", "EPERM"),
                                        ("tunnel-down-tcp", "ECONNREFUSED")])
def test_tunnel_down_nothing_leaks(lab, seed_host, observed, name, errno) -> None:  # type: ignore[no-untyped-def]
    obs, snap = observed(name)
    # the device and every route on it were gone when the probe was sent
    assert "wg-mullvad" not in (snap / "ip-route.txt").read_text()
    assert "wg-mullvad" not in (snap / "ip-addr.txt").read_text()
    obs = _agrees(lab, seed_host, observed, name)
    assert obs["verdict"] == "reject" and obs["errno"] == errno
    assert obs["local_src"] in (CLIENT_LAN, None)
    assert obs["trace_rules"][-1] == "inet mullvad output: reject (verdict drop)"
    assert obs["plaintext_on_uplink"] is False and obs["uplink"] == []
    assert obs["src_seen_by_server"] is None


@lab_only
def test_without_the_ruleset_a_down_tunnel_leaks(lab, seed_host, observed) -> None:  # type: ignore[no-untyped-def]
    """The counterfactual: the capture does see a leak when there is one."""
    obs = _agrees(lab, seed_host, observed, "tunnel-down-no-firewall-udp")
    assert obs["verdict"] == "accept" and obs["egress_dev"] == "wlp0s20f3"
    assert obs["plaintext_on_uplink"] is True and obs["src_seen_by_server"] == CLIENT_LAN
    assert obs["trace_rules"] == []  # no user table left to trace


@lab_only
def test_tunnel_is_restored_after_the_down_cases(lab, observer, observed) -> None:  # type: ignore[no-untyped-def]
    for name in ("tunnel-down-udp", "tunnel-down-no-firewall-udp"):
        observed(name)
    again = observer.observe(probes.Case("again", "again", "udp", "internet", 443))
    assert again["egress_dev"] == "wg-mullvad" and again["src_seen_by_server"] == LAB_RELAY
    assert again["encapsulated"]["mark"] == MOLE and not again["plaintext_on_uplink"]


@lab_only
def test_record_is_deterministic_json(lab, seed_host, observed) -> None:  # type: ignore[no-untyped-def]
    """What scripts/lab-record writes: sorted keys, no namespace names, PIDs or ports."""
    names = ["udp-internet", "dns-udp-internet"]
    obs = {n: observed(n)[0] for n in names}
    sims = {n: probes.simulate(seed_host, lab, probes.CASES_BY_NAME[n]) for n in names}
    text = probes.render_record(lab, obs, sims)
    assert text == probes.render_record(lab, obs, sims)
    assert text.endswith("\n") and re.search(r"wgx-rt-|\bpid\b|sport", text) is None
    data = json.loads(text)
    assert [c["case"] for c in data["cases"]] == names
    assert data["cases"][0]["simulator"] == {"agrees": True, "differences": []}
    assert json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
