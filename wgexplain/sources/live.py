"""Capture the running kernel into a bundle, read-only.

``wgexplain capture DIR`` asks the kernel over rtnetlink (pyroute2) for its
links, addresses, rules and routes, both families and every table, and
writes them as the JSON that iproute2 6.1 prints (``ip -j``), so one reader
handles a capture and a user's own ``ip -j`` output alike. Each ``*_json``
function below is the twin of one iproute2 print function:
``print_rule()`` (ip/iprule.c), ``print_route()`` (ip/iproute.c),
``print_linkinfo()`` and ``print_addrinfo()`` (ip/ipaddress.c), with the
same keys, key order and value formats.

Two deliberate differences from running ``ip -j`` on the machine: names for
numbers (tables, protocols, dsfield, groups, IP protocols) come from
iproute2's *default* name files, never this machine's ``/etc/iproute2``
(the reader does the same: a bundle must read the same anywhere, so a
custom ``rt_tables`` name stays a number); and ``ip-link.json`` also carries
``"linkinfo": {"info_kind": ...}`` as ``ip -d -j link`` prints it, so the
reader knows a ``veth`` from a ``tun`` or ``wireguard`` device.

Besides rtnetlink: ``nft -j list ruleset`` (needs CAP_NET_ADMIN),
``wg show all dump`` and the routing sysctls read from ``/proc/sys``. Every
step only reads; ``tests/test_capture.py`` proves that the namespace's
``ip -j`` and ``nft -j`` output is byte-identical before and after.

Rtnetlink traps handled here (see /work/shared/TOOLCHAIN.md): a table id
above 255 reads 252 (``RT_TABLE_COMPAT``) in the header, the real id is in
``FRA_TABLE``/``RTA_TABLE``; the pref-0 rule has no ``FRA_PRIORITY``; a rule
dump also returns the multicast families 128/129; ``not`` is
``flags & FIB_RULE_INVERT``; ``FRA_SUPPRESS_PREFIXLEN`` 0xffffffff is unset.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from wgexplain.errors import UsageError, WgExplainError
from wgexplain.model import AF_INET, AF_INET6, Host
from wgexplain.sources import rtnames

__all__ = [
    "CaptureError", "CaptureReport", "capture", "capture_host", "load_live",
    "rule_json", "route_json", "link_json", "addr_json", "read_sysctls", "format_sysctls",
    "BUNDLE_FILES",
]

#: The files a capture writes (DESIGN.md bundle layout).
BUNDLE_FILES = ("ip-rule.json", "ip6-rule.json", "ip-route.json", "ip6-route.json",
                "ip-addr.json", "ip-link.json", "nft-ruleset.json", "wg.txt", "sysctl.txt",
                "kernel.json")


#: Bundle files a capture does not write (the text forms): left alone, but mentioned.
_OTHER_BUNDLE_FILES = ("ip-rule.txt", "ip6-rule.txt", "ip-route.txt", "ip6-route.txt",
                       "ip-addr.txt", "ip-link.txt", "nft-ruleset.nft")


class CaptureError(WgExplainError):
    """The kernel could not be read at all (no such namespace, no rtnetlink)."""


@dataclass(slots=True)
class CaptureReport:
    """What a capture wrote and what it could not read (``notes``)."""

    directory: Path
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------
# names for numbers, iproute2 6.1 defaults (lib/rt_names.c, ip/rtm_map.c)

_TABLE_NAMES = {v: k for k, v in rtnames.DEFAULT_TABLES.items()}
_RTPROT = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated",
           9: "ra", 10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp",
           15: "ntk", 16: "dhcp", 18: "keepalived", 42: "babel", 99: "openr", 186: "bgp",
           187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}
_RTN = ("none", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
        "unreachable", "prohibit", "throw", "nat", "xresolve")
_DSFIELD_NAMES = {v: k for k, v in reversed(list(rtnames.DSFIELD.items()))}
_GROUP_NAMES = {v: k for k, v in rtnames.GROUPS.items()}
_IPPROTO_NAMES: dict[int, str] = {}
for _name, _num in rtnames.IPPROTO.items():
    _IPPROTO_NAMES.setdefault(_num, _name)
_ARPHRD = {0: "netrom", 1: "ether", 2: "eether", 3: "ax25", 4: "pronet", 5: "chaos",
           6: "ieee802", 7: "arcnet", 8: "atalk", 15: "dlci", 19: "atm", 23: "metricom",
           24: "ieee1394", 32: "infiniband", 256: "slip", 257: "cslip", 258: "slip6",
           259: "cslip6", 260: "rsrvd", 264: "adapt", 270: "rose", 271: "x25",
           272: "hwx25", 280: "can", 512: "ppp", 513: "hdlc", 516: "lapb", 517: "ddcmp",
           518: "rawhdlc", 768: "ipip", 769: "tunnel6", 770: "frad", 771: "skip",
           772: "loopback", 773: "ltalk", 774: "fddi", 775: "bif", 776: "sit",
           777: "ip/ddp", 778: "gre", 779: "pimreg", 780: "hippi", 781: "ash",
           782: "econet", 783: "irda", 800: "tr", 801: "ieee802.11",
           802: "ieee802.11/prism", 803: "ieee802.11/radiotap", 804: "ieee802.15.4",
           805: "ieee802.15.4/monitor", 820: "phonet", 821: "phonet_pipe", 822: "caif",
           823: "gre6", 824: "netlink", 825: "6lowpan", 65534: "none", 65535: "void"}
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
_IFF = [(0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
        (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"),
        (0x800, "SLAVE"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"),
        (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"),
        (0x20000, "DORMANT"), (0x40000, "ECHO")]
_IFF_UP, _IFF_RUNNING = 0x1, 0x40
#: print_ifa_flags(): (name, mask); IFA_F_SECONDARY is "temporary" for IPv6
_IFA_FLAGS = [("secondary", 0x01), ("temporary", 0x01), ("nodad", 0x02),
              ("optimistic", 0x04), ("dadfailed", 0x08), ("home", 0x10),
              ("deprecated", 0x20), ("tentative", 0x40), ("permanent", 0x80),
              ("mngtmpaddr", 0x100), ("noprefixroute", 0x200), ("autojoin", 0x400),
              ("stable-privacy", 0x800)]
#: print_rt_flags()
_RTNH_FLAGS = [(0x1, "dead"), (0x4, "onlink"), (0x2, "pervasive"), (0x8, "offload"),
               (0x40, "trap"), (0x100, "notify"), (0x10, "linkdown"), (0x20, "unresolved"),
               (0x2000, "rt_offload"), (0x4000, "rt_trap"), (0x20000, "rt_offload_failed")]
_RTM_F_CLONED = 0x200
_RTAX_NAMES = {"RTAX_MTU": "mtu", "RTAX_WINDOW": "window", "RTAX_RTT": "rtt",
               "RTAX_RTTVAR": "rttvar", "RTAX_SSTHRESH": "ssthresh", "RTAX_CWND": "cwnd",
               "RTAX_ADVMSS": "advmss", "RTAX_REORDERING": "reordering",
               "RTAX_HOPLIMIT": "hoplimit", "RTAX_INITCWND": "initcwnd",
               "RTAX_FEATURES": "features", "RTAX_RTO_MIN": "rto_min",
               "RTAX_INITRWND": "initrwnd", "RTAX_QUICKACK": "quickack",
               "RTAX_CC_ALGO": "congctl", "RTAX_FASTOPEN_NO_COOKIE": "fastopen_no_cookie"}
_RTAX_ORDER = list(_RTAX_NAMES)
_USER_HZ = 100


def _0xhex(value: int) -> str:
    """C's ``%#llx`` (``print_0xhex()``): ``0x10``, but plain ``0`` for zero."""
    return "0x%x" % value if value else "0"


