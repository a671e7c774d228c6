"""Bundle directories (DESIGN.md): one file per listing, text and/or ``-j`` JSON.

=====================  ==============================================
file                   holds
=====================  ==============================================
ip-rule.txt / .json    ``ip -4 rule`` / ``ip -4 -j rule``
ip6-rule.txt / .json   ``ip -6 rule`` / ``ip -6 -j rule``
ip-route.txt / .json   ``ip -4 route show table all`` (and ``-j``)
ip6-route.txt / .json  ``ip -6 route show table all`` (and ``-j``)
ip-addr.txt / .json    ``ip addr`` (both families)
ip-link.txt / .json    ``ip link``
nft-ruleset.nft/.json  ``nft list ruleset`` / ``nft -j list ruleset``
wg.txt                 ``wg show all dump`` (``wg show`` also read)
sysctl.txt             ``key = value`` lines
rt_tables              optional: ``/etc/iproute2/rt_tables`` names
kernel.json            optional: the kernel release and build features
                       (:mod:`wgexplain.kernel.profile`), as ``capture`` writes it
=====================  ==============================================

Where a text and a JSON file hold the same listing, both are read and must
agree (origins and the ticking ``expires`` aside); otherwise a
:class:`DumpError` names both files. The nftables ruleset is the exception:
twins that differ are a warning naming the first chain/rule that differs,
and the JSON (nft's canonical form) is read; a twin that cannot be read is a
warning and the other one is read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, Host, Origin
from wgexplain.sources.assemble import Collector, nft_parser

#: bundle file name -> (what, family)
FILES: dict[str, tuple[str, int | None]] = {
    "ip-rule.txt": ("rule", AF_INET), "ip-rule.json": ("rule", AF_INET),
    "ip6-rule.txt": ("rule", AF_INET6), "ip6-rule.json": ("rule", AF_INET6),
    "ip-route.txt": ("route", AF_INET), "ip-route.json": ("route", AF_INET),
    "ip6-route.txt": ("route", AF_INET6), "ip6-route.json": ("route", AF_INET6),
    "ip-addr.txt": ("addr", None), "ip-addr.json": ("addr", None),
    "ip-link.txt": ("link", None), "ip-link.json": ("link", None),
    "nft-ruleset.nft": ("nft", None), "nft-ruleset.json": ("nft", None),
    "wg.txt": ("wg", None), "sysctl.txt": ("sysctl", None), "rt_tables": ("rt_tables", None),
    "kernel.json": ("kernel", None),
}


def _parse(what: str, family: int | None, is_json: bool, text: str, name: str,
           c: Collector) -> Any:
    from wgexplain.sources import iproute_addr, iproute_route, iproute_rule

    names = c.table_names or None
    if what == "rule":
        fn = iproute_rule.parse_rules_json if is_json else iproute_rule.parse_rules_text
        return fn(text, name, 1, family or AF_INET, table_names=names, warnings=c.warnings)
    if what == "route":
        fn2 = iproute_route.parse_routes_json if is_json else iproute_route.parse_routes_text
        return fn2(text, name, 1, family, None, table_names=names, warnings=c.warnings)
    if what in ("addr", "link"):
        if is_json:
            return iproute_addr.parse_addr_json(text, name, 1)
        return iproute_addr.parse_addr_text(text, name, 1, details=True)
    if what == "nft":
        mod = nft_parser()
        if mod is None:
            return None
        return (mod.parse_ruleset_json if is_json else mod.parse_ruleset_text)(text, name, 1)
    raise AssertionError(what)  # pragma: no cover


def _record(c: Collector, what: str, family: int | None, value: Any, name: str,
            text: str, is_json: bool) -> None:
    origin = Origin(name, 1)
    if what == "rule":
        c.add_rules(family or AF_INET, value, origin)
    elif what == "route":
        c.add_routes(family, "all", value, origin)
    elif what in ("addr", "link"):
        links, addrs = value
        c.add_links(links)
        if what == "addr":
            c.add_addresses(addrs, None, {lk.name for lk in links} | {a.dev for a in addrs})
    elif what == "nft":
        c.blocks.append(("nft -j list ruleset" if is_json else "nft list ruleset", origin, text))
        c.dumped.add("nft")
        if value is None:
            c.warnings.append("the nft ruleset was kept as text: no nft reader is installed")
        else:
            c.nft.append(value)


def read_file(c: Collector, base: str, text: str, name: str) -> None:
    """Read one bundle file (by its bundle name ``base``) into ``c``."""
    from wgexplain.sources import rtnames, sysctl, without_surrogates, wg

    text = without_surrogates(text)
    what, family = FILES[base]
    if what == "wg":
        c.blocks.append(("wg show all dump", Origin(name, 1), text))
        if wg.looks_like_dump(text):
            c.add_wg(wg.parse_wg_dump(text, name, 1))
        else:
            c.add_wg(wg.parse_wg_show(text, name, 1))
        return
    if what == "sysctl":
        c.sysctls.update(sysctl.parse_sysctl_text(text, name, 1))
        c.dumped.add("sysctl")
        return
    if what == "rt_tables":
        c.table_names.update(rtnames.parse_rt_tables(text))
        return
    if what == "kernel":
        from wgexplain.kernel.profile import from_record

        try:
            c.kernel = from_record(text, "kernel.json")
        except ValueError as e:
            c.warnings.append(f"{name}: not a kernel record ({e}); not read: the default "
                              "kernel profile is used")
        return
    is_json = base.endswith(".json")
    _record(c, what, family, _parse(what, family, is_json, text, name, c), name, text, is_json)


def _key(what: str, value: Any) -> Any:
    from wgexplain.sources.iproute_route import route_key

    if what == "route":
        return [route_key(r) for r in value]
    return _strip_origins(value)


#: fields that differ between two correct listings of the same state: where a fact was
#: read, nft's handles (``nft -j`` prints them, ``nft list`` only with ``-a``) and a rule's
#: text as printed (JSON has none: the nft reader renders one, e.g. reject's defaults)
_NOT_COMPARED = frozenset({"origin", "handle", "text"})


def _strip_origins(obj: Any) -> Any:
    """A comparable view of model objects without their origins (and nft handles)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__,) + tuple(
            _strip_origins(getattr(obj, f.name)) for f in dataclasses.fields(obj)
            if f.name not in _NOT_COMPARED and not isinstance(getattr(obj, f.name), Origin))
    if isinstance(obj, (list, tuple)):
        return tuple(_strip_origins(x) for x in obj)
    return obj


