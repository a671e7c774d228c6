"""Split a pasted terminal session into one block per recognised command.

A command line is a prompt (``$ ``, ``# ``, ``% ``, ``> ``, ``user@host:~$ ``,
``[user@host ~]$ ``, ``root@h:/# ``...) followed by a command we can read:
``ip`` (with iproute2's own abbreviations and options, matched the way
``matches()`` in lib/utils.c does), ``nft list ...``, ``wg``, ``sysctl``,
``cat``/``grep`` of ``/proc/sys`` files or ``rt_tables``, each maybe after
``sudo``. A line that has a prompt character but no such command after it
(``# comment``, prose) is not a command line. While inside an nft ruleset's
braces nothing is taken for a prompt.

The output of a command runs to the next command line, minus the prose the
user wrote around it: the block ends at the last line that reads as output
of that command (by the shape of its lines: ``N:\\t`` for rules, a route
type or destination for routes, balanced braces for nft, the end of the
JSON value for ``-j``...). Lines in between that do not read as output stay
in the block, so the parser reports them with their line number instead of
them vanishing silently. ANSI colours (``ip -c``) and ``\\r`` are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, ROUTE_TYPES

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-B]")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def matches(prefix: str, word: str) -> bool:
    """iproute2's ``matches()`` (lib/utils.c) inverted: True when ``prefix`` abbreviates ``word``."""
    return bool(prefix) and word.startswith(prefix)


@dataclass(frozen=True, slots=True)
class Command:
    """A recognised command line.

    ``kind`` is one of ``ip-rule``, ``ip-route``, ``ip-addr``, ``ip-link``,
    ``nft``, ``wg``, ``sysctl``, ``proc`` (bare values of ``paths``),
    ``rt_tables``. ``table`` is ``None`` (main), ``"all"`` or a table name
    or number as typed; ``filters`` the other ``ip route show`` selectors.
    """

    kind: str
    text: str
    family: int | None = None
    json: bool = False
    details: bool = False
    brief: bool = False
    table: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    args: tuple[str, ...] = ()
    piped: str | None = None  # "| grep x": the output is a filtered view
    values_only: bool = False  # sysctl -n, cat, grep of one file

    def describe(self) -> str:
        return self.text


_IP_OBJECTS = ("address", "addrlabel", "maddress", "route", "rule", "neighbor", "neighbour",
               "ntable", "ntbl", "link", "l2tp", "fou", "ila", "macsec", "tunnel", "tunl",
               "tuntap", "tap", "token", "tcpmetrics", "tcp_metrics", "monitor", "xfrm",
               "mroute", "mrule", "netns", "netconf", "vrf", "sr", "nexthop", "mptcp", "ioam",
               "help", "stats")
_ROUTE_SHOW_KEYS = ("table", "vrf", "cached", "cloned", "tos", "dsfield", "protocol", "scope",
                    "type", "dev", "oif", "iif", "mark", "metric", "priority", "preference",
                    "via", "src", "realms", "from", "to", "root", "match", "exact")
_SUDO_OPTS_WITH_ARG = {"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "--user",
                       "--group", "--host", "--prompt"}


def _ip_object(word: str) -> str | None:
    """``do_cmd()`` in ip/ip.c: the first object in table order the word abbreviates."""
    for obj in _IP_OBJECTS:
        if matches(word, obj):
            return obj
    return None


def _strip_wrappers(argv: list[str]) -> list[str]:
    """Drop ``sudo [opts]``, ``doas``, ``command``, ``env``, ``ip netns exec NS``."""
    changed = True
    while changed and argv:
        changed = False
        if argv[0] in ("sudo", "doas"):
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                opt = argv.pop(0)
                if opt in _SUDO_OPTS_WITH_ARG and argv:
                    argv.pop(0)
            changed = True
        elif argv[0] in ("command", "exec", "env", "time"):
            argv = argv[1:]
            changed = True
        elif (len(argv) >= 4 and argv[0].rsplit("/", 1)[-1] == "ip" and argv[1] == "netns"
              and argv[2] == "exec"):
            argv = argv[4:]
            changed = True
    return argv