def _table_name(table: int) -> str:
    """``rtnl_rttable_n2a()`` with the default rt_tables."""
    return _TABLE_NAMES.get(table, str(table))


def _rtntype(n: int) -> str:
    """``rtnl_rtntype_n2a()`` (ip/rtm_map.c)."""
    return _RTN[n] if 0 <= n < len(_RTN) else str(n)


def _dsfield(n: int) -> str:
    """``rtnl_dsfield_n2a()``: a default rt_dsfield name or ``0x%02x``."""
    return _DSFIELD_NAMES.get(n, "0x%02x" % n)


def _scope(n: int) -> str:
    """``rtnl_rtscope_n2a()``."""
    return rtnames.SCOPE_NAMES.get(n, str(n))


def _rtprot(n: int) -> str:
    """``rtnl_rtprot_n2a()`` with the default rt_protos."""
    return _RTPROT.get(n, str(n))


def _group(n: int) -> str:
    """``rtnl_group_n2a()`` with the default group file."""
    return _GROUP_NAMES.get(n, str(n))


def _ipproto(n: int) -> str:
    """``inet_proto_n2a()`` with the netbase ``/etc/protocols``."""
    return _IPPROTO_NAMES.get(n, f"ipproto-{n}")


def _attrs(msg: Any) -> dict[str, Any]:
    """A pyroute2 message's attributes by name (first occurrence wins)."""
    out: dict[str, Any] = {}
    for item in msg.get("attrs", ()):
        name, value = item[0], item[1]
        if name not in out:
            out[name] = value
    return out


def _nested(value: Any) -> dict[str, Any]:
    """Attributes of a nested pyroute2 attribute (``{'attrs': [...]}``)."""
    if isinstance(value, Mapping) or hasattr(value, "get"):
        return _attrs(value)
    return {}


def _range(value: Any) -> tuple[int, int]:
    """pyroute2 decodes ``FRA_UID_RANGE``/``FRA_*PORT_RANGE`` as ``'a:b'`` (or a dict)."""
    if isinstance(value, str):
        a, _, b = value.partition(":")
        return int(a), int(b or a)
    if isinstance(value, Mapping):
        return int(value["start"]), int(value["end"])
    return int(value[0]), int(value[1])


def _host_len(family: int) -> int:
    return 32 if family == AF_INET else 128


# --------------------------------------------------------------------------
# the iproute2 print functions


