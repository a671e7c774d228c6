"""Reading what users have: pasted sessions, bundle directories, bare rulesets.

The public API::

    load(source, *, text=None, table_names=None) -> Host   # a path, a bundle dir, or "-"
    load_text(text, name, *, table_names=None) -> Host      # the same for text in hand
    load_raw(source, *, text=None, table_names=None) -> Host  # without the derivation

``source`` is a pasted terminal session (``transcript``), a bundle directory
(``bundle``), a single bundle file (``ip-route.txt``, ``nft-ruleset.nft``...)
or a bare ``nft list ruleset`` (text or JSON); ``-`` reads standard input.
Every unreadable line raises :class:`~wgexplain.errors.DumpError` naming the
file and line. What the dump lacks is then derived by
``wgexplain.kernel.fib_frontend.complete()`` (marked derived), when present.
"""

from __future__ import annotations

import gc
import os
import re
import sys
from pathlib import Path

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, Host, Origin
from wgexplain.sources.assemble import Collector, complete, nft_parser
from wgexplain.sources.transcript import Block, looks_like_session

__all__ = ["load", "load_text", "load_raw", "read_session", "DumpError"]


def load(source: str | os.PathLike[str], *, text: str | None = None,
         table_names: dict[str, int] | None = None) -> Host:
    """Read a SOURCE into a :class:`Host` (then completed the way the kernel derives).

    ``text``: the content, already read (``source`` then only names it).
    ``table_names``: an ``rt_tables`` mapping (name -> id) for custom names.
    ``"--live"`` reads the running kernel (read-only, see ``sources.live``).
    """
    if os.fspath(source) == "--live" and text is None:
        from wgexplain.sources.live import load_live

        return _counted(load_live())
    return _counted(complete(load_raw(source, text=text, table_names=table_names)))


def _counted(host: Host) -> Host:
    """The host with its alike warnings counted once (:mod:`wgexplain.sources.warnings`)."""
    from dataclasses import replace

    from wgexplain.sources.warnings import collapse_warnings

    warnings = collapse_warnings(host.warnings)
    return host if warnings == host.warnings else replace(host, warnings=warnings)


def load_text(text: str, name: str, *, table_names: dict[str, int] | None = None) -> Host:
    """Read text in hand (a pasted session, a ruleset...) named ``name`` in messages."""
    return _counted(complete(load_raw(name, text=text, table_names=table_names)))


def load_raw(source: str | os.PathLike[str], *, text: str | None = None,
             table_names: dict[str, int] | None = None) -> Host:
    """Like :func:`load`, without the derivation step: only what the dump holds."""
    # A big dump is millions of acyclic objects: the cyclic collector would rescan them
    # all, again and again, while they are built (seconds for a full BGP table).
    gc_was = gc.isenabled()
    gc.disable()
    try:
        return _load_raw(source, text=text, table_names=table_names)
    finally:
        if gc_was:
            gc.enable()


def _load_raw(source: str | os.PathLike[str], *, text: str | None,
              table_names: dict[str, int] | None) -> Host:
    name = os.fspath(source)
    if text is None:
        if name == "-":
            # bytes, decoded as files are: invalid UTF-8 is replaced, never a
            # UnicodeDecodeError (strict stdin) nor lone surrogates (surrogateescape stdin)
            buf = getattr(sys.stdin, "buffer", None)
            text = buf.read().decode("utf-8", "replace") if buf is not None else sys.stdin.read()
            name = "<stdin>"
        else:
            p = Path(name)
            if p.is_dir():
                from wgexplain.sources.bundle import read_bundle

                return read_bundle(p, table_names=table_names)
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                raise DumpError(name, 0, "an existing file or bundle directory",
                                got="no such file") from None
            except OSError as e:
                raise DumpError(name, 0, "a readable file", got=e.strerror) from None
    return read_text(text, name, table_names=table_names)


