"""The ``verify`` and ``check`` commands.

``wgexplain verify SOURCE [--flows N] [--probes/--no-probes] [--json]``
rebuilds SOURCE in ``wgx-`` network namespaces and compares the real kernel
with the simulator (:mod:`wgexplain.lab.verify`). Exit status: 0 when every
route decision and probe agrees (100 %), 3 when anything disagrees, 2 for
bad input — and 2 without root, with the one-line message "verify needs root
to create network namespaces; run with sudo" — and 1, as for every command,
for an internal error (here also a lab that could not be built).

``wgexplain check SOURCE [--json]`` lists findings a user can act on, each
proven by a traced packet (:mod:`wgexplain.check`). Exit status: 0 nothing
found, 3 findings, 2 bad input, 1 internal error.

Findings and disagreements get their own status (3) so that 1 keeps the one
meaning DESIGN.md gives it for every command: an internal error.

Both are registered into the main click group by :func:`register`.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

__all__ = ["register"]


def _progress() -> tuple[Callable[[str], None], Callable[[], None]]:
    """A rich status line on a terminal (stderr), nothing when piped."""
    if not sys.stderr.isatty():
        return (lambda _msg: None), (lambda: None)
    from rich.console import Console

    status = Console(stderr=True).status("verify")
    status.start()
    return status.update, status.stop


def _console() -> Any:
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False, soft_wrap=True)
    return Console(highlight=False, no_color=True, force_terminal=False, soft_wrap=True)


def render_check(report: Any, console: Any, width: int | None = None) -> None:
    """Findings first (with their proving packet), then what was checked and not.

    Each long line wraps under its own text (``width``: the terminal's by default).
    """
    from rich.text import Text

    from wgexplain.explain.wrap import output_width, wrap_hanging

    if width is None:
        width = output_width() or (console.width if console.is_terminal else None)

    def line(text: Text | str, hang: str) -> None:
        for part in wrap_hanging(text if isinstance(text, Text) else Text(text), width, hang):
            console.print(part, highlight=False)

    def labelled(label: str, text: str, indent: str = "  ") -> None:
        t = Text(indent)
        t.append(label, style="bold")
        t.append(text)
        line(t, indent + " " * len(label))

    sev_style = {"high": "bold red", "medium": "bold yellow", "low": "yellow"}
    if getattr(report, "assumptions", ()):
        console.print("assuming (not pasted):", style="bold yellow")
        for a in report.assumptions:
            line(Text(f"  - {a}", style="yellow"), "    ")
    if not report.findings:
        console.print("no findings", style="bold green")
    for f in report.findings:
        head = Text()
        head.append(f.severity.upper(), style=sev_style.get(f.severity, "bold"))
        head.append(" ")
        head.append(f.id, style="bold")
        head.append(f": {f.title}")
        line(head, "    ")
        line(Text("  " + f.explanation), "  ")
        if f.condition:
            labelled("condition: ", f.condition)
        labelled("proof: ", str(f.evidence.get("summary")))
        labelled("run:   ", f.command)
        for other in f.evidence.get("also", []):
            labelled("also:  ", f"{other['command']}  →  {other['summary']}")
        console.print()
    if report.passed:
        console.print("checked, nothing found:", style="bold")
        for p in report.passed:
            labelled(f"{p.id}: ", p.summary)
    if report.not_checked:
        console.print("not checked:", style="bold")
        for n in report.not_checked:
            labelled(f"{n.id}: ", n.why)
    if getattr(report, "to_paste", ()):
        from wgexplain.explain.route_text import collect_lines

        line(Text("to settle it, paste the output of: " + "; ".join(
            f"`{c}`" for c in report.to_paste), style="cyan"), "    ")
        for x in collect_lines():
            console.print(x, highlight=False, soft_wrap=True)


def register(group: click.Group) -> None:
    """Add ``verify`` and ``check`` to the main command group."""
    from wgexplain.cli import (chosen_format, format_options, handle_errors, load_source,
                               source_options, kernel_option)
    from wgexplain.errors import UsageError

    def text_or_json(command: str, fmt: str, as_json: bool) -> bool:
        """True for JSON; ``--format dot|svg`` is refused before any work is done."""
        fmt = chosen_format(fmt, as_json)
        if fmt not in ("text", "json"):
            raise UsageError(f"--format {fmt} is not available for the {command} command "
                             "(available: json, text)")
        return fmt == "json"

    @click.command("verify")
    @click.argument("source", required=False)
    @click.option("--flows", "n_flows", default=400, show_default=True, type=click.IntRange(1, 20000),
                  help="Generated route lookups per address family.")
    @click.option("--probes/--no-probes", default=True, show_default=True,
                  help="Also rebuild the tunnel with wireguard-go and send real packets.")
    @source_options
    @format_options(formats=("text", "json"))
    @handle_errors
    def verify_command(source: str | None, n_flows: int, probes: bool, fmt: str, as_json: bool,
                       live: bool) -> None:
        """Rebuild SOURCE in network namespaces and compare the real kernel with the simulator.

        The rules, routes, addresses and ruleset of SOURCE are loaded into
        fresh `wgx-` namespaces (the host's own network is not touched); the
        kernel then answers --flows generated `ip route get` lookups per
        address family, and with --probes (when SOURCE has a WireGuard device)
        real packets cross a wireguard-go tunnel. Every answer is compared
        with the simulator's.

        \b
        Example:
          sudo wgexplain verify examples/mullvad/bundle --flows 1000

        Needs root. Exit status 0 when everything agrees, 3 when anything
        disagrees, 2 for bad input or without root, 1 for an internal error.
        """
        from wgexplain.lab.netns import LabError, lab_available
        from wgexplain.lab.verify import ROOT_MESSAGE, render, verify

        as_json = text_or_json("verify", fmt, as_json)
        host = load_source(source, live)
        ok, why = lab_available()
        if not ok:
            click.echo(f"wgexplain: {ROOT_MESSAGE if 'root' in why else why}", err=True)
            sys.exit(2)
        step, stop = _progress()
        try:
            report = verify(host, flows=n_flows, probes=probes, progress=step,
                            source=source or "--live")
        except LabError as exc:
            click.echo(f"wgexplain: the lab failed: {exc}", err=True)
            sys.exit(1)
        finally:
            stop()
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            render(report, _console())
        sys.exit(0 if report.ok else 3)

    @click.command("check")
    @click.argument("source", required=False)
    @kernel_option
    @source_options
    @format_options(formats=("text", "json"))
    @handle_errors
    def check_command(source: str | None, fmt: str, as_json: bool, live: bool) -> None:
        """Findings you can act on (leaks, no kill switch, loops...), each proven by a traced packet.

        Exit status 0 when nothing was found, 3 when something was, 2 for bad
        input, 1 for an internal error.
        """
        from wgexplain.check import check

        as_json = text_or_json("check", fmt, as_json)
        host = load_source(source, live)
        report = check(host)
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        else:
            render_check(report, _console())
        sys.exit(3 if report.found else 0)

    group.add_command(verify_command)
    group.add_command(check_command)
