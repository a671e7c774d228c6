"""Mutations: line-, token- and byte-wise, JSON values retyped and nested, CRLF,
invalid UTF-8, NUL, ANSI colour, huge lines and counts.

:func:`mutate` applies one to four of them, chosen by a ``random.Random``
(so an input is a pure function of the seed and the random state: the
driver rebuilds an input from its number alone).
"""

from __future__ import annotations

import random
import re
from typing import Callable

#: tokens that have broken readers before, or look like they could
INTERESTING = [
    "²", "①", "٣", "𝟘", "-1", "0", "00", "0x", "0x-1", "4294967295", "4294967296",
    "18446744073709551616", "9" * 40, "-0", "+1", "1e9", "1.5", "NaN", "Infinity", "",
    "{", "}", "{ }", "{ { } }", "[", "]", "(", ")", "/", "//", "/999999999999", "/-1", "/33",
    "/129", "FE80::ABCD", "::", "::1", "0/0", "0.0.0.0/0", "::/0", "1.2.3.4", "1.2.3.4/32",
    "255.255.255.255", "1.2.3", "1.2.3.4.5", "fe80::1%eth0", "[::1]:51820", "1.2.3.4:99999",
    "\udcff", "\ud800", "é", "\u200b", "\x1b[31m", "\x1b[0m", "\t", "\\", '"', "'", "`", "#",
    "$", "@ih,32,32", "@nh,0,-8", "timeout", "tcp", "second", "1.second", "lock", "nexthop",
    "via", "dev", "table", "lookup", "from", "to", "all", "not", "goto", "pref", "metric",
    "mtu", "src", "proto", "scope", "suppress_prefixlength", "fwmark", "uidrange", "quota",
    "rate", "meter", "set", "map", "elements", "=", ";", ",", ":", "-", "dump", "(none)",
    "off", "forever", "0sec", "sec", "<UP>", "<>", "mtu ²", "\x00", "\x7f", "\ufeff", "\ufffd",
    "x" * 300, "a" * 4000,
]

#: JSON values of every wrong shape
JSON_VALUES = [
    "NaN", "Infinity", "-Infinity", "[]", "[[]]", "[null]", "[{}]", "{}", "null", "true",
    "false", '"x"', '""', '"²"', "1e999", "-1", "0", "1.5", "4294967296", "9" * 5000,
    '"' + "9" * 5000 + '"', "[" * 3000 + "]" * 3000, "{\"a\":" * 2000 + "1" + "}" * 2000,
    '"\\ud800"', '"FE80::ABCD"', '"10.0.0.0/999999999999"', '["x"]', "[1]", "[-1]",
    '{"x":1}', '"all"', '"default"', '"0x"', '"\\u0000"',
]

_TOKEN = re.compile(r"[^\s\"',;{}\[\]()=:]+")
_JSON_SCALAR = re.compile(r'(?<=[:\[,])\s*("(?:[^"\\\n]|\\.)*"|-?\d[\d.eE+-]*|true|false|null)')
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w])")
_UNICODE_DIGITS = "²³¹①②⑨٠١٢٣۴५൬๗၈᠙０１２９𝟙𝟚"


def _lines(t: str) -> list[str]:
    return t.split("\n")


def m_delete_line(r: random.Random, t: str) -> str:
    ls = _lines(t)
    if len(ls) > 1:
        i = r.randrange(len(ls))
        del ls[i:i + r.choice((1, 1, 1, 2, 5))]
    return "\n".join(ls)


def m_duplicate_line(r: random.Random, t: str) -> str:
    ls = _lines(t)
    i = r.randrange(len(ls))
    ls.insert(i, ls[i])
    return "\n".join(ls)


def m_swap_lines(r: random.Random, t: str) -> str:
    ls = _lines(t)
    i, j = r.randrange(len(ls)), r.randrange(len(ls))
    ls[i], ls[j] = ls[j], ls[i]
    return "\n".join(ls)


def m_truncate(r: random.Random, t: str) -> str:
    return t[:r.randrange(len(t) + 1)] if t else t


def m_huge_count(r: random.Random, t: str) -> str:
    """One line repeated thousands of times (a huge count of rules, routes, elements...)."""
    ls = _lines(t)
    i = r.randrange(len(ls))
    n = r.choice((100, 1000, 5000)) if len(ls[i]) < 200 else 50
    ls[i:i + 1] = [ls[i]] * n
    return "\n".join(ls)


