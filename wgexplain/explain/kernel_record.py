"""What the real kernel did with the seed's probes, next to the simulator's answer.

``examples/mullvad/kernel/real-traffic.json`` is written by
``sudo scripts/lab-record`` (:mod:`wgexplain.lab.probes`): the seed rebuilt in
``wgx-`` network namespaces with a real WireGuard tunnel (wireguard-go), the
relay remapped from 185.195.233.76 to 203.0.113.76, one bounded probe per
case, and per case the kernel's verdict, the sender's errno, the device and
source in postrouting, the address the server saw, the capture on the
uplink, and the rules met according to ``nft monitor trace``.

This module reads that record for the site and the tests, without root:

* :func:`load_record`, :func:`case`: the record and one case in it;
* :func:`simulate_case`: the simulator's trace of the same probe, with the
  argument mapping of :func:`wgexplain.lab.probes.probe_trace` (shared with
  the lab), on the host state the case ran in (:func:`case_host`);
* :func:`agreement`: where the simulator and the kernel differ
  (:func:`wgexplain.lab.probes.compare`, empty when they agree);
* :func:`render_case`: Markdown for a page, the kernel's account and, given
  a trace, the simulator's next to it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from wgexplain.errors import DumpError
from wgexplain.lab import probes
from wgexplain.lab.topology import LAB_RELAY, REPO, SEED_BUNDLE, SEED_RELAY, read_seed, remap_relay
from wgexplain.kernel.record import Trace
from wgexplain.lab.topology import SeedConfig
from wgexplain.model import Host

#: The record scripts/lab-record writes.
RECORD_PATH = probes.RECORD_PATH
#: The seed as the user pasted it (what the site's pages quote).
SEED_SESSION = REPO / "examples" / "mullvad" / "session-en.txt"
#: How to regenerate the record (shown under every rendered case).
REGENERATE = "sudo scripts/lab-record"

Case = dict[str, Any]
Record = dict[str, Any]

_CASE_KEYS = ("case", "title", "probe", "verdict", "errno", "trace_rules", "uplink")
_PROBE_KEYS = ("proto", "dst", "dport", "cgroup_classid", "tunnel", "ruleset")


def load_record(path: str | Path = RECORD_PATH) -> Record:
    """Read the record; :class:`~wgexplain.errors.DumpError` names what is wrong in it."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DumpError(name, 0, f"the record written by {REGENERATE}", got="no such file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DumpError(name, e.lineno, "JSON", got=e.msg) from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise DumpError(name, 1, 'an object with a "cases" list', got=type(data).__name__)
    for i, c in enumerate(data["cases"]):
        missing = [k for k in _CASE_KEYS if not isinstance(c, dict) or k not in c]
        missing += [f"probe.{k}" for k in _PROBE_KEYS
                    if isinstance(c, dict) and isinstance(c.get("probe"), dict) and k not in c["probe"]]
        if missing:
            raise DumpError(name, _line_of(text, c), f"case {i} with {', '.join(_CASE_KEYS)}",
                            got="no " + ", ".join(missing))
        for key, allowed in (("tunnel", ("up", "down")), ("ruleset", ("loaded", "removed"))):
            if c["probe"][key] not in allowed:
                raise DumpError(name, _line_of(text, c), f"probe.{key} " + " or ".join(allowed),
                                got=repr(c["probe"][key]))
    return data


def _line_of(text: str, c: Any) -> int:
    """The line where case ``c`` starts in the record (best effort, for messages)."""
    if isinstance(c, dict) and isinstance(c.get("case"), str):
        needle = f'"case": {json.dumps(c["case"])}'
        at = text.find(needle)
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return 0


def case(record: Record, name: str) -> Case:
    """The case called ``name``; ``KeyError`` listing the recorded names otherwise."""
    for c in record["cases"]:
        if c["case"] == name:
            return c  # type: ignore[no-any-return]
    raise KeyError(f"no case {name!r} in the record; recorded: "
                   + ", ".join(c["case"] for c in record["cases"]))


def lab_seed(path: str | Path = SEED_SESSION) -> Host:
    """The seed as the lab ran it: the relay remapped to 203.0.113.76.

    Read from the user's paste with the relay's address replaced in place,
    so every origin still names the paste's own lines. The Host is frozen:
    one read per path serves a whole site build.
    """
    return _lab_seed(str(Path(path).resolve()))


@functools.lru_cache(maxsize=4)
def _lab_seed(path: str) -> Host:
    from wgexplain.sources import load_text

    shown = Path(path)
    try:
        shown = shown.relative_to(REPO)
    except ValueError:
        pass
    return load_text(remap_relay(Path(path).read_text(encoding="utf-8")), str(shown))


@functools.lru_cache(maxsize=1)
def _seed_config() -> SeedConfig:
    """The seed bundle as the lab reads it (relay, uplink, tunnel device, ruleset text)."""
    return read_seed(SEED_BUNDLE)


