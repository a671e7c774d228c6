"""The kernel is the judge: hook order and what a local sender sees, checked in a namespace.

Each test loads a small ruleset into a fresh network namespace (``wgx-nfh-*``),
sends one UDP/TCP packet from a Python socket there, and compares what the
socket call returned with the simulator's verdict and errno for the same
ruleset. Needs root and ``ip netns``; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from wgexplain.kernel.path import trace
from wgexplain.sources import load_text

from tests.test_netfilter_eval import SESSION

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create network namespaces"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("nft") is None,
                       reason="needs iproute2 (ip netns) and nft"),
]

SEND = r"""
import errno, socket, sys
proto, port = sys.argv[1], int(sys.argv[2])
try:
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(2)
        s.connect(("198.51.100.9", port))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", ("198.51.100.9", port))
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"""


@pytest.fixture
def netns():  # type: ignore[no-untyped-def]
    name = f"wgx-nfh-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        def run(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
            return subprocess.run(["ip", "netns", "exec", name, *args], capture_output=True, text=True,
                                  timeout=20, **kw)

        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                    ["ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "eth0p", "up"]):
            r = run(*cmd)
            assert r.returncode == 0, r.stderr
        yield run
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _kernel(run, ruleset: str, proto: str, port: int) -> str:  # type: ignore[no-untyped-def]
    r = run("nft", "-f", "-", input=ruleset)
    assert r.returncode == 0, r.stderr
    r = run("python3", "-c", SEND, proto, str(port))
    return r.stdout.strip()


def _sim(ruleset: str, proto: str, port: int) -> str:
    h = load_text(SESSION + ruleset, "lab.txt")
    t = trace(h, "198.51.100.9", proto=proto, dport=port)
    return "OK" if t.verdict == "accept" else (t.errno or "?")


FIRST = """table inet first {
    chain out { type filter hook output priority 0; policy accept;
        meta mark set 0x1
    }
}
"""
SECOND = """table ip second {
    chain out { type filter hook output priority 0; policy accept;
        meta mark 0x1 drop
    }
}
"""


@pytest.mark.parametrize("ruleset", [FIRST + SECOND, SECOND + FIRST], ids=["mark-first", "drop-first"])
def test_equal_priority_last_registered_runs_first(netns, ruleset: str) -> None:
    kernel = _kernel(netns, ruleset, "udp", 9)
    assert kernel == _sim(ruleset, "udp", 9)
    # and the order matters at all: the two loads give different outcomes
    assert kernel == ("OK" if ruleset.startswith("table inet first") else "EPERM")


REJECTS = """table inet f {
    chain out { type filter hook output priority 0; policy accept;
        tcp dport 82 reject
        tcp dport 83 reject with tcp reset
        tcp dport 86 reject with icmpx admin-prohibited
        udp dport 84 reject
        udp dport 85 drop
    }
}
"""


@pytest.mark.parametrize("proto,port", [("tcp", 82), ("tcp", 83), ("tcp", 86), ("udp", 84), ("udp", 85)])
def test_what_a_local_sender_sees(netns, proto: str, port: int) -> None:
    assert _kernel(netns, REJECTS, proto, port) == _sim(REJECTS, proto, port)