def rule_json(msg: Any) -> dict[str, Any] | None:
    """One rule as ``ip -j rule`` prints it: the twin of ``print_rule()`` (ip/iprule.c).

    Returns None for a message that is not an IPv4/IPv6 rule (the multicast
    families 128/129 that ``get_rules()`` also returns).
    """
    family = msg["family"]
    if family not in (AF_INET, AF_INET6):
        return None
    tb = _attrs(msg)
    host_len = _host_len(family)
    out: dict[str, Any] = {"priority": int(tb.get("FRA_PRIORITY", 0))}
    flags = msg.get("flags", 0)
    if flags & 0x2:  # FIB_RULE_INVERT
        out["not"] = None
    src_len, dst_len = msg["src_len"], msg["dst_len"]
    if "FRA_SRC" in tb:
        out["src"] = tb["FRA_SRC"]
        if src_len != host_len:
            out["srclen"] = src_len
    elif src_len:
        out["src"] = "0"
        out["srclen"] = src_len
    else:
        out["src"] = "all"
    if "FRA_DST" in tb:
        out["dst"] = tb["FRA_DST"]
        if dst_len != host_len:
            out["dstlen"] = dst_len
    elif dst_len:
        out["dst"] = "0"
        out["dstlen"] = dst_len
    if msg.get("tos"):
        out["tos"] = _dsfield(msg["tos"])
    if "FRA_FWMARK" in tb or "FRA_FWMASK" in tb:
        mark = int(tb.get("FRA_FWMARK", 0))
        mask = tb.get("FRA_FWMASK")
        out["fwmark"] = _0xhex(mark)
        if mask is not None and int(mask) != 0xFFFFFFFF:
            out["fwmask"] = _0xhex(int(mask))
    if "FRA_IIFNAME" in tb:
        out["iif"] = tb["FRA_IIFNAME"]
        if flags & 0x8:  # FIB_RULE_IIF_DETACHED
            out["iif_detached"] = None
    if "FRA_OIFNAME" in tb:
        out["oif"] = tb["FRA_OIFNAME"]
        if flags & 0x10:  # FIB_RULE_OIF_DETACHED
            out["oif_detached"] = None
    if tb.get("FRA_L3MDEV"):
        out["l3mdev"] = None
    if "FRA_UID_RANGE" in tb:
        start, end = _range(tb["FRA_UID_RANGE"])
        out["uid_start"], out["uid_end"] = start, end
    if "FRA_IP_PROTO" in tb:
        out["ipproto"] = _ipproto(int(tb["FRA_IP_PROTO"]))
    for attr, key in (("FRA_SPORT_RANGE", "sport"), ("FRA_DPORT_RANGE", "dport")):
        if attr in tb:
            start, end = _range(tb[attr])
            if start == end:
                out[key] = start
            else:
                out[key + "_start"], out[key + "_end"] = start, end
    if "FRA_TUN_ID" in tb:
        out["tun_id"] = int(tb["FRA_TUN_ID"])
    table = int(tb.get("FRA_TABLE", msg.get("table", 0)))
    if table:
        out["table"] = _table_name(table)
        pl = tb.get("FRA_SUPPRESS_PREFIXLEN")
        if pl is not None and int(pl) != 0xFFFFFFFF:
            out["suppress_prefixlen"] = int(pl)
        group = tb.get("FRA_SUPPRESS_IFGROUP")
        if group is not None and int(group) != 0xFFFFFFFF:
            out["suppress_ifgroup"] = _group(int(group))
    if "FRA_FLOW" in tb:
        to = int(tb["FRA_FLOW"])
        frm, to = to >> 16, to & 0xFFFF
        if frm:
            out["flow_from"] = "cosmos" if frm == 0 else str(frm)
        out["flow_to"] = "cosmos" if to == 0 else str(to)
    action = msg.get("action", 1)
    if action == 10:  # RTN_NAT (obsolete)
        out["masquerade"] = None
    elif action == 2:  # FR_ACT_GOTO
        if "FRA_GOTO" in tb:
            out["goto"] = int(tb["FRA_GOTO"])
        else:
            out["goto"] = "none"
        if flags & 0x4:  # FIB_RULE_UNRESOLVED
            out["unresolved"] = None
    elif action == 3:  # FR_ACT_NOP
        out["nop"] = None
    elif action != 1:  # not FR_ACT_TO_TBL
        out["action"] = _rtntype(action)
    proto = tb.get("FRA_PROTOCOL")
    if proto is not None and int(proto) not in (0, 2):  # RTPROT_UNSPEC, RTPROT_KERNEL
        out["protocol"] = _rtprot(int(proto))
    return out


def _rt_flags(flags: int) -> list[str]:
    """``print_rt_flags()``."""
    return [name for bit, name in _RTNH_FLAGS if flags & bit]


def _ifname(index: int, names: Mapping[int, str]) -> str:
    """``ll_index_to_name()``: ``*`` for 0, ``if%u`` when unknown."""
    if index == 0:
        return "*"
    return names.get(index, f"if{index}")


