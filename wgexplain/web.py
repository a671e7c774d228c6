"""The site's playground: the CLI's answers for text in hand, as one JSON-able dict.

The playground page (docs/playground.md) runs this module in the reader's
browser (Pyodide): what the reader pasted or dropped, and a packet from the
form, in; out, exactly what ``wgexplain route|trace|check --json`` prints
(parsed), the DOT that ``--format dot`` prints, the steps as the site's
pages show them (:mod:`wgexplain.explain.trace_html`), and the source's
warnings. Bad input is the CLI's one line (``wgexplain: FILE:LINE: expected
...``) with the file and line apart, so the page can mark the line; never a
traceback.

Nothing here imports click, rich, pyroute2 or runs Graphviz: the browser has
none of them (the DOT is drawn by Graphviz compiled to WebAssembly, in the page).

```python
from pathlib import Path
from wgexplain.web import answer

text = Path("examples/mullvad/session-en.txt").read_text()
out = answer({"files": [{"name": "paste", "text": text}], "command": "trace",
              "packet": {"dst": "1.1.1.1", "ipproto": "tcp", "dport": "443"}})
assert out["ok"] and out["json"]["egress"]["dev"] == "wg-mullvad"
assert out["dot"].startswith("digraph")
```
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from wgexplain.errors import DumpError, UsageError, WgExplainError
from wgexplain.model import Host

__all__ = ["answer", "load_files", "flow_tokens", "COMMANDS", "PACKET_FIELDS"]


COMMANDS = ("trace", "route", "check")

#: the packet form's fields, in the order of ``ip route get`` (keyword -> form field)
ROUTE_KEYWORDS = ("from", "iif", "oif", "mark", "uid", "ipproto", "sport", "dport", "tos")
#: ``trace``'s own options (``--cgroup``, ``--direction``, ``--state``)
TRACE_FIELDS = ("cgroup", "direction", "state")
PACKET_FIELDS = ("dst",) + ROUTE_KEYWORDS + TRACE_FIELDS


def flow_tokens(packet: Mapping[str, Any]) -> list[str]:
    """The packet form as ``ip route get`` arguments: ``DST [from ADDR] ... [tos N]``
    (what ``wgexplain route SOURCE ...`` takes after SOURCE)."""
    dst = str(packet.get("dst") or "").strip()
    if not dst:
        raise UsageError("expected a destination address (DST) after SOURCE")
    toks = [dst]
    for key in ROUTE_KEYWORDS:
        value = str(packet.get(key) or "").strip()
        if value:
            toks += [key, value]
    return toks


def load_files(files: Sequence[Mapping[str, str]], workdir: str | None = None) -> Host:
    """What the reader gave, as the CLI reads it.

    One file (a paste, or one dropped file): read as ``wgexplain SOURCE``
    reads a file of that name (:func:`wgexplain.sources.load_text`). Several
    (a bundle's files, named ``DIR/FILE``): written into ``DIR`` under
    ``workdir`` (the current directory: in the browser, Pyodide's in-memory
    file system) and read as a bundle directory, named as the CLI would name it.
    """
    from wgexplain.sources import load, load_text

    if not files:
        raise DumpError("paste", 0, "a pasted session, a listing or a ruleset", got="nothing")
    if len(files) == 1:
        return load_text(files[0]["text"], files[0]["name"] or "paste")
    dirs = {os.path.dirname(f["name"]) for f in files}
    bad = [f["name"] for f in files
           if os.path.isabs(f["name"]) or ".." in f["name"].split("/") or not os.path.dirname(f["name"])]
    if len(dirs) != 1 or bad:
        raise DumpError(sorted(bad or dirs)[0], 0, "the files of one bundle directory (DIR/FILE)",
                        got=", ".join(sorted(f["name"] for f in files)))
    (rel,) = dirs
    root = os.path.join(workdir or os.getcwd(), rel)
    shutil.rmtree(root, ignore_errors=True)  # what an earlier answer wrote
    os.makedirs(root)
    for f in files:
        with open(os.path.join(workdir or os.getcwd(), f["name"]), "w", encoding="utf-8") as out:
            out.write(f["text"])
    return load(os.path.relpath(root))


def _route(host: Host, packet: Mapping[str, Any]) -> dict[str, Any]:
    """``wgexplain route SOURCE DST ... --json`` and ``--format dot`` (the rule ladder)."""
    from wgexplain.explain.dot import rule_ladder
    from wgexplain.explain.summary import fold_json_steps
    from wgexplain.kernel.flowspec import parse_flowspec
    from wgexplain.kernel.route import route_get

    result = route_get(host, **parse_flowspec(flow_tokens(packet)))
    obj = result.to_json()
    obj["steps"] = fold_json_steps(obj["steps"])  # as the CLI's _route_json
    return {"json": obj, "dot": rule_ladder(result, host).source.rstrip("\n"), "html": None,
            "chains": None}


def _trace(host: Host, packet: Mapping[str, Any]) -> dict[str, Any]:
    """``wgexplain trace SOURCE DST ... --json`` and ``--format dot`` (the journey)."""
    from wgexplain.explain.dot import journey
    from wgexplain.explain.trace_html import to_html
    from wgexplain.kernel.flowspec import parse_flowspec
    from wgexplain.kernel.path import trace

    kw = parse_flowspec(flow_tokens(packet))
    if "ipproto" in kw:  # route_get()'s name -> trace()'s, as cli_trace._trace_kwargs
        kw["proto"] = kw.pop("ipproto")
    dst = kw.pop("dst")
    opts = {k: (str(packet.get(k) or "").strip() or None) for k in TRACE_FIELDS}
    direction, state = opts["direction"] or "out", opts["state"] or "new"
    if direction not in ("out", "in", "forward"):
        raise UsageError(f"--direction: expected out, in or forward, got {direction!r}")
    if state not in ("new", "established"):
        raise UsageError(f"--state: expected new or established, got {state!r}")
    result = trace(host, dst, cgroup=opts["cgroup"], direction=direction, state=state, **kw)
    return {"json": result.to_json(), "dot": journey(result).source.rstrip("\n"),
            "html": to_html(result), "chains": _chain_map(host)}


def _chain_map(host: Host) -> str | None:
    """The ruleset's chains on the netfilter hooks, as ``wgexplain show --format dot`` draws
    them (``None`` without a ruleset)."""
    from wgexplain.explain.dot import chain_map

    return None if host.ruleset is None else chain_map(host.ruleset).source.rstrip("\n")


def _check(host: Host, packet: Mapping[str, Any]) -> dict[str, Any]:
    """``wgexplain check SOURCE --json`` (the packet form is not used: each finding has its own)."""
    from wgexplain.check import check

    return {"json": check(host).to_json(), "dot": None, "html": None, "chains": None}


_RUN = {"route": _route, "trace": _trace, "check": _check}


def _error(e: BaseException, internal: bool = False) -> dict[str, Any]:
    """The CLI's one line (``wgexplain: ...``), and where in the input, when it says."""
    if internal:
        return {"ok": False, "error": f"wgexplain: internal error: {type(e).__name__}: {e}",
                "file": None, "line": None}
    file = getattr(e, "file", None) if isinstance(e, DumpError) else None
    line = getattr(e, "line", None) if isinstance(e, DumpError) else None
    return {"ok": False, "error": f"wgexplain: {e}", "file": file, "line": line or None}


def answer(request: Mapping[str, Any], workdir: str | None = None) -> dict[str, Any]:
    """One question of the playground: ``request`` is ``{"files": [{"name", "text"}],
    "command": "trace"|"route"|"check", "packet": {field: text}}`` (fields:
    :data:`PACKET_FIELDS`, empty ones unset).

    Returns ``{"ok": True, "command", "json", "dot", "html", "chains", "warnings"}`` —
    ``json`` what the CLI's ``--json`` prints, ``dot`` what its ``--format dot`` prints
    (``None`` for check), ``html`` the steps as the site shows them (trace), ``chains``
    the chain map (trace, with a ruleset: ``show --format dot``),
    ``warnings`` the source's own — or ``{"ok": False, "error", "file", "line"}``.
    """
    command = str(request.get("command") or "trace")
    try:
        if command not in _RUN:
            raise UsageError(f"expected a command among {', '.join(COMMANDS)}, got {command!r}")
        host = load_files(request.get("files") or [], workdir)
        out = _RUN[command](host, request.get("packet") or {})
    except (DumpError, UsageError, WgExplainError) as e:
        return _error(e)
    except Exception as e:  # noqa: BLE001 - as the CLI's handle_errors: one line, never a traceback
        return _error(e, internal=True)
    return {"ok": True, "command": command, **out, "warnings": list(host.warnings)}


def answer_json(request_json: str) -> str:
    """:func:`answer` from and to JSON text (the page's one call into Python)."""
    return json.dumps(answer(json.loads(request_json)), ensure_ascii=False)


def warm_up() -> None:
    """Import what an answer needs and build the nft parser, before the first question
    (the page says "ready" after this: the first answer is then as quick as the next)."""
    import wgexplain.check  # noqa: F401
    import wgexplain.explain.dot  # noqa: F401
    import wgexplain.explain.summary  # noqa: F401
    import wgexplain.explain.trace_html  # noqa: F401
    import wgexplain.kernel.path  # noqa: F401
    import wgexplain.kernel.route  # noqa: F401
    from wgexplain.sources import nft

    nft._parser()
