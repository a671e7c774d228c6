"""Gather what the readers found into one :class:`Host`.

A session can hold the same thing twice (``ip route`` then ``ip route show
table all``; ``ip link`` then ``ip addr``): later listings replace earlier
ones for what they cover (one table, one family, one device), as the later
command saw the newer state, and a changed listing is reported as a
warning. ``dumped`` names what was really present:

``ip-rule``/``ip6-rule``; ``ip-route``/``ip6-route`` plus
``ip-route:all``, ``ip-route:main``, ``ip-route:local`` or
``ip-route:<id>`` for the tables covered (``ip6-route:...`` likewise); a
listing narrowed by a selector (``dev X``, ``| grep``) adds only
``ip-route:partial``; ``ip-addr``, ``ip-link`` (``ip addr`` lists the links
too), ``nft``, ``wg``, ``sysctl``.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Sequence

from wgexplain.errors import DumpError
from wgexplain.model import (AF_INET, AF_INET6, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN, TABLE_NAMES,
                             Address, Host, KernelAnswer, Link, Origin, Redacted, Route, Rule,
                             WgInterface, chain_routes,
                             route_tables)


def optional_module(name: str) -> Any | None:
    """Import ``name`` if it exists (written by another part of the project), else None.

    Only a missing module itself counts as absent: an error inside it is raised.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
            return None
        raise


def _fam(prefix_family: int) -> str:
    return "ip" if prefix_family == AF_INET else "ip6"


