"""A packet's journey as steps to follow on a web page (the site's traces).

The terminal tells a trace as text (`wgexplain.explain.trace_text`); a page
needs something a reader can follow at a glance. Here a trace becomes:

* the verdict first (accepted and where it leaves, or refused and what the
  sender sees);
* a numbered list, one line per step: what happened, where (hook, table,
  chain, or the rule and table of a route lookup), and the result;
* each step's detail -- the rule's text and ``file:line``, the kernel
  function and the reasoning -- folded in a ``<details>``;
* the steps that make the page's point (by default the *decisive* steps,
  those that decided the verdict or the egress) shown, and the full trace
  one click away.

The numbers are the trace's own step numbers (those of ``wgexplain trace``
and of ``--json``'s ``steps`` array, from 1), so a shown step keeps its
number when steps around it are folded away.

```python
import wgexplain
from wgexplain.explain.trace_html import to_html

host = wgexplain.load("examples/mullvad/session-en.txt")
html = to_html(wgexplain.trace(host, "9.9.9.9", proto="udp", dport=53))
assert html.startswith('<div class="wgx-trace">') and "REJECT" in html
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape as _escape
from typing import Any

from wgexplain.kernel.record import Step, Trace

__all__ = ["to_html", "step_line", "shorten_origins"]


def escape(text: str) -> str:
    """Text as HTML element content (quotes need no escaping there)."""
    return _escape(text, quote=False)


_ORIGINS = re.compile(r"(?P<path>[\w./-]+\.\w+):(?P<line>\d+)(?P<more>(?:,\s*(?P=path):\d+)+)")


def shorten_origins(text: str) -> str:
    """``f.txt:59, f.txt:73, f.txt:92`` as ``f.txt:59, :73, :92`` (one file named once)."""

    def one(m: re.Match[str]) -> str:
        more = re.findall(r":(\d+)", m.group("more"))
        return f"{m.group('path')}:{m.group('line')}" + "".join(f", :{n}" for n in more)

    return _ORIGINS.sub(one, text)


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _route_of(step: Step) -> Mapping[str, Any] | None:
    route = dict(step.extra).get("route")
    return route if isinstance(route, Mapping) else None


def step_line(step: Step) -> tuple[str, str, str]:
    """(what, where, result) of one step, as HTML fragments: the line a reader scans."""
    route = _route_of(step) if step.stage == "route" else None
    if step.stage == "route":
        what = "re-route" if "ip_route_me_harder" in step.why else "route lookup"
        if route is not None:
            where = f"rule {route.get('rule')} → table {route.get('table')}" if route.get("rule") is not None else ""
            if route.get("error"):
                result = f"<strong>{escape(str(route['error']))}</strong>"
            else:
                bits = [f"dev {route.get('dev')}"] if route.get("dev") else [str(route.get("type"))]
                if route.get("gateway"):
                    bits.append(f"via {route['gateway']}")
                if route.get("src"):
                    bits.append(f"src {route['src']}")
                result = _code(" ".join(bits))
            return what, escape(where), result
        return what, escape(step.hook or ""), escape(_short(step.why, 80))
    where = " · ".join(x for x in (step.hook, step.table, step.chain) if x)
    verdict = f" → <strong>{escape(step.verdict)}</strong>" if step.verdict else ""
    if step.stage == "hook":
        what = f"rule {step.rule}" if step.rule is not None else "policy"
        result = _code(_short(step.text, 60)) if step.text and step.rule is not None else ""
        if step.effect:
            result += f" ⇒ {escape(step.effect)}"
        return what, escape(where), result + verdict
    if step.stage == "conntrack":
        return "conntrack", escape(where), escape(step.effect or _short(step.why, 60))
    if step.stage == "nat":
        return "NAT", escape(where), escape(_short(step.effect or step.why, 70)) + verdict
    if step.stage == "tunnel":
        extra = dict(step.extra)
        if extra.get("endpoint"):
            result = f"encrypted into UDP to {_code(str(extra['endpoint']))}"
            if extra.get("fwmark") is not None:
                result += f", fwmark {_code(format(int(extra['fwmark']), '#x'))}"
                if extra.get("inferred"):
                    result += " (inferred)"
        else:
            result = escape(_short(step.effect or step.why, 70))
        return "WireGuard", escape(where), result + verdict
    if step.stage == "device":
        if step.verdict in ("drop", "reject"):
            return "refused", "", escape(_short(step.why, 90))
        return "leaves", escape(_short(step.why, 50)), escape(step.effect or "") + verdict
    if step.stage == "unmodelled":
        return "not modelled", escape(where), escape(_short(step.why, 70))
    return escape(step.stage), escape(where), escape(_short(step.effect or step.why, 70)) + verdict


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _detail(step: Step) -> str:
    parts = []
    if step.text:
        rule = f"rule {step.rule}: " if step.rule is not None else ""
        origin = f" <span class=\"wgx-origin\">{escape(step.origin)}</span>" if step.origin else ""
        parts.append(f"<p>{escape(rule)}{_code(step.text)}{origin}</p>")
    parts.append(f"<p>{escape(shorten_origins(step.why))}</p>")
    if step.effect and step.stage not in ("conntrack",):
        parts.append(f"<p>effect: {escape(step.effect)}</p>")
    return "".join(parts)


def _li(n: int, step: Step) -> str:
    what, where, result = step_line(step)
    cls = "wgx-step wgx-decisive" if step.decisive else "wgx-step"
    where_html = f' <span class="wgx-where">{where}</span>' if where else ""
    return (f'<li value="{n}" class="{cls}"><details><summary><span class="wgx-what">{what}</span>'
            f'{where_html} <span class="wgx-result">{result}</span></summary>'
            f'<div class="wgx-detail">{_detail(step)}</div></details></li>')


def _verdict(trace: Trace) -> str:
    kind = re.sub(r"[^a-z]", "", trace.verdict)
    v = f'<strong class="wgx-{kind}">{escape(trace.verdict.upper())}</strong>'
    e = trace.egress
    if e is not None:
        if e.local:
            v += f" — delivered to a local socket, {_code(e.dst)}" + (f" port {e.dport}" if e.dport is not None else "")
        else:
            v += f" — leaves by {_code(str(e.dev))}, src {_code(str(e.src))} → {_code(e.dst)}"
            if e.mark:
                v += f", mark {_code(format(e.mark, '#x'))}"
            if e.gateway:
                v += f", via {_code(e.gateway)}"
    if trace.errno:
        v += f" — the sender sees <strong>{escape(trace.errno)}</strong>"
    if not trace.exact:
        v += " — <em>not exact: a step was not modelled</em>"
    return v


def _nested(trace: Trace, title: str) -> str:
    return (f'<li class="wgx-nested"><details><summary>{escape(title)}: {_verdict(trace)}</summary>'
            f"{_steps(trace, None)}</details></li>")


def _steps(trace: Trace, shown: set[int] | None) -> str:
    items = []
    for n, step in enumerate(trace.steps, 1):
        if shown is not None and n not in shown:
            continue
        items.append(_li(n, step))
        if step.stage == "tunnel" and trace.encapsulated is not None and step.verdict == "accept":
            items.append(_nested(trace.encapsulated, "the encrypted UDP packet's own journey"))
        if step.stage == "tunnel" and trace.decapsulated is not None:
            items.append(_nested(trace.decapsulated, "the inner packet, arriving on the tunnel"))
    if trace.decapsulated is not None and not any(s.stage == "tunnel" for s in trace.steps) and shown is None:
        items.append(_nested(trace.decapsulated, "looped back, arriving on lo"))
    return f'<ol class="wgx-steps">{"".join(items)}</ol>'


def _notes(trace: Trace) -> str:
    """The trace's notes, without those that only repeat a step's evidence."""
    said = " ".join(s.why for s in trace.steps)
    kept = []
    for note in trace.notes:
        refs = re.findall(r"[\w./-]+\.\w+:\d+", note)
        if refs and all(r in said for r in refs):
            continue  # the step that used this evidence already names it
        kept.append(f"<li>{escape(shorten_origins(note))}</li>")
    return f'<ul class="wgx-notes">{"".join(kept)}</ul>' if kept else ""


def to_html(trace: Trace, *, steps: Iterable[int] | None = None, notes: bool = True,
            title: str | None = None) -> str:
    """``trace`` as an HTML block: the verdict, then the steps that make the point.

    ``steps``: the step numbers (from 1) to show; default the decisive
    steps. When some steps are not shown, the full trace follows, folded
    (one click). ``notes``: add the trace's notes (assumptions such as the
    uid) under the steps.
    """
    chosen = set(steps) if steps is not None else {n for n, s in enumerate(trace.steps, 1) if s.decisive}
    every = set(range(1, len(trace.steps) + 1))
    head = f'<p class="wgx-verdict">{escape(title) + ": " if title else ""}{_verdict(trace)}</p>'
    packet = f'<p class="wgx-packet">{_code(trace.packet)}</p>' if trace.packet else ""
    body = _steps(trace, chosen if chosen and chosen != every else None)
    more = ""
    if chosen and chosen != every:
        more = (f'<details class="wgx-full"><summary>the full trace: all {len(trace.steps)} steps'
                f"</summary>{_steps(trace, None)}{_notes(trace) if notes else ''}</details>")
    elif notes:
        more = _notes(trace)
    return f'<div class="wgx-trace">{head}{packet}{body}{more}</div>'
