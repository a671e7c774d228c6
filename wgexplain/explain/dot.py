"""Graphviz diagrams of a routing decision, a packet's journey and a ruleset.

Three pictures, each built from the same result objects the terminal and
JSON outputs use, so a diagram can never disagree with the text:

* `rule_ladder()` -- ``ip rule`` as a decision chain, the walk of
  ``fib_rules_lookup()`` (net/core/fib_rules.c) for one flow;
* `journey()` -- the hooks a packet crosses, in the vocabulary of the
  Netfilter packet-flow figure (``nf_hook_slow()``, ``ip_route_me_harder()``);
* `chain_map()` -- the nftables tables and chains per hook, with
  priority and policy, and the jumps between chains (``nft_do_chain()``).

The DOT source is deterministic: node ids are derived from what they show
(``rule_32764``, ``hook_output``), never from memory addresses, counters
shared between calls, or the clock. Tests check that source; the SVG from
`to_svg()` depends on the installed Graphviz and is not compared.

```python
import wgexplain
from wgexplain.explain.dot import rule_ladder, to_svg

host = wgexplain.load("examples/mullvad/session-en.txt")
ladder = rule_ladder(wgexplain.route(host, "1.1.1.1"), host)
assert "rule_32765" in ladder.source
assert to_svg(ladder).startswith("<svg")
```
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import graphviz

from wgexplain.kernel.fib_rules import format_rule
from wgexplain.kernel.fib_trie import format_route
from wgexplain.model import AF_INET, Host, Rule, family_of

__all__ = ["rule_ladder", "journey", "chain_map", "to_svg", "inline"]

# --- looks ----------------------------------------------------------------

FONT = "Helvetica,Arial,sans-serif"
STRONG = {"color": "#1a237e", "fontcolor": "#000000", "penwidth": "2"}
FAINT = {"color": "#b0b0b0", "fontcolor": "#9e9e9e", "penwidth": "1"}
MATCH_FILL = "#c5cae9"
ERROR_FILL = "#ffcdd2"
TUNNEL_FILL = "#e0f2f1"

#: The order of the hooks in the Netfilter packet-flow figure, left to right.
HOOK_ORDER = ("ingress", "prerouting", "input", "forward", "output", "postrouting", "egress")


def _dot_label(text: str) -> str:
    """A label as DOT text: user text keeps its backslashes, lines break with ``\\n``."""
    return "\\n".join(line.replace("\\", "\\\\") for line in str(text).split("\n"))


class Diagram(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose labels may span lines.

    Each label is written on one line of DOT source (``\\n`` breaks), with
    backslashes in user text (a rule comment, a device name) escaped so
    Graphviz does not read them as its own escapes (``\\N``, ``\\G``...).
    """

    def node(self, name: str, label: str | None = None, _attributes: Any = None, **attrs: Any) -> None:
        super().node(name, None if label is None else _dot_label(label), _attributes=_attributes, **attrs)

    def edge(self, tail_name: str, head_name: str, label: str | None = None, _attributes: Any = None,
             **attrs: Any) -> None:
        super().edge(tail_name, head_name, None if label is None else _dot_label(label),
                     _attributes=_attributes, **attrs)

    def attr(self, kw: str | None = None, _attributes: Any = None, **attrs: Any) -> None:
        if "label" in attrs and attrs["label"] is not None:
            attrs["label"] = _dot_label(attrs["label"])
        super().attr(kw, _attributes=_attributes, **attrs)


def _graph(name: str, *, rankdir: str = "TB") -> Diagram:
    g = Diagram(name, strict=False)
    g.attr(rankdir=rankdir, fontname=FONT, bgcolor="transparent", nodesep="0.3", ranksep="0.35")
    # a little more margin than Graphviz's default: browsers' sans-serif runs wider than dot's metrics
    g.attr("node", fontname=FONT, fontsize="11", shape="box", style="rounded", margin="0.18,0.07")
    g.attr("edge", fontname=FONT, fontsize="10")
    return g