def m_huge_line(r: random.Random, t: str) -> str:
    """A token made very long, or a line repeated within itself."""
    ms = list(_TOKEN.finditer(t))
    if not ms:
        return t + "x" * 100_000
    m = r.choice(ms)
    n = r.choice((1000, 20_000, 200_000)) // max(1, len(m.group()))
    sep = r.choice(("", " ", ","))
    return t[:m.start()] + sep.join([m.group()] * max(2, n)) + t[m.end():]


def m_token_interesting(r: random.Random, t: str) -> str:
    ms = list(_TOKEN.finditer(t))
    if not ms:
        return t + r.choice(INTERESTING)
    m = r.choice(ms)
    new = r.choice(INTERESTING)
    if r.random() < 0.3:  # keep the token and glue something to it
        new = m.group() + new if r.random() < 0.5 else new + m.group()
    return t[:m.start()] + new + t[m.end():]


def m_token_swap(r: random.Random, t: str) -> str:
    ms = list(_TOKEN.finditer(t))
    if len(ms) < 2:
        return t
    a, b = sorted(r.sample(ms, 2), key=lambda m: m.start())
    return t[:a.start()] + b.group() + t[a.end():b.start()] + a.group() + t[b.end():]


def m_token_delete(r: random.Random, t: str) -> str:
    ms = list(_TOKEN.finditer(t))
    if not ms:
        return t
    m = r.choice(ms)
    return t[:m.start()] + t[m.end():]


def m_token_from_elsewhere(r: random.Random, t: str) -> str:
    """A token copied to another place (a keyword where a value was...)."""
    ms = list(_TOKEN.finditer(t))
    if len(ms) < 2:
        return t
    a, b = r.sample(ms, 2)
    return t[:a.start()] + b.group() + t[a.end():]


def m_number(r: random.Random, t: str) -> str:
    ms = list(_NUMBER.finditer(t))
    if not ms:
        return t
    m = r.choice(ms)
    v = m.group()
    if len(v) > 100:  # already huge: make it shorter
        return t[:m.start()] + v[:r.randrange(1, 30)] + t[m.end():]
    choices = [str(int(v) + 1), str(int(v) - 1), "-" + v, v + "0" * r.randrange(1, 30),
               "".join(r.choice(_UNICODE_DIGITS) if r.random() < 0.5 else c for c in v),
               r.choice(_UNICODE_DIGITS), str(2 ** r.choice((8, 16, 31, 32, 63, 64, 128))),
               "9" * r.choice((5000, 100)), "0" + v, "0x" + v]
    return t[:m.start()] + r.choice(choices) + t[m.end():]


def m_json_value(r: random.Random, t: str) -> str:
    ms = list(_JSON_SCALAR.finditer(t))
    if not ms:
        return t
    m = r.choice(ms)
    return t[:m.start(1)] + r.choice(JSON_VALUES) + t[m.end(1):]


def m_json_nest(r: random.Random, t: str) -> str:
    """A JSON value wrapped in arrays/objects, shallow or deeper than any recursion limit."""
    ms = list(_JSON_SCALAR.finditer(t))
    if not ms:
        return t
    m = r.choice(ms)
    depth = r.choice((1, 2, 50, 99, 101, 1500, 100_000)) if r.random() < 0.3 else r.choice((1, 2, 3))
    if r.random() < 0.5:
        new = "[" * depth + m.group(1) + "]" * depth
    else:
        new = '{"a":' * depth + m.group(1) + "}" * depth
    return t[:m.start(1)] + new + t[m.end(1):]


def m_json_key(r: random.Random, t: str) -> str:
    """A key renamed, removed with its value, or given a twin."""
    ms = list(re.finditer(r'"([\w-]+)"\s*:', t))
    if not ms:
        return t
    m = r.choice(ms)
    other = r.choice(ms).group(1)
    return t[:m.start()] + f'"{r.choice([other, other + "x", "x", ""])}":' + t[m.end():]


def m_crlf(r: random.Random, t: str) -> str:
    if r.random() < 0.5:
        return t.replace("\n", "\r\n")
    ls = _lines(t)
    i = r.randrange(len(ls))
    ls[i] += "\r"
    return "\n".join(ls)


