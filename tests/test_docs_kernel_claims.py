"""Kernel facts the site states that no other test puts to the kernel.

Each test builds a throw-away ``wgx-`` network namespace and asks the real
kernel; the page that states the fact names the test (and a hidden block on
that page checks that the test is still here). Needs root and ``ip netns``;
skipped with the reason otherwise (CI runs as root).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (ip netns) to build a wgx- namespace"),
]


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True, timeout=10).stdout


@pytest.fixture
def ns() -> Iterator[str]:
    name = f"wgx-docs{os.getpid()}"
    ip("netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def test_rules_added_without_pref_land_at_32765_then_32764(ns: str) -> None:
    """docs/walkthrough.md: ``fib_default_rule_pref()`` gives the first rule after
    rule 0 minus one, so wg-quick's order yields Mullvad's numbers."""
    ip("-n", ns, "rule", "add", "not", "fwmark", "0x6d6f6c65", "table", "1836018789")
    ip("-n", ns, "rule", "add", "table", "main", "suppress_prefixlength", "0")
    rules = {r["priority"]: r for r in json.loads(ip("-n", ns, "-j", "rule", "show"))}
    assert sorted(rules) == [0, 32764, 32765, 32766, 32767]
    assert rules[32764]["table"] == "main" and rules[32764]["suppress_prefixlen"] == 0
    assert rules[32765]["table"] == "1836018789" and "not" in rules[32765]  # iproute2 prints "not": null
    assert rules[32765]["fwmark"] == "0x6d6f6c65" and "not" not in rules[32764]


def test_noprefixroute_address_adds_no_prefix_route(ns: str) -> None:
    """docs/walkthrough.md: ``noprefixroute`` on 192.168.44.83/24 means the
    kernel adds no 192.168.44.0/24 route to main (only table local's entries)."""
    ip("-n", ns, "link", "add", "wgxd0", "type", "veth", "peer", "name", "wgxd1")
    ip("-n", ns, "link", "set", "wgxd0", "up")
    ip("-n", ns, "addr", "add", "192.168.44.83/24", "brd", "192.168.44.255", "dev", "wgxd0", "noprefixroute")
    main = json.loads(ip("-n", ns, "-j", "route", "show", "table", "main"))
    assert main == []
    local = {r["dst"] for r in json.loads(ip("-n", ns, "-j", "route", "show", "table", "local"))}
    assert {"192.168.44.83", "192.168.44.255"} <= local
    ip("-n", ns, "addr", "add", "192.168.45.83/24", "dev", "wgxd0")
    main = json.loads(ip("-n", ns, "-j", "route", "show", "table", "main"))
    assert [r["dst"] for r in main] == ["192.168.45.0/24"]
