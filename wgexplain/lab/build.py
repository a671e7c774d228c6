"""Rebuild a :class:`~wgexplain.model.Host` inside a ``wgx-`` network namespace.

The lab machine gets one stand-in device per dumped link: a veth whose peer
lives in a second ``wgx-`` namespace (``ip -n A link add X type veth peer name
Y netns B``), so nothing is ever created in the host namespace. A link shown
up without ``LOWER_UP`` gets its peer taken down once everything is loaded: a
veth whose peer is down has NO-CARRIER (``netif_carrier_off()``), and its
routes are marked linkdown (``fib_sync_down_dev()`` / ``RTNH_F_LINKDOWN``), as
on a machine whose cable was pulled after it was configured. (A device that
never had carrier would differ for IPv6: ``addrconf_link_ready()`` is false,
so no prefix or ``ff00::/8`` routes; the dump cannot tell the two apart.)

Then, in this order, as the kernel needs it:

1. loopback up, its automatic addresses replaced by the dump's;
2. sysctls (``rp_filter``, ``src_valid_mark``, ``forwarding``, ...) — keys the
   dump does not hold are set to the kernel's built-in defaults, because a
   new namespace otherwise inherits the lab machine's IPv4 ``all``/``default``
   values (``devinet_init_net()``);
3. addresses with their flags (``noprefixroute``, ``peer``, ``brd``); IPv6
   ones with ``nodad`` so they are never left ``tentative``; devices get
   ``addrgenmode none`` so no link-local address appears that the dump lacks.
   The kernel derives table ``local`` and prefix routes from them
   (``fib_add_ifaddr()``, ``addrconf_prefix_route()``);
4. routes of every table, except those the Host marks as derived: the kernel
   makes those itself, and :func:`compare_routes` checks it made the same
   ones — a parity test of the derivations;
5. the dump's rules, exactly (the default ones flushed first, pref 0 too);
6. the nftables ruleset with ``nft -f`` when the dump holds one.

Not modelled here (said in :attr:`LabHost.notes`): device kinds other than
a plain device (bridge/vrf masters), address lifetimes, ``tentative`` /
``dadfailed`` addresses, route metrics such as ``mtu``.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from wgexplain.lab.netns import Lab, LabError
from wgexplain.model import AF_INET, AF_INET6, ROUTE_TYPES, Address, Host, Link, Route, Rule

#: RTN_* numbers (include/uapi/linux/rtnetlink.h) -> iproute2 names; ``ip -N`` prints numbers.
RTN_NAMES: dict[int, str] = {i + 1: name for i, name in enumerate(ROUTE_TYPES)}
RTN_NAMES[0] = "unspec"
#: RT_SCOPE_* numbers -> names.
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
SCOPE_ALIASES = {"universe": "global", "0": "global", "200": "site", "253": "link",
                 "254": "host", "255": "nowhere"}

#: Sysctls that change a routing decision, and the kernel's built-in defaults
#: (``ipv4_devconf`` in net/ipv4/devinet.c, ``ipv6_devconf`` in net/ipv6/addrconf.c).
IPV4_CONF_DEFAULTS = {"rp_filter": "0", "src_valid_mark": "0", "forwarding": "0",
                      "accept_local": "0", "route_localnet": "0"}
IPV6_CONF_DEFAULTS = {"forwarding": "0"}
GLOBAL_DEFAULTS = {"net.ipv4.ip_forward": "0", "net.ipv4.fwmark_reflect": "0",
                   "net.ipv6.fwmark_reflect": "0"}
GLOBAL_KEYS = frozenset(GLOBAL_DEFAULTS) | {"net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind"}


@dataclass
class LabHost:
    """A Host rebuilt in the kernel: the namespace to query and what was noticed."""

    host: Host
    ns: str
    peer_ns: str
    lab: Lab
    #: things not reproduced, or reproduced approximately ("not modelled: ...")
    notes: list[str] = field(default_factory=list)
    #: route differences between the Host (incl. derived routes) and the kernel
    route_diff: "RouteDiff | None" = None
    #: rule differences between the Host (incl. derived default rules) and the kernel
    rule_diff: "RouteDiff | None" = None


@dataclass(frozen=True, slots=True)
class RouteDiff:
    """Routes (or rules) the Host has that the kernel lacks, and the other way round."""

    host_only: tuple[str, ...]
    kernel_only: tuple[str, ...]

    @property
    def same(self) -> bool:
        return not self.host_only and not self.kernel_only


# --------------------------------------------------------------------------
# iproute2 syntax for model objects
# --------------------------------------------------------------------------

def _range(r: tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def rule_args(rule: Rule) -> list[str]:
    """``ip rule add`` arguments reproducing one rule (the inverse of ``fib_nl_fill_rule()``)."""
    a: list[str] = ["pref", str(rule.pref)]
    if rule.invert:
        a.append("not")
    a += ["from", str(rule.src) if rule.src is not None else "all"]
    if rule.dst is not None:
        a += ["to", str(rule.dst)]
    if rule.tos:
        a += ["tos", f"0x{rule.tos:02x}"]
    if rule.fwmark is not None or rule.fwmask is not None:
        mark = f"0x{(rule.fwmark or 0):x}"
        if rule.fwmask is not None:
            mark += f"/0x{rule.fwmask:x}"
        a += ["fwmark", mark]
    if rule.iif is not None:
        a += ["iif", rule.iif]
    if rule.oif is not None:
        a += ["oif", rule.oif]
    if rule.uidrange is not None:
        a += ["uidrange", f"{rule.uidrange[0]}-{rule.uidrange[1]}"]
    if rule.ipproto is not None:
        a += ["ipproto", str(rule.ipproto)]
    if rule.sport is not None:
        a += ["sport", _range(rule.sport)]
    if rule.dport is not None:
        a += ["dport", _range(rule.dport)]
    if rule.l3mdev:
        a.append("l3mdev")
    if rule.action == "lookup":
        if rule.table is None and not rule.l3mdev:
            raise LabError(f"{rule.origin}: rule {rule.pref} looks up no table")
        if rule.table is not None:
            a += ["lookup", str(rule.table)]
    elif rule.action == "goto":
        if rule.goto is None:
            raise LabError(f"{rule.origin}: rule {rule.pref} is a goto without target")
        a += ["goto", str(rule.goto)]
    elif rule.action in ("nop", "blackhole", "unreachable", "prohibit"):
        a.append(rule.action)
    else:
        raise LabError(f"{rule.origin}: not modelled: rule action {rule.action!r}")
    if rule.suppress_prefixlength is not None:
        a += ["suppress_prefixlength", str(rule.suppress_prefixlength)]
    if rule.suppress_ifgroup is not None:
        a += ["suppress_ifgroup", str(rule.suppress_ifgroup)]
    if rule.protocol is not None:
        a += ["protocol", rule.protocol]
    return a


def route_args(route: Route) -> list[str]:
    """``ip route add`` arguments reproducing one route (the inverse of ``fib_dump_info()``)."""
    a: list[str] = [route.type, str(route.dst)]
    if route.tos:
        a += ["tos", f"0x{route.tos:02x}"]
    a += ["table", str(route.table)]
    if route.protocol is not None:
        a += ["proto", route.protocol]
    if route.family == AF_INET:
        # Without an explicit scope iproute2 picks "link" for a device route,
        # but a dump printing no scope means global (RT_SCOPE_UNIVERSE).
        a += ["scope", SCOPE_ALIASES.get(route.scope, route.scope)]
    if route.metric:
        a += ["metric", str(route.metric)]
    if route.prefsrc is not None:
        a += ["src", str(route.prefsrc)]
    if route.pref is not None and route.family == AF_INET6:
        a += ["pref", route.pref]
    if len(route.nexthops) > 1:
        for nh in route.nexthops:
            a.append("nexthop")
            a += _nexthop_args(nh.gateway, nh.dev, nh.onlink or "onlink" in nh.flags, route.family)
            a += ["weight", str(nh.weight)]
    elif route.nexthops:
        nh = route.nexthops[0]
        a += _nexthop_args(nh.gateway, nh.dev, nh.onlink or "onlink" in nh.flags
                           or "onlink" in route.flags, route.family)
    return a


def _nexthop_args(gw: Any, dev: str | None, onlink: bool, family: int) -> list[str]:
    a: list[str] = []
    if gw is not None:
        if gw.version == 6 and family == AF_INET:
            a += ["via", "inet6", str(gw)]
        else:
            a += ["via", str(gw)]
    if dev is not None:
        a += ["dev", dev]
    if onlink:
        a.append("onlink")
    return a


def address_args(addr: Address, notes: list[str]) -> list[str]:
    """``ip addr add`` arguments for one address (``inet_rtm_newaddr()`` / ``inet6_rtm_newaddr()``)."""
    a: list[str] = [str(addr.address) if addr.peer is None else str(addr.ip)]
    if addr.peer is not None:
        a += ["peer", str(addr.peer)]
    if addr.broadcast is not None:
        a += ["broadcast", str(addr.broadcast)]
    if addr.family == AF_INET:
        a += ["scope", SCOPE_ALIASES.get(addr.scope, addr.scope)]
        if addr.label and addr.label != addr.dev:
            a += ["label", addr.label]
    a += ["dev", addr.dev]
    for flag in sorted(addr.flags):
        if flag in ("noprefixroute", "home", "mngtmpaddr", "autojoin", "nodad", "optimistic"):
            a.append(flag)
        elif flag == "deprecated":
            a += ["preferred_lft", "0"]
        elif flag in ("tentative", "dadfailed"):
            notes.append(f"not modelled: {addr.address} on {addr.dev} is {flag} in the dump; "
                         "the lab address is usable")
    if addr.family == AF_INET6 and "nodad" not in addr.flags:
        a.append("nodad")
    return a


# --------------------------------------------------------------------------
# the kernel's view, normalised for comparison with the model
# --------------------------------------------------------------------------

RouteKey = tuple[Any, ...]
RuleKey = tuple[Any, ...]


def _norm_net(dst: str, family: int) -> str:
    if dst == "default":
        return "0.0.0.0/0" if family == AF_INET else "::/0"
    return str(ipaddress.ip_network(dst, strict=False))


def model_route_key(route: Route) -> RouteKey:
    """What of a route decides a lookup: the comparison key for derivation checks."""
    hops = tuple(sorted((str(nh.gateway) if nh.gateway else None, nh.dev,
                         nh.weight if len(route.nexthops) > 1 else 1) for nh in route.nexthops
                        if nh.gateway is not None or nh.dev is not None))
    scope = SCOPE_ALIASES.get(route.scope, route.scope) if route.family == AF_INET else None
    return (route.family, route.table, route.type, str(route.dst), route.tos, route.metric,
            scope, str(route.prefsrc) if route.prefsrc else None, hops)


def kernel_route_key(obj: dict[str, Any], family: int) -> RouteKey:
    """The same key from one object of ``ip -N -j -d route show table all``."""
    rtype = RTN_NAMES.get(int(obj.get("type", 1)), str(obj.get("type")))
    dst = _norm_net(obj["dst"], family)
    tos = int(str(obj.get("tos", 0)), 0) if obj.get("tos") not in (None, "default") else 0
    scope = None
    if family == AF_INET:
        scope = SCOPE_NAMES.get(int(obj.get("scope", 0)), str(obj.get("scope")))
    if "nexthops" in obj:
        hops = tuple(sorted((_gw(nh), nh.get("dev"), int(nh.get("weight", 1)))
                            for nh in obj["nexthops"]))
    elif _gw(obj) is None and obj.get("dev") in (None, "lo") and rtype in (
            "blackhole", "unreachable", "prohibit", "throw"):
        hops = ()  # the kernel hangs these on lo (IPv6) or on nothing (IPv4)
    else:
        hops = ((_gw(obj), obj.get("dev"), 1),) if (_gw(obj) or obj.get("dev")) else ()
    return (family, int(obj.get("table", 254)), rtype, dst, tos, int(obj.get("metric", 0)),
            scope, obj.get("prefsrc"), hops)


def _gw(obj: dict[str, Any]) -> str | None:
    if "gateway" in obj:
        return str(obj["gateway"])
    via = obj.get("via")
    if isinstance(via, dict):
        return str(via.get("host"))
    return None


def kernel_routes(lab: Lab, ns: str) -> list[RouteKey]:
    """Every route of every table in NS, both families (``inet_dump_fib()``)."""
    keys: list[RouteKey] = []
    for fam, flag in ((AF_INET, "-4"), (AF_INET6, "-6")):
        out = lab.ip(ns, flag, "-N", "-j", "-d", "route", "show", "table", "all").stdout
        for obj in json.loads(out or "[]"):
            keys.append(kernel_route_key(obj, fam))
    return keys


def _fmt_key(k: RouteKey) -> str:
    fam, table, rtype, dst, tos, metric, scope, prefsrc, hops = k
    s = f"{'' if rtype == 'unicast' else rtype + ' '}{dst}"
    for gw, dev, w in hops:
        s += (f" via {gw}" if gw else "") + (f" dev {dev}" if dev else "")
        s += f" weight {w}" if len(hops) > 1 else ""
    s += f" table {table}"
    s += f" tos 0x{tos:02x}" if tos else ""
    s += f" scope {scope}" if scope and scope != "global" else ""
    s += f" src {prefsrc}" if prefsrc else ""
    s += f" metric {metric}" if metric else ""
    return ("-6 " if fam == AF_INET6 else "") + s


def compare_routes(host_routes: Iterable[Route], kernel: Iterable[RouteKey]) -> RouteDiff:
    """Multiset difference of routes; a Host nexthop without a device matches any device."""
    kern = Counter(kernel)
    host_only: list[str] = []
    for route in host_routes:
        key = model_route_key(route)
        if kern[key] > 0:
            kern[key] -= 1
            continue
        loose = _loose_match(key, kern)
        if loose is not None:
            kern[loose] -= 1
            continue
        host_only.append(_fmt_key(key) + (f"  [{route.origin}]" if route.origin.file != "<none>"
                                          or route.origin.derived else ""))
    kernel_only = [_fmt_key(k) for k, n in sorted(kern.items(), key=lambda kv: str(kv[0]))
                   for _ in range(n) if n > 0]
    return RouteDiff(tuple(host_only), tuple(kernel_only))


def _loose_match(key: RouteKey, kern: Counter[RouteKey]) -> RouteKey | None:
    *head, hops = key
    if not hops or any(dev is not None for _, dev, _ in hops):
        return None
    for k, n in kern.items():
        if n > 0 and list(k[:-1]) == head and len(k[-1]) == len(hops) and all(
                (a[0], a[2]) == (b[0], b[2]) for a, b in zip(sorted(k[-1]), hops)):
            return k
    return None


def model_rule_key(rule: Rule) -> RuleKey:
    """What of a rule decides a lookup: the comparison key for the rules check."""
    mark: tuple[int, int] = (0, 0)
    if rule.fwmark is not None or rule.fwmask is not None:
        mark = (rule.fwmark or 0, 0xFFFFFFFF if rule.fwmask is None else rule.fwmask)
    action: tuple[Any, ...] = (rule.action,)
    if rule.action == "lookup":
        action = ("lookup", rule.table)
    elif rule.action == "goto":
        action = ("goto", rule.goto)
    return (rule.family, rule.pref, rule.invert, str(rule.src) if rule.src else None,
            str(rule.dst) if rule.dst else None, rule.tos, mark, rule.iif, rule.oif,
            tuple(rule.uidrange) if rule.uidrange else None, rule.ipproto or None,
            tuple(rule.sport) if rule.sport else None, tuple(rule.dport) if rule.dport else None,
            action, rule.suppress_prefixlength, rule.suppress_ifgroup)


_RULE_ACTIONS = {"6": "blackhole", "7": "unreachable", "8": "prohibit",
                 "blackhole": "blackhole", "unreachable": "unreachable", "prohibit": "prohibit"}


def kernel_rule_key(obj: dict[str, Any], family: int) -> RuleKey:
    """The same key from one object of ``ip -N -j rule show`` (``fib_nl_fill_rule()``)."""
    bits = 32 if family == AF_INET else 128

    def net(key: str) -> str | None:
        v = obj.get(key)
        if v in (None, "all"):
            return None
        return str(ipaddress.ip_network(f"{v}/{obj.get(key + 'len', bits)}", strict=False))

    mark: tuple[int, int] = (0, 0)
    if "fwmark" in obj or "fwmask" in obj:
        mark = (int(str(obj.get("fwmark", "0")), 0), int(str(obj.get("fwmask", "0xffffffff")), 0))

    def rng(key: str) -> tuple[int, int] | None:
        if key in obj:
            return (int(obj[key]), int(obj[key]))
        if f"{key}_start" in obj:
            return (int(obj[f"{key}_start"]), int(obj[f"{key}_end"]))
        return None

    uid = (int(obj["uid_start"]), int(obj["uid_end"])) if "uid_start" in obj else None
    proto = obj.get("ipproto")
    if proto is not None:
        proto = int(str(proto).removeprefix("ipproto-")) if str(proto).removeprefix(
            "ipproto-").isdigit() else {"tcp": 6, "udp": 17, "icmp": 1}.get(str(proto), proto)
    if "goto" in obj:
        action: tuple[Any, ...] = ("goto", int(obj["goto"]))
    elif "nop" in obj:
        action = ("nop",)
    elif "action" in obj:
        action = (_RULE_ACTIONS.get(str(obj["action"]), str(obj["action"])),)
    else:
        action = ("lookup", int(obj.get("table", 0)))
    tos = obj.get("tos")
    tos_n = int(str(tos), 16) if tos not in (None, "default") else 0
    spl = obj.get("suppress_prefixlen")
    sig = obj.get("suppress_ifgroup")
    return (family, int(obj.get("priority", 0)), "not" in obj, net("src"), net("dst"), tos_n,
            mark, obj.get("iif"), obj.get("oif"), uid, proto or None, rng("sport"), rng("dport"),
            action, None if spl is None else int(spl), None if sig is None else int(sig))


def kernel_rules(lab: Lab, ns: str) -> list[RuleKey]:
    """Every rule of both families in NS (``fib_nl_dumprule()``)."""
    keys: list[RuleKey] = []
    for fam, flag in ((AF_INET, "-4"), (AF_INET6, "-6")):
        out = lab.ip(ns, flag, "-N", "-j", "rule", "show").stdout
        keys += [kernel_rule_key(obj, fam) for obj in json.loads(out or "[]")]
    return keys


def compare_rules(rules: Iterable[Rule], kernel: Iterable[RuleKey]) -> RouteDiff:
    """Rules the model has that the kernel lacks and the other way round (as RouteDiff)."""
    kern = Counter(kernel)
    host_only: list[str] = []
    for rule in rules:
        key = model_rule_key(rule)
        if kern[key] > 0:
            kern[key] -= 1
        else:
            host_only.append(f"{key}  [{rule.origin}]")
    kernel_only = [str(k) for k, n in kern.items() for _ in range(n) if n > 0]
    return RouteDiff(tuple(host_only), tuple(kernel_only))


# --------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------

def _is_loopback(link: Link) -> bool:
    return link.name == "lo" or "LOOPBACK" in link.flags or link.link_type == "loopback"


def _batch(lab: Lab, ns: str, lines: list[str], what: str, *, family: str | None = None,
           ignore: tuple[str, ...] = (), origins: list[str] | None = None) -> None:
    """Run ``ip -batch`` lines; raise with the dump's line for any failure not ignored."""
    if not lines:
        return
    args = ([family] if family else []) + ["-force", "-batch", "-"]
    proc = lab.ip(ns, *args, input="\n".join(lines) + "\n", check=False)
    errors: list[str] = []
    pending: list[str] = []
    for line in proc.stderr.splitlines():
        if line.startswith("Command failed -:"):
            n = int(line.split(":")[-1])
            msg = " ".join(pending).strip()
            pending = []
            if any(s in msg for s in ignore):
                continue
            where = f" ({origins[n - 1]})" if origins and n <= len(origins) else ""
            errors.append(f"{what} '{lines[n - 1]}'{where}: {msg}")
        else:
            pending.append(line.strip())
    if proc.returncode != 0 and not errors and pending:
        errors.append(f"{what}: {' '.join(pending)}")
    if errors:
        raise LabError("the lab could not load the dump: " + "; ".join(errors[:5])
                       + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""))


