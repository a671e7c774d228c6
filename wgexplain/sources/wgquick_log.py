"""Read ``wg-quick up``'s log (``[#] ip rule add ...``) as the state it installed.

wg-quick (wireguard-tools src/wg-quick/linux.bash) prints every command it
runs after ``[#] ``. Those that change routing state are read as what they
install, on top of a machine that is otherwise unknown:

- ``ip [-4|-6] rule add SELECTORS [table T|lookup T] [pref N]``: a rule; the
  preference, when not given, the kernel's ``fib_default_rule_pref()``
  (net/core/fib_rules.c): one less than the second rule's. The kernel's
  default rules are included, marked derived ("assumed"): the log does not
  show the rules that were there before.
- ``ip [-4|-6] route add ROUTE``: a route (scope link without a gateway, as
  ``iproute_modify()`` in ip/iproute.c chooses), in its table;
- ``ip [-4|-6] address add A dev D``, ``ip link add D type wireguard``,
  ``ip link set [mtu N] up dev D``: addresses and links;
- ``wg set D fwmark M``: the device's fwmark; ``sysctl -q K=V``: a sysctl.

``nft -f``/``iptables-restore`` read their rules from a pipe the log does not
show; ``resolvconf``, ``wg setconf`` and the like do not route: they are named
in a warning as not read.
"""

from __future__ import annotations


from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, AF_INET6, Link, Origin, Rule, WgInterface
from wgexplain.sources import iproute_route, rtnames
from wgexplain.sources.assemble import Collector
from wgexplain.sources.paste import Listing
from wgexplain.sources.transcript import split_words

_DEFAULTS = {AF_INET: ((0, 255), (32766, 254), (32767, 253)), AF_INET6: ((0, 255), (32766, 254))}


def _family(argv: list[str]) -> tuple[int | None, list[str]]:
    fam = None
    while argv and argv[0].startswith("-"):
        if argv[0] == "-4":
            fam = AF_INET
        elif argv[0] == "-6":
            fam = AF_INET6
        argv = argv[1:]
    return fam, argv


def read_wgquick_log(c: Collector, lst: Listing, name: str) -> int:
    """Read a ``wg-quick up`` log into ``c``; returns 1 when something was read."""
    rules: dict[int, list[Rule]] = {}
    read = 0
    skipped: list[str] = []
    links: dict[str, Link] = {}
    wg: dict[str, WgInterface] = {}
    for i in sorted(lst.lines):
        s = lst.lines[i].strip()
        if "[#]" not in s:
            continue
        s = s[s.index("[#]"):]  # after a journal's "date host wg-quick[pid]: "
        argv = split_words(s[3:].strip())
        if not argv:
            continue
        line = i + 1
        try:
            read += _one(c, argv, name, line, rules, links, wg)
        except DumpError as e:
            skipped.append(f"{s[3:].strip()} (line {line}: expected {e.expected}"
                           + (f", got {e.got!r})" if e.got is not None else ")"))
            continue
        except (IndexError, ValueError):  # a command cut short: its arguments are missing
            skipped.append(f"{s[3:].strip()} (line {line}: cut short)")
            continue
        if not _handled(argv):
            skipped.append(f"{s[3:].strip()} (line {line})")
    return _finish(c, lst, name, read, skipped, rules, links, wg)


def _handled(argv: list[str]) -> bool:
    prog = argv[0].rsplit("/", 1)[-1]
    if prog == "ip":
        _, rest = _family(argv[1:])
        return len(rest) >= 2 and any(o.startswith(rest[0]) for o in ("rule", "route", "address",
                                                                        "link")) and \
            rest[1] in ("add", "replace", "set", "delete", "del")
    return (prog == "wg" and len(argv) >= 4 and argv[1] == "set" and "fwmark" in argv[:-1]) \
        or prog == "sysctl"


