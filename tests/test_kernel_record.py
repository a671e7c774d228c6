"""The recorded real-kernel traffic (examples/mullvad/kernel/real-traffic.json)
against the simulator, without root: what the site shows as "what the kernel
says" is checked in CI against ``wgexplain.kernel.path.trace``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wgexplain.cli import main
from wgexplain.errors import DumpError
from wgexplain.explain import kernel_record as kr

RECORD = kr.load_record()
NAMES = [c["case"] for c in RECORD["cases"]]


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return kr.lab_seed()


def test_the_record_covers_the_site_cases() -> None:
    for name in ("tcp-internet", "tunnel-reply", "dns-udp-internet", "dns-tcp-internet",
                 "dns-udp-tunnel", "excluded-udp-internet", "excluded-ping-tunnel",
                 "tunnel-down-udp", "tunnel-down-no-firewall-udp"):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_simulator_agrees_with_the_recorded_kernel(seed, name: str) -> None:  # type: ignore[no-untyped-def]
    c = kr.case(RECORD, name)
    trace = kr.simulate_case(seed, c)
    assert trace.to_json()["exact"] is True
    assert kr.agreement(c, trace) == []
    # the record's own verdict of the lab run agrees too
    assert c.get("simulator", {}).get("agrees", True) is True


@pytest.mark.parametrize("field,value", [
    ("verdict", "drop"), ("errno", "EACCES"), ("egress_src", "10.147.23.252"),
    ("trace_rules", ["inet mullvad output: reject (verdict drop)"]),
])
def test_agreement_reports_a_changed_kernel_fact(seed, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    c = copy.deepcopy(kr.case(RECORD, "excluded-udp-internet"))
    trace = kr.simulate_case(seed, c)
    c[field] = value
    diffs = kr.agreement(c, trace)
    assert len(diffs) == 1 and diffs[0].startswith(f"{field}: kernel ")


def test_agreement_ignores_nat_chains_of_the_encrypted_packet_only(seed) -> None:  # type: ignore[no-untyped-def]
    """The kernel runs nat chains for the tunnel's first UDP packet only (tcp-internet shows
    the outer packet's nat policy, udp-internet does not): both agree; an output rule does not."""
    c = copy.deepcopy(kr.case(RECORD, "tcp-internet"))
    trace = kr.simulate_case(seed, c)
    assert "inet mullvad nat: policy accept" in c["encapsulated"]["trace_rules"]
    assert kr.agreement(c, trace) == []
    c["encapsulated"]["trace_rules"] = [r for r in c["encapsulated"]["trace_rules"]
                                        if "output" not in r]
    assert [d.split(":")[0] for d in kr.agreement(c, trace)] == ["encapsulated"]


def test_case_host_applies_the_recorded_state(seed) -> None:  # type: ignore[no-untyped-def]
    down = kr.case_host(seed, kr.case(RECORD, "tunnel-down-udp"))
    assert down.ruleset is not None and down.link("wg-mullvad") is None
    assert not [r for r in down.routes if any(nh.dev == "wg-mullvad" for nh in r.nexthops)]
    bare = kr.case_host(seed, kr.case(RECORD, "tunnel-down-no-firewall-udp"))
    assert bare.ruleset is None
    assert kr.case_host(seed, kr.case(RECORD, "tcp-internet")) is seed


def test_lab_seed_is_the_paste_with_the_relay_remapped(seed) -> None:  # type: ignore[no-untyped-def]
    text = (kr.SEED_SESSION).read_text()
    assert "185.195.233.76" in text
    relay_rules = [r for _chain, r in seed.ruleset.rules() if "udp dport 19955" in r.text]
    assert [r.text for r in relay_rules] == [
        "ip daddr 203.0.113.76 udp dport 19955 meta mark 0x6d6f6c65 accept"]
    assert str(relay_rules[0].origin) == "examples/mullvad/session-en.txt:73"
    origins = {str(r.origin) for r in seed.rules}
    assert "examples/mullvad/session-en.txt:24" in origins


