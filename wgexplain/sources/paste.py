"""Find the listings in a paste, wherever they are, and cut them into blocks.

A paste is whatever a person copied into a forum post or an issue: a
terminal session with prompts, or bare listings without any command line,
inside Markdown (headings, fences with any language tag or none, block
quotes ``> ``, indented code, list items), HTML-escaped text (``&gt;``),
e-mail quoting, with prose in any language in between.

1. **Normalise** each line, keeping line numbers: ANSI colours and ``\\r``
   removed, HTML entities decoded, quote markers (``> ``, ``>> ``) and a
   fence's indentation stripped, an indented code block dedented, a line
   wrapped in single backticks unwrapped. Fence lines (```` ``` ````, ``~~~``,
   ``<pre>``) are *boundaries*: no listing runs across one.
2. **Command lines**: a prompt followed by a command we read
   (:func:`~wgexplain.sources.transcript.split_prompt`), or such a command
   alone on its line (``ip rule`` as the first line of a fence). Its output
   is read with the command's meaning (family, table). A heading or a
   sentence that names a command in backticks (```` `ip -6 route` ````) gives
   that meaning to a bare listing right after it.
3. **Listings by shape** (:mod:`wgexplain.sources.shapes`): a line that
   starts a listing we know opens one; it runs while its lines keep the
   shape. ``...``/``…``/``[snip]`` inside a listing marks it incomplete.
4. Lines that are none of these are prose: skipped, and named in ONE
   warning with their line ranges. Other tools' output (``iptables-save``,
   ``ifconfig``...) is named in one warning as not read.

Poster's notes after output lines (``-> main docker network``, ``# this
one``, ``<-- here``) are cut off with a warning; hidden addresses become
unknown-address stand-ins (:mod:`wgexplain.sources.placeholders`).
"""

from __future__ import annotations

import html
import json as _json
import re
from dataclasses import dataclass, field
from typing import Callable

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6
from wgexplain.sources import shapes
from wgexplain.sources.placeholders import StandIns
from wgexplain.sources.transcript import (Block, Command, _line_classifier, _near_miss,
                                          parse_command, split_prompt, strip_ansi)