def _one(c: Collector, argv: list[str], name: str, line: int, rules: dict[int, list[Rule]],
         links: dict[str, Link], wg: dict[str, WgInterface]) -> int:
    """Read one logged command into ``c``; returns 1 when it installed something we model."""
    from wgexplain.sources import iproute_rule

    origin = Origin(name, line)
    prog = argv[0].rsplit("/", 1)[-1]
    if prog == "ip":
        fam, rest = _family(argv[1:])
        if len(rest) >= 2 and "rule".startswith(rest[0]) and rest[1] == "add":
            fam = fam or AF_INET
            have = rules.setdefault(fam, [Rule(fam, p, table=t, origin=Origin(
                name, 0, derived=True, why="a kernel default rule, assumed (not in the "
                "wg-quick log)"))
                for p, t in _DEFAULTS[fam]])
            text = _rule_text(rest[2:], have)
            r = iproute_rule.parse_rules_text(text, name, line, fam,
                                              table_names=c.table_names or None,
                                              warnings=c.warnings)[0]
            have.append(r)
            have.sort(key=lambda x: x.pref)
            return 1
        if len(rest) >= 2 and "rule".startswith(rest[0]) and rest[1] in ("delete", "del"):
            # fib_nl_delrule(): the first rule (by preference) whose given attributes match
            fam = fam or AF_INET
            have = rules.get(fam, [])
            want = iproute_rule.parse_rules_text(_rule_text(rest[2:], have, pref="0"), name,
                                                 line, fam, table_names=c.table_names or None)[0]
            given = _given_fields(rest[2:])
            for r in sorted(have, key=lambda x: x.pref):
                if all(getattr(r, f) == getattr(want, f) for f in given if f != "pref"):
                    have.remove(r)
                    return 1
            return 0
        if len(rest) >= 2 and "link".startswith(rest[0]) and rest[1] in ("delete", "del"):
            dev = rest[rest.index("dev") + 1] if "dev" in rest[:-1] else rest[2]
            # unregister_netdevice(): its addresses and the routes through it go too
            links.pop(dev, None)
            c.addresses.pop(dev, None)
            c.partial_routes[:] = [r for r in c.partial_routes
                                   if all(nh.dev != dev for nh in r.nexthops)]
            wg.pop(dev, None)
            return 1
        if len(rest) >= 2 and "route".startswith(rest[0]) and rest[1] in ("add", "replace"):
            words = rest[2:]
            if "via" not in words and "scope" not in words and words[:1] not in (
                    ["blackhole"], ["unreachable"], ["prohibit"], ["throw"], ["local"]):
                words = words + ["scope", "link"]
            routes = iproute_route.parse_routes_text(" ".join(words), name, line, fam, None,
                                                     table_names=c.table_names or None,
                                                     warnings=c.warnings)
            for rt in routes:
                c.partial_routes.append(rt)
                c.dumped.add(f"{'ip' if rt.family == AF_INET else 'ip6'}-route:wg-quick-log")
            return 1
        if len(rest) >= 2 and "address".startswith(rest[0]) and rest[1] == "add" and \
                "dev" in rest:
            from wgexplain.sources.iproute_addr import parse_addr_text

            dev = rest[rest.index("dev") + 1] if rest.index("dev") + 1 < len(rest) else ""
            addr = rest[2]
            v6 = ":" in addr
            if "/" not in addr:
                addr += "/128" if v6 else "/32"
            _, addrs = parse_addr_text(f"1: {dev}: <UP>\n    {'inet6' if v6 else 'inet'} "
                                       f"{addr} scope global", name, line - 1)
            for a in addrs:
                c.addresses.setdefault(dev, []).append(a)
            c.dumped.add("ip-addr:wg-quick-log")
            return 1
        if len(rest) >= 2 and "link".startswith(rest[0]) and rest[1] in ("add", "set"):
            dev = rest[2] if rest[1] == "add" else (rest[rest.index("dev") + 1]
                                                     if "dev" in rest[:-1] else "")
            if not dev:
                return 0
            lk = links.get(dev) or Link(1000 + len(links), dev, frozenset({"POINTOPOINT",
                                                                           "NOARP"}),
                                        kind="wireguard" if "wireguard" in rest else None,
                                        link_type="none", origin=origin)
            if "up" in rest:
                lk = Link(lk.index, dev, lk.flags | {"UP", "LOWER_UP"}, lk.mtu, "UNKNOWN",
                          lk.link_type, None, lk.kind, origin=lk.origin)
            if "mtu" in rest[:-1]:
                mtu = rest[rest.index("mtu") + 1]
                if mtu.isascii() and mtu.isdigit():
                    lk = Link(lk.index, dev, lk.flags, int(mtu), lk.state, lk.link_type,
                              None, lk.kind, origin=lk.origin)
            links[dev] = lk
            return 1
    if prog == "wg" and len(argv) >= 4 and argv[1] == "set" and "fwmark" in argv[:-1]:
        dev = argv[2]
        mark = rtnames.parse_int(argv[argv.index("fwmark") + 1]) or 0
        wg[dev] = WgInterface(dev, fwmark=mark, inferred=True, origin=origin)
        return 1
    read = 0
    if prog == "sysctl":
        for word in argv[1:]:
            if "=" in word and not word.startswith("-"):
                k, _, v = word.partition("=")
                c.sysctls[k.replace("/", ".")] = v
                read = 1
    return read