def parse_command(cmdline: str) -> Command | None:
    """The :class:`Command` a command line runs, or None when it is none we read."""
    text = cmdline.strip()
    piped = None
    if "|" in text:
        text, _, rest = text.partition("|")
        rest = rest.strip()
        if rest.split()[:1] not in (["cat"], ["less"], ["more"], ["less", "-R"]):
            piped = rest
        text = text.strip()
    argv = split_words(text)
    argv = [a for a in argv if not re.fullmatch(r"\d?>&?\S*|2>/dev/null", a)]  # redirections
    argv = _strip_wrappers(argv)
    if not argv:
        return None
    prog = argv[0].rsplit("/", 1)[-1]
    cmd = None
    if prog == "ip":
        cmd = _parse_ip(argv[1:], cmdline.strip())
    elif prog == "nft":
        cmd = _parse_nft(argv[1:], cmdline.strip())
    elif prog == "wg":
        cmd = _parse_wg(argv[1:], cmdline.strip())
    elif prog == "sysctl":
        cmd = _parse_sysctl(argv[1:], cmdline.strip())
    elif prog in ("cat", "grep", "head", "tail", "more", "less"):
        cmd = _parse_cat(prog, argv[1:], cmdline.strip())
    elif prog in ("route", "netstat") and _net_tools_routes(prog, argv[1:]):
        cmd = Command("route-n", cmdline.strip(), AF_INET)
    elif prog in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft") and any(
            a.startswith("-L") or a.startswith("--list") or a.startswith("-S") or a == "-nvL"
            or a.startswith("-nL") or a.startswith("-vL") for a in argv[1:]):
        cmd = Command("iptables" if not any(a.startswith("-S") for a in argv[1:])
                      else "iptables-save", cmdline.strip())
    elif prog in ("iptables-save", "ip6tables-save", "iptables-legacy-save", "iptables-nft-save"):
        cmd = Command("iptables-save", cmdline.strip())
    elif prog == "ifconfig":
        cmd = Command("ifconfig", cmdline.strip())
    elif prog == "wg-quick" and argv[1:2] == ["up"]:
        cmd = Command("wg-quick", cmdline.strip(), args=tuple(argv[2:3]))
    if cmd is None:
        return None
    if piped:
        return replace(cmd, piped=piped)
    return cmd


_WORD = re.compile(r"""(?:[^\s'"\\]++|'[^']*+'?|"(?:[^"\\]|\\.)*+"?|\\.?)++""", re.S)
_PIECE = re.compile(r"""[^\s'"\\]++|'([^']*+)'?|"((?:[^"\\]|\\.)*+)"?|\\(.?)""", re.S)


def split_words(text: str) -> list[str]:
    """A command line's words as the shell splits them (quotes, backslashes, ``#`` comments).

    Linear in the length of the line (``shlex`` is quadratic on a long word):
    unbalanced quotes run to the end of the line instead of failing.
    """
    out: list[str] = []
    for m in _WORD.finditer(text):
        w = m.group(0)
        if w.startswith("#"):
            break
        if "'" not in w and '"' not in w and "\\" not in w:
            out.append(w)
            continue
        parts: list[str] = []
        for p in _PIECE.finditer(w):
            if p.group(1) is not None:
                parts.append(p.group(1))
            elif p.group(2) is not None:
                parts.append(re.sub(r"\\(.)", r"\1", p.group(2)))
            elif p.group(3) is not None:
                parts.append(p.group(3))
            else:
                parts.append(p.group(0))
        out.append("".join(parts))
    return out


def _net_tools_routes(prog: str, argv: list[str]) -> bool:
    """``route -n`` / ``route`` / ``netstat -rn``: the IPv4 main table (``/proc/net/route``)."""
    if any(a in ("-6", "-A") or a.startswith("--inet6") for a in argv):
        return False
    if prog == "netstat":
        return any(a.startswith("-") and "r" in a and not a.startswith("--") for a in argv)
    return all(a.startswith("-") for a in argv) and not any(a in ("add", "del") for a in argv)


