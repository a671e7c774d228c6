"""Read nftables rulesets: ``nft list ruleset`` text and ``nft -j list ruleset`` JSON.

Both readers end in the same place: the text is parsed by a real grammar
(``nft.lark``, lark LALR with the contextual lexer, mirroring nftables'
``src/parser_bison.y``), its parse tree is turned into the JSON that
``nft -j`` would print for it (libnftables-json(5)), and one builder turns
that JSON into the model of :mod:`wgexplain.ruleset`. So text and JSON give
the same model by construction, and the conformance corpus checks that the
text-to-JSON step agrees with nft's own.

Normalisations (where nft's JSON differs in representation, not meaning),
all applied in the builder, so both readers share them:

* ``op: "in"`` with a set (``{...}`` or ``@name``) on the right is set
  membership, the same as ``"=="``: stored as ``"=="``.
* An OR of constants (``{"|": ["syn", "ack"]}``, text ``(syn | ack)``) is the
  same value as the flag list ``["syn", "ack"]``: stored as :class:`FlagList`.
* ``counter`` without values (JSON ``null``) is ``counter packets 0 bytes 0``.
* Scalar-or-list fields (``flags``) are always tuples.
* Concatenations are flattened (``a . (b . c)`` is ``a . b . c``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from wgexplain.errors import DumpError
from wgexplain.model import Origin
from wgexplain.ruleset import (
    FAMILIES, Binop, Chain, Concat, Counter, Ct, Elem, Exthdr, Expr, Fib, FlagList, Flowtable,
    Ipsec, Jhash, Limit, Log, Map, MapElem, MapLookup, MapStatement, Mangle, Match, Meta,
    NamedObject, Nat, Notrack, Numgen, ObjectRef, Osf, Payload, Prefix, Queue, Quota, Range,
    Reject, Rt, Rule, Ruleset, Set, SetLiteral, SetRef, SetStatement, Socket, Stmt, Symhash,
    Table, Unknown, UnknownExpr, Verdict, Vmap, is_bitmask, priority_text, resolve_priority,
)

__all__ = [
    "parse_ruleset_text", "parse_ruleset_json", "parse_rule_text", "parse_rule_json",
    "ruleset_to_json", "rule_to_json", "render_rule", "render_expr", "ruleset_difference",
]

_GRAMMAR = Path(__file__).with_name("nft.lark")

BINOPS = ("&", "|", "^", "<<", ">>")
VERDICTS = ("accept", "drop", "continue", "return", "jump", "goto")
OBJECT_KINDS = ("counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation",
                "secmark", "synproxy")
CT_OBJECT_STMTS = ("ct helper", "ct timeout", "ct expectation", "secmark", "synproxy")

#: Nesting limits. A listed ruleset nests ``{ }`` about six deep (table,
#: chain, a chain binding, an anonymous map, a set inside it) and its JSON
#: about twenty; the kernel itself refuses jumps nested deeper than
#: NFT_JUMP_STACK_SIZE (16, ``nft_chain_validate()``). Deeper input is
#: refused with its line before it can exhaust Python's recursion.
MAX_BRACES = 32
MAX_PARENS = 32
MAX_JSON_DEPTH = 64
#: Operators in one expression (``a & b | c ...``); nft's own listings use a few.
MAX_OPERATORS = 64
#: nft's JSON integers are jansson's ``json_int_t`` (64-bit signed).
JSON_INT_MIN, JSON_INT_MAX = -(1 << 63), (1 << 63) - 1

# ===========================================================================
# JSON -> model (shared by both readers)
# ===========================================================================


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _tuple(v: Any) -> tuple:
    if v is None:
        return ()
    if isinstance(v, list):
        return tuple(v)
    return (v,)


def _is_setlike(e: Expr) -> bool:
    return isinstance(e, (SetLiteral, SetRef))


def _or_constants(e: Any) -> list | None:
    """Operands of a JSON ``|`` tree made only of constants, flattened."""
    if isinstance(e, dict) and len(e) == 1 and "|" in e:
        out: list = []
        for x in e["|"]:
            sub = _or_constants(x)
            if sub is None:
                return None
            out.extend(sub)
        return out
    if isinstance(e, (str, int)) and not isinstance(e, bool) and not (isinstance(e, str) and e.startswith("@")):
        return [e]
    if isinstance(e, list):
        out = []
        for x in e:
            sub = _or_constants(x)
            if sub is None:
                return None
            out.extend(sub)
        return out
    return None


def expr_from_json(j: Any) -> Expr:
    """One JSON expression (libnftables-json(5) EXPRESSIONS) as a model expression."""
    if j is None or isinstance(j, (bool, int)):
        return j
    if isinstance(j, float):
        # libnftables' JSON parser has no real-number expression (json_parse_expr())
        raise ValueError(f"a JSON number that is not an integer: {j!r}")
    if isinstance(j, str):
        return SetRef(j[1:]) if j.startswith("@") else j
    if isinstance(j, list):
        flat = _or_constants(j)
        if flat is not None:
            return FlagList(tuple(flat))
        return FlagList(tuple(expr_from_json(x) for x in j))
    if not isinstance(j, dict) or len(j) != 1:
        return UnknownExpr("?", _canon(j))
    (kind, v), = j.items()
    if kind == "payload":
        if "base" in v:
            return _raw_payload(v["base"], v.get("offset"), v.get("len"))
        return Payload(_keyword(v.get("protocol")), _keyword(v.get("field")))
    if kind == "meta":
        return Meta(_keyword(v["key"]))
    if kind == "ct":
        return Ct(_keyword(v["key"]), _opt_str(v.get("dir")), _opt_str(v.get("family")))
    if kind in ("exthdr", "tcp option", "ip option", "sctp chunk", "dccp option"):
        name = v.get("name", v.get("type"))
        return Exthdr(kind, None if name is None else str(name), v.get("field"), v.get("offset"))
    if kind == "fib":
        return Fib(_keyword(v["result"]), _strs(v.get("flags")))
    if kind == "socket":
        return Socket(_keyword(v["key"]), _opt_int(v.get("level")))
    if kind == "rt":
        return Rt(_keyword(v["key"]), _opt_str(v.get("family")))
    if kind == "osf":
        return Osf(_keyword(v["key"]), _opt_str(v.get("ttl")))
    if kind == "ipsec":
        return Ipsec(_keyword(v["key"]), _opt_str(v.get("dir")), _opt_int(v.get("spnum", 0)),
                     _opt_str(v.get("family")))
    if kind == "numgen":
        return Numgen(_str(v["mode"]), _modulus(v["mod"]), _u32(v.get("offset", 0)))
    if kind == "jhash":
        return Jhash(expr_from_json(v["expr"]), _modulus(v["mod"]), v.get("seed"),
                     _u32(v.get("offset", 0)))
    if kind == "symhash":
        return Symhash(_modulus(v["mod"]), _u32(v.get("offset", 0)))
    if kind in BINOPS:
        if not isinstance(v, list) or not 2 <= len(v) <= MAX_OPERATORS + 1:
            raise ValueError(f"'{kind}' with 2 to {MAX_OPERATORS + 1} operands")
        if kind == "|":
            flat = _or_constants(j)
            if flat is not None:
                return FlagList(tuple(flat))
        if kind in ("<<", ">>") and not all(isinstance(x, int) and not isinstance(x, bool)
                                            and 0 <= x < 32 for x in v[1:]):
            # nft_bitwise_init_shift(): the shift is a constant below 32 bits
            raise ValueError(f"a shift '{kind}' by 0 to 31 bits")
        ops = [expr_from_json(x) for x in v]
        acc = ops[0]
        for o in ops[1:]:
            acc = Binop(kind, acc, o)
        return acc
    if kind == "concat":
        out: list[Expr] = []
        for x in v:
            e = expr_from_json(x)
            out.extend(e.exprs if isinstance(e, Concat) else (e,))
        return Concat(tuple(out))
    if kind == "prefix":
        return Prefix(expr_from_json(v["addr"]), _prefix_len(v["addr"], v["len"]))
    if kind == "range":
        return Range(expr_from_json(v[0]), expr_from_json(v[1]))
    if kind == "set":
        if isinstance(v, str):
            return SetRef(v.lstrip("@"))
        return SetLiteral(tuple(_elem_from_json(x) for x in _tuple(v)))
    if kind == "elem":
        return _elem_from_json(j)
    if kind == "map":
        return MapLookup(expr_from_json(v["key"]), _map_from_json(v["data"]))
    if kind in VERDICTS:
        return Verdict(kind, v.get("target") if isinstance(v, dict) else None)
    return UnknownExpr(kind, _canon(j))


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"a string, not {_canon(v)[:30]}")
    return v


def _keyword(v: Any) -> str:
    """A selector's key (``meta mark``, ``ct original ip saddr``): a non-empty string."""
    if not _str(v).strip():
        raise ValueError("a key (mark, state, ...), not an empty string")
    return v