def route_json(msg: Any, names: Mapping[int, str]) -> dict[str, Any] | None:
    """One route as ``ip -j route show table all`` prints it: ``print_route()`` (ip/iproute.c).

    ``names`` maps ifindex to device name. Returns None for cached clones
    (``RTM_F_CLONED``), which ``ip route show`` leaves out too.
    """
    family = msg["family"]
    if family not in (AF_INET, AF_INET6):
        return None
    flags = msg.get("flags", 0)
    if flags & _RTM_F_CLONED:
        return None
    tb = _attrs(msg)
    host_len = _host_len(family)
    out: dict[str, Any] = {}
    rtype = msg.get("type", 1)
    if rtype != 1:
        out["type"] = _rtntype(rtype)
    dst_len = msg["dst_len"]
    if "RTA_DST" in tb:
        out["dst"] = tb["RTA_DST"] if dst_len == host_len else f"{tb['RTA_DST']}/{dst_len}"
    elif dst_len:
        out["dst"] = f"0/{dst_len} "
    else:
        out["dst"] = "default"
    src_len = msg.get("src_len", 0)
    if "RTA_SRC" in tb:
        out["from"] = tb["RTA_SRC"] if src_len == host_len else f"{tb['RTA_SRC']}/{src_len}"
    elif src_len:
        out["src"] = f"0/{src_len}"
    if "RTA_NH_ID" in tb:
        out["nhid"] = int(tb["RTA_NH_ID"])
    if msg.get("tos"):
        out["tos"] = _dsfield(msg["tos"])
    if "RTA_GATEWAY" in tb:
        out["gateway"] = tb["RTA_GATEWAY"]
    if "RTA_VIA" in tb:
        via = tb["RTA_VIA"]
        via_family = via.get("family") if hasattr(via, "get") else None
        out["via"] = {"family": "inet6" if via_family == AF_INET6 else "inet",
                      "host": via.get("addr") if hasattr(via, "get") else str(via)}
    if "RTA_OIF" in tb:
        out["dev"] = _ifname(int(tb["RTA_OIF"]), names)
    table = int(tb.get("RTA_TABLE", msg.get("table", 0)))
    if table and table != 254:
        out["table"] = _table_name(table)
    proto = msg.get("proto", 0)
    if proto != 3:  # RTPROT_BOOT
        out["protocol"] = _rtprot(proto)
    scope = msg.get("scope", 0)
    if scope != 0:
        out["scope"] = _scope(scope)
    if "RTA_PREFSRC" in tb:
        out["prefsrc"] = tb["RTA_PREFSRC"]
    if "RTA_PRIORITY" in tb:
        out["metric"] = int(tb["RTA_PRIORITY"])
    out["flags"] = _rt_flags(flags)
    if tb.get("RTA_MARK"):
        out["mark"] = int(tb["RTA_MARK"])
    if "RTA_FLOW" in tb:
        to = int(tb["RTA_FLOW"])
        frm, to = to >> 16, to & 0xFFFF
        flow: dict[str, str] = {}
        if frm:
            flow["from"] = "cosmos" if frm == 0 else str(frm)
        flow["to"] = "cosmos" if to == 0 else str(to)
        out["flow"] = flow
    if "RTA_UID" in tb:
        out["uid"] = int(tb["RTA_UID"])
    ci = tb.get("RTA_CACHEINFO")
    if ci is not None and hasattr(ci, "get"):
        expires = int(ci.get("rta_expires", 0) or 0)
        error = int(ci.get("rta_error", 0) or 0)
        if expires:
            # rta_expires is in USER_HZ ticks, printed as a signed int / hz
            if expires >= 1 << 31:
                expires -= 1 << 32
            out["expires"] = int(expires / _USER_HZ)
        if error:
            out["error"] = error & 0xFFFFFFFF
        if ci.get("rta_id"):
            out["ipid"] = "0x%04x" % int(ci["rta_id"])
        if ci.get("rta_ts") or ci.get("rta_tsage"):
            out["ts"] = _0xhex(int(ci.get("rta_ts", 0)))
            out["tsage"] = int(ci.get("rta_tsage", 0))
    if "RTA_METRICS" in tb:
        mx = _nested(tb["RTA_METRICS"])
        lock = int(mx.get("RTAX_LOCK", 0) or 0)
        metrics: dict[str, Any] = {}
        for i, name in enumerate(_RTAX_ORDER, start=2):
            if name not in mx and not lock & (1 << i):
                continue
            value = mx.get(name)
            if name == "RTAX_CC_ALGO":
                metrics["congestion"] = str(value)
                continue
            val = int(value or 0)
            if name == "RTAX_HOPLIMIT" and val in (-1, 0xFFFFFFFF):
                continue
            if name == "RTAX_FEATURES":
                if val & 0x1:
                    metrics["ecn"] = None
                if val & ~0x1:
                    metrics["features"] = _0xhex(val)
                continue
            if name == "RTAX_RTT":
                val //= 8
            elif name == "RTAX_RTTVAR":
                val //= 4
            metrics[_RTAX_NAMES[name]] = val
        out["metrics"] = [metrics]
    if "RTA_IIF" in tb:
        out["iif"] = _ifname(int(tb["RTA_IIF"]), names)
    if "RTA_PREF" in tb:
        pref = int(tb["RTA_PREF"])
        out["pref"] = {0x3: "low", 0x0: "medium", 0x1: "high"}.get(pref, pref)
    if "RTA_TTL_PROPAGATE" in tb:
        out["ttl-propogate"] = bool(tb["RTA_TTL_PROPAGATE"])
    if "RTA_MULTIPATH" in tb:
        hops = []
        for nh in tb["RTA_MULTIPATH"]:
            nt = _attrs(nh)
            hop: dict[str, Any] = {}
            if "RTA_GATEWAY" in nt:
                hop["gateway"] = nt["RTA_GATEWAY"]
            if "RTA_FLOW" in nt:
                to = int(nt["RTA_FLOW"])
                hop["flow"] = {"to": "cosmos" if not to & 0xFFFF else str(to & 0xFFFF)}
            hop["dev"] = _ifname(int(nh.get("oif", 0)), names)
            hop["weight"] = int(nh.get("hops", 0)) + 1
            hop["flags"] = _rt_flags(int(nh.get("flags", 0)))
            hops.append(hop)
        out["nexthops"] = hops
    return out


