"""The ``trace`` command: the whole journey of one packet.

``wgexplain trace SOURCE DST [KEYWORDS] [route options] [--cgroup CLASSID]
[--direction out|in|forward] [--state new|established]
[--endpoint ADDR:PORT] [--wg-fwmark N] [--inner-src ADDR]
[--format text|json|dot|svg] [--json]``

Built on the shared pieces of :mod:`wgexplain.cli`: the ``ip route get``
flags and keywords (``route_options``, ``merge_route_args``), SOURCE or
``--live`` (``load_source``), the format table (``register_format`` /
``render_as``: text and json here, dot and svg from explain/dot.py) and the
exit codes (``handle_errors``: 0 success, 2 bad input, 1 internal error).
Registered into the main group by :func:`register`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

__all__ = ["register", "trace_options"]

_TRACE_ARGS = {"src", "iif", "oif", "mark", "uid", "proto", "sport", "dport", "tos"}


def trace_options(fn: Any) -> Any:
    """The options ``trace`` adds to the route options."""
    opts = [
        click.option("--cgroup", default=None, metavar="CLASSID",
                     help="net_cls classid of the sending process (0x4d9f41 or 5087041), or a cgroup v2 path."),
        click.option("--direction", type=click.Choice(["out", "in", "forward"]), default="out",
                     show_default=True,
                     help="out: sent by a local process; in: arriving on --iif; forward: arriving, routed on."),
        click.option("--state", type=click.Choice(["new", "established"]), default="new", show_default=True,
                     help="Conntrack state of the packet."),
        click.option("--endpoint", default=None, metavar="ADDR:PORT",
                     help="The WireGuard peer's endpoint, when SOURCE has no `wg show`."),
        click.option("--wg-fwmark", "wg_fwmark", default=None, metavar="N",
                     help="The WireGuard device's fwmark, when SOURCE has no `wg show`."),
        click.option("--inner-src", "inner_src", default=None, metavar="ADDR",
                     help="For an encrypted packet arriving (--direction in): the source of the "
                          "inner packet, which the outer headers do not show."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _trace_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    """route_get()'s keyword names → trace()'s (``ipproto`` → ``proto``)."""
    out = dict(spec)
    if "ipproto" in out:
        out["proto"] = out.pop("ipproto")
    unknown = set(out) - _TRACE_ARGS - {"dst"}
    if unknown:
        from wgexplain.errors import UsageError

        raise UsageError(f"not modelled by trace: {', '.join(sorted(unknown))}")
    return out


def _trace_text(result: Any, ctx: click.Context) -> str:
    from wgexplain.cli import with_warnings
    from wgexplain.explain.trace_text import to_text
    from wgexplain.explain.wrap import output_width

    width = output_width()
    return with_warnings(to_text(result, width), ctx, width, shown=None)


def _trace_json(result: Any, ctx: click.Context) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False)


def register(group: click.Group) -> None:
    """Add ``trace`` (and its text/json renderers) to the main command group."""
    from wgexplain.cli import (chosen_format, format_options, handle_errors, load_source,
                               merge_route_args, register_format, render_as, route_options,
                               source_options, kernel_option)

    register_format("trace", "text", _trace_text)
    register_format("trace", "json", _trace_json)

    @click.command("trace", context_settings={"ignore_unknown_options": False})
    @click.argument("args", nargs=-1, metavar="SOURCE DST [KEYWORDS]...")
    @route_options
    @trace_options
    @kernel_option
    @source_options
    @format_options
    @handle_errors
    def trace_command(args: tuple[str, ...], cgroup: str | None, direction: str, state: str,
                      endpoint: str | None, wg_fwmark: str | None, inner_src: str | None,
                      live: bool, fmt: str,
                      as_json: bool, **flags: Any) -> None:
        """Follow one packet to DST: routing, nftables hooks, NAT, conntrack, the WireGuard device.

        DST may be followed by iproute2's keywords, as for `route`:
        `wgexplain trace SOURCE 9.9.9.9 ipproto udp dport 53`.
        """
        from wgexplain.errors import UsageError
        from wgexplain.kernel.path import trace

        ctx = click.get_current_context()
        source, rest = (None, args) if live else (args[0] if args else None, args[1:])
        if not rest:
            raise UsageError("expected a destination address (DST) after SOURCE")
        host = load_source(source, live)
        ctx.meta["wgexplain.host"] = host
        kw = _trace_kwargs(merge_route_args(rest, flags))
        dst = kw.pop("dst")
        result = trace(host, dst, cgroup=cgroup, direction=direction, state=state, endpoint=endpoint,
                       wg_fwmark=wg_fwmark, inner_src=inner_src, **kw)
        fmt = chosen_format(fmt, as_json)
        if fmt == "text" and sys.stdout.isatty():
            from rich.console import Console

            from wgexplain.cli import warning_lines
            from wgexplain.explain.trace_text import render
            from wgexplain.explain.wrap import output_width

            console = Console(highlight=False, soft_wrap=True)
            render(result, console)
            from wgexplain.explain.trace_text import to_text

            for line in warning_lines(host, None, output_width(), said=to_text(result)):
                console.print(line)
            return
        click.echo(render_as("trace", fmt, result, ctx))

    group.add_command(trace_command)