_FENCE = re.compile(r"\s*(?:`{3,}|~{3,})\s*[^`]*")
_PRE = re.compile(r"\s*</?(?:pre|code)\b[^>]*>.*|.*</(?:pre|code)>\s*", re.I)
_TAGS = re.compile(r"</?(?:pre|code|p|div|span|br|b|i|em|strong|tt|samp|kbd)\b[^>]*>", re.I)
_QUOTE = re.compile(r"(?:[ \t]{0,3}>[ \t]?)+")
_ENTITY = re.compile(r"&(?:gt|lt|amp|quot|apos|nbsp|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
_BACKTICKED = re.compile(r"\s*`([^`]+)`\s*")
_HEADING = re.compile(r"\s{0,3}#{2,6}\s+(.*)")
_LIST = re.compile(r"\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")
_INLINE = re.compile(r"`([^`\n]{2,200})`")
_CMD_IN_PROSE = re.compile(r"(?<![\w/.-])((?:sudo\s+)?(?:ip|nft|wg)\s+[^`'\"()<>;,]*)")
#: a poster's note after an output line
_NOTE = re.compile(r"\s+(?:#+|<-+|<=+|-+>|=+>|←|→|⇐|⇒|<<+|//)\s*\S.*$")
_BARE_PROGS = ("ip", "nft", "wg", "sysctl", "sudo", "doas", "cat", "grep")


@dataclass
class Listing:
    """One listing found in the paste: its command (given or inferred) and its lines."""

    command: Command
    prompt_line: int  # 1-based line of the command, 0 when there is none
    start: int  # 0-based index of the first output line
    kind: str  # the shape: ip-rule, ip-route, route-get, nft, ...
    given: bool  # a command line was in the paste
    hint: int = 0  # 1-based line of the heading/sentence that named the command
    lines: dict[int, str] = field(default_factory=dict)  # 0-based index -> text read
    elided: list[int] = field(default_factory=list)
    cut: tuple[str, int] | None = None  # nft: (chain or table, 1-based line) it ends inside
    bad: DumpError | None = None  # JSON that does not parse: the listing is not read
    depth: int = 0
    last: int = -1  # last output line

    @property
    def end(self) -> int:
        return (max(self.lines) + 1) if self.lines else self.start

    def block(self) -> Block:
        first = min(self.lines) if self.lines else self.start
        end = self.end
        text = "\n".join(self.lines.get(i, "") for i in range(first, end))
        return Block(self.command, self.prompt_line or first + 1, first + 1, text, end)


@dataclass
class Pasted:
    """What :func:`find_listings` found."""

    listings: list[Listing]
    skipped: list[int]  # 0-based prose lines
    notes: list[int]  # 0-based lines whose poster's note was cut off
    not_read: list[tuple[str, int, int]]  # (kind, first, last) 0-based
    stand_ins: StandIns
    lines: list[str]


# ------------------------------------------------------------------ normalising


_PLAIN = re.compile(r"[\x1b\r\xa0\u200b<>`~&]")


def normalise(text: str) -> tuple[list[str], list[bool]]:
    """The paste's lines, cleaned of markup (same count); and which are fence boundaries."""
    raw = text.split("\n")
    html_escaped = _ENTITY.search(text) is not None
    lines: list[str] = []
    bound: list[bool] = []
    fence_indent: int | None = None
    bound_next = False
    plain = _PLAIN
    for r in raw:
        if fence_indent is None and not bound_next and plain.search(r) is None:
            lines.append(r)  # the common line: nothing to clean
            bound.append(False)
            continue
        s = strip_ansi(r).rstrip("\r").replace("\xa0", " ").replace("\u200b", "")
        if "\t" in s and s.strip() and s.lstrip().startswith(">"):
            pass
        if html_escaped and "&" in s:
            s = _ENTITY.sub(lambda m: html.unescape(m.group(0)), s)
        q = _QUOTE.match(s)
        if q is not None and (q.end() < len(s) or q.group(0).strip()):
            # "> 0:\tfrom all..." is quoted output; "> ip rule" reads the same either way
            s = s[q.end():]
        if "<" in s and _PRE.fullmatch(s):
            # <pre><code>first line ... last line</code></pre>: a boundary before / after
            before = re.match(r"\s*<(?:pre|code)\b", s, re.I) is not None
            after = re.search(r"</(?:pre|code)>\s*$", s, re.I) is not None
            rest = _TAGS.sub("", s)
            lines.append(rest if rest.strip() else "")
            bound.append(before or bound_next or not rest.strip())
            bound_next = after
            fence_indent = None
            continue
        if "<" in s:
            s = _TAGS.sub("", s)
        if _FENCE.fullmatch(s) and (fence_indent is not None or "`" not in s.strip()[3:]):
            fence_indent = None if fence_indent is not None else len(s) - len(s.lstrip())
            lines.append("")
            bound.append(True)
            bound_next = False
            continue
        if fence_indent:
            lead = len(s) - len(s.lstrip(" "))
            s = s[min(lead, fence_indent):]
        b = _BACKTICKED.fullmatch(s)
        if b is not None and fence_indent is None:
            s = b.group(1)
        lines.append(s)
        bound.append(bound_next)
        bound_next = False
    _dedent_indented_code(lines, bound)
    return lines, bound


def _dedent_indented_code(lines: list[str], bound: list[bool]) -> None:
    """Markdown indented code (every line 4+ spaces in, after a blank line): dedent it."""
    n = len(lines)
    i = 0
    while i < n:
        if lines[i].strip() and lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()
                                                                  or bound[i - 1]):
            j = i
            while j < n and not bound[j] and (not lines[j].strip() or lines[j].startswith("    ")):
                j += 1
            while j > i and not lines[j - 1].strip():
                j -= 1
            if j < n and lines[j].strip() and not bound[j]:
                i = j  # not a code block: a line with less indentation follows directly
                continue
            cut = min(len(x) - len(x.lstrip(" ")) for x in lines[i:j] if x.strip())
            for k in range(i, j):
                lines[k] = lines[k][cut:]
            i = j
        else:
            i += 1


# ------------------------------------------------------------------ commands


_PROMPTISH = re.compile(r"[$#%>❯»] ")


def command_line(line: str) -> Command | None:
    """The command a line runs: after a prompt, or alone on the line (``ip rule``)."""
    if _PROMPTISH.search(line, 0, 162) is not None:
        hit = split_prompt(line)
        if hit is not None:
            return hit[1]
    s = line.strip()
    m = _LIST.match(s)
    if m is not None:
        s = s[m.end():]
        hit = split_prompt(s)
        if hit is not None:
            return hit[1]
    if s.endswith(":"):
        s = s[:-1].rstrip()
    if s.startswith("`") and s.endswith("`") and len(s) > 2:
        s = s[1:-1]
    words = s.split(None, 1)  # "` `": blanks between the backticks, no word
    first = words[0] if words else ""
    if first and first.rsplit("/", 1)[-1] in _BARE_PROGS:
        return parse_command(s)
    return None


