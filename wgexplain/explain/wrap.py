"""Wrapping styled text to the terminal width with a hanging indent.

Rich wraps a long line back to column 0; an explanation reads better when
the continuation lines stay under the text they continue (``why`` under its
step, inside the ``│`` rail of a nested journey). :func:`wrap_hanging` does
that for one :class:`rich.text.Text`, keeping its styles; :func:`output_width`
says how wide the output is (the terminal, or ``COLUMNS`` when piped, or no
wrapping at all).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from rich.text import Text

__all__ = ["output_width", "wrap_hanging"]

#: narrower than this, wrapping does more harm than good
MIN_WIDTH = 40


def output_width(stream: TextIO | None = None) -> int | None:
    """Columns to wrap at: the terminal's width, else ``$COLUMNS``, else ``None`` (no wrapping).

    Piped output stays one line per fact (grep-friendly) unless ``COLUMNS`` is set.
    """
    stream = stream if stream is not None else sys.stdout
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return max(int(env), MIN_WIDTH)
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return max(shutil.get_terminal_size((100, 24)).columns, MIN_WIDTH)
    return None


def _breaks(plain: str, first: int, rest: int) -> list[int]:
    """Offsets where the lines of ``plain`` start: greedy at spaces, hard when a word is too long."""
    offsets: list[int] = []
    start = 0
    avail = first
    n = len(plain)
    while n - start > avail:
        cut = plain.rfind(" ", start, start + avail + 1)
        if cut <= start:  # one word longer than the line: cut it
            cut = start + max(avail, 1)
            nxt = cut
        else:
            nxt = cut + 1
            while nxt < n and plain[nxt] == " ":
                nxt += 1
        if nxt >= n:
            break
        offsets.append(nxt)
        start = nxt
        avail = rest
    return offsets


def wrap_hanging(text: Text, width: int | None, hang: str | Text) -> list[Text]:
    """``text`` as lines of at most ``width`` cells; lines after the first start with ``hang``.

    ``width`` ``None`` (or a line that fits) returns ``[text]`` unchanged. A
    newline inside ``text`` starts a new line, also under ``hang``.
    """
    hang_t = hang if isinstance(hang, Text) else Text(hang)
    if "\n" in text.plain:
        out: list[Text] = []
        for i, para in enumerate(text.split("\n")):
            if i:
                para = hang_t + para
            out.extend(wrap_hanging(para, width, hang_t))
        return out
    if width is None or text.cell_len <= width:
        return [text]
    rest = max(width - hang_t.cell_len, MIN_WIDTH // 2)
    offsets = _breaks(text.plain, width, rest)
    if not offsets:
        return [text]
    parts = text.divide(offsets)
    out = []
    for i, part in enumerate(parts):
        part.rstrip()
        if i == 0:
            out.append(part)
            continue
        line = hang_t.copy()
        line.append_text(part)
        out.append(line)
    return out
