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


@pytest.fixture
def made_namespaces(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every namespace a Lab creates during the test (to check they are all gone after)."""
    from wgexplain.lab import netns

    made: list[str] = []
    real = netns.Lab.netns

    def spy(self: netns.Lab, role: str) -> str:
        name = real(self, role)
        made.append(name)
        return name

    monkeypatch.setattr(netns.Lab, "netns", spy)
    return made


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
    # a flow the simulator marks "not modelled" counts neither way, even when it agrees
    rep2 = ParityReport(flows=5, agree=4, disagreements=(bad,),
                        unmodelled=(("route get to 224.0.0.9 iif eth0", "not modelled: mc"),))
    head = VerifyReport("x", rep2, cats).headline()[0]
    assert head == ("route decisions: 3/4 agree (75.0%); 1 not modelled by the simulator "
                    "(not counted)")


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
def test_verify_agrees_100_percent_on_every_sample(sample: str, made_namespaces: list[str]) -> None:
    host = wgexplain.load(str(EXAMPLES / sample / "bundle"))
    report = verify(host, flows=300)
    print(f"\n{sample}: " + "; ".join(report.headline()))
    assert len(made_namespaces) >= 5  # route lab (2), probe lab (client, peer, relay)
    left = [n for n in made_namespaces if os.path.exists(f"/run/netns/{n}")]
    assert not left, f"verify left namespaces behind: {left}"
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


#: What the real kernel does in each broken sample, as `wgexplain check` says (probe → path)
BROKEN_PROOF = {
    # with the tunnel gone, the server sees the client's own LAN address: plaintext
    "no-killswitch": {"tcp-internet": "tunnel", "tunnel-down-tcp": "direct"},
    # the encrypted replies fail the strict reverse-path check: nothing gets through
    "rp-filter": {"tcp-internet": "lost", "udp-internet": "lost", "tcp-lan-gateway": "direct"},
    # DNS to the LAN router's resolver leaves outside the tunnel
    "dns-leak": {"dns-udp-lan": "direct", "tcp-internet": "tunnel", "tunnel-down-tcp": "lost"},
    # the kill switch refuses the LAN
    "lan": {"tcp-lan-gateway": "refused", "dns-udp-lan": "refused", "tcp-internet": "tunnel"},
    # IPv6 is not in AllowedIPs: it leaves by eth0 in plaintext, tunnel up or not
    "ipv6-leak": {"tcp-internet": "tunnel", "tcp6-internet": "direct", "tunnel-down-tcp": "direct"},
}


@pytest.mark.parametrize("name", sorted(BROKEN_PROOF))
@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_real_probes_prove_the_broken_samples(name: str) -> None:
    """Real packets through a real tunnel: the kernel does what `check` says, and the
    simulator predicts every probe."""
    host = wgexplain.load(str(EXAMPLES / "broken" / name))
    report = verify(host, flows=20)
    probes = {p.name: p for p in report.probes}
    for case, path in BROKEN_PROOF[name].items():
        assert probes[case].kernel["path"] == path, probes[case].to_json()
    if name == "no-killswitch":
        assert probes["tunnel-down-tcp"].kernel["seen_src"] == "192.168.1.50"
    bad = [p.to_json() for p in report.probes if not p.agrees]
    assert not bad, bad


@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_cli_verify_json_and_exit_status() -> None:
    res = CliRunner().invoke(main, ["verify", str(EXAMPLES / "networkmanager" / "bundle"),
                                    "--json", "--no-probes", "--flows", "100"])
    data = json.loads(res.output)
    assert res.exit_code == (0 if data["ok"] else 3)
    assert data["probes"] == [] and data["probes_skipped"] == "--no-probes"
    assert data["route_decisions"]["flows"] >= 100
    assert data["headline"][0].startswith("route decisions: ")


@pytest.mark.lab
@pytest.mark.skipif(not LAB_OK, reason=LAB_WHY or "lab unavailable")
def test_teardown_runs_when_a_probe_fails(monkeypatch: pytest.MonkeyPatch,
                                          made_namespaces: list[str]) -> None:
    """A failure in the middle of the probes still deletes every namespace and stops
    every wireguard-go and responder this run started."""
    from wgexplain.lab import netns, tunnel

    started: list[int] = []
    real_start = netns.Lab.start

    def spy_start(self: netns.Lab, ns: str, argv, **kw):  # type: ignore[no-untyped-def]
        proc = real_start(self, ns, argv, **kw)
        started.append(proc.pid)
        return proc

    def boom(tl, case):  # type: ignore[no-untyped-def]
        raise RuntimeError("probe failed on purpose")

    monkeypatch.setattr(netns.Lab, "start", spy_start)
    monkeypatch.setattr(tunnel, "_observe", boom)
    host = wgexplain.load(str(EXAMPLES / "wg-quick" / "bundle"))
    with pytest.raises(RuntimeError, match="on purpose"):
        verify(host, flows=10)
    assert started, "the probe lab started no process"
    assert not [n for n in made_namespaces if os.path.exists(f"/run/netns/{n}")]
    for pid in started:
        state = ""
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().split(") ", 1)[1][0]
        except FileNotFoundError:
            continue
        assert state in ("Z", "X"), f"process {pid} still running ({state})"