def _u32(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 1 << 32:
        raise ValueError(f"a number from 0 to 4294967295, not {_canon(v)[:30]}")
    return v


def _modulus(v: Any) -> int:
    """``mod N`` of numgen/jhash/symhash: 1 to 2^32-1 (``nft_ng_init()``: 0 is -ERANGE)."""
    if _u32(v) == 0:
        raise ValueError("a modulus of at least 1")
    return v


def _prefix_len(addr: Any, plen: Any) -> int:
    """A prefix length the address can have: 0-32 for IPv4 (and integers,
    nft's 32-bit registers), 0-128 for IPv6 (nft: "Prefix length N is invalid")."""
    if isinstance(plen, bool) or not isinstance(plen, int):
        raise ValueError(f"a prefix length, not {_canon(plen)[:30]}")
    if isinstance(addr, str):
        ipaddress.ip_address(addr)  # ValueError: nft's prefixes are of addresses (or numbers)
    elif isinstance(addr, bool) or not isinstance(addr, int):
        raise ValueError(f"a prefix of an address, not {_canon(addr)[:30]}")
    top = 128 if isinstance(addr, str) and ":" in addr else 32
    if not 0 <= plen <= top:
        raise ValueError(f"a prefix length from 0 to {top}, not {plen}")
    return plen


#: nft's NFT_MAX_EXPR_LEN_BITS: 16 registers of 32 bits.
_RAW_MAX_BITS = 16 * 32


def _raw_payload(base: Any, offset: Any, length: Any) -> Payload:
    """``@nh,16,8``: base ll/nh/th/ih, offset and length in bits (nft refuses a
    raw payload longer than NFT_MAX_EXPR_LEN_BITS; the kernel's offset is 16 bits of bytes)."""
    if base not in ("ll", "nh", "th", "ih"):
        raise ValueError(f"a payload base ll, nh, th or ih, not {_canon(base)[:20]}")
    for what, v, top in (("offset", offset, 0xFFFF * 8), ("length", length, _RAW_MAX_BITS)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
            raise ValueError(f"a raw payload {what} from 0 to {top} bits, not {_canon(v)[:20]}")
    if length == 0:
        raise ValueError("a raw payload of at least 1 bit")
    return Payload(None, None, base, offset, length)


def _map_from_json(j: Any) -> SetLiteral | SetRef:
    """The ``data`` of a ``map``/``vmap`` lookup: an anonymous ``{"set": [...]}`` or ``"@name"``."""
    data = expr_from_json(j)
    if not isinstance(data, (SetLiteral, SetRef)):
        raise ValueError(f"a map's data must be a set or '@name', not {_canon(j)[:40]}")
    return data


def _elem_from_json(x: Any) -> Expr:
    """A set element: value, ``[key, data]`` (map) or ``{"elem": {...}}``."""
    if isinstance(x, list) and len(x) == 2:
        return MapElem(_elem_from_json(x[0]), expr_from_json(x[1]))
    if isinstance(x, dict) and "elem" in x and len(x) == 1:
        v = x["elem"]
        counter = None
        if "counter" in v:
            c = v["counter"] or {}
            counter = Counter(c.get("packets", 0), c.get("bytes", 0))
        return Elem(expr_from_json(v["val"]), _ms(v.get("timeout")), _ms(v.get("expires")),
                    v.get("comment"), counter, tuple(stmt_from_json(s) for s in _tuple(v.get("stmt"))))
    return expr_from_json(x)


def _ms(seconds: Any) -> int | None:
    """JSON timeouts are seconds (``nft -j``); the model keeps milliseconds."""
    if seconds is None:
        return None
    return int(round(float(seconds) * 1000))


def stmt_from_json(j: Any) -> Stmt:
    """One JSON statement (libnftables-json(5) STATEMENTS) as a model statement."""
    if not isinstance(j, dict) or len(j) != 1:
        return Unknown("?", _canon(j))
    (kind, v), = j.items()
    if kind == "match":
        left, right = expr_from_json(v["left"]), expr_from_json(v["right"])
        op = v["op"]
        if op == "in" and _is_setlike(right):
            op = "=="

        return Match(left, op, right)
    if kind in VERDICTS:
        return Verdict(kind, v.get("target") if isinstance(v, dict) else None)
    if kind == "counter":
        if isinstance(v, str):
            return Counter(name=v)
        v = v or {}
        return Counter(v.get("packets", 0), v.get("bytes", 0))
    if kind == "mangle":
        return Mangle(expr_from_json(v["key"]), expr_from_json(v["value"]))
    if kind in ("snat", "dnat", "masquerade", "redirect"):
        v = v or {}
        return Nat(kind, None if v.get("addr") is None else expr_from_json(v["addr"]),
                   None if v.get("port") is None else expr_from_json(v["port"]),
                   _tuple(v.get("flags")), v.get("family"), _tuple(v.get("type_flags")))
    if kind == "reject":
        v = v or {}
        return Reject(v.get("type"), None if v.get("expr") is None else expr_from_json(v["expr"]))
    if kind == "log":
        v = v or {}
        return Log(v.get("prefix"), v.get("group"), v.get("snaplen"), v.get("queue-threshold"),
                   v.get("level"), _tuple(v.get("flags")))
    if kind == "limit":
        if isinstance(v, str):
            return Limit(name=v)
        rate_unit = v.get("rate_unit", "packets")
        burst = v.get("burst")
        if burst is None:  # nft's defaults (nft_limit_init(): 5 packets, 0 bytes)
            burst = 5 if rate_unit == "packets" else 0
        burst_unit = v.get("burst_unit")
        if burst_unit in ("packets", "bytes") or burst == 0:
            burst_unit = None  # the limit's own unit
        return Limit(v.get("rate"), v.get("per"), rate_unit, burst, burst_unit,
                     bool(v.get("inv", False)))
    if kind == "quota":
        if isinstance(v, str):
            return Quota(name=v)
        return Quota(v.get("val"), v.get("val_unit"), v.get("used") or None,
                     v.get("used_unit") if v.get("used") else None, bool(v.get("inv", False)))
    if kind == "queue":
        v = v or {}
        return Queue(None if v.get("num") is None else expr_from_json(v["num"]), _tuple(v.get("flags")))
    if kind == "notrack":
        return Notrack()
    if kind == "set":
        return SetStatement(v["op"], v["set"] if v["set"].startswith("@") else "@" + v["set"],
                            _elem_from_json(v["elem"]),
                            tuple(stmt_from_json(s) for s in _tuple(v.get("stmt"))))
    if kind == "map" and "op" in v:
        return MapStatement(v["op"], v["map"] if v["map"].startswith("@") else "@" + v["map"],
                            _elem_from_json(v["elem"]), expr_from_json(v["data"]),
                            tuple(stmt_from_json(s) for s in _tuple(v.get("stmt"))))
    if kind == "vmap":
        return Vmap(expr_from_json(v["key"]), _map_from_json(v["data"]))
    if kind in CT_OBJECT_STMTS and not isinstance(v, dict):
        return ObjectRef(kind, expr_from_json(v))
    return Unknown(kind, _canon(j))


def parse_rule_json(exprs: list, file: str = "<nft-json>", line: int = 0,
                    family: str | None = None) -> Rule:
    """A rule from its JSON ``expr`` list (the statements). With ``family``
    (the table's), family defaults are made explicit as in
    :func:`with_family_defaults`."""
    if not isinstance(exprs, list):
        raise DumpError(file, line, "a JSON list of statements", got=_canon(exprs)[:60])
    try:
        stmts = with_family_defaults(tuple(stmt_from_json(s) for s in exprs), family)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DumpError(file, line, "nftables JSON statements (libnftables-json)",
                        got=f"{_canon(exprs)[:40]} ({exc!r})") from None
    rule = Rule(stmts, origin=Origin(file, line))
    return replace(rule, text=render_rule(rule))


# ===========================================================================
# nft -j list ruleset
# ===========================================================================


def parse_ruleset_json(text: str, file: str = "<nft-json>", first_line: int = 1) -> Ruleset:
    """Read ``nft -j list ruleset`` output into a :class:`Ruleset`.

    The JSON is held to what nft's own parser (jansson) accepts: integers of
    64 bits, no ``NaN``/``Infinity``, and nesting at most
    :data:`MAX_JSON_DEPTH` deep; anything else is a DumpError naming the line."""
    # positions of each object of the array, for origins (and the nesting limit)
    lines = _object_lines(text, first_line, file)
    try:
        doc = json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise DumpError(file, first_line + exc.lineno - 1, "valid JSON (nft -j list ruleset)",
                        got=exc.msg, column=exc.colno) from None
    except _JsonValue as exc:
        raise DumpError(file, first_line + _line_of(text, exc.token), exc.what, got=exc.token) from None
    except RecursionError:  # pragma: no cover - the depth limit above comes first
        raise DumpError(file, first_line, f"JSON nested at most {MAX_JSON_DEPTH} deep",
                        got="deeper nesting") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise DumpError(file, first_line, 'a JSON object {"nftables": [...]}',
                        got=_canon(doc)[:60])
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []

    def tbl(fam: str, name: str) -> dict[str, Any]:
        key = (fam, name)
        if key not in tables:
            tables[key] = {"info": {}, "chains": {}, "chain_order": [], "sets": [], "maps": [],
                           "flowtables": [], "objects": [], "rules": {}}
            order.append(key)
        return tables[key]

    for i, item in enumerate(doc["nftables"]):
        line = lines[i] if i < len(lines) else first_line
        if not isinstance(item, dict) or len(item) != 1:
            raise DumpError(file, line, "one nftables object per array item", got=_canon(item)[:60])
        (kind, v), = item.items()
        try:
            if kind == "metainfo":
                continue
            if not isinstance(v, dict):
                raise ValueError(f"a JSON object, not {_canon(v)[:30]}")
            fam = v["family"]
            if not isinstance(fam, str) or fam not in FAMILIES:
                raise DumpError(file, line, f"a family ({', '.join(FAMILIES)})", got=_canon(fam)[:30])
            if kind == "table":
                t = tbl(fam, _str(v["name"]))
                t["info"] = {**v, "_line": line}
            elif kind == "chain":
                t = tbl(fam, _str(v["table"]))
                t["chains"][_str(v["name"])] = _chain_fields(v, fam, line)
                t["chain_order"].append(v["name"])
            elif kind == "rule":
                t = tbl(fam, _str(v["table"]))
                _str(v["chain"])
                rule = parse_rule_json(v["expr"], file, line)
                rule = replace(rule, exprs=with_family_defaults(rule.exprs, fam),
                               handle=_opt_int(v.get("handle")), comment=_opt_str(v.get("comment")))
                rule = replace(rule, text=render_rule(rule))
                t["rules"].setdefault(v["chain"], []).append(rule)
            elif kind in ("set", "map"):
                t = tbl(fam, v["table"])
                t["sets" if kind == "set" else "maps"].append(_set_from_json(kind, v, Origin(file, line)))
            elif kind == "flowtable":
                t = tbl(fam, _str(v["table"]))
                hook = _opt_str(v.get("hook"))
                prio = None if v.get("prio") is None else resolve_priority("netdev", v["prio"], hook)
                t["flowtables"].append(Flowtable(
                    _str(v["name"]), v["table"], fam, hook, prio,
                    None if prio is None else priority_text("netdev", hook, prio),
                    _device_names(list(_tuple(v.get("dev")))), _strs(v.get("flags")),
                    _opt_int(v.get("handle")), Origin(file, line)))
            elif kind in OBJECT_KINDS:
                t = tbl(fam, v["table"])
                t["objects"].append(_object_from_json(kind, v, Origin(file, line)))
            else:
                raise DumpError(file, line, "an nftables object (table, chain, rule, set, map, "
                                "flowtable, counter, quota, ...)", got=kind)
        except DumpError:
            raise
        except _NotModelled as exc:
            raise DumpError(file, line, exc.what, got=exc.got) from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise DumpError(file, line, f"a valid {kind} object", got=f"{_canon(v)[:40]} ({exc!r})") from None

    out = []
    for fam, name in order:
        t = tables[(fam, name)]
        info = t["info"]
        chains = []
        names = list(t["chain_order"]) + [c for c in t["rules"] if c not in t["chains"]]
        for cname in names:
            c = t["chains"].get(cname)
            if c is None:
                raise DumpError(file, first_line, f"a chain object for rules of chain {cname}",
                                got="rules without their chain")
            chains.append(Chain(
                cname, name, fam, c["type"], c["hook"], c["prio"], c["prio_text"], c["dev"],
                c["policy"], tuple(t["rules"].get(cname, ())), c["handle"], c["comment"],
                c["flags"], Origin(file, c["_line"])))
        out.append(Table(fam, name, tuple(chains), tuple(t["sets"]), tuple(t["maps"]),
                         tuple(t["flowtables"]), tuple(t["objects"]), _tuple(info.get("flags")),
                         info.get("handle"), info.get("comment"),
                         Origin(file, info.get("_line", first_line))))
    return Ruleset(tuple(out), Origin(file, first_line))


def _object_lines(text: str, first_line: int, file: str = "<nft-json>") -> list[int]:
    """Line of each item of the top-level ``nftables`` array (for origins).
    Refuses nesting deeper than :data:`MAX_JSON_DEPTH` (before ``json.loads``
    and the readers recurse into it)."""
    out: list[int] = []
    depth = 0
    line = first_line
    in_str = False
    esc = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth == 3 and ch == "{":
                out.append(line)
            elif depth > MAX_JSON_DEPTH:
                raise DumpError(file, line, f"JSON nested at most {MAX_JSON_DEPTH} deep",
                                got=f"'{ch}' {depth} deep")
        elif ch in "]}":
            depth -= 1
    return out


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _opt_int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"a number, not {_canon(v)[:30]}")
    return v


def _strs(v: Any) -> tuple[str, ...]:
    """A scalar-or-list of strings (``flags``) as a tuple."""
    out = _tuple(v)
    for x in out:
        _str(x)
    return out


def _chain_fields(v: dict, fam: str, line: int) -> dict[str, Any]:
    """A JSON chain's fields, checked: strings where nft prints strings, the
    priority resolved to the kernel's number (:func:`resolve_priority`) with
    the spelling ``nft list`` would print (:func:`priority_text`)."""
    hook = _opt_str(v.get("hook"))
    prio = v.get("prio")
    if hook is not None and prio is None:
        raise ValueError("a base chain's priority ('prio')")
    n = None if prio is None else resolve_priority(fam, prio, hook)
    policy = _opt_str(v.get("policy"))
    if policy not in (None, "accept", "drop"):
        raise ValueError(f"a chain policy accept or drop, not {policy!r:.20}")
    return {"type": _opt_str(v.get("type")), "hook": hook, "prio": n,
            "prio_text": None if n is None else priority_text(fam, hook, n),
            "dev": _device_names(list(_tuple(v.get("dev")))), "policy": policy,
            "handle": _opt_int(v.get("handle")), "comment": _opt_str(v.get("comment")),
            "flags": _strs(v.get("flags")), "_line": line}


class _JsonValue(Exception):
    """A JSON number nft's parser would not take (``token`` as written)."""

    def __init__(self, what: str, token: str) -> None:
        super().__init__(what)
        self.what = what
        self.token = token[:40]


def _json_int(s: str) -> int:
    """jansson's ``json_int_t``: 64-bit signed (nft: "too big integer")."""
    if len(s) > 20:
        raise _JsonValue("an integer of at most 64 bits (nft's JSON parser)", s)
    n = int(s)
    if not JSON_INT_MIN <= n <= JSON_INT_MAX:
        raise _JsonValue("an integer of at most 64 bits (nft's JSON parser)", s)
    return n


def _json_constant(s: str) -> Any:
    raise _JsonValue("a JSON number (NaN and Infinity are not JSON)", s)


def _line_of(text: str, token: str) -> int:
    """Lines before the first appearance of ``token`` outside a longer number."""
    m = re.search(r"(?<![0-9A-Za-z])" + re.escape(token), text)
    return text.count("\n", 0, m.start()) if m else 0


def _set_from_json(kind: str, v: dict, origin: Origin) -> Set | Map:
    typ = v.get("type")
    typ = tuple(typ) if isinstance(typ, list) else typ
    elems = tuple(_elem_from_json(x) for x in _tuple(v.get("elem")))
    common = dict(
        name=v["name"], table=v["table"], family=v["family"], type=typ,
        flags=_tuple(v.get("flags")), elements=elems, timeout=_ms(v.get("timeout")),
        gc_interval=_ms(v.get("gc-interval")), size=v.get("size"), policy=v.get("policy"),
        auto_merge=bool(v.get("auto-merge", False)), comment=v.get("comment"),
        handle=v.get("handle"), origin=origin)
    if kind == "map":
        data = v.get("map")
        if isinstance(data, str) and " . " in data:  # nft -j prints a concatenated data type as text
            data = tuple(data.split(" . "))
        return Map(map=tuple(data) if isinstance(data, list) else data, **common)
    return Set(**common)


def _object_from_json(kind: str, v: dict, origin: Origin) -> NamedObject:
    fields = tuple(sorted((k, _canon(x)) for k, x in v.items()
                          if k not in ("family", "table", "name", "handle")
                          and not (kind == "quota" and k == "used" and not x)))
    return NamedObject(kind, v["name"], v["table"], v["family"], fields, v.get("handle"), origin)


# ===========================================================================
# Text: lexer post-processing
# ===========================================================================

_BLOCK_KW_TOP = {"table"}
_BLOCK_KW_TABLE = {"chain", "set", "map", "flowtable", "counter", "quota", "limit", "ct",
                   "secmark", "synproxy"}


class _Sep(Token):
    """A separator (newline or ``;``) carrying the extent of the item it
    ends: ``item = (start_pos, line, end_pos)``, set by :class:`NftPostLex`."""

    __slots__ = ("item",)
    item: tuple[int, int, int] | None


class NftPostLex:
    """Newlines end rules, except inside value braces ``{ ... }``.

    Mirrors the start conditions of nftables' scanner (src/scanner.l): a
    ``{`` opening a table/chain/set/... block keeps newlines significant; a
    ``{`` opening a set literal, a map or ``elements = {`` drops them until
    its ``}``. Each separator records the line and extent of the item it
    ends (rules get their text and line from it, without lark's slower
    position propagation). Also refuses ``define``/``include`` (not modelled).
    """

    always_accept = ("NL",)

    def __init__(self, file: str, rule_mode: bool = False) -> None:
        self.file = file
        self.rule_mode = rule_mode
        self.line_base = 0
        self.item_line = 0  # line of the item being read (for errors)
        self.reset()

    def reset(self) -> None:
        self.stack: list[str] = []  # "b" block or "l" literal
        self.headers: list[Token | None] = []  # first token of each open block's header line
        self.first: Token | None = None  # first token of the item being read
        self.last_end = 0
        self.prev_type = ""
        self.parens = 0

    def _deeper(self, tok: Token) -> None:
        """Refuse ``{ }`` / ``( )`` nested beyond :data:`MAX_BRACES` / :data:`MAX_PARENS`."""
        if tok.type == "LPAR":
            self.parens += 1
            if self.parens > MAX_PARENS:
                raise DumpError(self.file, self.line_base + (tok.line or 0),
                                f"at most {MAX_PARENS} nested '( )'", got=f"'(' {self.parens} deep")
        elif tok.type == "RPAR":
            self.parens = max(0, self.parens - 1)
        elif tok.type == "LBRACE" and len(self.stack) > MAX_BRACES:
            raise DumpError(self.file, self.line_base + (tok.line or 0),
                            f"at most {MAX_BRACES} nested '{{ }}'", got=f"'{{' {len(self.stack)} deep")

    def process(self, stream: Iterable[Token]) -> Iterator[Token]:
        # state lives on self: lark restarts process() after an error recovery
        stack = self.stack
        headers = self.headers
        for tok in stream:
            first = self.first
            t = tok.type
            in_literal = bool(stack) and stack[-1] == "l"
            if in_literal:
                if t == "NL":
                    continue
                self.last_end = tok.end_pos or 0  # set on every lexed token
                if t == "LBRACE":
                    stack.append("l")
                    self._deeper(tok)
                elif t in ("LPAR", "RPAR"):
                    self._deeper(tok)
                elif t == "RBRACE":
                    stack.pop()
                yield tok
                continue
            if t in ("NL", "SEMICOLON"):
                sep = _Sep.new_borrow_pos(t, tok.value, tok)
                sep.item = None if first is None else (first.start_pos or 0, first.line or 0,
                                                       self.last_end)
                self.first = None
                yield sep
                continue
            if t == "RBRACE":
                if first is not None:  # an item ended by "}" on its own line
                    sep = _Sep.new_borrow_pos("NL", "", tok)
                    sep.item = (first.start_pos or 0, first.line or 0, self.last_end)
                    self.first = first = None
                    yield sep
                if stack and stack.pop() == "b" and headers:
                    self.first = headers.pop()
                    self.last_end = tok.end_pos or 0  # set on every lexed token
                self.prev_type = t
                yield tok
                continue
            if first is None and t != "HANDLE":
                self.first = first = tok
                self.item_line = tok.line or 0
                if not stack and not self.rule_mode and tok.value in ("define", "redefine", "include"):
                    raise DumpError(self.file, self.line_base + (tok.line or 0),
                                    "a listed ruleset (nft list ruleset); "
                                    f"not modelled: '{tok.value}' statements", got=tok.value)
            if t != "HANDLE":
                self.last_end = tok.end_pos or 0  # set on every lexed token
            if t in ("LPAR", "RPAR"):
                self._deeper(tok)
            if t == "LBRACE":
                depth = len(stack)
                line_first = first.value if first is not None else None
                block = self.prev_type in ("JUMP", "GOTO") or (not self.rule_mode and (
                    (depth == 0 and line_first in _BLOCK_KW_TOP)
                    or (depth == 1 and line_first in _BLOCK_KW_TABLE)))
                stack.append("b" if block else "l")
                self._deeper(tok)
                if block:  # a block's items start after its "{"; its header resumes at "}"
                    headers.append(first)
                    self.first = None
            self.prev_type = t
            yield tok
        if self.first is not None:
            first = self.first
            sep = _Sep.new_borrow_pos("NL", "", first)
            sep.item = (first.start_pos or 0, first.line or 0, self.last_end)
            self.first = None
            yield sep


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser, with the transformer applied while parsing (no tree)."""
    return Lark(_GRAMMAR.read_text(), parser="lalr", lexer="contextual",
                start=["start", "single_rule"], postlex=NftPostLex("<nft>"),
                transformer=_Structure("<nft>", 0, ""), maybe_placeholders=True,
                cache=True)  # lark caches the LALR tables in the temp dir: 0.6 s -> 0.07 s


# ===========================================================================
# Text: word classification (what nft's scanner + evaluation make of a word)
# ===========================================================================

_INT_RE = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+)$")
_TIME_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$", re.ASCII)
_ADDRISH = re.compile(r"^[0-9a-fA-F:.]+$")


def _ascii_digits(s: str) -> bool:
    """``str.isdigit()`` without ``²`` and ``①`` (which ``int()`` refuses)."""
    return s.isascii() and s.isdigit()


#: nft's widest value is 128 bits (IPv6 addresses, ct label): 0x + 32 hex digits.
_MAX_NUMBER_CHARS = 40


def _int_or_none(s: str) -> int | None:
    if _INT_RE.match(s):
        if len(s) > _MAX_NUMBER_CHARS:
            raise _Invalid("a number of at most 128 bits", s)
        return int(s, 0)
    return None


def _is_addr(s: str) -> bool:
    if not s or not _ADDRISH.match(s):
        return False
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _scalar(s: str) -> Any:
    """A word as JSON would hold it: int for numbers, str otherwise."""
    n = _int_or_none(s)
    return n if n is not None else s


_MAC_RE = re.compile(r"^([0-9a-fA-F]{1,2}:){5}[0-9a-fA-F]{1,2}$")
_RANGE_PART = re.compile(r"^(0x[0-9a-fA-F]+|[0-9]+|(\d+[dhms]|\d+ms)+|[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4})$",
                         re.ASCII)


def _rangeable(s: str) -> bool:
    return bool(_RANGE_PART.match(s)) or _is_addr(s) or bool(_MAC_RE.match(s))


def _mac(s: str) -> str:
    """``0:f:54:c:11:4`` → ``00:0f:54:0c:11:04`` (as nft prints ether addresses)."""
    return ":".join(p.zfill(2).lower() for p in s.split(":"))


def word_json(s: str) -> Any:
    """Classify a bare word the way nft's evaluation does: number, prefix
    (``10.0.0.0/8``), range (``22-25``, ``10.0.0.1-10.0.0.9``), symbol."""
    if s.startswith("$"):
        raise _NotModelled("variables ($name from define)", s)
    n = _int_or_none(s)
    if n is not None:
        return n
    if s in ("exists", "missing"):
        return s == "exists"
    if _MAC_RE.match(s):
        return _mac(s)
    if "/" in s:
        addr, _, plen = s.rpartition("/")
        if _ascii_digits(plen) and (_is_addr(addr) or addr == "::"):
            return {"prefix": {"addr": addr, "len": int(plen)}}
        if _ascii_digits(plen) and _INT_RE.match(addr):
            return {"prefix": {"addr": int(addr, 0), "len": int(plen)}}
    if "-" in s:
        idxs = [i for i, ch in enumerate(s) if ch == "-"]
        for i in idxs:
            lo, hi = s[:i], s[i + 1:]
            if _rangeable(lo) and _rangeable(hi):
                return {"range": [_scalar(_mac(lo) if _MAC_RE.match(lo) else lo),
                                  _scalar(_mac(hi) if _MAC_RE.match(hi) else hi)]}
    return s


class _NotModelled(Exception):
    """A feature the reader does not model: becomes a DumpError naming the line
    (never escapes the reader)."""

    def __init__(self, what: str, got: str) -> None:
        super().__init__(what)
        self.what = what
        self.got = got


class _Invalid(_NotModelled):
    """A value nft itself would refuse (``what`` is what it expects)."""


def time_ms(s: str) -> int:
    """``1h30m``, ``10s``, ``100ms``, ``2d`` → milliseconds (nft ``time_parse()``)."""
    n = _int_or_none(s)
    if n is not None:
        return n * 1000
    m = _TIME_RE.match(s)
    if not m or not s:
        raise ValueError(f"not a time: {s!r}")
    d, h, mi, se, ms = (int(x) if x else 0 for x in m.groups())
    return (((d * 24 + h) * 60 + mi) * 60 + se) * 1000 + ms


def _time_json(s: str) -> Any:
    """Time for the JSON form (seconds, as ``nft -j`` prints them)."""
    ms = time_ms(s)
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


# ===========================================================================
# Text: parse tree -> JSON statements
# ===========================================================================

_RELOPS = {"==": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!": "!",
           "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
_EXTHDR_RT_FIELDS = {"nexthdr", "hdrlength", "type", "seg-left"}


def _is_set_json(j: Any) -> bool:
    return (isinstance(j, dict) and "set" in j) or (isinstance(j, str) and j.startswith("@"))


def _bitmask_json(left: Any) -> bool:
    try:
        return is_bitmask(expr_from_json(left))
    except Exception:  # pragma: no cover - defensive
        return False


def _list_or_scalar(items: list) -> Any:
    return items[0] if len(items) == 1 else list(items)


def _tok(t: Any) -> str:
    return str(t)


def _unquote(s: str) -> str:
    if s.startswith('\\"') and s.endswith('\\"'):
        return s[2:-2]
    return s[1:-1] if len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s


_GLUED_VERDICT = re.compile(r"^(.+):(accept|drop|continue|return)$")
_BINOP_ALIASES = {"or": "|", "xor": "^", "and": "&", "lshift": "<<", "rshift": ">>"}
_PRECEDENCE = {"<<": 5, ">>": 5, "&": 4, "^": 3, "|": 2, "-": 1, ".": 0}


def _reduce_binop(operands: list, op: str) -> None:
    right = operands.pop()
    left = operands.pop()
    if op == ".":
        parts: list[Any] = []
        for c in (left, right):
            parts.extend(c["concat"] if isinstance(c, dict) and "concat" in c else [c])
        operands.append({"concat": parts})
    elif op == "-":
        operands.append({"range": [left, right]})
    else:
        operands.append({op: [left, right]})


def _arp_address(left: Any, right: Any) -> tuple[Any, Any]:
    """``arp saddr ip 1.2.3.4``: the grammar reads ``ip 1.2.3.4`` as a payload
    on the right; nft's field is ``saddr ip`` (JSON ``"field": "saddr ip"``)."""
    if (isinstance(left, dict) and "payload" in left and left["payload"].get("protocol") == "arp"
            and left["payload"].get("field") in ("saddr", "daddr")
            and isinstance(right, dict) and "payload" in right
            and right["payload"].get("protocol") in ("ip", "ether")):
        field = f"{left['payload']['field']} {right['payload']['protocol']}"
        return {"payload": {"protocol": "arp", "field": field}}, word_json(right["payload"]["field"])
    return left, right


class _ToJson(Transformer):
    """Parse tree → the JSON nft would print (statements) + structure tuples."""

    def __init__(self, file: str, line_base: int, source: str) -> None:
        super().__init__(visit_tokens=False)
        self.file = file
        self.line_base = line_base
        self.source = source
        self.bindings: list = []

    # ---- values ----------------------------------------------------------
    def value(self, ch):
        t = ch[0]
        if isinstance(t, Token):
            if t.type == "STRING":
                return _unquote(t.value)
            if t.type == "WORD":
                return word_json(t.value)
            if t.type == "EXISTS":
                return t.value == "exists"
            return t.value
        return t  # protokw

    def neg_value(self, ch):
        return -int(ch[1].value, 0)

    def protokw(self, ch):
        return ch[0].value

    def setref(self, ch):
        return ch[0].value

    def set_lit(self, ch):
        return {"set": [c for c in ch if c is not None]}

    def set_elem(self, ch):
        key, *rest = ch
        if isinstance(key, str) and rest == [None]:  # "25:accept" written without spaces
            m = _GLUED_VERDICT.match(key)
            if m:
                return [word_json(m.group(1)), {m.group(2): None}]
        data = None
        opts: dict[str, Any] = {}
        for r in rest:
            if isinstance(r, tuple) and r and r[0] == "opt" and r[1] == "stmt":
                opts.setdefault("stmt", []).append(r[2])
            elif isinstance(r, tuple) and r and r[0] == "opt":
                opts[r[1]] = r[2]
            elif r is not None:
                data = r
        if opts:
            key = {"elem": {"val": key, **opts}}
        return [key, data] if data is not None else key

    set_elem_v = set_elem

    def verdict_elem(self, ch):
        return ch[0]

    def opt_timeout(self, ch):
        return ("opt", "timeout", _time_json(ch[0].value))

    def opt_expires(self, ch):
        return ("opt", "expires", _time_json(ch[0].value))

    def opt_comment(self, ch):
        return ("opt", "comment", _unquote(ch[0].value))

    def opt_counter(self, ch):
        c = _counter_json([x.value for x in ch])
        return ("opt", "counter", c["counter"] or {"packets": 0, "bytes": 0})

    # ---- expressions -----------------------------------------------------
    def binexpr(self, ch):
        """Operands and operators in text order → JSON, by nft's precedence."""
        if len(ch) // 2 > MAX_OPERATORS:
            raise _Invalid(f"at most {MAX_OPERATORS} operators in one expression",
                           f"{len(ch) // 2} operators")
        operands = [ch[0]]
        ops: list[str] = []
        for i in range(1, len(ch), 2):
            op = _BINOP_ALIASES.get(str(ch[i]), str(ch[i]))
            while ops and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[op]:
                _reduce_binop(operands, ops.pop())
            ops.append(op)
            operands.append(ch[i + 1])
        while ops:
            _reduce_binop(operands, ops.pop())
        return operands[0]

    def map_lookup(self, ch):
        return {"map": {"key": ch[0], "data": ch[1]}}

    def payload(self, ch):
        return {"payload": {"protocol": ch[0].value, "field": ch[1].value}}

    def payload_option(self, ch):
        proto, name, field = ch[0].value, ch[1].value, ch[2]
        if proto == "dccp":
            return {"dccp option": {"type": int(name, 0)}}
        kind = "ip option" if proto == "ip" else f"{proto} option"
        d: dict[str, Any] = {"name": name}
        if field is not None:
            d["field"] = field.value
        return {kind: d}

    def payload_chunk(self, ch):
        d: dict[str, Any] = {"name": ch[1].value}
        if ch[2] is not None:
            d["field"] = ch[2].value
        return {"sctp chunk": d}

    def rawpayload(self, ch):
        base, off, ln = ch[0].value[1:].split(",")
        return {"payload": {"base": base, "offset": int(off), "len": int(ln)}}

    def meta(self, ch):
        return {"meta": {"key": ch[0].value}}

    def meta_unq(self, ch):
        return {"meta": {"key": ch[0].value}}

    def ct_fam(self, ch):
        return ch[0].value

    def ct(self, ch):
        d, fam, key = ch
        out: dict[str, Any] = {"key": f"{fam} {key.value}" if fam else key.value}
        if d is not None:
            out["dir"] = d.value
        return {"ct": out}

    def fib(self, ch):
        words = [c.value for c in ch if c.type != "DOT"]
        return {"fib": {"result": words[-1], "flags": words[:-1]}}

    def socket(self, ch):
        d: dict[str, Any] = {"key": ch[0].value}
        if ch[1] is not None:
            d["level"] = int(ch[1].value, 0)
        return {"socket": d}

    def rt(self, ch):
        _rt, fam, key = ch
        if fam is None and key.value in _EXTHDR_RT_FIELDS:
            return {"exthdr": {"name": "rt", "field": key.value}}
        d: dict[str, Any] = {"key": key.value}
        if fam:
            d["family"] = fam
        return {"rt": d}

    def osf(self, ch):
        d: dict[str, Any] = {"key": ch[1].value}
        if ch[0] is not None:
            d["ttl"] = ch[0].value
        return {"osf": d}

    def ipsec(self, ch):
        dir_, spnum, fam, key = ch
        d: dict[str, Any] = {"key": key.value, "dir": dir_.value}
        if fam:
            d["family"] = fam
        if spnum is not None:
            d["spnum"] = int(spnum.value, 0)
        return {"ipsec": d}

    def numgen(self, ch):
        d: dict[str, Any] = {"mode": ch[0].value, "mod": int(ch[1].value, 0)}
        if ch[2] is not None:
            d["offset"] = int(ch[2].value, 0)
        return {"numgen": d}

    def jhash(self, ch):
        d: dict[str, Any] = {"mod": int(ch[1].value, 0), "expr": ch[0]}
        if ch[2] is not None:
            d["seed"] = int(ch[2].value, 0)
        if ch[3] is not None:
            d["offset"] = int(ch[3].value, 0)
        return {"jhash": d}

    def symhash(self, ch):
        d: dict[str, Any] = {"mod": int(ch[0].value, 0)}
        if ch[1] is not None:
            d["offset"] = int(ch[1].value, 0)
        return {"symhash": d}

    def exthdr(self, ch):
        return {"exthdr": {"name": ch[0].value, "field": ch[1].value}}

    def exthdr_generic(self, ch):
        d: dict[str, Any] = {"name": ch[0].value}
        if ch[1] is not None:
            d["field"] = ch[1].value
        return {"exthdr": d}

    # ---- statements ------------------------------------------------------
    def relop(self, ch):
        return _RELOPS[ch[0].value]

    def rhs_list(self, ch):
        return _list_or_scalar(ch)

    def rhs(self, ch):
        return ("rhs", ch[0], None)

    def rhs_mask(self, ch):
        return ("rhs", ch[0], ch[1])

    def match(self, ch):
        left, op, (_, right, mask) = ch
        left, right = _arp_address(left, right)
        if mask is not None:
            left = {"&": [left, mask]}
        if op is None:
            if _is_set_json(right):
                op = "=="
            elif _bitmask_json(left):
                op = "in"
            else:
                op = "=="
        elif op == "in" and _is_set_json(right):
            op = "=="
        return {"match": {"left": left, "op": op, "right": right}}

    def match_bare(self, ch):
        """An expression without a value: the last word parsed as a field
        was the value (``tcp option sack-perm exists``, ``exthdr hbh exists``)."""
        e = ch[0]
        if isinstance(e, dict) and len(e) == 1:
            (k, v), = e.items()
            if isinstance(v, dict) and "field" in v and k in (
                    "exthdr", "tcp option", "ip option", "sctp chunk"):
                field = v.pop("field")
                return {"match": {"left": e, "op": "==", "right": word_json(field)}}
        raise _NotModelled("a value after the expression", _canon(e)[:40])

    def mangle(self, ch):
        key, value = ch
        if isinstance(key, dict) and "ct" in key and key["ct"].get("key") in ("helper", "timeout", "expectation") \
                and "dir" not in key["ct"]:
            return {f"ct {key['ct']['key']}": value}
        return {"mangle": {"key": key, "value": value}}

    def vmap_stmt(self, ch):
        return {"vmap": {"key": ch[0], "data": ch[1] if not isinstance(ch[1], Token) else ch[1].value}}

    def verdict(self, ch):
        return {ch[0].value: None}

    def jump(self, ch):
        return {"jump": {"target": ch[1]}}

    def goto(self, ch):
        return {"goto": {"target": ch[1]}}

    def name(self, ch):
        return _unquote(ch[0].value)

    def comment_stmt(self, ch):
        return ("comment", _unquote(ch[0].value))

    def counter_stmt(self, ch):
        return _counter_json([c.value for c in ch])

    def log_stmt(self, ch):
        return _log_json([c.value if isinstance(c, Token) else c for c in ch])

    def limit_stmt(self, ch):
        return _limit_json([c.value for c in ch])

    def quota_stmt(self, ch):
        return _quota_json([c.value for c in ch])

    def reject_tcp(self, ch):
        return {"reject": {"type": "tcp reset"}}

    def reject_stmt(self, ch):
        words = [c.value if isinstance(c, Token) else c for c in ch if c is not None]
        if not words:
            return {"reject": None}
        if words[0] == "tcp":
            return {"reject": {"type": "tcp reset"}}
        typ = words[0]
        rest = [w for w in words[1:] if w != "type"]
        d: dict[str, Any] = {"type": typ}
        if rest:
            d["expr"] = _scalar(rest[0])
        return {"reject": d}

    def notrack(self, ch):
        return {"notrack": None}

    def last_stmt(self, ch):
        if ch[0] is None:
            return {"last": None}
        return {"last": {"used": ch[0].value}}

    def xt_stmt(self, ch):
        return {"xt": {"type": ch[0].value, "name": _unquote(ch[1].value)}}

    def nat_fam(self, ch):
        return ("family", ch[0].value)

    def nat_prefix(self, ch):
        return ("tflags", "prefix")

    def nat_addrport(self, ch):
        return ("tflags", "addr_port")

    def nat_interval(self, ch):
        return ("tflags", "interval")

    nat_tflags = nat_prefix

    def nat_to(self, ch):
        return ("to", ch[0])

    def nat_flags(self, ch):
        return ("flags", [c.value for c in ch])

    def nat_stmt(self, ch):
        kind = ch[0].value
        d: dict[str, Any] = {}
        tflags = None
        for c in ch[1:]:
            if c is None:
                continue
            tag, val = c
            if tag == "family":
                d["family"] = val
            elif tag == "tflags":
                tflags = val
            elif tag == "to":
                addr, port = _split_nat_target(val, kind)
                if addr is not None:
                    d["addr"] = addr
                if port is not None:
                    d["port"] = port
            elif tag == "flags":
                d["flags"] = _list_or_scalar(val)
        if tflags == "prefix":
            d["type_flags"] = "prefix"
        elif tflags == "addr_port":
            pass  # ``addr . port``: the map data carries both (JSON has no flag)
        elif tflags == "interval":
            d["type_flags"] = "interval"
        return {kind: d or None}

    def tproxy_stmt(self, ch):
        d: dict[str, Any] = {}
        for c in ch:
            if c is None:
                continue
            tag, val = c
            if tag == "family":
                d["family"] = val
            elif tag == "to":
                addr, port = _split_nat_target(val, "tproxy")
                if addr is not None:
                    d["addr"] = addr
                if port is not None:
                    d["port"] = port
        return {"tproxy": d}

    def q_flags(self, ch):
        return ("flags", [c.value for c in ch])

    def q_num(self, ch):
        return ("num", word_json(ch[0].value))

    def q_word(self, ch):
        if ch[0].value not in ("bypass", "fanout"):
            raise _NotModelled("a queue option (num, flags, bypass, fanout, to)", ch[0].value)
        return ("flags", [ch[0].value])

    def queue_stmt(self, ch):
        d: dict[str, Any] = {}
        flags: list[str] = []
        for c in ch:
            if c is None:
                continue
            if isinstance(c, tuple) and c[0] == "flags":
                flags += c[1]
            elif isinstance(c, tuple) and c[0] == "num":
                d["num"] = c[1]
            else:
                d["num"] = c
        if flags:
            order = {"bypass": 0, "fanout": 1}
            d["flags"] = _list_or_scalar(sorted(flags, key=lambda f: order.get(f, 9)))
        return {"queue": d or None}

    def counter_name(self, ch):
        return {"counter": ch[0]}

    def limit_name(self, ch):
        return {"limit": ch[0]}

    def quota_name(self, ch):
        return {"quota": ch[0]}

    def synproxy_name(self, ch):
        return {"synproxy": ch[0]}

    def setop(self, ch):
        return ch[0]

    def range_expr(self, ch):
        return {"range": [ch[0], ch[2]]}

    def reset_stmt(self, ch):
        return {"reset": ch[0]}

    def opt_stmt(self, ch):
        return ("opt", "stmt", ch[0])

    def dup_stmt(self, ch):
        d: dict[str, Any] = {"addr": ch[0]}
        if ch[1] is not None:
            d["dev"] = ch[1]
        return {"dup": d}

    def fwd_stmt(self, ch):
        fam, to, dev = ch
        d: dict[str, Any] = {}
        if fam is not None:
            d["family"] = fam[1]
            d["addr"] = to
            if dev is not None:
                d["dev"] = dev
        else:
            d["dev"] = to
        return {"fwd": d}

    def synproxy_stmt(self, ch):
        words = [c.value for c in ch]
        d: dict[str, Any] = {}
        flags = []
        i = 0
        while i < len(words):
            w = words[i]
            if w in ("mss", "wscale") and i + 1 < len(words):
                d[w] = int(words[i + 1], 0)
                i += 2
                continue
            flags.append(w)
            i += 1
        if flags:
            d["flags"] = flags
        return {"synproxy": d or None}

    def flow_stmt(self, ch):
        return {"flow": {"op": "add", "flowtable": ch[0].value}}

    def meter_stmt(self, ch):
        name, size, elem = ch
        stmts = []
        key = elem
        if isinstance(elem, dict) and "elem" in elem:
            inner = dict(elem["elem"])
            counter = inner.pop("counter", None)
            if counter is not None:
                stmts.append({"counter": None})
            key = {"elem": inner} if len(inner) > 1 else inner["val"]
        d: dict[str, Any] = {"key": key, "name": name}
        if size is not None:
            d["size"] = int(size.value, 0)
        if stmts:
            d["stmt"] = stmts[0] if len(stmts) == 1 else stmts
        return {"meter": d}

    def ct_count(self, ch):
        over, val = ch
        d: dict[str, Any] = {"val": int(val.value, 0)}
        if over is not None:
            d["inv"] = True
        return {"ct count": d}

    def set_stmt(self, ch):
        op, ref, elem, *rest = ch
        opts = {r[1]: r[2] for r in rest if isinstance(r, tuple) and r[1] not in ("counter", "stmt")}
        stmts = [{"counter": None} if r[1] == "counter" else r[2] for r in rest
                 if isinstance(r, tuple) and r[1] in ("counter", "stmt")]
        if opts:
            elem = {"elem": {"val": elem, **opts}}
        d: dict[str, Any] = {"op": op.value, "elem": elem, "set": ref.value}
        if stmts:
            d["stmt"] = stmts
        return {"set": d}

    def map_stmt(self, ch):
        op, ref, elem, *rest = ch
        data = rest[-1]
        opts = {r[1]: r[2] for r in rest[:-1] if isinstance(r, tuple)}
        if opts:
            elem = {"elem": {"val": elem, **opts}}
        return {"map": {"op": op.value, "elem": elem, "data": data, "map": ref.value}}

    def stmt_in_set(self, ch):
        return ch[0]

    # ---- rules and blocks ------------------------------------------------
    def rule(self, ch):
        stmts, comment, handle = [], None, None
        for c in ch:
            if c is None:
                continue
            if isinstance(c, Token) and c.type == "HANDLE":
                handle = int(c.value.split()[-1])
            elif isinstance(c, tuple) and c[0] == "comment":
                comment = c[1]
            else:
                stmts.append(c)
        return ["rule", stmts, comment, handle, "", 0]


def _counter_json(words: list[str]) -> dict:
    if not words:
        return {"counter": None}
    if words[0] == "name" and len(words) > 1:
        return {"counter": _unquote(words[1])}
    d: dict[str, Any] = {}
    for k, v in zip(words[::2], words[1::2]):
        if k in ("packets", "bytes"):
            d[k] = int(v, 0)
    return {"counter": d or None}


def _log_json(words: list[str]) -> dict:
    d: dict[str, Any] = {}
    flags: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "flags":
            i += 1
            group = None
            if i < len(words) and words[i] in ("tcp", "ip"):
                group = words[i]
                i += 1
            while i < len(words):
                flags.append(f"{group} {words[i]}" if group else words[i])
                i += 1
                if i < len(words) and words[i] == ",":
                    i += 1
                    continue
                break
            continue
        if i + 1 < len(words):
            v = words[i + 1]
            if w == "prefix":
                d["prefix"] = _unquote(v)
            elif w in ("group", "snaplen", "queue-threshold"):
                d[w] = int(v, 0)
            elif w == "level":
                d["level"] = v
            else:
                raise _NotModelled("a log option (prefix, level, group, snaplen, queue-threshold, flags)", w)
            i += 2
            continue
        raise _NotModelled("a log option value", w)
    if flags:
        d["flags"] = _list_or_scalar(flags)
    return {"log": d or None}


_RATE_UNITS = ("bytes", "kbytes", "mbytes")
#: ``limit rate N/unit`` (nft's parser: second, minute, hour, day, week)
_PER_UNITS = ("second", "minute", "hour", "day", "week")


def _limit_json(words: list[str]) -> dict:
    if words and words[0] == "rate":
        words = words[1:]
    if not words:
        raise _NotModelled("'limit rate N/unit'", "limit")
    words = ["rate"] + words
    # rejoin "N / unit" and "N unit/per"
    toks: list[str] = []
    for w in words[1:]:
        if w == "/" or (toks and toks[-1].endswith("/")):
            toks[-1] = toks[-1] + w
        else:
            toks.append(w)
    d: dict[str, Any] = {}
    i = 0
    if i < len(toks) and toks[i] in ("over", "until"):
        if toks[i] == "over":
            d["inv"] = True
        i += 1
    if i >= len(toks):
        raise _Invalid("a rate like 'limit rate 10/second'", " ".join(words[1:]))
    rate, _, per = toks[i].partition("/")
    i += 1
    if not per and i < len(toks) and "/" in toks[i]:
        unit, _, per = toks[i].partition("/")
        d["rate_unit"] = unit
        i += 1
    elif per and not _ascii_digits(rate) and i < len(toks):
        pass
    if not _INT_RE.match(rate) or len(rate) > 20 or per not in _PER_UNITS:
        raise _Invalid("a rate like 'limit rate 10/second' (second, minute, hour, day, week)",
                       " ".join(words[1:]))
    d["rate"] = int(rate, 0)
    d["per"] = per
    if i < len(toks) and toks[i] == "burst":
        if i + 1 >= len(toks) or not _INT_RE.match(toks[i + 1]) or len(toks[i + 1]) > 20:
            raise _Invalid("a burst like 'burst 5 packets'", " ".join(words[1:]))
        d["burst"] = int(toks[i + 1], 0)
        if i + 2 < len(toks):
            d["burst_unit"] = toks[i + 2]
        i += 3
    return {"limit": d}


def _quota_json(words: list[str]) -> dict:
    if words and words[0] == "name":
        return {"quota": _unquote(words[1])}
    d: dict[str, Any] = {}
    i = 0
    if words[i:i + 1] in (["over"], ["until"]):
        if words[i] == "over":
            d["inv"] = True
        i += 1
    num, unit = _num_unit(words, i)
    d["val"], d["val_unit"] = num, unit
    i += 1 if unit is None or not _ascii_digits(words[i]) else 2
    if i < len(words) and words[i] == "used":
        num, unit = _num_unit(words, i + 1)
        d["used"], d["used_unit"] = num, unit
    return {"quota": d}


def _num_unit(words: list[str], i: int) -> tuple[int, str | None]:
    w = words[i] if i < len(words) else ""
    m = re.match(r"^([0-9]{1,20})([a-z]+)?$", w) if isinstance(w, str) else None
    if not m:
        raise _NotModelled("a quantity like '10 mbytes'", w)
    if m.group(2):
        return int(m.group(1)), m.group(2)
    unit = words[i + 1] if i + 1 < len(words) else None
    return int(m.group(1)), unit


def _split_nat_target(val: Any, kind: str) -> tuple[Any, Any]:
    """``1.2.3.4:80``, ``:80``, ``[::1]:80``, ``1.2.3.4-1.2.3.9:80-90`` → (addr, port)."""
    if isinstance(val, Token):  # BRACKET6: [addr], [addr]:port, [a]-[b]:port, [addr]/len
        m = re.match(r"^\[([^\]]+)\](?:-\[([^\]]+)\]|/(\d+))?(?::(.+))?$", val.value)
        assert m
        addr: Any = m.group(1)
        if m.group(2):
            addr = {"range": [addr, m.group(2)]}
        elif m.group(3):
            addr = {"prefix": {"addr": addr, "len": int(m.group(3))}}
        return addr, None if m.group(4) is None else word_json(m.group(4))
    if isinstance(val, str) and ":" in val:
        if val.startswith(":") and not val.startswith("::"):
            return None, word_json(val[1:])
        if val.count(":") == 1:
            a, _, p = val.partition(":")
            return word_json(a), word_json(p)
        return val, None
    if isinstance(val, dict) and "range" in val:
        lo, hi = val["range"]
        if isinstance(hi, str) and hi.count(":") == 1 and not _is_addr(hi):
            h, _, p = hi.partition(":")
            return {"range": [lo, _scalar(h)]}, word_json(p)
    if isinstance(val, dict) and "prefix" in val:
        return val, None
    if kind in ("redirect", "masquerade"):
        return None, val
    return val, None


# ===========================================================================
# Text: structure (tables, chains, sets) -> model
# ===========================================================================


_RULE_CMD_PREFIX = re.compile(
    r"^\s*(add|insert)\s+rule\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?\S+\s+\S+\s+")


class _Structure(_ToJson):
    """Adds the block rules (table, chain, set, ...) to :class:`_ToJson`."""

    def family(self, ch):
        return ch[0].value

    def prio(self, ch):
        return ch[0].value

    def prio_neg(self, ch):
        return "-" + ch[1].value

    def prio_plus(self, ch):
        return f"{ch[0].value} + {ch[2].value}"

    def prio_minus(self, ch):
        return f"{ch[0].value} - {ch[2].value}"

    def chain_hook(self, ch):
        typ, hook, dev, prio = ch
        return ("hook", typ.value, hook.value, dev or (), prio)

    def chain_dev(self, ch):
        if isinstance(ch[0], dict):
            return _device_names(ch[0]["set"])
        return _device_names([ch[0]])

    def chain_devices(self, ch):
        return ("devices", _device_names(ch[0]["set"]))

    def chain_policy(self, ch):
        return ("policy", ch[0].value)

    def chain_comment(self, ch):
        return ("comment", _unquote(ch[0].value))

    table_comment = chain_comment
    set_comment = chain_comment

    def chain_flags(self, ch):
        return ("flags", tuple(c.value for c in ch))

    table_flags = chain_flags
    set_flags = chain_flags
    ft_flags = chain_flags

    def chain(self, ch):
        return ["chain", ch[0], self._items(ch[1:]), 0]

    def type_spec(self, ch):
        words = tuple(c.value for c in ch if c.type != "DOT")
        return words[0] if len(words) == 1 else words

    def set_type(self, ch):
        flags = ("interval",) if ch[1] is not None else ()
        return ("type", ch[0], ch[2], flags)

    def typeof_expr(self, ch):
        return ch[0]

    def set_typeof(self, ch):
        return ("typeof", ch[0], ch[1])

    def set_timeout(self, ch):
        return ("timeout", time_ms(ch[0].value))

    def set_gc(self, ch):
        return ("gc_interval", time_ms(ch[0].value))

    def set_size(self, ch):
        return ("size", int(ch[0].value, 0))

    def set_policy(self, ch):
        return ("policy", ch[0].value)

    def set_automerge(self, ch):
        return ("auto_merge", True)

    def set_elements(self, ch):
        return ("elements", ch[0]["set"])

    def set_stmt_decl(self, ch):
        return ("stmt", tuple(ch))

    def set(self, ch):
        return ["set", ch[0], self._items(ch[1:]), 0]

    def map(self, ch):
        return ["map", ch[0], self._items(ch[1:]), 0]

    def ft_hook(self, ch):
        return ("hook", ch[0].value, ch[1])

    def ft_devices(self, ch):
        return ("devices", _device_names(ch[0]["set"]))

    def ft_counter(self, ch):
        return ("counter", True)

    def flowtable(self, ch):
        return ["flowtable", ch[0], self._items(ch[1:]), 0]

    def obj_kind(self, ch):
        return ch[0].value

    def obj(self, ch):
        items = self._items(ch[2:])
        return ["obj", ch[0], ch[1], [(it[0][1], it[1]) for it in items if isinstance(it[0], tuple)],
                _handle_of([it[0] for it in items]), 0]

    def ct_obj(self, ch):
        items = self._items(ch[2:])
        return ["obj", "ct " + ch[0].value, ch[1],
                [(it[0][1], it[1]) for it in items if isinstance(it[0], tuple)],
                _handle_of([it[0] for it in items]), 0]

    def table(self, ch):
        fam, name, *items = ch
        out = self._items(items)
        out += [(b, 0) for b in self.bindings]
        self.bindings = []
        return ["table", fam or "ip", name, out, 0]

    def flush(self, ch):
        return ["flush"]

    def rule_cmd(self, ch):
        fam, table, chain, rule = ch
        return ["rule_cmd", fam or "ip", table, chain, rule]

    def obj_line(self, ch):
        return ("objline", [c.value if isinstance(c, Token) else c for c in ch])

    def start(self, ch):
        return [it for it, _line in ((i[0], i[1]) for i in self._items(ch))]

    def single_rule(self, ch):
        items = self._items(ch)
        return items[0][0]

    def chain_binding(self, ch):  # in _Structure: it needs _items()
        """``jump { rules }``: an anonymous chain bound to the rule (nft's
        chain binding), kept as a regular chain named like nft names it
        internally (``__chainN``) and attached to the table."""
        name = f"__chain{len(self.bindings)}"
        self.bindings.append(["chain", name, self._items(ch[1:]), 0])
        return {ch[0].value: {"target": name}}

    def _items(self, ch: list) -> list:
        """Pair each block item with the separator that ends it, whose
        ``item`` (set by :class:`NftPostLex`) holds its line and extent:
        rules get their text and line, blocks their line. HANDLE tokens are
        passed through as items."""
        out: list = []
        pending = None
        for c in ch:
            if isinstance(c, _Sep):
                if pending is not None and c.item is not None:
                    start, line, end = c.item
                    if isinstance(pending, list):
                        if pending[0] == "rule":
                            text = self.source[start:end]
                            if text.startswith(("add ", "insert ")):
                                text = _RULE_CMD_PREFIX.sub("", text, count=1)
                            pending[4] = " ".join(text.split())
                        elif pending[0] == "rule_cmd":
                            text = _RULE_CMD_PREFIX.sub("", self.source[start:end], count=1)
                            pending[4][4] = " ".join(text.split())
                            pending[4][5] = self.line_base + line
                        pending[-1] = self.line_base + line if pending[0] != "rule_cmd" else pending[-1]
                    out.append((pending, self.line_base + line))
                    pending = None
                continue
            if c is None or (isinstance(c, Token) and c.type in ("NL", "SEMICOLON")):
                continue
            if isinstance(c, Token) and c.type == "HANDLE":
                out.append((c, 0))
                continue
            if pending is not None:
                out.append((pending, 0))
            pending = c
        if pending is not None:
            out.append((pending, 0))
        return out


def _device_names(values: list) -> tuple[str, ...]:
    """``devices = { "eth0", "eth1" }``: interface names (``IFNAMSIZ``: at most 15 bytes)."""
    for v in values:
        if not isinstance(v, str) or not v or len(v.encode("utf-8", "surrogatepass")) > 15:
            raise _Invalid('device names (devices = { "eth0", "eth1" })',
                           _canon(v)[:40] if not isinstance(v, str) else v)
    return tuple(values)


def _handle_of(items: list) -> int | None:
    for it in items:
        if isinstance(it, Token) and it.type == "HANDLE":
            return int(it.value.split()[-1])
    return None


#: What a bare ``reject`` sends, by table family (nft's evaluation of
#: ``reject`` without ``with``: ICMP port-unreachable of the family;
#: ``icmpx`` where both families meet).
REJECT_DEFAULT = {"ip": ("icmp", "port-unreachable"), "ip6": ("icmpv6", "port-unreachable"),
                  "inet": ("icmpx", "port-unreachable"), "bridge": ("icmpx", "port-unreachable"),
                  "netdev": ("icmpx", "port-unreachable")}


def with_family_defaults(stmts: tuple, family: str | None) -> tuple:
    """Make family-dependent defaults explicit, as ``nft -j`` lists them:
    a bare ``reject`` becomes ``reject with icmpx port-unreachable`` in an
    inet table (``icmp`` in ip, ``icmpv6`` in ip6)."""
    if family not in REJECT_DEFAULT:
        return stmts
    typ, code = REJECT_DEFAULT[family]
    return tuple(Reject(typ, code) if isinstance(s, Reject) and s.type is None else s for s in stmts)


def _build_rule(r: tuple, file: str, family: str | None = None) -> Rule:
    _, stmts, comment, handle, text, line = r
    try:
        model = with_family_defaults(tuple(stmt_from_json(s) for s in stmts), family)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DumpError(file, line, "an nftables rule", got=f"{text[:40]} ({exc})") from None
    return Rule(model, handle, comment, text, Origin(file, line))


def _typeof_type(expr_json: Any) -> Any:
    """Datatype of a ``typeof`` expression (what ``nft -j`` lists as ``type``)."""
    if isinstance(expr_json, dict) and "concat" in expr_json:
        return tuple(_typeof_type(e) for e in expr_json["concat"])
    if isinstance(expr_json, str):  # a datatype named after ':' (``typeof ip saddr : verdict``)
        return expr_json
    return _datatype(expr_from_json(expr_json))


_PAYLOAD_TYPES = {
    ("ip", "saddr"): "ipv4_addr", ("ip", "daddr"): "ipv4_addr",
    ("ip6", "saddr"): "ipv6_addr", ("ip6", "daddr"): "ipv6_addr",
    ("ether", "saddr"): "ether_addr", ("ether", "daddr"): "ether_addr",
    ("ip", "protocol"): "inet_proto", ("ip6", "nexthdr"): "inet_proto",
    ("ether", "type"): "ether_type", ("vlan", "type"): "ether_type",
    ("ip", "dscp"): "dscp", ("ip6", "dscp"): "dscp",
    ("icmp", "type"): "icmp_type", ("icmpv6", "type"): "icmpv6_type",
    ("tcp", "flags"): "tcp_flag",
}
_META_TYPES = {
    "mark": "mark", "iif": "iface_index", "oif": "iface_index", "iifname": "ifname",
    "oifname": "ifname", "l4proto": "inet_proto", "nfproto": "nf_proto", "protocol": "ether_type",
    "skuid": "uid", "skgid": "gid", "pkttype": "pkt_type", "iiftype": "iface_type",
    "oiftype": "iface_type", "cgroup": "cgroupv2", "cpu": "integer", "iifgroup": "devgroup",
    "oifgroup": "devgroup", "length": "integer", "priority": "classid",
}
_CT_TYPES = {"mark": "mark", "state": "ct_state", "status": "ct_status", "zone": "integer",
             "direction": "ct_dir", "helper": "string", "label": "ct_label",
             "ip saddr": "ipv4_addr", "ip daddr": "ipv4_addr", "ip6 saddr": "ipv6_addr",
             "ip6 daddr": "ipv6_addr", "proto-src": "inet_service", "proto-dst": "inet_service"}


_FIB_TYPES = {"oif": "iface_index", "oifname": "ifname", "type": "fib_addrtype"}
_SOCKET_TYPES = {"mark": "mark", "cgroupv2": "cgroupv2"}
_RT_TYPES = {"classid": "realm", "ipsec": "boolean"}


def _datatype(e: Expr) -> str:
    """The datatype nft gives a ``typeof`` expression (what ``nft -j`` lists
    as the set's ``type``): each expression's ``dtype`` in nft's
    src/payload.c, meta.c, ct.c, exthdr.c, ... Expressions without a datatype
    of their own are ``integer`` (raw payload ``@ih,32,32``, ``vlan id``,
    ``ip hdrlength``, ``tcp option maxseg size``, ``numgen``, ``ipsec in
    reqid``); ``osf name`` is a ``string`` (checked with nft 1.0.6 on every
    ``typeof`` of the conformance corpus)."""
    if isinstance(e, Payload) and e.protocol:
        if e.field in ("sport", "dport"):
            return "inet_service"
        return _PAYLOAD_TYPES.get((e.protocol, e.field or ""), "integer")
    if isinstance(e, Meta):
        return _META_TYPES.get(e.key, "integer")
    if isinstance(e, Ct):
        return _CT_TYPES.get(e.key, "integer")
    if isinstance(e, Osf):
        return "string"
    if isinstance(e, Fib):
        return _FIB_TYPES.get(e.result, "integer")
    if isinstance(e, Socket):
        return _SOCKET_TYPES.get(e.key, "integer")
    if isinstance(e, Rt):
        if e.key == "nexthop":
            return "ipv6_addr" if e.family == "ip6" else "ipv4_addr"
        return _RT_TYPES.get(e.key, "integer")
    if isinstance(e, Ipsec) and e.key in ("saddr", "daddr"):
        return "ipv6_addr" if e.family == "ip6" else "ipv4_addr"
    return "integer"


def _typeof_text(expr_json: Any) -> str:
    return render_expr(expr_from_json(expr_json))


def _block_items(items: list) -> tuple[int | None, list]:
    """A block's ``# handle N`` comment (``nft -a``) and its statements, blank lines dropped."""
    handle = None
    body = []
    for it, ln in items:
        if isinstance(it, Token):
            if it.type == "HANDLE":
                handle = int(it.value.split()[-1])
        elif it is not None:
            body.append((it, ln))
    return handle, body


def _build_set(kind: str, name: str, items: list, family: str, table: str, line: int,
               file: str) -> Set | Map:
    d: dict[str, Any] = {}
    handle, body = _block_items(items)
    for it, _ln in body:
        tag = it[0]
        if tag == "type":
            d["type"] = it[1]
            if it[2] is not None:
                d["map"] = it[2]
            if it[3]:
                d["flags"] = tuple(dict.fromkeys(d.get("flags", ()) + it[3]))
        elif tag == "typeof":
            d["typeof"] = _typeof_text(it[1]) + (f" : {_typeof_text(it[2])}" if it[2] is not None else "")
            d["type"] = _typeof_type(it[1])
            if it[2] is not None:
                d["map"] = _typeof_type(it[2])
        elif tag == "elements":
            d["elements"] = tuple(_elem_from_json(x) for x in it[1])
        elif tag == "stmt":
            d.setdefault("stmts", []).append(it[1])
        elif tag == "flags":
            d["flags"] = tuple(dict.fromkeys(d.get("flags", ()) + it[1]))
        else:
            d[tag] = it[1]
    d.pop("stmts", None)  # per-element statement templates (counter, quota): kept in JSON only
    common: dict[str, Any] = dict(name=name, table=table, family=family, handle=handle,
                                  origin=Origin(file, line))
    if kind == "map":
        if d.get("map") == "verdict" or d.get("map") is None:
            d.setdefault("map", "verdict")
        return Map(**common, **d)
    d.pop("map", None)
    return Set(**common, **d)


def _build_object(kind: str, name: str, lines: list[tuple[list, int]], family: str, table: str,
                  line: int, file: str, handle: int | None = None) -> NamedObject:
    """Object body lines → the JSON fields ``nft -j`` prints for that object.
    A line that cannot be read is a DumpError naming it."""
    f: dict[str, Any] = {}
    for words, ln in lines:
        try:
            _object_line(kind, list(words), f)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, _NotModelled) as exc:
            what = exc.what if isinstance(exc, _NotModelled) else f"a {kind} line as nft lists it"
            got = " ".join(w if isinstance(w, str) else _canon(w) for w in words)
            raise DumpError(file, ln or line, what, got=got) from None
    fields = tuple(sorted((k, _canon(v)) for k, v in f.items()))
    return NamedObject(kind, name, table, family, fields, handle, Origin(file, line))