def _first_difference(what: str, a: Any, b: Any) -> tuple[int, int]:
    """(line in the text file, line in the JSON file) of the first item that differs."""
    if what in ("addr", "link"):
        a, b = list(a[0]) + list(a[1]), list(b[0]) + list(b[1])
    ka, kb = _key(what, a), _key(what, b)
    for x, y, kx, ky in zip(a, b, ka, kb):
        if kx != ky:
            return getattr(x.origin, "line", 1), getattr(y.origin, "line", 1)
    if len(a) != len(b):
        longer = a if len(a) > len(b) else b
        extra = longer[min(len(a), len(b))]
        line = getattr(getattr(extra, "origin", None), "line", 1)
        return (line, 1) if longer is a else (a[-1].origin.line if a else 1, line)
    return 1, 1


def _read_nft_twins(c: Collector, ttext: str, tname: str, jtext: str, jname: str) -> None:
    """``nft-ruleset.nft`` and ``nft-ruleset.json`` together. nft's JSON is the
    canonical form: twins that differ (listed at different moments, edited...)
    cost a warning naming the first chain/rule that differs and the JSON is
    read; one twin that cannot be read costs a warning and the other is read.
    Only when neither can be read is the bundle refused (the text's error)."""
    errors: list[DumpError] = []
    values = []
    for text, name, is_json in ((ttext, tname, False), (jtext, jname, True)):
        try:
            values.append(_parse("nft", None, is_json, text, name, c))
        except DumpError as exc:
            errors.append(exc)
            values.append(None)
    tval, jval = values
    nft_mod = nft_parser()
    if nft_mod is None or (tval is not None and jval is not None):
        diff = None if nft_mod is None else nft_mod.ruleset_difference(tval, jval)
        if diff is None:
            _record(c, "nft", None, tval, tname, ttext, False)
            return
        c.warnings.append(f"{tname} and {jname} are not the same ruleset ({diff}): "
                          f"read {jname}, nft's canonical form")
        _record(c, "nft", None, jval, jname, jtext, True)
        return
    if tval is None and jval is None:
        raise errors[0]
    good, gname, gtext, is_json = (jval, jname, jtext, True) if tval is None else \
        (tval, tname, ttext, False)
    c.warnings.append(f"{errors[0]}; read {gname} alone")
    _record(c, "nft", None, good, gname, gtext, is_json)


def read_bundle(path: Path, *, table_names: dict[str, int] | None = None) -> Host:
    """Read a bundle directory into a :class:`Host` (not yet completed)."""
    c = Collector(str(path))
    c.table_names.update(table_names or {})
    present = {p.name: p for p in sorted(path.iterdir()) if p.is_file()}
    known = [n for n in present if n in FILES]
    if not known:
        raise DumpError(str(path), 0, "a bundle directory with ip-rule.txt, ip-route.txt, "
                        "ip-addr.txt, nft-ruleset.nft, ... (see DESIGN.md)",
                        got=", ".join(sorted(present)) or "an empty directory")
    for other in sorted(set(present) - set(known)):
        if not other.startswith(".") and other.lower() not in ("readme", "readme.md"):
            c.warnings.append(f"{path / other}: not a bundle file name; not read")

    def read(n: str) -> str:
        return present[n].read_text(encoding="utf-8", errors="replace")

    if "rt_tables" in present:
        read_file(c, "rt_tables", read("rt_tables"), str(present["rt_tables"]))
    done: set[str] = {"rt_tables"}
    for n in known:
        if n in done:
            continue
        stem, _, ext = n.rpartition(".")
        if ext == "json" and (f"{stem}.txt" in present or f"{stem}.nft" in present):
            continue  # read with its text twin
        twin = f"{stem}.json" if ext in ("txt", "nft") else None
        what, family = FILES[n]
        if twin and twin in present:
            tname, jname = str(present[n]), str(present[twin])
            ttext, jtext = read(n), read(twin)
            if what == "nft":
                _read_nft_twins(c, ttext, tname, jtext, jname)
                done.update({n, twin})
                continue
            tval = _parse(what, family, False, ttext, tname, c)
            jval = _parse(what, family, True, jtext, jname, c)
            if tval is not None and jval is not None:
                same = (_key(what, tval[0]) == _key(what, jval[0])
                        and _key(what, tval[1]) == _key(what, jval[1])) \
                    if what in ("addr", "link") else _key(what, tval) == _key(what, jval)
                if not same:
                    lt, lj = _first_difference(what, tval, jval) if what != "nft" else (1, 1)
                    raise DumpError(tname, lt, f"the same {what}s as {jname} (line {lj}): the "
                                    "text and JSON files of a bundle must agree",
                                    got=ttext.split("\n")[lt - 1].strip()
                                    if 0 < lt <= ttext.count("\n") + 1 else None)
            _record(c, what, family, tval, tname, ttext, False)
            done.update({n, twin})
        else:
            read_file(c, n, read(n), str(present[n]))
            done.add(n)
    return c.host()