def _devices(host: Host, notes: list[str]) -> list[Link]:
    """The dumped links plus a stand-in for every device only named by addresses/routes."""
    links = [l for l in sorted(host.links, key=lambda l: l.index) if not _is_loopback(l)]
    known = {l.name for l in host.links}
    named: list[str] = []
    for a in host.addresses:
        named.append(a.dev)
    for r in host.routes:
        named += [nh.dev for nh in r.nexthops if nh.dev]
    for name in named:
        if name not in known and name != "lo":
            known.add(name)
            links.append(Link(index=0, name=name, flags=frozenset({"UP", "LOWER_UP"})))
            notes.append(f"device {name} is not in the dump's links: assumed up with carrier")
    return links


def _conf_key(family: str, dev: str, name: str) -> str:
    """``net.ipv4.conf.DEV.NAME`` as sysctl(8) spells it (a dot in DEV becomes ``/``)."""
    return f"net.{family}.conf.{dev.replace('.', '/')}.{name}"


def _parse_conf_key(key: str) -> tuple[str, str, str] | None:
    """(family, device, name) of a per-device key, dotted or as a /proc/sys path."""
    k = key.strip()
    if k.startswith("/proc/sys/") or ("/" in k and "." not in k.split("/")[0]):
        parts = k.removeprefix("/proc/sys/").split("/")
        if len(parts) == 5 and parts[0] == "net" and parts[2] == "conf":
            return parts[1], parts[3], parts[4]
        return None
    for family in ("ipv4", "ipv6"):
        prefix = f"net.{family}.conf."
        if k.startswith(prefix):
            dev, _, name = k[len(prefix):].rpartition(".")
            return (family, dev.replace("/", "."), name) if dev else None
    return None