def _id(*parts: object) -> str:
    """A stable DOT node id made of what the node shows."""
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", str(p)).strip("_") or "x" for p in parts)


# --- text of rules and routes: the simulator's own, as iproute2 prints them --


def _table_name(table: int | None) -> str:
    from wgexplain.model import TABLE_NAMES

    if table is None:
        return "?"
    return TABLE_NAMES.get(table, str(table))


def _rule_text(rule: Rule, host: Host | None) -> str:
    return format_rule(rule, host.table_name if host is not None else _table_name)


# --- the rule ladder -------------------------------------------------------


def _flow_label(result: Any) -> str:
    from wgexplain.kernel.flowspec import format_flowspec

    flow = getattr(result, "flow", None)
    if flow is None:
        return f"packet to {getattr(result, 'dst', '?')}"
    return "packet " + format_flowspec(flow, mark_always=True)


def _steps_by_rule(result: Any) -> dict[int, list[Any]]:
    """The rule steps of a result, by rule pref (steps without a rule left out)."""
    steps: dict[int, list[Any]] = {}
    for step in result.steps:
        if step.rule is not None:
            steps.setdefault(step.rule, []).append(step)
    return steps


def _rules_for(result: Any, host: Host | None) -> list[tuple[int, str]]:
    """(pref, text) of every rule of the flow's family, in walk order."""
    family = family_of(result.flow.dst) if getattr(result, "flow", None) is not None else AF_INET
    if host is not None and host.rules_of(family):
        return [(r.pref, _rule_text(r, host)) for r in host.rules_of(family)]
    # Without the host, draw only the rules the walk visited, with their action.
    seen: dict[int, str] = {}
    for step in result.steps:
        if step.rule is not None:
            seen.setdefault(step.rule, f"{step.rule}: {step.action}")
    return sorted(seen.items())


def _suppress_label(step: Any, host: Host | None, family: int) -> str:
    route = getattr(step, "route", None)
    limit = None
    if host is not None:
        for rule in host.rules_of(family):
            if rule.pref == step.rule:
                limit = rule.suppress_prefixlength
                break
    if route is not None and limit is not None:
        return f"suppressed: /{route.prefixlen} ≤ {limit}"
    return "suppressed"


def rule_ladder(result: Any, host: Host | None = None) -> graphviz.Digraph:
    """The rule walk of one routing decision as a decision chain.

    Mirrors ``fib_rules_lookup()`` (net/core/fib_rules.c): every rule of the
    family is a node, in preference order; the packet's path through them is
    drawn strong, rules whose selector did not match (``fib_rule_match()``)
    and rules never reached are faint. A lookup refused by
    ``fib4_rule_suppress()`` is a dashed edge into the table and back,
    labelled ``suppressed: /0 ≤ 0``. The decisive lookup continues strong to
    the table, the route it found and the device (or the errno).

    ``result`` is a ``RouteResult`` (``wgexplain.route(...)``); ``host``
    supplies the rules' text and the rules after the decisive one.
    """
    family = family_of(result.flow.dst) if getattr(result, "flow", None) is not None else AF_INET
    g = _graph("rule_ladder")
    g.attr(label="ip rule: the walk of fib_rules_lookup()", labelloc="t", fontsize="12")
    steps = _steps_by_rule(result)
    decisive = result.rule
    g.node("packet", _flow_label(result), shape="oval", style="filled", fillcolor="#ffffff", **STRONG)

    rules = _rules_for(result, host)
    # the packet's path: the rules in the order the walk met them (a goto jumps ahead)
    path = ["packet"] + [_id("rule", pref) for pref in dict.fromkeys(
        s.rule for s in result.steps if s.rule is not None)]
    taken = set(zip(path, path[1:]))
    previous = "packet"
    for pref, text in rules:
        rid = _id("rule", pref)
        results = [s.result for s in steps.get(pref, [])]
        matched = any(r != "no match" for r in results)
        attrs: dict[str, str] = dict(STRONG if matched else FAINT)
        if pref == decisive:
            attrs.update(style="rounded,filled", fillcolor=MATCH_FILL)
        g.node(rid, _wrap(text, 30, 4), **attrs)
        # the ladder: each rule leads to the next; strong where the packet went
        g.edge(previous, rid, **(STRONG if (previous, rid) in taken else FAINT))
        previous = rid
        for n, step in enumerate(steps.get(pref, [])):
            _draw_step(g, rid, step, n, host, family, decisive=(pref == decisive))
    ladder = set(zip(["packet"] + [_id("rule", p) for p, _ in rules], [_id("rule", p) for p, _ in rules]))
    for a, b in sorted(taken - ladder):  # jumps: goto, or a rule the host did not list
        g.edge(a, b, label="goto", constraint="false", **STRONG)

    _draw_outcome(g, result)
    return g