def _link_flags(flags: int, m_down: bool) -> list[str]:
    """``print_link_flags()``."""
    out = []
    if flags & _IFF_UP and not flags & _IFF_RUNNING:
        out.append("NO-CARRIER")
    flags &= ~_IFF_RUNNING
    for bit, name in _IFF:
        if flags & bit:
            out.append(name)
            flags &= ~bit
    if flags:
        out.append("%x" % flags)
    if m_down:
        out.append("M-DOWN")
    return out


def _ll_addr(value: str, ifi_type: int) -> str:
    """``ll_addr_n2a()``: dotted/IPv6 notation for tunnel devices, else hex pairs."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) == 4 and ifi_type in (768, 776, 778):  # TUNNEL, SIT, IPGRE
        return ".".join(str(int(p, 16)) for p in parts)
    if len(parts) == 16 and ifi_type in (769, 823):  # TUNNEL6, IP6GRE
        import ipaddress

        return str(ipaddress.IPv6Address(bytes(int(p, 16) for p in parts)))
    return value


def link_json(msg: Any, links: Mapping[int, Any], *, do_link: bool,
              addresses: Iterable[Any] = ()) -> dict[str, Any]:
    """One device as ``ip -j link`` (``do_link``) or ``ip -j addr`` prints it.

    The twin of ``print_linkinfo()`` (ip/ipaddress.c) and, for ``ip addr``,
    ``print_selected_addrinfo()``. ``links`` maps ifindex to the link
    messages (for names and the master's/peer's state).
    """
    tb = _attrs(msg)
    index = msg["index"]
    out: dict[str, Any] = {"ifindex": index}
    m_down = False
    if "IFLA_LINK" in tb:
        iflink = int(tb["IFLA_LINK"])
        if iflink:
            if "IFLA_LINK_NETNSID" in tb:
                out["link_index"] = iflink
            else:
                peer = links.get(iflink)
                out["link"] = _attrs(peer).get("IFLA_IFNAME", f"if{iflink}") if peer else f"if{iflink}"
                m_down = bool(peer is not None and not peer["flags"] & _IFF_UP)
        else:
            out["link"] = None
    out["ifname"] = tb.get("IFLA_IFNAME", f"if{index}")
    out["flags"] = _link_flags(msg["flags"], m_down)
    if "IFLA_MTU" in tb:
        out["mtu"] = int(tb["IFLA_MTU"])
    xdp = _nested(tb.get("IFLA_XDP"))
    if xdp.get("IFLA_XDP_ATTACHED"):
        out["xdp"] = {"mode": int(xdp["IFLA_XDP_ATTACHED"])}
    if "IFLA_QDISC" in tb:
        out["qdisc"] = tb["IFLA_QDISC"]
    if "IFLA_MASTER" in tb:
        master = links.get(int(tb["IFLA_MASTER"]))
        out["master"] = (_attrs(master).get("IFLA_IFNAME") if master
                         else f"if{int(tb['IFLA_MASTER'])}")
    if "IFLA_OPERSTATE" in tb:
        state = tb["IFLA_OPERSTATE"]
        if isinstance(state, int):
            if state < len(_OPERSTATES):
                out["operstate"] = _OPERSTATES[state]
            else:
                out["operstate_index"] = state
        else:
            out["operstate"] = str(state).upper()
    if do_link and "IFLA_LINKMODE" in tb:
        mode = int(tb["IFLA_LINKMODE"])
        if mode < 2:
            out["linkmode"] = ("DEFAULT", "DORMANT")[mode]
        else:
            out["linkmode_index"] = mode
    if "IFLA_GROUP" in tb:
        out["group"] = _group(int(tb["IFLA_GROUP"]))
    if tb.get("IFLA_TXQLEN"):
        out["txqlen"] = int(tb["IFLA_TXQLEN"])
    if tb.get("IFLA_EVENT"):
        events = ("NONE", "REBOOT", "FEATURE CHANGE", "BONDING FAILOVER", "NOTIFY PEERS",
                  "RESEND IGMP", "BONDING OPTION")
        ev = int(tb["IFLA_EVENT"])
        out["event"] = events[ev] if ev < len(events) else ev
    ifi_type = int(msg.get("ifi_type", 0))
    out["link_type"] = _ARPHRD.get(ifi_type, f"[{ifi_type}]")
    if "IFLA_ADDRESS" in tb:
        out["address"] = _ll_addr(tb["IFLA_ADDRESS"], ifi_type)
    if "IFLA_BROADCAST" in tb:
        if msg["flags"] & 0x10:  # IFF_POINTOPOINT
            out["link_pointtopoint"] = True
        out["broadcast"] = _ll_addr(tb["IFLA_BROADCAST"], ifi_type)
    if "IFLA_PERM_ADDRESS" in tb and tb["IFLA_PERM_ADDRESS"] != tb.get("IFLA_ADDRESS"):
        out["permaddr"] = _ll_addr(tb["IFLA_PERM_ADDRESS"], ifi_type)
    if "IFLA_LINK_NETNSID" in tb:
        nsid = int(tb["IFLA_LINK_NETNSID"])
        out["link_netnsid"] = nsid - (1 << 32) if nsid >= 1 << 31 else nsid
    if tb.get("IFLA_PROTO_DOWN"):
        out["proto_down"] = True
    if do_link and tb.get("IFLA_IFALIAS"):
        out["ifalias"] = tb["IFLA_IFALIAS"]
    props = tb.get("IFLA_PROP_LIST")
    if props is not None:
        out["altnames"] = [v for k, v in (_nested_items(props)) if k == "IFLA_ALT_IFNAME"]
    if do_link:
        kind = _nested(tb.get("IFLA_LINKINFO")).get("IFLA_INFO_KIND")
        if kind:
            out["linkinfo"] = {"info_kind": kind}
    else:
        out["addr_info"] = [addr_json(a) for a in addresses]
    return out


def _nested_items(value: Any) -> list[tuple[str, Any]]:
    return [(item[0], item[1]) for item in (value.get("attrs", ()) if hasattr(value, "get") else ())]


def addr_json(msg: Any) -> dict[str, Any]:
    """One address as ``ip -j addr`` prints it in ``addr_info``: ``print_addrinfo()``."""
    tb = _attrs(msg)
    family = msg["family"]
    flags = int(tb.get("IFA_FLAGS", msg.get("flags", 0)))
    local = tb.get("IFA_LOCAL", tb.get("IFA_ADDRESS"))
    address = tb.get("IFA_ADDRESS", local)
    out: dict[str, Any] = {}
    if family in (AF_INET, AF_INET6):
        out["family"] = "inet" if family == AF_INET else "inet6"
    else:
        out["family_index"] = family
    if local is not None:
        out["local"] = local
        if address is not None and address != local:
            out["address"] = address
        out["prefixlen"] = msg["prefixlen"]
        if "IFA_RT_PRIORITY" in tb:
            out["metric"] = int(tb["IFA_RT_PRIORITY"])
    if "IFA_BROADCAST" in tb:
        out["broadcast"] = tb["IFA_BROADCAST"]
    if "IFA_ANYCAST" in tb:
        out["anycast"] = tb["IFA_ANYCAST"]
    out["scope"] = _scope(msg.get("scope", 0))
    rest = flags
    for name, mask in _IFA_FLAGS:
        if mask == 0x80:
            if not rest & mask:
                out["dynamic"] = True
        elif rest & mask:
            if mask == 0x01 and family == AF_INET6:
                out["temporary"] = True
            else:
                out[name] = True
        rest &= ~mask
    if rest:
        out["ifa_flags"] = "%02x" % rest
    if "IFA_LABEL" in tb:
        out["label"] = tb["IFA_LABEL"]
    ci = tb.get("IFA_CACHEINFO")
    if ci is not None and hasattr(ci, "get"):
        valid = int(ci.get("ifa_valid", 0))
        preferred = int(ci.get("ifa_preferred", ci.get("ifa_prefered", 0)))
        out["valid_life_time"] = valid
        if preferred != 0xFFFFFFFF and flags & 0x20 and preferred >= 1 << 31:
            preferred -= 1 << 32  # printed signed when deprecated
        out["preferred_life_time"] = preferred
    return out


# --------------------------------------------------------------------------
# sysctls

#: The sysctls that decide routing and filtering (``key`` patterns, ``*`` = every device).
SYSCTL_PATTERNS = (
    "net.ipv4.ip_forward",
    "net.ipv4.fwmark_reflect",
    "net.ipv4.ip_nonlocal_bind",
    "net.ipv4.tcp_fwmark_accept",
    "net.ipv4.conf.*.rp_filter",
    "net.ipv4.conf.*.src_valid_mark",
    "net.ipv4.conf.*.forwarding",
    "net.ipv4.conf.*.accept_local",
    "net.ipv4.conf.*.route_localnet",
    "net.ipv6.fwmark_reflect",
    "net.ipv6.conf.*.forwarding",
    "net.ipv6.conf.*.disable_ipv6",
)

_SYSCTL_SCRIPT = r"""
import glob, json, os, sys
out = []
for pat in json.loads(sys.argv[1]):
    path = "/proc/sys/" + pat.replace(".", "/")
    for p in sorted(glob.glob(path)):
        try:
            with open(p) as f:
                out.append([p[len("/proc/sys/"):], f.read().strip()])
        except OSError as e:
            out.append([p[len("/proc/sys/"):], None])
