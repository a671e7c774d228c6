"""Read ``ip rule`` output (text and ``-j`` JSON) into :class:`Rule` objects.

The twin of iproute2's ``print_rule()`` (ip/iprule.c, 6.1), which prints a
``struct fib_rule`` (include/net/fib_rules.h) as
``PREF:\\t[not] from SRC [to DST] [tos T] [fwmark M[/MASK]] [iif DEV [[detached]]]
[oif DEV [[detached]]] [lookup [l3mdev-table]] [uidrange A-B] [ipproto P]
[sport A[-B]] [dport A[-B]] [lookup TABLE [suppress_prefixlength N]
[suppress_ifgroup G]] [realms [A/]B] [goto N | nop | blackhole | unreachable |
prohibit] [proto P]``. ``ip rule`` without ``-6`` lists IPv4 rules only.
"""

from __future__ import annotations

import json
from typing import Any

from wgexplain.errors import DumpError
from wgexplain.model import AF_INET, Rule
from wgexplain.sources import rtnames
from wgexplain.sources.jsonlines import json_items

_ACTIONS = frozenset({"blackhole", "unreachable", "prohibit"})


def _net(text: str, family: int, plen: int | None = None) -> Any:
    """``from``/``to`` value -> network of ``family``; None when not one."""
    import ipaddress

    addr, sep, p = text.partition("/")
    if addr == "0" and (sep or plen is not None):  # "from 0/8": no address but a length
        addr = "0.0.0.0" if family == AF_INET else "::"
    if plen is None:
        plen = rtnames.dec(p, 0, 128) if sep else (32 if family == AF_INET else 128)
        if plen is None:
            return None
    try:
        cls = ipaddress.IPv4Network if family == AF_INET else ipaddress.IPv6Network
        return cls(f"{addr}/{plen}")
    except ValueError:
        return None


def _range(text: str, hi: int = rtnames.U32) -> tuple[int, int] | None:
    """``A`` or ``A-B`` (uid range: u32, ports: u16), ASCII digits."""
    a, sep, b = text.partition("-")
    lo_v = rtnames.dec(a, 0, hi)
    hi_v = rtnames.dec(b, 0, hi) if sep else lo_v
    if lo_v is None or hi_v is None:
        return None
    return (lo_v, hi_v)


def parse_rules_text(text: str, file: str, first_line: int = 1, family: int = AF_INET, *,
                     table_names: dict[str, int] | None = None,
                     warnings: list[str] | None = None) -> list[Rule]:
    """Read ``ip rule`` text (``print_rule()`` in ip/iprule.c). Blank lines are skipped."""
    out: list[Rule] = []
    for i, raw in enumerate(text.split("\n")):
        if not raw.strip():
            continue
        out.append(_rule_from_text(raw, file, first_line + i, family, table_names, warnings))
    return out