def read_text(text: str, name: str, *, table_names: dict[str, int] | None = None) -> Host:
    """Decide what ``text`` is (session, one bundle file, a ruleset) and read it."""
    from wgexplain.sources import bundle

    text = without_surrogates(text)
    base = os.path.basename(name)
    # a pasted session saved as wg.txt, ip-route.txt...: bundle files hold no command lines
    # (an nft file may: '# nft list ruleset' is also an nft comment)
    if base in bundle.FILES and (base.endswith(".nft") or not looks_like_session(text)):
        c = Collector(name)
        c.table_names.update(table_names or {})
        bundle.read_file(c, base, text, name)
        return c.host()
    first = next((i for i, x in enumerate(text.split("\n")) if x.strip()), 0)
    head = text[:4096]
    if "\x00" in head or head.count("\ufffd") > 2:
        raise DumpError(name, first + 1, "a text file (a pasted session, a bundle file or an nft "
                        "ruleset)", got="binary data")
    stripped = text.lstrip()
    if (stripped.startswith("{") and '"nftables"' in text[:200] or name.endswith(".nft")
            or _looks_like_nft(stripped) and _whole_nft(stripped)) \
            and not looks_like_session(text):
        c = Collector(name)
        bundle.read_file(c, "nft-ruleset.json" if stripped.startswith("{") else
                         "nft-ruleset.nft", text, name)
        return c.host()
    # a paste without prompts: listings found by their shape (sources.paste)
    return read_session(text, name, table_names=table_names)


