"""The outside contract of DESIGN.md, schema-style, on the seed: key sets, types, errno names.

Not exact strings (the explanations may be reworded): what a script reading
``route --json``, ``--batch``, ``trace --json`` and ``show --json`` relies on,
the ``--format`` table of every command, and the exit codes 0 / 1 / 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from wgexplain import cli
from wgexplain.kernel.record import STAGES
from wgexplain.model import ROUTE_TYPES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mullvad"
SOURCES = [str(EXAMPLES / "session-en.txt"), str(EXAMPLES / "session-ja.txt"),
           str(EXAMPLES / "bundle")]
SESSION = SOURCES[0]

#: errno names a lookup or a journey may carry (DESIGN.md, fib_props[], fib4_rule_action(), ...)
ERRNOS = {"ENETUNREACH", "EHOSTUNREACH", "EACCES", "EINVAL", "EXDEV", "ENODEV", "EAGAIN",
          "ESRCH", "EPERM", "ECONNREFUSED", "ENOKEY", "EDESTADDRREQ", "EMSGSIZE", "ELOOP"}
ROUTE_KEYS = {"dst", "type", "dev", "gateway", "src", "table", "rule", "steps"}
ROUTE_STEP_KEYS = {"rule", "action", "result", "why"}
TRACE_KEYS = {"verdict", "egress", "encapsulated", "steps", "exact"}
TRACE_STEP_KEYS = {"stage", "hook", "table", "chain", "rule", "text", "effect", "verdict", "why"}
EGRESS_KEYS = {"dev", "src", "dst", "mark"}

#: lookups covering the kinds of answer: tunnel, main, local, broadcast, marked,
#: input, refusals (no IPv6 route, no device, forwarding off)
LOOKUPS = [
    ["1.1.1.1"], ["10.64.0.1"], ["192.168.44.1"], ["127.0.0.1"], ["192.168.44.255"],
    ["185.195.233.76", "mark", "0x6d6f6c65"], ["1.1.1.1", "--proto", "udp", "--dport", "53"],
    ["192.168.44.83", "iif", "wlp0s20f3", "from", "192.168.44.1"],
    ["2001:db8::1"], ["1.1.1.1", "oif", "nosuchdev"],
    ["10.64.0.1", "--iif", "wg-mullvad", "--from", "10.64.0.1"],
]


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli.main, list(args), input=input)


def opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def opt_int(v: Any) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool))


def check_route_object(obj: dict[str, Any]) -> None:
    assert ROUTE_KEYS <= obj.keys(), ROUTE_KEYS - obj.keys()
    assert isinstance(obj["dst"], str)
    assert obj["type"] in ROUTE_TYPES or obj["type"] == "unknown"
    assert opt_str(obj["dev"]) and opt_str(obj["gateway"]) and opt_str(obj["src"])
    assert opt_int(obj["table"]) and opt_int(obj["rule"])
    assert isinstance(obj["steps"], list) and obj["steps"]
    for step in obj["steps"]:
        assert ROUTE_STEP_KEYS <= step.keys(), step
        assert opt_int(step["rule"])
        assert isinstance(step["action"], str) and isinstance(step["result"], str)
        assert isinstance(step["why"], str) and step["why"]
    assert isinstance(obj["assumptions"], list)
    assert all(isinstance(a, str) and a for a in obj["assumptions"])
    if obj["assumptions"]:
        assert obj["exact"] is False and obj["to_paste"]
    if obj["type"] == "unknown":  # undecided: it depends on what was not pasted
        assert "error" not in obj and obj["dev"] is None and obj["assumptions"]
        for alt in obj["alternatives"]:
            assert isinstance(alt["if"], str)
            assert alt["answer"] is None or alt["answer"]["type"] in ROUTE_TYPES
    elif "error" in obj:
        assert obj["error"] in ERRNOS
        assert obj["dev"] is None
    else:
        assert isinstance(obj["dev"], str)
        assert isinstance(obj["table"], int) and isinstance(obj["rule"], int)


def check_trace_object(obj: dict[str, Any]) -> None:
    assert TRACE_KEYS <= obj.keys(), TRACE_KEYS - obj.keys()
    assert obj["verdict"] in ("accept", "drop", "reject", "unknown")
    assert isinstance(obj["assumptions"], list)
    if obj["verdict"] == "unknown":
        assert obj["assumptions"] and obj["exact"] is False
    assert isinstance(obj["exact"], bool)
    if obj["verdict"] != "accept":
        assert obj["egress"] is None
    else:
        e = obj["egress"]
        assert EGRESS_KEYS <= e.keys()
        assert opt_str(e["dev"]) and opt_str(e["src"]) and isinstance(e["dst"], str)
        assert isinstance(e["mark"], int)
    assert isinstance(obj["steps"], list) and obj["steps"]
    for step in obj["steps"]:
        assert TRACE_STEP_KEYS <= step.keys(), TRACE_STEP_KEYS - step.keys()
        assert step["stage"] in STAGES
        for key in ("hook", "table", "chain", "text", "effect", "verdict"):
            assert opt_str(step[key]), (key, step)
        assert opt_int(step["rule"])
        assert step["verdict"] in (None, "accept", "drop", "reject", "continue", "return",
                                   "jump", "goto", "queue", "stolen")
        assert isinstance(step["why"], str) and step["why"]
    if any(s["stage"] == "unmodelled" for s in obj["steps"]):
        assert obj["exact"] is False
    if "errno" in obj:
        assert obj["errno"] in ERRNOS
    if obj["encapsulated"] is not None:
        check_trace_object(obj["encapsulated"])
        if obj["encapsulated"]["exact"] is False:
            assert obj["exact"] is False


@pytest.mark.parametrize("source", SOURCES, ids=["session-en", "session-ja", "bundle"])
@pytest.mark.parametrize("args", LOOKUPS, ids=[" ".join(a) for a in LOOKUPS])
def test_route_json(source: str, args: list[str]) -> None:
    r = run("route", source, *args, "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    check_route_object(obj)
    assert obj["dst"] == args[0]


def test_route_json_answers_and_refusals() -> None:
    """The numeric table ids and the errno names DESIGN.md names, on the seed."""
    objs = {" ".join(a): json.loads(run("route", SESSION, *a, "--json").stdout) for a in LOOKUPS}
    assert objs["1.1.1.1"]["table"] == 1836018789 and objs["1.1.1.1"]["rule"] == 32765
    assert objs["10.64.0.1"]["table"] == 254
    assert objs["127.0.0.1"]["table"] == 255 and objs["127.0.0.1"]["type"] == "local"
    assert objs["192.168.44.255"]["type"] == "broadcast"
    v6 = objs["2001:db8::1"]  # the session has no IPv6 listing: unknown, not ENETUNREACH
    assert (v6["type"], v6["dev"], "error" in v6) == ("unknown", None, False)
    assert any("`ip -6 rule` was not pasted" in a for a in v6["assumptions"])
    assert any(a["answer"] and a["answer"].get("error") == "ENETUNREACH"
               for a in v6["alternatives"])
    assert objs["1.1.1.1"]["assumptions"] == []
    assert objs["1.1.1.1 oif nosuchdev"]["error"] == "ENODEV"
    assert "error" not in objs["1.1.1.1"]


def test_batch_is_json_lines_in_order_equal_to_route_json(tmp_path: Path) -> None:
    lines = ["1.1.1.1", "to 10.64.0.1", "ip route get 185.195.233.76 mark 0x6d6f6c65",
             "# a comment", "", "2001:db8::1", "192.168.44.83 iif wlp0s20f3 from 192.168.44.1",
             "1.1.1.1 ipproto udp dport 53 uid 1000 tos 0x10 sport 5000"]
    f = tmp_path / "batch.txt"
    f.write_text("\n".join(lines) + "\n")
    r = run("route", SESSION, "--batch", str(f))
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]
    queries = [x for x in lines if x and not x.startswith("#")]
    assert len(out) == len(queries)
    for obj, q in zip(out, queries):
        check_route_object(obj)
        words = q.split()
        if words[:3] == ["ip", "route", "get"]:
            words = words[3:]
        single = json.loads(run("route", SESSION, *words, "--json").stdout)
        assert obj == single, q
    assert out[queries.index("2001:db8::1")]["type"] == "unknown"  # no IPv6 pasted
    same = run("route", SESSION, "--batch", "-", input=f.read_text())
    assert same.stdout == r.stdout


@pytest.mark.parametrize("args", [
    ["1.1.1.1", "--proto", "tcp", "--dport", "443"],
    ["9.9.9.9", "--proto", "udp", "--dport", "53"],
    ["10.64.0.1", "--proto", "udp", "--dport", "53"],
    ["192.168.44.1", "--proto", "icmp"],
    ["1.1.1.1", "--proto", "tcp", "--dport", "443", "--cgroup", "0x4d9f41"],
    ["10.64.0.1", "--proto", "icmp", "--cgroup", "0x4d9f41"],
    ["10.147.23.252", "--direction", "in", "--iif", "wg-mullvad", "--from", "1.1.1.1",
     "--proto", "tcp", "--sport", "443", "--state", "established"],
    ["192.168.44.83", "--direction", "in", "--iif", "wlp0s20f3", "--from", "185.195.233.76",
     "--proto", "udp", "--sport", "19955", "--dport", "51820", "--state", "established"],
    ["2001:db8::1", "--proto", "tcp", "--dport", "443"],
    ["1.1.1.1", "--endpoint", "185.195.233.76:19955", "--wg-fwmark", "0x6d6f6c65"],
], ids=lambda a: " ".join(a))
def test_trace_json(args: list[str]) -> None:
    r = run("trace", SESSION, *args, "--json")
    assert r.exit_code == 0, r.output
    check_trace_object(json.loads(r.stdout))


def test_trace_json_seed_answer() -> None:
    obj = json.loads(run("trace", SESSION, "1.1.1.1", "--proto", "tcp", "--dport", "443",
                         "--json").stdout)
    assert obj["verdict"] == "accept"
    assert obj["egress"]["dev"] == "wg-mullvad" and obj["egress"]["mark"] == 0
    outer = obj["encapsulated"]
    assert outer["egress"]["dev"] == "wlp0s20f3"
    assert outer["egress"]["mark"] == 0x6d6f6c65
    assert outer["egress"]["dst"] == "185.195.233.76"
    dns = json.loads(run("trace", SESSION, "9.9.9.9", "--proto", "udp", "--dport", "53",
                         "--json").stdout)
    assert dns["verdict"] == "reject" and dns["egress"] is None


@pytest.mark.parametrize("source", SOURCES, ids=["session-en", "session-ja", "bundle"])
def test_show_json(source: str) -> None:
    r = run("show", source, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert {"links", "addresses", "rules", "tables", "ruleset", "sysctls", "warnings"} <= d.keys()
    assert all(isinstance(w, str) for w in d["warnings"])
    assert {r["family"] for r in d["rules"]} == {"inet", "inet6"}
    for rule in d["rules"]:
        assert isinstance(rule["pref"], int) and isinstance(rule["text"], str)
        assert isinstance(rule["derived"], bool)
    ids = {(t["family"], t["id"]) for t in d["tables"]}
    assert {("inet", 255), ("inet", 254), ("inet", 1836018789)} <= ids
    for t in d["tables"]:
        assert isinstance(t["id"], int) and isinstance(t["name"], str)
        for route in t["routes"]:
            assert isinstance(route["text"], str) and isinstance(route["derived"], bool)
    local = next(t for t in d["tables"] if (t["family"], t["id"]) == ("inet", 255))
    assert local["routes"] and all(r["derived"] for r in local["routes"])  # not dumped: derived
    assert d["ruleset"] is not None
    assert {a["dev"] for a in d["addresses"]} >= {"wlp0s20f3", "wg-mullvad"}


# --------------------------------------------------------------------------
# --format on every command, and the exit codes
# --------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["route", SESSION, "1.1.1.1"], ["trace", SESSION, "1.1.1.1"],
                                     ["show", SESSION]], ids=["route", "trace", "show"])
@pytest.mark.parametrize("fmt", ["text", "json", "dot", "svg"])
def test_format_table(command: list[str], fmt: str) -> None:
    r = run(*command, "--format", fmt)
    assert r.exit_code == 0, r.output
    out = r.stdout
    if fmt == "json":
        json.loads(out)
    elif fmt == "dot":
        assert re.match(r"\s*(strict\s+)?digraph\b", out)
    elif fmt == "svg":
        assert "<svg" in out and out.rstrip().endswith("</svg>")
    else:
        assert out.strip() and not out.lstrip().startswith(("{", "<", "digraph"))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_formats(fmt: str) -> None:
    r = run("check", SESSION, "--format", fmt)
    assert r.exit_code in (0, 3), r.output  # check: 3 means findings (see its --help)
    assert r.stderr == ""
    if fmt == "json":
        json.loads(r.stdout)


@pytest.mark.parametrize("command", [["check", SESSION], ["verify", SESSION]])
@pytest.mark.parametrize("fmt", ["dot", "svg"])
def test_formats_a_command_lacks_are_refused_in_one_line(command: list[str], fmt: str) -> None:
    r = run(*command, "--format", fmt)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and fmt in r.stderr


def test_json_flag_is_format_json() -> None:
    for command in (["route", SESSION, "1.1.1.1"], ["trace", SESSION, "1.1.1.1"],
                    ["show", SESSION]):
        assert run(*command, "--json").stdout == run(*command, "--format", "json").stdout


def test_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("route", SESSION, "1.1.1.1").exit_code == 0
    assert run("route", SESSION, "2001:db8::1").exit_code == 0  # a refusal is an answer
    assert run("route", SESSION, "not-an-address").exit_code == 2
    assert run("route", str(EXAMPLES / "missing.txt"), "1.1.1.1").exit_code == 2

    import wgexplain.kernel.route as route_mod

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(route_mod, "route_get", boom)
    r = run("route", SESSION, "1.1.1.1")
    assert r.exit_code == 1
    assert r.stderr.strip().splitlines() == ["wgexplain: internal error: RuntimeError: simulated bug"]


# --------------------------------------------------------------------------
# text for people: wrapped to the width asked for, same words, plain when piped
# --------------------------------------------------------------------------

TEXT_COMMANDS = [["route", SESSION, "1.1.1.1"],
                 ["trace", SESSION, "1.1.1.1", "--proto", "tcp", "--dport", "443"],
                 ["trace", SESSION, "9.9.9.9", "--proto", "udp", "--dport", "53"],
                 ["show", SESSION], ["check", SESSION]]


@pytest.mark.parametrize("command", TEXT_COMMANDS, ids=lambda c: " ".join(c[:1] + c[2:]))
def test_text_wraps_to_columns_without_losing_a_word(command: list[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    wide = run(*command).stdout
    monkeypatch.setenv("COLUMNS", "100")
    narrow = run(*command).stdout
    assert "\x1b[" not in wide + narrow  # piped: no colour codes
    assert max(len(x) for x in wide.splitlines()) > 100  # the unwrapped form has long lines
    assert max(len(x) for x in narrow.splitlines()) <= 100
    def words(text: str) -> list[str]:  # the nested journey's rail repeats on each line
        return [w for w in text.split() if w != "│"]

    assert words(narrow) == words(wide)  # the same words, in the same order


def test_wrapped_reasons_hang_under_their_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    lines = run("route", SESSION, "1.1.1.1").stdout.splitlines()
    first = next(i for i, x in enumerate(lines) if x.startswith("> 32765"))
    column = lines[first].index("rule 32765 '")
    assert lines[first + 1].startswith(" " * column) and lines[first + 1][column] != " "
    trace = run("trace", SESSION, "1.1.1.1").stdout.splitlines()
    nested = [x for x in trace if x.startswith("    │ ")]
    assert nested and all(len(x) <= 100 for x in nested)  # the rail is kept on every line


def test_colour_only_on_a_terminal() -> None:
    import io

    from rich.console import Console

    import wgexplain
    from wgexplain.explain.trace_text import render, to_text

    t = wgexplain.trace(wgexplain.load(SESSION), "9.9.9.9", proto="udp", dport=53)
    buf = io.StringIO()
    render(t, Console(file=buf, force_terminal=True, width=100, soft_wrap=True), width=100)
    assert "\x1b[1;31mREJECT" in buf.getvalue()  # the verdict in bold red
    assert "\x1b[" not in to_text(t)
