"""Repeated warnings, counted once: what a reader says about 100,000 alike lines is one line.

A paste with 100,000 empty ``ip route`` commands, or 100,000 rules that look
up a table the paste does not hold, yields one warning per line from the
readers. :func:`collapse_warnings` folds warnings that differ only in where
they were seen (``file:line``) and in which rule they name (``rule N``) into
the first of them, with the count and the places::

    'ip -6 route show table 7' has no output in the paste (×100000, lines 2, 3, 4, 5, …, 100001)

A warning seen once is kept word for word. The order is the order of first
appearance. Cost: one regular-expression pass per warning, a dict of groups.
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["collapse_warnings"]

#: a place in a source: ``session.txt:12``, ``/tmp/b/ip-rule.txt:3:7``, ``<stdin>:4``
#: (it starts where a word starts: tried inside a long word, it would cost the word's
#: length at every character of it)
_LOC = (r"(?<![\w./~+@-])(?:<stdin>|[\w./~+@-]*\.\w+|[\w.~+@-]*/[\w.~+@/-]*)"
        r":(?P<line>\d+)(?::\d+)?")
#: what varies between alike warnings: their place, and the preference of the rule they name
_VARYING = re.compile(rf"(?P<loc>{_LOC})|(?<=\brule )(?P<pref>\d+)\b")
#: the place as written around it: ``LOC: `` at the start, `` (LOC)`` inside
_BARE_LOC = _LOC.replace("?P<line>", "")
_LOC_AROUND = re.compile(rf"^{_BARE_LOC}:\s*|\s*\({_BARE_LOC}\)|{_BARE_LOC}")
#: how many places and rule numbers a collapsed warning lists (then "…" and the last)
SHOWN = 5


def _listing(values: list[str]) -> str:
    if len(values) <= SHOWN + 1:
        return ", ".join(values)
    return ", ".join(values[:SHOWN]) + ", …, " + values[-1]


def collapse_warnings(warnings: Iterable[str]) -> tuple[str, ...]:
    """``warnings`` with those alike (same words, other place or rule) counted as one."""
    groups: dict[str, list[str]] = {}
    for w in warnings:
        groups.setdefault(_VARYING.sub("\0", w), []).append(w)
    out = []
    for key, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
            continue
        if "\0" not in key:  # the very same words: said once
            out.append(members[0])
            continue
        lines: list[str] = []
        prefs: list[str] = []
        files: dict[str, None] = {}
        for w in members:
            for m in _VARYING.finditer(w):
                if m.group("loc"):
                    lines.append(m.group("line"))
                    files[m.group("loc")[:m.group("loc").rfind(":" + m.group("line"))]] = None
                elif m.group("pref"):
                    prefs.append(m.group("pref"))
        first = _LOC_AROUND.sub("", members[0]).strip()
        parts = [f"×{len(members)}"]
        if prefs and len(set(prefs)) > 1:
            parts.append("rules " + _listing(list(dict.fromkeys(prefs))))
        if lines:
            where = "lines " + _listing(list(dict.fromkeys(lines)))
            if len(files) == 1:
                where = f"{next(iter(files))} {where}"
            parts.append(where)
        out.append(f"{first} ({'; '.join(parts)})")
    return tuple(out)