def _parse_ip(argv: list[str], text: str) -> Command | None:
    """Options and object as ip/ip.c ``main()`` reads them (iproute2 6.1)."""
    family = None
    json = details = brief = False
    k = 0
    while k < len(argv) and argv[k].startswith("-"):
        opt = argv[k]
        k += 1
        if opt == "--":
            break
        if opt.startswith("--"):
            opt = opt[1:]
        if matches(opt, "-loops") or matches(opt, "-rcvbuf") or matches(opt, "-netns") \
                or matches(opt, "-batch"):
            if matches(opt, "-batch"):
                return None  # ip -batch: the commands are in a file we do not see
            k += 1
        elif matches(opt, "-family"):
            fam = argv[k] if k < len(argv) else ""
            k += 1
            family = {"inet": AF_INET, "inet6": AF_INET6}.get(fam)
            if family is None:
                return None
        elif opt == "-4":
            family = AF_INET
        elif opt == "-6":
            family = AF_INET6
        elif opt in ("-0", "-M", "-B"):
            return None  # link-layer, MPLS, bridge families: not routing
        elif matches(opt, "-details"):
            details = True
        elif matches(opt, "-brief"):
            brief = True
        elif matches(opt, "-json"):
            json = True
        elif matches(opt.split("=", 1)[0], "-color"):
            pass
        elif any(matches(opt, o) for o in ("-human", "-human-readable", "-iec", "-stats",
                                            "-statistics", "-resolve", "-oneline", "-timestamp",
                                            "-tshort", "-force", "-pretty", "-Numeric",
                                            "-all", "-echo")):
            pass
        else:
            return None
    if k >= len(argv):
        return None
    obj = _ip_object(argv[k])
    rest = argv[k + 1:]
    sub = rest[0] if rest else None
    if obj == "rule":
        if sub is not None and not any(matches(sub, w) for w in ("list", "lst", "show")):
            return None
        return Command("ip-rule", text, family or AF_INET, json, details, brief,
                       args=tuple(rest[1:]))
    if obj == "route":
        if sub is not None and matches(sub, "get") and len(sub) >= 1 and sub == "get"[:len(sub)]:
            return Command("ip-route-get", text, family, json, args=tuple(rest[1:]))
        if sub is not None:
            for w in ("add", "change", "replace", "prepend", "append", "test", "delete"):
                if matches(sub, w) or sub == "chg":
                    return None
            if not any(matches(sub, w) for w in ("list", "show", "lst")):
                return None
        return _route_show(rest[1:] if sub else [], text, family, json, details, brief)
    if obj in ("address", "link"):
        if sub is not None and not any(matches(sub, w) for w in ("list", "show", "lst")):
            return None
        return Command("ip-addr" if obj == "address" else "ip-link", text, family, json,
                       details, brief, args=tuple(rest[1:]))
    return None


def _route_show(args: list[str], text: str, family: int | None, json: bool, details: bool,
                brief: bool) -> Command:
    """``iproute_list_flush_or_save()``: the table and the other selectors."""
    table: str | None = None
    filters: list[tuple[str, str]] = []
    k = 0
    while k < len(args):
        a = args[k]
        v = args[k + 1] if k + 1 < len(args) else ""
        if matches(a, "table"):
            table = v
            k += 2
        elif a in ("dev", "oif", "iif", "mark", "via", "src") or a in ("tos", "preference") \
                or any(matches(a, w) for w in ("dsfield", "protocol", "scope", "type", "metric",
                                              "priority", "realms", "vrf")):
            name = next((w for w in ("protocol", "scope", "type", "metric", "priority", "realms",
                                     "vrf", "dsfield") if matches(a, w)), a)
            filters.append((name, v))
            k += 2
        elif matches(a, "cached") or matches(a, "cloned"):
            filters.append(("cached", ""))
            k += 1
        elif a in ("from", "to") or matches(a, "root") or matches(a, "match") \
                or matches(a, "exact"):
            filters.append((a, v))
            k += 2
        else:
            filters.append(("to", a))  # a bare prefix selects like "to"
            k += 1
    # ip/iproute.c: without -4/-6 a listing of one table is IPv4 only; "all" has both
    if family is None and table != "all":
        family = AF_INET
    return Command("ip-route", text, family, json, details, brief, table=table,
                   filters=tuple(filters))


