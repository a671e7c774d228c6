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
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(DumpError, match='"cases" list'):
        kr.load_record(tmp_path / "list.json")
