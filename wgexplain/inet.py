"""``inet_pton()``/``inet_ntop()`` for the readers' and the FIB's hot paths, on every platform.

The readers and the FIB turn address text into bytes and back with the C
library's ``inet_pton``/``inet_ntop`` (via :mod:`socket`) for speed. Some
platforms build Python without IPv6 sockets (Pyodide, which runs the site's
playground), and there ``socket.inet_pton(AF_INET6, ...)`` refuses every
address. There these two fall back to :mod:`ipaddress` for ``AF_INET6``:
the same bytes, the same errors (``OSError``/``ValueError``) and, for the
addresses the simulator prints, the same RFC 5952 text. Elsewhere they *are*
the :mod:`socket` functions, so nothing is slower.
"""

from __future__ import annotations

import ipaddress
import socket
from socket import AF_INET, AF_INET6
from typing import Callable

__all__ = ["AF_INET", "AF_INET6", "inet_ntop", "inet_pton"]


def _sockets_know_ipv6() -> bool:
    try:
        socket.inet_pton(AF_INET6, "::")
    except OSError:
        return False
    return True


def _pton(family: int, text: str) -> bytes:
    if family != AF_INET6:
        return socket.inet_pton(family, text)
    try:
        if "%" in text:  # a scope id: ipaddress reads it, inet_pton() does not
            raise ValueError(text)
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        raise OSError("illegal IP address string passed to inet_pton") from None


def _ntop(family: int, packed: bytes) -> str:
    if family != AF_INET6:
        return socket.inet_ntop(family, packed)
    if len(packed) != 16:
        raise ValueError("invalid length of packed IP address string")
    return str(ipaddress.IPv6Address(bytes(packed)))


inet_pton: Callable[[int, str], bytes] = socket.inet_pton
inet_ntop: Callable[[int, bytes], str] = socket.inet_ntop
if not _sockets_know_ipv6():  # pragma: no cover - exercised by tests/test_playground.py
    inet_pton, inet_ntop = _pton, _ntop
