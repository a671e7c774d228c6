"""Text rendering of a routing decision.

First what ``ip route get`` (iproute2 6.1, without ``-d``) prints for the
same question — its ``print_route()`` wording and field order: the type
unless unicast, ``from`` when given, ``via``, ``dev``, ``table`` unless
main, ``src`` when the kernel chose a different source than ``from``,
``mark``, ``uid`` (IPv4 output lookups), then the ``cache`` line with the
``RTCF_*`` flags and ``iif``; IPv6 prints ``from ::``, ``proto`` (not
``boot``), ``metric`` and ``pref``. Refusals print as iproute2 does:
``RTNETLINK answers: <strerror>``. Trailing blanks iproute2 leaves are
dropped.

Then one line per step: rule, action, result, why — aligned, the deciding
step highlighted, derived facts marked ``(derived)``; a long run of rules
that did not decide is one line (:mod:`wgexplain.explain.summary`).
"""

from __future__ import annotations

from rich.text import Text

from wgexplain.explain.summary import fold_steps, rule_label
from wgexplain.explain.wrap import MIN_WIDTH, wrap_hanging
from wgexplain.kernel.route import RouteResult
from wgexplain.model import AF_INET

#: strerror() of the errnos a lookup returns
STRERROR = {
    "ENETUNREACH": "Network is unreachable", "EHOSTUNREACH": "No route to host",
    "EINVAL": "Invalid argument", "EACCES": "Permission denied", "ENODEV": "No such device",
    "EXDEV": "Invalid cross-device link", "EAGAIN": "Resource temporarily unavailable",
    "ESRCH": "No such process", "EPERM": "Operation not permitted",
    "EMSGSIZE": "Message too long", "EOPNOTSUPP": "Operation not supported",
}

#: errors iproute2 prints as the kernel's extended ack message instead of strerror()
EXTACK = {"EOPNOTSUPP": "Error: Unsupported ip proto."}  # rtm_getroute_parse_ip_proto()

_RESULT_STYLE = {
    "matched": "bold green", "error": "bold red", "refused": "bold red", "suppressed": "yellow",
    "not found": "dim", "no match": "dim", "throw": "yellow", "nop": "dim", "goto": "cyan",
    "ok": "green", "info": "cyan",
}


def kernel_lines(result: RouteResult) -> list[str]:
    """The lines ``ip route get`` prints for the same lookup (``-4``/``-6`` as the address)."""
    if result.error is not None:
        if result.error in EXTACK:
            return [EXTACK[result.error]]
        return [f"RTNETLINK answers: {STRERROR.get(result.error, result.error)}"]
    if result.type == "unknown":
        return [f"{result.flow.dst}: unknown — the answer depends on what was not pasted"]
    f = result.flow
    v4 = f.family == AF_INET
    parts: list[str] = []
    if result.type != "unicast":
        parts.append(result.type)
    parts.append(str(f.dst))
    if f.src is not None:
        parts.append(f"from {f.src}")
    elif not v4:
        parts.append("from ::")
    if result.gateway is not None:
        parts.append(f"via {result.gateway}")
    if result.dev is not None:
        parts.append(f"dev {result.dev}")
    if result.table is not None and result.table != 254:
        parts.append(f"table {result.table_name or result.table}")
    route = result.route
    if not v4 and route is not None and route.protocol and route.protocol != "boot":
        parts.append(f"proto {route.protocol}")
    if result.prefsrc is not None and f.iif is None:
        parts.append(f"src {result.prefsrc}")
    if v4:
        parts.extend(result.flags)
        if f.mark:
            parts.append(f"mark 0x{f.mark:x}")
        if f.iif is None:
            parts.append(f"uid {0 if f.uid is None else f.uid}")
        cache = "    cache"
        if result.cache:
            cache += " <" + ",".join(result.cache) + ">"
        if f.iif is not None:
            cache += f" iif {f.iif}"
        return [" ".join(parts), cache]
    parts.append(f"metric {route.metric if route is not None else 0}")
    if f.iif is not None:
        parts.append(f"iif {f.iif}")
    parts.append(f"pref {(route.pref if route is not None else None) or 'medium'}")
    return [" ".join(parts)]


def _append_wrapped(out: Text, line: Text, width: int | None, hang: str) -> None:
    for part in wrap_hanging(line, width, hang):
        out.append_text(part)
        out.append("\n")


def render(result: RouteResult, width: int | None = None) -> Text:
    """The whole explanation as rich :class:`Text` (styles are dropped when not a terminal).

    ``width``: wrap each step's reason to it, under the reason column (``None``:
    one line per step).
    """
    out = Text()
    if result.assumptions:
        out.append("assuming (not pasted):\n", style="bold yellow")
        for a in result.assumptions:
            _append_wrapped(out, Text(f"  - {a}", style="yellow"), width, "    ")
    for kernel_line in kernel_lines(result):
        out.append(kernel_line + "\n", style="bold")
    steps, decisive = fold_steps(result.steps, result.decisive)  # long runs: one step
    if steps:
        rule_w = max(len(rule_label(s)) for s in steps)
        act_w = max(len(s.action) for s in steps)
        res_w = max(len(s.result) for s in steps)
        column = 2 + rule_w + 2 + act_w + 2 + res_w + 2
        narrow = width is not None and width - column < MIN_WIDTH  # the reason goes below
        for i, s in enumerate(steps):
            rule = rule_label(s)
            mark = ">" if i == decisive else " "
            line = Text()
            line.append(f"{mark} ", style="bold magenta" if i == decisive else "")
            line.append(f"{rule:>{rule_w}}  ", style="bold" if i == decisive else "")
            line.append(f"{s.action:<{act_w}}  ")
            line.append(f"{s.result:<{res_w}}  ", style=_RESULT_STYLE.get(s.result, ""))
            why = s.why
            if s.route is not None and s.route.origin.derived and "(derived" not in why:
                why += " (derived)"
            if narrow:
                line.rstrip()
                _append_wrapped(out, line, width, "    ")
                line = Text("    ")
            line.append(why, style="bold" if i == decisive else "")
            _append_wrapped(out, line, width, " " * (4 if narrow else column))
    if result.alternatives:
        out.append("both ways:\n" if result.type != "unknown" else "it depends:\n", style="bold")
        if result.type != "unknown":
            _append_wrapped(out, Text("  - as assumed above: " + _answer(result)), width, "    ")
        for alt in result.alternatives:
            _append_wrapped(out, Text(f"  - {alt.text()}"), width, "    ")
    for note in result.notes:
        _append_wrapped(out, Text(f"note: {note}", style="dim"), width, "      ")
    if result.to_paste:
        _append_wrapped(out, Text("to settle it, paste the output of: " + "; ".join(
            f"`{c}`" for c in result.to_paste), style="cyan"), width, "    ")
        for line in collect_lines():
            out.append_text(line)
            out.append("\n")
    elif not result.exact:
        out.append("exact: no (see the 'not modelled' notes)\n", style="yellow")
    return out


def _answer(result: RouteResult) -> str:
    from wgexplain.evidence import answer_text

    return answer_text(result)


def collect_lines() -> list[Text]:
    """The one-liner that collects every listing (without private keys): two lines, the
    command kept whole so it can be copied."""
    from wgexplain.evidence import COLLECT_LINES

    return [Text("  all at once (no private keys):", style="cyan"),
            *(Text("    " + line) for line in COLLECT_LINES)]


def format_text(result: RouteResult, width: int | None = None) -> str:
    """Plain text of :func:`render` (what a pipe or a test sees)."""
    return render(result, width).plain
