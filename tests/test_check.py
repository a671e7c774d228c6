"""``wgexplain check``: each purpose-made broken sample shows its problem, the seed and
the client samples show exactly what is true of them, and every finding is proven by
a packet whose ``wgexplain trace`` gives the same answer."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain.check import check, without_device
from wgexplain.cli import main
from wgexplain.lab.broken import EXPECTED
from wgexplain.model import AF_INET

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BROKEN = EXAMPLES / "broken"


def _check(path: Path):  # type: ignore[no-untyped-def]
    return check(wgexplain.load(str(path)))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_sample_shows_its_problem(name: str) -> None:
    report = _check(BROKEN / name)
    assert EXPECTED[name] <= set(report.ids()), report.to_json()


# What is true of each sample, worked out from its dump (see the docstrings of
# wgexplain/check.py and wgexplain/lab/broken.py):
TRUE_OF = {
    # the seed: the kill switch refuses the LAN (no "local network sharing"); DNS
    # outside the tunnel is rejected; input policy drop; nothing leaks with the tunnel gone
    "mullvad/bundle": {"lan-unreachable"},
    # Tailscale's exit node sends internet traffic into tailscale0, which Mullvad's
    # output chain rejects; the LAN is refused by Mullvad's final reject
    "mullvad-tailscale/bundle": {"lan-unreachable"},
    # no firewall of their own: DNS to the LAN router leaves by the uplink, inbound from
    # the LAN is accepted, and with the device gone main's default route takes everything
    "wg-quick/bundle": {"dns-leak", "lan-exposed", "no-killswitch"},
    "tailscale/bundle": {"dns-leak", "lan-exposed", "no-killswitch"},
    "networkmanager/bundle": {"dns-leak", "lan-exposed", "no-killswitch"},
    "broken/dns-leak": {"dns-leak"},
    "broken/lan": {"lan-unreachable", "lan-exposed"},
    "broken/endpoint-loop": {"endpoint-loop", "lan-exposed"},
    "broken/ipv6-leak": {"ipv6-leak", "dns-leak", "lan-exposed", "no-killswitch"},
    "broken/no-killswitch": {"no-killswitch", "dns-leak", "lan-exposed"},
    "broken/rp-filter": {"rp-filter", "dns-leak", "lan-exposed", "no-killswitch"},
}


@pytest.mark.parametrize("sample", sorted(TRUE_OF))
def test_findings_are_exactly_what_is_true(sample: str) -> None:
    report = _check(EXAMPLES / sample)
    assert set(report.ids()) == TRUE_OF[sample], [f.evidence["summary"] for f in report.findings]
    assert len(report.ids()) == len(set(report.ids()))


def test_every_sample_is_in_the_table() -> None:
    bundles = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.glob("*/bundle")}
    bundles |= {str(p.relative_to(EXAMPLES)) for p in BROKEN.iterdir() if p.is_dir()}
    assert bundles == set(TRUE_OF)


def test_seed_ipv6_is_not_checked_but_the_kill_switch_would_refuse_it() -> None:
    report = _check(EXAMPLES / "mullvad" / "bundle")
    nc = {n.id: n for n in report.not_checked}
    assert "ipv6-leak" in nc and "no IPv6 routes" in nc["ipv6-leak"].why
    ev = nc["ipv6-leak"].evidence
    assert "assumption" in ev
    assert ev["trace"]["verdict"] == "reject"  # inet mullvad output: the final reject
    assert any(s.get("table") == "inet mullvad" and s.get("verdict") == "reject"
               for s in ev["trace"]["steps"])
    passed = {p.id for p in report.passed}
    assert {"dns-leak", "no-killswitch", "lan-exposed", "endpoint-loop"} <= passed


def _trace_via_cli(command: str) -> dict:  # type: ignore[type-arg]
    argv = shlex.split(command.split("#", 1)[0])
    assert argv[:2] == ["wgexplain", "trace"]
    res = CliRunner().invoke(main, argv[1:] + ["--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_proving_command_gives_the_evidence(name: str) -> None:
    """Each finding's ``wgexplain trace`` line, run as the user would, traces the same."""
    report = _check(BROKEN / name)
    for f in report.findings:
        assert f.command.startswith("wgexplain trace ")
        ev = f.evidence["trace"]
        if f.condition:  # no-killswitch: on the dump with the device deleted
            assert f.evidence["trace"]["verdict"] == "accept"
            continue
        got = _trace_via_cli(f.command)
        assert (got["verdict"], got["egress"]) == (ev["verdict"], ev["egress"]), f.id
        enc, genc = ev.get("encapsulated"), got.get("encapsulated")
        assert (enc or {}).get("verdict") == (genc or {}).get("verdict")