def named_command(line: str) -> Command | None:
    """A command named in a heading or a sentence (``### ip -6 route``, ```` `ip rule` ````)."""
    for m in _INLINE.finditer(line):
        cmd = parse_command(m.group(1).strip().lstrip("$# ").rstrip(":"))
        if cmd is not None:
            return cmd
    h = _HEADING.fullmatch(line)
    text = h.group(1) if h else line
    for m in _CMD_IN_PROSE.finditer(text):
        words = m.group(1).strip().rstrip(":.").split()
        for k in range(min(len(words), 16), 1, -1):  # a command is a few words: linear
            cmd = parse_command(" ".join(words[:k]))
            if cmd is not None:
                return cmd
    return None


# ------------------------------------------------------------------ finding listings

_KIND_OF_CMD = {"ip-rule": "ip-rule", "ip-route": "ip-route", "ip-addr": "ip-addr",
                "ip-link": "ip-addr", "nft": "nft", "wg": "wg", "sysctl": "sysctl",
                "proc": "proc", "rt_tables": "rt_tables", "ip-route-get": "route-get"}


def _cmd_kind(cmd: Command) -> str:
    if cmd.json:
        return "json"
    if cmd.kind == "wg" and "dump" in cmd.args:
        return "wg-dump"
    return _KIND_OF_CMD.get(cmd.kind, cmd.kind)


def _bare_command(kind: str, hint: Command | None) -> Command:
    if hint is not None and _cmd_kind(hint) == kind:
        return hint
    text = {"ip-rule": "ip rule", "ip-route": "ip route", "ip-addr": "ip addr",
            "nft": "nft list ruleset", "wg": "wg show", "wg-dump": "wg show all dump",
            "sysctl": "sysctl", "rt_tables": "cat /etc/iproute2/rt_tables",
            "route-get": "ip route get", "route-n": "route -n", "wg-quick": "wg-quick up",
            }.get(kind, kind)
    if kind == "ip-rule":
        return Command("ip-rule", text, AF_INET)
    if kind == "ip-route":
        return Command("ip-route", text, None)
    if kind == "ip-addr":
        return Command("ip-addr", text)
    if kind == "nft":
        return Command("nft", text, args=("ruleset",))
    if kind == "wg":
        return Command("wg", text, args=("show", "all"))
    if kind == "wg-dump":
        return Command("wg", text, args=("show", "all", "dump"))
    if kind == "sysctl":
        return Command("sysctl", text)
    if kind == "rt_tables":
        return Command("rt_tables", text)
    return Command(kind, text)


_TakeLine = Callable[["Listing", int, str], None]
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _brace_delta(line: str) -> int:
    code = _STRING.sub('""', line) if '"' in line else line
    if "#" in code:
        code = code.split("#", 1)[0]
    return code.count("{") - code.count("}")


_NFT_OPEN = re.compile(r"\s*(table|chain|set|map|flowtable|ct\s+\w+|counter|quota|limit|"
                       r"secmark|synproxy|meter)\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?"
                       r"([^\s{]+)")


