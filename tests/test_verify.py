"""``wgexplain verify``: the real kernel against the simulator on every sample bundle.

The lab tests need root, ``ip netns``, wireguard-go and nft; without them they
are skipped with the reason (in CI, as root, they run). The flow generation,
the report and the no-root message are tested everywhere.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain.cli import main
from wgexplain.lab.kernel import route_get_line
from wgexplain.lab.netns import lab_available
from wgexplain.lab.parity import Disagreement, ParityReport
from wgexplain.lab.verify import (ROOT_MESSAGE, VerifyReport, categories, categorize, route_flows,
                                  unobservable, verify)
from wgexplain.model import Flow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SAMPLES = sorted(p.parent.name for p in EXAMPLES.glob("*/bundle"))
LAB_OK, LAB_WHY = lab_available()
needs_lab = [pytest.mark.lab, pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")]


def _ours() -> set[str]:
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return set()
    return {n for n in names if n.startswith(("wgx-vfy-", "wgx-prb-"))}


# --------------------------------------------------------------------------
# no root needed
# --------------------------------------------------------------------------

def test_flows_cover_every_route_and_the_tunnels_own_packets() -> None:
    host = wgexplain.load(str(EXAMPLES / "wg-quick" / "bundle"))
    flows = route_flows(host, 200)
    dsts = {f.dst for f in flows}
    for r in host.routes:
        assert r.dst.network_address in dsts, r
    # the encrypted packet: to the endpoint, with the fwmark, UDP from the listen port
    ep = ipaddress.ip_address("203.0.113.5")
    assert Flow(dst=ep, mark=51820, ipproto=17, sport=51820, dport=51820) in flows
    assert any(f.iif for f in flows) and any(f.dst.version == 6 for f in flows)
    assert not any(unobservable(f) for f in flows)


def test_flows_skip_a_family_the_dump_has_nothing_of() -> None:
    host = wgexplain.load(str(EXAMPLES / "mullvad" / "bundle"))  # has fe80:: on wlp0s20f3
    assert any(f.dst.version == 6 for f in route_flows(host, 50))
    from dataclasses import replace

    v4only = replace(host, addresses=tuple(a for a in host.addresses if a.family == 2),
                     routes=tuple(r for r in host.routes if r.family == 2),
                     rules=tuple(r for r in host.rules if r.family == 2))
    assert all(f.dst.version == 4 for f in route_flows(v4only, 50))


def test_categories_and_headline_count_disagreements() -> None:
    ip = ipaddress.ip_address
    flows = [Flow(ip("1.1.1.1")), Flow(ip("1.1.1.2"), mark=5),
             Flow(ip("10.0.0.1"), src=ip("10.0.0.2"), iif="eth0"), Flow(ip("2001:db8::1"))]
    bad = Disagreement(flows[1], route_get_line(flows[1]), ("dev",), {"dev": "eth0"},
                       {"dev": "wg0"})
    rep = ParityReport(flows=4, agree=3, disagreements=(bad,))
    cats = categories(flows, rep)
    assert [c.name for c in cats] == ["IPv4 output", "IPv4 output, marked", "IPv4 input (iif)",
                                      "IPv6 output"]
    assert {c.name: (c.total, c.agree, c.disagree) for c in cats}["IPv4 output, marked"] == (1, 0, 1)
    report = VerifyReport("x", rep, cats, probes_skipped="--no-probes")
    assert report.headline()[0] == "route decisions: 3/4 agree (75.0%)"
    assert not report.ok
    data = report.to_json()
    assert data["route_decisions"]["disagreements"][0]["kernel"]["dev"] == "eth0"
    assert data["route_decisions"]["disagreements"][0]["simulator"]["dev"] == "wg0"
    assert categorize(flows[2]) == "IPv4 input (iif)"


def test_without_root_one_clear_message_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import wgexplain.lab.netns as netns

    monkeypatch.setattr(netns, "lab_available",
                        lambda: (False, "the kernel lab needs root (network namespaces)"))
    res = CliRunner().invoke(main, ["verify", str(EXAMPLES / "mullvad" / "bundle")])
    assert res.exit_code == 2
    assert res.output.strip() == f"wgexplain: {ROOT_MESSAGE}"


def test_bad_input_is_exit_2_before_any_lab(tmp_path: Path) -> None:
    (tmp_path / "ip-route.txt").write_text("default via nowhere dev\n")
    res = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert res.exit_code == 2 and "ip-route.txt:1" in res.output


# --------------------------------------------------------------------------
# the lab (root)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_verify_agrees_100_percent_on_every_sample(sample: str) -> None:
    before = _ours()
    host = wgexplain.load(str(EXAMPLES / sample / "bundle"))
    report = verify(host, flows=300)
    print(f"\n{sample}: " + "; ".join(report.headline()))
    assert _ours() == before, "verify left namespaces behind"
    assert report.routes.flows >= 300
    assert report.probes, report.probes_skipped  # every sample has a tunnel to probe
    if not report.ok:
        lines = report.headline()
        lines += [str(d) for d in report.routes.disagreements[:30]]
        if report.routes.route_diff is not None:
            lines += [f"only in the simulator: {r}" for r in report.routes.route_diff.host_only]
            lines += [f"only in the kernel: {r}" for r in report.routes.route_diff.kernel_only]
        lines += [f"probe {p.name}: kernel {dict(p.kernel)} simulator {dict(p.simulator)}"
                  for p in report.probes if not p.agrees]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_probes_see_the_real_leak_without_a_kill_switch() -> None:
    """The broken no-killswitch sample: with the tunnel gone the kernel really sends the
    packet in plaintext (the server sees the client's LAN address), as `check` says."""
    host = wgexplain.load(str(EXAMPLES / "broken" / "no-killswitch"))
    report = verify(host, flows=50)
    probes = {p.name: p for p in report.probes}
    assert probes["tcp-internet"].kernel["path"] == "tunnel"
    down = probes["tunnel-down-tcp"]
    assert down.kernel["path"] == "direct" and down.kernel["seen_src"] == "192.168.1.50"
    assert down.agrees, down.to_json()


@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_cli_verify_json_and_exit_status() -> None:
    res = CliRunner().invoke(main, ["verify", str(EXAMPLES / "networkmanager" / "bundle"),
                                    "--json", "--no-probes", "--flows", "100"])
    data = json.loads(res.output)
    assert res.exit_code == (0 if data["ok"] else 1)
    assert data["probes"] == [] and data["probes_skipped"] == "--no-probes"
    assert data["route_decisions"]["flows"] >= 100
    assert data["headline"][0].startswith("route decisions: ")