@pytest.mark.parametrize("name", [n for n in NAMES if kr.command(kr.case(RECORD, n))])
def test_the_command_shown_on_the_site_gives_the_recorded_verdict(name: str) -> None:
    """The reader's command runs on the seed bundle (relay not remapped): same verdict,
    same errno, same device as the kernel's."""
    c = kr.case(RECORD, name)
    cmd = kr.command(c)
    assert cmd is not None and cmd.startswith("wgexplain trace examples/mullvad/bundle ")
    run = CliRunner().invoke(main, cmd.split()[1:] + ["--json"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    assert out["verdict"] == c["verdict"]
    if "ingress_dev" not in c:
        assert out.get("errno") == c["errno"]
        assert (out["egress"] or {}).get("dev") == c["egress_dev"]


def test_no_command_for_states_the_seed_does_not_hold() -> None:
    assert kr.command(kr.case(RECORD, "tunnel-down-udp")) is None
    assert kr.command(kr.case(RECORD, "tunnel-down-no-firewall-udp")) is None


def test_render_case_shows_both_answers(seed) -> None:  # type: ignore[no-untyped-def]
    c = kr.case(RECORD, "dns-udp-internet")
    text = kr.render_case(c, kr.simulate_case(seed, c))
    assert "| errno of send()/connect() | `EPERM` | `EPERM` |" in text
    assert "`inet mullvad output: udp dport 53 reject (verdict drop)`" in text
    assert "agrees with the kernel" in text and "sudo scripts/lab-record" in text
    alone = kr.render_case(c)
    assert "the simulator" not in alone and "`EPERM`" in alone


def test_render_case_says_when_they_disagree(seed) -> None:  # type: ignore[no-untyped-def]
    c = copy.deepcopy(kr.case(RECORD, "dns-udp-internet"))
    trace = kr.simulate_case(seed, c)
    c["errno"] = "ECONNREFUSED"
    assert "**disagrees**" in kr.render_case(c, trace)


def test_unknown_case_lists_the_recorded_ones() -> None:
    with pytest.raises(KeyError, match="tcp-internet"):
        kr.case(RECORD, "no-such-case")


def test_load_record_errors_name_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match="no such file"):
        kr.load_record(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "cases": [\n  oops\n]}\n')
    with pytest.raises(DumpError) as err:
        kr.load_record(bad)
    assert err.value.line == 3
    data = json.loads(kr.RECORD_PATH.read_text())
    del data["cases"][3]["errno"]
    del data["cases"][3]["probe"]["tunnel"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data, indent=2))
    with pytest.raises(DumpError) as err:
        kr.load_record(partial)
    assert "no errno, probe.tunnel" in str(err.value)
    assert partial.read_text().splitlines()[err.value.line - 1].strip() == '"case": "dns-udp-internet",'
    data = json.loads(kr.RECORD_PATH.read_text())
    data["cases"][5]["probe"]["tunnel"] = "flapping"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(data, indent=2))
    with pytest.raises(DumpError, match="probe.tunnel up or down") as err:
        kr.load_record(odd)
    assert odd.read_text().splitlines()[err.value.line - 1].strip() == '"case": "dns-udp-tunnel",'
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(DumpError, match='"cases" list'):
        kr.load_record(tmp_path / "list.json")


# ---------------------------------------------------------------------------
# With root: two kernel facts the concept pages state, checked in namespaces
# ---------------------------------------------------------------------------

from wgexplain.lab.netns import lab_available  # noqa: E402

_LAB_OK, _LAB_WHY = lab_available()
_skip_lab = pytest.mark.skipif(not _LAB_OK, reason=f"needs root and `ip netns`: {_LAB_WHY}")


def lab_only(test):  # type: ignore[no-untyped-def]
    """Marked ``lab`` (pyproject) and skipped, with the reason, without root/netns."""
    return pytest.mark.lab(_skip_lab(test))

#: Added to the seed's ruleset: a `type route` chain that marks UDP to port 443 (as the seed's
#: mangle chain marks an excluded cgroup), and counters by oif after it in output and postrouting.
OBSERVER = """
table inet wgxobs {
	chain marker {
		type route hook output priority -140; policy accept;
		udp dport 443 meta mark set 0x6d6f6c65
	}
	chain out {
		type filter hook output priority 10; policy accept;
		oif "wg-mullvad" udp dport 443 counter
		oif "wlp0s20f3" udp dport 443 counter
	}
	chain post {
		type filter hook postrouting priority 10; policy accept;
		oif "wg-mullvad" udp dport 443 counter
		oif "wlp0s20f3" udp dport 443 counter
	}
}
"""


def _observed_seed(tmp_path: Path):  # type: ignore[no-untyped-def]
    import shutil

    import wgexplain
    from wgexplain.lab.topology import SEED_BUNDLE

    for f in SEED_BUNDLE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    with open(tmp_path / "nft-ruleset.nft", "a", encoding="utf-8") as out:
        out.write(OBSERVER)
    return wgexplain.load(str(tmp_path))


def _counters(lab, ns: str, chain: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    import re

    text = lab.exec(ns, ["nft", "list", "chain", "inet", "wgxobs", chain]).stdout
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'oif "([^"]+)" udp dport 443 counter packets (\d+)', text)}


