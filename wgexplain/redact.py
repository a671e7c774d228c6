"""Redact a dump before sharing it: public addresses, WireGuard keys, MACs, host and user names.

``wgexplain redact SOURCE [-o OUT] [--key K]`` and ``capture --redact``.
What is replaced, consistently within one run (and across runs with the
same ``--key``, see below):

* **public IP addresses**, v4 and v6, by stand-ins that belong to nobody:
  the benchmarking range 198.18.0.0/15 and the documentation ranges
  198.51.100.0/24 and 203.0.113.0/24 for IPv4 (then the reserved
  240.0.0.0/4 for networks shorter than /15 or more than those hold), the
  documentation range 2001:db8::/32 for IPv6, then 3fff::/20 (RFC 9637: for
  networks shorter than /32, or more of them than 2001:db8::/32 holds; it
  is not kept as it is in an input, being newer than most tools' lists),
  then 4000::/3 (reserved by the IETF in IANA's IPv6 address space
  registry, the IPv6 twin of 240.0.0.0/4: room for networks as short as
  /20, more than 3fff::/20's single one; in the kernel's and RFC 6724's
  policy table it is ``::/0``, label 1, like the global unicast it stands
  in for, so source address selection is unchanged) (``POOLS``).
  192.0.2.0/24 is never a stand-in. Routing must stay the same, so the map
  keeps prefixes: every public network of the dump (``a/n`` with ``n`` at
  least ``MIN_PREFIX``: /9 for IPv4, /20 for IPv6) and the /24 (IPv4) or
  /64 (IPv6) around every public address is a *block*; each outermost block
  gets a free block of the same size in a pool, at a keyed-hash position,
  and the bits inside it are permuted the Crypto-PAn way (Xu et al. 2002):
  bit ``i`` XOR a keyed pseudo-random function of the first ``i`` bits, so
  two addresses sharing a ``k``-bit prefix share exactly a ``k``-bit prefix
  afterwards. Nodes on the all-zeros and all-ones paths of every network of
  the dump are not flipped, so a network address stays the network address
  and a broadcast stays the broadcast (the kernel derives ``broadcast``
  routes from them). A block's position depends only on the key and the
  block, so the same key gives an address the same stand-in in every run
  whose dump has the same networks around it (unless two blocks collide).
  Private, shared, loopback, link-local, documentation, benchmarking,
  multicast and reserved ranges (``KEPT``) are kept as they are; stand-ins
  avoid the pool addresses the dump already holds. Public networks shorter
  than ``MIN_PREFIX`` (``128.0.0.0/1``, ``2000::/3``: AllowedIPs splits)
  name nobody and are kept; an address inside one moves out of it, and
  ``warnings`` says so when a stand-in block leaves or enters such a
  network (a route through it may then decide otherwise).
* **WireGuard keys** (44-character base64, wherever ``wg`` prints them:
  ``wg show``, ``wg show all dump``, ``wg showconf``): a keyed hash, still
  a valid key.
* **MAC addresses**, written ``f0:20:ff:a7:68:db``, ``f0-20-ff-a7-68-db``,
  ``f020.ffa7.68db`` or ``f020ffa768db`` (after ``link/ether``, ``ether``,
  ``lladdr``, ``HWaddr``, JSON ``"address"``): a stand-in from the
  documentation block of RFC 7042 (``00:00:5e:00:53:xx``, multicast
  ``01:00:5e:90:10:xx``; beyond 256 of them, a keyed-hash locally
  administered one), written in the original's notation and case;
  all-zeros and broadcast kept. The EUI-64 interface id of an IPv6 address
  (``…ff:fe…``, e.g. ``fe80::f220:ffff:fea7:68db``) becomes the stand-in
  MAC's EUI-64, so the address still matches its device's MAC.
* **host and user names** from shell prompts — ``user@host:~$``,
  ``[user@host ~]#``, ``user@host ~ %``, ``user@host:~>``, ``host% ``,
  ``host:~ user$``, ``PS C:\\Users\\user>``, ``C:\\Users\\user>``, a
  ``/home/user`` in a prompt, a prompt inside backticks or a Markdown quote
  or list — wherever the name appears afterwards.

ANSI colour (``ip -c``, ``wg`` on a terminal) is honoured: the codes are
taken out before anything is looked for (they split tokens: ``ip -c``
colours an address apart from its ``/24``, ``wg`` the ``/`` of allowed ips)
and put back afterwards around the stand-ins.

The output keeps its format: only the matched tokens change, so a session
stays a readable session, a bundle a bundle, JSON valid JSON.

Why written here rather than taken from PyPI: ``yacryptopan`` and
``pycryptopan`` implement Crypto-PAn, but map *every* address onto the
whole address space (stand-ins that belong to someone, a private address
that moves), need AES from ``cryptography``/``pycrypto``, and do not keep
network/broadcast host parts; HMAC-SHA256 and BLAKE2 from the standard
library are sufficient keyed functions for the walk.

Not modelled: address ranges (``a-b`` in nft) are mapped endpoint by
endpoint, and a prefix-preserving map does not keep order, so a public
range may come out reversed: ``Redactor.warnings`` says so when it happens.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from wgexplain.errors import DumpError

__all__ = ["KEPT", "POOLS", "MIN_PREFIX", "Redactor", "is_public", "redact_text",
           "redact_bundle", "redact_source", "RedactResult", "strip_ansi"]

# 192.0.0.0/24 but its globally reachable anycast addresses .9 and .10 (IANA registry)
_KEPT4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
          "172.16.0.0/12", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.11/32", "192.0.0.12/30",
          "192.0.0.16/28", "192.0.0.32/27", "192.0.0.64/26", "192.0.0.128/25", "192.0.2.0/24",
          "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
          "224.0.0.0/4", "240.0.0.0/4")
_KEPT6 = ("::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64",
          "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8")
#: Ranges never redacted: special-purpose ranges that are not globally reachable (IANA's
#: registries), private, link-local, documentation, multicast. The globally reachable
#: special ones (192.88.99.0/24, 64:ff9b:1::/48, 3fff::/20, …) are redacted.
KEPT: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n) for n in _KEPT4 + _KEPT6)
_KEPT_RANGES: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
for _net in KEPT:
    _KEPT_RANGES[_net.version].append((int(_net.network_address), int(_net.broadcast_address)))
_BITS = {4: 32, 6: 128}
_MAPPED4 = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MCAST6 = ipaddress.ip_network("ff00::/8")

#: Where stand-ins come from, in order of use: ranges that belong to nobody.
POOLS: dict[int, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {
    4: tuple(ipaddress.ip_network(n) for n in (
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4")),
    6: tuple(ipaddress.ip_network(n) for n in ("2001:db8::/32", "3fff::/20", "4000::/3")),
}
#: The shortest public network given a stand-in (shorter ones name nobody: kept).
MIN_PREFIX = {4: 9, 6: 20}
#: Every public address is placed with the block of this length around it.
_BLOCK = {4: 24, 6: 64}
#: RFC 7042's documentation MACs: unicast 00-00-5E-00-53-xx, multicast 01-00-5E-90-10-xx
_DOC_MAC = {0: bytes.fromhex("00005e0053"), 1: bytes.fromhex("01005e9010")}


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``addr`` is outside every ``KEPT`` range (and would be redacted)."""
    value = int(addr)
    return not any(lo <= value <= hi for lo, hi in _KEPT_RANGES[addr.version])