def case_host(seed: Host, c: Case) -> Host:
    """``seed`` in the state the case ran in.

    ``tunnel: down``: wireguard-go was stopped, so its device is gone with
    its addresses and routes (:func:`wgexplain.check.without_device`,
    ``unregister_netdevice()``); ``ruleset: removed``: no nftables tables.
    """
    from wgexplain.check import without_device
    from wgexplain.kernel.fib_frontend import complete

    probe = c["probe"]
    host = seed
    if probe["tunnel"] == "down":
        host = complete(without_device(host, _seed_config().tunnel))
    if probe["ruleset"] == "removed":
        host = dataclasses.replace(host, ruleset=None)
    return host


def _probe_case(c: Case) -> probes.Case:
    """The recorded case as a :class:`wgexplain.lab.probes.Case` (focus from its keys)."""
    p = c["probe"]
    return probes.Case(c["case"], c["title"], p["proto"], p["dst"], p["dport"] or 0,
                       excluded=p["cgroup_classid"] is not None, tunnel_down=p["tunnel"] == "down",
                       firewall=p["ruleset"] == "loaded",
                       focus="reply" if "ingress_dev" in c else "request")


def simulate_case(host: Host, c: Case) -> Trace:
    """The simulator's :class:`~wgexplain.kernel.record.Trace` of the recorded probe.

    ``host`` is the seed as the lab ran it (:func:`lab_seed`); the case's own
    state (tunnel down, ruleset removed) is applied here. For the relay's
    reply the WireGuard listen port is not recorded: no rule of the seed
    matches on it, so the trace leaves it unset.
    """
    pc = _probe_case(c)
    trace: Trace = probes.probe_trace(case_host(host, c), pc, c["probe"]["dst"], _seed_config(),
                                      classid=c["probe"]["cgroup_classid"])
    return trace


def simulated(c: Case, trace: Trace) -> dict[str, Any]:
    """The trace in the record's keys (:func:`wgexplain.lab.probes.observation_of`)."""
    return probes.observation_of(_probe_case(c), trace)


def agreement(c: Case, trace: Trace) -> list[str]:
    """Where the simulator's trace and the kernel's record differ (empty: they agree).

    The comparison is :func:`wgexplain.lab.probes.compare`, the one
    ``scripts/lab-record`` uses; nat chains are left out of the encrypted
    packet's rules (the kernel runs them for the tunnel's first packet only).
    An inexact trace (something not modelled) is a difference too.
    """
    sim = simulated(c, trace)
    diffs = probes.compare(c, sim, probes.nat_chains(_seed_config().ruleset))
    if not sim.get("exact", True):
        diffs.append("simulator: not exact (a feature on the path is not modelled)")
    return diffs


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

def probe_text(c: Case) -> str:
    """One sentence: what was sent, by whom, in which state."""
    p = c["probe"]
    if "ingress_dev" in c:
        enc = c.get("encapsulated") or {}
        what = (f"the relay's encrypted reply, udp {enc.get('src', LAB_RELAY)}:{enc.get('sport', '?')}"
                f" → {enc.get('dst', '?')}, arriving on {c['ingress_dev']}")
    else:
        port = f":{p['dport']}" if p["dport"] else ""
        who = (f"a process in the split-tunnel cgroup (net_cls classid {p['cgroup_classid']:#x})"
               if p["cgroup_classid"] is not None else "an ordinary process")
        what = f"{p['proto']} to {p['dst']}{port}, sent by {who}"
    return f"{what}; tunnel {p['tunnel']}, ruleset {p['ruleset']}"


def command(c: Case, source: str = "examples/mullvad/bundle") -> str | None:
    """The ``wgexplain trace`` command for the same packet on the seed (relay not remapped).

    None when the case needs a state the seed dump does not have (tunnel
    down, ruleset removed).
    """
    p = c["probe"]
    if p["tunnel"] != "up" or p["ruleset"] != "loaded":
        return None
    if "ingress_dev" in c:
        enc = c.get("encapsulated") or {}
        src = str(enc.get("src", LAB_RELAY)).replace(LAB_RELAY, SEED_RELAY)
        return (f"wgexplain trace {source} {enc.get('dst')} --from {src} --iif {c['ingress_dev']}"
                f" --proto udp --sport {enc.get('sport')} --direction in --state established")
    dst = str(p["dst"]).replace(LAB_RELAY, SEED_RELAY)
    out = f"wgexplain trace {source} {dst} --proto {p['proto']}"
    if p["dport"]:
        out += f" --dport {p['dport']}"
    if p["cgroup_classid"] is not None:
        out += f" --cgroup {p['cgroup_classid']:#x}"
    return out


def _dash(v: Any) -> str:
    return "—" if v is None or v == [] else f"`{v}`"