print(json.dumps(out))
"""


def _read_proc_sys(patterns: Iterable[str]) -> list[tuple[str, str | None]]:
    """The same as ``_SYSCTL_SCRIPT``, in this process (current namespace)."""
    import glob

    out: list[tuple[str, str | None]] = []
    for pat in patterns:
        for p in sorted(glob.glob("/proc/sys/" + pat.replace(".", "/"))):
            try:
                with open(p, encoding="ascii") as f:
                    out.append((p[len("/proc/sys/"):], f.read().strip()))
            except OSError:
                out.append((p[len("/proc/sys/"):], None))
    return out


def read_sysctls(netns: str | None = None) -> dict[str, str]:
    """The routing sysctls, read from ``/proc/sys`` (inside ``netns`` when given).

    Keys as ``sysctl`` prints them: dots between parts, a dot inside a
    device name shown as ``/`` (``net.ipv4.conf.eth0/100.rp_filter``).
    """
    if netns:
        # /proc/sys/net shows the namespace of the reading process: read it from inside
        args = ["ip", "netns", "exec", netns, sys.executable, "-I", "-c", _SYSCTL_SCRIPT,
                json.dumps(list(SYSCTL_PATTERNS))]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise CaptureError(f"sysctl: cannot read /proc/sys in {netns}: {proc.stderr.strip()}")
        pairs = json.loads(proc.stdout)
    else:
        pairs = _read_proc_sys(SYSCTL_PATTERNS)
    values: dict[str, str] = {}
    for path, value in pairs:
        if value is None:
            continue
        values[".".join(part.replace(".", "/") for part in path.split("/"))] = value
    return values


def format_sysctls(values: Mapping[str, str]) -> str:
    """``key = value`` lines, as ``sysctl`` prints them."""
    return "".join(f"{k} = {v}\n" for k, v in values.items())


# --------------------------------------------------------------------------
# the capture

def _run(args: list[str], netns: str | None) -> subprocess.CompletedProcess[str]:
    if netns:
        args = ["ip", "netns", "exec", netns, *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False,
                          stdin=subprocess.DEVNULL)


def _capture_nft(netns: str | None) -> tuple[str | None, str | None]:
    """``nft -j list ruleset``: (json text, None) or (None, a note saying why not)."""
    if shutil.which("nft") is None:
        return None, "nft: not installed; the bundle has no ruleset"
    proc = _run(["nft", "-j", "list", "ruleset"], netns)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "ermission denied" in err or "not permitted" in err:
            return None, ("nft: permission denied (needs CAP_NET_ADMIN); "
                          "the bundle has no ruleset")
        return None, f"nft: failed ({err or 'exit ' + str(proc.returncode)}); the bundle has no ruleset"
    return proc.stdout, None


def _capture_wg(netns: str | None, devices: set[str]) -> tuple[str | None, str | None]:
    """``wg show all dump``, only the lines of this namespace's devices.

    wireguard-go's control sockets (/var/run/wireguard) are shared by every
    namespace, so ``wg`` lists devices of other namespaces too: dropped here.
    """
    if shutil.which("wg") is None:
        return None, "wg: not installed; the bundle has no wg.txt"
    proc = _run(["wg", "show", "all", "dump"], netns)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "ermission denied" in err or "not permitted" in err:
            return None, "wg: permission denied (needs CAP_NET_ADMIN); the bundle has no wg.txt"
        return None, f"wg: failed ({err}); the bundle has no wg.txt"
    lines = [hide_wg_secrets(line) for line in proc.stdout.splitlines() if line.split("\t", 1)[0] in devices]
    if not lines:
        return None, None
    return "\n".join(lines) + "\n", None


def hide_wg_secrets(line: str) -> str:
    """One ``wg show all dump`` line with its secrets replaced by ``(hidden)``, as ``wg show`` does.

    The interface line's second field is the device's **private key**, a
    peer line's third its preshared key: a bundle is made to be posted, and
    neither is needed to explain routing (the parser never keeps them).
    """
    f = line.split("\t")
    if len(f) == 5 and f[1] != "(none)":
        f[1] = "(hidden)"
    elif len(f) == 9 and f[2] != "(none)":
        f[2] = "(hidden)"
    return "\t".join(f)


def _dumps(obj: Any) -> str:
    """Compact JSON with a final newline, as ``ip -j`` prints it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def _open_iproute(netns: str | None) -> Any:
    from pyroute2 import IPRoute

    if netns is None:
        return IPRoute()
    if not os.path.exists(f"/run/netns/{netns}") and not os.path.exists(f"/var/run/netns/{netns}"):
        raise UsageError(f"no network namespace named {netns!r} (see 'ip netns list')")
    return IPRoute(netns=netns)


