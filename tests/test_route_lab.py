"""The seed rebuilt in a wgx- network namespace: route_get must answer as `ip route get` does.

A small, self-contained parity check of the decisions the unit tests encode (the broad,
random-rule-set parity lives in the lab engineer's tests). Needs root and `ip netns`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from _seed_host import hand_built
from wgexplain.kernel.flowspec import parse_flowspec
from wgexplain.kernel.route import route_get

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (ip netns) to build a wgx- namespace"),
]

NS = f"wgx-fibt{os.getpid()}"
PEER = f"wgx-fibp{os.getpid()}"
SETUP = [
    f"netns add {NS}", f"netns add {PEER}", f"-n {NS} link set lo up",
    f"-n {NS} link add wlp0s20f3 type veth peer name eth0 netns {PEER}",
    f"-n {NS} link add wg-mullvad type veth peer name wgp netns {PEER}",
    f"-n {PEER} link set eth0 up", f"-n {PEER} link set wgp up",
    f"-n {NS} link set wlp0s20f3 up", f"-n {NS} link set wg-mullvad up",
    f"-n {NS} addr add 192.168.44.83/24 brd 192.168.44.255 dev wlp0s20f3 noprefixroute",
    f"-n {NS} addr add 10.147.23.252/32 dev wg-mullvad",
    f"-n {NS} route add 192.168.44.0/24 dev wlp0s20f3 proto kernel scope link src 192.168.44.83 metric 600",
    f"-n {NS} route add default via 192.168.44.1 dev wlp0s20f3 proto dhcp src 192.168.44.83 metric 600",
    f"-n {NS} route add 10.64.0.1 dev wg-mullvad proto static scope global",
    f"-n {NS} route add default dev wg-mullvad table 1836018789 proto static scope global",
    f"-n {NS} rule add pref 32765 not fwmark 0x6d6f6c65 lookup 1836018789",
    f"-n {NS} rule add pref 32764 lookup main suppress_prefixlength 0",
]
ERRNO = {"Network is unreachable": "ENETUNREACH", "No route to host": "EHOSTUNREACH",
         "Invalid argument": "EINVAL", "Permission denied": "EACCES", "No such device": "ENODEV"}
QUERIES = [
    "1.1.1.1", "10.64.0.1", "192.168.44.1", "192.168.44.83", "127.0.0.1", "255.255.255.255",
    "192.168.44.255", "224.0.0.1", "0.0.0.0", "203.0.113.76 mark 0x6d6f6c65",
    "1.1.1.1 from 8.8.8.8", "1.1.1.1 from 192.168.44.83", "1.1.1.1 oif wlp0s20f3",
    "1.1.1.1 oif lo", "10.64.0.1 oif wlp0s20f3", "1.1.1.1 from 127.0.0.1",
    "1.1.1.1 from 203.0.113.76 iif wlp0s20f3", "192.168.44.83 from 1.2.3.4 iif wlp0s20f3",
    "192.168.44.83 from 1.2.3.4 iif wlp0s20f3 mark 0x6d6f6c65",
    "10.147.23.252 from 10.64.0.1 iif wlp0s20f3", "192.168.44.83 iif wlp0s20f3",
    "255.255.255.255 from 0.0.0.0 iif wlp0s20f3", "192.168.44.5 from 192.168.44.1 iif wlp0s20f3",
]
SYSCTLS = [{"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.rp_filter": "0",
            "net.ipv4.conf.all.src_valid_mark": "0"},
           {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1",
            "net.ipv4.conf.all.src_valid_mark": "1"},
           {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "2",
            "net.ipv4.conf.all.src_valid_mark": "0"}]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


@pytest.fixture(scope="module")
def lab():  # type: ignore[no-untyped-def]
    try:
        for line in SETUP:
            ip(*line.split())
        yield NS
    finally:
        ip("netns", "del", NS, check=False)
        ip("netns", "del", PEER, check=False)


def kernel_answer(ns: str, spec: str) -> dict[str, object]:
    p = ip("-n", ns, "-j", "-d", "route", "get", *spec.split(), check=False)
    if p.returncode:
        msg = p.stderr.strip().rsplit(": ", 1)[-1]
        return {"error": ERRNO.get(msg, msg)}
    k = json.loads(p.stdout)[0]
    return {"type": k["type"], "dev": k["dev"], "gateway": k.get("gateway"),
            "prefsrc": k.get("prefsrc"), "table": k.get("table"), "cache": k.get("cache")}


@pytest.mark.parametrize("sysctls", SYSCTLS, ids=["defaults", "fwd-strict-svm", "fwd-loose"])
def test_route_get_matches_the_kernel(lab, sysctls: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for key, value in sysctls.items():
        subprocess.run(["ip", "netns", "exec", lab, "sysctl", "-qw", f"{key}={value}"], check=True)
    host = hand_built(sysctls)
    mismatches = []
    for spec in QUERIES:
        r = route_get(host, **parse_flowspec(spec.split())).to_json()
        mine = {"error": r["error"]} if "error" in r else {
            "type": r["type"], "dev": r["dev"], "gateway": r["gateway"], "prefsrc": r["prefsrc"],
            "table": None if r["table"] is None else host.table_name(r["table"]),
            "cache": r["cache"]}
        theirs = kernel_answer(lab, spec)
        if mine != theirs:
            mismatches.append((spec, mine, theirs))
    assert mismatches == []