@lab_only
def test_kernel_output_chain_still_sees_the_old_device(tmp_path: Path) -> None:
    """After a `type route` chain re-routes a packet (ip_route_me_harder), the later output
    chains still match `oif "wg-mullvad"`; only postrouting sees wlp0s20f3 — in the kernel,
    and in the simulator on the same ruleset (docs/concepts/cgroup-split-tunnelling.md)."""
    import socket

    import wgexplain
    from wgexplain.lab.build import build
    from wgexplain.lab.netns import Lab
    from wgexplain.lab.probes import netns_socket

    host = _observed_seed(tmp_path)
    sim = wgexplain.trace(host, "198.51.100.10", proto="udp", dport=443).to_json()
    sim_out = [s for s in sim["steps"] if s["stage"] == "hook" and s["hook"] == "output"
               and s.get("rule") and s["chain"] in ("output", "out")]
    assert [(s["chain"], s["text"]) for s in sim_out] == [
        ("output", 'oif "wg-mullvad" accept'), ("out", 'oif "wg-mullvad" udp dport 443 counter')]
    sim_post = [s["text"] for s in sim["steps"] if s["stage"] == "hook" and s["chain"] == "post"
                and s.get("rule")]
    assert sim_post == ['oif "wlp0s20f3" udp dport 443 counter']
    assert sim["verdict"] == "accept" and sim["egress"]["dev"] == "wlp0s20f3"

    with Lab("krec") as lab:
        lh = build(lab, host, nft=False)
        # the ruleset as text, after the devices exist (oif matches an ifindex)
        lab.exec(lh.ns, ["nft", "-f", "-"], input=(tmp_path / "nft-ruleset.nft").read_text())
        sock = netns_socket(lh.ns, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # succeeds: the seed's output chain accepted it by `oif "wg-mullvad" accept`
            # (seen as wlp0s20f3, it would have met the final `reject`: EPERM)
            sock.sendto(b"wgx-probe", ("198.51.100.10", 443))
        finally:
            sock.close()
        assert _counters(lab, lh.ns, "out") == {"wg-mullvad": 1, "wlp0s20f3": 0}
        assert _counters(lab, lh.ns, "post") == {"wg-mullvad": 0, "wlp0s20f3": 1}


@lab_only
@pytest.mark.parametrize("src_valid_mark,error", [("0", "EINVAL"), ("1", None)])
def test_kernel_strict_rp_filter_needs_src_valid_mark(src_valid_mark: str, error: str | None) -> None:
    """The relay's reply (marked in prerouting) with rp_filter=1: refused without
    src_valid_mark, accepted with it — `ip route get ... iif wlp0s20f3 mark ...` in a namespace
    holding the seed, and the simulator (docs/concepts/rp-filter.md)."""
    import dataclasses

    import wgexplain
    from wgexplain.lab.build import build
    from wgexplain.lab.netns import Lab

    seed = wgexplain.load("examples/mullvad/bundle")
    host = dataclasses.replace(seed, sysctls={"net.ipv4.conf.all.rp_filter": "1",
                                              "net.ipv4.conf.all.src_valid_mark": src_valid_mark})
    args = ("192.168.44.83", "from", "185.195.233.76", "iif", "wlp0s20f3", "mark", "0x6d6f6c65")
    sim = wgexplain.route(host, "192.168.44.83", src="185.195.233.76", iif="wlp0s20f3",
                          mark=0x6D6F6C65).to_json()
    assert sim.get("error") == error
    with Lab("krec") as lab:
        lh = build(lab, host, nft=False)
        got = lab.ip(lh.ns, "route", "get", *args, check=False)
    if error is None:
        assert got.returncode == 0 and got.stdout.startswith("local 192.168.44.83 from 185.195.233.76")
        assert sim["type"] == "local"
    else:
        assert got.returncode != 0 and "Invalid argument" in got.stderr


@lab_only
def test_kernel_ipv6_full_tunnel_of_the_wg_quick_sample() -> None:
    """wg-quick's IPv6 rule pair in the kernel: an unmarked packet to an internet address
    goes to wgq0 by table 51820, the marked one (0xca6c) by eth0 via main — as the simulator
    says (docs/concepts/ipv6.md)."""
    import json

    import wgexplain
    from wgexplain.lab.build import build
    from wgexplain.lab.netns import Lab

    host = wgexplain.load("examples/wg-quick/bundle")
    with Lab("krec") as lab:
        lh = build(lab, host, nft=False)
        for mark, dev, table in ((0, "wgq0", 51820), (0xCA6C, "eth0", 254)):
            out = lab.ip(lh.ns, "-6", "-j", "route", "get", "2001:db8::1", "mark", hex(mark)).stdout
            kern = json.loads(out)[0]
            sim = wgexplain.route(host, "2001:db8::1", mark=mark)
            assert kern["dev"] == sim.dev == dev
            assert sim.table == table
            assert kern.get("gateway") == (str(sim.gateway) if sim.gateway else None)
            assert kern.get("prefsrc") == str(sim.src)


def test_render_summary_one_row_per_case(seed) -> None:  # type: ignore[no-untyped-def]
    cases = [kr.case(RECORD, n) for n in ("dns-tcp-internet", "excluded-udp-internet")]
    text = kr.render_summary(cases, seed)
    rows = text.strip().splitlines()[2:]
    assert len(rows) == 2 and all(r.endswith("| yes |") for r in rows)
    assert "reject, `ECONNREFUSED`" in rows[0]
    assert "accept, leaves `wlp0s20f3` from `192.168.44.83` | `192.168.44.83` |" in rows[1]
    changed = copy.deepcopy(cases[1])
    changed["egress_dev"] = "wg-mullvad"
    assert kr.render_summary([changed], seed).strip().endswith("| **no** |")
    assert "the simulator" not in kr.render_summary(cases)
