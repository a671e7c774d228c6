"""The corpus of real pastes (issue 9): what people post, read as a new user would.

``tests/pastes/`` holds pastes from public threads (outputs as posted, public
addresses replaced by documentation ranges, prose rewritten in the same shape)
and ``tests/pastes/index.toml`` says where each came from and, where the thread
tells, what really happened. For every paste:

* ``show`` reads it (exit 0) or refuses it (exit 2) with one line that names the
  commands to paste; never exit 1, never a traceback;
* a paste that holds usable listings is read, not refused;
* the prose around the listings is skipped with a warning that names its lines;
* each recorded outcome: ``route``/``trace`` agrees with what happened, or its
  ``assumptions`` name the missing piece the answer hinges on.

What the reader cannot do yet is marked ``xfail(strict=True)`` in
:data:`KNOWN_FAILURES` with the reason, so the suite stays green and each case
fails loudly (XPASS) the day it starts to work: then delete its line.
``benchmarks/real_pastes.py`` prints the same checks as counts.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wgexplain import cli

PASTES = Path(__file__).resolve().parent / "pastes"

#: The commands whose output wgexplain reads; a refusal names at least two of them.
COMMANDS = {
    "ip rule": re.compile(r"\bip (-[46j] )*(rule|ru)\b"),
    "ip route": re.compile(r"\bip (-[46j] )*(route|r)\b(?! get)"),
    "ip addr": re.compile(r"\bip (-[46j] )*(addr|a|address)\b"),
    "nft list ruleset": re.compile(r"\bnft (-j )?list ruleset\b"),
    "wg show": re.compile(r"\bwg show\b"),
}


def names_what_to_paste(message: str) -> bool:
    """The message tells what to paste: it names at least two of :data:`COMMANDS`."""
    return sum(bool(rx.search(message)) for rx in COMMANDS.values()) >= 2
#: A warning about skipped text: says it skipped and names lines.
SKIPPED = re.compile(r"skip|not read|ignor|not (network|a listing)|unrecogni", re.I)
LINES = re.compile(r"\blines? \d+|\d+\s*[-–]\s*\d+|:\d+\b")


@dataclass(frozen=True)
class Outcome:
    """One checkable expectation from the thread (or from the complete listings)."""

    command: str
    dst: str
    args: tuple[str, ...]
    expect: dict[str, Any]
    hinges_on: tuple[str, ...]
    basis: str

    @property
    def id(self) -> str:
        extra = "".join(a.strip("-") for a in self.args)
        return f"{self.command}-{self.dst}{('-' + extra) if extra else ''}"


@dataclass(frozen=True)
class Paste:
    file: str
    source: str
    client: str
    lang: str
    shape: tuple[str, ...]
    expect: str
    thread: str
    outcomes: tuple[Outcome, ...] = field(default=())

    @property
    def path(self) -> Path:
        return PASTES / self.file

    @property
    def id(self) -> str:
        return self.file.split("-", 1)[0] + "-" + self.file.rsplit(".", 1)[0].split("-", 1)[1]


def load_corpus() -> list[Paste]:
    """The pastes of ``tests/pastes/index.toml``, in file order."""
    with (PASTES / "index.toml").open("rb") as f:
        data = tomllib.load(f)
    pastes = []
    for p in data["paste"]:
        outs = tuple(
            Outcome(o["command"], o["dst"], tuple(o.get("args", ())), dict(o.get("expect", {})),
                    tuple(o.get("hinges_on", ())), o.get("basis", "thread"))
            for o in p.get("outcome", ())
        )
        pastes.append(Paste(p["file"], p["source"], p["client"], p["lang"], tuple(p["shape"]),
                            p["expect"], p.get("thread", ""), outs))
    return pastes


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke(*args: str) -> Run:
    """``wgexplain ARGS`` in-process; an exception escaping the CLI counts as exit 1."""
    r = CliRunner().invoke(cli.main, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return Run(1, r.stdout, r.stderr + f"\n{type(r.exception).__name__}: {r.exception}")
    return Run(r.exit_code, r.stdout, r.stderr)


def show(paste: Paste) -> Run:
    return invoke("show", str(paste.path), "--json")


def skip_warnings(run: Run) -> list[str]:
    """The warnings of a ``show --json`` run that report skipped text by its lines."""
    if run.exit_code != 0:
        return []
    return [w for w in run.json().get("warnings", []) if SKIPPED.search(w) and LINES.search(w)]


@dataclass(frozen=True)
class Verdict:
    """How one outcome came out: ``agreed`` (the answer matches), ``hinged``
    (it names the missing piece it depends on), or neither (``why``)."""

    agreed: bool
    hinged: bool
    why: str

    @property
    def ok(self) -> bool:
        return self.agreed or self.hinged


def check_outcome(paste: Paste, o: Outcome) -> Verdict:
    run = invoke(o.command, str(paste.path), o.dst, *o.args, "--json")
    if run.exit_code != 0:
        return Verdict(False, False, f"exit {run.exit_code}: {run.stderr.strip()[:300]}")
    d = run.json()
    mismatches = []
    for key, want in o.expect.items():
        if key == "not_dev":  # a device was found, and it is another one
            if d.get("dev") in (want, None):
                mismatches.append(f"dev is {d.get('dev')!r}" + (f" ({d['error']})" if d.get("error") else ""))
        elif key == "never_dev":  # whatever the answer, not this device
            if d.get("dev") == want:
                mismatches.append(f"dev is {want!r}")
        elif d.get(key) != want:
            mismatches.append(f"{key} {d.get(key)!r} != {want!r}")
    agreed = bool(o.expect) and not mismatches
    said = " ".join(str(a) for a in d.get("assumptions", [])).lower()
    hinged = d.get("exact") is not True and any(
        re.search(rf"(?<![\w-]){re.escape(h.lower())}(?![\w-])", said) for h in o.hinges_on)
    why = "; ".join(mismatches) or ("no expectation: must name " + " / ".join(o.hinges_on))
    if not hinged and o.hinges_on:
        why += f"; assumptions {d.get('assumptions', 'absent')!r} name none of {list(o.hinges_on)}"
    return Verdict(agreed, hinged, why)


CORPUS = load_corpus()

# --------------------------------------------------------------------------
# What fails today (main at the time of writing), with the kind of failure.
# Delete a line when its case XPASSes.
# --------------------------------------------------------------------------

KNOWN_FAILURES: dict[tuple[str, str], str] = {
}


def _param(paste: Paste, check: str, *extra: Any, suffix: str = "") -> Any:
    reason = KNOWN_FAILURES.get((paste.file, f"{check}:{suffix}" if suffix else check))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(paste, *extra, id=paste.id + (f"-{suffix}" if suffix else ""), marks=marks)


def test_corpus_is_complete() -> None:
    """Every file is indexed, every index entry exists, enough pastes and shapes."""
    files = {p.name for p in PASTES.iterdir() if p.name != "index.toml"}
    indexed = [p.file for p in CORPUS]
    assert sorted(indexed) == sorted(files)
    assert len(set(indexed)) == len(indexed)
    assert len(CORPUS) >= 45
    assert {p.lang for p in CORPUS} >= {"en", "ja", "ru", "zh"}
    assert {p.expect for p in CORPUS} <= {"read", "refuse", "either"}
    for p in CORPUS:
        assert p.source.startswith("https://"), p.file
        text = p.path.read_text(encoding="utf-8")
        assert "192.0.2." not in text, f"{p.file}: 192.0.2.0/24 is not to be used"


@pytest.mark.parametrize("paste", [pytest.param(p, id=p.id) for p in CORPUS])
def test_never_an_internal_error(paste: Paste) -> None:
    """Whatever is pasted, ``show`` answers 0 or 2, never 1 and never a traceback."""
    run = show(paste)
    assert run.exit_code in (0, 2), (run.exit_code, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("paste", [_param(p, "read") for p in CORPUS])
def test_read_or_refused_with_what_to_paste(paste: Paste) -> None:
    """A paste with listings is read; a refusal is one line that names commands to paste."""
    run = show(paste)
    if run.exit_code == 2:
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert names_what_to_paste(lines[0]), f"refusal does not say what to paste: {lines[0]}"
    if paste.expect == "read":
        assert run.exit_code == 0, run.stderr.strip()
    elif paste.expect == "refuse":
        assert run.exit_code == 2, "read a paste that holds no output"
    else:
        assert run.exit_code in (0, 2)


@pytest.mark.parametrize("paste", [_param(p, "skipped") for p in CORPUS if p.expect != "refuse"])
def test_skipped_text_is_named_by_its_lines(paste: Paste) -> None:
    """The prose around the listings is not silently dropped: a warning names its lines."""
    run = show(paste)
    if paste.expect == "either" and run.exit_code == 2:
        return
    assert run.exit_code == 0, run.stderr.strip()
    assert skip_warnings(run), run.json().get("warnings")


@pytest.mark.parametrize(
    ("paste", "outcome"),
    [_param(p, "outcome", o, suffix=o.id) for p in CORPUS for o in p.outcomes],
)
def test_outcome_agrees_or_names_what_it_hinges_on(paste: Paste, outcome: Outcome) -> None:
    """Where the thread tells what happened, the answer agrees or says what it assumed."""
    v = check_outcome(paste, outcome)
    assert v.ok, v.why
