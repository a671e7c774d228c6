"""JSON arrays as iproute2 and nft print them, item by item with line numbers.

``ip -j`` prints one line, ``ip -j -p`` a pretty array; errors must name the
line of the offending object in the user's file, so items are decoded one
at a time with ``json.JSONDecoder.raw_decode`` and their first line kept.

Only JSON that iproute2's and nft's writers (``json_writer.c``, libjansson)
can print is accepted: no ``NaN``/``Infinity`` (Python's decoder takes them),
numbers Python can read (it refuses more than 4300 digits with a
``ValueError`` of its own; the readers check each number's range) and nesting at most :data:`MAX_DEPTH` deep
(deeper would end in a ``RecursionError`` here or in a later stage).
"""

from __future__ import annotations

import json
import re
from typing import Any

from wgexplain.errors import DumpError

_WS = re.compile(r"[ \t\r\n]*")

#: deepest nesting accepted: ``ip -j`` prints 5 levels, ``nft -j`` a few dozen
MAX_DEPTH = 100


class _Refused(ValueError):
    """A value the JSON writers never print."""


def _constant(name: str) -> Any:
    raise _Refused(f"{name} (not a JSON number)")


def _float(text: str) -> float:
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise _Refused(f"{text[:20]} (out of range)")
    return v


_decoder = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``obj`` nests (arrays and objects), counted up to ``limit + 1``."""
    best = 0
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (list, dict)):
            if d > best:
                best = d
                if best > limit:
                    return best
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return best


def _decode(text: str, pos: int, file: str, first_line: int) -> tuple[Any, int]:
    """One JSON value at ``pos`` (``raw_decode``), refused in one line when no writer prints it."""
    try:
        obj, end = _decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except ValueError as e:  # _Refused, or int() refusing a number of thousands of digits
        got = str(e) if isinstance(e, _Refused) else "a number too long to read"
        raise DumpError(file, _line_at(text, pos, first_line), "JSON as iproute2 and nft print "
                        "it", got=got) from None
    except RecursionError:
        raise DumpError(file, _line_at(text, pos, first_line), f"JSON nested at most {MAX_DEPTH} "
                        "deep", got="deeper nesting") from None
    # nesting deep enough to matter has as many brackets: count them first (fast, in C)
    if text.count("[", pos, end) + text.count("{", pos, end) > MAX_DEPTH \
            and depth(obj) > MAX_DEPTH:
        raise DumpError(file, _line_at(text, pos, first_line), f"JSON nested at most {MAX_DEPTH} "
                        "deep", got="deeper nesting")
    return obj, end


def _skip_ws(text: str, pos: int) -> int:
    """The position after the JSON whitespace at ``pos`` (``_WS`` matches the empty string too)."""
    m = _WS.match(text, pos)
    return m.end() if m is not None else pos


def _line_at(text: str, pos: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, pos)


def _end_line(text: str, first_line: int) -> int:
    """The line of the last character that is not blank (where a cut-short JSON ends)."""
    return first_line + text.rstrip().count("\n")


def _got(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:end if end >= 0 else len(text)].strip()


def json_items(text: str, file: str, first_line: int, expected: str) -> list[tuple[Any, int]]:
    """The items of a top-level JSON array with the 1-based line each starts on."""
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "[":
        raise DumpError(file, _line_at(text, pos, first_line), expected,
                        got=_got(text, pos) if pos < len(text) else "end of input")
    pos = _skip_ws(text, pos + 1)
    items: list[tuple[Any, int]] = []
    line = first_line + text.count("\n", 0, pos)
    last = pos
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            try:
                obj, end = _decode(text, pos, file, first_line)
            except json.JSONDecodeError as e:
                if not text[e.pos:].strip():
                    raise DumpError(file, _end_line(text, first_line), f"valid JSON ({e.msg})",
                                    got="the end of the output (the JSON is cut short)") from None
                raise DumpError(file, _line_at(text, e.pos, first_line), f"valid JSON ({e.msg})",
                                got=_got(text, e.pos)) from None
            line += text.count("\n", last, pos)
            last = pos
            items.append((obj, line))
            pos = _skip_ws(text, end)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            if pos >= len(text):
                raise DumpError(file, _end_line(text, first_line), "',' or ']' in the JSON array",
                                got="the end of the output (the JSON is cut short)")
            raise DumpError(file, _line_at(text, pos, first_line), "',' or ']' in the JSON array",
                            got=_got(text, pos))
    rest = _skip_ws(text, pos)
    if rest < len(text):
        raise DumpError(file, _line_at(text, rest, first_line), "nothing after the JSON array",
                        got=_got(text, rest))
    return items


def json_document(text: str, file: str, first_line: int, expected: str) -> Any:
    """One JSON document (e.g. ``nft -j``); errors give the line."""
    try:
        pos = _skip_ws(text, 0)
        obj, end = _decode(text, pos, file, first_line)
        rest = _skip_ws(text, end)
        if rest < len(text):
            raise json.JSONDecodeError("Extra data", text, rest)
        return obj
    except json.JSONDecodeError as e:
        raise DumpError(file, _line_at(text, e.pos, first_line), f"{expected} ({e.msg})",
                        got=_got(text, e.pos)) from None