def _sysctls(host: Host, devices: list[str]) -> list[tuple[str, str]]:
    """Defaults first (so nothing is inherited from the lab machine), then the dump's values."""
    out: list[tuple[str, str]] = list(GLOBAL_DEFAULTS.items())
    for dev in ["all", "default", *devices]:
        out += [(_conf_key("ipv4", dev, k), v) for k, v in IPV4_CONF_DEFAULTS.items()]
    for dev in ["all", "default", *devices]:
        out += [(_conf_key("ipv6", dev, k), v) for k, v in IPV6_CONF_DEFAULTS.items()]
    relevant = set(IPV4_CONF_DEFAULTS) | set(IPV6_CONF_DEFAULTS) | {"disable_ipv6"}
    present = {"all", "default", "lo", *devices}
    dumped: list[tuple[int, str, str]] = []
    for key, value in host.sysctls.items():
        dotted = key.removeprefix("/proc/sys/").replace("/", ".") if key.startswith("/proc/sys/") else key
        if dotted in GLOBAL_KEYS:
            dumped.append((0, dotted, str(value).strip()))
            continue
        conf = _parse_conf_key(key)
        if conf is not None and conf[1] in present and conf[2] in relevant:
            order = {"all": 1, "default": 2}.get(conf[1], 3)
            dumped.append((order, _conf_key(*conf), str(value).strip()))
    out += [(k, v) for _, k, v in sorted(dumped, key=lambda t: t[0])]
    return out