def _parse_nft(argv: list[str], text: str) -> Command | None:
    json = False
    k = 0
    while k < len(argv) and argv[k].startswith("-"):
        opt = argv[k]
        k += 1
        if opt in ("-j", "--json"):
            json = True
        elif opt in ("-f", "--file", "-I", "--includepath", "-D", "--define", "-d", "--debug"):
            k += 1
        elif re.fullmatch(r"-[ansNtyecSTuj]+", opt) or opt.startswith("--"):
            json = json or "j" in opt[1:] and not opt.startswith("--")
        else:
            return None
    rest = argv[k:]
    if len(rest) >= 2 and rest[0] == "list" and rest[1] in ("ruleset", "table", "chain",
                                                               "tables", "chains", "set", "map"):
        return Command("nft", text, json=json, args=tuple(rest[1:]))
    return None


def _parse_wg(argv: list[str], text: str) -> Command | None:
    if not argv:
        return Command("wg", text, args=("show", "all"))
    if argv[0] == "show":
        rest = argv[1:] or ["all"]
        return Command("wg", text, args=("show", *rest))
    if argv[0] == "showconf" and len(argv) == 2:
        return Command("wg", text, args=("showconf", argv[1]))
    return None


def _parse_sysctl(argv: list[str], text: str) -> Command | None:
    keys: list[str] = []
    values_only = False
    names_only = False
    for a in argv:
        if a.startswith("-") and not a.startswith("--"):
            values_only = values_only or "n" in a[1:]
            names_only = names_only or "N" in a[1:]
            if "r" in a[1:] or "p" in a[1:] or "f" in a[1:]:
                return None if "p" in a[1:] or "f" in a[1:] else Command("sysctl", text)
        elif a.startswith("--"):
            values_only = values_only or a == "--values"
            names_only = names_only or a == "--names"
            if a in ("--load", "--system"):
                return None
        else:
            keys.append(a.split("=", 1)[0])
    if names_only:
        return None
    return Command("sysctl", text, args=tuple(keys), values_only=values_only)


def _parse_cat(prog: str, argv: list[str], text: str) -> Command | None:
    files = [a for a in argv if not a.startswith("-")]
    opts = [a for a in argv if a.startswith("-")]
    if prog == "grep":
        if not files:
            return None
        files = files[1:]  # the pattern
    if not files:
        return None
    if all(f.startswith("/proc/sys/") for f in files):
        named = prog == "grep" and (len(files) > 1 or any("*" in f for f in files)
                                    or any("H" in o or "r" in o for o in opts))
        return Command("proc" if not named else "sysctl", text, args=tuple(files),
                       values_only=not named)
    if len(files) == 1 and files[0].endswith("rt_tables") and prog == "cat":
        return Command("rt_tables", text, args=tuple(files))
    return None


# ------------------------------------------------------------------ prompts

_PROMPT = re.compile(r"[$#%>❯»] ")
_PROMPT_PREFIX = re.compile(
    r"\s*(?:\([^()\s]+\)\s*)?"                 # (venv)
    r"(?:\[[^\]]{0,80}\]|[\w.@:~/+\-]{0,80})?"  # [user@host ~] | user@host:~ | host
    r"(?:\s[\w.~/+\-]{1,80})?\s?")             # zsh "user@host ~ %"


def split_prompt(line: str) -> tuple[int, Command] | None:
    """(column of the command, command) when ``line`` is a prompt + a command we read."""
    for m in _PROMPT.finditer(line, 0, min(len(line), 160)):
        if _PROMPT_PREFIX.fullmatch(line, 0, m.start()) is None:
            continue
        cmd = parse_command(line[m.end():])
        if cmd is not None:
            return m.end(), cmd
    return None


# ------------------------------------------------------------------ output shapes

