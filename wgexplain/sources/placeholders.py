"""Addresses the poster hid, read as *unknown addresses*.

People hide their public addresses before posting: ``198.51.100.XY``,
``x.x.x.x:51820``, ``[REDACTED]/24``, ``fd00::x:xxxx``, ``<redacted> via
10.0.0.1 dev eth8``, ``ip saddr redacted``, ``***``, ``a.b.c.d``. The line
stays: each placeholder is replaced by a *stand-in* address, recorded as a
:class:`~wgexplain.model.Redacted` (where, what was pasted, what was read
instead) in ``Host.redacted``.

A stand-in comes from a range no real configuration uses, one per
placeholder, so that nothing matches a hidden address by accident and two
hidden addresses never look equal: IPv4 ``240.0.0.0/4`` (reserved, RFC 1112
"class E"), IPv6 ``100::/64`` (discard-only, RFC 6666). A prefix length
typed after the placeholder is kept (``[REDACTED]/24`` -> ``240.0.1.0/24``
as a route destination). Where the hidden part lies wholly in the host bits
of a route destination (``198.51.100.XY/24``) the network is known and is
read as it is (``198.51.100.0/24``), still recorded.

:func:`is_stand_in` says whether an address or network read from a paste is
one of these stand-ins.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

UNKNOWN_V4 = ipaddress.IPv4Network("240.0.0.0/4")
UNKNOWN_V6 = ipaddress.IPv6Network("100::/64")

_OCT = r"(?:\d{1,3}|[xX]{1,3}|XY|xy|[*]{1,3}|[a-dA-D]|[nN]{1,3}|[?]{1,3})"
# 198.51.100.XY, x.x.x.x, 10.0.*.*, a.b.c.d, xxx.xxx.xxx.xxx: an IPv4 shape with a hidden octet
_V4 = re.compile(r"(?<![\w.:])(" + _OCT + r"(?:\." + _OCT + r"){3})(/\d{1,2})?(?::(\d+|[xX]+))?"
                 r"(?![\w.])")
# fd00::x:xxxx, 2a02:xxxx:xxxx::/64, xxxx:xxxx:... (hex groups, some with x's)
_V6 = re.compile(r"(?<![\w.:\[])((?:[0-9a-fA-FxX]{0,4}:){2,7}[0-9a-fA-FxX]{0,4})(/\d{1,3})?"
                 r"(?![\w.:])")
# [REDACTED], <redacted>, REDACTED, redacted, <hidden>, <ip>, <public ip>, ***, XXX
_WORD = re.compile(r"(?<![\w\-])(\[(?:REDACTED|redacted|Redacted|hidden|HIDDEN|removed|"
                   r"REMOVED|ip|IP|my ip|public ip)\]|<(?:redacted|REDACTED|Redacted|hidden|"
                   r"HIDDEN|ip|IP|my[ -]ip|public[ -]ip|public_ip|server[ -]ip|endpoint|"
                   r"removed)>|REDACTED|[Rr]edacted|\*{3,}|X{3,}|x{3,})(/\d{1,3})?"
                   r"(?::(\d+|[xX]+))?(?![\w])")


# a word where an address belongs: "via <server ip>", "via masked_server_ip", "from MY_IP"
_CTX_TOK = (r"(<[^<>\n]{1,40}>|\[[^\[\]\n]{1,40}\]|[A-Za-z_][\w.\-]*)(/\d{1,3})?"
            r"(?::(\d+))?(?![\w])")
_CTX = re.compile(r"\b(?:via|src|from|to|peer|brd|inet|inet6|saddr|daddr|endpoint:)\s+(?="
                  + _CTX_TOK + ")")
_CTX_ONE = re.compile(_CTX_TOK)
_NOT_PLACEHOLDER = frozenset({"all", "default", "any", "inet", "inet6", "dev", "lookup", "table",
                              "fwmark", "iif", "oif", "not", "unicast", "local", "scope", "proto",
                              "metric", "link", "host", "global", "ip", "ip6", "tcp", "udp",
                              "th", "meta", "ct", "fib", "saddr", "daddr", "nexthop", "mark",
                              "uidrange", "ipproto", "sport", "dport", "tos", "pref", "priority",
                              "type", "set", "map", "vmap", "counter", "accept", "drop"})


def _ctx_placeholder(word: str) -> bool:
    if word.lower() in _NOT_PLACEHOLDER or word.startswith("@") or word.startswith("$"):
        return False
    if word.startswith("<") or word.startswith("["):
        return not re.fullmatch(r"<[A-Z0-9_,\-]*>", word) and ":" not in word.strip("[]") and \
            not re.fullmatch(r"\[[\d.]+\]", word)
    low = word.lower()
    return any(k in low for k in ("ip", "addr", "server", "mask", "redact", "hidden", "your",
                                  "public", "remote", "peer", "endpoint", "xxx", "removed",
                                  "gateway", "gw"))


def is_stand_in(value: Any) -> bool:
    """True when an address/network/interface read from a paste is a hidden one's stand-in."""
    try:
        if isinstance(value, str):
            value = ipaddress.ip_interface(value)
        if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
            value = value.ip
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            net = UNKNOWN_V4 if value.version == 4 else UNKNOWN_V6
            return value.subnet_of(net) if value.prefixlen >= net.prefixlen else False  # type: ignore[arg-type]
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return value in (UNKNOWN_V4 if value.version == 4 else UNKNOWN_V6)
    except ValueError:
        return False
    return False