def _object_line(kind: str, ws: list, f: dict[str, Any]) -> None:
    """One line of an object's body into ``f`` (the object's JSON fields)."""
    if ws:
        head = ws[0]
        if head == "comment":
            f["comment"] = _unquote(ws[1])
        elif kind == "counter" and head == "packets":
            f["packets"] = int(ws[1], 0)
            if len(ws) > 3:
                f["bytes"] = int(ws[3], 0)
        elif kind == "quota":
            q = _quota_json([w for w in ws])["quota"]
            f["bytes"] = q["val"] * _UNIT_BYTES.get(q.get("val_unit") or "bytes", 1)
            if q.get("used"):
                f["used"] = q["used"] * _UNIT_BYTES.get(q.get("used_unit") or "bytes", 1)
            if q.get("inv"):
                f["inv"] = True
        elif kind == "limit" and head == "rate":
            lim = _limit_json(ws)["limit"]
            f.update({"rate": lim["rate"], "per": lim["per"]})
            if lim.get("inv"):
                f["inv"] = True
            if lim.get("rate_unit", "packets") != "packets":
                f["unit"] = lim["rate_unit"]
            if lim.get("burst"):
                f["burst"] = lim["burst"]
        elif kind == "ct helper" and head == "type":
            f["type"] = _unquote(ws[1])
            if len(ws) > 3 and ws[2] == "protocol":
                f["protocol"] = ws[3]
        elif head == "l3proto":
            f["l3proto"] = ws[1]
        elif head in ("protocol", "dport", "size", "mss", "wscale", "timeout"):
            v = ws[1]
            f[head] = int(v, 0) if _INT_RE.match(v) else (time_ms(v) if head == "timeout" else v)
        elif head == "policy" and len(ws) >= 3 and isinstance(ws[2], dict):
            f["policy"] = {str(k): v for k, v in (e for e in ws[2]["set"])}
        elif kind == "synproxy":
            f["flags"] = _list_or_scalar([w for w in ws if w != ","])
        elif kind == "secmark" and head == "context":
            f["context"] = _unquote(ws[1])
        else:
            f.setdefault("_text", []).append(" ".join(str(w) for w in ws))


