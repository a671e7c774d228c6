"""capture -> trace -> verify, end to end, on a machine built in wgx- namespaces.

The wg-quick recipe of ``wgexplain/lab/clients.py`` runs the real ``wg-quick``
script (with wireguard-go) in a namespace; ``wgexplain capture --netns``
reads that namespace into a bundle; the bundle is traced; and ``verify``
rebuilds it in fresh namespaces and must agree with the kernel on every
route decision and every real probe.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import wgexplain
from wgexplain.cli import main
from wgexplain.lab import clients
from wgexplain.lab.netns import lab_available

_ok, _why = lab_available()
_missing = [t for t in ("wg-quick", "wg", "wireguard-go", "nft", "unshare") if shutil.which(t) is None]
pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not _ok, reason=_why),
    pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)}"),
]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wg-quick machine, built in namespaces, captured with `wgexplain capture`."""
    out = tmp_path_factory.mktemp("bundle")
    lab = clients.Lab(tag=f"e2e{os.getpid() % 100000}")
    try:
        ns = clients.wg_quick(lab)
        run = CliRunner().invoke(main, ["capture", str(out), "--netns", ns])
        assert run.exit_code == 0, run.output
    finally:
        lab.close()
    return out


def test_capture_holds_what_wg_quick_installed(captured: Path) -> None:
    host = wgexplain.load(captured)
    rules = {(r.pref, r.invert, r.fwmark, r.table, r.suppress_prefixlength)
             for r in host.rules if r.family == 2}
    assert (32765, True, 51820, 51820, None) in rules
    assert (32764, False, None, 254, 0) in rules
    assert host.sysctl("net.ipv4.conf.all.src_valid_mark") == "1"
    [wg] = [w for w in host.wireguard if w.name == "wgq0"]
    assert wg.fwmark == 51820
    assert host.ruleset is not None


def test_trace_of_the_captured_machine(captured: Path) -> None:
    host = wgexplain.load(captured)
    t = wgexplain.trace(host, "198.51.100.10", proto="tcp", dport=443).to_json()
    assert t["verdict"] == "accept"
    assert t["egress"]["dev"] == "wgq0"
    assert t["egress"]["src"] == "10.8.0.2"
    enc = t["encapsulated"]
    assert enc["verdict"] == "accept"
    assert enc["egress"]["dev"] == "eth0"
    assert enc["egress"]["dst"] == "203.0.113.5"
    assert enc["egress"]["dport"] == 51820
    assert enc["egress"]["mark"] == 51820


def test_verify_the_captured_machine(captured: Path) -> None:
    run = CliRunner().invoke(main, ["verify", str(captured), "--flows", "150", "--json"])
    import json

    report = json.loads(run.output)
    assert run.exit_code == 0, report["headline"]
    assert report["ok"] is True
    rd = report["route_decisions"]
    assert rd["agree"] == rd["compared"] > 100
    assert report["probes"], report["probes_skipped"]
    assert all(p["agrees"] for p in report["probes"])
