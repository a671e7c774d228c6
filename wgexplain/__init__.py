"""wgexplain: explain how a Linux machine on a WireGuard VPN routes its traffic.

The few names a user needs::

    import wgexplain
    host = wgexplain.load("examples/mullvad/session-en.txt")
    result = wgexplain.route(host, "1.1.1.1")
    print(result.dev)

``load`` reads a dump (pasted session, bundle directory, JSON), ``route``
asks the simulated FIB, ``trace`` follows a packet through netfilter and
the WireGuard device.
"""

from __future__ import annotations

from wgexplain.errors import DumpError, UsageError, WgExplainError
from wgexplain.model import Flow, Host

__all__ = ["load", "route", "trace", "Host", "Flow", "DumpError", "UsageError", "WgExplainError"]
__version__ = "0.1.0"


def load(source, *, text: str | None = None):  # type: ignore[no-untyped-def]
    """Read a SOURCE (file, bundle directory, ``-``) into a :class:`Host`."""
    from wgexplain.sources import load as _load

    return _load(source, text=text)


def route(host: Host, dst: str, **options):  # type: ignore[no-untyped-def]
    """The routing decision for ``dst``, with ``ip route get`` options."""
    from wgexplain.kernel.route import route_get

    return route_get(host, dst, **options)


def trace(host: Host, dst: str, **options):  # type: ignore[no-untyped-def]
    """The whole journey of one packet to ``dst``."""
    from wgexplain.kernel.path import trace as _trace

    return _trace(host, dst, **options)