_UNIT_BYTES = {"bytes": 1, "kbytes": 1024, "mbytes": 1024 * 1024}


def _build_chain(name: str, items: list, family: str, table: str, line: int, file: str) -> Chain:
    rules = []
    typ = hook = prio = prio_text = policy = comment = None
    dev: tuple = ()
    flags: tuple = ()
    handle, body = _block_items(items)
    for it, _ln in body:
        tag = it[0]
        if tag == "rule":
            rules.append(_build_rule(it, file, family))
        elif tag == "hook":
            _, typ, hook, dev, prio_text = it
            hline = _ln
            try:
                prio = resolve_priority(family, prio_text, hook)
            except ValueError as exc:
                raise DumpError(file, hline, "a chain priority (a number or raw, mangle, dstnat, "
                                "filter, security, srcnat; bridge: dstnat, filter, out, srcnat)",
                                got=f"{prio_text} ({exc})") from None
        elif tag == "policy" and it[1] not in ("accept", "drop"):
            raise DumpError(file, _ln, "a chain policy: accept or drop", got=it[1])
        elif tag == "devices":
            dev = it[1]
        elif tag == "policy":
            policy = it[1]
        elif tag == "comment":
            comment = it[1]
        elif tag == "flags":
            flags = it[1]
    return Chain(name, table, family, typ, hook, prio, prio_text, tuple(dev), policy,
                 tuple(rules), handle, comment, flags, Origin(file, line))