def find_listings(text: str, file: str) -> Pasted:
    """Cut a paste into listings (see the module docstring)."""
    lines, bound = normalise(text)
    n = len(lines)
    stand = StandIns()
    # hidden addresses read as addresses when telling shapes (the text keeps its own)
    shape = [stand.probe(x) for x in lines]
    listings: list[Listing] = []
    skipped: list[int] = []
    notes: list[int] = []
    not_read: list[tuple[str, int, int]] = []
    cur: Listing | None = None
    hint: tuple[Command, int] | None = None
    nft_stack: list[tuple[str, int]] = []

    def close() -> None:
        nonlocal cur
        if cur is None:
            return
        c = cur
        cur = None
        if c.kind in shapes.NOT_READ:
            if c.lines:
                not_read.append((c.kind, min(c.lines), max(c.lines)))
            return
        if c.kind == "nft" and c.depth > 0 and c.lines:
            where = nft_stack[-1] if nft_stack else ("the ruleset", max(c.lines) + 1)
            c.cut = (where[0], max(c.lines) + 1)
        if c.lines or c.given:
            listings.append(c)

    def open_(cmd: Command, kind: str, prompt: int, given: bool, at: int) -> Listing:
        nonlocal hint
        close()
        last = listings[-1] if listings else None
        if (not given and hint is None and last is not None and not last.given
                and last.kind == kind and kind in ("ip-route", "ip-rule", "ip-addr", "wg-quick")
                and not any(bound[last.end:at + 1])):
            # the same bare listing, interrupted by log or prose lines: one listing
            listings.pop()
            return last
        h = 0
        if not given and hint is not None and at - hint[1] <= 4 and _cmd_kind(hint[0]) == kind:
            cmd = hint[0]
            h = hint[1] + 1
        hint = None
        return Listing(cmd, prompt, at, kind, given, hint=h)

    def take_line(c: Listing, i: int, _shaped: str) -> None:
        s = lines[i]
        if c.kind in ("ip-rule", "ip-route", "ip-addr", "route-get", "sysctl") and \
                not s.lstrip().startswith("#") and _NOTEISH.search(s) is not None:
            m = _NOTE.search(s)
            if m is not None and not (c.kind == "ip-addr" and "#" in m.group(0)[:3]):
                s = s[:m.start()]
                notes.append(i)
        if shape[i] is not lines[i] and c.kind in (
                "ip-rule", "ip-route", "ip-addr", "route-get", "wg", "wg-dump", "nft",
                "json", "wg-quick", "route-n") and not s.lstrip().startswith(("link/", "#")):
            v6 = c.command.family == AF_INET6 or "::" in s or "inet6" in s
            s = stand.replace(s, i, v6=v6, dst_first=c.kind in ("ip-route", "route-get"))
        c.lines[i] = s
        c.last = i

    i = 0
    while i < n:
        s = shape[i]
        if bound[i] and cur is not None and (cur.lines or not cur.given):
            close()
        if not s.strip():
            i += 1
            continue
        in_nft = cur is not None and cur.kind == "nft" and cur.depth > 0
        cmd = None if in_nft else command_line(s)
        if cmd is not None:
            close()
            cur = Listing(cmd, i + 1, i + 1, _cmd_kind(cmd), True)
            hint = None
            i += 1
            continue
        if cur is not None and cur.kind in _FAST and not (cur.given and (
                cur.command.json or cur.command.values_only)):
            # the hot path: a run of plain output lines (a full table is a million of them)
            accept = _accept(cur)
            j = i
            addr = cur.kind == "ip-addr"
            while j < n and (j == i or not bound[j]):
                x = shape[j]
                if not accept(x) or _suspect(x) or (
                        not addr and j + 1 < n and shape[j + 1][:1] in (" ", "\t")):
                    break
                if x is lines[j]:
                    cur.lines[j] = x
                else:  # a hidden address: its stand-in is recorded
                    take_line(cur, j, x)
                j += 1
            if j > i:
                cur.last = j - 1
                i = j
                continue
        nxt = shape[i + 1] if i + 1 < n and not bound[i + 1] else None
        if cur is not None:
            took = _take(cur, shape, bound, i, file, take_line, nft_stack)
            if took is not None:
                i = took
                continue
        kind: str | None = shapes.start_kind(s, nxt)
        if kind == "json":
            kind = _json_kind(shape, bound, i)
        if kind is not None:
            cur = open_(_bare_command(kind, None), kind, 0, False, i)
            if cur.kind == "nft":
                nft_stack.clear()
            took = _take(cur, shape, bound, i, file, take_line, nft_stack)
            if took is not None and took > i:
                i = took
                continue
            close()
        if cur is not None and not cur.given:
            close()
        named = named_command(s)
        quoted = _GET_IN_PROSE.search(s) if "dev " in s and (
            " uid " in s or (named is not None and named.kind == "ip-route-get")) else None
        if quoted is not None:
            # an `ip route get` answer quoted inside a sentence: the kernel's word, kept
            cmd = named if named is not None and named.kind == "ip-route-get" else \
                _bare_command("route-get", None)
            listings.append(Listing(cmd, i + 1 if cmd is named else 0, i, "route-get",
                                    cmd is named, lines={i: quoted.group(1)}, last=i))
            i += 1
            continue
        skipped.append(i)
        if named is not None:
            hint = (named, i)
        i += 1
    close()
    return Pasted(listings, skipped, notes, not_read, stand, lines)


_GET_IN_PROSE = re.compile(r"((?:(?:local|unreachable|blackhole|prohibit|broadcast|multicast) )?"
                           r"[0-9a-fA-F.:]*[0-9a-fA-F][.:][0-9a-fA-F.:]+ (?:from \S+ )?(?:via \S+ )?"
                           r"dev \S+(?: (?:table|src|uid|proto|metric|pref|mark|realms?|expires|"
                           r"mtu) \S+)*)")
