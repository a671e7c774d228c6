"""The trace record: what happened to one packet, step by step.

Plain frozen data, built by path.py and read by every renderer (text, JSON,
diagrams). The JSON shape is the contract in DESIGN.md (``wgexplain trace
--json``); :meth:`Trace.to_json` produces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGES = ("route", "hook", "nat", "tunnel", "device", "conntrack", "unmodelled")
#: the keys every step of ``trace --json`` carries (DESIGN.md)
STEP_KEYS = ("stage", "hook", "table", "chain", "rule", "text", "effect", "verdict", "why")


@dataclass(frozen=True, slots=True)
class Step:
    """One thing the kernel did to the packet.

    ``rule`` is the rule's 1-based position in its chain (as in
    ``nft list ruleset``; ``handle`` carries the nft handle when the dump
    had one). ``origin`` is ``file:line`` of the rule in the user's dump.
    ``decisive`` marks the steps that decided the verdict or the egress.
    """

    stage: str
    why: str
    hook: str | None = None
    table: str | None = None
    chain: str | None = None
    rule: int | None = None
    handle: int | None = None
    text: str | None = None
    effect: str | None = None
    verdict: str | None = None
    origin: str | None = None
    decisive: bool = False
    extra: tuple[tuple[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The contract's step: ``stage, hook, table, chain, rule, text, effect, verdict, why``
        always present (``null`` where a stage has none), then ``handle``/``origin``/
        ``decisive`` and the extras when set."""
        out: dict[str, Any] = {"stage": self.stage}
        for key in STEP_KEYS[1:]:
            out[key] = getattr(self, key)
        for key in ("handle", "origin"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.decisive:
            out["decisive"] = True
        for key, value in self.extra:
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Egress:
    """The packet as it leaves the device (after NAT), when accepted."""

    dev: str | None
    src: str | None
    dst: str
    mark: int
    proto: str | None = None
    sport: int | None = None
    dport: int | None = None
    gateway: str | None = None
    local: bool = False  # delivered to a local socket (direction in) rather than sent

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dev": self.dev, "src": self.src, "dst": self.dst, "mark": self.mark}
        if self.proto is not None:
            out["proto"] = self.proto
        if self.sport is not None:
            out["sport"] = self.sport
        if self.dport is not None:
            out["dport"] = self.dport
        if self.gateway is not None:
            out["gateway"] = self.gateway
        if self.local:
            out["local"] = True
        return out


@dataclass(frozen=True, slots=True)
class Trace:
    """The whole journey of one packet (``wgexplain trace``).

    ``verdict`` is accept, drop or reject; ``egress`` is None unless
    accepted; ``encapsulated`` the outer packet a WireGuard device emitted
    for it (its own journey); ``decapsulated`` the inner packet a WireGuard
    device received from it. ``exact`` is False as soon as one step was not
    modelled. ``errno`` is what a local sender sees when the packet is
    refused (EPERM, ECONNREFUSED, ENOKEY, ENETUNREACH...).
    """

    verdict: str
    egress: Egress | None
    steps: tuple[Step, ...]
    exact: bool = True
    encapsulated: "Trace | None" = None
    decapsulated: "Trace | None" = None
    errno: str | None = None
    direction: str = "out"
    packet: str = ""
    notes: tuple[str, ...] = field(default=())
    #: the kernel profile imitated (``to_json()`` of :class:`~wgexplain.kernel.profile.KernelProfile`)
    kernel: dict[str, Any] | None = None
    #: what this journey assumed because it was not pasted (wgexplain.evidence), one sentence each
    assumptions: tuple[str, ...] = field(default=())
    #: the commands whose output would settle them
    to_paste: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "egress": self.egress.to_json() if self.egress else None,
            "encapsulated": self.encapsulated.to_json() if self.encapsulated else None,
            "steps": [s.to_json() for s in self.steps],
            "exact": self.all_exact,
        }
        if self.decapsulated is not None:
            out["decapsulated"] = self.decapsulated.to_json()
        if self.errno is not None:
            out["errno"] = self.errno
        out["direction"] = self.direction
        if self.packet:
            out["packet"] = self.packet
        if self.notes:
            out["notes"] = list(self.notes)
        if self.kernel is not None:
            out["kernel"] = self.kernel
        out["assumptions"] = list(self.all_assumptions)
        paste = self.all_to_paste
        if paste:
            out["to_paste"] = list(paste)
        return out

    def _nested(self) -> "list[Trace]":
        return [t for t in (self.encapsulated, self.decapsulated) if t is not None]

    @property
    def all_assumptions(self) -> tuple[str, ...]:
        """This journey's assumptions and its nested journeys', each once."""
        out = dict.fromkeys(self.assumptions)
        for t in self._nested():
            out.update(dict.fromkeys(t.all_assumptions))
        return tuple(out)

    @property
    def all_to_paste(self) -> tuple[str, ...]:
        out = dict.fromkeys(self.to_paste)
        for t in self._nested():
            out.update(dict.fromkeys(t.all_to_paste))
        return tuple(out)

    @property
    def all_exact(self) -> bool:
        """Exact only if this journey and every nested one are."""
        nested = [t for t in (self.encapsulated, self.decapsulated) if t is not None]
        return self.exact and all(t.all_exact for t in nested)