def _draw_step(g: graphviz.Digraph, rid: str, step: Any, n: int, host: Host | None, family: int,
               *, decisive: bool) -> None:
    """The side trip of one rule's action: a lookup, a goto, an error."""
    table = getattr(step, "table", None)
    if step.result == "goto":
        return  # the walk continues at the target rule: the ladder already shows it
    if table is None:
        return
    name = host.table_name(table) if host is not None else _table_name(table)
    tid = _id("lookup", step.rule, n)
    route = getattr(step, "route", None)
    label = f"table {name}"
    if route is not None:
        label += "\n" + _wrap(format_route(route), 28, 4)
    with g.subgraph() as same:
        same.attr(rank="same")
        same.node(rid)
        if decisive and step.result == "matched":
            same.node(tid, label, shape="folder", style="filled", fillcolor=MATCH_FILL, **STRONG)
        else:
            same.node(tid, label, shape="folder", **FAINT)
    if decisive and step.result == "matched":
        g.edge(rid, tid, label=f"lookup {name}", **STRONG)
        return
    back = {
        "suppressed": _suppress_label(step, host, family),
        "not found": "no route",
        "throw": "throw: next rule",
    }.get(step.result, step.result)
    g.edge(rid, tid, label=f"lookup {name}", style="dashed", **FAINT)
    g.edge(tid, rid, label=back, style="dashed", color="#616161", fontcolor="#424242")


def _draw_outcome(g: graphviz.Digraph, result: Any) -> None:
    """From the decisive lookup (or rule) through the checks that are not rules to the outcome."""
    decisive = result.rule
    matched_steps = [s for s in result.steps if s.rule == decisive and s.result == "matched"]
    source = _id("lookup", decisive, len([s for s in result.steps if s.rule == decisive]) - 1) \
        if matched_steps and matched_steps[-1].table is not None else (
            _id("rule", decisive) if decisive is not None else "packet")
    # checks that are not rules (martians, forwarding, rp_filter, source
    # address), in the order the kernel made them, on the way to the outcome
    for n, step in enumerate(s for s in result.steps if s.rule is None):
        cid = _id("check", n)
        refused = step.result in ("refused", "error")
        g.node(cid, f"{step.action}: {step.result}", shape="box", style="rounded,filled",
               fillcolor=ERROR_FILL if refused else "#ffffff", **STRONG)
        g.edge(source, cid, **STRONG)
        source = cid
    error = getattr(result, "error", None)
    if error:
        g.node("outcome", f"{error}\n(route type {result.type})", shape="octagon", style="filled",
               fillcolor=ERROR_FILL, **STRONG)
        g.edge(source, "outcome", **STRONG)
        return
    label = f"dev {result.dev}" if result.dev else f"type {result.type}"
    extra = []
    if getattr(result, "gateway", None):
        extra.append(f"via {result.gateway}")
    if getattr(result, "src", None):
        extra.append(f"src {result.src}")
    if extra:
        label += "\n" + " ".join(extra)
    g.node("outcome", label, shape="box3d", style="filled", fillcolor=MATCH_FILL, **STRONG)
    g.edge(source, "outcome", **STRONG)


# --- the journey -----------------------------------------------------------