_FAST = frozenset({"ip-rule", "ip-route", "ip-addr"})
_SUSPECT_CH = re.compile(r"[$#%>❯»<…←→⇒⇐\[]")


def _suspect(x: str) -> bool:
    """A line the hot path leaves to the careful one (a prompt, a note, an elision...)."""
    return (not x.strip() or _SUSPECT_CH.search(x) is not None or "..." in x or "uid" in x
            or "cache" in x or "->" in x or "=>" in x or "//" in x)
_NOTEISH = re.compile(r"[#<>←→⇒⇐]|//")


def _accept(c: Listing) -> Callable[[str], bool]:
    """Whether a line is a plain output line of ``c`` (the hot path's test)."""
    if c.given:
        ok = _line_classifier(c.command)
        if ok is not None:
            return ok
    kind = c.kind
    return lambda s: shapes.continues(kind, s)


def _json_kind(lines: list[str], bound: list[bool], i: int) -> str | None:
    """``json`` when a JSON value starts at line ``i`` (ip -j or nft -j), else None."""
    head = " ".join(x.strip() for x in lines[i:i + 3])
    if re.match(r'[\[{]\s*[\[{"\]}]', head) or head in ("[]", "{}"):
        return "json"
    return None


def _region_end(bound: list[bool], i: int) -> int:
    j = i + 1
    n = len(bound)
    while j < n and not bound[j]:
        j += 1
    return j


def _take(c: Listing, lines: list[str], bound: list[bool], i: int, file: str,
          take_line: _TakeLine, nft_stack: list[tuple[str, int]]) -> int | None:
    """Index after the lines from ``i`` that belong to the open listing ``c`` (None: none)."""
    s = lines[i]
    cmd = c.command
    if c.kind == "json" or (c.given and cmd.json):
        if c.lines:
            return None
        stop = _region_end(bound, i)
        for k in range(i + 1, stop):  # nor past the next command line
            if lines[k][:1] not in (" ", "\t", "{", "[", "}", "]", '"', "") and \
                    command_line(lines[k]) is not None:
                stop = k
                break
        st = s.lstrip()
        if st[:1] not in ("[", "{"):
            # not JSON (an error message, '| jq' complaining): prose, named as skipped
            return None
        body = "\n".join(lines[i:stop])
        try:
            value, end = _json.JSONDecoder().raw_decode(body, len(body) - len(body.lstrip()))
        except (ValueError, RecursionError) as e:  # ValueError: also int() of 4300+ digits
            if not isinstance(e, _json.JSONDecodeError):
                err = DumpError(file, 1 + i, "JSON nested less deeply, with numbers Python reads",
                                got=s.strip()[:40])
            else:
                got = body[e.pos:e.pos + 40].split("\n", 1)[0]
                at = 1 + i + body.count("\n", 0, e.pos)
                if not body[e.pos:].strip():
                    got = "the end of the command's output (the JSON is cut short)"
                    at = 1 + i + body.rstrip().count("\n")  # its last line
                err = DumpError(file, at, f"valid JSON ({e.msg})", got=got)
            if not c.given:
                return None
            # the listing is not read (named in a warning); it runs to a blank line
            c.bad = err
            k = i
            while k < stop and lines[k].strip():
                c.lines[k] = lines[k]
                k += 1
            return k
        last = i + body.count("\n", 0, end)
        if not c.given:
            jcmd = _json_command(value)
            if jcmd is None:
                return None
            c.command = jcmd
        c.kind = "json"
        for k in range(i, last + 1):
            take_line(c, k, lines[k])
        return last + 1
    if c.kind == "nft":
        return _take_nft(c, lines, bound, i, take_line, nft_stack)
    if c.given and cmd.values_only and cmd.args and not any("*" in a for a in cmd.args):
        if len(c.lines) >= len(cmd.args):
            return None
        take_line(c, i, s)
        return i + 1
    if shapes.is_elision(s) and (c.lines or c.given):
        c.elided.append(i)
        c.lines[i] = ""
        return i + 1
    ok = _line_classifier(cmd) if c.given else None
    if c.kind == "route-get":
        if not c.lines:
            nxt = lines[i + 1] if i + 1 < len(lines) and not bound[i + 1] else None
            if shapes.is_route_get(s, nxt) or shapes.is_route_line(s) or \
                    shapes.ROUTE_GET_ERR.fullmatch(s):
                take_line(c, i, s)
                return i + 1
            return None
        if shapes.continues("route-get", s):
            take_line(c, i, s)
            return i + 1
        return None
    bare_ok = shapes.continues(c.kind, s)
    if c.given and ok is not None:
        hit = ok(s) or (_NOTE.search(s) is not None and ok(_NOTE.sub("", s)))
        if c.kind == "ip-route" and hit and c.lines and shapes.is_route_get(
                s, lines[i + 1] if i + 1 < len(lines) else None):
            return None  # a route get answer after a route listing
        if hit:
            take_line(c, i, s)
            return i + 1
        near = _near_miss(cmd)
        if (c.last == i - 1 or (not c.lines and i == c.start)) and near(s) and \
                shapes.start_kind(s, None) is None:
            take_line(c, i, s)  # a damaged output line: the reader names it
            return i + 1
        return None
    if bare_ok or (c.kind in ("ip-rule", "ip-route", "ip-addr", "sysctl")
                   and _NOTE.search(s) is not None and shapes.continues(c.kind, _NOTE.sub("", s))):
        if c.kind == "ip-route" and c.lines and shapes.is_route_get(
                s, lines[i + 1] if i + 1 < len(lines) else None):
            return None
        if c.kind == "ip-addr" and s[:1] in (" ", "\t") and not c.lines:
            return None
        take_line(c, i, s)
        return i + 1
    return None


