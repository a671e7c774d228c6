"""Which functions run at a netfilter hook, and in what order.

Mirrors the hook lists of net/netfilter/core.c: every registered function
(``struct nf_hook_ops``) sits in one per-family, per-hook array sorted by
priority, which ``nf_hook_slow()`` walks in order. An nf_tables base chain is
one entry; an ``inet`` chain is registered in both the IPv4 and the IPv6
array, an ``ip`` chain only in the IPv4 one, ``ip6`` only in IPv6.

Besides the chains, the array holds the kernel's own hooks, which matter to
what chains see:

* conntrack (``nf_conntrack_in``) at -200 in prerouting and output
  (``NF_IP_PRI_CONNTRACK``): chains below -200 see no ct state yet, and only
  there does ``notrack`` work;
* NAT (``nf_nat_inet_fn``) at -100 in prerouting/output (destination) and
  +100 in postrouting/input (source). nf_tables ``type nat`` chains are NOT
  registered at their own priority: ``nf_nat_register_fn()`` puts them in the
  NAT hook's private list, ordered among themselves by priority, and they run
  only for a connection's first packet (``nf_nat_initialized()``);
* conntrack confirm at INT_MAX in postrouting and input.

Equal priorities: ``nf_hook_entries_grow()`` inserts a new entry *before*
existing entries of the same priority, so the chain registered last runs
first. We take registration order to be the order of ``nft list ruleset``
(tables, then chains, as loaded from that file); the kernel's own hooks were
registered before any chain. Verified in a namespace
(tests/test_netfilter_hooks.py::test_equal_priority_last_registered_runs_first).
"""

from __future__ import annotations

from dataclasses import dataclass

from wgexplain import ruleset as rs
from wgexplain.model import AF_INET

INT_MAX = 2**31 - 1
NF_IP_PRI_CONNTRACK = -200
NF_IP_PRI_NAT_DST = -100
NF_IP_PRI_NAT_SRC = 100
NF_IP_PRI_CONNTRACK_CONFIRM = INT_MAX

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")


@dataclass(frozen=True, slots=True)
class HookEntry:
    """One function in a hook's array.

    ``kind``: ``chain`` (an nf_tables base chain of type filter or route),
    ``conntrack``, ``nat`` (with ``manip`` snat/dnat and the nat chains in
    the order they run), ``confirm``.
    """

    priority: int
    kind: str
    reg: int
    chain: rs.Chain | None = None
    manip: str | None = None
    nat_chains: tuple[rs.Chain, ...] = ()

    @property
    def label(self) -> str:
        if self.chain is not None:
            return f"{self.chain.family} {self.chain.table} {self.chain.name}"
        return self.kind


def _family_matches(chain_family: str, family: int) -> bool:
    if chain_family == "inet":
        return True
    return chain_family == ("ip" if family == AF_INET else "ip6")


def _order(entries: list[HookEntry]) -> list[HookEntry]:
    """By priority; among equals, the last registered first (``nf_hook_entries_grow()``)."""
    return sorted(entries, key=lambda e: (e.priority, -e.reg))


_CACHE: dict[tuple[int, int, str], tuple[rs.Ruleset | None, list[HookEntry]]] = {}


def hook_entries(ruleset: rs.Ruleset | None, family: int, hook: str) -> list[HookEntry]:
    """The ordered array ``nf_hook_slow()`` walks for ``family``/``hook``."""
    key = (id(ruleset), family, hook)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is ruleset:
        return hit[1]
    entries: list[HookEntry] = []
    # the kernel's own hooks: registered before any nft chain (lowest reg numbers)
    if hook in ("prerouting", "output"):
        entries.append(HookEntry(NF_IP_PRI_CONNTRACK, "conntrack", 0))
    nat_manip = {"prerouting": "dnat", "output": "dnat", "postrouting": "snat", "input": "snat"}.get(hook)
    nat_chains: list[tuple[int, int, rs.Chain]] = []
    reg = 10
    if ruleset is not None:
        for table in ruleset.tables:
            if "dormant" in table.flags:
                continue
            for chain in table.chains:
                reg += 1
                if chain.hook != hook or not _family_matches(chain.family, family):
                    continue
                prio = chain.priority if chain.priority is not None else 0
                if chain.type == "nat":
                    nat_chains.append((prio, -reg, chain))
                else:
                    entries.append(HookEntry(prio, "chain", reg, chain))
    if nat_manip is not None:
        prio = NF_IP_PRI_NAT_DST if nat_manip == "dnat" else NF_IP_PRI_NAT_SRC
        ordered = tuple(c for _p, _r, c in sorted(nat_chains, key=lambda t: (t[0], t[1])))
        entries.append(HookEntry(prio, "nat", 1, manip=nat_manip, nat_chains=ordered))
    if hook in ("postrouting", "input"):
        entries.append(HookEntry(NF_IP_PRI_CONNTRACK_CONFIRM, "confirm", 2))
    out = _order(entries)
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[key] = (ruleset, out)
    return out


def other_family_chains(ruleset: rs.Ruleset | None, dev_in: str | None, dev_out: str | None) -> list[rs.Chain]:
    """Base chains this IP journey passes but the simulator does not run:
    netdev ingress/egress chains on the devices used, and bridge chains."""
    out: list[rs.Chain] = []
    if ruleset is None:
        return out
    for chain in ruleset.base_chains():
        if chain.family == "netdev":
            devs = set(chain.device)
            if (chain.hook == "ingress" and dev_in in devs) or (chain.hook == "egress" and dev_out in devs):
                out.append(chain)
        elif chain.family == "inet" and chain.hook == "ingress":
            if dev_in in set(chain.device):
                out.append(chain)
    return out