def _rule_from_text(line: str, file: str, lineno: int, family: int,
                    table_names: dict[str, int] | None, warnings: list[str] | None) -> Rule:
    def err(expected: str, got: str) -> DumpError:
        col = line.find(got)
        return DumpError(file, lineno, expected, got=got, column=col + 1 if col >= 0 else None)

    toks = line.split()
    head = toks[0]
    pref = rtnames.dec(head[:-1]) if head.endswith(":") else None
    if pref is None:  # FRA_PRIORITY: a u32
        raise err("a rule preference like '32766:' (0 to 4294967295)", head)
    f: dict[str, Any] = {"family": family, "pref": pref}
    k = 1
    n = len(toks)

    def value(what: str) -> str:
        nonlocal k
        if k >= n:
            raise err(what, toks[k - 1])
        k += 1
        return toks[k - 1]

    saw_from = False
    while k < n:
        t = toks[k]
        k += 1
        if t == "not":
            f["invert"] = True
        elif t == "from" or t == "to":
            v = value(f"an address, prefix or 'all' after '{t}'")
            saw_from = saw_from or t == "from"
            if v == "all":
                continue
            net = _net(v, family)
            if net is None:
                raise err(f"an {'IPv4' if family == AF_INET else 'IPv6'} address or prefix "
                          f"after '{t}' (this listing is of one family)", v)
            f["src" if t == "from" else "dst"] = net
        elif t in ("tos", "dsfield"):
            v = value("a tos value after 'tos'")
            ds = rtnames.dsfield(v)
            if ds is None:
                raise err("a tos value like 0x10", v)
            f["tos"] = ds
        elif t == "fwmark":
            v = value("a mark after 'fwmark'")
            m, sep, mask = v.partition("/")
            mv = rtnames.parse_int(m, rtnames.U32)
            mk = rtnames.parse_int(mask, rtnames.U32) if sep else None
            if mv is None or (sep and mk is None):
                raise err("a mark like 0x6d6f6c65 or 0x10/0xff", v)
            f["fwmark"] = mv
            if mk is not None and mk != 0xFFFFFFFF:
                f["fwmask"] = mk
        elif t in ("iif", "oif"):
            f[t] = value(f"a device name after '{t}'")
            if k < n and toks[k] == "[detached]":
                f[f"{t}_detached"] = True
                k += 1
        elif t == "lookup" or t == "table":
            v = value("a table after 'lookup'")
            if v == "[l3mdev-table]":
                f["l3mdev"] = True
                f.setdefault("action", "lookup")
                continue
            tid = rtnames.table_id(v, table_names)
            if tid is None:
                raise err("a table number or a known table name (main, local, default, or one "
                          "from an rt_tables mapping)", v)
            f["table"] = tid
            f["action"] = "lookup"
        elif t == "uidrange":
            v = value("a range like 100-200 after 'uidrange'")
            r = _range(v)
            if r is None:
                raise err("a uid range like 100-200", v)
            f["uidrange"] = r
        elif t == "ipproto":
            v = value("a protocol after 'ipproto'")
            p = rtnames.ipproto(v)
            if p is None:
                raise err("an IP protocol name or number (tcp, udp, icmp, gre, 47, ...)", v)
            f["ipproto"] = p
        elif t in ("sport", "dport"):
            v = value(f"a port or range after '{t}'")
            r = _range(v, 0xFFFF)
            if r is None:
                raise err("a port like 53 or a range like 1000-2000", v)
            f[t] = r
        elif t == "suppress_prefixlength":
            v = value("a number after 'suppress_prefixlength'")
            sp = rtnames.dec(v, *rtnames.S32)  # an int in struct fib_rule, printed with %d
            if sp is None:
                raise err("a prefix length", v)
            if sp != -1:
                f["suppress_prefixlength"] = sp
        elif t == "suppress_ifgroup":
            v = value("a group after 'suppress_ifgroup'")
            g = rtnames.group(v)
            if g is None:
                raise err("a device group number or 'default'", v)
            f["suppress_ifgroup"] = g
        elif t == "goto":
            v = value("a preference after 'goto'")
            f["action"] = "goto"
            if v != "none":
                target = rtnames.dec(v)
                if target is None:
                    raise err("a rule preference after 'goto'", v)
                f["goto"] = target
            if k < n and toks[k] == "[unresolved]":
                k += 1
        elif t == "nop":
            f["action"] = "nop"
        elif t in _ACTIONS:
            f["action"] = t
        elif t == "proto" or t == "protocol":
            f["protocol"] = value("a protocol after 'proto'")
        elif t in ("realms", "tun_id", "map-to"):
            v = value(f"a value after '{t}'")
            _not_modelled(warnings, f"rule {f['pref']} {t} {v}", file, lineno)
        elif t == "masquerade":
            _not_modelled(warnings, f"rule {f['pref']} masquerade", file, lineno)
        else:
            raise err("a rule selector or action as iproute2 prints it (from, to, fwmark, iif, "
                      "oif, uidrange, ipproto, sport, dport, lookup, goto, ...)", t)
    if not saw_from:
        raise err("'from' after the preference (every 'ip rule' line has it)",
                  toks[1] if n > 1 else head)
    if "action" not in f:
        raise err("a rule action (lookup, goto, nop, blackhole, unreachable, prohibit)",
                  toks[-1])
    return Rule(origin=_origin(file, lineno), **f)