def _take_nft(c: Listing, lines: list[str], bound: list[bool], i: int, take_line: _TakeLine,
              nft_stack: list[tuple[str, int]]) -> int | None:
    n = len(lines)
    j = i
    took = False
    while j < n and (j == i or not bound[j]):
        s = lines[j]
        if c.depth == 0:
            if not s.strip():
                j += 1
                continue
            if shapes.NFT_TOP.match(s) is None or (took and command_line(s) is not None):
                break
            if s.lstrip().startswith("#") and command_line(s) is not None:
                break
        if c.depth > 0 and shapes.is_elision(s):
            c.elided.append(j)
            c.lines[j] = ""
            j += 1
            took = True
            continue
        m = _NFT_OPEN.match(s)
        d = _brace_delta(s)
        if m is not None and d > 0:
            nft_stack.append((f"{m.group(1)} {m.group(2)}", j + 1))
        elif d < 0:
            for _ in range(min(-d, len(nft_stack))):
                nft_stack.pop()
        c.depth = max(0, c.depth + d)
        take_line(c, j, s)
        took = True
        j += 1
    return j if took else None


def _json_command(value: object) -> Command | None:
    """The command whose ``-j`` output ``value`` is, told by its keys."""
    if isinstance(value, dict):
        if "nftables" in value:
            return Command("nft", "nft -j list ruleset", json=True, args=("ruleset",))
        return None
    if not isinstance(value, list):
        return None
    if not value:
        return None
    first = value[0]
    if not isinstance(first, dict):
        return None
    text = _json.dumps(value[:50])
    v6 = bool(re.search(r'"(?:src|dst|gateway|prefsrc|local)": "[0-9a-fA-F:]*:[0-9a-fA-F:]*"',
                        text))
    fam = AF_INET6 if v6 else AF_INET
    if "priority" in first and ("table" in first or "src" in first or "action" in first):
        return Command("ip-rule", f"ip {'-6 ' if v6 else ''}-j rule", fam, json=True)
    if "dst" in first:
        return Command("ip-route", f"ip {'-6 ' if v6 else ''}-j route", fam, json=True)
    if "ifindex" in first and "ifname" in first:
        if any(isinstance(x, dict) and "addr_info" in x for x in value):
            return Command("ip-addr", "ip -j addr", None, json=True)
        return Command("ip-link", "ip -j link", None, json=True)
    return None


def ranges(indices: list[int]) -> str:
    """``3-5, 9, 12-14`` for 0-based indices (printed 1-based)."""
    out: list[str] = []
    idx = sorted(set(indices))
    k = 0
    while k < len(idx):
        a = b = idx[k]
        while k + 1 < len(idx) and idx[k + 1] == b + 1:
            k += 1
            b = idx[k]
        out.append(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}")
        k += 1
    if len(out) > 12:
        out = out[:12] + [f"... ({len(out) - 12} more)"]
    return ", ".join(out)


def at_lines(indices: list[int]) -> str:
    """``line 5`` or ``lines 2-3, 7`` for 0-based indices."""
    r = ranges(indices)
    return f"line {r}" if r.isdigit() else f"lines {r}"