def _finish(c: Collector, lst: Listing, name: str, read: int, skipped: list[str],
            rules: dict[int, list[Rule]], links: dict[str, Link],
            wg: dict[str, WgInterface]) -> int:
    for fam, lst_rules in rules.items():
        c.rules[fam] = (lst_rules, Origin(name, lst.start + 1))
        c.dumped.add(f"{'ip' if fam == AF_INET else 'ip6'}-rule:wg-quick-log")
    index = {lk.index for lk in c.links.values()}
    for lk in links.values():
        if any(x.name == lk.name for x in c.links.values()):
            continue
        while lk.index in index:
            lk = Link(lk.index + 1, lk.name, lk.flags, lk.mtu, lk.state, lk.link_type, None,
                      lk.kind, origin=lk.origin)
        index.add(lk.index)
        c.links[lk.index] = lk
    for w in wg.values():
        c.wg.setdefault(w.name, w)
    if read:
        c.dumped.add("wg-quick-log")
        c.warnings.append(f"{name}:{lst.start + 1}: a 'wg-quick up' log was read as what it "
                          "installed; what the machine had before it is not in the paste")
    if skipped:
        c.warnings.append("not read from the wg-quick log: " + "; ".join(skipped[:8])
                          + (f"; ... ({len(skipped) - 8} more)" if len(skipped) > 8 else "")
                          + " (their input is not in the log, or they do not route)")
    return 1 if read else 0


_FIELD_OF = {"table": "table", "lookup": "table", "not": "invert", "fwmark": "fwmark",
             "from": "src", "to": "dst", "iif": "iif", "oif": "oif",
             "suppress_prefixlength": "suppress_prefixlength", "pref": "pref",
             "priority": "pref", "preference": "pref", "order": "pref", "uidrange": "uidrange",
             "ipproto": "ipproto", "sport": "sport", "dport": "dport"}


def _given_fields(args: list[str]) -> list[str]:
    """The :class:`Rule` fields an ``ip rule delete`` names (the others match anything)."""
    return list(dict.fromkeys(_FIELD_OF[a] for a in args if a in _FIELD_OF))


def _rule_text(args: list[str], have: list[Rule], pref: str | None = None) -> str:
    """``ip rule add`` arguments -> the line ``ip rule`` would print (pref first)."""
    words: list[str] = []
    k = 0
    while k < len(args):
        a = args[k]
        if a in ("pref", "priority", "order", "preference") and k + 1 < len(args):
            pref = args[k + 1]
            k += 2
            continue
        if a == "table":
            a = "lookup"
        words.append(a)
        k += 1
    if pref is None:
        # fib_default_rule_pref(): the second rule's preference minus one
        ordered = sorted(have, key=lambda r: r.pref)
        p = ordered[1].pref - 1 if len(ordered) > 1 and ordered[1].pref else 0
        pref = str(p)
    if "from" not in words:
        at = 1 if words[:1] == ["not"] else 0
        words[at:at] = ["from", "all"]
    return f"{pref}:\t" + " ".join(words)


