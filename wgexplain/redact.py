"""Redact a dump before sharing it: public addresses, WireGuard keys, MACs, host names.

``wgexplain redact SOURCE [-o OUT] [--key K]`` and ``capture --redact``.
What is replaced, consistently within one run (and across runs with the
same ``--key``):

* **public IP addresses**, v4 and v6, by a keyed *prefix-preserving*
  permutation (the Crypto-PAn idea, Xu et al. 2002): bit ``i`` of the
  stand-in is bit ``i`` of the original XOR a keyed pseudo-random function
  of the first ``i`` bits. Two addresses sharing a ``k``-bit prefix share
  exactly a ``k``-bit prefix afterwards, so a network and its hosts stay a
  network and its hosts, and masks and prefix lengths are unchanged.
  Private, shared, loopback, link-local, documentation, benchmarking,
  multicast and reserved ranges (``KEPT``) are kept as they are: they carry
  meaning for the explanation. A node of the bit tree is only ever flipped
  when its whole subtree is public, so a public address never lands in a
  kept range and a kept one never moves; the first flippable bit of every
  path is flipped, so no public address is its own stand-in. For every
  public network or interface address seen in the input, the all-zeros and
  all-ones host parts are kept too, so a network address stays the network
  address and a broadcast address stays the broadcast (the kernel derives
  ``broadcast`` routes from them: routing decisions stay the same).
* **WireGuard keys** (44-character base64): a keyed hash, still a valid key.
* **MAC addresses**: a keyed hash, locally administered, unicast/multicast
  bit kept; all-zeros and broadcast kept. EUI-64 interface ids of kept IPv6
  addresses (``fe80::…ff:fe…``) follow their MAC.
* **host names** (and user names) from shell prompts (``user@host:~$``,
  ``[user@host dir]$``), wherever the host name appears afterwards.

The output keeps its format: only the matched tokens change, so a session
stays a readable session, a bundle a bundle, JSON valid JSON.

Why written here rather than taken from PyPI: ``yacryptopan`` and
``pycryptopan`` implement Crypto-PAn, but map *every* address (a public
address can land in 10/8 and a private one moves), need AES from
``cryptography``/``pycrypto``, and do not keep network/broadcast host parts;
the requirements above need the tree walk itself, and HMAC-SHA256 from the
standard library is a sufficient keyed function for it.

Not modelled: address ranges (``a-b`` in nft) are mapped endpoint by
endpoint, and a prefix-preserving map does not keep order, so a public
range may come out reversed: ``Redactor.warnings`` says so when it happens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from wgexplain.errors import DumpError

__all__ = ["KEPT", "Redactor", "is_public", "redact_text", "redact_bundle", "redact_source",
           "RedactResult"]

_KEPT4 = ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
          "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24",
          "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
          "224.0.0.0/4", "240.0.0.0/4")
_KEPT6 = ("::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
          "2001::/23", "2001:db8::/32", "3fff::/20", "fc00::/7", "fe80::/10", "ff00::/8")
#: Ranges never redacted: special-purpose (IANA), private, link-local, documentation, multicast.
KEPT: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n) for n in _KEPT4 + _KEPT6)
_KEPT_RANGES: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
for _net in KEPT:
    _KEPT_RANGES[_net.version].append((int(_net.network_address), int(_net.broadcast_address)))
_BITS = {4: 32, 6: 128}
_MAPPED4 = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True when ``addr`` is outside every ``KEPT`` range (and would be redacted)."""
    value = int(addr)
    return not any(lo <= value <= hi for lo, hi in _KEPT_RANGES[addr.version])


# ----------------------------------------------------------------------------- regexes

_WGKEY = r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])"
_HEXCOLON = r"(?<![\w:.%])[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%[\w.-]+)?(?:/\d{1,3})?(?![\w:])"
_V4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?!\.?\d)"
_V4_RE = re.compile(_V4)
_TOKEN_RE = re.compile(f"(?P<key>{_WGKEY})|(?P<hc>{_HEXCOLON})|(?P<v4>{_V4})")
#: a prefix literal ``1.2.3.0/24``, ``2001:db8::/32``, ``inet 1.2.3.4/24``
_PREFIX_RE = re.compile(r"(?<![\w:.])(?P<a>[0-9A-Fa-f:.]+)/(?P<n>\d{1,3})(?![\w:])")
#: a split pair in JSON text: ``"local":"1.2.3.4",…"prefixlen":24``, ``"src":"1.2.0.0","srclen":16``
_PAIR_JSON_RE = re.compile(
    r'"(?:local|src|dst|addr)"\s*:\s*"(?P<a>[0-9A-Fa-f:.]+)"\s*,[^{}\[\]]*?'
    r'"(?:prefixlen|srclen|dstlen|len)"\s*:\s*(?P<n>\d{1,3})')
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_V6TOKEN_RE = re.compile(r"^(?P<a>[0-9A-Fa-f:.]+)(?P<zone>%[\w.-]+)?(?:/(?P<len>\d{1,3}))?$")
#: shell prompts: ``user@host:~$ ``, ``user@host /etc # ``, ``[user@host dir]$ ``
_PROMPT_RE = re.compile(
    r"^(?P<pre>[ \t]*\[?)(?P<user>[a-z_][a-z0-9_.-]{0,31})@(?P<host>[A-Za-z0-9][A-Za-z0-9.-]{0,62})"
    r"(?P<post>(?::|\s)[^\n$#%]*?[\]]?\s?[$#%](?:\s|$))", re.M)
