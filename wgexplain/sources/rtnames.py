"""Names iproute2 prints for numbers: tables, protocols, scopes, dsfield, groups.

The twin of iproute2's ``lib/rt_names.c`` (``rtnl_rttable_a2n()``,
``rtnl_rtprot_n2a()``, ``rtnl_dsfield_a2n()``, ``rtnl_group_a2n()``) with the
default ``/etc/iproute2`` files of iproute2 6.1 built in, and of
``inet_proto_a2n()`` (lib/utils.c) with the standard ``/etc/protocols``
names. We never read the files of the machine we run on: the dump comes from
another machine, so a name we do not know is an error (or comes from an
``rt_tables`` mapping the user gives), never a guess.
"""

from __future__ import annotations

from wgexplain.model import TABLE_NAMES

#: /etc/iproute2/rt_tables (iproute2 6.1): name -> id
DEFAULT_TABLES: dict[str, int] = {"unspec": 0, **{v: k for k, v in TABLE_NAMES.items()}}

#: /etc/iproute2/rt_scopes: name -> number
SCOPES: dict[str, int] = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254,
                          "nowhere": 255}
SCOPE_NAMES: dict[int, str] = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

#: /etc/iproute2/rt_dsfield: name -> value
DSFIELD: dict[str, int] = {
    "default": 0x0, "AF11": 0x28, "AF12": 0x30, "AF13": 0x38, "AF21": 0x48, "AF22": 0x50,
    "AF23": 0x58, "AF31": 0x68, "AF32": 0x70, "AF33": 0x78, "AF41": 0x88, "AF42": 0x90,
    "AF43": 0x98, "CS1": 0x20, "CS2": 0x40, "CS3": 0x60, "CS4": 0x80, "CS5": 0xA0,
    "CS6": 0xC0, "CS7": 0xE0, "EF": 0xB8,
}

#: /etc/iproute2/group
GROUPS: dict[str, int] = {"default": 0}

#: /etc/protocols (netbase), as ``inet_proto_n2a()`` prints them
IPPROTO: dict[str, int] = {
    "ip": 0, "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "st": 5, "tcp": 6,
    "egp": 8, "igp": 9, "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27,
    "iso-tp4": 29, "dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6": 41,
    "ipv6-route": 43, "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47, "esp": 50,
    "ah": 51, "skip": 57, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
    "rspf": 73, "vmtp": 81, "eigrp": 88, "ospf": 89, "ax.25": 93, "ipip": 94, "etherip": 97,
    "encap": 98, "pim": 103, "ipcomp": 108, "vrrp": 112, "l2tp": 115, "isis": 124,
    "sctp": 132, "fc": 133, "mobility-header": 135, "udplite": 136, "mpls-in-ip": 137,
    "manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142, "ethernet": 143,
}


U32 = 0xFFFFFFFF
S32 = (-(1 << 31), (1 << 31) - 1)
_HEX = frozenset("0123456789abcdefABCDEF")


def dec(text: str, lo: int = 0, hi: int = U32) -> int | None:
    """A decimal number of ASCII digits (``-`` first when ``lo`` < 0) in ``lo..hi``, else None.

    What ``strtoul()``/``strtol()`` with the range check of iproute2's ``get_u32()``,
    ``get_s32()``... accept: ``str.isdigit()`` alone would take ``²`` or ``①``, which
    ``int()`` then refuses, and ``int()`` reads Arabic-Indic digits iproute2 never prints.
    """
    body = text[1:] if lo < 0 and text[:1] == "-" else text
    if not body or len(body) > 40 or not body.isascii() or not body.isdigit():
        return None
    v = int(text)
    return v if lo <= v <= hi else None


def parse_int(text: str, hi: int | None = None) -> int | None:
    """An unsigned number as ``get_unsigned()`` reads it (decimal, 0x hex, 0 octal).

    ASCII digits only, at most 40 of them (``hi``: also at most this value).
    """
    if not text.isascii() or len(text) > 42:
        return None
    if text.startswith(("0x", "0X")):
        digits = text[2:]
        if not digits or not all(c in _HEX for c in digits):
            return None
        v = int(digits, 16)
    elif not text.isdigit():
        return None
    elif len(text) > 1 and text.startswith("0"):
        if any(c in "89" for c in text):
            return None
        v = int(text, 8)
    else:
        v = int(text)
    return v if hi is None or v <= hi else None


def table_id(name: str, names: dict[str, int] | None = None) -> int | None:
    """``rtnl_rttable_a2n()``: a table name or number -> its id, None if unknown."""
    if names and name in names:
        return names[name]
    if name in DEFAULT_TABLES:
        return DEFAULT_TABLES[name]
    n = parse_int(name)
    if n is not None and 0 <= n <= 0xFFFFFFFF:
        return n
    return None


def dsfield(text: str) -> int | None:
    """``rtnl_dsfield_a2n()``: ``0x10``, ``16`` or a name like ``AF11``."""
    if text in DSFIELD:
        return DSFIELD[text]
    if text.isascii() and text.isdigit() and len(text) <= 4:  # iproute2 reads tos as hex
        n: int | None = int(text, 16)
    else:
        n = parse_int(text)
    if n is not None and 0 <= n <= 255:
        return n
    return None


def ipproto(text: str) -> int | None:
    """``inet_proto_a2n()``: ``tcp``, ``udp``, ``gre``... or a number."""
    if text in IPPROTO:
        return IPPROTO[text]
    n = parse_int(text)
    if n is not None and 0 <= n <= 255:
        return n
    return None


def group(text: str) -> int | None:
    """``rtnl_group_a2n()``: ``default`` or a number."""
    if text in GROUPS:
        return GROUPS[text]
    n = parse_int(text)
    if n is not None and 0 <= n <= 0xFFFFFFFF:
        return n
    return None


def parse_rt_tables(text: str) -> dict[str, int]:
    """Read an ``/etc/iproute2/rt_tables`` style mapping (``ID NAME`` lines)."""
    out: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) >= 2:
            n = parse_int(parts[0])
            if n is not None:
                out[parts[1]] = n
    return out
