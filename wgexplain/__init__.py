"""wgexplain: explain how a Linux machine on a WireGuard VPN routes its traffic.

The few names a user needs:

```python
import wgexplain
host = wgexplain.load("examples/mullvad/session-en.txt")
result = wgexplain.route(host, "1.1.1.1")
assert result.dev == "wg-mullvad"
```

`load` reads a dump (pasted session, bundle directory, JSON), `route`
asks the simulated FIB, `trace` follows a packet through netfilter and
the WireGuard device.
"""

from __future__ import annotations

from wgexplain.errors import DumpError, UsageError, WgExplainError
from wgexplain.model import Flow, Host

__all__ = ["load", "route", "trace", "Host", "Flow", "DumpError", "UsageError", "WgExplainError"]
__version__ = "0.1.0"


def load(source, *, text: str | None = None):  # type: ignore[no-untyped-def]
    """Read a SOURCE (pasted session file, bundle directory, `-` for stdin) into a `Host`."""
    from wgexplain.sources import load as _load

    return _load(source, text=text)


def route(host: Host, dst: str, **options):  # type: ignore[no-untyped-def]
    """The routing decision for `dst`, with the options of `ip route get`."""
    from wgexplain.kernel.route import route_get

    return route_get(host, dst, **options)


def trace(host: Host, dst: str, **options):  # type: ignore[no-untyped-def]
    """The whole journey of one packet to `dst`: routing, nftables, NAT, the WireGuard device."""
    from wgexplain.kernel.path import trace as _trace

    return _trace(host, dst, **options)
