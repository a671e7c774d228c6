"""The kernel profile (wgexplain.kernel.profile): both answers, without root.

The lab here is a kernel built without CONFIG_IPV6_MROUTE; common distribution
kernels have it. The lookups below are the ones the parity tests found
differing (tests/test_parity.py compares against the detected profile).
"""

from __future__ import annotations

import dataclasses
import ipaddress as ip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain.cli import main
from wgexplain.errors import UsageError
from wgexplain.explain.route_text import format_text
from wgexplain.kernel.profile import (DEFAULT, FEATURES, PROFILES, config_features, from_config,
                                      from_record, parse_profile, running_record)
from wgexplain.kernel.route import lookup, route_get
from wgexplain.model import AF_INET6, Flow, Nexthop, Route, Rule

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "examples" / "mullvad" / "bundle"
SEED = wgexplain.load(str(BUNDLE))
# the seed's own flow the kernel of the lab answered "multicast dev wlp0s20f3 table local"
MC = dict(src="fe80::3609:b27f:3c26:93a1", iif="wlp0s20f3", uid=1000)
MC_DST = "ff94:754:e87c:7241:306d:af0b:ffe:14f5"


def test_default_is_the_distribution_kernels() -> None:
    assert DEFAULT.name == "distro" and DEFAULT.ipv6_mroute and DEFAULT.ip_mroute
    assert DEFAULT.input_einval
    assert parse_profile("distro").features() == DEFAULT.features()


def test_parse_profile_names_features_and_refuses_the_rest() -> None:
    p = parse_profile("no-mroute")
    assert (p.name, p.ipv6_mroute, p.ip_mroute, p.origin) == ("no-mroute", False, False, "--kernel")
    # features named by hand find the named profile that has them
    assert parse_profile("distro,ipv6_mroute=n,ip_mroute=n").name == "no-mroute"
    assert parse_profile("ipv6_mroute=n").name == "custom"
    for bad in ("bogus", "distro,ipv6_mroute", "distro,colour=y", "distro,ipv6_mroute=maybe", ""):
        with pytest.raises(UsageError):
            parse_profile(bad)


def test_config_and_release_give_the_features() -> None:
    cfg = "CONFIG_IPV6=y\n# CONFIG_IPV6_MROUTE is not set\nCONFIG_IP_MROUTE=y\n"
    assert config_features(cfg) == {"ipv6_mroute": False, "ip_mroute": True}
    p = from_config(cfg, "6.1.0-28-amd64", "test")
    assert (p.ipv6_mroute, p.ip_mroute, p.input_einval, p.unknown) == (False, True, False, ())
    assert from_config("CONFIG_IPV6_MROUTE=y\nCONFIG_IP_MROUTE=y\n", "6.18.44", "t").name == "distro"
    unknown = from_config(None, "6.12.9", "t")
    assert unknown.unknown == ("ipv6_mroute", "ip_mroute") and unknown.name == "distro-pre-6.13"


def test_kernel_json_record_is_read_by_the_bundle_reader(tmp_path: Path) -> None:
    for f in BUNDLE.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "kernel.json").write_text(json.dumps(
        {"release": "6.18.44", "config": "/proc/config.gz",
         "features": {"ipv6_mroute": False, "ip_mroute": False, "input_einval": True}}))
    host = wgexplain.load(str(tmp_path))
    assert host.kernel is not None and host.kernel.name == "no-mroute"
    assert host.kernel.release == "6.18.44"
    r = route_get(host, MC_DST, **MC)
    assert (r.error, r.type, r.dev) == (None, "multicast", "wlp0s20f3")
    # an unreadable record: one warning, the default profile, the rest of the bundle read
    (tmp_path / "kernel.json").write_text("[1, 2]")
    host = wgexplain.load(str(tmp_path))
    assert host.kernel is None and any("kernel.json: not a kernel record" in w for w in host.warnings)
    with pytest.raises(ValueError):
        from_record('{"features": []}', "kernel.json")