def _netlink_dump(netns: str | None) -> tuple[list[Any], list[Any], dict[int, list[Any]],
                                             dict[int, list[Any]]]:
    """Dump links, addresses, rules and routes over rtnetlink (pyroute2), read-only.

    pyroute2 0.9 drives its socket with an asyncio loop of its own; in a thread
    whose loop is already running (a notebook, Playwright's sync API) that
    fails, so the dump always runs in a short-lived worker thread.
    """
    import concurrent.futures

    def dump() -> tuple[list[Any], list[Any], dict[int, list[Any]], dict[int, list[Any]]]:
        try:
            ipr = _open_iproute(netns)
        except (CaptureError, UsageError):
            raise
        except Exception as exc:  # pyroute2 raises plain OSErrors/NetlinkErrors
            raise CaptureError(f"rtnetlink: cannot open ({exc})") from exc
        try:
            link_msgs = list(ipr.get_links())
            addr_msgs = list(ipr.get_addr())
            rules = {fam: list(ipr.get_rules(family=fam)) for fam in (AF_INET, AF_INET6)}
            routes = {fam: list(ipr.route("dump", family=fam)) for fam in (AF_INET, AF_INET6)}
        except Exception as exc:
            raise CaptureError(f"rtnetlink: dump failed ({exc})") from exc
        finally:
            ipr.close()
        return link_msgs, addr_msgs, rules, routes

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(dump).result()