def _all_public(version: int, lo: int, hi: int) -> bool:
    """Is every address of ``lo .. hi`` public?"""
    return not any(lo <= khi and klo <= hi for klo, khi in _KEPT_RANGES[version])


def _any_public(version: int, lo: int, hi: int) -> bool:
    """Is some address of ``lo .. hi`` public (not covered by the kept ranges)?"""
    at = lo
    for klo, khi in sorted(_KEPT_RANGES[version]):
        if khi < at:
            continue
        if klo > at:
            return True
        at = khi + 1
        if at > hi:
            return False
    return at <= hi


# ----------------------------------------------------------------------------- ANSI colour

#: CSI (``ESC [ … m`` and the rest), OSC, two-byte escapes, and SGR codes whose ESC was
#: lost on the way to a forum (``[01;32m``)
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
                      r"|\[\d{1,3}(?:;\d{1,3})*m")


def strip_ansi(text: str) -> tuple[str, list[tuple[int, str]]]:
    """``text`` without colour codes, and each code with its position in the stripped text."""
    if "\x1b" not in text and "[" not in text:
        return text, []
    codes: list[tuple[int, str]] = []
    parts: list[str] = []
    pos = last = 0
    for m in _ANSI_RE.finditer(text):
        parts.append(text[last:m.start()])
        pos += m.start() - last
        codes.append((pos, m.group(0)))
        last = m.end()
    if not codes:
        return text, []
    parts.append(text[last:])
    return "".join(parts), codes


def _sub_tracked(rx: re.Pattern[str], fn: Callable[[re.Match[str]], str], text: str,
                 marks: list[int]) -> str:
    """``rx.sub(fn, text)``, moving the positions in ``marks`` (sorted) along.

    A position inside a replaced token keeps its distance to the token's end
    when that end is unchanged (``a`` + code + ``/24``), else to its start,
    else goes to the token's end.
    """
    if not marks:
        return rx.sub(fn, text)
    out: list[str] = []
    last = shift = 0
    k = 0
    n = len(marks)
    for m in rx.finditer(text):
        start, end = m.span()
        old = m.group(0)
        new = fn(m)
        if new == old:
            continue
        while k < n and marks[k] <= start:
            marks[k] += shift
            k += 1
        while k < n and marks[k] < end:
            p = marks[k]
            suffix = 0
            while suffix < min(len(old), len(new)) and old[-1 - suffix] == new[-1 - suffix]:
                suffix += 1
            prefix = 0
            while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
                prefix += 1
            if end - p <= suffix:
                marks[k] = start + shift + len(new) - (end - p)
            elif p - start <= prefix:
                marks[k] = p + shift
            else:
                marks[k] = start + shift + len(new)
            k += 1
        out.append(text[last:start])
        out.append(new)
        last = end
        shift += len(new) - len(old)
    while k < n:
        marks[k] += shift
        k += 1
    out.append(text[last:])
    return "".join(out)


def _put_back(text: str, marks: list[int], codes: list[tuple[int, str]]) -> str:
    out: list[str] = []
    last = 0
    for p, (_, code) in zip(marks, codes):
        p = max(last, min(p, len(text)))
        out.append(text[last:p])
        out.append(code)
        last = p
    out.append(text[last:])
    return "".join(out)


