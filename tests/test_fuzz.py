"""The fuzzer, bounded: every input is data, never a crash; ``redact`` never leaks.

``scripts/fuzz`` runs the same harness (tests/fuzz) on 100,000 inputs and
more; here a few hundred run on every test run (about 20 s):

* mutated seeds (``fuzz.cases.make_case``, a fixed run seed: the same
  inputs every time, so a failure is reproducible by its number);
* hypothesis choosing the seed and the mutations (and shrinking them);
* hypothesis writing ``ip rule``, ``ip route``, ``ip addr``, ``wg`` and
  ``ip -j`` lines from their own words and numbers of every shape;
* every seed as people paste it (colour codes, CRLF, MACs with dashes)
  through ``redact``: no original MAC, public address, key, host or user
  name may be left.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from fuzz.cases import leak_case, make_case  # noqa: E402
from fuzz.mutate import mutate  # noqa: E402
from fuzz.seeds import all_seeds  # noqa: E402
from fuzz.target import STAGES, Case, leaks, run_case, sensitive  # noqa: E402

RUN_SEED = 20261208
SEEDS = all_seeds(corpus_limit=60)


def _explain(case: Case, outcome: object) -> str:
    return (f"{outcome}\nfrom {case.origin}; reproduce with "
            f"run_case(Case({case.name!r}, {case.data[:3000]!r}, mode={case.mode!r}))")


def test_there_are_seeds_of_every_kind() -> None:
    names = {s.name for s in SEEDS}
    assert {"paste.txt", "ip-rule.txt", "ip-route.txt", "ip-addr.txt", "wg.txt",
            "nft-ruleset.nft", "ip-rule.json", "ip-route.json", "ip-addr.json",
            "nft-ruleset.json"} <= names


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_inputs_are_data_never_a_crash(chunk: int) -> None:
    """60 numbered inputs per chunk: read or refused (exit 2), never an internal error."""
    bad = []
    for i in range(chunk * 60, chunk * 60 + 60):
        case = make_case(RUN_SEED, i, SEEDS)
        o = run_case(case, timeout=20, seed=i)
        if o.status in ("crash", "hang"):
            bad.append(_explain(case, o))
    assert not bad, "\n\n".join(bad)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, len(SEEDS) - 1), st.randoms())
def test_hypothesis_mutations_are_data_never_a_crash(a: int, b: int, r: random.Random) -> None:
    seed = SEEDS[a]
    case = Case(seed.name, mutate(r, seed.data, SEEDS[b].data), "file", STAGES, False,
                seed.origin)
    o = run_case(case, timeout=20)
    assert o.status not in ("crash", "hang"), _explain(case, o)


# ---------------------------------------------------------------- lines from their own words

_NUMBERS = st.one_of(st.integers(-5, 300).map(str), st.integers(0, 2 ** 70).map(str),
                     st.sampled_from(["²", "①", "٣", "0x10", "0x", "-1", "9" * 5000, "",
                                      "4294967296", "1e9", "NaN"]))
_WORDS = st.one_of(_NUMBERS, st.sampled_from([
    "from", "to", "all", "not", "lookup", "table", "main", "goto", "fwmark", "uidrange",
    "sport", "dport", "ipproto", "suppress_prefixlength", "pref", "metric", "mtu", "weight",
    "nexthop", "via", "dev", "src", "proto", "scope", "expires", "default", "1.2.3.4",
    "10.0.0.0/8", "FE80::ABCD", "::/0", "lock", "rtt", "10ms", "1.5s", "inet", "inet6",
    "brd", "valid_lft", "forever", "link/ether", "aa:bb:cc:dd:ee:ff", "<UP>", "eth0",
    "100-200", "\t", "(none)", "off", "0.0.0.0/0"]))
_LINE = st.lists(_WORDS, min_size=1, max_size=12).map(" ".join)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["ip rule", "ip -6 rule", "ip route", "ip -6 route show table all",
                        "ip addr", "ip link", "wg show all dump", "wg show", "sysctl -a"]),
       st.lists(st.tuples(_NUMBERS, _LINE), min_size=1, max_size=4))
def test_iproute2_lines_of_any_words(command: str, lines: list[tuple[str, str]]) -> None:
    if command.startswith("ip rule") or command.startswith("ip -6 rule"):
        body = "\n".join(f"{n}:\t{line}" for n, line in lines)
    elif command.startswith("ip addr") or command.startswith("ip link"):
        body = "\n".join(f"{n}: eth0: <UP> {line}\n    {line}" for n, line in lines)
    elif command.startswith("wg show all"):
        body = "\n".join("\t".join(["wg0", *line.split()[:8]]) for _, line in lines)
    else:
        body = "\n".join(line for _, line in lines)
    case = Case("paste.txt", f"$ {command}\n{body}\n".encode(), "file", STAGES, False, command)
    o = run_case(case, timeout=20)
    assert o.status not in ("crash", "hang"), _explain(case, o)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 70), st.text(max_size=8),
              st.sampled_from(["all", "main", "10.0.0.0/8", "FE80::ABCD", "eth0", "0x10", "²"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
_KEYS = {
    "ip -j rule": ["priority", "src", "srclen", "dst", "table", "fwmark", "fwmask", "uid_start",
                   "uid_end", "suppress_prefixlen", "goto", "sport", "dport_start", "iif"],
    "ip -j route show table all": ["dst", "gateway", "dev", "table", "prefsrc", "metric",
                                   "flags", "nexthops", "expires", "pref", "metrics", "via"],
    "ip -j addr": ["ifindex", "ifname", "flags", "mtu", "addr_info", "operstate", "linkinfo",
                   "address", "group"],
}
_GOOD = {
    "ip -j rule": {"priority": 100, "src": "all", "table": "main"},
    "ip -j route show table all": {"dst": "10.0.0.0/8", "dev": "eth0"},
    "ip -j addr": {"ifindex": 2, "ifname": "eth0", "flags": ["UP"], "mtu": 1500,
                   "addr_info": [{"family": "inet", "local": "10.0.0.2", "prefixlen": 8}]},
}


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(_KEYS)), st.data())
def test_ip_json_values_of_any_shape(command: str, data: st.DataObject) -> None:
    obj = dict(_GOOD[command])
    for key in data.draw(st.lists(st.sampled_from(_KEYS[command]), max_size=3)):
        obj[key] = data.draw(_JSON)
    text = f"$ {command}\n{json.dumps([obj])}\n"
    case = Case("paste.txt", text.encode(), "file", STAGES, False, command)
    o = run_case(case, timeout=20)
    assert o.status not in ("crash", "hang"), _explain(case, o)


# ---------------------------------------------------------------- redaction

def test_the_leak_check_sees_what_must_go() -> None:
    """The check itself: it finds each kind of sensitive string, and their survival."""
    text = ("alice@laptop:~$ ip -c addr\n2: eth0: <UP> mtu 1500\n"
            "    link/ether \x1b[33mf0:20:ff:a7:68:db\x1b[0m brd ff:ff:ff:ff:ff:ff\n"
            "    inet6 fe80::f220:ffff:fea7:68db/64 scope link\n"
            "    inet 185.65.135.5/24 scope global eth0\n"
            "peer: wLyhiK0hyHbvD2Vw6ZG9rPfcDM8CLDdzaeMK5sxnhQY=\n")
    found = sensitive(text)
    assert found == {"mac:f020ffa768db", "ip:fe80::f220:ffff:fea7:68db", "ip:185.65.135.5",
                     "key:wLyhiK0hyHbvD2Vw6ZG9rPfcDM8CLDdzaeMK5sxnhQY=", "user:alice",
                     "host:laptop"}
    assert sorted(leaks(text, text.replace("-", "_"))) == sorted(found)
    assert leaks(text, "nothing here") == []
    assert leaks(text, "F0-20-FF-A7-68-DB") == ["mac:f020ffa768db"]


LEAK_SEEDS = [s for s in SEEDS if not s.origin.startswith("corpus/")]


@pytest.mark.parametrize("seed", LEAK_SEEDS, ids=[s.origin for s in LEAK_SEEDS])
def test_redact_leaves_nothing_sensitive(seed: object) -> None:
    """Each sample as pasted from a terminal: colour codes on every token (``ip -c``, ``wg``),
    MACs with dashes; nothing sensitive survives, in text or JSON."""
    r = random.Random(1)
    for share in (0.0, 1.0):
        case = leak_case(r, seed)  # type: ignore[arg-type]
        if share == 0.0:
            case = Case(case.name, seed.data, "file", ("redact",), True, case.origin)  # type: ignore[attr-defined]
        o = run_case(case, timeout=20)
        assert o.status not in ("crash", "hang"), _explain(case, o)
        assert o.leaks == [], f"{case.origin}: {o.leaks}"