def m_ansi(r: random.Random, t: str) -> str:
    """Colour codes around tokens, as ``ip -c`` and ``wg`` on a terminal print them."""
    return colourise(t, r, r.choice((0.05, 0.3, 1.0)))


def colourise(t: str, r: random.Random, share: float) -> str:
    colours = ("\x1b[32m", "\x1b[34m", "\x1b[35m", "\x1b[1;33m", "\x1b[0;36m", "\x1b[33m")

    def wrap(m: re.Match[str]) -> str:
        if r.random() >= share:
            return m.group()
        return f"{r.choice(colours)}{m.group()}\x1b[0m"

    return _TOKEN.sub(wrap, t)


def m_tabs(r: random.Random, t: str) -> str:
    return t.replace(" ", "\t", r.randrange(1, 20)) if r.random() < 0.5 else \
        t.replace("\t", " ")


def m_splice(r: random.Random, t: str, other: str) -> str:
    """Lines of another seed inserted (a block in the wrong place, a command's output mixed in)."""
    ls, os_ = _lines(t), _lines(other)
    a = r.randrange(len(os_))
    chunk = os_[a:a + r.choice((1, 3, 10, 50))]
    i = r.randrange(len(ls) + 1)
    return "\n".join(ls[:i] + chunk + ls[i:])


def m_unbalance(r: random.Random, t: str) -> str:
    """A bracket or brace added or removed (unbalanced bodies and arrays)."""
    ms = [m.start() for m in re.finditer(r"[{}\[\]]", t)]
    if ms and r.random() < 0.6:
        i = r.choice(ms)
        return t[:i] + t[i + 1:]
    i = r.randrange(len(t) + 1)
    return t[:i] + r.choice("{}[]") * r.choice((1, 1, 3, 400)) + t[i:]


#: the costly ones (huge lines and counts, deep nesting), chosen less often
HUGE_MUTATORS: list[Callable[[random.Random, str], str]] = [m_huge_count, m_huge_line]
TEXT_MUTATORS: list[Callable[[random.Random, str], str]] = [
    m_delete_line, m_duplicate_line, m_swap_lines, m_truncate,
    m_token_interesting, m_token_interesting, m_token_interesting, m_token_swap, m_token_delete,
    m_token_from_elsewhere, m_number, m_number, m_number, m_json_value, m_json_value,
    m_json_nest, m_json_key, m_crlf, m_ansi, m_tabs, m_unbalance,
]


def b_flip(r: random.Random, b: bytes) -> bytes:
    if not b:
        return b
    ba = bytearray(b)
    for _ in range(r.choice((1, 1, 3, 10))):
        i = r.randrange(len(ba))
        ba[i] ^= 1 << r.randrange(8)
    return bytes(ba)


def b_insert(r: random.Random, b: bytes) -> bytes:
    junk = r.choice((b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x28\xa1", b"\x80\x80",
                     b"\x00" * 10, bytes(r.randrange(256) for _ in range(8)), b"\xef\xbb\xbf"))
    i = r.randrange(len(b) + 1)
    return b[:i] + junk + b[i:]


def b_delete(r: random.Random, b: bytes) -> bytes:
    if not b:
        return b
    i = r.randrange(len(b))
    return b[:i] + b[i + r.choice((1, 1, 2, 8, 64)):]


BYTE_MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [b_flip, b_insert, b_delete]


def encode(text: str) -> bytes:
    """Text back to bytes: escaped bytes as they were, other lone surrogates as CESU-8."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def mutate(r: random.Random, data: bytes, other: bytes) -> bytes:
    """One to four mutations of ``data`` (``other``: a second seed for splicing)."""
    n = r.choice((1, 1, 1, 2, 2, 3, 4))
    for _ in range(n):
        if r.random() < 0.15:
            data = r.choice(BYTE_MUTATORS)(r, data)
            continue
        text = data.decode("utf-8", "surrogateescape")
        if r.random() < 0.06:
            text = m_splice(r, text, other.decode("utf-8", "surrogateescape"))
        elif r.random() < 0.03:
            text = r.choice(HUGE_MUTATORS)(r, text)
        else:
            text = r.choice(TEXT_MUTATORS)(r, text)
        data = encode(text)
        if len(data) > 3_000_000:  # huge, but bounded: the point is cost, not memory
            data = data[:3_000_000]
    return data