# ----------------------------------------------------------------------------- regexes

_WGKEY = r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])"
_HEXCOLON = r"(?<![\w:.%])[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[\w.-]+)?(?:/\d{1,3})?(?![\w:])"
_V4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?!\.?\d)"
#: MACs with dashes (Windows), dotted (Cisco), or bare hex after a MAC keyword
_MAC_DASH = r"(?<![\w-])[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}(?![\w-])"
_MAC_DOT = r"(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])"
_MAC_BARE = (r"(?:(?<=ether\s)|(?<=HWaddr\s)|(?<=lladdr\s)|(?<=brd\s)|(?<=address\":\s\")"
             r"|(?<=address\":\")|(?<=broadcast\":\s\")|(?<=broadcast\":\"))"
             r"[0-9A-Fa-f]{12}(?![\w:.-])")
_V4_RE = re.compile(_V4)
_TOKEN_RE = re.compile(f"(?P<key>{_WGKEY})|(?P<macd>{_MAC_DASH})|(?P<macc>{_MAC_DOT})"
                       f"|(?P<macb>{_MAC_BARE})|(?P<hc>{_HEXCOLON})|(?P<v4>{_V4})")
#: a prefix literal ``1.2.3.0/24``, ``2001:db8::/32``, ``inet 1.2.3.4/24``
_PREFIX_RE = re.compile(r"(?<![\w:.])(?P<a>[0-9A-Fa-f:.]+)/(?P<n>\d{1,3})(?![\w:])")
#: a split pair in JSON text: ``"local":"1.2.3.4",…"prefixlen":24``, ``"src":"1.2.0.0","srclen":16``
_PAIR_JSON_RE = re.compile(
    r'"(?:local|src|dst|addr)"\s*:\s*"(?P<a>[0-9A-Fa-f:.]+)"\s*,[^{}\[\]]*?'
    r'"(?:prefixlen|srclen|dstlen|len)"\s*:\s*(?P<n>\d{1,3})')
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_V6TOKEN_RE = re.compile(r"^(?P<a>[0-9A-Fa-f:.]+)(?P<zone>%[\w.-]+)?(?:/(?P<len>\d{1,3}))?$")

#: what may come before a prompt: blanks, Markdown quote/list marks, a backtick, ``(venv)``
_PRE = (r"(?P<pre>(?:^[ \t]*(?:(?:>|[-*+]|\d{1,3}[.)])[ \t]+)*`{0,3}|(?<=`))"
        r"(?:\([^()\n]{1,40}\)[ \t]*)?\[?)")
_USER = r"(?P<user>[a-z_][\w.-]{0,31})"
_HOST = r"(?P<host>[A-Za-z0-9][\w.-]{0,62})"
#: commands a bare ``host% `` / ``host# `` prompt must be followed by to count as one
_COMMANDS = (r"(?:sudo\s+|doas\s+)?(?:ip|nft|wg|wg-quick|sysctl|cat|ping|ping6|traceroute|"
             r"ifconfig|route|netstat|ss|resolvectl|nmcli|hostname|mullvad|tailscale|iptables|"
             r"ip6tables|ls|echo|curl|dig|systemctl|journalctl|uname|networkctl|tracepath)\b")
#: shell prompts, each with ``user`` and/or ``host`` (and maybe a home ``dir``)
_PROMPTS = (
    # user@host:~$  [user@host ~]#  user@host ~ %  user@host:~>  root@host:/home/user#
    re.compile(_PRE + _USER + "@" + _HOST
               + r"(?P<post>(?::|\s)[^\n$#%>]*?\]?\s?[$#%>](?:\s|$|`))", re.M),
    # macOS bash: host:~ user$
    re.compile(_PRE + _HOST + r":[^\s\n]*\s" + _USER + r"(?P<post>\$(?:\s|$|`))", re.M),
    # zsh and tcsh: host%  host#  (then a command)
    re.compile(_PRE + r"(?P<host>[A-Za-z][A-Za-z0-9.-]{0,62})(?P<post>[%#]\s+)(?=" + _COMMANDS
               + ")", re.M),
    # PowerShell and cmd: PS C:\Users\user>  C:\Users\user\dir>
    re.compile(_PRE + r"(?:PS\s+)?[A-Za-z]:\\(?:Users|Documents and Settings)\\"
               r"(?P<user>[^\\/:*?\"<>|\s]{1,64})(?P<post>[^\n>]*>)", re.M),
    # anything else shaped like one at the start of a line: user@host: …, [user@host …
    re.compile(r"^(?P<pre>[ \t]*\[?)" + _USER + "@" + _HOST + r"(?P<post>[: \]])", re.M),
)
#: a home directory inside a prompt names its user
_HOME_RE = re.compile(r"/(?:home|Users)/(?P<user>[a-z_][a-z0-9_.-]{0,31})")
#: words a host name must not be replaced as outside prompts: they also mean something else
_STOPWORDS = frozenset("""all any default dev from global host inet inet6 ip kernel link local
localhost lookup main nft prohibit proto root route rule scope src static table to unicast
unreachable via wg dhcp boot blackhole throw broadcast multicast accept drop reject""".split())
_NOT_USERS = frozenset({"root"})


@dataclass(frozen=True, slots=True)
class RedactResult:
    """What one ``redact_source`` run did."""

    output: str  # the path written, or "-" for stdout
    replaced: dict[str, int]
    warnings: tuple[str, ...]


