"""nftables reader conformance against nftables' own test corpus.

Reads ``../shared/corpus/nftables`` (relative to the repository root; see its
README files) and prints:

* dumps parsed N/M      -- every ``shell/testcases/*/dumps/*.nft`` (``nft list ruleset`` output)
* ok rules parsed N/M % -- ``py/*/*.t`` rules marked ``ok``, with ``parse_rule_text``
* text==JSON N/M %      -- rules with a JSON form in ``*.t.json``: same model from both
* fail rules N/M        -- ``fail`` rules that were read without crashing
                           (refused with DumpError, or parsed), and how many were refused
* timing of a generated 20,000-rule ruleset with large sets

Run: ``.venv/bin/python benchmarks/nft_conformance.py [-v]``. The tests
(tests/test_nft_conformance.py) import this file and assert the thresholds.

Normalisations used when comparing text with JSON (each a difference of
representation in the corpus' hand-written JSON, not of meaning):

1. numbers written as JSON strings (``"0x10"``, ``"22"``) equal the number;
2. a one-element list equals its element (``["syn"]`` is ``"syn"``);
3. symbolic and numeric spellings of one constant are equal, resolved by the
   left-hand side (``ip protocol 6`` is ``ip protocol tcp``; reject codes by
   reject type), with :func:`wgexplain.ruleset.resolve_constant`;
4. anonymous sets are unordered (the JSON lists elements sorted);
5. ``tcp flags & syn == 0`` equals ``tcp flags ! syn`` and ``x & m != 0``
   equals ``x in m`` (the same kernel bytecode; nft lists the short form);
6. the protocol dependency nft adds by itself (``icmp type { echo-reply,
   echo-request }`` before ``icmp id`` / ``icmp sequence``) is ignored;
7. the JSON of a ``.t`` rule is compared with the model of the input text,
   and if that differs, with the model of the expected output text (the
   third field of the ``.t`` line): nft itself accepts both.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgexplain import ruleset as rs  # noqa: E402
from wgexplain.errors import DumpError  # noqa: E402
from wgexplain.sources import nft  # noqa: E402

#: ../shared/corpus/nftables beside the repository; WGEXPLAIN_NFT_CORPUS names another place
#: (a git worktree elsewhere)
CORPUS = Path(os.environ.get("WGEXPLAIN_NFT_CORPUS") or ROOT.parent / "shared" / "corpus" / "nftables")


@dataclass
class TRule:
    file: str
    line: int
    family: str
    text: str
    status: str  # ok / fail
    output: str | None


@dataclass
class Figures:
    dumps_ok: int = 0
    dumps_total: int = 0
    ok_parsed: int = 0
    ok_total: int = 0
    json_same: int = 0
    json_total: int = 0
    fail_clean: int = 0
    fail_rejected: int = 0
    fail_total: int = 0
    dump_errors: list[str] = field(default_factory=list)
    ok_errors: list[str] = field(default_factory=list)
    json_diffs: list[str] = field(default_factory=list)
    fail_crashes: list[str] = field(default_factory=list)


def t_rules(corpus: Path = CORPUS) -> list[TRule]:
    """Rule lines of ``py/*/*.t``: ``rule;ok[;expected output]`` / ``rule;fail``,
    in the family of the first table the file declares (``*family;table;chains``)."""
    out: list[TRule] = []
    for path in sorted(glob.glob(str(corpus / "py" / "*" / "*.t"))):
        family = "inet"
        for no, line in enumerate(Path(path).read_text().splitlines(), 1):
            s = line.strip()
            if not s or s[0] in "#:-!?%":
                continue
            if s.startswith("*"):
                family = s[1:].split(";")[0]
                continue
            parts = s.split(";")
            if len(parts) < 2 or parts[1] not in ("ok", "fail"):
                continue
            out.append(TRule(path, no, family, parts[0], parts[1],
                             parts[2] if len(parts) > 2 and parts[2] else None))
    return out


def json_forms(corpus: Path = CORPUS) -> dict[tuple[str, str], Any]:
    """``# rule`` → JSON list, from ``py/*/*.t.json``."""
    out: dict[tuple[str, str], Any] = {}
    for path in sorted(glob.glob(str(corpus / "py" / "*" / "*.t.json"))):
        text = Path(path).read_text()
        for m in re.finditer(r"^# (.*)\n((?:(?!^# ).*\n?)*)", text, flags=re.M):
            body = m.group(2).strip()
            if not body:
                continue
            try:
                out[(path[:-5], m.group(1).strip())] = json.loads(body)
            except json.JSONDecodeError:
                continue
    return out


def _norm_json(j: Any) -> Any:
    if isinstance(j, dict):
        return {k: _norm_json(v) for k, v in j.items()}
    if isinstance(j, list):
        items = [_norm_json(v) for v in j]
        return items[0] if len(items) == 1 else items
    if isinstance(j, str) and re.fullmatch(r"0x[0-9a-fA-F]+|[0-9]+", j):
        return int(j, 0)
    return j


def _norm(x: Any) -> Any:
    """Normalise a model tree for comparison (see the module docstring)."""
    if isinstance(x, tuple) and x and all(type(s).__name__ != "tuple" for s in x) and any(
            isinstance(s, rs.Match) for s in x):
        x = _drop_dependencies(x)
    if isinstance(x, rs.Match):
        left, op, right = x.left, x.op, x.right
        if isinstance(left, rs.Binop) and left.op == "&" and right == 0 and op in ("==", "!="):
            left, op, right = left.left, "!" if op == "==" else "in", left.right
        right = rs.resolve_constant(left, _int_str(right))
        return ("Match", _norm(left), op, _norm(right))
    if isinstance(x, rs.Reject) and x.type in rs.REJECT_CODES and isinstance(x.code, str):
        return ("Reject", x.type, rs.REJECT_CODES[x.type].get(x.code, x.code))
    if isinstance(x, (rs.Unknown, rs.UnknownExpr)):
        return (type(x).__name__, x.kind, json.dumps(_norm_json(json.loads(x.json)), sort_keys=True))
    if isinstance(x, rs.SetLiteral):
        return ("SetLiteral", tuple(sorted((_norm(e) for e in x.elements), key=repr)))
    if is_dataclass(x) and not isinstance(x, type):
        if type(x).__name__ == "FlagList" and len(x.values) == 1:
            return _norm(x.values[0])
        return (type(x).__name__,) + tuple(_norm(getattr(x, f.name)) for f in fields(x))
    if isinstance(x, tuple):
        return tuple(_norm(v) for v in x)
    return _int_str(x)


def _int_str(x: Any) -> Any:
    if isinstance(x, str) and re.fullmatch(r"0x[0-9a-fA-F]+|[0-9]+", x):
        return int(x, 0)
    return x


def _drop_dependencies(stmts: tuple) -> tuple:
    out = []
    for i, s in enumerate(stmts):
        nxt = stmts[i + 1] if i + 1 < len(stmts) else None
        if (isinstance(s, rs.Match) and s.left == rs.Payload("icmp", "type")
                and isinstance(s.right, rs.SetLiteral)
                and set(s.right.elements) == {"echo-reply", "echo-request"}
                and isinstance(nxt, rs.Match) and isinstance(nxt.left, rs.Payload)
                and nxt.left.protocol == "icmp" and nxt.left.field in ("id", "sequence")):
            continue
        out.append(s)
    return tuple(out)


def same_model(a: Any, b: Any) -> bool:
    return _norm(a) == _norm(b)


def run(corpus: Path = CORPUS, verbose: bool = False) -> Figures:
    f = Figures()
    for path in sorted(glob.glob(str(corpus / "shell" / "testcases" / "*" / "dumps" / "*.nft"))):
        f.dumps_total += 1
        try:
            nft.parse_ruleset_text(Path(path).read_text(), path)
            f.dumps_ok += 1
        except DumpError as exc:
            f.dump_errors.append(str(exc))
    forms = json_forms(corpus)
    for r in t_rules(corpus):
        where = f"{r.file}:{r.line}"
        if r.status == "fail":
            f.fail_total += 1
            try:
                nft.parse_rule_text(r.text, r.family, where)
                f.fail_clean += 1
            except DumpError:
                f.fail_clean += 1
                f.fail_rejected += 1
            except Exception as exc:  # a crash: what the test forbids
                f.fail_crashes.append(f"{where}: {r.text}: {exc!r}")
            continue
        f.ok_total += 1
        try:
            model = nft.parse_rule_text(r.text, r.family, where)
            f.ok_parsed += 1
        except DumpError as exc:
            f.ok_errors.append(f"{exc} || {r.text}")
            continue
        except Exception as exc:
            f.ok_errors.append(f"{where}: CRASH {exc!r} || {r.text}")
            continue
        j = forms.get((r.file, r.text))
        if j is None:
            continue
        f.json_total += 1
        try:
            from_json = nft.parse_rule_json(j, where, family=r.family)
        except DumpError as exc:
            f.json_diffs.append(f"{where}: JSON unreadable: {exc}")
            continue
        if same_model(model.exprs, from_json.exprs):
            f.json_same += 1
            continue
        if r.output:
            try:
                out_model = nft.parse_rule_text(r.output, r.family, where)
                if same_model(out_model.exprs, from_json.exprs):
                    f.json_same += 1
                    continue
            except DumpError:
                pass
        f.json_diffs.append(f"{where}: {r.text}\n    text: {model.exprs}\n    json: {from_json.exprs}")
    return f


def big_ruleset(n_rules: int = 20000, set_size: int = 5000) -> str:
    """A generated ruleset: ``n_rules`` rules over a few chains, two large sets."""
    lines = ["table inet big {",
             "\tset blocked4 {", "\t\ttype ipv4_addr", "\t\tflags interval",
             "\t\telements = { " + ",\n\t\t\t     ".join(
                 f"10.{i // 250}.{i % 250}.0/24" for i in range(set_size)) + " }", "\t}",
             "\tmap ports {", "\t\ttype inet_service : verdict",
             "\t\telements = { " + ",\n\t\t\t     ".join(
                 f"{1000 + i} : {'accept' if i % 2 else 'drop'}" for i in range(set_size)) + " }",
             "\t}"]
    per_chain = n_rules // 4
    for c, hook in enumerate(("input", "output", "forward", "prerouting")):
        lines += [f"\tchain c{c} {{", f"\t\ttype filter hook {hook} priority filter; policy accept;"]
        for i in range(per_chain):
            k = c * per_chain + i
            lines.append(
                f"\t\tip saddr 198.51.{k % 250}.{k % 200} tcp dport {{ {k % 60000 + 1}, "
                f"{(k + 7) % 60000 + 1} }} ct state established,related meta mark 0x{k:08x} "
                f"counter packets {k} bytes {k * 60} accept comment \"rule {k}\" # handle {k + 10}")
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    if not CORPUS.is_dir():
        print(f"corpus not found: {CORPUS}")
        return 1
    t0 = time.perf_counter()
    f = run(CORPUS, verbose)
    dt = time.perf_counter() - t0
    pct = lambda a, b: 100.0 * a / b if b else 0.0  # noqa: E731
    print(f"dumps parsed      {f.dumps_ok}/{f.dumps_total}")
    print(f"ok rules parsed   {f.ok_parsed}/{f.ok_total} ({pct(f.ok_parsed, f.ok_total):.1f} %)")
    print(f"text == JSON      {f.json_same}/{f.json_total} ({pct(f.json_same, f.json_total):.1f} %)")
    print(f"fail rules        {f.fail_clean}/{f.fail_total} read without crash, "
          f"{f.fail_rejected} rejected with DumpError")
    print(f"corpus time       {dt:.2f} s")
    text = big_ruleset()
    t0, c0 = time.perf_counter(), time.process_time()
    rs = nft.parse_ruleset_text(text, "<big>")
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = sum(len(c.rules) for t in rs.tables for c in t.chains)
    elems = sum(len(s.elements) for t in rs.tables for s in (*t.sets, *t.maps))
    print(f"big ruleset       {n} rules, {elems} set/map elements, {len(text) / 1e6:.1f} MB "
          f"parsed in {dt:.2f} s wall, {cpu:.2f} s CPU")
    t0 = time.process_time()
    json_text = json.dumps(rs.to_json())
    nft.parse_ruleset_json(json_text, "<big.json>")
    print(f"big ruleset JSON  {len(json_text) / 1e6:.1f} MB read in {time.process_time() - t0:.2f} s CPU")
    if verbose:
        for title, items in (("dump errors", f.dump_errors), ("ok rules not parsed", f.ok_errors),
                             ("text != JSON", f.json_diffs), ("fail-rule crashes", f.fail_crashes)):
            print(f"\n== {title} ({len(items)})")
            for it in items:
                print(" ", it)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