def _settled_routes(lab: Lab, ns: str, timeout: float = 2.0) -> list[RouteKey]:
    """The kernel's routes once addrconf's work queue has added its own (IPv6 local
    routes appear when DAD completes, ``addrconf_dad_completed()``, even with nodad)."""
    deadline = time.monotonic() + timeout
    last = kernel_routes(lab, ns)
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = kernel_routes(lab, ns)
        if sorted(map(str, now)) == sorted(map(str, last)):
            return now
        last = now
    return last


def _order_v6_groups(lab: Lab, ns: str, host: Host, notes: list[str]) -> None:
    """Delete and re-add IPv6 routes sharing (table, prefix, metric) in the Host's order."""
    groups: dict[tuple[int, str, int], list[Route]] = {}
    for r in host.routes_of(AF_INET6):
        groups.setdefault((r.table, str(r.dst), r.metric), []).append(r)
    groups = {k: v for k, v in groups.items() if len(v) > 1 and k[2] != 0}
    if not groups:
        return
    out = lab.ip(ns, "-6", "-N", "-j", "-d", "route", "show", "table", "all").stdout
    kernel = [kernel_route_key(o, AF_INET6) for o in json.loads(out or "[]")]
    for (table, dst, metric), routes in groups.items():
        want = [model_route_key(r) for r in routes]
        have = [k for k in kernel if (k[1], k[3], k[5]) == (table, dst, metric)]
        if have == want or sorted(map(str, have)) != sorted(map(str, want)):
            continue  # already in order, or not the same routes (the route check says so)
        lines = ["route del " + " ".join(route_args(r)) for r in routes]
        lines += ["route append " + " ".join(route_args(r)) for r in routes]
        _batch(lab, ns, lines, "route order", family="-6")
        notes.append(f"IPv6 routes to {dst} (table {table}, metric {metric}) re-added in the "
                     "dump's order")