_SURROGATE = re.compile("[\ud800-\udfff]")
#: a JSON escape of a lone surrogate (a high one not followed by a low one, or a low one alone)
_JSON_SURROGATE = re.compile(r"(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, as a file's invalid bytes are:
    those of text decoded with ``surrogateescape`` (invalid UTF-8 from a terminal) and
    JSON's ``\\udXXX`` escapes of one. A device name holding one could not be printed."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    if "\\u" in text and _JSON_SURROGATE.search(text):
        text = _JSON_SURROGATE.sub(r"\\ufffd", text)
    return text


def _looks_like_nft(text: str) -> bool:
    head = text.split("\n", 1)[0].strip()
    return head.startswith(("table ", "flush ruleset", "#!/usr/sbin/nft", "#!/sbin/nft"))


def _whole_nft(text: str) -> bool:
    """A bare ruleset file: nothing but nft text (no prose or other listings after it)."""
    from wgexplain.sources.paste import find_listings

    found = find_listings(text, "")
    return len(found.listings) == 1 and not found.skipped and not found.not_read \
        and found.listings[0].cut is None and not found.stand_ins.found \
        and not found.listings[0].elided


def read_session(text: str, name: str, *, table_names: dict[str, int] | None = None) -> Host:
    """Read a paste: a terminal session, bare listings, Markdown... (:mod:`.paste_read`)."""
    from wgexplain.sources.paste_read import read_paste

    return read_paste(text, name, table_names=table_names)


def read_block(c: Collector, b: Block, file: str) -> None:
    """Hand one command's output to its reader and record the result."""
    from wgexplain.sources import iproute_addr, iproute_rule, sysctl, wg

    cmd = b.command
    origin = Origin(file, b.prompt_line)
    names = c.table_names or None
    if not b.text.strip():
        c.warnings.append(f"{origin}: '{cmd.text}' has no output in the paste")
        return
    if cmd.brief and cmd.kind in ("ip-addr", "ip-link", "ip-route", "ip-rule"):
        raise DumpError(file, b.first_line, "output without -br: brief output drops scopes and "
                        "flags (paste 'ip addr' / 'ip link' instead)", got=cmd.text)
    if cmd.kind == "ip-rule":
        fam = cmd.family or AF_INET
        parse = iproute_rule.parse_rules_json if cmd.json else iproute_rule.parse_rules_text
        rules = parse(b.text, file, b.first_line, fam, table_names=names, warnings=c.warnings)
        if cmd.piped or cmd.args:
            c.warnings.append(f"{origin}: a filtered rule listing ({cmd.piped or ' '.join(cmd.args)})"
                              ": rules not shown are unknown")
        c.add_rules(fam, rules, origin)
    elif cmd.kind == "ip-route":
        _read_routes(c, b, file, origin, names)
    elif cmd.kind in ("ip-addr", "ip-link"):
        if cmd.json:
            links, addrs = iproute_addr.parse_addr_json(b.text, file, b.first_line)
        else:
            links, addrs = iproute_addr.parse_addr_text(b.text, file, b.first_line,
                                                        details=cmd.details)
        filtered = bool(cmd.args) or bool(cmd.piped)
        c.add_links(links)
        if cmd.kind == "ip-addr":
            devs = {lk.name for lk in links} | {a.dev for a in addrs}
            c.add_addresses(addrs, cmd.family, devs)
            if filtered:
                c.dumped.discard("ip-addr")
                c.warnings.append(f"{origin}: a filtered address listing "
                                  f"({cmd.piped or ' '.join(cmd.args)}): other devices are unknown")
    elif cmd.kind == "nft":
        c.blocks.append((cmd.text, Origin(file, b.first_line), b.text))
        what = cmd.args[0] if cmd.args else "ruleset"
        if what in ("tables", "chains", "set", "map"):
            c.warnings.append(f"{origin}: 'nft list {what}' does not show a ruleset; it is kept "
                              "as text only")
            return
        _read_nft(c, b.text, file, b.first_line, cmd.json)
        if what != "ruleset":
            c.warnings.append(f"{origin}: only part of the ruleset was listed ({cmd.text})")
    elif cmd.kind == "wg":
        c.blocks.append((cmd.text, Origin(file, b.first_line), b.text))
        args = list(cmd.args)
        if args[0] == "showconf":
            c.add_wg(wg.parse_wg_showconf(b.text, file, b.first_line, args[1]))
            return
        target = args[1] if len(args) > 1 else "all"
        rest = args[2:]
        iface = None if target == "all" else target
        if rest and rest[0] in ("fwmark", "listen-port"):
            c.add_wg(wg.parse_wg_field(b.text, file, b.first_line, iface, rest[0]))
        elif rest and rest[0] == "dump":
            c.add_wg(wg.parse_wg_dump(b.text, file, b.first_line, iface))
        elif rest:
            c.warnings.append(f"{origin}: 'wg show {' '.join(args[1:])}' is kept as text only")
        else:
            c.add_wg(wg.parse_wg_show(b.text, file, b.first_line))
    elif cmd.kind == "sysctl":
        if cmd.values_only:
            keys = [sysctl.normalise_key(k) for k in cmd.args]
            c.sysctls.update(sysctl.parse_values(b.text, file, b.first_line, keys))
        else:
            c.sysctls.update(sysctl.parse_sysctl_text(b.text, file, b.first_line))
        c.dumped.add("sysctl")
    elif cmd.kind == "proc":
        if any("*" in a for a in cmd.args):
            c.warnings.append(f"not modelled: {origin}: '{cmd.text}' prints values without "
                              "their file names (use 'grep . /proc/sys/...' or sysctl)")
            return
        keys = [sysctl.key_of_path(a) for a in cmd.args]
        c.sysctls.update(sysctl.parse_values(b.text, file, b.first_line, keys))
        c.dumped.add("sysctl")


def _read_routes(c: Collector, b: Block, file: str, origin: Origin,
                 names: dict[str, int] | None) -> None:
    from wgexplain.sources import iproute_route, rtnames

    cmd = b.command
    table: int | str | None = None
    if cmd.table is not None and cmd.table != "all":
        if cmd.table == "cache":
            raise DumpError(file, b.prompt_line, "a FIB listing (not modelled: the route cache)",
                            got=cmd.text)
        tid = rtnames.table_id(cmd.table, names)
        if tid is None:
            raise DumpError(file, b.prompt_line, "a table number or known name after 'table' "
                            "(main, local, default, or one from rt_tables)", got=cmd.table)
        table = tid
    elif cmd.table == "all":
        table = "all"
    filters = dict(cmd.filters)
    dev = filters.pop("dev", None) or filters.pop("oif", None)
    parse = iproute_route.parse_routes_json if cmd.json else iproute_route.parse_routes_text
    routes = parse(b.text, file, b.first_line, cmd.family,
                   table if isinstance(table, int) else None, table_names=names, dev=dev,
                   warnings=c.warnings)
    partial = cmd.text if (dev is not None or filters or cmd.piped) else None
    c.add_routes(cmd.family, table, routes, origin, partial=partial)


def _read_nft(c: Collector, text: str, file: str, first_line: int, is_json: bool) -> None:
    mod = nft_parser()
    c.dumped.add("nft")
    if mod is None:
        c.warnings.append("the nft ruleset was kept as text: no nft reader is installed")
        return
    fn = getattr(mod, "parse_ruleset_json" if is_json else "parse_ruleset_text", None)
    if fn is None:
        c.warnings.append("the nft ruleset was kept as text: the nft reader lacks "
                          + ("parse_ruleset_json" if is_json else "parse_ruleset_text"))
        return
    c.nft.append(fn(text, file, first_line))

