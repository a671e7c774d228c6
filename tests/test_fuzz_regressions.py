"""Every crash the fuzzer found (issue 10's 35 kinds and the fuzzer's own), kept as a test.

Each input once ended in ``internal error`` (exit 1). Now it is data: read,
or refused in one line naming the file and line or JSON object (exit 2).
Each case runs through every reader and ``show``, ``route``, ``trace``,
``check`` and ``redact`` (``fuzz.target.run_case``), and where the fix is a
refusal, the message is checked through the CLI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from fuzz.target import Case, run_case  # noqa: E402

from wgexplain.cli import main  # noqa: E402

DEEP = "[" * 5000 + "]" * 5000
SESSION = (Path(__file__).resolve().parent.parent / "examples" / "mullvad" / "session-en.txt"
           ).read_text()


def NFT(body: str) -> str:  # noqa: N802 - a table around a body, as nft lists it
    return "table inet t {\n" + body + "\n}\n"


def RULE(rule: str) -> str:  # noqa: N802 - one rule in an output chain
    return NFT("\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n"
               "\t\t" + rule + "\n\t}")

#: (id, file name, input, what must happen: "read", "any" (read or refused), or a regex the
#: one-line refusal matches)
CASES: list[tuple[str, str, str | bytes, str]] = [
    # -- isdigit() took '²' and '①', which int() refuses
    ("rule-pref-superscript", "ip-rule.txt", "1²:\tfrom all lookup main\n",
     r"ip-rule.txt:1:1: expected a rule preference"),
    ("rule-pref-circled", "ip6-rule.txt", "①:\tfrom all lookup main\n",
     r"ip6-rule.txt:1:1: expected a rule preference"),
    ("rule-pref-above-u32", "ip-rule.txt", "4294967296:\tfrom all lookup main\n",
     r"ip-rule.txt:1:1: expected a rule preference"),
    ("rule-pref-5000-digits", "ip-rule.txt", "9" * 5000 + ":\tfrom all lookup main\n",
     r"ip-rule.txt:1:1: expected a rule preference"),
    ("rule-suppress-prefixlength", "ip-rule.txt",
     "32764:\tfrom all lookup main suppress_prefixlength ²\n",
     r"ip-rule.txt:1:\d+: expected a prefix length, got '²'"),
    ("rule-goto", "ip-rule.txt", "100:\tfrom all goto ③\n", r"ip-rule.txt:1:\d+: expected a rule"),
    ("rule-uidrange", "ip-rule.txt", "100:\tfrom all uidrange 1-² lookup main\n",
     r"ip-rule.txt:1:\d+: expected a uid range"),
    ("rule-prefix-length", "ip-rule.txt", "100:\tfrom 10.0.0.0/² lookup main\n",
     r"ip-rule.txt:1:\d+: expected an IPv4 address or prefix"),
    ("route-metric", "ip-route.txt", "default via 10.0.0.1 dev eth0 metric ²\n",
     r"ip-route.txt:1:\d+: expected a number from 0 to 4294967295 after 'metric'"),
    ("route-metric-above-u32", "ip-route.txt", "default via 10.0.0.1 dev eth0 metric 4294967296\n",
     r"ip-route.txt:1:\d+: expected a number"),
    ("route-mtu", "ip-route.txt", "default via 10.0.0.1 dev eth0 mtu lock ①\n",
     r"ip-route.txt:1:\d+: expected a number from 0 to 4294967295 after 'mtu'"),
    ("route-weight", "ip-route.txt",
     "default proto static\n\tnexthop via 10.0.0.1 dev eth0 weight ²\n",
     r"ip-route.txt:1(:\d+)?: expected 'weight N' \(1 to 256\) inside a 'nexthop', got '²'"),
    ("route-expires", "ip6-route.txt", "2001:db8::/64 dev eth0 expires ²sec\n",
     r"ip6-route.txt:1:\d+: expected 'expires Nsec'"),
    ("route-rtt-infinite", "ip-route.txt", "default via 10.0.0.1 dev eth0 rtt 1e999s\n",
     r"ip-route.txt:1:\d+: expected a time like 10ms"),
    ("link-mtu", "ip-link.txt", "1: lo: <LOOPBACK,UP> mtu ¹ qdisc noqueue state UNKNOWN\n",
     r"ip-link.txt:1:\d+: expected a number from 0 to 4294967295 after 'mtu'"),
    ("link-index", "ip-link.txt", "①: lo: <LOOPBACK,UP> mtu 65536\n",
     r"ip-link.txt:1:1: expected a link header"),
    ("addr-scope", "ip-addr.txt",
     "2: eth0: <UP> mtu 1500\n    inet 10.0.0.2/8 scope ² eth0\n",
     r"ip-addr.txt:2:\d+: expected a scope"),
    ("wg-dump-port", "wg.txt", "wg0\t(none)\tKEY=\t5182²\toff\n",
     r"wg.txt:1: expected a listen port"),
    ("wg-dump-handshake", "wg.txt",
     "wg0\t(none)\tKEY=\t51820\toff\nwg0\tPEER=\t(none)\t(none)\t0.0.0.0/0\t①\t0\t0\toff\n",
     r"wg.txt:2: expected a handshake time"),
    ("wg-dump-keepalive", "wg.txt",
     "wg0\t(none)\tKEY=\t51820\toff\nwg0\tPEER=\t(none)\t(none)\t0.0.0.0/0\t0\t0\t0\t²\n",
     r"wg.txt:2: expected a keepalive"),
    ("wg-endpoint-port", "wg.txt",
     "wg0\t(none)\tKEY=\t51820\toff\nwg0\tPEER=\t(none)\t1.2.3.4:5²\t0.0.0.0/0\t0\t0\t0\toff\n",
     r"wg.txt:2: expected an endpoint"),
    ("wg-fwmark", "wg.txt", "wg0\t(none)\tKEY=\t51820\t①\n", r"wg.txt:1: expected a fwmark"),
    ("wg-handshake-5000-digits", "paste.txt",
     "$ wg show\ninterface: wg0\npeer: PEER=\n  latest handshake: " + "9" * 5000 +
     " years ago\n", "read"),
    ("sysctl-arabic-digit", "sysctl.txt", "net.ipv4.ip_forward = ١\n",
     r"sysctl.txt:1: expected a number for net.ipv4.ip_forward"),
    ("tos-superscript", "ip-rule.txt", "100:\tfrom all tos ² lookup main\n",
     r"ip-rule.txt:1:\d+: expected a tos value"),
    # -- JSON values of the wrong shape
    ("rule-json-infinity", "ip-rule.json",
     '[{"priority":1,"src":"all","table":"main","uid_start":Infinity}]\n',
     r"ip-rule.json:1: expected JSON as iproute2 and nft print it, got 'Infinity"),
    ("rule-json-nan", "ip-rule.json", '[{"priority":NaN,"src":"all","table":"main"}]\n',
     r"ip-rule.json:1: expected JSON as iproute2 and nft print it, got 'NaN"),
    ("rule-json-1e999", "ip-rule.json",
     '[{"priority":1,"src":"all","table":"main","sport":1e999}]\n',
     r"ip-rule.json:1: expected JSON as iproute2 and nft print it, got '1e999"),
    ("rule-json-float", "ip-rule.json",
     '[{"priority":1,"src":"all","table":"main","suppress_prefixlen":1.5}]\n',
     r"ip-rule.json:1: expected a number from -2147483648 to 2147483647 for 'suppress_prefixlen'"),
    ("rule-json-srclen-list", "ip-rule.json",
     '[{"priority":1,"src":"10.0.0.0","srclen":[],"table":"main"}]\n',
     r"ip-rule.json:1: expected a number from 0 to 32 for 'srclen'"),
    ("rule-json-flow-list", "ip-rule.json",
     '[{"priority":1,"src":"all","table":"main","flow_to":[[]]}]\n',
     r"ip-rule.json:1: expected a string or number for 'flow_to'"),
    ("json-nested-deeper-than-recursion", "ip-route.json", "[" + DEEP + "]\n",
     r"ip-route.json:1: expected JSON nested at most 100 deep"),
    ("json-5000-digits", "ip-rule.json", '[{"priority":' + "9" * 5000 + "}]\n",
     r"ip-rule.json:1: expected JSON as iproute2 and nft print it, got 'a number too long"),
    ("json-nested-deep-in-object", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[],"linkinfo":' + '{"a":' * 500 + "1" + "}" * 500
     + "}]\n", r"ip-addr.json:1: expected JSON nested at most 100 deep"),
    ("addr-json-flags-list-of-list", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[[]],"mtu":65536}]\n',
     r"ip-addr.json:1: expected a list of flag names for 'flags' of lo"),
    ("addr-json-flags-null", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[null],"mtu":65536}]\n',
     r"ip-addr.json:1: expected a list of flag names"),
    ("addr-json-addr-info-nan", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[],"addr_info":NaN}]\n',
     r"ip-addr.json:1: expected JSON as iproute2 and nft print it, got 'NaN"),
    ("addr-json-addr-info-number", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[],"addr_info":5}]\n',
     r"ip-addr.json:1: expected a list for 'addr_info' of lo"),
    ("addr-json-ifname-list", "ip-addr.json", '[{"ifindex":1,"ifname":["lo"],"flags":[]}]\n',
     r"ip-addr.json:1: expected a device name for 'ifname'"),
    ("addr-json-prefixlen-null", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[],"addr_info":[{"family":"inet","local":"1.2.3.4",'
     '"prefixlen":null}]}]\n', r"ip-addr.json:1: expected an addr_info object"),
    ("addr-json-mtu-negative", "ip-addr.json", '[{"ifindex":1,"ifname":"lo","mtu":-1}]\n',
     r"ip-addr.json:1: expected a number for 'mtu' of lo"),
    ("addr-json-operstate-list", "ip-addr.json",
     '[{"ifindex":1,"ifname":"lo","flags":[],"operstate":[]}]\n',
     r"ip-addr.json:1: expected a string for 'operstate' of lo"),
    ("route-json-nexthops-of-numbers", "ip-route.json",
     '[{"dst":"default","nexthops":[1]}]\n', r"ip-route.json:1: expected a non-empty list of"),
    ("route-json-dev-list", "ip-route.json", '[{"dst":"default","dev":[]}]\n',
     r"ip-route.json:1: expected a device name for 'dev'"),
    ("route-json-metric-above-u32", "ip-route.json",
     '[{"dst":"default","dev":"eth0","metric":4294967296}]\n',
     r"ip-route.json:1: expected a number from 0 to 4294967295 for 'metric'"),
    # -- nft text and JSON (read by sources/nft.py)
    ("nft-typeof-raw-payload", "ruleset.nft",
     NFT("\tset s {\n\t\ttypeof ip daddr . @ih,32,32\n\t\telements = { 1.1.1.1 . 0x1 }\n\t}"),
     "read"),
    ("nft-devices-nested-braces", "ruleset.nft",
     NFT("\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { { } }\n\t}"),
     r"ruleset.nft:4: expected device names"),
    ("nft-ct-timeout-timeout-tcp", "ruleset.nft",
     NFT("\tct timeout c {\n\t\tprotocol tcp\n\t\tl3proto ip\n\t\tpolicy = { established : 100 }"
         "\n\t\ttimeout tcp\n\t}"), r"ruleset.nft:6: expected a ct timeout line"),
    ("nft-rate-1-second", "ruleset.nft", RULE("limit rate 1.second accept"),
     r"ruleset.nft:4: expected a rate like 'limit rate 10/second'"),
    ("nft-quota-without-number", "ruleset.nft", NFT("\tquota q {\n\t\ts\n\t}"),
     r"ruleset.nft:3: expected a quantity like '10 mbytes'"),
    ("nft-object-body-unbalanced", "ruleset.nft", "tablei{counterr{packets y}}",
     r"ruleset.nft:1: expected a counter line"),
    ("nft-limit-object-word", "ruleset.nft", "table r{limith{rate h}}",
     r"ruleset.nft:1: expected a rate like"),
    ("nft-flowtable-priority-word", "ruleset.nft", "tabler{flowtableM{hooks prioritye}}",
     r"ruleset.nft:1: expected a valid flowtable"),
    ("nft-meter-nested-deep", "ruleset.nft",
     RULE("meter m " + "{ ip saddr " * 300 + "limit rate 10/second" + " }" * 300 + " accept"),
     r"ruleset.nft:4(:\d+)?: expected"),
    ("nft-set-nested-deep", "ruleset.nft",
     RULE("ip daddr " + "{ " * 400 + "1.1.1.1" + " }" * 400 + " drop"),
     r"ruleset.nft:4: expected at most 32 nested"),
    ("nft-json-chain-prio-list", "nft-ruleset.json",
     '{"nftables": [{"table": {"family": "inet", "name": "t", "handle": 1}}, {"chain": '
     '{"family": "inet", "table": "t", "name": "c", "handle": 1, "type": "filter", '
     '"hook": "output", "prio": [], "policy": "accept"}}]}', r"nft-ruleset.json:1: expected"),
    ("nft-json-nested-deeper-than-recursion", "nft-ruleset.json",
     '{"nftables": ' + DEEP + "}\n", r"nft-ruleset.json:1: expected"),
    ("nft-map-element-huge-prefix", "paste.txt",
     SESSION + "\n$ nft list ruleset\n"
     + RULE("ip daddr vmap { 10.141.12.0/999999999999 : accept, 1.1.1.0/24 : drop }"),
     "read"),  # the damaged line is skipped with a warning
    ("nft-mask-negative-shift", "paste.txt",
     SESSION + "\n$ nft list ruleset\n" + RULE("meta mark 0x10/40 drop"),
     "read"),  # the damaged line is skipped with a warning
    # -- values that loaded, then crashed a later stage
    ("route-v4-with-v6-src", "paste.txt",
     "$ ip route\n10.0.0.0/8 dev eth0 src FE80::ABCD\n",
     r"paste.txt:2:1: expected a source and gateway of the destination's family"),
    ("route-v4-with-v6-src-first", "ip-route.txt",
     "default dev eth0 src FE80::ABCD\n10.0.0.0/8 dev eth0 src 10.0.0.1\n",
     r"ip-route.txt:1:\d+: expected an IPv4 route"),
    ("route-v4-with-v6-gateway", "ip-route.txt", "10.0.0.0/8 via fe80::1 dev eth0\n",
     r"ip-route.txt:1:1: expected a source and gateway of the destination's family"),
    ("route-src-then-other-gateway", "ip-route.txt",
     "default via fe80::1 dev eth0 src 10.0.0.1\n",
     r"ip-route.txt:1:\d+: expected a source address of the route's family"),
    ("route-json-v4-with-v6-prefsrc", "ip-route.json",
     '[{"dst":"10.0.0.0/8","dev":"eth0","prefsrc":"FE80::ABCD"}]\n',
     r"ip-route.json:1: expected a source address \('prefsrc'\) of the route's family"),
    ("link-name-json-escaped-surrogate", "ip-link.json",
     '[{"ifindex":1,"ifname":"lo\\ud800","flags":["UP"],"mtu":65536}]\n', "read"),
    ("nft-name-json-escaped-surrogate", "nft-ruleset.json",
     '{"nftables": [{"table": {"family": "inet", "name": "t\\udfff", "handle": 1}}]}\n', "read"),
    ("paste-long-line-of-words", "paste.txt", "table " + "ip " * 100_000 + "filter {\n}\n",
     "any"),
    ("paste-backticks-around-a-blank", "paste.txt", "```\n` `", "any"),
    ("link-name-lone-surrogate", "paste.txt",
     b"$ ip link\n1: eth\xff: <UP> mtu 1500 qdisc noqueue state UP\n", "read"),
]


def _run(name: str, data: bytes, *args: str, tmp: Path) -> tuple[int, str]:
    p = tmp / name
    p.write_bytes(data)
    r = CliRunner().invoke(main, ["show", str(p), *args])
    return r.exit_code, r.output


@pytest.mark.parametrize("name,text,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_crash_found_by_the_fuzzer_is_data(tmp_path: Path, name: str, text: str | bytes,
                                            expect: str) -> None:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    for mode in ("file", "stdin", "api"):
        o = run_case(Case(name, data, mode), timeout=30)
        assert o.status in ("read", "refused"), (mode, o)
    if expect == "any":  # read or refused: what matters is the time it took (once minutes)
        return
    code, out = _run(name, data, tmp=tmp_path)
    if expect == "read":
        assert code == 0, out
        return
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert re.search(expect, lines[0]), lines[0]


def test_stdin_holding_invalid_utf8_is_read_as_a_file_is(tmp_path: Path) -> None:
    """``show -`` with bytes that are not UTF-8: replaced (as in a file), not an internal error."""
    data = b"$ ip link\n1: \xff\xfe: <UP> mtu 1500 qdisc noqueue state UP\n"
    r = CliRunner().invoke(main, ["show", "-"], input=data)
    assert r.exit_code == 0, r.output
    assert "1: \ufffd\ufffd <UP> mtu 1500" in r.output


def test_redact_stdin_holding_invalid_utf8_is_refused_in_one_line() -> None:
    """``redact -`` reads as strictly as ``redact FILE``: bytes that are not UTF-8 are named."""
    import io

    from wgexplain.errors import DumpError
    from wgexplain.redact import redact_source

    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"$ ip link\n1: eth\xff: <UP> mtu 1500\n"),
                                 encoding="utf-8", errors="strict")
    try:
        with pytest.raises(DumpError, match=r"<stdin>:0: expected UTF-8 text, got 'binary data "
                                             r"\(byte 0xff at offset 16\)'"):
            redact_source("-")
    finally:
        sys.stdin = old


def test_redact_of_json_nested_deeper_than_python_reads(tmp_path: Path) -> None:
    """A fragment holding JSON nested 5000 deep is redacted as text, not an internal error."""
    r = CliRunner().invoke(main, ["redact", "-"], input="[" * 5000 + "1.2.3.4" + "]" * 5000)
    assert r.exit_code in (0, 2), r.output
    assert "internal error" not in r.output
    assert "1.2.3.4" not in r.output