def test_without_device_removes_what_the_kernel_removes() -> None:
    host = wgexplain.load(str(EXAMPLES / "wg-quick" / "bundle"))
    gone = without_device(host, "wgq0")
    assert host.link("wgq0") is not None and gone.link("wgq0") is None
    assert not gone.addresses_of("wgq0")
    assert all(nh.dev != "wgq0" for r in gone.routes for nh in r.nexthops)
    assert any(nh.dev == "wgq0" for r in host.routes for nh in r.nexthops)
    assert all(w.name != "wgq0" for w in gone.wireguard)
    assert len(gone.rules_of(AF_INET)) == len(host.rules_of(AF_INET))  # rules stay


def test_fixing_the_dns_leak_clears_the_finding(tmp_path: Path) -> None:
    """The same dump with port 53 to the LAN rejected: nothing found, exit 0."""
    fixed = tmp_path / "fixed"
    shutil.copytree(BROKEN / "dns-leak", fixed)
    nft = fixed / "nft-ruleset.nft"
    text = nft.read_text()
    lan_rule = "ip daddr 192.168.1.0/24 accept"
    assert lan_rule in text
    nft.write_text(text.replace(lan_rule, "udp dport 53 reject\n\t\ttcp dport 53 reject\n\t\t"
                                + lan_rule))
    assert _check(fixed).findings == ()
    res = CliRunner().invoke(main, ["check", str(fixed)])
    assert res.exit_code == 0, res.output
    assert "no findings" in res.output


def test_cli_exit_status_and_json() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["check", str(BROKEN / "endpoint-loop"), "--json"])
    assert res.exit_code == 3
    data = json.loads(res.output)
    ids = [f["id"] for f in data["findings"]]
    assert "endpoint-loop" in ids
    f = data["findings"][ids.index("endpoint-loop")]
    assert set(f) >= {"id", "severity", "title", "explanation", "command", "evidence"}
    assert f["evidence"]["trace"]["encapsulated"]["errno"] == "ELOOP"
    text = runner.invoke(main, ["check", str(BROKEN / "endpoint-loop")])
    assert text.exit_code == 3 and "endpoint-loop" in text.output and "wgexplain trace" in text.output


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bundle"
    bad.mkdir()
    (bad / "ip-rule.txt").write_text("this is not a rule\n")
    res = CliRunner().invoke(main, ["check", str(bad)])
    assert res.exit_code == 2
    assert "ip-rule.txt:1" in res.output
    assert "Traceback" not in res.output


def test_no_tunnel_means_no_leak_findings(tmp_path: Path) -> None:
    """A machine without WireGuard: leaks are not defined (said as not checked); the LAN
    checks still run."""
    plain = tmp_path / "plain"
    plain.mkdir()
    src = EXAMPLES / "wg-quick" / "bundle"
    blocks = (src / "ip-addr.txt").read_text().split("\n3: ")[0]  # lo and eth0, not wgq0
    assert "wgq0" not in blocks and "eth0" in blocks
    (plain / "ip-addr.txt").write_text(blocks.rstrip("\n") + "\n")
    (plain / "ip-route.txt").write_text(
        "default via 192.168.1.1 dev eth0 proto dhcp metric 100\n"
        "192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.50\n")
    report = _check(plain)
    nc = {n.id: n.why for n in report.not_checked}
    for id_ in ("ipv6-leak", "dns-leak", "no-killswitch", "rp-filter", "endpoint-loop"):
        assert id_ in nc
    assert set(report.ids()) <= {"lan-exposed", "lan-unreachable"}
    assert "lan-exposed" in report.ids()  # no firewall: inbound from the LAN accepted