class Collector:
    """Mutable gathering of facts, turned into a frozen :class:`Host` by :meth:`host`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.links: dict[int, Link] = {}
        self.addresses: dict[str, list[Address]] = {}
        self.rules: dict[int, tuple[list[Rule], Origin]] = {}
        self.routes: dict[tuple[int, int], tuple[Sequence[Route], Origin]] = {}
        self.partial_routes: list[Route] = []
        self.sysctls: dict[str, str] = {}
        self.wg: dict[str, WgInterface] = {}
        self.blocks: list[tuple[str, Origin, str]] = []
        self.nft: list[Any] = []
        self.dumped: set[str] = set()
        self.warnings: list[str] = []
        self.table_names: dict[str, int] = {}
        #: the kernel profile a bundle's kernel.json records (None: not recorded)
        self.kernel: Any = None
        self.redacted: list[Redacted] = []
        self.kernel_answers: list[KernelAnswer] = []

    # -- rules
    def add_rules(self, family: int, rules: list[Rule], origin: Origin) -> None:
        prev = self.rules.get(family)
        if prev is not None and _strip(prev[0]) != _strip(rules):
            self.warnings.append(f"two different {_fam(family)} rule listings ({prev[1]} and "
                                 f"{origin}): the later one is used")
        self.rules[family] = (rules, origin)
        self.dumped.add(f"{_fam(family)}-rule")

    # -- routes
    def add_routes(self, family: int | None, table: int | str | None, routes: Sequence[Route],
                   origin: Origin, *, partial: str | None = None) -> None:
        """``table``: "all", a table id, or None (main). ``family`` None: both (table all)."""
        fams = [family] if family is not None else [AF_INET, AF_INET6]
        if partial:
            self.partial_routes.extend(routes)
            for f in fams:
                self.dumped.add(f"{_fam(f)}-route:partial")
                self.dumped.add(f"{_fam(f)}-route")
            what = "an incomplete" if partial.startswith("lines left out") else "a filtered"
            self.warnings.append(f"{origin}: {what} route listing ({partial}): only the "
                                 "routes shown are known, not whole tables")
            return
        by_table: dict[tuple[int, int], Sequence[Route]] = {}
        split = getattr(routes, "by_table", None)
        if split is not None:  # a reader's lazy columns: split without building routes
            by_table = split()
        else:
            for r in routes:  # one pass: a full table has a million routes
                lst = by_table.get((r.family, r.table))
                if lst is None:
                    lst = by_table[(r.family, r.table)] = []
                lst.append(r)  # type: ignore[attr-defined]
        for f in fams:
            mine_tables = {t for (ff, t) in by_table if ff == f}
            self.dumped.add(f"{_fam(f)}-route")
            if table == "all":
                tables = sorted(mine_tables)
                if RT_TABLE_LOCAL in tables:
                    self.dumped.add(f"{_fam(f)}-route:all")
                    for key in [k for k in self.routes if k[0] == f]:
                        if key[1] not in tables:
                            del self.routes[key]
                else:
                    # every real "table all" listing has table local (at least lo's
                    # 127.0.0.1 / ::1): this one was cut, so only its tables are known
                    if mine_tables:
                        self.warnings.append(
                            f"{origin}: a 'table all' listing without table local: only the "
                            f"tables it shows ({', '.join(str(t) for t in tables)}) count as "
                            "dumped")
                    for t in tables:
                        self.dumped.add(f"{_fam(f)}-route:{t}")
                        if t in TABLE_NAMES:
                            self.dumped.add(f"{_fam(f)}-route:{TABLE_NAMES[t]}")
            else:
                tid = RT_TABLE_MAIN if table is None else int(table)
                self.dumped.add(f"{_fam(f)}-route:{tid}")
                if tid in TABLE_NAMES:
                    self.dumped.add(f"{_fam(f)}-route:{TABLE_NAMES[tid]}")
                tables = [tid]
            for t in tables:
                these = by_table.get((f, t), [])
                prev = self.routes.get((f, t))
                if prev is not None and _strip(prev[0], route=True) != _strip(these, route=True):
                    self.warnings.append(f"table {t} ({_fam(f)}) differs between {prev[1]} and "
                                         f"{origin}: the later listing is used")
                self.routes[(f, t)] = (these, origin)

    # -- links and addresses
    def add_links(self, links: list[Link]) -> None:
        for lk in links:
            self.links[lk.index] = lk
        if links:
            self.dumped.add("ip-link")

    def add_addresses(self, addrs: list[Address], family: int | None, devs: set[str]) -> None:
        for dev in devs:
            kept = [a for a in self.addresses.get(dev, []) if family is not None
                    and a.family != family]
            self.addresses[dev] = kept
        for a in addrs:
            self.addresses.setdefault(a.dev, []).append(a)
        self.dumped.add("ip-addr" if family is None else
                        f"ip-addr:{'inet' if family == AF_INET else 'inet6'}")

    # -- others
    def add_wg(self, ifs: list[WgInterface]) -> None:
        for w in ifs:
            old = self.wg.get(w.name)
            if old is not None and not w.peers and w.public_key is None:
                # a one-field listing (wg show IF fwmark) updates what is known
                w = dataclasses.replace(old, fwmark=w.fwmark if w.fwmark else old.fwmark,
                                        listen_port=w.listen_port or old.listen_port)
            self.wg[w.name] = w
        self.dumped.add("wg")

    def host(self) -> Host:
        links = tuple(sorted(self.links.values(), key=lambda lk: lk.index))
        # in the order `ip addr` lists them: by interface index, then as dumped
        # (not by dict order, which followed a set of names and so the hash seed)
        index = {lk.name: lk.index for lk in links}
        devs = sorted(self.addresses, key=lambda d: (index.get(d, 1 << 31), d))
        addresses = tuple(a for dev in devs for a in self.addresses[dev])
        rules = tuple(r for fam in sorted(self.rules) for r in self.rules[fam][0])
        covered = set(self.routes)
        routes = chain_routes([*(self.routes[key][0] for key in self.routes),
                               [r for r in self.partial_routes
                                if (r.family, r.table) not in covered]])
        names = dict(TABLE_NAMES)
        for name, tid in self.table_names.items():
            names.setdefault(tid, name)
        ruleset = self._ruleset()
        warnings = list(self.warnings) + self._missing(rules, routes)
        return Host(links=links, addresses=addresses, rules=rules, routes=routes,
                    table_names=names, sysctls=dict(self.sysctls), ruleset=ruleset,
                    wireguard=tuple(self.wg.values()), dumped=frozenset(self.dumped),
                    warnings=tuple(dict.fromkeys(warnings)), source=self.source,
                    blocks=tuple(self.blocks), kernel=self.kernel,
                    redacted=tuple(self.redacted),
                    kernel_answers=tuple(self.kernel_answers))

    def _ruleset(self) -> Any:
        if not self.nft:
            return None
        first = self.nft[0]
        if len(self.nft) == 1:
            return first
        tables = tuple(t for rs in self.nft for t in getattr(rs, "tables", ()))
        return dataclasses.replace(first, tables=tables)

    def _missing(self, rules: tuple[Rule, ...], routes: Sequence[Route]) -> list[str]:
        out = []
        d = self.dumped
        if "ip-rule" not in d and "ip-rule:wg-quick-log" in d:
            out.append("no ip rule in this dump: besides the rules the wg-quick log added, the "
                       "kernel's default rules are assumed")
        elif "ip-rule" not in d:
            out.append("no ip rule in this dump: the kernel's default rules are assumed")
        if "ip6-rule" not in d and ("ip6-route" in d or any(a.family == AF_INET6 and
                                                            a.scope == "global" for lst in
                                                            self.addresses.values()
                                                            for a in lst)):
            out.append("no ip -6 rule in this dump: the kernel's default IPv6 rules are assumed")
        if "ip-route" not in d:
            out.append("no ip route in this dump")
        if "ip6-route" not in d:
            out.append("no IPv6 routes in this dump")
        if not any(k.startswith("ip-addr") for k in d):
            out.append("no ip addr in this dump: addresses and links are unknown")
        if "nft" not in d:
            out.append("no nft ruleset in this dump")
        tables_seen = route_tables(routes)
        for r in rules:
            if r.action != "lookup" or r.table is None or r.table in (RT_TABLE_LOCAL,
                                                                      RT_TABLE_DEFAULT):
                continue
            fam = _fam(r.family)
            if (r.family, r.table) in tables_seen or f"{fam}-route:all" in d \
                    or f"{fam}-route:{r.table}" in d:
                continue
            if r.table == RT_TABLE_MAIN and f"{fam}-route:main" in d:
                continue
            out.append(f"rule {r.pref} ({r.origin}) looks up table {r.table}, which is not in "
                       f"this dump ({'ip' if r.family == AF_INET else 'ip -6'} route show "
                       f"table {r.table} was not run)")
        return out


def _strip(items: Sequence[Any], route: bool = False) -> list[Any]:
    if route:
        from wgexplain.sources.iproute_route import route_key

        return [route_key(r) for r in items]
    return [dataclasses.replace(x, origin=Origin("")) for x in items]


def complete(host: Host) -> Host:
    """``wgexplain.kernel.fib_frontend.complete`` when that module exists."""
    mod = optional_module("wgexplain.kernel.fib_frontend")
    if mod is None or not hasattr(mod, "complete"):
        return host
    return mod.complete(host)  # type: ignore[no-any-return]


def nft_parser() -> Any | None:
    return optional_module("wgexplain.sources.nft")


__all__ = ["Collector", "complete", "nft_parser", "optional_module", "DumpError"]
