"""Rulesets that once ended in an internal error (issue 10, nft text and JSON kinds).

Each input is refused with one line naming file:line and what nft expects
(exit 2), or read; never ``internal error`` (exit 1). Nesting has a limit
with a clear message instead of Python's RecursionError.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wgexplain import cli
from wgexplain.errors import DumpError
from wgexplain.sources import nft

ONE_LINE = re.compile(r"wgexplain: (?P<file>[^\s:]+):(?P<line>\d+)(?::\d+)?: expected (?P<what>.+)")


def _show(tmp_path: Path, name: str, text: str) -> Result:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return CliRunner().invoke(cli.main, ["show", str(path)])


def _refused(res: Result, line: int, what: str) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output[-500:])
    assert "internal error" not in res.output and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    m = ONE_LINE.fullmatch(lines[0])
    assert m, lines[0]
    assert int(m["line"]) == line, lines[0]
    assert what in m["what"], lines[0]
    return lines[0]


def _table(body: str, family: str = "ip") -> str:
    return f"table {family} t {{\n{body}\n}}\n"


def _chain(rule: str) -> str:
    return _table(f"\tchain c {{\n\t\t{rule}\n\t}}")


# ---------------------------------------------------------------------------
# nft text
# ---------------------------------------------------------------------------

def test_typeof_of_a_raw_payload_is_shown(tmp_path: Path) -> None:
    res = _show(tmp_path, "t.nft", _table(
        "\tset y {\n\t\ttypeof ip daddr . @ih,32,32\n\t\telements = { 1.1.1.1 . 0x14 }\n\t}\n"
        "\tchain y {\n\t\tip daddr . @ih,32,32 @y accept\n\t}", "inet"))
    assert res.exit_code == 0, res.output
    assert "set y: type ipv4_addr . integer, 1 elements" in res.output


@pytest.mark.parametrize("body, line, what", [
    ('\tchain c {\n\t\ttype filter hook ingress devices = { { } } priority filter; policy accept;\n\t}',
     3, "device names"),
    ('\tchain c {\n\t\ttype filter hook ingress device { "x" } priority filter; policy accept;\n\t}',
     3, "nftables syntax"),
    ('\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { { "a" } }\n\t}', 4,
     "device names"),
    ('\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { "a-name-much-too-long" }\n\t}',
     4, "device names"),
])
def test_device_lists_hold_names(tmp_path: Path, body: str, line: int, what: str) -> None:
    _refused(_show(tmp_path, "d.nft", _table(body, "netdev")), line, what)


@pytest.mark.parametrize("body, line, what", [
    ("\tct timeout cttime {\n\t\tprotocol tcp\n\t\tl3proto ip\n\t\ttimeout tcp\n\t}", 5,
     "a ct timeout line"),
    ("\tlimit l {\n\t\trate 1.second\n\t}", 3, "a rate like 'limit rate 10/second'"),
    ("\tquota q {\n\t\tover\n\t}", 3, "a quantity like '10 mbytes'"),
    ("\tquota q {\n\t\tover 10 parsecs used\n\t}", 3, "a quantity like '10 mbytes'"),
    ("\tcounter c {\n\t\tpackets\n\t}", 3, "a counter line"),
    ("\tcounter c {\n\t\tpackets x bytes 2\n\t}", 3, "a counter line"),
    ("\tct helper h {\n\t\ttype\n\t}", 3, "a ct helper line"),
    ("\tlimit l {\n\t\trate\n\t}", 3, "'limit rate N/unit'"),
    ("\tsecmark s {\n\t\tcontext\n\t}", 3, "a secmark line"),
    ("\tsynproxy p {\n\t\tmss\n\t}", 3, "a synproxy line"),
    ("\tct expectation e {\n\t\ttimeout ²s\n\t}", 3, "nftables syntax"),
])
def test_object_bodies_that_do_not_fit_name_their_line(tmp_path: Path, body: str, line: int,
                                                        what: str) -> None:
    _refused(_show(tmp_path, "o.nft", _table(body)), line, what)


@pytest.mark.parametrize("rule, what", [
    ("limit rate 1.second", "a rate like 'limit rate 10/second'"),
    ("limit rate 10/fortnight", "a rate like"),
    ("limit rate 10/second burst", "a burst like"),
    ("quota over", "a quantity like '10 mbytes'"),
    ("quota", "a quantity like '10 mbytes'"),
    ("ip saddr 10.0.0.0/999999999999 accept", "an nftables rule"),
    ("ip saddr 10.0.0.0/33 accept", "an nftables rule"),
    ("meta mark 0x10/40 accept", "an nftables rule"),
    ("@nh,0,99999 1 accept", "an nftables rule"),
    ("meta mark set meta mark << 99999", "an nftables rule"),
    ("meta mark set numgen inc mod 0", "an nftables rule"),
    ("meta mark " + "9" * 5000 + " accept", "a number of at most 128 bits"),
])
def test_rule_values_nft_refuses_name_their_line(tmp_path: Path, rule: str, what: str) -> None:
    _refused(_show(tmp_path, "r.nft", _chain(rule)), 3, what)


@pytest.mark.parametrize("text, what", [
    ("\tset s {\n\t\ttype ipv4_addr\n\t\telements = " + "{ " * 400 + "1.1.1.1" + " }" * 400 + "\n\t}",
     "at most 32 nested '{ }'"),
    ("\tchain c {\n\t\tmeter m " + "{ " * 300 + "ip saddr" + " }" * 300 + "\n\t}",
     "at most 32 nested '{ }'"),
    ("\tchain c {\n\t\t" + "jump { " * 200 + "accept" + " }" * 200 + "\n\t}",
     "at most 32 nested '{ }'"),
    ("\tchain c {\n\t\tmeta mark " + "(" * 300 + "1" + ")" * 300 + " accept\n\t}",
     "at most 32 nested '( )'"),
    ("\tchain c {\n\t\tmeta mark " + "& 1 " * 2000 + "== 1\n\t}",
     "at most 64 operators in one expression"),
])
def test_nesting_has_a_limit(tmp_path: Path, text: str, what: str) -> None:
    _refused(_show(tmp_path, "n.nft", _table(text)), 3 if "chain" in text else 4, what)


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    res = _show(tmp_path, "ok.nft", _chain("meta mark " + "(" * 20 + "1" + ")" * 20 + " accept"))
    assert res.exit_code == 0, res.output
    res = _show(tmp_path, "ok2.nft", _chain("jump { " * 10 + "accept" + " }" * 10))
    assert res.exit_code == 0, res.output


def test_non_ascii_digits_are_not_numbers(tmp_path: Path) -> None:
    for rule in ("ip saddr 10.0.0.0/² accept", "@nh,①,8 1 accept", "meta mark ² accept"):
        res = _show(tmp_path, "u.nft", _chain(rule))
        assert res.exit_code in (0, 2) and "internal error" not in res.output, (rule, res.output)
    res = _show(tmp_path, "h.nft", "table ip t { # handle ²\n}\n")
    assert res.exit_code in (0, 2) and "internal error" not in res.output, res.output


# ---------------------------------------------------------------------------
# nft -j JSON
# ---------------------------------------------------------------------------

def _doc(*items: dict) -> str:
    return json.dumps({"nftables": [{"metainfo": {"json_schema_version": 1}},
                                    {"table": {"family": "inet", "name": "t", "handle": 1}},
                                    *items]}, indent=2)


def _line(text: str, marker: str) -> int:
    """The 1-based line where ``marker`` first appears."""
    return text[:text.index(marker)].count("\n") + 1


def _item_line(text: str, marker: str) -> int:
    """The line of the ``{`` that opens the array item holding ``marker`` (an item's origin)."""
    return text[:text.rindex("{", 0, text.index(marker))].count("\n") + 1


def _chain_json(**fields: object) -> dict:
    return {"chain": {"family": "inet", "table": "t", "name": "c", "handle": 2, "type": "filter",
                      "hook": "input", "prio": 0, "policy": "accept", **fields}}


def _rule_json(*expr: object) -> dict:
    return {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 3, "expr": list(expr)}}


@pytest.mark.parametrize("fields, what", [
    ({"prio": []}, "a valid chain object"),
    ({"prio": "dstnat"}, "a valid chain object"),  # not on an input hook
    ({"prio": 1 << 40}, "a valid chain object"),
    ({"prio": None}, "a valid chain object"),
    ({"policy": "reject"}, "a valid chain object"),
    ({"dev": [[]]}, "device names"),
    ({"hook": ["input"]}, "a valid chain object"),
    ({"name": {"x": 1}}, "a valid chain object"),
])
def test_json_chain_fields_of_the_wrong_shape(tmp_path: Path, fields: dict, what: str) -> None:
    text = _doc(_chain_json(**fields))
    _refused(_show(tmp_path, "c.json", text), _item_line(text, '"chain"'), what)


def test_json_priorities_read_as_numbers_or_names(tmp_path: Path) -> None:
    rs = nft.parse_ruleset_json(_doc(_chain_json(prio="filter - 10")))
    chain = rs.tables[0].chains[0]
    assert (chain.priority, chain.priority_text) == (-10, "filter - 10")
    rs = nft.parse_ruleset_json(_doc(_chain_json(prio=-100)))
    assert (rs.tables[0].chains[0].priority, rs.tables[0].chains[0].priority_text) == (-100, "-100")


def test_json_integers_beyond_64_bits_are_refused(tmp_path: Path) -> None:
    text = _doc(_chain_json(), _rule_json({"match": {"op": "==", "left": {"meta": {"key": "mark"}},
                                                     "right": 12345}}))
    big = text.replace("12345", "9" * 5000)
    line = _refused(_show(tmp_path, "i.json", big), _line(text, "12345"), "an integer of at most 64 bits")
    assert "9999" in line
    _refused(_show(tmp_path, "i2.json", text.replace("12345", str(1 << 64))), _line(text, "12345"),
             "an integer of at most 64 bits")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_are_refused(tmp_path: Path, constant: str) -> None:
    text = _doc(_chain_json(), _rule_json({"match": {"op": "==", "left": {"meta": {"key": "mark"}},
                                                     "right": 12345}}))
    _refused(_show(tmp_path, "n.json", text.replace("12345", constant)), _line(text, "12345"),
             "a JSON number")


@pytest.mark.parametrize("depth", [70, 5000, 200000])
def test_json_nesting_has_a_limit(tmp_path: Path, depth: int) -> None:
    deep = "[" * depth + "1" + "]" * depth
    text = _doc(_chain_json(), _rule_json({"match": {"op": "==", "left": {"meta": {"key": "mark"}},
                                                     "right": 12345}})).replace("12345", deep)
    _refused(_show(tmp_path, "deep.json", text), _line(text, "[[["), "JSON nested at most 64 deep")


@pytest.mark.parametrize("expr", [
    {"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}] + [1] * 100}, "right": 1}},
    {"match": {"op": "==", "left": {"<<": [{"meta": {"key": "mark"}}, 99999]}, "right": 1}},
    {"match": {"op": "==", "left": {">>": [{"meta": {"key": "mark"}}, -1]}, "right": 1}},
    {"match": {"op": "==", "left": {"payload": {"base": "nh", "offset": 0, "len": 99999}}, "right": 1}},
    {"match": {"op": "==", "left": {"payload": {"base": "xx", "offset": 0, "len": 8}}, "right": 1}},
    {"match": {"op": "==", "left": {"payload": {"protocol": ["ip"], "field": "saddr"}}, "right": 1}},
    {"match": {"op": "==", "left": {"meta": {"key": "mark"}},
               "right": {"prefix": {"addr": "10.0.0.0", "len": 999999999999}}}},
    {"match": {"op": "==", "left": {"meta": {"key": "mark"}},
               "right": {"prefix": {"addr": 16, "len": 40}}}},
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
               "right": {"prefix": {"addr": "", "len": 10}}}},  # once crashed `check`
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
               "right": {"prefix": {"addr": [], "len": 10}}}},
    {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"numgen": {"mode": "inc", "mod": 0}}}},
    {"match": {"op": "==", "left": {"ct": {"key": ""}}, "right": 3905}},  # once crashed `trace`
    {"match": {"op": "==", "left": {"meta": {"key": ["mark"]}}, "right": 1}},
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": " "}}, "right": 1}},
])
def test_json_expressions_nft_refuses(tmp_path: Path, expr: dict) -> None:
    text = _doc(_chain_json(), _rule_json(expr))
    _refused(_show(tmp_path, "e.json", text), _item_line(text, '"rule"'), "nftables JSON statements")


def test_json_item_that_is_not_an_object(tmp_path: Path) -> None:
    text = json.dumps({"nftables": [{"table": []}]})
    _refused(_show(tmp_path, "x.json", text), 1, "a valid table object")


def test_reader_errors_are_dump_errors_in_process() -> None:
    """The same through the Python API: DumpError, never another exception."""
    bad_texts = [
        _chain("quota over"),
        _table("\tquota q {\n\t\tover\n\t}"),
        _table("\tchain c {\n\t\ttype filter hook input priority dstnat; policy accept;\n\t}", "inet"),
        _table("\tchain c {\n\t\ttype filter hook input priority filter; policy maybe;\n\t}", "inet"),
    ]
    for text in bad_texts:
        with pytest.raises(DumpError):
            nft.parse_ruleset_text(text, "t.nft")
