"""Read ``ip addr`` and ``ip link`` output (text and ``-j`` JSON).

The twin of iproute2's ``print_linkinfo()`` and ``print_addrinfo()``
(ip/ipaddress.c, 6.1). A record is a header line
``N: NAME[@PEER]: <FLAGS> mtu M qdisc Q [master X] state S [mode M] group G
[qlen N]``, its ``link/TYPE`` line, and for ``ip addr`` one ``inet``/``inet6``
line per address (``ADDR/P [peer P/L] [brd B] scope S [FLAGS] [LABEL]``) each
followed by its ``valid_lft`` line. ``-o`` (one line per record, joined by
``\\``), ``-s`` (statistics lines) and ``-d`` (details; the device kind is
read from them) are understood. ``-br`` (brief) output drops scopes and
flags, so it is refused with a message saying so.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from wgexplain.errors import DumpError
from wgexplain.model import Address, Link, Origin
from wgexplain.sources import rtnames
from wgexplain.sources.jsonlines import json_items

#: ``ifa_flag_names[]`` plus ``dynamic`` (no IFA_F_PERMANENT)
ADDR_FLAGS = frozenset({"secondary", "temporary", "nodad", "optimistic", "dadfailed", "home",
                        "deprecated", "tentative", "permanent", "mngtmpaddr", "noprefixroute",
                        "autojoin", "stable-privacy", "dynamic"})
_SCOPES = frozenset({"global", "site", "link", "host", "nowhere", "universe"})
_LFT = re.compile(r"forever|\d+sec")
_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")
_INFO_LINES = ("altname", "alias", "RX:", "TX:", "RX", "TX", "vf ", "prog/", "xdp")


def _iface(text: str, plen: int | None, file: str, lineno: int, line: str) -> Any:
    try:
        if plen is not None:
            return ipaddress.ip_interface(f"{text}/{plen}")
        if "/" not in text:
            return ipaddress.ip_interface(text)
        return ipaddress.ip_interface(text)
    except ValueError:
        col = line.find(text)
        raise DumpError(file, lineno, "an address like 192.0.2.1/24 or 2001:db8::1/64", got=text,
                        column=col + 1 if col >= 0 else None) from None


class _Link:
    """A link record being read (mutable until done)."""

    def __init__(self, index: int, name: str, line: int) -> None:
        self.index = index
        self.name = name
        self.line = line
        self.flags: frozenset[str] = frozenset()
        self.mtu: int | None = None
        self.state: str | None = None
        self.link_type: str | None = None
        self.address: str | None = None
        self.kind: str | None = None
        self.master: str | None = None
        self.group = 0
        self.header = True  # False for "-o addr" lines, which carry no link facts
        self.after_promisc = False

    def freeze(self, file: str) -> Link:
        return Link(index=self.index, name=self.name, flags=self.flags, mtu=self.mtu,
                    state=self.state, link_type=self.link_type, address=self.address,
                    kind=self.kind, master=self.master, group=self.group,
                    origin=Origin(file, self.line))


def parse_addr_text(text: str, file: str, first_line: int = 1, *,
                    details: bool = False) -> tuple[list[Link], list[Address]]:
    """Read ``ip addr`` / ``ip link`` text. ``details``: the command had ``-d``.

    Returns the links (one per header) and the addresses, in dump order.
    """
    links: list[_Link] = []
    by_index: dict[int, _Link] = {}
    addrs: list[Address] = []
    cur: _Link | None = None
    # ip -o joins a record's lines with "\"; split them back, same line number
    lines: list[tuple[int, str]] = []
    for i, raw in enumerate(text.split("\n")):
        if "\\" in raw:
            for part in raw.split("\\"):
                lines.append((first_line + i, part))
        else:
            lines.append((first_line + i, raw))
    expect_lft = False
    for lineno, line in lines:
        toks = line.split()
        if not toks:
            continue
        t0 = toks[0]

        def err(expected: str, got: str) -> DumpError:
            col = line.find(got)
            return DumpError(file, lineno, expected, got=got, column=col + 1 if col >= 0 else None)

        if line[:1] not in (" ", "\t"):
            index_v = rtnames.dec(t0[:-1], 1, 0x7FFFFFFF) if t0.endswith(":") else None
            if index_v is None or len(toks) < 2:
                if len(toks) >= 2 and toks[1] in ("UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN",
                                                  "DORMANT", "NOTPRESENT", "TESTING"):
                    raise err("ip addr/link output without -br (brief output drops scopes and "
                              "flags: paste 'ip addr' instead)", line.strip())
                raise err("a link header like '2: eth0: <BROADCAST,UP> mtu 1500 ...'", t0)
            index = index_v
            name = toks[1]
            onel = not name.endswith(":")  # "-o addr": "2: eth0    inet ..."
            name = name.rstrip(":")
            if "@" in name:
                name = name.split("@", 1)[0]
            cur = by_index.get(index)
            if cur is None:
                cur = _Link(index, name, lineno)
                by_index[index] = cur
                links.append(cur)
                cur.header = not onel
            elif not onel and not cur.header:
                cur.header = True
                cur.line = lineno
            if onel:
                rest = toks[2:]
                if not rest or rest[0] not in ("inet", "inet6"):
                    raise err("'inet' or 'inet6' after the device name (ip -o addr)",
                              rest[0] if rest else name)
                addrs.append(_addr_line(rest, cur.name, file, lineno, line))
                expect_lft = True
                continue
            _header(cur, toks[2:], err)
            expect_lft = False
            continue
        if cur is None:
            raise err("a link header like '2: eth0: <BROADCAST,UP> mtu 1500 ...' first", t0)
        if t0 in ("inet", "inet6"):
            addrs.append(_addr_line(toks, cur.name, file, lineno, line))
            expect_lft = True
        elif t0 == "valid_lft":
            if not expect_lft:
                raise err("'valid_lft' only after an inet/inet6 line", t0)
            if len(toks) != 4 or toks[2] != "preferred_lft" or not all(
                    _LFT.fullmatch(v) for v in (toks[1], toks[3])):
                raise err("'valid_lft forever|Nsec preferred_lft forever|Nsec' (is the paste "
                          "cut short?)", line.strip())
            expect_lft = False
        elif t0.startswith("link/"):
            cur.link_type = t0[5:]
            cur.after_promisc = "promiscuity" in toks
            if len(toks) > 1 and toks[1] not in ("brd", "promiscuity", "link-netnsid",
                                                  "link-netns", "permaddr"):
                cur.address = toks[1]
                if cur.link_type == "ether" and _MAC.fullmatch(toks[1]) is None:
                    raise err("a MAC address like f0:20:ff:a7:68:db after link/ether (is the "
                              "paste cut short?)", toks[1])
            # iproute2 prints the link/ line after an inet line only in "-o addr"
        elif cur.after_promisc and t0.isidentifier() and t0 not in ("addrgenmode", "numtxqueues"):
            cur.kind = t0  # ip -d: the line after "promiscuity ..." starts with the kind
            cur.after_promisc = False
        elif t0.startswith(_INFO_LINES) or t0.replace(".", "").isdigit() or details:
            cur.after_promisc = False
        else:
            raise err("an 'inet', 'inet6', 'link/...' or 'valid_lft' line (use -d for details)",
                      t0)
    return [lk.freeze(file) for lk in links if lk.header], addrs


def _header(cur: _Link, toks: list[str], err: Any) -> None:
    k = 0
    n = len(toks)
    if k < n and toks[k].startswith("<") and toks[k].endswith(">"):
        inner = toks[k][1:-1]
        cur.flags = frozenset(f for f in inner.split(",") if f)
        k += 1
    else:
        raise err("link flags like <BROADCAST,MULTICAST,UP,LOWER_UP>", toks[k] if k < n else "")
    while k < n:
        t = toks[k]
        v = toks[k + 1] if k + 1 < n else None
        if v is None:
            raise err(f"a value after '{t}'", t)
        if t == "mtu":
            mtu = rtnames.dec(v)  # dev->mtu: an unsigned int
            if mtu is None:
                raise err("a number from 0 to 4294967295 after 'mtu'", v)
            cur.mtu = mtu
        elif t == "state":
            cur.state = v
        elif t == "master":
            cur.master = v
        elif t == "group":
            g = rtnames.group(v)
            if g is None:
                raise err("a device group number or 'default'", v)
            cur.group = g
        elif t in ("qdisc", "mode", "qlen", "link-netnsid", "link-netns", "netns", "alias",
                   "vrf", "xdp", "xdpgeneric", "xdpoffload", "xdpdrv", "xdpmulti"):
            pass
        else:
            raise err("a link attribute (mtu, qdisc, master, state, mode, group, qlen)", t)
        k += 2


def _addr_line(toks: list[str], dev: str, file: str, lineno: int, line: str) -> Address:
    def err(expected: str, got: str) -> DumpError:
        col = line.find(got)
        return DumpError(file, lineno, expected, got=got, column=col + 1 if col >= 0 else None)

    fam = toks[0]
    if len(toks) < 2:
        raise err("an address after 'inet'", fam)
    local = toks[1]
    k = 2
    peer = None
    brd = None
    scope = "global"
    flags: set[str] = set()
    label = None
    n = len(toks)
    if k < n and toks[k] == "peer":
        if k + 1 >= n:
            raise err("an address after 'peer'", "peer")
        peer_s = toks[k + 1]
        k += 2
        try:
            peer = ipaddress.ip_network(peer_s, strict=False)
        except ValueError:
            raise err("a peer prefix like 203.0.113.6/32", peer_s) from None
        # with a peer the prefix length belongs to the peer; the local address is a host
        address = _iface(local, peer.prefixlen, file, lineno, line)
    else:
        if "/" not in local:  # print_addrinfo() always prints "/prefixlen" without a peer
            raise err("an address with its prefix length, like 192.0.2.1/24 (is the paste cut "
                      "short?)", local)
        address = _iface(local, None, file, lineno, line)
    if (fam == "inet") != (address.version == 4):
        raise err(f"an {'IPv4' if fam == 'inet' else 'IPv6'} address after '{fam}'", local)
    while k < n:
        t = toks[k]
        k += 1
        if t in ("brd", "any"):
            if k >= n:
                raise err(f"an address after '{t}'", t)
            if t == "brd":
                try:
                    brd = ipaddress.IPv4Address(toks[k])
                except ValueError:
                    raise err("a broadcast address", toks[k]) from None
            k += 1
        elif t == "scope":
            if k >= n:
                raise err("a scope after 'scope'", t)
            s = toks[k]
            k += 1
            if s not in _SCOPES and rtnames.dec(s, 0, 255) is None:
                raise err("a scope (global, link, host, site, nowhere or a number)", s)
            scope = "global" if s == "universe" else s
        elif t in ADDR_FLAGS:
            flags.add(t)
        elif t in ("metric", "proto"):
            k += 1
        elif fam == "inet" and k == n and (t == dev or t.startswith(dev + ":")):
            if t != dev:
                label = t
        else:
            raise err("an address attribute (peer, brd, scope, secondary, dynamic, "
                      f"noprefixroute, ..., then the label '{dev}' or '{dev}:...')", t)
    return Address(dev=dev, address=address, scope=scope, peer=peer, broadcast=brd,
                   flags=frozenset(flags), label=label, origin=Origin(file, lineno))


def parse_addr_json(text: str, file: str, first_line: int = 1) -> tuple[list[Link], list[Address]]:
    """Read ``ip -j addr`` / ``ip -j link`` output."""
    links: list[Link] = []
    addrs: list[Address] = []
    for obj, lineno in json_items(text, file, first_line,
                                  "a JSON array of links (ip -j addr / ip -j link)"):
        if isinstance(obj, dict) and "ifname" not in obj and isinstance(obj.get("addr_info"), list):
            for ai in obj["addr_info"]:  # ip -j -o addr: each address names its device
                if not isinstance(ai, dict) or not isinstance(ai.get("dev"), str):
                    raise DumpError(file, lineno, "an addr_info object with 'dev'",
                                    got=json.dumps(ai)[:60])
                addrs.append(_addr_json(ai, str(ai["dev"]), file, lineno))
            continue
        if not isinstance(obj, dict) or "ifname" not in obj or "ifindex" not in obj:
            raise DumpError(file, lineno, "a link object with 'ifindex' and 'ifname'",
                            got=json.dumps(obj)[:60])
        if not isinstance(obj["ifname"], str):
            raise DumpError(file, lineno, "a device name for 'ifname'",
                            got=json.dumps(obj["ifname"])[:60])
        for key, lo in (("ifindex", 1), ("mtu", 0)):
            if key in obj and (not isinstance(obj[key], int) or isinstance(obj[key], bool)
                               or not lo <= obj[key] <= (0x7FFFFFFF if lo else rtnames.U32)):
                raise DumpError(file, lineno, f"a number for '{key}' of {obj['ifname']}",
                                got=json.dumps(obj[key])[:60])
        for key in ("operstate", "link_type", "address", "master"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise DumpError(file, lineno, f"a string for '{key}' of {obj['ifname']}",
                                got=json.dumps(obj[key])[:60])
        flags = obj.get("flags") or []
        if not isinstance(flags, list) or not all(isinstance(x, str) for x in flags):
            raise DumpError(file, lineno, f"a list of flag names for 'flags' of {obj['ifname']}",
                            got=json.dumps(obj.get("flags"))[:60])
        infos = obj.get("addr_info") or []
        if not isinstance(infos, list):
            raise DumpError(file, lineno, f"a list for 'addr_info' of {obj['ifname']}",
                            got=json.dumps(infos)[:60])
        name = obj["ifname"]
        if "flags" in obj:  # "-o addr"-like objects without link facts have no flags
            g = rtnames.group(str(obj.get("group", "default")))
            if g is None:
                raise DumpError(file, lineno, "a device group", got=str(obj.get("group")))
            kind = None
            if isinstance(obj.get("linkinfo"), dict):
                kind = obj["linkinfo"].get("info_kind")
                if kind is not None and not isinstance(kind, str):
                    raise DumpError(file, lineno, "a device kind for 'info_kind'",
                                    got=json.dumps(kind)[:60])
            links.append(Link(index=int(obj["ifindex"]), name=name,
                              flags=frozenset(flags), mtu=obj.get("mtu"),
                              state=obj.get("operstate"), link_type=obj.get("link_type"),
                              address=obj.get("address"), kind=kind, master=obj.get("master"),
                              group=g, origin=Origin(file, lineno)))
        for ai in infos:
            addrs.append(_addr_json(ai, name, file, lineno))
    return links, addrs


def _addr_json(ai: Any, dev: str, file: str, lineno: int) -> Address:
    if not isinstance(ai, dict) or "local" not in ai or "family" not in ai:
        raise DumpError(file, lineno, "an addr_info object with 'family' and 'local'",
                        got=json.dumps(ai)[:60])
    plen = ai.get("prefixlen")
    if isinstance(plen, bool) or not isinstance(plen, int) or not 0 <= plen <= 128 \
            or not all(isinstance(ai.get(k, ""), str) for k in ("local", "address", "broadcast",
                                                                   "scope", "label")):
        raise DumpError(file, lineno, "an addr_info object as 'ip -j addr' prints it (strings "
                        "for addresses, scope and label, a number 'prefixlen')",
                        got=json.dumps(ai)[:60])
    try:
        peer = None
        if "address" in ai:
            peer = ipaddress.ip_network(f"{ai['address']}/{plen}", strict=False)
        address = ipaddress.ip_interface(f"{ai['local']}/{plen}")
        brd = ipaddress.IPv4Address(ai["broadcast"]) if "broadcast" in ai else None
    except ValueError as e:
        raise DumpError(file, lineno, "addresses in addr_info", got=str(e)) from None
    scope = str(ai.get("scope", "global"))
    flags = frozenset(k for k, v in ai.items() if k in ADDR_FLAGS and v is True)
    label = ai.get("label")
    return Address(dev=dev, address=address, scope="global" if scope == "universe" else scope,
                   peer=peer, broadcast=brd, flags=flags,
                   label=label if label and label != dev else None,
                   origin=Origin(file, lineno))
