"""How wgexplain fares on the corpus of real pastes (tests/pastes/, issue 9).

    .venv/bin/python benchmarks/real_pastes.py            # summary and failure kinds
    .venv/bin/python benchmarks/real_pastes.py --each     # one line per paste and outcome
    .venv/bin/python benchmarks/real_pastes.py --known    # KNOWN_FAILURES lines for tests/test_real_pastes.py

Prints: pastes read / refused / internal errors (and refusals that name the
commands to paste), reads whose warnings name the skipped lines, outcomes that
agree with the thread, that name the missing piece they hinge on, or neither,
and the failures grouped by kind. The checks are those of
tests/test_real_pastes.py (imported from there, so the two cannot drift).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_real_pastes import CORPUS, Paste, check_outcome, names_what_to_paste, show, skip_warnings  # noqa: E402


def refusal_kind(message: str) -> str:
    """A refusal's message, with what varies from paste to paste taken out."""
    m = re.sub(r"^wgexplain: \S+?:\d+(:\d+)?: ", "", message.strip())
    m = re.sub(r"got .*$", "got …", m)
    m = re.sub(r"'[^']*'", "'…'", m)
    return m[:110]


#: Failure messages -> the kind of issue 9 ("What went wrong") they belong to.
KINDS = [
    ("expected a pasted terminal session", "refused: no '$ ' command line in the paste (kind 1)"),
    ("expected a route destination", "refused: a line that is not a route inside a route listing (kinds 4, 7)"),
    ("expected a gateway address after", "refused: a redaction placeholder as gateway (kind 3)"),
    ("expected an endpoint like", "refused: a redacted endpoint in wg show (kind 3)"),
    ("expected a route attribute", "refused: a listing cut mid-line (kind 2)"),
    ("expected JSON output", "refused: an ip -j error message before the JSON (kind 7)"),
    ("no warning names the skipped", "skipped text is not named in a warning (kind 4)"),
    ("read a paste that holds no output", "a paste without outputs was read"),
]


def short(why: str) -> str:
    """The kind of a failure, for the reasons of KNOWN_FAILURES."""
    prefix = "the paste is refused, so no answer: " if why.startswith("exit 2") else ""
    for needle, kind in KINDS:
        if needle in why:
            return prefix + kind
    if "assumptions 'absent'" in why:
        return f"answered without naming what it assumed (kind 6): {why.split(';')[0]}"
    return why[:120]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--each", action="store_true", help="one line per paste and outcome")
    ap.add_argument("--known", action="store_true", help="print KNOWN_FAILURES entries for what fails")
    a = ap.parse_args()

    read = refused = internal = named = ok_read = 0
    skipped_named = 0
    kinds: Counter[str] = Counter()
    known: list[str] = []
    wrong_way: list[str] = []
    agreed = hinged = neither = 0
    by_basis: Counter[str] = Counter()
    outcome_fail: Counter[str] = Counter()

    def fail(p: Paste, check: str, why: str) -> None:
        known.append(f"    ({p.file!r}, {check!r}):\n        {short(why)!r},")

    for p in CORPUS:
        run = show(p)
        status = {0: "read", 2: "refused"}.get(run.exit_code, f"exit {run.exit_code}")
        if run.exit_code == 0:
            read += 1
            ok_read += p.expect == "read"
            if skip_warnings(run):
                skipped_named += 1
            else:
                kinds["read, but no warning names the skipped lines"] += 1
                fail(p, "skipped", "read, but no warning names the skipped lines")
        elif run.exit_code == 2:
            refused += 1
            first = run.stderr.strip().splitlines()[0] if run.stderr.strip() else ""
            if names_what_to_paste(first):
                named += 1
            if p.expect != "read" and not names_what_to_paste(first):
                k = "refused without saying what to paste: " + refusal_kind(first)
                kinds[k] += 1
                fail(p, "read", k)
            if p.expect == "read":
                k = "refused: " + refusal_kind(first)
                kinds[k] += 1
                fail(p, "read", k)
                fail(p, "skipped", k)
        else:
            internal += 1
            kinds[f"internal error (exit {run.exit_code})"] += 1
            fail(p, "read", f"exit {run.exit_code}")
        if p.expect == "refuse" and run.exit_code == 0:
            wrong_way.append(p.file)
            kinds["read a paste that holds no output"] += 1
            fail(p, "read", "read a paste that holds no output")
        if a.each:
            print(f"{p.file:50} {p.expect:7} {status}")
        for o in p.outcomes:
            v = check_outcome(p, o)
            if v.agreed:
                agreed += 1
                by_basis[o.basis + " agreed"] += 1
            elif v.hinged:
                hinged += 1
                by_basis[o.basis + " hinged"] += 1
            else:
                neither += 1
                kind = "outcome: " + ("exit " + v.why.split(":")[0].split()[1] if v.why.startswith("exit")
                                      else "disagrees, although everything it needs was pasted"
                                      if not o.hinges_on else "disagrees, assumptions name nothing")
                outcome_fail[kind] += 1
                fail(p, f"outcome:{o.id}", v.why)
            if a.each:
                mark = "agreed" if v.agreed else "hinged" if v.hinged else "FAILED"
                print(f"    {o.id:60} {mark:7} {'' if v.agreed else v.why[:150]}")

    n = len(CORPUS)
    n_out = sum(len(p.outcomes) for p in CORPUS)
    langs = ", ".join(f"{k} {v}" for k, v in Counter(p.lang for p in CORPUS).most_common())
    print(f"corpus: {n} pastes ({langs}), {n_out} outcomes")
    print(f"show: read {read}, refused {refused} ({named} naming commands to paste), internal errors {internal}")
    expected_read = sum(p.expect == "read" for p in CORPUS)
    print(f"pastes that hold listings and were read: {ok_read}/{expected_read}")
    print(f"reads whose warnings name the skipped lines: {skipped_named}/{read}")
    print(f"outcomes: agreed {agreed}, hinged on a named assumption {hinged}, neither {neither} (of {n_out})")
    print("  by basis: " + ", ".join(f"{k} {v}" for k, v in sorted(by_basis.items())))
    if wrong_way:
        print("read although nothing usable: " + ", ".join(wrong_way))
    print("failure kinds:")
    for kind, count in (kinds + outcome_fail).most_common():
        print(f"  {count:3}  {kind}")
    if a.known:
        print("\nKNOWN_FAILURES = {")
        print("\n".join(known))
        print("}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