def _as_json(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    to_json = getattr(obj, "to_json", None)
    if to_json is None:
        raise TypeError(f"expected a Trace or its to_json() dict, got {type(obj).__name__}")
    data = to_json()
    return data if isinstance(data, Mapping) else {}


def _short(text: str, width: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(text: str, width: int = 30, lines: int = 3) -> str:
    """Text broken into at most ``lines`` lines of about ``width`` characters."""
    import textwrap

    parts = textwrap.wrap(" ".join(str(text).split()), width, break_on_hyphens=False) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = _short(parts[-1] + " …", width)
    return "\n".join(parts)


def _route_label(step: Mapping[str, Any]) -> str:
    """A routing decision: the rule and table that decided, and the device (or errno)."""
    why = str(step.get("why", ""))
    title = "re-route" if "ip_route_me_harder" in why else "routing decision"
    route = step.get("route")
    if isinstance(route, Mapping):
        lines = [title]
        if route.get("rule") is not None:
            lines.append(f"rule {route['rule']}")
            lines.append(f"table {route.get('table')}")
        outcome = route.get("error") or (f"dev {route['dev']}" if route.get("dev") else route.get("type"))
        lines.append(f"→ {outcome}")
        return "\n".join(lines)
    what = step.get("effect") or step.get("text") or step.get("why") or ""
    return f"{title}\n{_wrap(what, 22, 2)}"


def _journey_nodes(data: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(id, label, attrs, hook) for each stop of the packet, in order.

    Consecutive steps in the same chain collapse into one node that names
    the chain and the rule that decided.
    """
    stops: list[tuple[str, str, dict[str, str], str | None]] = []
    counts: dict[str, int] = {}

    def new_id(*parts: object) -> str:
        base = _id(*parts)
        counts[base] = counts.get(base, 0) + 1
        return base if counts[base] == 1 else f"{base}_{counts[base]}"

    last_chain: tuple[Any, ...] | None = None
    last_text: Any = None
    chain_title: dict[str, str] = {}
    chain_lines: dict[str, list[str]] = {}
    for step in data.get("steps") or []:
        stage = step.get("stage")
        hook = step.get("hook")
        if stage in ("hook", "nat") and step.get("chain"):
            key = (hook, step.get("table"), step.get("chain"))
            verdict = step.get("verdict") or ""
            lines: list[str] = []
            rule, text, effect = step.get("rule"), step.get("text"), step.get("effect")
            # a rule's text once per chain: a later step of the same rule adds only its outcome
            # (the same text in another chain is another rule, and is shown again)
            if text and (verdict or effect) and (key, text) != last_text:
                lines.append(_wrap((f"rule {rule}: " if rule not in (None, "") else "") + str(text), 30, 3))
            if effect:
                lines.append("⇒ " + _wrap(str(effect), 28, 2))
            if verdict:
                lines.append(f"→ {verdict}")
            last_text = (key, text)
            if key == last_chain and stops:
                # a later step in the same chain: its lines follow, the last one decided
                sid, _, sattrs, shook = stops[-1]
                chain_lines[sid].extend(lines)
                if verdict in ("drop", "reject"):
                    sattrs = {**sattrs, "fillcolor": ERROR_FILL}
                stops[-1] = (sid, "\n".join([chain_title[sid], *chain_lines[sid][-8:]]), sattrs, shook)
                continue
            last_chain = key
            sid = new_id("chain", hook, step.get("table"), step.get("chain"))
            chain_title[sid] = f"{step.get('table', '')} {step.get('chain')}".strip()
            chain_lines[sid] = lines
            attrs = {"shape": "box", "style": "rounded,filled",
                     "fillcolor": ERROR_FILL if verdict in ("drop", "reject") else "#ffffff"}
            stops.append((sid, "\n".join([chain_title[sid], *lines]), attrs, hook))
            continue
        last_chain = None
        if stage == "route":
            stops.append((new_id("route", hook or "decision"), _route_label(step),
                          {"shape": "diamond", "style": "filled", "fillcolor": "#fff8e1", "margin": "0,0",
                           "fontsize": "10"}, hook))
        elif stage == "device":
            what = "\n".join(_wrap(x, 28) for x in (step.get("why"), step.get("effect")) if x) or "device"
            stops.append((new_id("device"), what,
                          {"shape": "box3d", "style": "filled", "fillcolor": MATCH_FILL}, hook))
        elif stage == "tunnel":
            if step.get("endpoint"):
                what = f"encrypt for peer\n{step['endpoint']}"
                if step.get("fwmark") is not None:
                    what += f"\nfwmark {int(step['fwmark']):#x}" + (" (inferred)" if step.get("inferred") else "")
            else:
                what = _wrap(step.get("effect") or step.get("text") or step.get("why") or "", 28)
            attrs = {"shape": "cds", "style": "filled", "fillcolor": TUNNEL_FILL}
            if step.get("verdict") in ("drop", "reject"):
                attrs["fillcolor"] = ERROR_FILL
            stops.append((new_id("tunnel"), f"WireGuard\n{what}", attrs, hook))
        elif stage == "unmodelled":
            what = step.get("why") or step.get("text") or "?"
            stops.append((new_id("unmodelled"), f"not modelled:\n{_wrap(what, 28)}",
                          {"shape": "note", "style": "filled,dashed", "fillcolor": "#fff3e0"}, hook))
        else:  # conntrack and anything newer: shown, never dropped
            what = step.get("effect") or step.get("text") or step.get("why") or stage
            stops.append((new_id(stage or "step"), f"{stage}\n{_wrap(what, 28)}",
                          {"shape": "box", "style": "dashed"}, hook))
    return stops


def _draw_journey(g: graphviz.Digraph, data: Mapping[str, Any], prefix: str, depth: int) -> tuple[str, str]:
    """Draw one journey into ``g``; return the ids of its first and last node."""
    stops = _journey_nodes(data)
    start = f"{prefix}start"
    direction = data.get("direction") or "out"
    start_label = {"out": "local process", "in": "arrives on the wire", "forward": "arrives on the wire"}
    if depth and direction == "out":
        first = "sent by WireGuard"
    elif depth:
        first = "decrypted by WireGuard"
    else:
        first = start_label.get(direction, "packet")
    packet = data.get("packet")
    # a box, not an oval: an oval's width grows with its height, and the column is narrow
    g.node(start, first + (f"\n{_wrap(packet, 30, 3)}" if packet else ""), shape="box", style="rounded,bold",
           **STRONG)

    hooks_seen: list[str] = []
    by_hook: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    loose: list[tuple[str, str, dict[str, str]]] = []
    for sid, label, attrs, hook in stops:
        if hook and not sid.startswith(("device", "tunnel")):
            if hook not in by_hook:
                hooks_seen.append(hook)
            by_hook.setdefault(hook, []).append((prefix + sid, label, attrs))
        else:
            loose.append((prefix + sid, label, attrs))
    for hook in hooks_seen:
        with g.subgraph(name=f"cluster_{prefix}hook_{_id(hook)}") as c:
            # one box per hook: what ran there is stacked inside, in order, top down
            c.attr(label=hook.upper(), style="rounded", color=STRONG["color"], fontcolor="#1a237e",
                   penwidth="1.5")
            for sid, label, attrs in by_hook[hook]:
                c.node(sid, label, **attrs)
    for sid, label, attrs in loose:
        g.node(sid, label, **attrs)

    verdict = data.get("verdict")
    end = f"{prefix}end"
    egress = data.get("egress")
    if verdict == "accept" and egress:
        bits = [f"{egress.get('src')} → {egress.get('dst')}"]
        if egress.get("proto"):
            bits.append(f"{egress['proto']}" + (f" dport {egress['dport']}" if egress.get("dport") else ""))
        if egress.get("mark"):
            bits.append(f"mark {int(egress['mark']):#x}")
        where = "delivered to a local socket" if egress.get("local") else f"leaves by {egress.get('dev')}"
        g.node(end, f"{where}\n" + _wrap(" ".join(bits), 30), shape="box3d", style="filled",
               fillcolor=MATCH_FILL, **STRONG)
    else:
        errno = data.get("errno")
        g.node(end, f"{verdict or 'stopped'}" + (f"\nsender gets {errno}" if errno else ""),
               shape="octagon", style="filled", fillcolor=ERROR_FILL, **STRONG)

    ids = [prefix + sid for sid, *_ in stops]
    nested_follows = bool(data.get("encapsulated") or data.get("decapsulated"))
    if nested_follows and ids and stops[-1][0].startswith("tunnel") and verdict == "accept":
        # the packet leaves by the WireGuard device, which then sends the nested packet
        order = [start] + ids[:-1] + [end, ids[-1]]
    else:
        order = [start] + ids + [end]
    for a, b in zip(order, order[1:]):
        g.edge(a, b, **STRONG)
    last = order[-1]

    nested = (
        ("encapsulated", "outer_", "WireGuard encapsulation:\nthe outer UDP packet's own journey",
         "encrypted, sent again"),
        ("decapsulated", "inner_", "WireGuard decapsulation:\nthe inner packet's own journey",
         "decrypted, received again"),
    )
    for key, tag, title, how in nested:
        inner = data.get(key)
        if not inner:
            continue
        with g.subgraph(name=f"cluster_{prefix}{key}") as c:
            c.attr(label=title, style="rounded,filled", fillcolor=TUNNEL_FILL, color="#00695c",
                   fontcolor="#004d40")
            first, _ = _draw_journey(c, inner, f"{prefix}{tag}", depth + 1)
        # the nested journey continues below: the picture reads top to bottom
        g.edge(last, first, label=how, style="bold", color="#00695c", fontcolor="#004d40")
    return start, last


def _untouched(touched: set[str]) -> list[str]:
    """The hooks of the packet-flow figure this packet did not cross (named in the title)."""
    return [h for h in HOOK_ORDER[1:-1] if h not in touched]


def _touched_hooks(data: Mapping[str, Any]) -> set[str]:
    hooks = {s.get("hook") for s in data.get("steps") or [] if s.get("hook")}
    return {str(h) for h in hooks}


def journey(trace: Any) -> graphviz.Digraph:
    """The journey of one packet, top to bottom.

    Follows the Netfilter packet-flow figure: routing decisions are
    diamonds (``ip_route_output_key_hash_rcu()``, and the re-route of
    ``ip_route_me_harder()`` after a ``type route`` chain changed the mark),
    each hook a box holding the chains that ran there (``nf_hook_slow()``
    walking them in priority order), the taken path strong. The hooks the
    packet never crossed are named in the title. When the packet leaves by a
    WireGuard device, the encrypted outer packet's own journey sits in a
    nested cluster, as ``wg_packet_send_staged_packets()`` sends it again.

    ``trace`` is a ``Trace`` (``wgexplain.trace(...)``) or its ``to_json()``
    dict (the DESIGN.md contract).
    """
    data = _as_json(trace)
    g = _graph("journey", rankdir="TB")
    verdict = data.get("verdict") or "?"
    title = f"the packet's journey (verdict: {verdict})"
    missing = _untouched(_touched_hooks(data))
    if missing:
        title += "\n" + _wrap("hooks not crossed: " + ", ".join(h.upper() for h in missing), 34, 3)
    g.attr(label=title, labelloc="t", fontsize="12")
    _draw_journey(g, data, "", 0)
    if data.get("exact") is False:
        g.node("inexact", "not exact: a step above is not modelled", shape="note", style="dashed", **FAINT)
    return g


# --- the chain map ---------------------------------------------------------


def _verdicts(obj: Any, table: Any, _seen: set[str] | None = None) -> Iterable[tuple[str, str]]:
    """(kind, target) of every ``jump``/``goto`` reachable in a rule.

    Walks the statements as ``nft_do_chain()`` may meet them: plain
    verdicts, and verdict maps (``vmap``), anonymous or named (``@name``,
    resolved in the rule's table).
    """
    from wgexplain import ruleset as rs

    seen = _seen if _seen is not None else set()
    if isinstance(obj, rs.Verdict):
        if obj.kind in ("jump", "goto") and obj.target:
            yield obj.kind, str(obj.target)
    elif isinstance(obj, rs.SetRef):
        name = obj.name.lstrip("@")
        named = table.set(name) if table is not None and name not in seen else None
        if named is not None:
            seen.add(name)
            yield from _verdicts(named.elements, table, seen)
    elif isinstance(obj, tuple):
        for item in obj:
            yield from _verdicts(item, table, seen)
    elif isinstance(obj, rs.Rule):
        yield from _verdicts(obj.exprs, table, seen)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from _verdicts(getattr(obj, name), table, seen)


def _priority_text(chain: Any) -> str:
    text = getattr(chain, "priority_text", None)
    prio = getattr(chain, "priority", None)
    if text and str(text) != str(prio):
        return f"{text} ({prio})"
    return str(prio)


def chain_map(ruleset: Any) -> graphviz.Digraph:
    """Tables and chains per hook, with priority and policy; jumps as edges.

    A base chain hangs off its hook, hooks left to right in the order of
    the packet-flow figure; on one hook the chains are listed by priority,
    the order in which ``nf_hook_slow()`` runs them (lowest first; with
    equal priority, in order of registration). Regular chains are reached
    only by ``jump`` (solid edge: comes back) or ``goto`` (dashed: does not
    come back), as ``nft_do_chain()`` treats them.
    """
    g = _graph("chain_map", rankdir="LR")
    g.attr(label="nftables: base chains by hook,\nin priority order; jumps", labelloc="t", fontsize="12")
    tables = sorted(getattr(ruleset, "tables", ()) or (), key=lambda t: (str(t.family), str(t.name)))
    hooks: dict[str, list[tuple[int, str, str, Any]]] = {}
    chain_ids: dict[tuple[str, str, str], str] = {}
    for table in tables:
        tid = _id("table", table.family, table.name)
        with g.subgraph(name=f"cluster_{tid}") as c:
            c.attr(label=f"table {table.family} {table.name}", style="rounded", color="#5c6bc0")
            for chain in sorted(table.chains, key=lambda ch: str(ch.name)):
                cid = _id("chain", table.family, table.name, chain.name)
                chain_ids[(str(table.family), str(table.name), str(chain.name))] = cid
                nrules = len(getattr(chain, "rules", ()) or ())
                if getattr(chain, "hook", None):
                    head = f"type {chain.type} hook {chain.hook}\npriority {_priority_text(chain)}"
                    policy = chain.effective_policy
                    label = f"{chain.name}\n{head}\npolicy {policy}; {nrules} rule{'s' if nrules != 1 else ''}"
                    fill = ERROR_FILL if policy == "drop" else "#ffffff"
                    c.node(cid, label, style="rounded,filled", fillcolor=fill, **STRONG)
                    prio = chain.priority if isinstance(chain.priority, int) else 0
                    hooks.setdefault(str(chain.hook), []).append((prio, str(table.family), str(table.name), cid))
                else:
                    label = f"{chain.name}\nregular chain; {nrules} rule{'s' if nrules != 1 else ''}"
                    c.node(cid, label, style="rounded,dashed")
    known = [h for h in HOOK_ORDER if h in hooks] + sorted(h for h in hooks if h not in HOOK_ORDER)
    # the hooks in one column, in packet-flow order top down; their chains to the right
    with g.subgraph() as column:
        column.attr(rank="same")
        previous_hook = None
        for hook in known:
            hid = _id("hook", hook)
            column.node(hid, hook.upper(), shape="cds", style="filled", fillcolor="#fff8e1")
            if previous_hook is not None:
                column.edge(previous_hook, hid, style="invis")
            previous_hook = hid
    for hook in known:
        hid = _id("hook", hook)
        for order, (prio, family, table, cid) in enumerate(sorted(hooks[hook], key=lambda x: x[0])):
            # the order only: the chain's box says its priority (the column stays narrow)
            g.edge(hid, cid, label=f"{order + 1}.")
    for table in tables:
        for chain in sorted(table.chains, key=lambda ch: str(ch.name)):
            src = chain_ids[(str(table.family), str(table.name), str(chain.name))]
            seen: set[tuple[str, str]] = set()
            for rule in chain.rules:
                for kind, target in _verdicts(rule, table):
                    if (kind, target) in seen:
                        continue
                    seen.add((kind, target))
                    dst = chain_ids.get((str(table.family), str(table.name), target))
                    if dst is None:
                        dst = _id("missing", table.family, table.name, target)
                        g.node(dst, f"{target}\n(no such chain)", shape="box", style="dashed", **FAINT)
                    g.edge(src, dst, label=kind, style="dashed" if kind == "goto" else "solid")
    return g


# --- SVG --------------------------------------------------------------------

_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_IDS = re.compile(r'\bid="(graph|node|edge|clust|a_node|a_edge)(\d+)"')


def to_svg(digraph: graphviz.Digraph) -> str:
    """The diagram as an ``<svg>`` element ready to inline in HTML.

    Runs Graphviz's ``dot`` (about 40 ms). The XML prolog, DOCTYPE and
    comments are removed; element ids get a prefix derived from the DOT
    source, so several diagrams can share one page without clashing ids.
    """
    svg = digraph.pipe(format="svg", encoding="utf-8")
    svg = _PROLOG.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    prefix = "g" + hashlib.sha1(digraph.source.encode()).hexdigest()[:8] + "-"
    svg = _IDS.sub(lambda m: f'id="{prefix}{m.group(1)}{m.group(2)}"', svg)
    return svg.strip()


def inline(digraph: graphviz.Digraph, *, caption: str | None = None) -> str:
    """`to_svg()` wrapped in the site's diagram container (HTML).

    The container carries the diagram's natural width (``--wgx-width``, in
    CSS pixels); the site's stylesheet scales the picture to the column, never
    wider than that, and never below the scale at which its smallest text
    (10 pt edge labels) would fall under 11 px: a diagram too wide for a
    phone then scrolls in a visible scroller, and opens full size on click.
    """
    body = to_svg(digraph)
    style = ""
    m = re.search(r'<svg\b[^>]*?\bwidth="([\d.]+)pt"', body)
    if m:
        style = f' style="--wgx-width: {float(m.group(1)) * 4 / 3:.0f}px"'
    if caption:
        return f'<figure class="wgx-diagram"{style}>{body}<figcaption>{caption}</figcaption></figure>'
    return f'<div class="wgx-diagram"{style}>{body}</div>'


# --- the command line ---------------------------------------------------------


def _host_of(ctx: Any) -> Host | None:
    meta = getattr(ctx, "meta", None) or {}
    host = meta.get("wgexplain.host")
    return host if isinstance(host, Host) else None


def _chain_map_of(host: Host) -> Diagram:
    from wgexplain.errors import UsageError

    if host.ruleset is None:
        raise UsageError("--format dot|svg of show draws the nftables ruleset, and this source has none")
    return chain_map(host.ruleset)


def register(group: Any) -> None:
    """Add ``--format dot|svg`` to ``route`` (rule ladder), ``trace`` (journey)
    and ``show`` (chain map); called by ``wgexplain.cli`` for its group."""
    from wgexplain.cli import register_format

    drawings = {
        "route": lambda result, ctx: rule_ladder(result, _host_of(ctx)),
        "trace": lambda trace, ctx: journey(trace),
        "show": lambda host, ctx: _chain_map_of(host),
    }
    for command, draw in drawings.items():
        register_format(command, "dot", _as_dot(draw))
        register_format(command, "svg", _as_svg(draw))


def _as_dot(draw: Callable[[Any, Any], Any]) -> Callable[[Any, Any], str]:
    """``--format dot``: the drawing's DOT source."""
    return lambda obj, ctx: draw(obj, ctx).source.rstrip("\n")


def _as_svg(draw: Callable[[Any, Any], Any]) -> Callable[[Any, Any], str]:
    """``--format svg``: the drawing rendered by Graphviz."""
    return lambda obj, ctx: to_svg(draw(obj, ctx))