#: words a host name must not be replaced as outside prompts: they also mean something else
_STOPWORDS = frozenset("""all any default dev from global host inet inet6 ip kernel link local
localhost lookup main nft prohibit proto root route rule scope src static table to unicast
unreachable via wg dhcp boot blackhole throw broadcast multicast accept drop reject""".split())


@dataclass(frozen=True, slots=True)
class RedactResult:
    """What one ``redact_source`` run did."""

    output: str  # the path written, or "-" for stdout
    replaced: dict[str, int]
    warnings: tuple[str, ...]


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
        self._frozen = False
        self._free: dict[tuple[int, int, int], bool] = {}
        self._ips: dict[ipaddress.IPv4Address | ipaddress.IPv6Address,
                        ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
        self._macs: dict[str, str] = {}
        self._mac_images: set[str] = set()
        self._hosts: dict[str, str] = {}
        self._users: dict[str, str] = {}
        self._host_re: re.Pattern[str] | None = None
        #: original -> stand-in, for every value replaced (addresses as strings)
        self.mapping: dict[str, str] = {}
        self.counts: dict[str, int] = {"address": 0, "key": 0, "mac": 0, "host": 0}
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ learning

    def learn_text(self, text: str) -> None:
        """Pass 1 over a text: prefix lengths of public interface addresses, prompt host names."""
        if self._frozen:
            raise RuntimeError("learn_*() after redaction started")
        for rx in (_PREFIX_RE, _PAIR_JSON_RE):
            for m in rx.finditer(text):
                self._learn_prefix(m.group("a"), int(m.group("n")))
        for m in _PROMPT_RE.finditer(text):
            self._learn_host(m.group("host"))
            if m.group("user") != "root":
                self._users.setdefault(m.group("user"), "")

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
                    if isinstance(node.get(a), str) and isinstance(node.get(n), int):
                        self._learn_prefix(node[a], node[n])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, str):
                self.learn_text(node)

    def _learn_prefix(self, addr: str, length: int) -> None:
        """A network or interface ``addr/length`` seen in the input: keep its host parts.

        The stand-in network keeps the all-zeros and all-ones host parts, so
        its network address stays the network address in every file, whether
        written ``a/n``, ``"src":"a","srclen":n`` or bare, and the broadcast
        the kernel derives from an interface address stays its broadcast.
        The price: bits pinned this way are never flipped, and an address all
        of whose bits are pinned (the network address of a public network
        that cannot move, e.g. ``2800::/5``) keeps its value, said in
        ``warnings``.
        """
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return
        if not 0 < length < _BITS[ip.version]:
            return
        net = ipaddress.ip_network(f"{ip}/{length}", strict=False)
        if is_public(net.network_address) or is_public(net.broadcast_address):
            bits = _BITS[ip.version]
            self._networks[ip.version].setdefault(length, set()).add(int(ip) >> (bits - length))

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

    # ------------------------------------------------------------------ mapping

    def _hash(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def _is_free(self, version: int, depth: int, prefix: int) -> bool:
        """Is the node's whole subtree outside the kept ranges? (Cached: few nodes ask.)"""
        k = (version, depth, prefix)
        free = self._free.get(k)
        if free is None:
            shift = _BITS[version] - depth
            lo = prefix << shift
            hi = lo | ((1 << shift) - 1)
            free = not any(lo <= khi and klo <= hi for klo, khi in _KEPT_RANGES[version])
            self._free[k] = free
        return free

    def _pinned(self, version: int, value: int) -> list[bool]:
        """``pinned[d]``: must the node at depth ``d`` on this address's path keep its bit?

        It must when it lies on the leftmost or rightmost path of a network
        seen in the input (``_learn_prefix``): the address's first ``n`` bits
        are that network's, and its bits ``n .. d-1`` are all zeros or all ones.
        """
        nbits = _BITS[version]
        pinned = [False] * nbits
        for n, nets in self._networks[version].items():
            if value >> (nbits - n) not in nets:
                continue
            reach = n  # the deepest node whose bits since n are uniform
            if n < nbits:
                first = (value >> (nbits - 1 - n)) & 1
                reach = n + 1
                while reach < nbits and (value >> (nbits - 1 - reach)) & 1 == first:
                    reach += 1
            for d in range(n, min(reach, nbits - 1) + 1):
                pinned[d] = True
        return pinned

    def _permute(self, version: int, value: int) -> int:
        """Crypto-PAn's walk: bit ``d`` XOR a keyed function of the first ``d`` bits.

        A node flips only when its subtree is wholly public and it is not
        pinned; the first node of the path that may flip always flips (so
        no public address is its own stand-in), the others flip by the key.
        """
        nbits = _BITS[version]
        pinned = self._pinned(version, value)
        out = 0
        free = first = False
        for depth in range(nbits):
            bit = (value >> (nbits - 1 - depth)) & 1
            prefix = value >> (nbits - depth) if depth else 0
            if not free:
                free = self._is_free(version, depth, prefix)  # a free node's subtree is free
            if free and not pinned[depth]:
                if not first:
                    first = True
                    bit ^= 1
                else:
                    bit ^= hashlib.blake2b(b"%d/%d/%d" % (version, depth, prefix), key=self._key,
                                           digest_size=1).digest()[0] & 1
            out = (out << 1) | bit
        return out

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
        if addr.version == 6:
            if addr in _MAPPED4 or addr in _NAT64:
                low = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
                return ipaddress.IPv6Address((int(addr) >> 32 << 32) | int(self.ip(low)))
            if not is_public(addr):
                return self._eui64(addr)
        elif not is_public(addr):
            return addr
        out = type(addr)(self._permute(addr.version, int(addr)))
        if out == addr:
            note = (f"{addr} keeps its value: every bit of it is pinned by the network and "
                    "broadcast addresses of the prefixes around it")
            if note not in self.warnings:
                self.warnings.append(note)
        return out

    def network(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network
                ) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The stand-in network: the mapped network address, same prefix length."""
        mapped = self.ip(net.network_address)
        return ipaddress.ip_network(f"{mapped}/{net.prefixlen}", strict=False)

    def _eui64(self, addr: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
        """A kept IPv6 address whose interface id is an EUI-64 (``ff:fe``): follow its MAC."""
        raw = addr.packed
        if raw[11] != 0xFF or raw[12] != 0xFE or addr in ipaddress.ip_network("ff00::/8"):
            return addr
        mac = bytes([raw[8] ^ 0x02]) + raw[9:11] + raw[13:16]
        new = bytes.fromhex(self.mac(":".join(f"{b:02x}" for b in mac)).replace(":", ""))
        iid = bytes([new[0] ^ 0x02]) + new[1:3] + b"\xff\xfe" + new[3:6]
        return ipaddress.IPv6Address(raw[:8] + iid)

    def mac(self, mac: str) -> str:
        """The stand-in MAC: locally administered, I/G bit kept; 00:… and ff:… kept."""
        self._freeze()
        low = mac.lower()
        if low in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
            return mac
        if low in self._macs:
            return self._macs[low]
        first = int(low[:2], 16)
        counter = 0
        while True:
            h = self._hash("mac", f"{low}/{counter}")
            b0 = (h[0] & 0xFC) | 0x02 | (first & 0x01)
            out = ":".join(f"{b:02x}" for b in bytes([b0]) + h[1:6])
            if out not in self._mac_images and out != low:
                break
            counter += 1
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
        new = self.ip(ip)
        if length is not None and int(length) <= _BITS[ip.version]:
            host_bits = _BITS[ip.version] - int(length)
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

    def _token(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        token = m.group(0)
        if kind == "key":
            return self.wg_key(token)
        if kind == "v4":
            return self._address_token(token)
        # a hex/colon token: an IPv6 address, a MAC, or text holding IPv4 (a:b:c, 1.2.3.4:51820)
        if _MAC_RE.match(token):
            return self.mac(token)
        stripped = token.rstrip(".")
        tail = token[len(stripped):]
        try:
            ipaddress.ip_address(_V6TOKEN_RE.match(stripped).group("a"))  # type: ignore[union-attr]
            return self._address_token(stripped) + tail
        except (ValueError, AttributeError):
            return _V4_RE.sub(self._v4_sub, token)

    def _prompt(self, m: re.Match[str]) -> str:
        user = m.group("user")
        return (m.group("pre") + (self._users.get(user) or user) + "@" + self.host(m.group("host"))
                + m.group("post"))

    def text(self, text: str) -> str:
        """Redact one text (a session, an ``ip`` dump, JSON text): format kept."""
        self._freeze()
        self._check_ranges(text)
        out = _TOKEN_RE.sub(self._token, text)
        if self._hosts:
            out = _PROMPT_RE.sub(self._prompt, out)
        if self._host_re is not None:
            out = self._host_re.sub(lambda m: self.host(m.group(0)), out)
        return out

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
        except ValueError:
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
        text = "".join(stdin if stdin is not None else sys.stdin)
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