def _build_table(t: tuple, file: str) -> Table:
    _, fam, name, items, line = t
    chains: list[Chain] = []
    sets: list[Set] = []
    maps: list[Map] = []
    fts: list[Flowtable] = []
    objs: list[NamedObject] = []
    flags: tuple = ()
    comment = None
    handle, body = _block_items(items)
    for it, _ln in body:
        tag = it[0]
        try:
            if tag == "chain":
                chains.append(_build_chain(it[1], it[2], fam, name, it[3], file))
            elif tag in ("set", "map"):
                s = _build_set(tag, it[1], it[2], fam, name, it[3], file)
                if isinstance(s, Map):  # tag "map"
                    maps.append(s)
                else:
                    sets.append(s)
            elif tag == "flowtable":
                fts.append(_build_flowtable(it[1], it[2], fam, name, it[3], file))
            elif tag == "obj":
                objs.append(_build_object(it[1], it[2], it[3], fam, name, it[5], file, it[4]))
            elif tag == "flags":
                flags = it[1]
            elif tag == "comment":
                comment = it[1]
        except DumpError:
            raise
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, _NotModelled) as exc:
            # a block whose parts parsed but do not fit together (a set's
            # elements, a chain's hook...): named by its own line
            ln = (it[5] if tag == "obj" else it[3] if tag in ("chain", "set", "map", "flowtable")
                  else 0) or _ln or line
            what = exc.what if isinstance(exc, _NotModelled) else f"a valid {tag}"
            got = exc.got if isinstance(exc, _NotModelled) else f"{tag} {it[1]} ({exc})"
            raise DumpError(file, ln, what, got=got) from None
    return Table(fam, name, tuple(chains), tuple(sets), tuple(maps), tuple(fts), tuple(objs),
                 flags, handle, comment, Origin(file, line))


