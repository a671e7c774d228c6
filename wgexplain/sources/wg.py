"""Read WireGuard's ``wg`` output into :class:`WgInterface` objects.

The twin of wireguard-tools' ``src/show.c`` (``pretty_print()``,
``dump_print()``, ``ugly_print()``) and ``src/showconf.c``:

* ``wg show [IF|all]``: ``interface: NAME`` then indented ``key: value`` lines,
  a ``peer: KEY`` section per peer;
* ``wg show all dump`` (and ``wg show IF dump`` without the name column):
  tab-separated, an interface line ``name priv pub port fwmark`` then a
  line per peer ``name pub psk endpoint allowed-ips handshake rx tx keepalive``;
* ``wg showconf IF``: ``[Interface]``/``[Peer]`` sections of ``Key = value``;
* ``wg show all|IF fwmark|listen-port|endpoints|allowed-ips`` (one field).

Private keys are never kept. ``latest_handshake`` is the epoch second from
``dump``; from the human form (``1 minute, 2 seconds ago``) it is the age
as a negative number of seconds; 0 means never (or not shown).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from wgexplain.errors import DumpError
from wgexplain.model import Origin, WgInterface, WgPeer
from wgexplain.sources import rtnames

_UNITS = {"year": 365 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
_AGO = re.compile(r"([0-9]{1,12}) (year|day|hour|minute|second)s?")
_KEEPALIVE = re.compile(r"every ([0-9]{1,5}) seconds?|(?<![0-9])([0-9]{1,5})(?![0-9])")
_U16 = 0xFFFF
_U64 = (1 << 64) - 1


def _endpoint(text: str, file: str, line: int) -> tuple[Any, int] | None:
    if text in ("(none)", ""):
        return None
    host, sep, port = text.rpartition(":")
    try:
        port_v = rtnames.dec(port, 0, _U16) if sep else None
        if port_v is None:
            raise ValueError(text)
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]), port_v
    except ValueError:
        raise DumpError(file, line, "an endpoint like 203.0.113.76:19955 or [2001:db8::1]:51820",
                        got=text) from None


def _allowed(text: str, file: str, line: int) -> tuple[Any, ...]:
    if text.strip() in ("(none)", ""):
        return ()
    out = []
    for part in text.replace(",", " ").split():
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise DumpError(file, line, "allowed IPs like 0.0.0.0/0, ::/0", got=part) from None
    return tuple(out)


def _fwmark(text: str, file: str, line: int) -> int:
    if text in ("off", "0"):
        return 0
    v = rtnames.parse_int(text, rtnames.U32) if not text.startswith("0") or text[:2] in (
        "0x", "0X") else rtnames.dec(text)  # wg prints decimal or 0x hex, never octal
    if v is None:
        raise DumpError(file, line, "a fwmark like 0x6d6f6c65 or 'off' (a u32)", got=text)
    return v


def _int(text: str, file: str, line: int, what: str, hi: int = _U16) -> int:
    """A number of ASCII digits up to ``hi`` (ports and keepalive: u16; times: u64)."""
    v = rtnames.dec(text, 0, hi)
    if v is None:
        raise DumpError(file, line, f"{what} (0 to {hi})", got=text)
    return v


class _If:
    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.public_key: str | None = None
        self.listen_port: int | None = None
        self.fwmark = 0
        self.peers: list[dict[str, Any]] = []

    def freeze(self, file: str) -> WgInterface:
        return WgInterface(name=self.name, public_key=self.public_key,
                           listen_port=self.listen_port, fwmark=self.fwmark,
                           peers=tuple(WgPeer(**p) for p in self.peers),
                           origin=Origin(file, self.line))


def looks_like_dump(text: str) -> bool:
    """True when the text is ``wg show ... dump`` output (tab-separated)."""
    for line in text.splitlines():
        if line.strip():
            return "\t" in line
    return False


def parse_wg_dump(text: str, file: str, first_line: int = 1,
                  interface: str | None = None) -> list[WgInterface]:
    """``wg show all dump`` (``interface`` None) or ``wg show IF dump``."""
    ifs: list[_If] = []
    by_name: dict[str, _If] = {}
    for i, raw in enumerate(text.split("\n")):
        line = first_line + i
        if not raw.strip():
            continue
        f = raw.rstrip("\r").split("\t")
        if interface is not None:
            f = [interface] + f
        if len(f) == 5:
            cur = _If(f[0], line)
            if f[0] in by_name:
                raise DumpError(file, line, "each interface once", got=f[0])
            by_name[f[0]] = cur
            ifs.append(cur)
            cur.public_key = f[2] if f[2] != "(none)" else None
            cur.listen_port = _int(f[3], file, line, "a listen port") if f[3] != "0" else None
            cur.fwmark = _fwmark(f[4], file, line)
        elif len(f) == 9:
            cur2 = by_name.get(f[0])
            if cur2 is None:
                raise DumpError(file, line, f"the interface line of {f[0]!r} before its peers",
                                got=raw.strip())
            cur2.peers.append({
                "public_key": f[1], "preshared_key": f[2] not in ("(none)", ""),
                "endpoint": _endpoint(f[3], file, line),
                "allowed_ips": _allowed(f[4], file, line),
                "latest_handshake": _int(f[5], file, line, "a handshake time (epoch seconds)",
                                         _U64),
                "keepalive": None if f[8] == "off" else _int(f[8], file, line, "a keepalive"),
            })
        else:
            raise DumpError(file, line, "a 'wg show all dump' line (5 tab-separated fields for "
                            "an interface, 9 for a peer)", got=raw.strip())
    return [x.freeze(file) for x in ifs]


def parse_wg_show(text: str, file: str, first_line: int = 1) -> list[WgInterface]:
    """The human ``wg show`` output (``pretty_print()``)."""
    ifs: list[_If] = []
    cur: _If | None = None
    peer: dict[str, Any] | None = None
    for i, raw in enumerate(text.split("\n")):
        line = first_line + i
        s = raw.strip()
        if not s:
            continue
        key, sep, value = s.partition(": ")
        if not sep and s.endswith(":"):
            key, value = s[:-1], ""
        elif not sep:
            raise DumpError(file, line, "a 'key: value' line of 'wg show'", got=s)
        value = value.strip()
        if key == "interface":
            cur = _If(value, line)
            ifs.append(cur)
            peer = None
        elif cur is None:
            raise DumpError(file, line, "'interface: NAME' first", got=s)
        elif key == "peer":
            peer = {"public_key": value, "preshared_key": False, "endpoint": None,
                    "allowed_ips": (), "latest_handshake": 0, "keepalive": None}
            cur.peers.append(peer)
        elif peer is None:
            if key == "public key":
                cur.public_key = value
            elif key == "listening port":
                cur.listen_port = _int(value, file, line, "a port number")
            elif key == "fwmark":
                cur.fwmark = _fwmark(value, file, line)
            elif key != "private key":
                raise DumpError(file, line, "an interface field (public key, private key, "
                                "listening port, fwmark)", got=s)
        else:
            if key == "preshared key":
                peer["preshared_key"] = True
            elif key == "endpoint":
                peer["endpoint"] = _endpoint(value, file, line)
            elif key == "allowed ips":
                peer["allowed_ips"] = _allowed(value, file, line)
            elif key == "latest handshake":
                secs = sum(int(n) * _UNITS[u] for n, u in _AGO.findall(value))
                peer["latest_handshake"] = -secs if secs else 0
            elif key == "persistent keepalive":
                m = _KEEPALIVE.search(value)
                peer["keepalive"] = int(m.group(1) or m.group(2)) if m else None
            elif key != "transfer":
                raise DumpError(file, line, "a peer field (preshared key, endpoint, allowed ips, "
                                "latest handshake, transfer, persistent keepalive)", got=s)
    return [x.freeze(file) for x in ifs]


def parse_wg_showconf(text: str, file: str, first_line: int, interface: str) -> list[WgInterface]:
    """``wg showconf IF`` (``[Interface]``/``[Peer]`` sections)."""
    cur = _If(interface, first_line)
    section = None
    peer: dict[str, Any] | None = None
    for i, raw in enumerate(text.split("\n")):
        line = first_line + i
        s = raw.split("#", 1)[0].strip()
        if not s:
            continue
        if s in ("[Interface]", "[Peer]"):
            section = s
            if s == "[Peer]":
                peer = {"public_key": "", "preshared_key": False, "endpoint": None,
                        "allowed_ips": (), "latest_handshake": 0, "keepalive": None}
                cur.peers.append(peer)
            continue
        key, sep, value = s.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or section is None:
            raise DumpError(file, line, "'[Interface]', '[Peer]' or 'Key = value'", got=s)
        if section == "[Interface]":
            if key == "listenport":
                cur.listen_port = _int(value, file, line, "a port number")
            elif key == "fwmark":
                cur.fwmark = _fwmark(value, file, line)
            elif key != "privatekey":
                raise DumpError(file, line, "ListenPort, FwMark or PrivateKey", got=s)
        else:
            assert peer is not None
            if key == "publickey":
                peer["public_key"] = value
            elif key == "presharedkey":
                peer["preshared_key"] = True
            elif key == "endpoint":
                peer["endpoint"] = _endpoint(value, file, line)
            elif key == "allowedips":
                peer["allowed_ips"] = _allowed(value, file, line)
            elif key == "persistentkeepalive":
                peer["keepalive"] = None if value == "off" else _int(value, file, line,
                                                                      "a keepalive in seconds")
            else:
                raise DumpError(file, line, "PublicKey, PresharedKey, Endpoint, AllowedIPs or "
                                "PersistentKeepalive", got=s)
    return [cur.freeze(file)]


def parse_wg_field(text: str, file: str, first_line: int, interface: str | None,
                   field: str) -> list[WgInterface]:
    """``wg show all|IF fwmark|listen-port`` (``ugly_print()``): one field per interface."""
    out = []
    for i, raw in enumerate(text.split("\n")):
        line = first_line + i
        if not raw.strip():
            continue
        f = raw.split("\t") if interface is None else [interface, raw.strip()]
        if len(f) != 2:
            raise DumpError(file, line, f"'NAME<tab>{field}'", got=raw.strip())
        name, value = f[0], f[1].strip()
        if field == "fwmark":
            out.append(WgInterface(name=name, fwmark=_fwmark(value, file, line),
                                   origin=Origin(file, line)))
        else:
            out.append(WgInterface(name=name, listen_port=_int(value, file, line, "a port"),
                                   origin=Origin(file, line)))
    return out
