"""The journey of real packets on the seed (the Mullvad machine), case by case.

Every case of the real-traffic list in issue 3 §6: what the kernel did in
the lab (LAB-NOTES "Observed outcomes") is what the simulator must say, with
the deciding rule quoted by its line in examples/mullvad/bundle/nft-ruleset.nft.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import wgexplain
from wgexplain.kernel.path import trace
from wgexplain.kernel.record import Trace

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mullvad"
NFT = "nft-ruleset.nft"
MOLE = 0x6D6F6C65
RELAY = "185.195.233.76"


@pytest.fixture(scope="module")
def host() -> wgexplain.Host:
    return wgexplain.load(str(EXAMPLES / "bundle"))


def _hits(t: Trace, stage: str = "hook") -> list[dict]:
    return [s for s in t.to_json()["steps"] if s["stage"] == stage]


def _deciding(t: Trace, hook: str, chain: str) -> dict:
    """The last step of one chain in one hook (the rule or policy that ended it)."""
    steps = [s for s in _hits(t) if s.get("hook") == hook and s.get("chain") == chain]
    assert steps, f"chain {chain} in {hook} not traversed: {t.to_json()['steps']}"
    return steps[-1]


def _line(step: dict) -> int:
    """The rule's line in its file; checks that this line of the file holds the quoted rule."""
    file, _, line = step["origin"].rpartition(":")
    path = Path(file) if Path(file).is_absolute() else Path(__file__).resolve().parent.parent / file
    text = path.read_text(encoding="utf-8").split("\n")[int(line) - 1].strip()
    if step.get("text") and not step["text"].startswith("policy "):
        assert text == step["text"], (step, text)
    if not file.endswith(NFT):  # a pasted session: the ruleset starts further down
        return int(line) - _session_offset(path)
    return int(line)


