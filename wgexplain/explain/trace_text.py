"""The journey of a packet as a story a learner can follow (``wgexplain trace``).

One numbered line per step, saying what happened and why, the rule quoted
with its ``file:line``; the steps that decided are highlighted; the
encrypted packet a WireGuard device emits (and the inner packet it
receives) is told as an indented journey of its own. Colour only on a
terminal: :func:`render` writes through rich, :func:`to_text` gives the plain
text.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from wgexplain.explain.wrap import output_width, wrap_hanging
from wgexplain.kernel.record import Step, Trace

_STAGE_STYLE = {
    "route": "cyan", "hook": "magenta", "nat": "yellow", "tunnel": "green",
    "device": "blue", "conntrack": "bright_black", "unmodelled": "red",
}
_VERDICT_STYLE = {"accept": "bold green", "drop": "bold red", "reject": "bold red",
                  "unknown": "bold yellow"}

_DIRECTION_TEXT = {
    "out": "sent by a local process",
    "in": "arriving at this host",
    "forward": "arriving, to be forwarded",
}


def _step_lines(n: int, step: Step, indent: str, width: int | None = None) -> list[Text]:
    lines: list[Text] = []
    hang = indent + "      "
    head = Text(indent)
    head.append(f"{n:>2}. ", style="bold" if step.decisive else "")
    head.append(f"{step.stage:<10}", style=_STAGE_STYLE.get(step.stage, ""))
    where = " ".join(x for x in (step.hook, step.table, step.chain) if x)
    if where:
        head.append(f"[{where}] ", style="dim")
    if step.text:
        label = f"rule {step.rule}: " if step.rule is not None else ""
        head.append(label)
        head.append(step.text, style="bold yellow" if step.decisive else "yellow")
        if step.origin and step.origin not in ("<none>", ""):
            head.append(f"  ({step.origin})", style="dim")
        lines.extend(wrap_hanging(head, width, hang))
        body = Text(hang)
        body.append(step.why, style="bold" if step.decisive else "")
        lines.extend(wrap_hanging(body, width, hang))
    else:
        head.append(step.why, style="bold" if step.decisive else "")
        lines.extend(wrap_hanging(head, width, hang))
    extra = dict(step.extra)
    tail = []
    if step.effect:
        tail.append(f"effect: {step.effect}")
    if step.verdict:
        tail.append(f"verdict: {step.verdict}")
    if step.text and "rules_evaluated" in extra and step.rule is not None and step.rule > 1:
        tail.append(f"{step.rule - 1} rule(s) before it did not match")
    if tail:
        t = Text(indent + "      ")
        for i, part in enumerate(tail):
            if i:
                t.append("; ")
            style = _VERDICT_STYLE.get(step.verdict or "", "") if part.startswith("verdict") else "italic"
            t.append(part, style=style)
        lines.extend(wrap_hanging(t, width, hang))
    return lines


def trace_lines(trace: Trace, indent: str = "", title: str | None = None,
                width: int | None = None) -> list[Text]:
    """The story of ``trace`` (and its nested journeys) as rich Text lines.

    ``width``: wrap long lines to it, each continuation under the text it
    continues (``None``: one line per fact).
    """
    out: list[Text] = []
    hang = indent + "    "
    if not indent and trace.all_assumptions:
        out.append(Text("assuming (not pasted):", style="bold yellow"))
        for a in trace.all_assumptions:
            out.extend(wrap_hanging(Text(f"  - {a}", style="yellow"), width, "    "))
    head = Text(indent)
    head.append(title or "Packet", style="bold underline")
    head.append(f": {trace.packet}" if trace.packet else "")
    head.append(f" ({_DIRECTION_TEXT.get(trace.direction, trace.direction)})", style="dim")
    out.extend(wrap_hanging(head, width, hang))
    for n, step in enumerate(trace.steps, 1):
        out.extend(_step_lines(n, step, indent, width))
        if step.stage == "tunnel" and trace.encapsulated is not None and step.verdict == "accept":
            out.extend(trace_lines(trace.encapsulated, indent + "    │ ",
                                   "Encapsulated (the encrypted UDP packet, its own journey)",
                                   width))
        if step.stage == "tunnel" and trace.decapsulated is not None:
            out.extend(trace_lines(trace.decapsulated, indent + "    │ ",
                                   "Decapsulated (the inner packet, arriving on the tunnel)",
                                   width))
    if trace.decapsulated is not None and not any(s.stage == "tunnel" for s in trace.steps):
        out.extend(trace_lines(trace.decapsulated, indent + "    │ ", "Looped back (arriving on lo)",
                               width))
    v = Text(indent)
    v.append("Verdict: ", style="bold")
    enc = trace.encapsulated
    outer_lost = (trace.verdict == "accept" and enc is not None and enc.verdict != "accept")
    if outer_lost and enc is not None:
        # the packet entered the tunnel, but what leaves the machine is the encrypted
        # packet: its verdict is the one that tells whether anything gets out
        v.append(enc.verdict.upper(), style=_VERDICT_STYLE.get(enc.verdict, "bold"))
        v.append(f" — the packet enters {trace.egress.dev if trace.egress else 'the tunnel'}, "
                 f"but the encrypted packet is {_PAST.get(enc.verdict, enc.verdict)}"
                 + (f" ({enc.errno})" if enc.errno else "") + ": nothing leaves the machine")
    else:
        v.append(trace.verdict.upper(), style=_VERDICT_STYLE.get(trace.verdict, "bold"))
    if trace.verdict == "unknown":
        v.append(" — it depends on what was not pasted (see the route step)")
    if trace.egress is not None and not outer_lost:
        e = trace.egress
        if e.local:
            v.append(f" — delivered locally to {e.dst}" + (f" port {e.dport}" if e.dport is not None else ""))
        else:
            v.append(f" — leaves {e.dev}" + (f" src {e.src}" if e.src is not None else "")
                     + f" dst {e.dst} mark {e.mark:#x}")
            if e.gateway:
                v.append(f" via {e.gateway}")
    if trace.errno:
        v.append(f" — the sender sees {trace.errno}", style="bold red")
    out.extend(wrap_hanging(v, width, indent + "         "))
    for note in trace.notes:
        t = Text(indent)
        t.append("note: ", style="bold cyan")
        t.append(note)
        out.extend(wrap_hanging(t, width, indent + "      "))
    if any(s.stage == "unmodelled" for s in trace.steps):
        t = Text(indent)
        t.append("not exact: ", style="bold red")
        t.append("some steps were not modelled (see the 'unmodelled' steps)")
        out.extend(wrap_hanging(t, width, indent + "      "))
    if not indent and trace.all_to_paste:
        from wgexplain.explain.route_text import collect_lines

        t = Text("to settle it, paste the output of: " + "; ".join(
            f"`{c}`" for c in trace.all_to_paste), style="cyan")
        out.extend(wrap_hanging(t, width, "    "))
        out.extend(collect_lines())
    return out


_PAST = {"accept": "accepted", "drop": "dropped", "reject": "rejected"}


def render(trace: Trace, console: Console | None = None, width: int | None = None) -> None:
    """Print the story; colour only when the console is a terminal.

    ``width``: wrap to it (``None``: the width :func:`~wgexplain.explain.wrap.output_width`
    finds for standard output, i.e. the terminal's, ``$COLUMNS``, or no wrapping).
    """
    console = console or Console(highlight=False, soft_wrap=True)
    if width is None and console.file is sys.stdout:
        width = output_width()
    for line in trace_lines(trace, width=width):
        console.print(line)


def to_text(trace: Trace, width: int | None = None) -> str:
    """The plain-text story (no colour), e.g. for tests and docs; ``width`` wraps it."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, no_color=True, highlight=False,
                      soft_wrap=True, width=200)
    render(trace, console, width=width)
    return buf.getvalue()


def summary(trace: Trace) -> dict[str, Any]:
    """A one-line view used by docs tables: verdict, egress device, outer device."""
    return {
        "verdict": trace.verdict,
        "dev": trace.egress.dev if trace.egress else None,
        "outer_dev": trace.encapsulated.egress.dev if trace.encapsulated and trace.encapsulated.egress else None,
        "errno": trace.errno,
    }