def capture(directory: str | os.PathLike[str], *, netns: str | None = None,
            progress: Callable[[str], None] | None = None) -> CaptureReport:
    """Read the running kernel (or ``netns``) into a bundle directory.

    Writes the ``BUNDLE_FILES`` that could be read; ``report.notes`` says
    what could not (e.g. no permission for nftables) and why. Only reads.
    """
    started = time.perf_counter()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    report = CaptureReport(directory=out)
    say = progress or (lambda _msg: None)

    def write(name: str, text: str) -> None:
        (out / name).write_text(text, encoding="utf-8")
        report.files.append(name)

    say("rtnetlink: links, addresses, rules, routes")
    link_msgs, addr_msgs, rules, routes = _netlink_dump(netns)

    links = {m["index"]: m for m in link_msgs}
    names = {i: _attrs(m).get("IFLA_IFNAME", f"if{i}") for i, m in links.items()}
    by_dev: dict[int, list[Any]] = {}
    for a in addr_msgs:
        by_dev.setdefault(a["index"], []).append(a)

    for fam, stem in ((AF_INET, "ip"), (AF_INET6, "ip6")):
        rule_objs = [r for r in (rule_json(m) for m in rules[fam] if m["family"] == fam) if r]
        write(f"{stem}-rule.json", _dumps(rule_objs))
        route_objs = [r for r in (route_json(m, names) for m in routes[fam] if m["family"] == fam)
                      if r]
        write(f"{stem}-route.json", _dumps(route_objs))
        report.counts[f"{stem}-rule"] = len(rule_objs)
        report.counts[f"{stem}-route"] = len(route_objs)
        for m in routes[fam]:
            tb = _attrs(m)
            for attr, what in (("RTA_ENCAP", "an encapsulation (lwtunnel)"),
                               ("RTA_NH_ID", "a nexthop object (nhid; 'ip nexthop' is not captured)")):
                if attr in tb:
                    note = f"not modelled: some {stem} routes use {what}; the bundle shows it as ip -j does"
                    if note not in report.notes:
                        report.notes.append(note)
        for m in rules[fam]:
            unknown = [a[0] for a in m.get("attrs", ()) if a[0] == "UNKNOWN"
                       and a[1].get("header", {}).get("type") in (25, 26, 27, 30)]
            if unknown:
                report.notes.append(
                    f"not modelled: rule {_attrs(m).get('FRA_PRIORITY', 0)} has selectors "
                    "iproute2 6.1 cannot show (dscp/flowlabel); the bundle omits them")
    write("ip-addr.json", _dumps([link_json(m, links, do_link=False,
                                            addresses=by_dev.get(m["index"], []))
                                  for m in link_msgs]))
    write("ip-link.json", _dumps([link_json(m, links, do_link=True) for m in link_msgs]))
    report.counts["links"] = len(link_msgs)
    report.counts["addresses"] = len(addr_msgs)

    say("nftables: nft -j list ruleset")
    ruleset, nft_note = _capture_nft(netns)
    if ruleset is not None:
        write("nft-ruleset.json", ruleset)
    if nft_note:
        report.notes.append(nft_note)

    say("wireguard: wg show all dump")
    wg, wg_note = _capture_wg(netns, set(names.values()))
    if wg is not None:
        write("wg.txt", wg)
    if wg_note:
        report.notes.append(wg_note)

    say("sysctls: /proc/sys/net")
    try:
        write("sysctl.txt", format_sysctls(read_sysctls(netns)))
    except (CaptureError, OSError, subprocess.SubprocessError) as exc:
        report.notes.append(f"{exc}; the bundle has no sysctl.txt")
    say("kernel: release and build features")
    from wgexplain.kernel.profile import running_record

    record = running_record()
    write("kernel.json", json.dumps(record, indent=2) + "\n")
    if record["config"] is None:
        report.notes.append("the kernel's build options could not be read (no /proc/config.gz "
                            "or /boot/config-RELEASE): kernel.json records them as unknown")
    # a re-capture into the same folder: files of an earlier capture that this one could not
    # write (e.g. wg.txt when WireGuard is gone) would describe another moment: remove them
    for name in BUNDLE_FILES:
        if name not in report.files and (out / name).is_file():
            (out / name).unlink()
            report.notes.append(f"removed {name} left by an earlier capture")
    others = sorted(p.name for p in out.iterdir() if p.name in _OTHER_BUNDLE_FILES)
    if others:
        report.notes.append(f"{out} also holds {', '.join(others)}, not from this capture")
    report.seconds = time.perf_counter() - started
    return report


def capture_host(netns: str | None = None) -> Host:
    """The running kernel (or ``netns``) as a :class:`Host`: ``--live`` as a SOURCE.

    Captures into a temporary bundle and reads it with the ordinary bundle
    reader, so ``--live`` and a saved capture give the same Host. Notes
    (e.g. no nft permission) become the Host's warnings.
    """
    import dataclasses

    from wgexplain.sources import load

    label = "live" if netns is None else f"live:{netns}"
    with tempfile.TemporaryDirectory(prefix="wgexplain-live-") as tmp:
        report = capture(tmp, netns=netns)
        host = load(tmp)

    def relabel(items: Iterable[Any]) -> tuple[Any, ...]:
        # origins name the capture's file (ip-rule.json:3), not the deleted temporary folder
        out = []
        for item in items:
            o = item.origin
            if o.file.startswith(tmp):
                o = dataclasses.replace(o, file=label + o.file[len(tmp):])
                item = dataclasses.replace(item, origin=o)
            out.append(item)
        return tuple(out)

    return dataclasses.replace(
        host, source="--live" if netns is None else f"--live (netns {netns})",
        links=relabel(host.links), addresses=relabel(host.addresses), rules=relabel(host.rules),
        routes=relabel(host.routes), wireguard=relabel(host.wireguard),
        warnings=tuple(w.replace(tmp, label) for w in host.warnings) + tuple(report.notes))


def load_live(netns: str | None = None) -> Host:
    """``--live``: the same as :func:`capture_host` (the name ``wgexplain.cli`` looks for)."""
    return capture_host(netns)