class _Pool:
    """The stand-in blocks taken so far in one family's pools (aligned, never overlapping)."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.bits = _BITS[version]
        #: (prefix value, length) of every block taken
        self.taken: set[tuple[int, int]] = set()
        self.lengths: list[int] = []
        #: (prefix value, length) of every node holding a taken block (or being one)
        self.holding: set[tuple[int, int]] = set()

    def free(self, value: int, length: int) -> bool:
        if (value, length) in self.holding:
            return False
        return not any((value >> (length - n), n) in self.taken
                       for n in self.lengths if n <= length)

    def take(self, value: int, length: int) -> None:
        self.taken.add((value, length))
        if length not in self.lengths:
            bisect.insort(self.lengths, length)
        for n in range(0, length + 1):
            self.holding.add((value >> (length - n), n))


class Redactor:
    """One redaction run: learns the input first, then maps consistently.

    Call :meth:`learn_text` / :meth:`learn_json` on every input, then
    :meth:`text` to redact. ``key`` makes the stand-ins deterministic across
    runs; without it a random key is drawn.
    """

    def __init__(self, key: bytes | str | None = None) -> None:
        if key is None:
            key = os.urandom(32)
        elif isinstance(key, str):
            key = key.encode()
        self._key = hashlib.sha256(b"wgexplain-redact\0" + key).digest()
        #: version -> prefix length -> the network prefixes (as ints) seen with that length
        self._networks: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
        #: version -> the public blocks (prefix value, length) seen
        self._nodes: dict[int, set[tuple[int, int]]] = {4: set(), 6: set()}
        #: version -> short public networks kept as they are: (prefix value, length)
        self._short: dict[int, set[tuple[int, int]]] = {4: set(), 6: set()}
        #: version -> network addresses of those short networks: kept too
        self._short_addrs: dict[int, set[int]] = {4: set(), 6: set()}
        self._pools = {4: _Pool(4), 6: _Pool(6)}
        #: version -> length -> original block prefix -> stand-in block prefix
        self._blocks: dict[int, dict[int, dict[int, int]]] = {4: {}, 6: {}}
        self._frozen = False
        self._ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address,
                        ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
        self._macs: dict[str, str] = {}
        self._mac_images: set[str] = set()
        self._doc_macs_seen: set[str] = set()
        self._hosts: dict[str, str] = {}
        self._users: dict[str, str] = {}
        self._host_re: re.Pattern[str] | None = None
        #: original -> stand-in, for every value replaced (addresses as strings)
        self.mapping: dict[str, str] = {}
        self.counts: dict[str, int] = {"address": 0, "key": 0, "mac": 0, "host": 0}
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ learning

    def learn_text(self, text: str) -> None:
        """Pass 1 over a text: its public networks and addresses, MACs, prompt names."""
        if self._frozen:
            raise RuntimeError("learn_*() after redaction started")
        text, _codes = strip_ansi(text)
        for rx in (_PREFIX_RE, _PAIR_JSON_RE):
            for m in rx.finditer(text):
                self._learn_prefix(m.group("a"), int(m.group("n")))
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup
            if kind == "v4" or kind == "hc":
                token = m.group(0)
                if kind == "hc" and _MAC_RE.match(token):
                    self._learn_mac(token)
                    continue
                tm = _V6TOKEN_RE.match(token.rstrip("."))
                if tm is None or not self._learn_address(tm.group("a")):
                    for v4 in _V4_RE.finditer(token):
                        self._learn_address(v4.group(0).split("/")[0])
            elif kind in ("macd", "macc", "macb"):
                self._learn_mac(m.group(0))
        for rx in _PROMPTS:
            for m in rx.finditer(text):
                groups = m.groupdict()
                if groups.get("host"):
                    self._learn_host(groups["host"])
                if groups.get("user"):
                    self._learn_user(groups["user"])
                for home in _HOME_RE.finditer(m.group(0)):
                    self._learn_user(home.group("user"))

    def learn_json(self, obj: Any) -> None:
        """Pass 1 over parsed JSON (``ip -j addr``: ``local`` + ``prefixlen``)."""
        if self._frozen:
            raise RuntimeError("learn_*() after redaction started")
        stack = [obj]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for a, n in (("local", "prefixlen"), ("src", "srclen"), ("dst", "dstlen"),
                             ("addr", "len")):
                    if isinstance(node.get(a), str) and isinstance(node.get(n), int) \
                            and not isinstance(node.get(n), bool):
                        self._learn_prefix(node[a], node[n])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, str):
                self.learn_text(node)

    def _learn_address(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        self._learn_node(ip.version, int(ip), _BITS[ip.version])
        return True

    def _learn_node(self, version: int, value: int, length: int) -> None:
        """A network (or, at full length, an address) of the dump: a block, a pool address
        to avoid, or a short network to keep."""
        bits = _BITS[version]
        lo = value >> (bits - length) << (bits - length)
        hi = lo | ((1 << (bits - length)) - 1)
        for pool in POOLS[version]:
            plo, phi = int(pool.network_address), int(pool.broadcast_address)
            if plo <= lo and hi <= phi:  # the dump's own use of a pool: no stand-in there
                self._pools[version].take(lo >> (bits - length), length)
        if version == 6:
            for net in (_MAPPED4, _NAT64):
                if int(net.network_address) <= lo and hi <= int(net.broadcast_address):
                    if length >= 96:
                        self._learn_node(4, value & 0xFFFFFFFF, length - 96)
                    return
        if not _all_public(version, lo, hi) or length < MIN_PREFIX[version]:
            if _any_public(version, lo, hi):  # a network that names nobody: kept
                self._short[version].add((lo >> (bits - length), length))
                if value == lo and length < bits and _any_public(version, lo, lo):
                    self._short_addrs[version].add(lo)
            return
        if length > _BLOCK[version]:
            length = _BLOCK[version]
        self._nodes[version].add((lo >> (bits - length), length))

    def _learn_prefix(self, addr: str, length: int) -> None:
        """A network or interface ``addr/length`` seen in the input: keep its host parts.

        The stand-in network keeps the all-zeros and all-ones host parts, so
        its network address stays the network address in every file, whether
        written ``a/n``, ``"src":"a","srclen":n`` or bare, and the broadcast
        the kernel derives from an interface address stays its broadcast.
        """
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return
        bits = _BITS[ip.version]
        if not 0 <= length <= bits:
            return
        value = int(ip)
        self._learn_node(ip.version, value, length)
        if value >> (bits - length) << (bits - length) != value:  # an interface: its address
            self._learn_node(ip.version, value, bits)
        if 0 < length < bits:
            self._networks[ip.version].setdefault(length, set()).add(value >> (bits - length))

    def _learn_mac(self, mac: str) -> None:
        raw = _mac_bytes(mac)
        if raw is not None and raw[:5] in _DOC_MAC.values():
            self._doc_macs_seen.add(raw.hex())

    def add_host(self, name: str) -> None:
        """A host name known from elsewhere (the capturing machine's own): replace it too."""
        if self._frozen:
            raise RuntimeError("add_host() after redaction started")
        if name:
            self._learn_host(name)

    def _learn_host(self, host: str) -> None:
        short = host.split(".")[0]
        for name in {host, short}:
            if name and name not in self._hosts and name != "localhost":
                self._hosts[name] = ""

    def _learn_user(self, user: str) -> None:
        if user and user.lower() not in _NOT_USERS:
            self._users.setdefault(user, "")

    def _freeze(self) -> None:
        if self._frozen:
            return
        self._frozen = True
        for name in sorted(self._hosts):
            self._hosts[name] = "host-" + self._hash("host", name)[:4].hex()
        for name in sorted(self._users):
            self._users[name] = "user-" + self._hash("user", name)[:3].hex()
        words = [h for h in self._hosts if h.lower() not in _STOPWORDS and len(h) >= 3]
        words += [u for u in self._users if u.lower() not in _STOPWORDS and len(u) >= 3]
        if words:
            alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            self._host_re = re.compile(rf"(?<![\w.-])(?:{alt})(?![\w-])")
        skipped = [h for h in self._hosts if h not in words]
        if skipped:
            self.warnings.append(
                "host name(s) " + ", ".join(sorted(skipped)) + " replaced in shell prompts only: "
                "too short, or a word that also means something else in a dump")
        for version in (4, 6):
            self._place_blocks(version)

    def _place_blocks(self, version: int) -> None:
        """Give every outermost public block of the dump a stand-in block in a pool."""
        blocks = self._blocks[version]
        for value, length in sorted(self._nodes[version], key=lambda n: (n[1], n[0])):
            if self._block_of(version, value, length) is not None:
                continue
            blocks.setdefault(length, {})[value] = self._allocate(version, value, length)
        short = self._short[version]
        if not short:
            return
        bits = _BITS[version]
        short_lens = sorted({n for _, n in short})
        moved = []
        for length, table in blocks.items():
            for orig, new in table.items():
                for n in short_lens:
                    if n > length:
                        break
                    a = ((orig >> (length - n)), n) in short
                    b = ((new >> (length - n)), n) in short
                    if a != b:
                        net = (orig >> (length - n)) << (bits - n)
                        moved.append(f"{_addr(version, net)}/{n}")
        if moved:
            some = sorted(set(moved))
            self.warnings.append(
                "not modelled: the public network(s) " + ", ".join(some[:5])
                + (", …" if len(some) > 5 else "") + " are shorter than /"
                f"{MIN_PREFIX[version]} and kept as they are, but the stand-ins of addresses in "
                "(or out of) them are not: a route through them may decide otherwise")

    def _block_of(self, version: int, value: int, length: int) -> tuple[int, int, int] | None:
        """(original prefix, length, stand-in prefix) of the placed block holding the node."""
        for n, table in self._blocks[version].items():
            if n <= length:
                new = table.get(value >> (length - n))
                if new is not None:
                    return value >> (length - n), n, new
        return None

    def _allocate(self, version: int, value: int, length: int) -> int:
        """A free aligned block of ``length`` in the first pool with room: keyed-hash slot."""
        pool_state = self._pools[version]
        bits = _BITS[version]
        for pool in POOLS[version]:
            plen = pool.prefixlen
            if plen > length:
                continue
            base = int(pool.network_address) >> (bits - length)
            slots = 1 << (length - plen)
            for counter in range(48):
                h = int.from_bytes(self._hash("block", f"{version}/{value}/{length}/{counter}")[:16],
                                   "big")
                cand = base + h % slots
                if pool_state.free(cand, length):
                    pool_state.take(cand, length)
                    return cand
            if slots <= 1 << 16:  # small or nearly full: look at every slot once
                start = h % slots
                for i in range(slots):
                    cand = base + (start + i) % slots
                    if pool_state.free(cand, length):
                        pool_state.take(cand, length)
                        return cand
        raise DumpError("<redact>", 0, "fewer public networks than the stand-in ranges hold",
                        got=f"no free /{length} for IPv{version} stand-ins")

    # ------------------------------------------------------------------ mapping

    def _hash(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def _pinned(self, version: int, value: int) -> list[bool]:
        """``pinned[d]``: must the node at depth ``d`` on this address's path keep its bit?

        It must when it lies on the leftmost or rightmost path of a network
        seen in the input (``_learn_prefix``) or of the block it is placed
        with: the address's first ``n`` bits are that network's, and its bits
        ``n .. d-1`` are all zeros or all ones.
        """
        nbits = _BITS[version]
        pinned = [False] * nbits
        nets = [(n, s) for n, s in self._networks[version].items()]
        for n, table in self._blocks[version].items():
            nets.append((n, table.keys()))  # type: ignore[arg-type]
        for n, prefixes in nets:
            if n >= nbits or value >> (nbits - n) not in prefixes:
                continue
            first = (value >> (nbits - 1 - n)) & 1
            reach = n + 1
            while reach < nbits and (value >> (nbits - 1 - reach)) & 1 == first:
                reach += 1
            for d in range(n, min(reach, nbits - 1) + 1):
                pinned[d] = True
        return pinned

    def _permute_low(self, version: int, value: int, start: int) -> int:
        """Crypto-PAn's walk below depth ``start``: the low bits of the stand-in."""
        nbits = _BITS[version]
        pinned = self._pinned(version, value)
        low = 0
        for depth in range(start, nbits):
            bit = (value >> (nbits - 1 - depth)) & 1
            if not pinned[depth]:
                bit ^= hashlib.blake2b(b"%d/%d/%d" % (version, depth, value >> (nbits - depth)),
                                       key=self._key, digest_size=1).digest()[0] & 1
            low = (low << 1) | bit
        return low

    def ip(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
           ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        """The stand-in for one address (itself when in a kept range)."""
        self._freeze()
        done = self._ips.get(addr)
        if done is None:
            done = self._ips[addr] = self._ip(addr)
        return done

    def _ip(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
            ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        version = addr.version
        value = int(addr)
        if isinstance(addr, ipaddress.IPv6Address):
            if addr in _MAPPED4 or addr in _NAT64:
                low = ipaddress.IPv4Address(value & 0xFFFFFFFF)
                return ipaddress.IPv6Address((value >> 32 << 32) | int(self.ip(low)))
            if not is_public(addr):
                return self._eui64(addr)
        elif not is_public(addr):
            return addr
        if value in self._short_addrs[version]:
            return addr  # the network address of a short public network: kept with it
        bits = _BITS[version]
        found = self._block_of(version, value, bits)
        if found is None:  # not in the dump: placed now, with its block
            n = _BLOCK[version]
            block = value >> (bits - n)
            new_block = self._allocate(version, block, n)
            self._blocks[version].setdefault(n, {})[block] = new_block
            found = (block, n, new_block)
        _orig, n, new_block = found
        out = (new_block << (bits - n)) | self._permute_low(version, value, n)
        if version == 6 and n <= 64:
            raw = addr.packed
            if raw[11] == 0xFF and raw[12] == 0xFE:  # an EUI-64 interface id: its MAC's
                out = (out >> 64 << 64) | int.from_bytes(self._eui64_iid(raw[8:]), "big")
        return type(addr)(out)

    def network(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network
                ) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The stand-in network: the mapped network address, same prefix length."""
        if net.prefixlen < MIN_PREFIX[net.version]:
            return net
        mapped = self.ip(net.network_address)
        return ipaddress.ip_network(f"{mapped}/{net.prefixlen}", strict=False)

    def _eui64_iid(self, iid: bytes) -> bytes:
        """The stand-in of an EUI-64 interface id: its MAC's stand-in, as EUI-64."""
        mac = bytes([iid[0] ^ 0x02]) + iid[1:3] + iid[5:8]
        new = bytes.fromhex(self.mac(":".join(f"{b:02x}" for b in mac)).replace(":", ""))
        return bytes([new[0] ^ 0x02]) + new[1:3] + b"\xff\xfe" + new[3:6]

    def _eui64(self, addr: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
        """A kept IPv6 address whose interface id is an EUI-64 (``ff:fe``): follow its MAC."""
        raw = addr.packed
        if raw[11] != 0xFF or raw[12] != 0xFE or addr in _MCAST6:
            return addr
        return ipaddress.IPv6Address(raw[:8] + self._eui64_iid(raw[8:]))

    def mac(self, mac: str) -> str:
        """The stand-in MAC (colon notation): RFC 7042's documentation block, I/G bit kept;
        all-zeros and broadcast kept."""
        self._freeze()
        raw = _mac_bytes(mac)
        if raw is None:
            return mac
        low = ":".join(f"{b:02x}" for b in raw)
        if low in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            return low
        done = self._macs.get(low)
        if done is not None:
            return done
        group = raw[0] & 0x01
        out = ""
        for counter in range(64):
            h = self._hash("mac", f"{low}/{counter}")
            if counter < 32:
                cand = _DOC_MAC[group] + h[:1]
            else:  # the documentation block is full: a locally administered one
                cand = bytes([(h[0] & 0xFC) | 0x02 | group]) + h[1:6]
            text = ":".join(f"{b:02x}" for b in cand)
            if text not in self._mac_images and cand.hex() not in self._doc_macs_seen \
                    and text != low:
                out = text
                break
        if not out:
            raise DumpError("<redact>", 0, "fewer MAC addresses", got="no free stand-in MAC")
        self._macs[low] = out
        self._mac_images.add(out)
        self.mapping[mac] = out
        self.counts["mac"] += 1
        return out

    def wg_key(self, key: str) -> str:
        """The stand-in WireGuard key: 32 keyed-hash bytes, base64, still 44 characters."""
        self._freeze()
        out = base64.b64encode(self._hash("wgkey", key)).decode()
        if key not in self.mapping:
            self.counts["key"] += 1
        self.mapping[key] = out
        return out

    def host(self, name: str) -> str:
        self._freeze()
        out = self._hosts.get(name) or self._users.get(name) or name
        if out != name:
            self.counts["host"] += 1
            self.mapping[name] = out
        return out

    # ------------------------------------------------------------------ text

    def _address_token(self, token: str) -> str:
        """One address literal (``a``, ``a/n``, ``a%zone``) -> its stand-in, format kept."""
        m = _V6TOKEN_RE.match(token)
        if not m:
            return token
        try:
            ip = ipaddress.ip_address(m.group("a"))
        except ValueError:
            return token
        length = m.group("len")
        bits = _BITS[ip.version]
        if length is not None and int(length) < bits:
            host_bits = bits - int(length)
            if int(ip) & ((1 << host_bits) - 1) == 0 \
                    and (int(ip) >> host_bits, int(length)) in self._short[ip.version]:
                return token  # a short (or partly kept) network names nobody: kept
        new = self.ip(ip)
        if length is not None and int(length) <= bits:
            host_bits = bits - int(length)
            if host_bits and int(ip) & ((1 << host_bits) - 1) == 0:
                new = type(new)(int(new) >> host_bits << host_bits)
        if new == ip:
            return token
        text = str(new)
        if ip.version == 6 and "." in m.group("a") and int(new) >> 32 == int(ip) >> 32:
            # keep the dotted tail of ::ffff:1.2.3.4 / 64:ff9b::1.2.3.4
            head = m.group("a")[:m.group("a").rfind(":") + 1]
            text = head + str(ipaddress.IPv4Address(int(new) & 0xFFFFFFFF))
        elif ip.version == 6 and m.group("a").upper() == m.group("a") and any(
                c.isalpha() for c in m.group("a")):
            text = text.upper()
        if str(ip) not in self.mapping:
            self.counts["address"] += 1
        self.mapping[str(ip)] = str(new)
        return text + (m.group("zone") or "") + (f"/{length}" if length is not None else "")

    def _v4_sub(self, m: re.Match[str]) -> str:
        return self._address_token(m.group(0))

    def _mac_token(self, token: str) -> str:
        """A MAC in any notation -> its stand-in in the same notation and case."""
        new = self.mac(token).replace(":", "")
        if len(new) != 12:
            return token
        if "-" in token:
            out = "-".join(new[i:i + 2] for i in range(0, 12, 2))
        elif "." in token:
            out = ".".join(new[i:i + 4] for i in range(0, 12, 4))
        elif ":" in token:
            out = ":".join(new[i:i + 2] for i in range(0, 12, 2))
        else:
            out = new
        if any(c.isupper() for c in token) and not any(c.islower() for c in token):
            out = out.upper()
        return out

    def _token(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        token = m.group(0)
        if kind == "key":
            return self.wg_key(token)
        if kind == "v4":
            return self._address_token(token)
        if kind in ("macd", "macc", "macb"):
            return self._mac_token(token)
        # a hex/colon token: an IPv6 address, a MAC, or text holding IPv4 (a:b:c, 1.2.3.4:51820)
        if _MAC_RE.match(token):
            return self._mac_token(token)
        stripped = token.rstrip(".")
        tail = token[len(stripped):]
        try:
            ipaddress.ip_address(_V6TOKEN_RE.match(stripped).group("a"))  # type: ignore[union-attr]
            return self._address_token(stripped) + tail
        except (ValueError, AttributeError):
            return _V4_RE.sub(self._v4_sub, token)

    def _prompt(self, m: re.Match[str]) -> str:
        """A prompt with its user and host names (and a home directory's user) replaced."""
        text = m.group(0)
        base = m.start()
        spans = []
        for group in ("user", "host"):
            if m.re.groupindex.get(group) and m.group(group):
                spans.append((m.start(group) - base, m.end(group) - base, group))
        out = []
        last = 0
        for s, e, group in sorted(spans):
            name = text[s:e]
            out.append(text[last:s])
            out.append(self.host(name) if group == "host" else (self._users.get(name) or name))
            last = e
        out.append(text[last:])
        return _HOME_RE.sub(lambda h: h.group(0).replace(
            h.group("user"), self._users.get(h.group("user")) or h.group("user")), "".join(out))

    def text(self, text: str) -> str:
        """Redact one text (a session, an ``ip`` dump, JSON text): format and colour kept."""
        self._freeze()
        plain, codes = strip_ansi(text)
        self._check_ranges(plain)
        marks = [p for p, _ in codes]
        out = _sub_tracked(_TOKEN_RE, self._token, plain, marks)
        if self._hosts or self._users:
            for rx in _PROMPTS:
                out = _sub_tracked(rx, self._prompt, out, marks)
        if self._host_re is not None:
            out = _sub_tracked(self._host_re, lambda m: self.host(m.group(0)), out, marks)
        return _put_back(out, marks, codes) if codes else out

    def _check_ranges(self, text: str) -> None:
        for m in re.finditer(r"(?<![\w.:])([0-9A-Fa-f:.]+)\s*-\s*([0-9A-Fa-f:.]+)(?![\w.:])", text):
            try:
                a, b = ipaddress.ip_address(m.group(1)), ipaddress.ip_address(m.group(2))
            except ValueError:
                continue
            if a.version == b.version and (is_public(a) or is_public(b)):
                note = ("not modelled: the address range " + m.group(0) + " is redacted endpoint "
                        "by endpoint; its order (and so its meaning) may not be kept")
                if note not in self.warnings:
                    self.warnings.append(note)


def _mac_bytes(mac: str) -> bytes | None:
    digits = re.sub(r"[:.\-]", "", mac)
    if len(digits) != 12:
        return None
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def _addr(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


# ----------------------------------------------------------------------------- runs

def redact_text(text: str, *, key: bytes | str | None = None) -> str:
    """Redact one self-contained text (a pasted session) in one go."""
    r = Redactor(key)
    _learn_any(r, text)
    return r.text(text)


def _learn_any(r: Redactor, text: str) -> None:
    r.learn_text(text)
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            r.learn_json(json.loads(text))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python reads
            pass


def _bundle_files(src: Path) -> list[Path]:
    return sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))


def redact_bundle(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                  key: bytes | str | None = None, redactor: Redactor | None = None) -> Redactor:
    """Redact every file of a bundle directory into ``dst`` (same names), one mapping for all."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise DumpError(str(dst), 0, "an output directory other than the bundle itself")
    r = redactor or Redactor(key)
    texts: dict[str, str] = {}
    for path in _bundle_files(src):
        try:
            texts[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DumpError(str(path), 0, "a UTF-8 text file", got=str(exc)) from None
        if path.suffix == ".json":
            try:
                r.learn_json(json.loads(texts[path.name]))
            except ValueError as exc:
                line = getattr(exc, "lineno", 0)
                raise DumpError(str(path), line, "valid JSON", got=str(exc)) from None
        r.learn_text(texts[path.name])
    dst.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (dst / name).write_text(r.text(text), encoding="utf-8")
    return r


def _readable_or_plain(source: str, text: str) -> str | None:
    """Refuse a damaged source (DumpError, file:line); ``None`` when ``text`` reads as one.

    Text that is no source at all (a fragment, a message) is still redacted, as
    plain text: the returned note says so.
    """
    from wgexplain.sources import load_raw
    from wgexplain.sources.transcript import looks_like_session

    name = "<stdin>" if source == "-" else source
    if not text.strip():
        raise DumpError(name, 1, "text to redact", got="an empty file")
    try:
        load_raw(name, text=text)
    except DumpError as exc:
        head = text.lstrip()[:200]
        if looks_like_session(text) or head.startswith(("table ", "flush ruleset", "#!")) \
                or '"nftables"' in head or name.endswith((".nft", ".json")):
            raise
        return (f"{name} is not a session, bundle file or ruleset wgexplain reads "
                f"({exc}): redacted as plain text")
    return None


def redact_source(source: str, out: str | None = None, *, key: bytes | str | None = None,
                  stdin: Iterable[str] | None = None) -> RedactResult:
    """``wgexplain redact``: SOURCE a session file, a bundle directory or ``-``.

    A bundle goes to the directory ``out`` (required); a session to the file
    ``out`` or to standard output.
    """
    from wgexplain.sources import load_raw

    r = Redactor(key)
    if source != "-" and Path(source).is_dir():
        if not out:
            raise DumpError(source, 0, "-o OUT: a directory for the redacted bundle")
        load_raw(source)  # unreadable input: DumpError with file:line, nothing written
        redact_bundle(source, out, redactor=r)
        return RedactResult(out, dict(r.counts), tuple(r.warnings))
    if source == "-":
        try:
            text = "".join(stdin if stdin is not None else sys.stdin)
        except UnicodeDecodeError as exc:  # a strict (UTF-8 locale) stdin, as a file is read
            raise DumpError("<stdin>", 0, "UTF-8 text",
                            got=f"binary data (byte 0x{exc.object[exc.start]:02x} at offset "
                                f"{exc.start})") from None
    else:
        path = Path(source)
        if not path.exists():
            raise DumpError(source, 0, "a session file, a bundle directory or '-'",
                            got="no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DumpError(source, 0, "a UTF-8 text file",
                            got=f"binary data (byte 0x{exc.object[exc.start]:02x} at offset "
                                f"{exc.start})") from None
    plain = _readable_or_plain(source, text)
    _learn_any(r, text)
    if plain:
        r.warnings.append(plain)
    result = r.text(text)
    if out and out != "-":
        Path(out).write_text(result, encoding="utf-8")
    else:
        sys.stdout.write(result)
        out = "-"
    return RedactResult(out, dict(r.counts), tuple(r.warnings))
