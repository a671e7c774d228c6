"""The ``capture`` and ``redact`` commands.

``wgexplain capture DIR [--redact] [--key K] [--netns NAME]`` writes a
bundle from the running kernel (:mod:`wgexplain.sources.live`);
``wgexplain redact SOURCE [-o OUT] [--key K]`` redacts a session file, a
bundle directory or standard input (:mod:`wgexplain.redact`).

Both are registered into the main click group by :func:`register`. Exit
status as for every command: 0 success, 2 bad input (one line on stderr),
1 internal error.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from wgexplain.errors import UsageError

__all__ = ["capture_command", "redact_command", "register"]


def _handled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``wgexplain.cli.handle_errors`` (one line on stderr; exit 2 bad input, 1 a bug),
    looked up at call time: cli.py imports this module while it is being built."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from wgexplain.cli import handle_errors

        return handle_errors(fn)(*args, **kwargs)

    return wrapper


def _hostname() -> str:
    """This machine's host name (the UTS namespace's)."""
    import socket

    return socket.gethostname()


def _progress() -> tuple[Callable[[str], None], Callable[[], None]]:
    """A rich status line on a terminal (stderr), nothing when piped."""
    if not sys.stderr.isatty():
        return (lambda _msg: None), (lambda: None)
    from rich.console import Console

    console = Console(stderr=True)
    status = console.status("capturing")
    status.start()

    def step(msg: str) -> None:
        status.update(msg)

    return step, status.stop


@click.command("capture")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--redact", "do_redact", is_flag=True,
              help="Redact public addresses, keys, MACs and host names before writing.")
@click.option("--key", default=None, metavar="K",
              help="With --redact: a secret that makes the stand-ins the same across runs.")
@click.option("--netns", default=None, metavar="NAME",
              help="Read the named network namespace (ip netns) instead of the current one.")
@_handled
def capture_command(directory: Path, do_redact: bool, key: str | None, netns: str | None) -> None:
    """Capture the running kernel into a bundle DIR (read-only).

    Writes ip-rule.json, ip6-rule.json, ip-route.json, ip6-route.json,
    ip-addr.json, ip-link.json (as `ip -j` prints them), nft-ruleset.json,
    wg.txt and sysctl.txt, and says what it could not read.
    """
    from wgexplain.sources.live import BUNDLE_FILES, capture

    if key is not None and not do_redact:
        raise UsageError("--key only makes sense with --redact")
    step, stop = _progress()
    try:
        if do_redact:
            from wgexplain.redact import Redactor, redact_bundle

            with tempfile.TemporaryDirectory(prefix="wgexplain-capture-") as tmp:
                report = capture(tmp, netns=netns, progress=step)
                step("redacting")
                r = Redactor(key)
                r.add_host(_hostname())  # e.g. in an interface alias or a ruleset comment
                redact_bundle(tmp, directory, redactor=r)
            notes = list(report.notes) + list(r.warnings)
            for name in BUNDLE_FILES:  # as capture() does in its own folder
                if name not in report.files and (directory / name).is_file():
                    (directory / name).unlink()
                    notes.append(f"removed {name} left by an earlier capture")
            summary = (f"; redacted {r.counts['address']} address(es), {r.counts['key']} key(s), "
                       f"{r.counts['mac']} MAC(s)")
        else:
            report = capture(directory, netns=netns, progress=step)
            notes, summary = list(report.notes), ""
    except OSError as exc:
        raise UsageError(f"{exc.filename or directory}: {exc.strerror or exc}") from None
    finally:
        stop()
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {len(report.files)} files to {directory} "
               f"({report.counts.get('ip-rule', 0)}+{report.counts.get('ip6-rule', 0)} rules, "
               f"{report.counts.get('ip-route', 0)}+{report.counts.get('ip6-route', 0)} routes, "
               f"{report.counts.get('links', 0)} links, {report.counts.get('addresses', 0)} "
               f"addresses) in {report.seconds * 1000:.0f} ms{summary}", err=True)


@click.command("redact")
@click.argument("source")
@click.option("-o", "--output", "out", default=None, metavar="OUT",
              help="Where to write: a file for a session (default: standard output), "
                   "a directory for a bundle (required).")
@click.option("--key", default=None, metavar="K",
              help="A secret that makes the stand-ins the same across runs.")
@_handled
def redact_command(source: str, out: str | None, key: str | None) -> None:
    """Replace public addresses, WireGuard keys, MACs and host names in SOURCE.

    SOURCE is a pasted session file, a bundle directory or '-'. The same
    value always gets the same stand-in; networks keep their hosts and
    prefix lengths; private, link-local, documentation and multicast
    addresses are kept.
    """
    from wgexplain.redact import redact_source

    try:
        result = redact_source(source, out, key=key)
    except OSError as exc:
        raise UsageError(f"{exc.filename or source}: {exc.strerror or exc}") from None
    for warning in result.warnings:
        click.echo(f"note: {warning}", err=True)
    c = result.replaced
    click.echo(f"redacted {c['address']} address(es), {c['key']} key(s), {c['mac']} MAC(s), "
               f"{c['host']} host name occurrence(s)"
               + (f" -> {result.output}" if result.output != "-" else ""), err=True)


def register(group: Any) -> None:
    """Add ``capture`` and ``redact`` to the main click group."""
    group.add_command(capture_command)
    group.add_command(redact_command)
