"""Fast constructors for the route reader's hot path (a million routes in seconds).

``ipaddress`` and frozen dataclasses are correct but slow to build one by one:
parsing ``"10.1.2.0/24"`` costs ~3 µs and ``Route(...)`` ~1.8 µs. Here the
same objects are built from integers and slot setters. They compare, hash
and print exactly like the normal ones (``tests/test_fib_columns.py``
checks that against ``ipaddress`` with hypothesis).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from wgexplain.inet import AF_INET as _SOCK_AF_INET, AF_INET6 as _SOCK_AF_INET6, inet_pton
from typing import Any, Callable

from wgexplain.model import Nexthop, Origin, Route

_new = object.__new__
_V4A = ipaddress.IPv4Address
_V6A = ipaddress.IPv6Address
_V4N = ipaddress.IPv4Network
_V6N = ipaddress.IPv6Network
_from_bytes = int.from_bytes

_MASK4 = [_V4A((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF) for p in range(33)]
_MASK6 = [_V6A(((1 << 128) - 1) << (128 - p) & ((1 << 128) - 1)) for p in range(129)]
_MASKINT4 = [int(m) for m in _MASK4]
_MASKINT6 = [int(m) for m in _MASK6]
#: the netmask of each prefix length as an int (IPv4, IPv6)
MASKINT4: list[int] = _MASKINT4
MASKINT6: list[int] = _MASKINT6


def ip4_int(text: str) -> int:
    """Dotted quad -> int; raises OSError/ValueError on anything else (like ``inet_pton``)."""
    return _from_bytes(inet_pton(_SOCK_AF_INET, text), "big")


def ip6_int(text: str) -> int:
    """IPv6 text -> int; raises OSError/ValueError on anything else."""
    return _from_bytes(inet_pton(_SOCK_AF_INET6, text), "big")


def addr4(value: int) -> ipaddress.IPv4Address:
    a = _new(_V4A)
    a._ip = value  # type: ignore[attr-defined]
    return a


def addr6(value: int) -> ipaddress.IPv6Address:
    a = _new(_V6A)
    a._ip = value  # type: ignore[attr-defined]
    a._scope_id = None  # type: ignore[attr-defined]
    return a


def net4(value: int, plen: int) -> ipaddress.IPv4Network | None:
    """The network ``value/plen``, or None when host bits are set (not a network).

    Attributes are set as ``IPv4Network.__init__`` sets them, in its order (so
    the instance keeps Python's compact shared-key attribute storage: no
    separate ``__dict__`` object, half the work for the garbage collector).
    """
    if value & _MASKINT4[plen] != value:
        return None
    n = _new(_V4N)
    a = _new(_V4A)
    a._ip = value  # type: ignore[attr-defined]
    n.network_address = a
    n.netmask = _MASK4[plen]
    n._prefixlen = plen  # type: ignore[attr-defined]
    if plen == 31:
        n.hosts = n.__iter__  # type: ignore[method-assign]
    elif plen == 32:
        # as IPv4Network.__init__ does for a host network: a list, where typeshed says Iterator
        n.hosts = lambda: [a]  # type: ignore[method-assign, assignment, return-value]
    return n


def net6(value: int, plen: int) -> ipaddress.IPv6Network | None:
    """The network ``value/plen`` (see :func:`net4`), or None when host bits are set."""
    if value & _MASKINT6[plen] != value:
        return None
    n = _new(_V6N)
    a = addr6(value)
    n.network_address = a
    n.netmask = _MASK6[plen]
    n._prefixlen = plen  # type: ignore[attr-defined]
    if plen == 127:
        n.hosts = n.__iter__  # type: ignore[method-assign]
    elif plen == 128:
        # as IPv6Network.__init__ does for a host network: a list, where typeshed says Iterator
        n.hosts = lambda: [a]  # type: ignore[method-assign, assignment, return-value]
    return n


def slot_constructor(cls: type, names: list[str]) -> Callable[..., Any]:
    """A positional constructor for a frozen slots dataclass that skips ``__init__``.

    ``names`` are the positional parameters; any other field (one added to the
    model later) gets its default.
    """
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    missing = [n for n in names if n not in known]
    if missing:  # pragma: no cover - guards against a renamed model field
        raise TypeError(f"{cls.__name__} has no field {missing}: update wgexplain/sources/_fast.py")
    g: dict[str, Any] = {"_new": _new, "_C": cls}
    body = ""
    binds = ["_new=_new", "_C=_C"]  # bound as defaults: local lookups in the hot path
    for f in fields:
        g[f"_s_{f.name}"] = cls.__dict__[f.name].__set__
        binds.append(f"_s_{f.name}=_s_{f.name}")
        if f.name in names:
            body += f"    _s_{f.name}(o, {f.name})\n"
        elif f.default is not dataclasses.MISSING:
            g[f"_d_{f.name}"] = f.default
            binds.append(f"_d_{f.name}=_d_{f.name}")
            body += f"    _s_{f.name}(o, _d_{f.name})\n"
        else:
            g[f"_f_{f.name}"] = f.default_factory
            body += f"    _s_{f.name}(o, _f_{f.name}())\n"
    src = ("def make(" + ", ".join(names + binds) + "):\n    o = _new(_C)\n" + body
           + "    return o\n")
    exec(src, g)  # noqa: S102 - generated from the dataclass's own field names
    return g["make"]  # type: ignore[no-any-return]


_slot_constructor = slot_constructor  # the former private name

#: make_route(family, table, dst, type, tos, metric, protocol, scope, prefsrc,
#:            nexthops, flags, pref, expires, extra, origin)
make_route: Callable[..., Route] = slot_constructor(Route, [
    "family", "table", "dst", "type", "tos", "metric", "protocol", "scope", "prefsrc",
    "nexthops", "flags", "pref", "expires", "extra", "origin"])
#: make_origin(file, line)
make_origin: Callable[..., Origin] = slot_constructor(Origin, ["file", "line"])
#: make_nexthop(gateway, dev, weight, onlink, flags)
make_nexthop: Callable[..., Nexthop] = slot_constructor(
    Nexthop, ["gateway", "dev", "weight", "onlink", "flags"])