def nft_input(host: Host) -> tuple[str, bool] | None:
    """The ruleset for ``nft -f``: the dump's own text when kept, else the model as
    ``nft -j`` JSON (``nft -j -f`` reads it). Returns (text, is_json) or None."""
    for command, _origin, text in host.blocks:
        if "nft" in command and text.strip():
            return text, text.lstrip().startswith("{")
    ruleset = host.ruleset
    if ruleset is None or not getattr(ruleset, "tables", ()):
        return None
    return json.dumps(ruleset.to_json()), True


def build(lab: Lab, host: Host, *, role: str = "host", nft: bool = True,
          check_routes: bool = True) -> LabHost:
    """Rebuild ``host`` in two new namespaces of ``lab`` (the machine and the veth peers)."""
    notes: list[str] = []
    ns = lab.netns(role)
    peer = lab.netns(role + "p")
    lh = LabHost(host=host, ns=ns, peer_ns=peer, lab=lab, notes=notes)
    present_lo: set[Any] = set()
    links = _devices(host, notes)

    # 1. devices: veth pairs, peers in the peer namespace.
    cmds: list[str] = ["link set lo up"]
    peer_up: list[str] = []
    carrier_off: list[str] = []  # lose carrier only once configured (see module doc)
    for i, link in enumerate(links):
        pname = f"p{i}"
        cmds.append(f"link add {link.name} type veth peer name {pname} netns {peer}")
        cmds.append(f"link set {link.name} addrgenmode none")
        if link.mtu and 68 <= link.mtu <= 65535:
            cmds.append(f"link set {link.name} mtu {link.mtu}")
        if link.group:
            cmds.append(f"link set {link.name} group {link.group}")
        if link.kind not in (None, "veth", "wireguard", "tun", "ether"):
            notes.append(f"not modelled: {link.name} is a {link.kind} device; the lab uses a veth")
        if link.master:
            notes.append(f"not modelled: {link.name} enslaved to {link.master}")
        if link.up:
            cmds.append(f"link set {link.name} up")
            peer_up.append(pname)
            if not link.carrier:
                carrier_off.append(pname)
    _batch(lab, ns, cmds, "link")
    _batch(lab, peer, [f"link set {p} addrgenmode none" for p in peer_up]
           + [f"link set {p} up" for p in peer_up], "peer link")

    # 2. sysctls, before addresses (forwarding changes the IPv6 anycast routes).
    lab.sysctl(ns, _sysctls(host, [l.name for l in links]))

    # 3. addresses. lo keeps the ones the kernel gave it when they are in the dump:
    #    re-adding ::1 by hand would bring a main-table route init_loopback() does not.
    if host.addresses or "ip-addr" in host.dumped:
        wanted = {a.address for a in host.addresses if a.dev == "lo"}
        for obj in json.loads(lab.ip(ns, "-j", "addr", "show", "dev", "lo").stdout or "[]"):
            for info in obj.get("addr_info", []):
                ifc = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
                if ifc in wanted:
                    wanted.discard(ifc)
                    present_lo.add(ifc)
                else:
                    lab.ip(ns, "addr", "del", str(ifc), "dev", "lo")
    else:
        notes.append("no addresses in the dump: the lab keeps lo's 127.0.0.1/8 and ::1")
    addr_lines: list[str] = []
    addr_origins: list[str] = []
    for addr in host.addresses:
        if addr.dev == "lo" and addr.address in present_lo:
            continue
        addr_lines.append("addr add " + " ".join(address_args(addr, notes)))
        addr_origins.append(str(addr.origin))
    _batch(lab, ns, addr_lines, "address", origins=addr_origins)

    # 4. routes of every table, those the kernel derives itself excepted. Before the
    #    rules: gateways are checked by a lookup (fib_check_nh(), ip6_validate_gw()) that
    #    the dump's rules could send elsewhere.
    #    Dumped routes the kernel already made from the addresses are not added again
    #    (IPv6 would take a second one: metric 0 means 1024 to ip6_route_add()).
    made = Counter(_settled_routes(lab, ns))
    for fam, flag in ((AF_INET, "-4"), (AF_INET6, "-6")):
        routes = []
        for r in host.routes_of(fam):
            key = model_route_key(r)
            if made[key] > 0:
                made[key] -= 1
            elif not r.origin.derived:
                routes.append(r)
        # Device routes first: a gateway must be reachable when its route is added.
        routes.sort(key=lambda r: (bool(r.gateway) or r.multipath, r.type != "unicast"))
        # "append", not "add": a second route of the same prefix and metric (other
        # device) is refused with NLM_F_EXCL by IPv6 (fib6_add_rt2node()) and IPv4
        _batch(lab, ns, ["route append " + " ".join(route_args(r)) for r in routes], "route",
               family=flag, ignore=("File exists",), origins=[str(r.origin) for r in routes])
        for r in routes:
            if r.extra:
                notes.append(f"not modelled: route {r.dst} attributes "
                             + ", ".join(f"{k} {v}" for k, v in r.extra))

    # IPv6 keeps routes of one prefix and metric in a list and takes the first usable
    # (rt6_select()); the list is in insertion order, which addrconf's work queue
    # makes racy here: put each such group in the Host's (the dump's) order.
    _order_v6_groups(lab, ns, host, notes)

    # A link without carrier loses it now, after configuration, as a cable pulled
    # or a Wi-Fi gone: its routes stay, marked linkdown (fib_sync_down_dev(),
    # rt6_sync_down_dev()). Configured without carrier, IPv6 would never have
    # made its prefix and multicast routes (addrconf_link_ready()).
    _batch(lab, peer, [f"link set {p} down" for p in carrier_off], "peer link")

    # 5. rules: flush everything (pref 0 too), then the dump's, in the kernel's order.
    for fam, flag in ((AF_INET, "-4"), (AF_INET6, "-6")):
        rules = host.rules_of(fam)
        if not rules:
            notes.append(f"no {'IPv6' if fam == AF_INET6 else 'IPv4'} rules in the Host: "
                         "the lab keeps the kernel's default rules")
            continue
        lab.ip(ns, flag, "rule", "flush")
        lab.ip(ns, flag, "rule", "del", "pref", "0", check=False)
        _batch(lab, ns, ["rule add " + " ".join(rule_args(r)) for r in rules], "rule",
               family=flag, origins=[str(r.origin) for r in rules])

    # 6. nftables (needs the devices: oif/iif match an ifindex resolved at load time).
    try:
        found = nft_input(host) if nft else None
    except Exception as exc:  # the ruleset model could not be written back as nft JSON
        found = None
        notes.append(f"nft ruleset not loaded: {type(exc).__name__}: {exc}")
    if found is not None:
        text, is_json = found
        proc = lab.exec(ns, ["nft", *(["-j"] if is_json else []), "-f", "-"], input=text,
                        check=False)
        if proc.returncode != 0:
            notes.append("nft ruleset not loaded: " + " | ".join(proc.stderr.strip().splitlines()[:3]))

    if check_routes:
        lh.route_diff = compare_routes(host.routes, kernel_routes(lab, ns))
        lh.rule_diff = compare_rules(host.rules, kernel_rules(lab, ns))
    return lh