def _origin(file: str, line: int) -> Any:
    from wgexplain.model import Origin

    return Origin(file, line)


def _not_modelled(warnings: list[str] | None, what: str, file: str, line: int) -> None:
    if warnings is not None:
        warnings.append(f"not modelled: {what} ({file}:{line}); the rule is read without it")


_JSON_KEYS = frozenset({"priority", "not", "src", "srclen", "dst", "dstlen", "tos", "fwmark",
                        "fwmask", "iif", "iif_detached", "oif", "oif_detached", "l3mdev",
                        "uid_start", "uid_end", "ipproto", "sport", "sport_start", "sport_end",
                        "dport", "dport_start", "dport_end", "tun_id", "table",
                        "suppress_prefixlen", "suppress_ifgroup", "flow_from", "flow_to",
                        "nat_gateway", "masquerade", "goto", "unresolved", "nop", "action",
                        "protocol"})


def parse_rules_json(text: str, file: str, first_line: int = 1, family: int = AF_INET, *,
                     table_names: dict[str, int] | None = None,
                     warnings: list[str] | None = None) -> list[Rule]:
    """Read ``ip -j rule`` output (the JSON side of ``print_rule()``)."""
    out = []
    for obj, lineno in json_items(text, file, first_line, "a JSON array of rules (ip -j rule)"):
        try:
            out.append(_rule_from_json(obj, file, lineno, family, table_names, warnings))
        except (ValueError, TypeError, KeyError, OverflowError) as e:  # a missing pair...
            raise DumpError(file, lineno, "a rule object as 'ip -j rule' prints it "
                            f"({type(e).__name__}: {e})", got=json.dumps(obj)[:60]) from None
    return out