def _real_v4(text: str) -> bool:
    return all(p.isdigit() and int(p) <= 255 for p in text.split("."))


def _hex_groups(text: str) -> bool:
    """An IPv6 shape with a hidden group (some x's, the rest hex)."""
    if "x" not in text.lower() or text.count(":") < 2:
        return False
    groups = text.split(":")
    return all(re.fullmatch(r"[0-9a-fA-FxX]{0,4}", g) for g in groups) and \
        any(re.search(r"[0-9a-fA-F]", g) or "x" in g.lower() for g in groups)


class StandIns:
    """Hands out stand-ins, one per placeholder, and remembers each (line, text, stand-in)."""

    def __init__(self) -> None:
        self.n4 = 0
        self.n6 = 0
        self.found: list[tuple[int, str, str]] = []  # (0-based line, pasted, stand-in)

    def _v4(self, plen: int | None, network: bool) -> str:
        self.n4 += 1
        k = self.n4
        if plen is None:
            return str(ipaddress.IPv4Address(0xF0000000 | (k & 0x0FFFFFFF)))
        if network:
            shift = 32 - plen
            value = 0xF0000000 | ((k << shift) & 0x0FFFFFFF) if shift < 32 else 0xF0000000
            mask = (0xFFFFFFFF << shift) & 0xFFFFFFFF
            return f"{ipaddress.IPv4Address(value & mask)}/{plen}"
        shift = max(0, 32 - plen)
        value = 0xF0000000 | (((k << shift) | 1) & 0x0FFFFFFF) if shift else 0xF0000000 | k
        return f"{ipaddress.IPv4Address(value)}/{plen}"

    def _v6(self, plen: int | None, network: bool) -> str:
        self.n6 += 1
        k = self.n6
        base = int(UNKNOWN_V6.network_address)
        if plen is None:
            return str(ipaddress.IPv6Address(base | k))
        if network and plen >= 64:
            shift = 128 - plen
            value = base | ((k << shift) & ((1 << 64) - 1))
            return f"{ipaddress.IPv6Address(value)}/{plen}"
        if network:
            return f"{ipaddress.IPv6Address(base)}/64"
        return f"{ipaddress.IPv6Address(base | k)}/{plen}"

    def probe(self, line: str) -> str:
        """``line`` with placeholders read as addresses, to tell its shape (nothing recorded)."""
        if not _maybe(line):
            return line
        out: list[str] = []
        pos = 0
        for s, e, kind in _all(line):
            text = line[s:e]
            suffix = ""
            m = re.search(r"(/\d{1,3})?(:\d+)?$", text) if kind != "v6" else None
            if m is not None and m.group(0):
                suffix = m.group(0)
            out.append(line[pos:s])
            out.append(("100::" if kind == "v6" else "240.0.0.0") + (suffix if kind != "v6" else
                                                                     ""))
            pos = e
        out.append(line[pos:])
        return "".join(out)

    def replace(self, line: str, index: int, *, v6: bool = False, dst_first: bool = False) -> str:
        """``line`` with every placeholder replaced by a fresh stand-in.

        ``v6``: a bare word placeholder (``[REDACTED]``) stands for an IPv6
        address. ``dst_first``: the first word is a route destination (a
        network, not a host address).
        """
        if not _maybe(line):
            return line
        first = len(line) - len(line.lstrip())
        first_end = line.find(" ", first)
        if first_end < 0:
            first_end = len(line)
        # a route type first: the destination is the second word
        head = line[first:first_end]
        if dst_first and head in _ROUTE_TYPES:
            first = first_end + 1
            first_end = line.find(" ", first)
            if first_end < 0:
                first_end = len(line)
        out: list[str] = []
        pos = 0
        for m in _all(line):
            s, e, kind = m
            text = line[s:e]
            is_dst = dst_first and s == first
            stand = self._stand(text, kind, v6, is_dst)
            if stand is None:
                continue
            out.append(line[pos:s])
            out.append(stand)
            pos = e
            self.found.append((index, text, stand))
        if not out:
            return line
        out.append(line[pos:])
        return "".join(out)

    def _stand(self, text: str, kind: str, v6: bool, is_dst: bool) -> str | None:
        port = ""
        if kind == "v4":
            m = _V4.fullmatch(text)
            assert m is not None
            addr, plen_s, port_s = m.group(1), m.group(2), m.group(3)
            if _real_v4(addr):
                return None
            plen = int(plen_s[1:]) if plen_s else None
            if plen is not None and plen > 32:
                return None
            if port_s is not None:
                port = ":" + (port_s if port_s.isdigit() else "0")
            octs = addr.split(".")
            known = 0
            for o in octs:
                if not (o.isdigit() and int(o) <= 255):
                    break
                known += 1
            if is_dst and plen is not None and plen <= 8 * known:
                value = int(ipaddress.IPv4Address(".".join(octs[:known] + ["0"] * (4 - known))))
                return f"{ipaddress.IPv4Network((value, plen), strict=False)}{port}"
            return self._v4(plen, is_dst) + port
        if kind == "v6":
            m = _V6.fullmatch(text)
            assert m is not None
            if not _hex_groups(m.group(1)):
                return None
            plen = int(m.group(2)[1:]) if m.group(2) else None
            if plen is not None and plen > 128:
                return None
            return self._v6(plen, is_dst)
        m = _WORD.fullmatch(text) if kind == "word" else _CTX_ONE.fullmatch(text)
        assert m is not None
        plen = int(m.group(2)[1:]) if m.group(2) else None
        if m.group(3) is not None:
            port = ":" + (m.group(3) if m.group(3).isdigit() else "0")
        if v6:
            if plen is not None and plen > 128:
                return None
            stand = self._v6(plen, is_dst)
            return f"[{stand}]{port}" if port else stand
        if plen is not None and plen > 32:
            return self._v6(plen, is_dst) if plen <= 128 else None
        return self._v4(plen, is_dst) + port


_ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
                          "unreachable", "prohibit", "throw", "nat", "xresolve"})

_CHEAP = re.compile(r"[xX*<\[?]")


def _maybe(line: str) -> bool:
    """A cheap first look: could ``line`` hold a placeholder at all?"""
    return (_CHEAP.search(line) is not None or "edact" in line or "EDACT" in line
            or "idden" in line or "IDDEN" in line or "emoved" in line or "EMOVED" in line
            or "a.b.c.d" in line or "A.B.C.D" in line or "n.n.n" in line or "ip" in line
            or "IP" in line or "Ip" in line or "erver" in line or "ERVER" in line
            or "mask" in line or "MASK" in line or "our" in line or "OUR" in line
            or "ublic" in line or "UBLIC" in line or "gw" in line or "GW" in line
            or "ateway" in line or "ATEWAY" in line or "ddr" in line or "DDR" in line)


def _all(line: str) -> list[tuple[int, int, str]]:
    """Placeholder spans (start, end, kind), left to right, not overlapping."""
    spans: list[tuple[int, int, str]] = []
    for rx, kind in ((_V4, "v4"), (_V6, "v6"), (_WORD, "word"), (_CTX, "ctx")):
        for m in rx.finditer(line):
            if kind == "ctx":
                if not _ctx_placeholder(m.group(1)):
                    continue
                one = _CTX_ONE.match(line, m.end())
                if one is None:
                    continue
                m = one
            s, e = m.span()
            if any(s < e2 and s2 < e for s2, e2, _k in spans):
                continue
            if kind == "v4" and _real_v4(m.group(1)):
                continue
            if kind == "v6" and not _hex_groups(m.group(1)):
                continue
            if kind == "word" and m.group(1) in ("xxx", "XXX") and len(line.split()) < 2:
                continue
            spans.append((s, e, kind))
    spans.sort()
    return spans