@pytest.mark.parametrize("profile,want", [
    ("distro", ("EMSGSIZE", "multicast", None)),
    ("no-mroute", (None, "multicast", "wlp0s20f3")),
])
def test_ipv6_multicast_input_lookup_per_profile(profile: str, want: tuple[object, ...]) -> None:
    """rt6_fill_node(): with CONFIG_IPV6_MROUTE the reply comes from ip6mr_get_route()."""
    r = route_get(SEED, MC_DST, kernel=profile, **MC)
    assert (r.error, r.type, r.dev) == want
    assert r.to_json()["kernel"]["name"] == profile
    text = format_text(r)
    line = [l for l in text.splitlines() if l.startswith("note: `ip route get` on a kernel")]
    assert len(line) == 1  # the answer depends on the profile: one line says so
    assert ("answers EMSGSIZE here; the packet itself is delivered as multicast on wlp0s20f3"
            in line[0]) == (profile == "distro")
    # the packet's own lookup (a journey) is the same on both kernels
    own = lookup(SEED, Flow(ip.ip_address(MC_DST), src=ip.ip_address(MC["src"]), iif="wlp0s20f3",
                            uid=0), kernel=parse_profile(profile), getroute=False)
    assert (own.error, own.type, own.dev) == (None, "multicast", "wlp0s20f3")


def test_only_a_multicast_prefix_is_asked_of_multicast_routing() -> None:
    """rt6_fill_node() tests the route's prefix (rt6i_dst), not the destination: a
    multicast destination that follows ::/0 is answered as the unicast route it is."""
    host = dataclasses.replace(SEED, rules=tuple(r for r in SEED.rules if r.family != AF_INET6) + (
        Rule(AF_INET6, 0, table=100), Rule(AF_INET6, 1, table=255), Rule(AF_INET6, 32766, table=254)),
        routes=tuple(SEED.routes) + (Route(AF_INET6, 100, ip.ip_network("::/0"), metric=1024,
                                           nexthops=(Nexthop(None, "wlp0s20f3"),)),))
    r = route_get(host, "ff02::1", kernel="distro", **MC)
    assert (r.error, r.type, r.dev, r.table) == (None, "unicast", "wlp0s20f3", 100)


def test_rp_filter_refusal_errno_per_version() -> None:
    """inet_rtm_getroute(): EINVAL since 6.13, the check's own EXDEV before."""
    host = dataclasses.replace(SEED, sysctls={**SEED.sysctls, "net.ipv4.ip_forward": "1",
                                              "net.ipv4.conf.all.forwarding": "1",
                                              "net.ipv4.conf.all.rp_filter": "1"})
    args = dict(src="203.0.113.76", iif="wlp0s20f3")
    assert route_get(host, "1.1.1.1", **args).error == "EINVAL"
    old = route_get(host, "1.1.1.1", kernel="distro-pre-6.13", **args)
    assert old.error == "EXDEV"
    assert "before 6.13" in old.steps[-1].why


@pytest.mark.parametrize("dst,proto,refused", [
    ("8.8.8.8", "tcp", False), ("8.8.8.8", "udp", False), ("8.8.8.8", "icmp", False),
    ("8.8.8.8", 47, True), ("8.8.8.8", 0, True), ("8.8.8.8", "ipv6-icmp", True),
    ("2606:4700:4700::1111", "tcp", False), ("2606:4700:4700::1111", "ipv6-icmp", False),
    ("2606:4700:4700::1111", "icmp", True), ("2606:4700:4700::1111", 0, True),
    ("2606:4700:4700::1111", "sctp", True),
])
def test_route_get_refuses_protocols_it_cannot_key_on(dst: str, proto: object,
                                                      refused: bool) -> None:
    """rtm_getroute_parse_ip_proto(): TCP, UDP, ICMP (v4) / ICMPv6 (v6); the rest EOPNOTSUPP."""
    r = route_get(SEED, dst, ipproto=proto)  # type: ignore[arg-type]
    assert (r.error == "EOPNOTSUPP") == refused
    if refused:
        assert r.dev is None and "rtm_getroute_parse_ip_proto()" in r.steps[-1].why
        assert format_text(r).splitlines()[0] == "Error: Unsupported ip proto."
    # no ipproto at all is no refusal
    assert route_get(SEED, dst).error != "EOPNOTSUPP"


def test_trace_follows_a_packet_route_get_cannot_ask_about() -> None:
    t = wgexplain.trace(SEED, "1.1.1.1", proto=47)
    assert t.verdict == "accept" and t.egress is not None and t.egress.dev == "wg-mullvad"
    assert any("`ip route get` could not be asked" in n for n in t.notes)
    assert t.to_json()["kernel"]["name"] == "distro"
    assert wgexplain.trace(SEED, "1.1.1.1", kernel="no-mroute").to_json()["kernel"]["name"] == \
        "no-mroute"


