"""The lab's shared plumbing: waiting, teardown of adopted PIDs, SIGTERM in forked
children, and wireguard-go devices with a private control socket directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from wgexplain.lab.netns import Lab, LabError, lab_available, wait_for

ROOT = Path(__file__).resolve().parents[1]
_OK, _WHY = lab_available()
needs_lab = pytest.mark.skipif(not _OK, reason=_WHY)
_WG_TOOLS = ("wireguard-go", "wg", "unshare", "nsenter")
needs_wg = pytest.mark.skipif(
    not all(shutil.which(t) for t in _WG_TOOLS) or not Path("/dev/net/tun").exists(),
    reason="needs wireguard-go, wg, unshare, nsenter and /dev/net/tun")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_wait_for_returns_when_true_and_names_what_it_waited_for() -> None:
    calls: list[int] = []

    def third_call() -> bool:
        calls.append(1)
        return len(calls) >= 3

    wait_for(third_call, 5.0, "three calls", poll=0.001)
    assert len(calls) == 3
    with pytest.raises(LabError, match="waiting for the impossible"):
        wait_for(lambda: False, 0.05, "the impossible", poll=0.01)


def test_sigterm_kills_a_forked_child_instead_of_unwinding_it() -> None:
    """A process with the lab's SIGTERM handler forks from a worker thread (as
    pyroute2 does to enter a netns) and stops the child with SIGTERM: the child
    must die of the signal, not unwind into the parent's code (which hung it)."""
    script = textwrap.dedent("""
        import os, signal, threading, time
        from wgexplain.lab import netns
        netns._sigterm_unwinds()
        result = []
        def work():
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.write(w, b"x")
                time.sleep(30)
                os._exit(0)
            os.read(r, 1)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            result.append(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
        t = threading.Thread(target=work)
        t.start()
        t.join()
        print(result)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=20, cwd=ROOT)
    assert out.stdout.strip() == "[True]", out.stderr


@needs_lab
def test_adopted_pids_are_killed_at_teardown() -> None:
    with Lab("adopt") as lab:
        ns = lab.netns("a")
        # a process that is not our child: the shell that started it has exited
        pid = int(lab.exec(ns, ["sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"]).stdout)
        assert not _gone(pid)
        lab.adopt(pid)
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(pid)
    assert not any(n.startswith(lab.prefix) for n in
                   subprocess.run(["ip", "netns", "list"], capture_output=True,
                                  text=True).stdout.split())


@needs_lab
@needs_wg
def test_private_wireguard_go_devices_may_share_a_name() -> None:
    from wgexplain.lab.wireguard_go import WireguardGo, genkey

    with Lab("wgpriv") as lab:
        a, b = lab.netns("a"), lab.netns("b")
        da, db = WireguardGo(lab, a, "wgxsame"), WireguardGo(lab, b, "wgxsame")
        da.setconf(["[Interface]", f"PrivateKey = {genkey()[0]}", "ListenPort = 51001"])
        db.setconf(["[Interface]", f"PrivateKey = {genkey()[0]}", "ListenPort = 51002"])
        assert da.wg("show", "wgxsame", "listen-port").strip() == "51001"
        assert db.wg("show", "wgxsame", "listen-port").strip() == "51002"
        # each sees only its own socket
        assert da.wg("show", "interfaces").split() == ["wgxsame"]
        assert not Path("/run/wireguard/wgxsame.sock").exists()
        da.stop()
        assert lab.ip(a, "link", "show", "dev", "wgxsame", check=False).returncode != 0
        assert lab.ip(b, "link", "show", "dev", "wgxsame", check=False).returncode == 0