_ROUTE_START = frozenset(ROUTE_TYPES) | {"default"}
_ADDRISH = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}"                      # IPv4
                      r"|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}"         # IPv6
                      r"(?:\d{1,3}(?:\.\d{1,3}){3})?)(?:/\d{1,3})?|0/\d{1,3}")
_RULE_LINE = re.compile(r"\s*\d+:\s")
_LINK_HEAD = re.compile(r"\d+: \S")
_SYSCTL_LINE = re.compile(r"[\w.\-/*]+\.[\w.\-/*]+ ?= ?.*|sysctl: .*|/proc/sys/\S+:.*")
_WG_HUMAN = re.compile(r"(interface|peer): \S+|\s+[a-z ]+: .*")
_WG_CONF = re.compile(r"\[(Interface|Peer)\]|\w+ ?= ?.*")
_RT_TABLES = re.compile(r"\s*(#.*|0x[0-9a-fA-F]+\s+\S+.*|\d+\s+\S+.*)")


def _is_route_line(line: str) -> bool:
    toks = line.split(None, 2)
    if not toks:
        return False
    if line[:1] in (" ", "\t"):
        return toks[0] == "nexthop"
    t = toks[0]
    if t in _ROUTE_START:
        return len(toks) > 1 and (t == "default" or toks[1] == "default"
                                  or _ADDRISH.fullmatch(toks[1]) is not None)
    return _ADDRISH.fullmatch(t) is not None


def _line_classifier(cmd: Command) -> Callable[[str], bool] | None:
    """Whether a line reads as this command's text output (None: JSON / nft: own scan)."""
    if cmd.json or cmd.kind == "nft":
        return None
    if cmd.kind == "ip-rule":
        return lambda s: _RULE_LINE.match(s) is not None
    if cmd.kind == "ip-route":
        return _is_route_line
    if cmd.kind in ("ip-addr", "ip-link"):
        if cmd.brief:
            return lambda s: bool(s.strip()) and s[:1] not in (" ", "\t") and \
                len(s.split()) >= 2 and s.split()[1].isupper()
        return lambda s: _LINK_HEAD.match(s) is not None or (s[:1] in (" ", "\t")
                                                           and bool(s.strip()))
    if cmd.kind == "sysctl":
        return lambda s: _SYSCTL_LINE.fullmatch(s.strip()) is not None
    if cmd.kind == "wg":
        if "showconf" in cmd.args:
            return lambda s: _WG_CONF.fullmatch(s.strip()) is not None
        if "dump" in cmd.args or any(a in cmd.args for a in ("fwmark", "listen-port")):
            return lambda s: bool(s.strip()) and ("\t" in s or s.strip().startswith("0x")
                                                  or s.strip().isdigit() or s.strip() == "off")
        return lambda s: _WG_HUMAN.fullmatch(s.rstrip()) is not None
    if cmd.kind == "rt_tables":
        return lambda s: _RT_TABLES.fullmatch(s) is not None
    if cmd.kind == "proc":
        return lambda s: bool(s.strip()) and " " not in s.strip()[:1] and len(s.split()) <= 4
    return None


_PREF_LIKE = re.compile(r"\s*\w*\d\w*:\s")


def _near_miss(cmd: Command) -> Callable[[str], bool]:
    """Whether a line that is not this command's output looks like a damaged output line.

    Prose stays prose; a rule line with a mistyped preference (``3276x: from
    all lookup main``) or a route line cut short (``defau``) does not.
    """
    if cmd.kind == "ip-rule":
        return lambda s: _PREF_LIKE.match(s) is not None
    if cmd.kind == "ip-route":
        def route_like(s: str) -> bool:  # an address or a route type, damaged
            t = s.split()[0]
            return t[:1].isdigit() or (len(t) >= 3 and any(w.startswith(t) for w in _ROUTE_START))
        return route_like
    return lambda s: False