def _rule_from_json(obj: Any, file: str, lineno: int, family: int,
                    table_names: dict[str, int] | None, warnings: list[str] | None) -> Rule:
    if not isinstance(obj, dict):
        raise DumpError(file, lineno, "a rule object", got=json.dumps(obj)[:60])
    bad = [k for k in obj if k not in _JSON_KEYS]
    if bad:
        raise DumpError(file, lineno, "a key 'ip -j rule' prints (priority, src, table, fwmark, "
                        "...)", got=bad[0])
    pri = obj.get("priority")
    if isinstance(pri, bool) or not isinstance(pri, int) or not 0 <= pri <= rtnames.U32:
        raise DumpError(file, lineno, "a rule object with a numeric 'priority' (0 to 4294967295)",
                        got=json.dumps(obj)[:60])
    pref = pri
    f: dict[str, Any] = {"family": family, "pref": pref}

    def s(key: str) -> str:
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise DumpError(file, lineno, f"a string or number for {key!r}", got=repr(v)[:60])
        return str(v)

    def num(key: str, lo: int = 0, hi: int = rtnames.U32) -> int:
        """A number in ``lo..hi`` (``print_uint()``/``print_int()``: a JSON integer)."""
        v = obj[key]
        if isinstance(v, str):
            n = rtnames.dec(v, lo, hi)
        elif isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
            n = v
        else:
            n = None
        if n is None:
            raise DumpError(file, lineno, f"a number from {lo} to {hi} for {key!r}",
                            got=repr(v)[:60])
        return n

    if "not" in obj:
        f["invert"] = True
    for key, lkey, field in (("src", "srclen", "src"), ("dst", "dstlen", "dst")):
        if key in obj and s(key) != "all":
            plen = num(lkey, 0, 32 if family == AF_INET else 128) if lkey in obj else None
            net = _net(s(key), family, plen)
            if net is None:
                raise DumpError(file, lineno, f"an {'IPv4' if family == AF_INET else 'IPv6'} "
                                f"address for {key!r}", got=s(key))
            f[field] = net
    if "tos" in obj:
        ds = rtnames.dsfield(s("tos"))
        if ds is None:
            raise DumpError(file, lineno, "a tos value like 0x10", got=s("tos"))
        f["tos"] = ds
    if "fwmark" in obj:
        mv = rtnames.parse_int(s("fwmark"), rtnames.U32)
        if mv is None:
            raise DumpError(file, lineno, "a mark like 0x6d6f6c65", got=s("fwmark"))
        f["fwmark"] = mv
    if "fwmask" in obj:
        mk = rtnames.parse_int(s("fwmask"), rtnames.U32)
        if mk is None:
            raise DumpError(file, lineno, "a mask like 0xff", got=s("fwmask"))
        if mk != 0xFFFFFFFF:
            f["fwmask"] = mk
    for key in ("iif", "oif"):
        if key in obj:
            f[key] = s(key)
        if f"{key}_detached" in obj:
            f[f"{key}_detached"] = True
    if "l3mdev" in obj:
        f["l3mdev"] = True
        f["action"] = "lookup"
    if "uid_start" in obj:
        f["uidrange"] = (num("uid_start"), num("uid_end" if "uid_end" in obj else "uid_start"))
    if "ipproto" in obj:
        p = rtnames.ipproto(s("ipproto"))
        if p is None:
            raise DumpError(file, lineno, "an IP protocol name or number", got=s("ipproto"))
        f["ipproto"] = p
    for key in ("sport", "dport"):
        if key in obj:
            f[key] = (num(key, 0, 0xFFFF), num(key, 0, 0xFFFF))
        elif f"{key}_start" in obj:
            end = f"{key}_end" if f"{key}_end" in obj else f"{key}_start"
            f[key] = (num(f"{key}_start", 0, 0xFFFF), num(end, 0, 0xFFFF))
    if "table" in obj:
        tid = rtnames.table_id(s("table"), table_names)
        if tid is None:
            raise DumpError(file, lineno, "a table number or a known table name (main, local, "
                            "default, or one from an rt_tables mapping)", got=s("table"))
        f["table"] = tid
        f["action"] = "lookup"
    if "suppress_prefixlen" in obj and num("suppress_prefixlen", *rtnames.S32) != -1:
        f["suppress_prefixlength"] = num("suppress_prefixlen", *rtnames.S32)
    if "suppress_ifgroup" in obj:
        g = rtnames.group(s("suppress_ifgroup"))
        if g is None:
            raise DumpError(file, lineno, "a device group", got=s("suppress_ifgroup"))
        f["suppress_ifgroup"] = g
    if "goto" in obj:
        f["action"] = "goto"
        if s("goto") != "none":
            f["goto"] = num("goto")
    if "nop" in obj:
        f["action"] = "nop"
    if "action" in obj:
        if s("action") not in _ACTIONS:
            raise DumpError(file, lineno, "blackhole, unreachable or prohibit", got=s("action"))
        f["action"] = s("action")
    if "protocol" in obj:
        f["protocol"] = s("protocol")
    if "flow_to" in obj:
        realm = (f"{s('flow_from')}/" if "flow_from" in obj else "") + s("flow_to")
        _not_modelled(warnings, f"rule {pref} realms {realm}", file, lineno)
    if "tun_id" in obj:
        _not_modelled(warnings, f"rule {pref} tun_id {s('tun_id')}", file, lineno)
    if "nat_gateway" in obj or "masquerade" in obj:
        _not_modelled(warnings, f"rule {pref} nat", file, lineno)
    if "action" not in f:
        raise DumpError(file, lineno, "a rule with an action (table, goto, nop, action)",
                        got=json.dumps(obj)[:60])
    return Rule(origin=_origin(file, lineno), **f)


def rule_key(r: Rule) -> tuple[Any, ...]:
    """The rule without its origin (what text and JSON dumps must agree on)."""
    import dataclasses

    return tuple(getattr(r, fl.name) for fl in dataclasses.fields(r) if fl.name != "origin")


__all__ = ["parse_rules_text", "parse_rules_json", "rule_key"]