def _build_flowtable(name: str, items: list, fam: str, table: str, line: int, file: str) -> Flowtable:
    hook = prio = prio_text = None
    devs: tuple = ()
    flags: tuple = ()
    handle, body = _block_items(items)
    for it, _ln in body:
        if it[0] == "hook":
            hook, prio_text = it[1], it[2]
            prio = resolve_priority("netdev", prio_text, hook)  # nft: flowtable_evaluate()
        elif it[0] == "devices":
            devs = it[1]
        elif it[0] == "flags":
            flags = it[1]
        elif it[0] == "counter":
            flags = flags + ("counter",)
    return Flowtable(name, table, fam, hook, prio, prio_text, devs, flags, handle, Origin(file, line))


# ===========================================================================
# Text: public entry points
# ===========================================================================

_FRIENDLY = {
    "WORD": "a value", "STRING": "a quoted string", "NL": "end of line", "LBRACE": "'{'",
    "RBRACE": "'}'", "SEMICOLON": "';'", "HANDLE": "'# handle N'", "SETREF": "'@set'",
    "VERDICT": "a verdict", "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "$END": "end of input",
    "PROTO": "a protocol (tcp, udp, ...)", "EXTHDR_KW": "an extension header",
    "META_UNQ": "a meta key", "NAT_KIND": "snat/dnat/masquerade/redirect", "RAW": "'@nh,16,8'",
    "FAM_IP": "ip", "FAM_IP6": "ip6", "FAM_INET": "inet", "FAM_ARP": "arp",
    "FAM_BRIDGE": "bridge", "FAM_NETDEV": "netdev", "EXISTS": "exists/missing",
    "RELWORD": "a comparison", "CT_DIR": "original/reply", "LPAR": "'('", "RPAR": "')'",
    "DOT": "'.'", "MINUS": "'-'", "SLASH": "'/'", "VBAR": "'|'", "AMPERSAND": "'&'",
    "EQ": "'=='", "NE": "'!='", "LT": "'<'", "GT": "'>'", "LE": "'<='", "GE": "'>='",
}


def _expected(exc: UnexpectedInput) -> str:
    exp: list[str] = []
    ip = getattr(exc, "interactive_parser", None)
    if ip is not None:
        try:
            exp = sorted(ip.accepts())
        except Exception:  # pragma: no cover - accepts() replays the parser; never fatal
            exp = []
    if not exp:
        exp = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or [])
    names = []
    for e in exp:
        if e in _FRIENDLY:
            names.append(_FRIENDLY[e])
        elif e.startswith("__ANON") or e.startswith("_"):
            continue
        else:
            names.append(e.lower().strip('"'))
    names = list(dict.fromkeys(names))
    if not names:
        return "nftables syntax (nft list ruleset)"
    if len(names) > 8:
        names = names[:8] + ["..."]
    return "nftables syntax: one of " + ", ".join(names)


_WORD_RE = re.compile(r"^(::?)?[A-Za-z0-9_*$][A-Za-z0-9_\-.:/*$%]*$")


def _keyword_as_word(exc: UnexpectedInput) -> bool:
    """A keyword where only a word fits is a word (``ct status snat``,
    ``icmp type redirect``, ``comment`` inside an object): nft's scanner
    makes the same choice by parser state. Returns True when recovered."""
    if not isinstance(exc, UnexpectedToken):
        return False
    tok = exc.token
    if tok.type in ("WORD", "$END") or not _WORD_RE.match(str(tok.value)):
        return False
    ip = exc.interactive_parser
    if "WORD" not in ip.accepts():
        return False
    ip.feed_token(Token.new_borrow_pos("WORD", tok.value, tok))
    return True


_LOCK = threading.Lock()


def _parse(text: str, start: str, file: str, first_line: int) -> Any:
    """Parse ``text`` from ``start`` ("start" or "single_rule"), transforming
    while parsing; every error becomes a DumpError with the user's line.
    The parser keeps per-parse state: one parse at a time."""
    with _LOCK:
        return _parse_locked(text, start, file, first_line)