_NFT_TOP = re.compile(r"\s*(table|#|define|flush|add|include|create|insert|delete|destroy|"
                      r"list|\}|$)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _nft_text_end(lines: list[str], start: int, stop: int) -> int:
    """Index after the last line of an nft ruleset in ``lines[start:stop]`` (braces balanced)."""
    depth = 0
    last = start
    for i in range(start, stop):
        s = lines[i]
        if depth == 0:
            if not s.strip():
                continue
            if _NFT_TOP.match(s) is None:
                break
        code = _STRING.sub('""', s.split("#", 1)[0] if "#" in s and '"' not in s else s)
        depth += code.count("{") - code.count("}")
        if depth < 0:
            depth = 0
        last = i + 1
    return last


def _json_end(lines: list[str], start: int, stop: int, file: str) -> int:
    """Index after the JSON value starting at the first non-blank line of the block."""
    import json as _json

    i = start
    while i < stop and not lines[i].strip():
        i += 1
    if i >= stop:
        return start
    if lines[i].lstrip()[:1] not in ("[", "{"):
        raise DumpError(file, 1 + i, "JSON output ('[' or '{') after a -j command",
                        got=lines[i].strip())
    text = "\n".join(lines[i:stop])
    dec = _json.JSONDecoder()
    lead = len(text) - len(text.lstrip())
    try:
        _, end = dec.raw_decode(text, lead)
    except _json.JSONDecodeError as e:
        got = text[e.pos:e.pos + 40].split("\n", 1)[0]
        if not text[e.pos:].strip():
            got = "the end of the command's output (the JSON is cut short)"
        raise DumpError(file, 1 + i + text.count("\n", 0, e.pos), f"valid JSON ({e.msg})",
                        got=got) from None
    return i + text.count("\n", 0, end) + 1


@dataclass(frozen=True, slots=True)
class Block:
    """One command and its output: ``text`` starts at 1-based ``first_line`` of ``file``."""

    command: Command
    prompt_line: int
    first_line: int
    text: str
    last_line: int = 0
    skipped: tuple[int, ...] = field(default=())


def split_session(text: str, file: str) -> list[Block]:
    """Split a pasted session into blocks (see the module docstring)."""
    lines = [strip_ansi(x).rstrip("\r") for x in text.split("\n")]
    # the command lines, found top-down (an nft ruleset's lines are never prompts)
    heads: list[tuple[int, Command]] = []
    depth = 0
    in_nft = False
    for i, line in enumerate(lines):
        if in_nft and depth > 0:
            code = _STRING.sub('""', line.split("#", 1)[0] if '"' not in line else line)
            depth = max(0, depth + code.count("{") - code.count("}"))
            continue
        hit = split_prompt(line)
        if hit is not None:
            heads.append((i, hit[1]))
            in_nft = hit[1].kind == "nft" and not hit[1].json
            depth = 0
            continue
        if in_nft:
            code = _STRING.sub('""', line.split("#", 1)[0] if '"' not in line else line)
            depth = max(0, depth + code.count("{") - code.count("}"))
    blocks: list[Block] = []
    for n, (i, cmd) in enumerate(heads):
        start = i + 1
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        if cmd.json:
            end = _json_end(lines, start, stop, file)
        elif cmd.kind == "nft":
            end = _nft_text_end(lines, start, stop)
        elif cmd.values_only and cmd.args and not any("*" in a for a in cmd.args):
            # exactly one value per file named
            end, seen = start, 0
            while end < stop and seen < len(cmd.args):
                if lines[end].strip():
                    seen += 1
                end += 1
        else:
            ok = _line_classifier(cmd)
            end = start
            if ok is not None:
                for j in range(start, stop):
                    if ok(lines[j]):
                        end = j + 1
                # a damaged output line right after the output (a typo, a paste cut short)
                # stays in the block, so the parser names it instead of it vanishing
                near = _near_miss(cmd)
                while end < stop and lines[end].strip() and near(lines[end]):
                    end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        blocks.append(Block(cmd, i + 1, start + 1, "\n".join(lines[start:end]), end))
    return blocks


def looks_like_session(text: str) -> bool:
    """True when some line is a prompt followed by a command we read."""
    for line in text.split("\n"):
        if split_prompt(strip_ansi(line).rstrip("\r")) is not None:
            return True
    return False