def _session_offset(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(i for i, x in enumerate(lines) if x.startswith("table inet mullvad"))


def _assert_tunnelled(t: Trace, dst: str) -> None:
    j = t.to_json()
    assert j["verdict"] == "accept"
    assert j["egress"]["dev"] == "wg-mullvad"
    assert j["egress"]["src"] == "10.147.23.252"
    assert j["egress"]["dst"] == dst
    assert j["egress"]["mark"] == 0
    outer = j["encapsulated"]
    assert outer is not None
    assert outer["verdict"] == "accept"
    assert outer["egress"] == {**outer["egress"], "dev": "wlp0s20f3", "src": "192.168.44.83",
                               "dst": RELAY, "proto": "udp", "dport": 19955, "mark": MOLE}
    accept = [s for s in outer["steps"] if s["stage"] == "hook" and s.get("chain") == "output"][-1]
    assert accept["text"] == "ip daddr 185.195.233.76 udp dport 19955 meta mark 0x6d6f6c65 accept"
    assert accept["rule"] == 10 and _line(accept) == 19
    assert accept["verdict"] == "accept"


@pytest.mark.parametrize("proto,dport", [("tcp", 443), ("udp", 443)])
def test_internet_traffic_goes_through_the_tunnel(host, proto, dport) -> None:
    t = trace(host, "1.1.1.1", proto=proto, dport=dport)
    _assert_tunnelled(t, "1.1.1.1")
    route = t.to_json()["steps"][0]
    assert route["stage"] == "route" and route["route"]["table"] == 1836018789
    step = _deciding(t, "output", "output")
    assert step["text"] == 'oif "wg-mullvad" accept' and _line(step) == 24
    # the tunnel facts were not in the dump: inferred, and said so
    assert any("inferred" in n for n in t.notes)
    tunnel = _hits(t, "tunnel")[0]
    assert tunnel["endpoint"] == f"{RELAY}:19955" and tunnel["fwmark"] == MOLE and tunnel["inferred"]


def test_dns_to_other_resolver_udp_is_rejected_with_eperm(host) -> None:
    t = trace(host, "9.9.9.9", proto="udp", dport=53)
    j = t.to_json()
    assert j["verdict"] == "reject" and j["egress"] is None and j["encapsulated"] is None
    assert j["errno"] == "EPERM"
    step = _deciding(t, "output", "output")
    assert step["text"] == "udp dport 53 reject" and _line(step) == 22 and step["verdict"] == "reject"


def test_dns_to_other_resolver_tcp_gets_a_reset(host) -> None:
    t = trace(host, "9.9.9.9", proto="tcp", dport=53)
    j = t.to_json()
    assert j["verdict"] == "reject" and j["errno"] == "ECONNREFUSED"
    step = _deciding(t, "output", "output")
    assert step["text"] == "tcp dport 53 reject with tcp reset" and _line(step) == 23
    assert "tcp reset" in step["effect"]


@pytest.mark.parametrize("proto,line", [("udp", 20), ("tcp", 21)])
def test_dns_to_the_tunnel_resolver_goes_through_the_tunnel(host, proto, line) -> None:
    t = trace(host, "10.64.0.1", proto=proto, dport=53)
    _assert_tunnelled(t, "10.64.0.1")
    mangle = _deciding(t, "output", "mangle")
    assert mangle["verdict"] == "accept" and _line(mangle) == line + 49  # the mangle chain's own DNS accept
    step = _deciding(t, "output", "output")
    assert _line(step) == line and step["verdict"] == "accept"


@pytest.mark.parametrize("proto,errno", [("udp", "EPERM"), ("tcp", "ECONNREFUSED")])
def test_lan_host_is_rejected_by_the_kill_switch(host, proto, errno) -> None:
    t = trace(host, "192.168.44.1", proto=proto, dport=80)
    j = t.to_json()
    assert j["steps"][0]["route"]["dev"] == "wlp0s20f3"  # main's /24 survives suppress_prefixlength 0
    assert j["verdict"] == "reject" and j["errno"] == errno
    step = _deciding(t, "output", "output")
    assert step["text"] == "reject" and _line(step) == 25
    assert "icmpx port-unreachable" in step["effect"]


def test_excluded_process_leaves_by_wifi_masqueraded(host) -> None:
    t = trace(host, "1.1.1.1", proto="tcp", dport=443, cgroup="0x4d9f41")
    j = t.to_json()
    assert j["verdict"] == "accept" and j["encapsulated"] is None
    assert j["egress"]["dev"] == "wlp0s20f3" and j["egress"]["src"] == "192.168.44.83"
    assert j["egress"]["mark"] == MOLE
    mark = [s for s in _hits(t) if s.get("chain") == "mangle" and s.get("effect")][0]
    assert _line(mark) == 71 and "ct mark 0x0 -> 0xf41" in mark["effect"]
    reroute = [s for s in j["steps"] if s["stage"] == "route"][1]
    assert "ip_route_me_harder" in reroute["why"] and reroute["route"]["dev"] == "wlp0s20f3"
    nat = [s for s in j["steps"] if s["stage"] == "nat" and s.get("effect", "").startswith("masquerade")][0]
    assert _line(nat) == 77 and "192.168.44.83" in nat["effect"]


def test_excluded_filter_chain_sees_old_oif(host) -> None:
    """The filter output chain (priority 0) runs after the mangle re-route (-150) but still
    sees oif wg-mullvad; it accepts through `ct mark 0x00000f41 accept` (LAB-NOTES)."""
    t = trace(host, "1.1.1.1", proto="udp", dport=443, cgroup=0x4D9F41)
    step = _deciding(t, "output", "output")
    assert step["text"] == "ct mark 0x00000f41 accept" and _line(step) == 11
    assert "still sees oif wg-mullvad" in step["why"]
    post = [s for s in t.to_json()["steps"] if s.get("hook") == "postrouting" and s["stage"] == "route"]
    assert post and "wlp0s20f3" in post[0]["why"]


@pytest.mark.parametrize("proto,errno", [("tcp", "ETIMEDOUT"), ("udp", "EPERM")])
def test_excluded_process_to_tunnel_gateway_is_dropped_by_nat_chain(host, proto, errno) -> None:
    t = trace(host, "10.64.0.1", proto=proto, dport=80, cgroup="0x4d9f41")
    j = t.to_json()
    assert j["verdict"] == "drop" and j["errno"] == errno
    step = _deciding(t, "postrouting", "nat")
    assert step["text"] == 'oif "wg-mullvad" ct mark 0x00000f41 drop' and _line(step) == 76


def test_excluded_dns_to_tunnel_resolver_stays_in_tunnel(host) -> None:
    """The mangle chain accepts tunnel DNS before its cgroup rule: no mark, no re-route."""
    t = trace(host, "10.64.0.1", proto="udp", dport=53, cgroup="0x4d9f41")
    _assert_tunnelled(t, "10.64.0.1")


def test_excluded_dns_to_internet_resolver_is_allowed(host) -> None:
    t = trace(host, "9.9.9.9", proto="udp", dport=53, cgroup="0x4d9f41")
    j = t.to_json()
    assert j["verdict"] == "accept"
    assert j["egress"]["dev"] == "wlp0s20f3" and j["egress"]["src"] == "192.168.44.83"


def test_encrypted_reply_from_the_relay_is_decapsulated(host) -> None:
    t = trace(host, "192.168.44.83", src=RELAY, iif="wlp0s20f3", proto="udp", sport=19955,
              dport=51820, direction="in", state="established")
    j = t.to_json()
    assert j["verdict"] == "accept" and j["egress"]["local"]
    pre = [s for s in _hits(t) if s.get("chain") == "prerouting"]
    assert pre and _line(pre[0]) == 5 and "0x6d6f6c65" in pre[0]["effect"]
    ct = [s for s in j["steps"] if s["stage"] == "conntrack"][0]
    assert ct["ct"]["state"] == "established" and ct["ct"]["direction"] == "reply"
    step = _deciding(t, "input", "input")
    assert step["text"] == "ip saddr 185.195.233.76 udp sport 19955 ct state established accept"
    assert _line(step) == 38
    inner = j["decapsulated"]
    assert inner is not None and inner["verdict"] == "accept"
    assert [s for s in inner["steps"] if s["stage"] == "hook"][-1]["text"] == 'iif "wg-mullvad" accept'


def test_encrypted_reply_without_conntrack_entry_is_dropped(host) -> None:
    """A new (unsolicited) UDP packet from the relay is not `ct state established`: the
    input chain's policy drops it."""
    t = trace(host, "192.168.44.83", src=RELAY, iif="wlp0s20f3", proto="udp", sport=19955,
              dport=51820, direction="in", state="new")
    j = t.to_json()
    assert j["verdict"] == "drop"
    assert _deciding(t, "input", "input")["text"] == "policy drop"


def test_reply_to_excluded_connection_is_de_masqueraded(host) -> None:
    t = trace(host, "192.168.44.83", src="1.1.1.1", iif="wlp0s20f3", proto="tcp", sport=443,
              dport=40000, direction="in", state="established", cgroup="0x4d9f41")
    j = t.to_json()
    assert j["verdict"] == "accept"
    nat = [s for s in j["steps"] if s["stage"] == "nat"][0]
    assert "192.168.44.83 -> 10.147.23.252" in nat["effect"]
    assert j["egress"]["dst"] == "10.147.23.252"
    step = _deciding(t, "input", "input")
    assert step["text"] == "ct mark 0x00000f41 accept"


def _tunnel_down(host: wgexplain.Host) -> wgexplain.Host:
    return dataclasses.replace(
        host,
        links=tuple(l for l in host.links if l.name != "wg-mullvad"),
        addresses=tuple(a for a in host.addresses if a.dev != "wg-mullvad"),
        routes=tuple(r for r in host.routes if r.dev != "wg-mullvad"),
    )


@pytest.mark.parametrize("proto,errno", [("udp", "EPERM"), ("tcp", "ECONNREFUSED")])
def test_tunnel_down_nothing_leaks(host, proto, errno) -> None:
    down = _tunnel_down(host)
    t = trace(down, "1.1.1.1", proto=proto, dport=443)
    j = t.to_json()
    assert j["steps"][0]["route"]["dev"] == "wlp0s20f3"  # the routes into the tunnel are gone
    assert j["verdict"] == "reject" and j["egress"] is None and j["errno"] == errno
    assert _deciding(t, "output", "output")["text"] == "reject"
    assert any("wg-mullvad" in n and "does not exist" in n for n in t.notes)


@pytest.mark.parametrize("source", ["session-en.txt", "session-ja.txt", "bundle"])
def test_same_story_from_every_source(source) -> None:
    h = wgexplain.load(str(EXAMPLES / source))
    _assert_tunnelled(trace(h, "1.1.1.1", proto="tcp", dport=443), "1.1.1.1")
    assert trace(h, "9.9.9.9", proto="udp", dport=53).errno == "EPERM"
    assert trace(h, "1.1.1.1", proto="tcp", dport=443, cgroup="0x4d9f41").egress.dev == "wlp0s20f3"


def test_endpoint_and_fwmark_options_override_inference(host) -> None:
    t = trace(host, "1.1.1.1", proto="tcp", dport=443, endpoint="203.0.113.76:51820",
              wg_fwmark="0x1234")
    outer = t.to_json()["encapsulated"]
    # mark 0x1234 is not rule 32765's exemption mark: the outer packet would loop into the tunnel
    assert outer["verdict"] == "drop" and outer["errno"] == "ELOOP"
    assert outer["steps"][0]["route"]["dev"] == "wg-mullvad"
    assert outer["steps"][0]["route"]["dst"] == "203.0.113.76"
    t = trace(host, "1.1.1.1", proto="tcp", dport=443, endpoint="203.0.113.76:51820")
    outer = t.to_json()["encapsulated"]
    assert outer["verdict"] == "reject"  # the kill switch only lets the relay 185.195.233.76 through
    assert outer["steps"][-2]["text"] == "reject" and outer["errno"] == "EPERM"
    t = trace(host, "1.1.1.1", proto="tcp", dport=443, endpoint=f"{RELAY}:19955", wg_fwmark=MOLE)
    assert t.to_json()["encapsulated"]["egress"]["dev"] == "wlp0s20f3"
    assert "--wg-fwmark" in [s for s in t.to_json()["steps"] if s["stage"] == "tunnel"][0]["why"]


def test_established_packet_skips_nat_chains_but_keeps_binding(host) -> None:
    t = trace(host, "1.1.1.1", proto="tcp", dport=443, cgroup="0x4d9f41", state="established")
    j = t.to_json()
    assert j["egress"]["src"] == "192.168.44.83"
    nat = [s for s in j["steps"] if s["stage"] == "nat"]
    assert any("only a connection's first packet" in s["why"] for s in nat)
    assert not [s for s in _hits(t) if s.get("chain") == "nat"]


@pytest.mark.parametrize("sysctls,expect", [
    ({"net.ipv4.conf.all.rp_filter": "1"}, "drop"),
    ({"net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.all.src_valid_mark": "1"}, "accept"),
    ({"net.ipv4.conf.all.rp_filter": "2"}, "accept"),
])
def test_strict_rp_filter_needs_src_valid_mark_for_the_tunnel_replies(host, sysctls, expect) -> None:
    """LAB-NOTES: strict rp_filter without src_valid_mark drops the relay's replies: the
    reverse lookup then ignores the prerouting mark and finds the tunnel's table."""
    h = dataclasses.replace(host, sysctls=sysctls)
    t = trace(h, "192.168.44.83", src=RELAY, iif="wlp0s20f3", proto="udp", sport=19955,
              dport=51820, direction="in", state="established")
    assert t.verdict == expect
    if expect == "drop":
        route = [s for s in t.to_json()["steps"] if s["stage"] == "route"][0]
        assert route["route"]["error"] == "EINVAL" and "rp_filter" in route["why"]


def test_cryptokey_routing_with_known_peers(host) -> None:
    """With `wg show` facts, the peer is chosen by allowed-ips; no peer → ENOKEY."""
    import ipaddress

    from wgexplain.model import WgInterface, WgPeer

    wg = WgInterface("wg-mullvad", public_key="K", listen_port=51820, fwmark=MOLE, peers=(
        WgPeer("PEER", endpoint=(ipaddress.ip_address(RELAY), 19955),
               allowed_ips=(ipaddress.ip_network("10.64.0.0/16"),)),))
    h = dataclasses.replace(host, wireguard=(wg,))
    t = trace(h, "10.64.0.1", proto="udp", dport=53)
    j = t.to_json()
    assert j["verdict"] == "accept" and j["encapsulated"]["egress"]["sport"] == 51820
    tunnel = [s for s in j["steps"] if s["stage"] == "tunnel"][0]
    assert "10.64.0.0/16" in tunnel["why"] and not tunnel["inferred"]
    t = trace(h, "1.1.1.1", proto="udp", dport=443)
    assert t.verdict == "drop" and t.errno == "ENOKEY" and t.encapsulated is None


@pytest.mark.parametrize("source", ["session-en.txt", "bundle"])
@pytest.mark.parametrize("proto,dport", [("tcp", 443), ("udp", 53), (None, None)])
def test_explicit_endpoint_and_fwmark_stay_with_the_wireguard_device(source, proto, dport) -> None:
    """--endpoint/--wg-fwmark describe wg-mullvad only: the encrypted packet is not re-encapsulated.

    Regression (kernel/path.py ``encapsulate``): passing them on to the outer
    packet's journey made wlp0s20f3 count as a WireGuard device with that
    endpoint, so the encrypted UDP was encrypted again and again until ELOOP.
    """
    h = wgexplain.load(str(EXAMPLES / source))
    dst = "10.64.0.1" if dport == 53 else "1.1.1.1"
    t = trace(h, dst, proto=proto, dport=dport, endpoint=f"{RELAY}:19955", wg_fwmark=MOLE)
    j = t.to_json()
    assert j["verdict"] == "accept" and j["egress"]["dev"] == "wg-mullvad"
    tunnel = [s for s in j["steps"] if s["stage"] == "tunnel"]
    assert len(tunnel) == 1 and "--endpoint" in tunnel[0]["why"]
    outer = j["encapsulated"]
    assert outer is not None
    assert outer["verdict"] == "accept", outer["steps"]
    assert outer["egress"]["dev"] == "wlp0s20f3"
    assert (outer["egress"]["dst"], outer["egress"]["dport"]) == (RELAY, 19955)
    assert outer["egress"]["mark"] == MOLE
    assert outer["encapsulated"] is None
    assert not [s for s in outer["steps"] if s["stage"] == "tunnel"]
    assert "ELOOP" not in str(j)
    assert t.encapsulated is not None and t.encapsulated.errno is None