def _parse_locked(text: str, start: str, file: str, first_line: int) -> Any:
    parser = _parser()
    postlex = parser.options.postlex
    tr = parser.options.transformer
    if not isinstance(postlex, NftPostLex) or not isinstance(tr, _Structure):
        raise RuntimeError("the nft parser was built without its post-lexer and transformer")
    postlex.file = file
    postlex.line_base = first_line - 1
    postlex.rule_mode = start == "single_rule"
    postlex.item_line = 1
    postlex.reset()
    tr.file, tr.line_base, tr.source = file, first_line - 1, text
    tr.bindings = []
    try:
        return parser.parse(text, start=start, on_error=_keyword_as_word)
    except DumpError:
        raise
    except UnexpectedCharacters as exc:
        lines = text.splitlines()
        line_text = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
        raise DumpError(file, first_line + exc.line - 1, "nftables syntax (nft list ruleset)",
                        got=line_text.strip() or text[exc.pos_in_stream:exc.pos_in_stream + 20],
                        column=exc.column) from None
    except UnexpectedToken as exc:
        tok = exc.token
        line = getattr(tok, "line", None) or postlex.item_line
        got = "end of input" if tok.type == "$END" else (
            "end of line" if tok.type == "NL" else tok.value)
        raise DumpError(file, first_line + line - 1, _expected(exc), got=got,
                        column=getattr(tok, "column", None)) from None
    except UnexpectedEOF as exc:
        raise DumpError(file, first_line + text.count("\n"), _expected(exc), got="end of input") from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark input errors
        raise DumpError(file, first_line, "nftables syntax", got=str(exc)[:60]) from None
    except _NotModelled as exc:
        raise DumpError(file, first_line + postlex.item_line - 1, exc.what, got=exc.got) from None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise DumpError(file, first_line + postlex.item_line - 1, "a valid nftables value",
                        got=str(exc)) from None


def parse_ruleset_text(text: str, file: str = "<nft>", first_line: int = 1) -> Ruleset:
    """Read ``nft list ruleset`` (or ``nft -a list ruleset``) output.

    ``first_line`` is the line of ``text``'s first line in the user's file,
    so errors and origins point at the real line of a pasted session.
    """
    if not text.endswith("\n"):
        text += "\n"
    items = _parse(text, "start", file, first_line)
    tables: list[Table] = []
    for it in items:
        if it[0] == "flush":
            tables = []
        elif it[0] == "table":
            t = _build_table(it, file)
            old = next((i for i, x in enumerate(tables) if (x.family, x.name) == (t.family, t.name)), None)
            if old is None:
                tables.append(t)
            else:  # a second block of the same table adds to it, as nft -f does
                o = tables[old]
                tables[old] = replace(o, chains=o.chains + t.chains, sets=o.sets + t.sets,
                                      maps=o.maps + t.maps, flowtables=o.flowtables + t.flowtables,
                                      objects=o.objects + t.objects)
        elif it[0] == "rule_cmd":
            _, fam, tname, cname, r = it
            rule = _build_rule(r, file, fam)
            idx = next((i for i, x in enumerate(tables) if (x.family, x.name) == (fam, tname)), None)
            if idx is None:
                raise DumpError(file, rule.origin.line, f"table {fam} {tname} declared before its rules",
                                got=rule.text)
            t = tables[idx]
            chains = list(t.chains)
            ci = next((i for i, c in enumerate(chains) if c.name == cname), None)
            if ci is None:
                raise DumpError(file, rule.origin.line, f"chain {cname} declared before its rules",
                                got=rule.text)
            chains[ci] = replace(chains[ci], rules=chains[ci].rules + (rule,))
            tables[idx] = replace(t, chains=tuple(chains))
    return Ruleset(tuple(tables), Origin(file, first_line))


def parse_rule_text(text: str, family: str = "inet", file: str = "<rule>", line: int = 1) -> Rule:
    """One rule as ``nft add rule`` takes it (or as ``nft list`` prints it).

    ``family`` is the table family (kept for the caller; the text alone
    decides the model, as in nft's JSON).
    """
    if family not in FAMILIES:
        raise DumpError(file, line, f"a family ({', '.join(FAMILIES)})", got=family)
    src = text.strip()
    if not src:
        raise DumpError(file, line, "an nftables rule", got="empty text")
    if "\n" in src:
        src = " ".join(src.split())
    r = _parse(src, "single_rule", file, line)
    return _build_rule(r, file, family)


# ===========================================================================
# Model -> JSON
# ===========================================================================


def _secs(ms: int | None) -> Any:
    if ms is None:
        return None
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def expr_to_json(e: Expr) -> Any:
    """A model expression as nft's JSON."""
    if e is None or isinstance(e, (bool, int, float, str)):
        return e
    if isinstance(e, SetRef):
        return "@" + e.name
    if isinstance(e, Payload):
        if e.protocol is None:
            return {"payload": {"base": e.base, "offset": e.offset, "len": e.length}}
        return {"payload": {"protocol": e.protocol, "field": e.field}}
    if isinstance(e, Meta):
        return {"meta": {"key": e.key}}
    if isinstance(e, Ct):
        d: dict[str, Any] = {"key": e.key}
        if e.dir:
            d["dir"] = e.dir
        if e.family:
            d["family"] = e.family
        return {"ct": d}
    if isinstance(e, Exthdr):
        if e.kind == "dccp option":
            return {"dccp option": {"type": int(e.name or 0)}}
        d = {"name": e.name}
        if e.field is not None:
            d["field"] = e.field
        if e.offset is not None:
            d["offset"] = e.offset
        return {e.kind: d}
    if isinstance(e, Fib):
        return {"fib": {"result": e.result, "flags": list(e.flags)}}
    if isinstance(e, Socket):
        return {"socket": {"key": e.key, **({"level": e.level} if e.level is not None else {})}}
    if isinstance(e, Rt):
        return {"rt": {"key": e.key, **({"family": e.family} if e.family else {})}}
    if isinstance(e, Osf):
        return {"osf": {"key": e.key, **({"ttl": e.ttl} if e.ttl else {})}}
    if isinstance(e, Ipsec):
        d = {"key": e.key}
        if e.dir:
            d["dir"] = e.dir
        if e.spnum is not None:
            d["spnum"] = e.spnum
        if e.family:
            d["family"] = e.family
        return {"ipsec": d}
    if isinstance(e, Numgen):
        return {"numgen": {"mode": e.mode, "mod": e.mod, "offset": e.offset}}
    if isinstance(e, Jhash):
        d = {"mod": e.mod, "expr": expr_to_json(e.expr), "offset": e.offset}
        if e.seed is not None:
            d["seed"] = e.seed
        return {"jhash": d}
    if isinstance(e, Symhash):
        return {"symhash": {"mod": e.mod, "offset": e.offset}}
    if isinstance(e, Binop):
        return {e.op: [expr_to_json(e.left), expr_to_json(e.right)]}
    if isinstance(e, Concat):
        return {"concat": [expr_to_json(x) for x in e.exprs]}
    if isinstance(e, Prefix):
        return {"prefix": {"addr": expr_to_json(e.addr), "len": e.len}}
    if isinstance(e, Range):
        return {"range": [expr_to_json(e.lo), expr_to_json(e.hi)]}
    if isinstance(e, FlagList):
        return [expr_to_json(x) for x in e.values]
    if isinstance(e, Elem):
        d = {"val": expr_to_json(e.val)}
        if e.timeout is not None:
            d["timeout"] = _secs(e.timeout)
        if e.expires is not None:
            d["expires"] = _secs(e.expires)
        if e.comment is not None:
            d["comment"] = e.comment
        if e.counter is not None:
            d["counter"] = {"packets": e.counter.packets, "bytes": e.counter.bytes}
        if e.stmts:
            d["stmt"] = [stmt_to_json(x) for x in e.stmts]
        return {"elem": d}
    if isinstance(e, MapElem):
        return [expr_to_json(e.key), expr_to_json(e.data)]
    if isinstance(e, SetLiteral):
        return {"set": [expr_to_json(x) for x in e.elements]}
    if isinstance(e, MapLookup):
        return {"map": {"key": expr_to_json(e.key), "data": expr_to_json(e.map)}}
    if isinstance(e, Verdict):
        return {e.kind: {"target": e.target} if e.target else None}
    if isinstance(e, UnknownExpr):
        return json.loads(e.json)
    raise TypeError(f"not an nftables expression: {e!r}")


def stmt_to_json(s: Stmt) -> Any:
    """A model statement as nft's JSON."""
    if isinstance(s, Match):
        return {"match": {"left": expr_to_json(s.left), "op": s.op, "right": expr_to_json(s.right)}}
    if isinstance(s, Verdict):
        return expr_to_json(s)
    if isinstance(s, Counter):
        if s.name:
            return {"counter": s.name}
        return {"counter": {"packets": s.packets or 0, "bytes": s.bytes or 0}}
    if isinstance(s, Mangle):
        return {"mangle": {"key": expr_to_json(s.key), "value": expr_to_json(s.value)}}
    if isinstance(s, Nat):
        d: dict[str, Any] = {}
        if s.family:
            d["family"] = s.family
        if s.addr is not None:
            d["addr"] = expr_to_json(s.addr)
        if s.port is not None:
            d["port"] = expr_to_json(s.port)
        if s.flags:
            d["flags"] = list(s.flags)
        if s.type_flags:
            d["type_flags"] = list(s.type_flags)
        return {s.kind: d or None}
    if isinstance(s, Reject):
        if s.type is None:
            return {"reject": None}
        d = {"type": s.type}
        if s.code is not None:
            d["expr"] = expr_to_json(s.code)
        return {"reject": d}
    if isinstance(s, Log):
        d = {}
        for k, v in (("prefix", s.prefix), ("group", s.group), ("snaplen", s.snaplen),
                     ("queue-threshold", s.queue_threshold), ("level", s.level)):
            if v is not None:
                d[k] = v
        if s.flags:
            d["flags"] = list(s.flags)
        return {"log": d or None}
    if isinstance(s, Limit):
        if s.name:
            return {"limit": s.name}
        d = {"rate": s.rate, "per": s.per}
        if s.rate_unit != "packets":
            d["rate_unit"] = s.rate_unit
        if s.burst is not None:
            d["burst"] = s.burst
            if s.burst_unit:
                d["burst_unit"] = s.burst_unit
        if s.inv:
            d["inv"] = True
        return {"limit": d}
    if isinstance(s, Quota):
        if s.name:
            return {"quota": s.name}
        d = {"val": s.val, "val_unit": s.val_unit}
        if s.used:
            d["used"] = s.used
            d["used_unit"] = s.used_unit
        if s.inv:
            d["inv"] = True
        return {"quota": d}
    if isinstance(s, Queue):
        d = {}
        if s.num is not None:
            d["num"] = expr_to_json(s.num)
        if s.flags:
            d["flags"] = list(s.flags)
        return {"queue": d or None}
    if isinstance(s, Notrack):
        return {"notrack": None}
    if isinstance(s, SetStatement):
        d = {"op": s.op, "elem": expr_to_json(s.elem), "set": s.set}
        if s.stmts:
            d["stmt"] = [stmt_to_json(x) for x in s.stmts]
        return {"set": d}
    if isinstance(s, MapStatement):
        d = {"op": s.op, "elem": expr_to_json(s.elem), "data": expr_to_json(s.data), "map": s.map}
        if s.stmts:
            d["stmt"] = [stmt_to_json(x) for x in s.stmts]
        return {"map": d}
    if isinstance(s, Vmap):
        return {"vmap": {"key": expr_to_json(s.key), "data": expr_to_json(s.map)}}
    if isinstance(s, ObjectRef):
        return {s.kind: expr_to_json(s.name)}
    if isinstance(s, Unknown):
        return json.loads(s.json)
    raise TypeError(f"not an nftables statement: {s!r}")


def rule_to_json(rule: Rule) -> list:
    return [stmt_to_json(s) for s in rule.exprs]


def ruleset_to_json(rs: Ruleset) -> dict[str, Any]:
    """``{"nftables": [...]}`` as ``nft -j list ruleset`` prints it."""
    out: list[dict[str, Any]] = [{"metainfo": {"json_schema_version": 1}}]
    for t in rs.tables:
        td: dict[str, Any] = {"family": t.family, "name": t.name}
        if t.handle is not None:
            td["handle"] = t.handle
        if t.flags:
            td["flags"] = list(t.flags)
        if t.comment:
            td["comment"] = t.comment
        out.append({"table": td})
        for o in t.objects:
            od: dict[str, Any] = {"family": t.family, "name": o.name, "table": t.name}
            if o.handle is not None:
                od["handle"] = o.handle
            od.update({k: json.loads(v) for k, v in o.fields})
            out.append({o.kind: od})
        for c in t.chains:
            cd: dict[str, Any] = {"family": t.family, "table": t.name, "name": c.name}
            if c.handle is not None:
                cd["handle"] = c.handle
            if c.hook:
                cd.update({"type": c.type, "hook": c.hook, "prio": c.priority,
                           "policy": c.effective_policy})
                if c.device:
                    cd["dev"] = c.device[0] if len(c.device) == 1 else list(c.device)
            if c.comment:
                cd["comment"] = c.comment
            out.append({"chain": cd})
        for s in (*t.sets, *t.maps):
            kind = "map" if isinstance(s, Map) else "set"
            sd: dict[str, Any] = {"family": t.family, "name": s.name, "table": t.name,
                                  "type": list(s.type) if isinstance(s.type, tuple) else s.type}
            if s.handle is not None:
                sd["handle"] = s.handle
            if isinstance(s, Map):
                sd["map"] = list(s.map) if isinstance(s.map, tuple) else s.map
            if s.flags:
                sd["flags"] = list(s.flags)
            for k, v in (("timeout", _secs(s.timeout)), ("gc-interval", _secs(s.gc_interval)),
                         ("size", s.size), ("policy", s.policy), ("comment", s.comment)):
                if v is not None:
                    sd[k] = v
            if s.auto_merge:
                sd["auto-merge"] = True
            if s.elements:
                sd["elem"] = [expr_to_json(e) for e in s.elements]
            out.append({kind: sd})
        for f in t.flowtables:
            fd: dict[str, Any] = {"family": t.family, "name": f.name, "table": t.name,
                                  "hook": f.hook, "prio": f.priority, "dev": list(f.devices)}
            if f.handle is not None:
                fd["handle"] = f.handle
            if f.flags:
                fd["flags"] = list(f.flags)
            out.append({"flowtable": fd})
        for c in t.chains:
            for r in c.rules:
                rd: dict[str, Any] = {"family": t.family, "table": t.name, "chain": c.name}
                if r.handle is not None:
                    rd["handle"] = r.handle
                if r.comment:
                    rd["comment"] = r.comment
                rd["expr"] = rule_to_json(r)
                out.append({"rule": rd})
    return {"nftables": out}


# ===========================================================================
# Model -> text (as nft lists it), for rules read from JSON
# ===========================================================================


def _q(s: str) -> str:
    return f'"{s}"'


