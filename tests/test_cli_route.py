"""The `route` and `show` commands through click's CliRunner: output, JSON, batch, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wgexplain import cli

BUNDLE = str(Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "bundle")
SESSION = str(Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "session-en.txt")


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli.main, list(args), input=input)


def test_route_text_starts_with_the_ip_route_get_line() -> None:
    r = run("route", BUNDLE, "1.1.1.1")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "1.1.1.1 dev wg-mullvad table 1836018789 src 10.147.23.252 uid 0"
    assert lines[1] == "    cache"
    assert any(line.startswith("> 32765") for line in lines)


def test_route_json_and_format_json_agree() -> None:
    a = run("route", BUNDLE, "1.1.1.1", "--json")
    b = run("route", BUNDLE, "1.1.1.1", "--format", "json")
    assert a.exit_code == b.exit_code == 0
    ja, jb = json.loads(a.output), json.loads(b.output)
    assert ja == jb
    assert (ja["dev"], ja["table"], ja["rule"], ja["src"]) == \
        ("wg-mullvad", 1836018789, 32765, "10.147.23.252")


def test_pasted_session_is_a_source() -> None:
    r = run("route", SESSION, "1.1.1.1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["dev"] == "wg-mullvad"


def test_keywords_after_dst_and_flags_are_the_same() -> None:
    a = json.loads(run("route", BUNDLE, "203.0.113.76", "mark", "0x6d6f6c65", "--json").output)
    b = json.loads(run("route", BUNDLE, "203.0.113.76", "--mark", "1836018789", "--json").output)
    assert a == b and a["dev"] == "wlp0s20f3" and a["gateway"] == "192.168.44.1"
    c = json.loads(run("route", BUNDLE, "to", "192.168.44.83", "from", "1.2.3.4", "iif",
                       "wlp0s20f3", "--json").output)
    assert (c["type"], c["dev"], c["iif"]) == ("local", "lo", "wlp0s20f3")


def test_refusal_is_json_with_error_and_exit_0() -> None:
    r = run("route", BUNDLE, "1.1.1.1", "--from", "8.8.8.8", "--json")
    assert r.exit_code == 0
    j = json.loads(r.output)
    assert (j["error"], j["dev"], j["type"]) == ("ENETUNREACH", None, "unreachable")
    t = run("route", BUNDLE, "1.1.1.1", "from", "8.8.8.8")
    assert t.output.splitlines()[0] == "RTNETLINK answers: Network is unreachable"


@pytest.mark.parametrize("args,needle", [
    (["route", BUNDLE, "not-an-address"], "expected an IPv4 or IPv6 address"),
    (["route", BUNDLE, "1.1.1.1", "mark", "zz"], "mark"),
    (["route", BUNDLE, "1.1.1.1", "bogus", "x"], "expected"),
    (["route", BUNDLE], "DST"),
    (["route", "/nonexistent/dump.txt", "1.1.1.1"], "/nonexistent/dump.txt"),
    (["route", BUNDLE, "1.1.1.1", "vrf", "blue"], "not modelled"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    r = CliRunner().invoke(cli.main, args)
    assert r.exit_code == 2, r.output
    err = r.stderr if hasattr(r, "stderr") else r.output
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_internal_error_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import wgexplain.kernel.route as route_mod

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(route_mod, "route_get", boom)
    r = run("route", BUNDLE, "1.1.1.1")
    assert r.exit_code == 1
    assert "internal error" in r.output and "kaboom" in r.output


def test_batch_file_gives_json_lines_in_order(tmp_path: Path) -> None:
    f = tmp_path / "q.txt"
    f.write_text("1.1.1.1\n\n# a comment\nroute get 203.0.113.76 mark 0x6d6f6c65\n"
                 "1.1.1.1 from 8.8.8.8\nto 2606:4700::1\n192.168.44.83 from 1.2.3.4 iif wlp0s20f3\n")
    r = run("route", BUNDLE, "--batch", str(f))
    assert r.exit_code == 0, r.output
    objs = [json.loads(x) for x in r.output.splitlines()]
    assert [o["dst"] for o in objs] == ["1.1.1.1", "203.0.113.76", "1.1.1.1", "2606:4700::1",
                                        "192.168.44.83"]
    assert [o.get("error") for o in objs] == [None, None, "ENETUNREACH", None, None]
    assert objs[3]["type"] == "unknown"  # no IPv6 listing in the bundle: not an errno
    assert objs[1]["dev"] == "wlp0s20f3" and objs[4]["type"] == "local"


def test_batch_from_stdin() -> None:
    r = run("route", BUNDLE, "--batch", "-", input="10.64.0.1\n127.0.0.1\n")
    assert r.exit_code == 0
    assert [json.loads(x)["dev"] for x in r.output.splitlines()] == ["wg-mullvad", "lo"]


def test_bad_batch_line_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "q.txt"
    f.write_text("1.1.1.1\n1.1.1.1 mark\n")
    r = run("route", BUNDLE, "--batch", str(f))
    assert r.exit_code == 2
    assert f"{f}:2: expected" in r.output
    f.write_text("1.1.1.1\nfoo.bar\n")
    r = run("route", BUNDLE, "--batch", str(f))
    assert r.exit_code == 2 and f"{f}:2:" in r.output


def test_show_text_and_json() -> None:
    r = run("show", BUNDLE)
    assert r.exit_code == 0, r.output
    assert "32765: not from all fwmark 0x6d6f6c65 lookup 1836018789" in r.output
    assert "local 192.168.44.83 dev wlp0s20f3 table local" in r.output and "(derived)" in r.output
    assert "chain output: type filter hook output" in r.output
    j = json.loads(run("show", BUNDLE, "--json").output)
    assert {"links", "addresses", "rules", "tables", "ruleset", "sysctls", "warnings"} <= set(j)
    local = next(t for t in j["tables"] if t["family"] == "inet" and t["id"] == 255)
    assert all(r["derived"] for r in local["routes"])
    assert any("IPv6" in w for w in j["warnings"])


def test_show_bad_source_exit_2() -> None:
    r = run("show", "/nonexistent/x")
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_format_table_is_extensible_and_says_what_is_missing() -> None:
    from wgexplain.errors import UsageError

    cli.register_format("demo", "text", lambda obj, ctx: f"<{obj}>")
    try:
        assert cli.render_as("demo", "text", 42, None) == "<42>"  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="not available for the demo command yet"):
            cli.render_as("demo", "svg", 42, None)  # type: ignore[arg-type]
    finally:
        del cli.FORMATS["demo"]