def test_ipv6_output_src_is_the_kernels_choice_not_from() -> None:
    """rt6_fill_node(): src is ip6_route_get_saddr()'s pick (prefsrc, else source address
    selection on the route's device), whatever `from` says; from is echoed as from."""
    host = wgexplain.load(str(ROOT / "examples" / "wg-quick" / "bundle"))
    # the LAN's address as from: the tunnel's own address is what the kernel reports
    frm = next(a.ip for a in host.addresses if a.dev == "eth0" and a.ip.version == 6
               and not a.ip.is_link_local)
    r = route_get(host, "2606:4700:4700::1111", src=str(frm))
    plain = route_get(host, "2606:4700:4700::1111")
    assert r.src == r.prefsrc == plain.src and r.to_json()["from"] == str(frm)
    assert r.src != frm  # the bundle's case: the tunnel's address is chosen, not the from
    # the packet itself carries the from (a journey's own lookup)
    own = lookup(host, Flow(ip.ip_address("2606:4700:4700::1111"), src=frm), getroute=False)
    assert own.src == frm and own.prefsrc == r.prefsrc


def test_cli_kernel_option_json_and_batch(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["route", str(BUNDLE), MC_DST, "from", MC["src"], "iif",
                               "wlp0s20f3", "--kernel", "no-mroute", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["dev"] == "wlp0s20f3" and data["kernel"]["name"] == "no-mroute"
    out = runner.invoke(main, ["route", str(BUNDLE), "8.8.8.8", "--kernel", "nope"])
    assert out.exit_code == 2 and "--kernel" in out.output and "Traceback" not in out.output
    batch = tmp_path / "b.txt"
    batch.write_text("8.8.8.8 ipproto 47\n8.8.8.8 ipproto tcp\n")
    out = runner.invoke(main, ["route", str(BUNDLE), "--batch", str(batch)])
    lines = [json.loads(l) for l in out.output.splitlines()]
    assert [l.get("error") for l in lines] == ["EOPNOTSUPP", None]
    out = runner.invoke(main, ["show", str(BUNDLE), "--json", "--kernel", "distro-pre-6.13"])
    assert json.loads(out.output)["kernel"]["input_einval"] is False
    out = runner.invoke(main, ["check", str(BUNDLE), "--json"])
    assert json.loads(out.output)["kernel"]["name"] == "distro"


def test_running_record_is_what_capture_writes() -> None:
    """kernel.json: the release, where the config was read, each feature or null (unknown)."""
    rec = running_record()
    assert rec["release"] and set(rec["features"]) == set(FEATURES)
    assert all(v is None or isinstance(v, bool) for v in rec["features"].values())
    if rec["config"] is None:
        assert rec["features"]["ipv6_mroute"] is None
    back = from_record(json.dumps(rec), "kernel.json")
    assert back.release == rec["release"]
    assert set(back.unknown) == {k for k, v in rec["features"].items() if v is None}


def test_ipv4_multicast_routing_is_said_not_modelled_only_where_it_answers() -> None:
    """rt_fill_info(): ipmr_get_route() only for a non-local group with mc_forwarding on."""
    host = dataclasses.replace(SEED, sysctls={**SEED.sysctls,
                                              "net.ipv4.conf.all.mc_forwarding": "1"})
    args = dict(src="192.168.44.1", iif="wlp0s20f3")

    def said(h: object, dst: str, kernel: str) -> bool:
        r = route_get(h, dst, kernel=kernel, **args)  # type: ignore[arg-type]
        return any("ipmr_get_route()" in n for n in r.notes)

    assert said(host, "239.1.2.3", "distro")
    assert not said(host, "239.1.2.3", "no-mroute")
    assert not said(host, "224.0.0.251", "distro")  # link-local group: RTA_IIF as usual
    assert not said(SEED, "239.1.2.3", "distro")  # mc_forwarding off (no daemon)


def test_named_profiles_are_distinct() -> None:
    feats = [tuple(p.features().items()) for p in PROFILES.values()]
    assert len(set(feats)) == len(feats)