_UNQUALIFIED_META = {"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup"}
_QUOTED_META = {"iifname", "oifname", "ibrname", "obrname", "sdifname", "iifkind", "oifkind"}


def render_expr(e: Expr, left: Expr | None = None) -> str:
    """An expression in nft's text syntax (``nft list`` style)."""
    if isinstance(e, bool):
        return "exists" if e else "missing"
    if isinstance(left, Binop):
        left = left.left
    if isinstance(e, int):
        if isinstance(left, (Meta, Ct)) and getattr(left, "key", "") == "mark":
            return f"0x{e:08x}"
        return str(e)
    if isinstance(e, str):
        quoted = (isinstance(left, Meta) and left.key in _QUOTED_META) or (
            isinstance(left, Ct) and left.key == "helper") or (
            isinstance(left, (Meta,)) and left.key in ("iif", "oif")) or (
            isinstance(left, Socket)) or not re.match(r"^[A-Za-z0-9_.:/\-*]+$", e)
        return _q(e) if quoted else e
    if e is None:
        return ""
    if isinstance(e, SetRef):
        return "@" + e.name
    if isinstance(e, Payload):
        if e.protocol is None:
            return f"@{e.base},{e.offset},{e.length}"
        return f"{e.protocol} {e.field}"
    if isinstance(e, Meta):
        return e.key if e.key in _UNQUALIFIED_META else f"meta {e.key}"
    if isinstance(e, Ct):
        parts = ["ct"]
        if e.dir:
            parts.append(e.dir)
        if e.family:
            parts.append(e.family)
        parts.append(e.key)
        return " ".join(parts)
    if isinstance(e, Exthdr):
        if e.kind == "exthdr":
            return f"{e.name} {e.field}" if e.field else f"exthdr {e.name}"
        if e.kind == "dccp option":
            return f"dccp option {e.name}"
        if e.kind == "sctp chunk":
            return f"sctp chunk {e.name}" + (f" {e.field}" if e.field else "")
        head = e.kind.split()[0]
        return f"{head} option {e.name}" + (f" {e.field}" if e.field else "")
    if isinstance(e, Fib):
        return f"fib {' . '.join(e.flags)} {e.result}"
    if isinstance(e, Socket):
        return f"socket {e.key}" + (f" level {e.level}" if e.level is not None else "")
    if isinstance(e, Rt):
        return "rt " + (f"{e.family} " if e.family else "") + e.key
    if isinstance(e, Osf):
        return "osf " + (f"ttl {e.ttl} " if e.ttl else "") + e.key
    if isinstance(e, Ipsec):
        return "ipsec " + " ".join(x for x in (e.dir, f"spnum {e.spnum}" if e.spnum else None,
                                              e.family, e.key) if x)
    if isinstance(e, Numgen):
        return f"numgen {e.mode} mod {e.mod}" + (f" offset {e.offset}" if e.offset else "")
    if isinstance(e, Jhash):
        return (f"jhash {render_expr(e.expr)} mod {e.mod}" + (f" seed 0x{e.seed:x}" if e.seed is not None else "")
                + (f" offset {e.offset}" if e.offset else ""))
    if isinstance(e, Symhash):
        return f"symhash mod {e.mod}" + (f" offset {e.offset}" if e.offset else "")
    if isinstance(e, Binop):
        r = render_expr(e.right, e.left if e.op in ("&", "|", "^") else None)
        if isinstance(e.right, FlagList):
            r = "(" + " | ".join(render_expr(x) for x in e.right.values) + ")"
        return f"{render_expr(e.left)} {e.op} {r}"
    if isinstance(e, Concat):
        return " . ".join(render_expr(x) for x in e.exprs)
    if isinstance(e, Prefix):
        return f"{render_expr(e.addr)}/{e.len}"
    if isinstance(e, Range):
        return f"{render_expr(e.lo, left)}-{render_expr(e.hi, left)}"
    if isinstance(e, FlagList):
        return ",".join(render_expr(x, left) for x in e.values)
    if isinstance(e, Elem):
        s = render_expr(e.val, left)
        if e.timeout is not None:
            s += f" timeout {_render_time(e.timeout)}"
        if e.expires is not None:
            s += f" expires {_render_time(e.expires)}"
        for st in e.stmts:
            s += " " + render_stmt(st)
        if e.counter is not None:
            s += f" counter packets {e.counter.packets} bytes {e.counter.bytes}"
        if e.comment is not None:
            s += f" comment {_q(e.comment)}"
        return s
    if isinstance(e, MapElem):
        return f"{render_expr(e.key, left)} : {render_expr(e.data)}"
    if isinstance(e, SetLiteral):
        return "{ " + ", ".join(render_expr(x, left) for x in e.elements) + " }"
    if isinstance(e, MapLookup):
        return f"{render_expr(e.key)} map {render_expr(e.map, e.key)}"
    if isinstance(e, Verdict):
        return e.kind + (f" {e.target}" if e.target else "")
    if isinstance(e, UnknownExpr):
        return f"<not modelled: {e.kind}>"
    return str(e)


def _render_time(ms: int) -> str:
    out = ""
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    if ms or not out:
        out += f"{ms}ms"
    return out


def render_stmt(s: Stmt) -> str:
    """A statement in nft's text syntax."""
    if isinstance(s, Match):
        if (isinstance(s.left, Binop) and s.left.op == "&" and is_bitmask(s.left.left)
                and s.op in ("==", "!=")):  # nft's "flags / mask" form
            op = "" if s.op == "==" else "!= "
            return (f"{render_expr(s.left.left)} {op}{render_expr(s.right, s.left.left)} / "
                    f"{render_expr(s.left.right, s.left.left)}")
        left = render_expr(s.left)
        right = render_expr(s.right, s.left)
        if isinstance(s.left, Binop) and s.op != "in":
            op = f"{s.op} "
        else:
            op = "" if s.op in ("==", "in") else f"{s.op} "
        return f"{left} {op}{right}"
    if isinstance(s, Verdict):
        return render_expr(s)
    if isinstance(s, Counter):
        if s.name:
            return f"counter name {_q(s.name)}"
        return f"counter packets {s.packets or 0} bytes {s.bytes or 0}"
    if isinstance(s, Mangle):
        return f"{render_expr(s.key)} set {render_expr(s.value, s.key)}"
    if isinstance(s, Nat):
        parts = [s.kind]
        if s.family and s.kind in ("snat", "dnat"):
            parts.append(s.family)
        if "prefix" in s.type_flags:
            parts.append("prefix")
        if s.addr is not None or s.port is not None:
            target = render_expr(s.addr) if s.addr is not None else ""
            if s.port is not None:
                target += f":{render_expr(s.port)}"
            parts += ["to", target]
        if s.flags:
            parts.append(",".join(s.flags))
        return " ".join(parts)
    if isinstance(s, Reject):
        if s.type is None:
            return "reject"
        if s.type == "tcp reset":
            return "reject with tcp reset"
        return f"reject with {s.type} {render_expr(s.code)}".rstrip()
    if isinstance(s, Log):
        parts = ["log"]
        if s.prefix is not None:
            parts.append(f"prefix {_q(s.prefix)}")
        if s.level is not None:
            parts.append(f"level {s.level}")
        for k, v in (("group", s.group), ("snaplen", s.snaplen), ("queue-threshold", s.queue_threshold)):
            if v is not None:
                parts.append(f"{k} {v}")
        if s.flags:
            parts.append("flags " + ",".join(s.flags))
        return " ".join(parts)
    if isinstance(s, Limit):
        if s.name:
            return f"limit name {_q(s.name)}"
        unit = "" if s.rate_unit == "packets" else f" {s.rate_unit}"
        out = f"limit rate {'over ' if s.inv else ''}{s.rate}{unit}/{s.per}"
        if s.burst and not (s.burst == 5 and s.rate_unit == "packets"):
            out += f" burst {s.burst} {s.burst_unit or s.rate_unit}"
        return out
    if isinstance(s, Quota):
        if s.name:
            return f"quota name {_q(s.name)}"
        out = f"quota {'over ' if s.inv else ''}{s.val} {s.val_unit or 'bytes'}"
        if s.used:
            out += f" used {s.used} {s.used_unit or 'bytes'}"
        return out
    if isinstance(s, Queue):
        out = "queue"
        if s.flags:
            out += " flags " + ",".join(s.flags)
        if s.num is not None:
            out += f" to {render_expr(s.num)}"
        return out
    if isinstance(s, Notrack):
        return "notrack"
    if isinstance(s, SetStatement):
        inner = render_expr(s.elem) + "".join(" " + render_stmt(x) for x in s.stmts)
        return f"{s.op} {s.set} {{ {inner} }}"
    if isinstance(s, MapStatement):
        return f"{s.op} {s.map} {{ {render_expr(s.elem)} : {render_expr(s.data)} }}"
    if isinstance(s, Vmap):
        return f"{render_expr(s.key)} vmap {render_expr(s.map, s.key)}"
    if isinstance(s, ObjectRef):
        return f"{s.kind} set {render_expr(s.name) if not isinstance(s.name, str) else _q(s.name)}"
    if isinstance(s, Unknown):
        return f"<not modelled: {s.kind}>"
    return str(s)


def render_rule(rule: Rule) -> str:
    """The rule as ``nft list ruleset`` prints it (comment included)."""
    text = " ".join(render_stmt(s) for s in rule.exprs)
    if rule.comment:
        text += f" comment {_q(rule.comment)}"
    return text


# ===========================================================================
# Text and JSON twins (a bundle's nft-ruleset.nft and nft-ruleset.json)
# ===========================================================================

#: What two correct listings of one ruleset may differ in: where a fact was
#: read, handles (``nft -j`` prints them, ``nft list`` only with ``-a``), the
#: text of a rule as printed, a priority's spelling (``-100`` / ``dstnat``),
#: a set's ``typeof`` text (nft 1.0's JSON has none), and what ticks between
#: the two commands: counters, quotas used, elements' ``expires``.
_TWIN_SKIP = frozenset({"origin", "handle", "text", "priority_text", "typeof"})
_TICKING_FIELDS = frozenset({"packets", "bytes", "used"})


def _twin_key(obj: Any) -> Any:
    """A comparable view of a model object without what :data:`_TWIN_SKIP` names."""
    if isinstance(obj, Counter):
        return ("Counter", obj.name)
    if isinstance(obj, Elem):
        return ("Elem", _twin_key(obj.val), obj.timeout, obj.comment,
                obj.counter is not None, _twin_key(obj.stmts))
    if isinstance(obj, Quota):
        return ("Quota", obj.val, obj.val_unit, obj.inv, obj.name)
    if isinstance(obj, NamedObject):
        return ("NamedObject", obj.kind, obj.name,
                tuple(f for f in obj.fields if f[0] not in _TICKING_FIELDS))
    if hasattr(obj, "__dataclass_fields__"):
        return (type(obj).__name__,) + tuple(
            _twin_key(getattr(obj, f)) for f in obj.__dataclass_fields__ if f not in _TWIN_SKIP)
    if isinstance(obj, (tuple, list)):
        return tuple(_twin_key(x) for x in obj)
    return obj


def _first_mismatch(label: str, xs: tuple, ys: tuple, what: str) -> str | None:
    """The first of two named lists (sets, chains, ...) that differs, by name then content."""
    bx = {getattr(x, "name", i): x for i, x in enumerate(xs)}
    by = {getattr(y, "name", i): y for i, y in enumerate(ys)}
    for name in list(bx) + [n for n in by if n not in bx]:
        x, y = bx.get(name), by.get(name)
        if x is None or y is None:
            side, only = ("text", x) if y is None else ("JSON", y)
            return f"{label}: {what} {name} is only in the {side} ({getattr(only, 'origin', '?')})"
        if _twin_key(x) != _twin_key(y):
            return f"{label}: {what} {name} differs ({x.origin} / {y.origin})"
    return None


def ruleset_difference(text: Ruleset, json_rs: Ruleset) -> str | None:
    """None when ``nft list ruleset`` and ``nft -j list ruleset`` describe the
    same ruleset (up to :data:`_TWIN_SKIP`); else where they first differ:
    the table, chain and rule (with both file:line)."""
    if _twin_key(text.tables) == _twin_key(json_rs.tables):
        return None
    ta = {(t.family, t.name): t for t in text.tables}
    tb = {(t.family, t.name): t for t in json_rs.tables}
    for key in list(ta) + [k for k in tb if k not in ta]:
        x, y = ta.get(key), tb.get(key)
        label = f"table {key[0]} {key[1]}"
        if x is None or y is None:
            side, only = ("text", x) if y is None else ("JSON", y)
            return f"{label} is only in the {side} ({getattr(only, 'origin', '?')})"
        if _twin_key(x) == _twin_key(y):
            continue
        for cx in x.chains:
            cy = y.chain(cx.name)
            if cy is None:
                return f"{label}: chain {cx.name} is only in the text ({cx.origin})"
            if _twin_key(replace(cx, rules=())) != _twin_key(replace(cy, rules=())):
                return (f"{label}: chain {cx.name} differs: type {cx.type} hook {cx.hook} "
                        f"priority {cx.priority} policy {cx.effective_policy} ({cx.origin}) / "
                        f"type {cy.type} hook {cy.hook} priority {cy.priority} policy "
                        f"{cy.effective_policy} ({cy.origin})")
            for i, (rx, ry) in enumerate(zip(cx.rules, cy.rules), 1):
                if _twin_key(rx) != _twin_key(ry):
                    return (f"{label}: chain {cx.name} rule {i} differs: '{rx.text}' ({rx.origin}) / "
                            f"'{ry.text}' ({ry.origin})")
            if len(cx.rules) != len(cy.rules):
                return (f"{label}: chain {cx.name} has {len(cx.rules)} rules in the text, "
                        f"{len(cy.rules)} in the JSON ({cx.origin} / {cy.origin})")
        for what, xs, ys in (("chain", x.chains, y.chains), ("set", x.sets, y.sets),
                             ("map", x.maps, y.maps), ("flowtable", x.flowtables, y.flowtables),
                             ("object", x.objects, y.objects)):
            found = _first_mismatch(label, xs, ys, what)
            if found:
                return found
        return f"{label} differs (flags or comment: {x.origin} / {y.origin})"
    return "the tables differ in order"