def _left(obs: dict[str, Any]) -> str:
    if obs.get("egress_dev") is None:
        return "—"
    mark = obs.get("egress_mark")
    return (f"`{obs['egress_dev']}`, source `{obs.get('egress_src')}`"
            + (f", mark `{mark:#x}`" if isinstance(mark, int) else ""))


def _outer(enc: Any) -> str:
    if not isinstance(enc, dict):
        return "—"
    if "sport" in enc and "dport" not in enc:  # the reply: the packet that arrived
        return f"`udp {enc['src']}:{enc['sport']} → {enc['dst']}`, mark `{enc.get('mark', 0):#x}`"
    text = f"`udp {enc.get('src')} → {enc.get('dst')}:{enc.get('dport')}`"
    if enc.get("egress_dev"):
        text += f" by `{enc['egress_dev']}`"
    if isinstance(enc.get("mark"), int):
        text += f", mark `{enc['mark']:#x}`"
    return text


def _rules(rules: list[str]) -> str:
    return "<br>".join(f"`{r}`" for r in rules) if rules else "— (no rule of the user's tables)"


def render_case(c: Case, trace: Trace | None = None) -> str:
    """Markdown: what the kernel did with the case's probe, and (given ``trace``) the
    simulator's answer for the same packet in a second column, then whether they agree.
    """
    obs = c
    sim = simulated(c, trace) if trace is not None else None
    rows: list[tuple[str, str, str | None]] = [
        ("verdict", _dash(obs.get("verdict")), _dash(sim["verdict"]) if sim else None),
    ]
    if "ingress_dev" not in c:
        rows += [
            ("errno of send()/connect()", _dash(obs.get("errno")), _dash(sim.get("errno")) if sim else None),
            ("left by (postrouting)", _left(obs), _left(sim) if sim else None),
            ("encrypted packet", _outer(obs.get("encapsulated")),
             _outer(sim.get("encapsulated")) if sim else None),
            ("source the server saw", _dash(obs.get("src_seen_by_server")), "(not simulated)" if sim else None),
            ("on the uplink (tcpdump)", "<br>".join(f"`{u}`" for u in obs["uplink"]) or "nothing",
             "(not simulated)" if sim else None),
        ]
    else:
        rows.append(("encrypted packet", _outer(obs.get("encapsulated")), "(the trace's input)" if sim else None))
    rows.append(("rules met (nft monitor trace)", _rules(obs["trace_rules"]),
                 _rules(sim["trace_rules"]) if sim else None))
    head = f"**{c['title']}** (case `{c['case']}`): {probe_text(c)}.\n\n"
    if sim is not None:
        table = "| | the kernel (recorded) | the simulator |\n|---|---|---|\n"
        table += "".join(f"| {k} | {o} | {s} |\n" for k, o, s in rows)
    else:
        table = "| | the kernel (recorded) |\n|---|---|\n"
        table += "".join(f"| {k} | {o} |\n" for k, o, _ in rows)
    tail = ""
    if trace is not None:
        diffs = agreement(c, trace)
        tail = ("\nThe simulator agrees with the kernel on every recorded field.\n" if not diffs
                else "\nThe simulator **disagrees**: " + "; ".join(f"`{d}`" for d in diffs) + "\n")
    tail += (f"\nRecorded in the lab (relay remapped to {LAB_RELAY}); regenerate with "
             f"`{REGENERATE}` (root), which rewrites `examples/mullvad/kernel/real-traffic.json`.\n")
    return head + table + tail


def _outcome(obs: dict[str, Any]) -> str:
    verdict = obs.get("verdict") or "—"
    if obs.get("errno"):
        return f"{verdict}, `{obs['errno']}`"
    if obs.get("egress_dev"):
        return f"{verdict}, leaves `{obs['egress_dev']}` from `{obs.get('egress_src')}`"
    return str(verdict)


def render_summary(cases: list[Case], host: Host | None = None) -> str:
    """Markdown: one row per case, what the kernel did and (given the lab seed ``host``)
    what the simulator says, and whether they agree (:func:`agreement`)."""
    if host is None:
        rows = [f"| {c['title']} | {_outcome(c)} | {_dash(c.get('src_seen_by_server'))} |" for c in cases]
        return ("| probe | the kernel (recorded) | source the server saw |\n|---|---|---|\n"
                + "\n".join(rows) + "\n")
    out = ("| probe | the kernel (recorded) | source the server saw | the simulator | agree |\n"
           "|---|---|---|---|---|\n")
    for c in cases:
        trace = simulate_case(host, c)
        diffs = agreement(c, trace)
        out += (f"| {c['title']} | {_outcome(c)} | {_dash(c.get('src_seen_by_server'))} | "
                f"{_outcome(simulated(c, trace))} | {'yes' if not diffs else '**no**'} |\n")
    return out
