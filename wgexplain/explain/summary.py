"""Long rule walks, told in bounded space: runs of rules that did not decide, as one step.

``fib_rules_lookup()`` (net/core/fib_rules.c) visits every rule until one
decides; a dump with 100,000 rules that do not apply to a packet yields
100,000 steps that all say "does not apply". The renderings (text,
``--json``, ``--batch``) fold every run of more than :data:`RUN_MIN`
consecutive steps with the same result (``no match``: the rule's selectors
do not fit the packet; ``not found``: the rule applied, its table has no
route) into one step that names the range of rules, their count, their
common shape and the first one's reason::

    100…3099  lookup 100  no match  rules 100…3099: 3000 rules, none applies to this
              packet (all 'from 10.0.… lookup 100', lines 4…3003); the first: rule 100 ...

In JSON the folded step keeps the step's fields (``rule`` is the first
rule's preference, ``why`` the sentence above) and adds ``count`` (the
number of rules it stands for) and ``last_rule``. Steps that decided,
were suppressed, threw, jumped or erred are never folded. The Python API
(``RouteResult.steps``, ``to_json()``) keeps every step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["RUN_MIN", "FoldedStep", "fold_steps", "fold_json_steps", "rule_label"]

#: a run of more than this many alike steps is folded into one
RUN_MIN = 8
#: the results whose runs are folded: the rule did not decide, and nothing happened
FOLDED = frozenset({"no match", "not found"})
_QUOTED = re.compile(r"^rule \S+ '(?P<text>[^']*)' \((?P<file>[^()]*?):(?P<line>\d+)\)")
_HOW = {"no match": "none applies to this packet",
        "not found": "each applies, but its table has no route for this destination"}


@dataclass(frozen=True, slots=True)
class FoldedStep:
    """``count`` consecutive rule steps (prefs ``rule`` … ``last_rule``) with one ``result``."""

    rule: int
    last_rule: int
    count: int
    action: str
    result: str
    why: str
    table: int | None = None
    route: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "result": self.result,
                "why": self.why, "count": self.count, "last_rule": self.last_rule}


def rule_label(step: Any) -> str:
    """The rule column of a step: ``-``, ``32765``, or ``100…3099`` for a folded run."""
    if step.rule is None:
        return "-"
    if isinstance(step, FoldedStep):
        return f"{step.rule}…{step.last_rule}"
    return str(step.rule)


def _shape(texts: Sequence[str]) -> str:
    """What the quoted rules have in common, word by word: ``from 10.0.… lookup 100``."""
    first = texts[0].split()
    common = list(first)
    for t in texts[1:]:
        words = t.split()
        if len(words) != len(first):
            return ""
        for i, w in enumerate(words):
            c = common[i]
            if w != c and not w.startswith(c):
                n = 0
                while n < len(c) and n < len(w) and c[n] == w[n]:
                    n += 1
                common[i] = c[:n]
    return " ".join(c if c == f else c + "…" for c, f in zip(common, first))


def _sentence(first: int, last: int, n: int, result: str, whys: Sequence[str]) -> str:
    quoted = [m for m in (_QUOTED.match(w) for w in whys) if m is not None]
    detail = ""
    if len(quoted) == len(whys):
        shape = _shape([m.group("text") for m in quoted])
        lines = f"lines {quoted[0].group('line')}…{quoted[-1].group('line')}"
        if quoted[0].group("file") == quoted[-1].group("file"):
            lines += f" of {quoted[0].group('file')}"
        detail = f" (all '{shape}', {lines})" if shape else f" ({lines})"
    return (f"rules {first}…{last}: {n} rules, {_HOW.get(result, result)}{detail}; "
            f"the first: {whys[0]}")


def _runs(results: Sequence[str | None], rules: Sequence[int | None]) -> list[tuple[int, int]]:
    """[start, end) of each run of more than RUN_MIN alike, foldable rule steps."""
    runs = []
    i, n = 0, len(results)
    while i < n:
        j = i + 1
        if results[i] in FOLDED and rules[i] is not None:
            while j < n and results[j] == results[i] and rules[j] is not None:
                j += 1
            if j - i > RUN_MIN:
                runs.append((i, j))
        i = j
    return runs


def fold_steps(steps: Sequence[Any], decisive: int | None = None
               ) -> tuple[list[Any], int | None]:
    """``steps`` (RouteStep) with each long run folded; and where ``decisive`` now is."""
    runs = _runs([s.result for s in steps], [s.rule for s in steps])
    if not runs:
        return list(steps), decisive
    out: list[Any] = []
    new_decisive = decisive
    pos = 0
    for start, end in runs:
        out.extend(steps[pos:start])
        run = steps[start:end]
        actions = {s.action for s in run}
        out.append(FoldedStep(run[0].rule, run[-1].rule, len(run),
                              run[0].action if len(actions) == 1 else "various",
                              run[0].result,
                              _sentence(run[0].rule, run[-1].rule, len(run), run[0].result,
                                        [s.why for s in run])))
        if decisive is not None and decisive >= end:
            assert new_decisive is not None
            new_decisive -= end - start - 1
        pos = end
    out.extend(steps[pos:])
    return out, new_decisive


def fold_json_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``steps`` of a route's JSON object with each long run folded (``count``,
    ``last_rule`` added to the folded step)."""
    runs = _runs([s.get("result") for s in steps], [s.get("rule") for s in steps])
    if not runs:
        return steps
    out: list[dict[str, Any]] = []
    pos = 0
    for start, end in runs:
        out.extend(steps[pos:start])
        run = steps[start:end]
        actions = {s.get("action") for s in run}
        first, last = run[0]["rule"], run[-1]["rule"]
        out.append({"rule": first,
                    "action": run[0]["action"] if len(actions) == 1 else "various",
                    "result": run[0]["result"],
                    "why": _sentence(first, last, len(run), run[0]["result"],
                                     [str(s.get("why", "")) for s in run]),
                    "count": len(run), "last_rule": last})
        pos = end
    out.extend(steps[pos:])
    return out
