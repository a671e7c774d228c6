"""Read the listings :mod:`wgexplain.sources.paste` found into one :class:`Host`.

Each listing goes to its reader with the meaning its command gives it (or,
without a command line, the meaning its shape allows). Besides what
:mod:`wgexplain.sources.assemble` records, ``Host.dumped`` says how each
listing was pasted:

``<listing>:bare``    no command line: its meaning came from its shape
                      (``ip-route:bare``: routes without ``table X`` were
                      taken as table main);
``<listing>:elided``  the poster left lines out (``...``, ``[snip]``): only
                      the lines shown are known (routes also get
                      ``ip-route:partial``);
``nft:cut``           the ruleset ends inside a chain or table: every
                      complete rule was kept;
``ip-route-get``      ``ip route get`` answers were pasted (``Host.kernel_answers``);
``route-n``           ``route -n``/``netstat -rn`` read as IPv4 table main;
``wg-quick-log``      a ``wg-quick up`` log (``[#] ip rule add ...``) read as
                      what it installed;
``redacted``          some addresses were hidden (``Host.redacted``);
``not-read:<tool>``   another tool's output was there but not read
                      (``iptables-save``, ``iptables``, ``ifconfig``, ...).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from wgexplain.errors import DumpError
from wgexplain.model import (AF_INET, AF_INET6, Host, KernelAnswer, Origin, Redacted,
                             RT_TABLE_MAIN)
from wgexplain.sources import rtnames, shapes
from wgexplain.sources.assemble import Collector
from wgexplain.sources.paste import Listing, Pasted, at_lines, find_listings

#: what to paste: the commands that show everything wgexplain reads, without private keys
WHAT_TO_PASTE = ("ip rule; ip -6 rule; ip route show table all; ip -6 route show table all; "
                 "ip addr; sudo nft list ruleset; sudo wg show (not 'wg show all dump': it "
                 "prints the private key)")
#: table ids given to names no rt_tables explains (counted down from the top of u32)
_FIRST_GUESSED_ID = 0xFFFFFF00
_NAME_RX = re.compile(r"\b(?:lookup|table)\s+([A-Za-z_][\w.\-]*)")


def read_paste(text: str, name: str, *, table_names: dict[str, int] | None = None) -> Host:
    """Read a paste (see :mod:`wgexplain.sources.paste`); refuse only when nothing is usable."""
    from wgexplain.sources import read_block

    found = find_listings(text, name)
    c = Collector(name)
    c.table_names.update(table_names or {})
    for lst in found.listings:
        if lst.command.kind == "rt_tables":
            c.table_names.update(rtnames.parse_rt_tables(lst.block().text))
    _name_unknown_tables(c, found, name)
    answers: list[KernelAnswer] = []
    unreadable: list[tuple[int, str]] = []
    errors: list[DumpError] = []
    read = 0
    for lst in found.listings:
        kind = lst.command.kind
        if kind == "ip-route-get" or lst.kind == "route-get":
            if lst.lines:
                answers.append(_route_get(lst, name))
                read += 1
            elif lst.given:
                c.warnings.append(f"{name}:{lst.prompt_line}: '{lst.command.text}' has no "
                                  "answer in the paste")
            continue
        if lst.kind == "route-n" or kind == "route-n":
            read += _route_n(c, lst, name)
            continue
        if lst.kind == "wg-quick" or kind == "wg-quick":
            from wgexplain.sources.wgquick_log import read_wgquick_log

            read += read_wgquick_log(c, lst, name)
            continue
        if kind in ("iptables", "iptables-save", "ifconfig"):
            if lst.lines:
                found.not_read.append((kind, min(lst.lines), max(lst.lines)))
            continue
        if not lst.lines and not lst.given:
            continue
        if lst.bad is not None:
            errors.append(lst.bad)
            e = lst.bad
            unreadable.append((e.line, f"expected {e.expected}"
                               + (f", got {e.got!r}" if e.got is not None else "")
                               + f": '{lst.command.text}' was not read"))
            continue
        if lst.given:
            if not lst.lines:
                read_block(c, lst.block(), name)  # "has no output in the paste"
                continue
            ok = _recovering(c, lst, name, _read_given, unreadable, errors)
        else:
            ok = _recovering(c, lst, name, _read_bare, unreadable, errors)
        read += ok
    c.kernel_answers.extend(sorted(answers, key=lambda a: a.origin.line))
    if answers:
        c.dumped.add("ip-route-get")
    _warn(c, found, name)
    if unreadable:
        unreadable.sort()
        shown = "; ".join(f"{line}: {why}" for line, why in unreadable[:6])
        more = f"; ... ({len(unreadable) - 6} more)" if len(unreadable) > 6 else ""
        c.warnings.append(f"{name}: {at_lines([ln - 1 for ln, _ in unreadable])} skipped, "
                          f"unreadable ({shown}{more})")
    if not read and not c.dumped:
        if errors:  # only damaged listings: the first damage is the reason
            e = errors[0]
            raise DumpError(e.file, e.line, f"{e.expected} (nothing else in the paste could be "
                            f"read; paste what these print: {WHAT_TO_PASTE})", got=e.got,
                            column=e.column)
        lines = text.split("\n")
        first = next((i for i, x in enumerate(lines) if x.strip()), 0)
        head = text[:4096]
        if "\x00" in head or head.count("\ufffd") > 2:
            raise DumpError(name, first + 1, "a text file (a pasted session, a bundle file or "
                            "an nft ruleset)", got="binary data")
        raise DumpError(name, first + 1, "network output to read: no listing of ip rule, ip "
                        f"route, ip addr, nft or wg was found; paste what these print: "
                        f"{WHAT_TO_PASTE}",
                        got=lines[first].strip() if text.strip() else "nothing")
    return c.host()


#: lines one listing may lose before the whole paste is refused
_MAX_UNREADABLE = 50


def _recovering(c: Collector, lst: Listing, name: str,
                read: Callable[[Collector, Listing, str], None],
                unreadable: list[tuple[int, str]], errors: list[DumpError]) -> bool:
    """Read a listing; a line its reader refuses is left out (and named), then read again.

    A damaged line in a paste (a typo, a line cut short, a placeholder we do
    not know) costs that line, not the paste. A link header of ``ip addr``
    takes its indented lines with it (they would land on the device before).
    JSON is read as a whole: its errors still refuse. Returns False when no line
    of the listing could be read (its first error is then in ``errors``).
    """
    trimmed: dict[int, tuple[DumpError, str]] = {}  # line -> (its own error, the warning)
    for _ in range(_MAX_UNREADABLE + 2):
        nb, nw, nn, dumped = len(c.blocks), len(c.warnings), len(c.nft), set(c.dumped)
        try:
            read(c, lst, name)
            return True
        except DumpError as e:
            del c.blocks[nb:]
            del c.warnings[nw:]
            del c.nft[nn:]
            c.dumped = dumped
            idx = e.line - 1
            if (e.file != name or lst.command.json or idx not in lst.lines
                    or not lst.lines[idx].strip() or len(unreadable) >= _MAX_UNREADABLE):
                raise
            line = lst.lines[idx]
            words = line.split()
            last = max((k for k, x in lst.lines.items() if x.strip()), default=idx)
            if idx in trimmed:  # without its last word it is still unreadable: as it was
                e, said = trimmed[idx]
                c.warnings.remove(said)
            elif (idx == last and len(words) > 1 and e.got == words[-1]
                    and not lst.command.json):
                # the listing's last line cut short in the middle of a word (the forum or the
                # poster cut it): keep what precedes the broken word, and say so
                said = (f"{name}:{e.line}: the line is cut short: read without its "
                        f"last word {words[-1]!r}")
                trimmed[idx] = (e, said)
                lst.lines[idx] = line[:line.rstrip().rindex(words[-1])].rstrip()
                c.warnings.append(said)
                continue
            errors.append(e)
            why = f"expected {e.expected}" + (f", got {e.got!r}" if e.got is not None else "")
            unreadable.append((e.line, why if len(why) <= 160 else why[:157] + "..."))
            lst.lines[idx] = ""
            if lst.kind == "ip-addr" and line[:1] not in (" ", "\t"):
                k = idx + 1
                while k in lst.lines and lst.lines[k][:1] in (" ", "\t"):
                    lst.lines[k] = ""
                    k += 1
            if not any(x.strip() for x in lst.lines.values()):
                return False
    raise DumpError(name, lst.start + 1, "a listing with fewer unreadable lines")


def _read_given(c: Collector, lst: Listing, name: str) -> None:
    from wgexplain.sources import read_block

    b = lst.block()
    if lst.kind == "nft" and lst.cut is not None:
        _read_cut_nft(c, lst, name)
        return
    if lst.elided and lst.command.kind == "ip-route":
        _elided_routes(c, lst, name)
        return
    read_block(c, b, name)
    _mark_elided(c, lst, name)


def _read_bare(c: Collector, lst: Listing, name: str) -> None:
    """A listing without a command line: its meaning from its shape (and a hint, if any)."""
    from wgexplain.sources import read_block

    cmd = lst.command
    b = lst.block()
    if lst.kind == "nft" and lst.cut is not None:
        _read_cut_nft(c, lst, name)
        c.dumped.add("nft:bare")
        return
    if cmd.kind == "ip-route" and not cmd.json and lst.hint == 0:
        _bare_routes(c, lst, name)
        return
    if cmd.kind == "ip-rule" and not cmd.json and lst.hint == 0 and re.search(
            r"\b(?:from|to) [0-9a-fA-F]*:[0-9a-fA-F:]*", b.text):
        cmd = dataclasses.replace(cmd, family=AF_INET6, text="ip -6 rule")
        b = dataclasses.replace(b, command=cmd)
    if cmd.kind == "ip-addr" and not cmd.json and not re.search(r"^\s+inet6? ", b.text, re.M):
        cmd = dataclasses.replace(cmd, kind="ip-link", text="ip link")
        b = dataclasses.replace(b, command=cmd)
    if lst.elided and cmd.kind == "ip-route":
        _elided_routes(c, lst, name)
    else:
        read_block(c, b, name)
    key = {"ip-rule": "ip-rule" if cmd.family != AF_INET6 else "ip6-rule", "ip-addr": "ip-addr",
           "ip-link": "ip-link", "nft": "nft", "wg": "wg", "sysctl": "sysctl",
           "ip-route": "ip-route"}.get(cmd.kind, cmd.kind)
    if lst.hint == 0:
        c.dumped.add(f"{key}:bare")
    _mark_elided(c, lst, name)


def _bare_routes(c: Collector, lst: Listing, name: str) -> None:
    """Routes pasted without ``ip route ...``: lines with ``table X`` go there, the rest to main.

    A listing with ``table local`` lines is a ``table all`` listing; without
    a command line nothing else says which table the other lines came from:
    main is assumed (``ip route``), and ``dumped`` says ``ip-route:bare``.
    """
    from wgexplain.sources import iproute_route

    b = lst.block()
    routes = iproute_route.parse_routes_text(b.text, name, b.first_line, None, None,
                                             table_names=c.table_names or None,
                                             warnings=c.warnings)
    fams = sorted({r.family for r in routes})
    tables = {r.table for r in routes}
    origin = Origin(name, b.first_line)
    allt = any(t != RT_TABLE_MAIN for t in tables)
    partial = "lines left out ('...')" if lst.elided else None
    for f in fams:
        c.add_routes(f, "all" if allt else None, routes, origin, partial=partial)
        pre = "ip" if f == AF_INET else "ip6"
        c.dumped.add(f"{pre}-route:bare")
        if lst.elided:
            c.dumped.add(f"{pre}-route:elided")
    if not allt and routes:
        c.warnings.append(f"{name}:{b.first_line}: routes pasted without their command: read "
                          "as table main ('ip route'); if they came from 'ip route show table "
                          "X', paste the command line too")


def _elided_routes(c: Collector, lst: Listing, name: str) -> None:
    from wgexplain.sources import iproute_route

    b = lst.block()
    cmd = lst.command
    table = None
    if cmd.table not in (None, "all"):
        table = rtnames.table_id(cmd.table or "", c.table_names or None)
    routes = iproute_route.parse_routes_text(b.text, name, b.first_line, cmd.family, table,
                                             table_names=c.table_names or None,
                                             warnings=c.warnings)
    fams = [cmd.family] if cmd.family is not None else sorted({r.family for r in routes})
    for f in fams:
        c.add_routes(f, None, routes, Origin(name, lst.prompt_line or b.first_line),
                     partial=f"lines left out at {at_lines(lst.elided)}")
        c.dumped.add(f"{'ip' if f == AF_INET else 'ip6'}-route:elided")


def _mark_elided(c: Collector, lst: Listing, name: str) -> None:
    if not lst.elided:
        return
    kind = lst.command.kind
    key = {"ip-rule": "ip-rule" if lst.command.family != AF_INET6 else "ip6-rule",
           "ip-addr": "ip-addr", "ip-link": "ip-link", "nft": "nft", "wg": "wg",
           "sysctl": "sysctl"}.get(kind, kind)
    c.dumped.add(f"{key}:elided")
    c.warnings.append(f"{name}: lines were left out of '{lst.command.text}' (at "
                      f"{at_lines(lst.elided)}): only what is shown is known")


def _read_cut_nft(c: Collector, lst: Listing, name: str) -> None:
    """A ruleset that ends inside a chain: keep every complete rule, close what is open."""
    from wgexplain.sources import _read_nft

    b = lst.block()
    where, line = lst.cut or ("the ruleset", b.last_line)
    text = b.text.rstrip("\n")
    # the last line may be a rule cut in the middle: drop an unfinished last line
    body = text.split("\n")
    from wgexplain.sources.paste import _brace_delta

    # the last line may be a rule cut in the middle: when the reader refuses it, drop it
    for attempt in range(2):
        depth = 0
        for x in body:
            depth = max(0, depth + _brace_delta(x))
        closed = "\n".join(body) + "\n" + "}\n" * depth
        mark = len(c.nft)
        try:
            _read_nft(c, closed, name, b.first_line, False)
            break
        except DumpError as e:
            last = max((k for k, x in enumerate(body) if x.strip()), default=-1)
            if attempt or e.line != b.first_line + last:
                raise
            del c.nft[mark:]
            c.warnings.append(f"{name}:{e.line}: the last line of the cut ruleset is "
                              "incomplete: left out")
            body[last] = ""
    c.blocks.append((lst.command.text, Origin(name, b.first_line), closed))
    c.dumped.add("nft:cut")
    c.warnings.append(f"{name}: the nft ruleset ends inside {where} at line {line}: every "
                      "complete rule before it was kept, what followed is unknown")


def _route_get(lst: Listing, name: str) -> KernelAnswer:
    """One ``ip route get`` answer (``print_route()`` of the RTM_NEWROUTE reply)."""
    b = lst.block()
    text = "\n".join(x for x in b.text.split("\n") if x.strip())
    first = text.split("\n", 1)[0].strip()
    origin = Origin(name, b.first_line)
    cmd = lst.command.text if lst.given else ""
    m = shapes.ROUTE_GET_ERR.fullmatch(first)
    if m is not None:
        return KernelAnswer(cmd, text, origin, error=first.split(":", 1)[1].strip())
    toks = first.split()
    k = 0
    rtype = "unicast"
    if toks and toks[0] in shapes._TYPES:
        rtype = toks[0]
        k = 1
    dst = toks[k] if len(toks) > k else None
    vals: dict[str, str] = {}
    for j in range(k + 1, len(toks) - 1):
        if toks[j] in ("via", "dev", "src", "table") and toks[j] not in vals:
            vals[toks[j]] = toks[j + 1]
    return KernelAnswer(cmd, text, origin, dst=dst, type=rtype, gateway=vals.get("via"),
                        dev=vals.get("dev"), src=vals.get("src"), table=vals.get("table"))


def _route_n(c: Collector, lst: Listing, name: str) -> int:
    """``route -n`` / ``netstat -rn``: the IPv4 main table as ``/proc/net/route`` gives it.

    ``fib_route_seq_show()`` (net/ipv4/fib_trie.c) lists table main only,
    without broadcast/multicast routes and without source addresses; ``!``
    marks a reject route (read as ``unreachable``).
    """
    import ipaddress

    from wgexplain.sources import iproute_route

    out: list[str] = []
    for i in range(min(lst.lines) if lst.lines else 0, lst.end):
        s = lst.lines.get(i, "")
        f = s.split()
        if not shapes.ROUTE_N_LINE.fullmatch(s) or len(f) < 7:
            out.append("")
            continue
        dst, gw, mask, flags = f[0], f[1], f[2], f[3]
        metric = f[4]
        dev = f[-1] if len(f) >= 8 else None
        try:
            plen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
        except ValueError:
            out.append("")
            continue
        words = ["unreachable" if "!" in flags else "", f"{dst}/{plen}"]
        if gw != "0.0.0.0" and "G" in flags:
            words += ["via", gw]
        if dev and dev != "-" and "!" not in flags:
            words += ["dev", dev]
        if gw == "0.0.0.0" or "G" not in flags:
            words += ["scope", "link"] if "!" not in flags else []
        if metric not in ("0", "-"):
            words += ["metric", metric]
        out.append(" ".join(w for w in words if w))
    first = (min(lst.lines) if lst.lines else lst.start) + 1
    routes = iproute_route.parse_routes_text("\n".join(out), name, first, AF_INET, None,
                                             warnings=c.warnings)
    if not routes:
        return 0
    c.add_routes(AF_INET, None, routes, Origin(name, lst.prompt_line or first))
    c.dumped.add("route-n")
    c.warnings.append(f"{name}:{lst.prompt_line or first}: 'route -n' output read as IPv4 table "
                      "main (it shows no other table, no source addresses and no protocol)")
    return 1


def _name_unknown_tables(c: Collector, found: Pasted, name: str) -> None:
    """``lookup wgc5`` without an rt_tables line: give the name an id, and say so."""
    used: set[int] = set(c.table_names.values())
    unknown: dict[str, int] = {}
    for lst in found.listings:
        if lst.command.kind not in ("ip-rule", "ip-route") or lst.command.json:
            if lst.command.kind in ("ip-route-get",) or lst.kind == "wg-quick":
                pass
            else:
                continue
        cands = [(lst.prompt_line or lst.start + 1, lst.command.table)] if lst.command.table \
            else []
        for i, s in lst.lines.items():
            if "lookup" not in s and "table" not in s:
                continue
            for m in _NAME_RX.finditer(s):
                cands.append((i + 1, m.group(1)))
        for line, tname in cands:
            if tname is None or tname == "all" or tname in unknown:
                continue
            if rtnames.table_id(tname, c.table_names or None) is not None:
                continue
            if tname in ("cache",):
                continue
            tid = _FIRST_GUESSED_ID + len(unknown)
            while tid in used:
                tid += 1
            used.add(tid)
            unknown[tname] = tid
            c.table_names[tname] = tid
            c.warnings.append(f"{name}:{line}: table name {tname!r} is not a standard one and "
                              "no rt_tables was pasted: it is read as a table of its own (id "
                              f"{tid}); paste 'cat /etc/iproute2/rt_tables' for its number")


def _warn(c: Collector, found: Pasted, name: str) -> None:
    """The paste-wide warnings: skipped prose, notes cut off, tools not read, hidden addresses."""
    if found.skipped:
        c.warnings.append(f"{name}: {at_lines(found.skipped)} skipped: not network output "
                          "wgexplain reads (prose, markup, or a listing it does not know)")
    if found.notes:
        c.warnings.append(f"{name}: the poster's notes after the output cut off at "
                          f"{at_lines(found.notes)} (like '-> ...', '# ...', '<-- ...')")
    if found.not_read:
        parts = []
        pastes = []
        for kind, a, b in sorted(found.not_read, key=lambda t: t[1]):
            what, instead = shapes.NOT_READ.get(kind, (f"'{kind}' output", ""))
            parts.append(f"{what} at lines {a + 1}-{b + 1}" if b > a else f"{what} at line {a + 1}")
            if instead and instead not in pastes:
                pastes.append(instead)
            c.dumped.add(f"not-read:{kind}")
        c.warnings.append("not read: " + "; ".join(parts) + " (paste '" + "', '".join(pastes)
                          + "' instead)")
    if found.stand_ins.found:
        seen = found.stand_ins.found
        for i, text, stand in seen:
            c.redacted.append(Redacted(Origin(name, i + 1), text, stand))
        texts = list(dict.fromkeys(t for _, t, _ in seen))
        c.dumped.add("redacted")
        c.warnings.append(
            f"{name}: hidden addresses at {at_lines([i for i, _, _ in seen])} "
            f"({', '.join(texts[:5])}{', ...' if len(texts) > 5 else ''}) are read as unknown "
            "addresses (stand-ins from 240.0.0.0/4 and 100::/64 that match nothing): what "
            "depends on them is not known")
