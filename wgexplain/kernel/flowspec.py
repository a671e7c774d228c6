"""``ip route get`` keyword syntax -> the arguments of a lookup.

The twin of iproute2's ``iproute_get()`` (ip/iproute.c, 6.1) argument loop:
``[to] DST [from ADDR] [iif DEV] [oif DEV] [mark N] [uid N] [ipproto P]
[sport N] [dport N] [tos N]``, with its aliases (``dev`` for ``oif``,
``dsfield`` for ``tos``). Options the simulator does not model
(``vrf``, ``fibmatch``, ``connected``...) are refused with a message that
says so rather than ignored.
"""

from __future__ import annotations

from typing import Any, Sequence

from wgexplain.errors import UsageError
from wgexplain.model import Flow

#: keyword -> route_get() argument
_KEYWORDS = {
    "from": "src", "iif": "iif", "oif": "oif", "dev": "oif", "mark": "mark", "uid": "uid",
    "ipproto": "ipproto", "sport": "sport", "dport": "dport", "tos": "tos", "dsfield": "tos",
}
_NOT_MODELLED = {"vrf", "fibmatch", "connected", "as", "nhid", "flowlabel"}
EXPECTED = ("`ip route get` arguments: [to] DST [from ADDR] [iif DEV] [oif DEV] [mark N] "
            "[uid N] [ipproto P] [sport N] [dport N] [tos N]")


def format_flowspec(flow: Flow, *, mark_always: bool = False) -> str:
    """A :class:`Flow` back in the keyword syntax: ``to DST [from ADDR] ... [tos N]``.

    The inverse of :func:`parse_flowspec`; ``mark_always`` also writes a zero
    mark (the diagrams show it, since the mark decides the Mullvad rules).
    """
    parts = ["to", str(flow.dst)]
    if flow.src is not None:
        parts += ["from", str(flow.src)]
    if flow.iif is not None:
        parts += ["iif", flow.iif]
    if flow.oif is not None:
        parts += ["oif", flow.oif]
    if flow.mark or mark_always:
        parts += ["mark", f"0x{flow.mark:x}"]
    if flow.uid is not None:
        parts += ["uid", str(flow.uid)]
    if flow.ipproto is not None:
        parts += ["ipproto", str(flow.ipproto)]
    if flow.sport is not None:
        parts += ["sport", str(flow.sport)]
    if flow.dport is not None:
        parts += ["dport", str(flow.dport)]
    if flow.tos:
        parts += ["tos", f"0x{flow.tos:02x}"]
    return " ".join(parts)


class FlowSpecError(UsageError):
    """A flow spec that cannot be read; ``expected``/``got`` say what and where."""

    def __init__(self, expected: str, got: str | None = None) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"expected {expected}" + (f", got {got!r}" if got is not None else ""))


def parse_flowspec(tokens: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for :func:`wgexplain.kernel.route.route_get` from ``tokens``.

    >>> parse_flowspec("1.1.1.1 from 10.0.0.1 mark 0x10".split())
    {'dst': '1.1.1.1', 'src': '10.0.0.1', 'mark': '0x10'}
    """
    out: dict[str, Any] = {}
    toks = list(tokens)
    i = 0
    while i < len(toks):
        tok = toks[i]
        word = tok.lower()
        if word in _KEYWORDS:
            if i + 1 >= len(toks):
                raise FlowSpecError(f"a value after '{tok}'", tok)
            arg = _KEYWORDS[word]
            if arg in out:
                raise FlowSpecError(f"'{tok}' only once", tok)
            out[arg] = toks[i + 1]
            i += 2
            continue
        if word in _NOT_MODELLED:
            raise FlowSpecError(f"an option wgexplain models (not modelled: '{tok}')", tok)
        if word == "to":
            if i + 1 >= len(toks):
                raise FlowSpecError("a destination after 'to'", tok)
            tok = toks[i + 1]
            i += 1
        if "dst" in out:
            raise FlowSpecError(EXPECTED, tok)
        out["dst"] = tok
        i += 1
    if "dst" not in out:
        raise FlowSpecError("a destination address", " ".join(toks) if toks else "")
    return out


def flow_from_tokens(tokens: Sequence[str]) -> Flow:
    """A :class:`Flow` from ``ip route get`` keyword tokens (``UsageError`` when unreadable)."""
    from wgexplain.kernel.route import make_flow

    return make_flow(**parse_flowspec(tokens))
