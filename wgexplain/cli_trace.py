"""The ``trace`` command: the whole journey of one packet.

``wgexplain trace SOURCE DST [route options] [--cgroup CLASSID]
[--direction out|in|forward] [--state new|established]
[--endpoint ADDR:PORT] [--wg-fwmark N] [--format text|json|dot|svg] [--json]``

The route options are those of ``wgexplain route`` (``--from``, ``--iif``,
``--oif``, ``--mark``, ``--uid``, ``--proto``, ``--sport``, ``--dport``,
``--tos``); the same keywords in iproute2's syntax are accepted after DST
(``wgexplain trace S 1.1.1.1 ipproto udp dport 53``). Registered into the
main click group by :func:`register`. Exit status: 0 success, 2 bad input
(one line on stderr), 1 internal error.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from wgexplain.errors import DumpError, UsageError, WgExplainError

__all__ = ["trace_command", "register", "parse_keywords"]

#: iproute2 ``ip route get`` keywords accepted after DST, and their option names.
KEYWORDS = {"from": "src", "iif": "iif", "oif": "oif", "mark": "mark", "fwmark": "mark", "uid": "uid",
            "ipproto": "proto", "sport": "sport", "dport": "dport", "tos": "tos", "dsfield": "tos",
            "to": "dst"}


def parse_keywords(words: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``[to] DST from A iif D ...`` → option names; raises UsageError on anything else."""
    out: dict[str, str] = {}
    i = 0
    words = list(words)
    while i < len(words):
        w = words[i]
        if w not in KEYWORDS:
            raise UsageError(f"unknown keyword {w!r} after DST (expected one of {', '.join(sorted(KEYWORDS))})")
        if i + 1 >= len(words):
            raise UsageError(f"keyword {w!r} needs a value")
        out[KEYWORDS[w]] = words[i + 1]
        i += 2
    return out


def _fail(message: str, code: int) -> None:
    click.echo(f"wgexplain: {message}", err=True)
    sys.exit(code)


@click.command("trace", context_settings={"ignore_unknown_options": False})
@click.argument("source")
@click.argument("dst")
@click.argument("keywords", nargs=-1)
@click.option("--from", "src", default=None, metavar="ADDR", help="Source address (as `ip route get from`).")
@click.option("--iif", default=None, metavar="DEV", help="Input device (for --direction in/forward).")
@click.option("--oif", default=None, metavar="DEV", help="Output device the socket is bound to.")
@click.option("--mark", default=None, metavar="N", help="SO_MARK of the socket / skb mark (hex or decimal).")
@click.option("--uid", default=None, metavar="N", help="UID of the sending process.")
@click.option("--proto", default=None, metavar="P", help="tcp, udp, icmp or an IP protocol number.")
@click.option("--sport", default=None, metavar="N", help="Source port.")
@click.option("--dport", default=None, metavar="N", help="Destination port.")
@click.option("--tos", default=None, metavar="N", help="TOS / DS field.")
@click.option("--cgroup", default=None, metavar="CLASSID",
              help="net_cls classid of the sending process (e.g. 0x4d9f41), or a cgroup v2 path.")
@click.option("--direction", type=click.Choice(["out", "in", "forward"]), default="out", show_default=True,
              help="out: sent by a local process; in: arriving on --iif; forward: arriving, to be routed on.")
@click.option("--state", type=click.Choice(["new", "established"]), default="new", show_default=True,
              help="Conntrack state of the packet.")
@click.option("--endpoint", default=None, metavar="ADDR:PORT",
              help="The WireGuard peer's endpoint, when the source has no `wg show`.")
@click.option("--wg-fwmark", "wg_fwmark", default=None, metavar="N",
              help="The WireGuard device's fwmark, when the source has no `wg show`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot", "svg"]), default="text",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def trace_command(source: str, dst: str, keywords: tuple[str, ...], src: str | None, iif: str | None,
                  oif: str | None, mark: str | None, uid: str | None, proto: str | None,
                  sport: str | None, dport: str | None, tos: str | None, cgroup: str | None,
                  direction: str, state: str, endpoint: str | None, wg_fwmark: str | None,
                  fmt: str, as_json: bool) -> None:
    """Follow one packet to DST through routing, nftables, NAT and the WireGuard device."""
    try:
        opts: dict[str, Any] = {"src": src, "iif": iif, "oif": oif, "mark": mark, "uid": uid,
                                "proto": proto, "sport": sport, "dport": dport, "tos": tos}
        kw = parse_keywords(keywords)
        if dst in ("to",) and "dst" in kw:
            dst = kw.pop("dst")
        kw.pop("dst", None)
        for key, value in kw.items():
            if opts.get(key) is not None:
                raise UsageError(f"{key} given twice (as an option and as a keyword)")
            opts[key] = value
        host = _load(source)
        from wgexplain.kernel.path import trace

        result = trace(host, dst, **{k: v for k, v in opts.items() if v is not None}, cgroup=cgroup,
                       direction=direction, state=state, endpoint=endpoint, wg_fwmark=wg_fwmark)
    except DumpError as exc:
        _fail(str(exc), 2)
        return
    except (UsageError, WgExplainError) as exc:
        _fail(str(exc), 2)
        return
    except Exception as exc:  # pragma: no cover - the last resort: exit 1, one line
        _fail(f"internal error: {type(exc).__name__}: {exc}", 1)
        return
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    elif fmt in ("dot", "svg"):
        from wgexplain.explain import dot

        graph = dot.journey(result)
        click.echo(graph.source if fmt == "dot" else dot.to_svg(graph))
    else:
        from rich.console import Console

        from wgexplain.explain.trace_text import render

        render(result, Console(highlight=False, soft_wrap=True))


def _load(source: str) -> Any:
    import wgexplain

    if source == "-":
        return wgexplain.load("-", text=sys.stdin.read())
    return wgexplain.load(source)


def register(group: click.Group) -> None:
    """Add ``trace`` to the main command group."""
    group.add_command(trace_command)
