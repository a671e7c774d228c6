"""The ``wgexplain`` command line (click).

Commands are small functions; what they share lives here once:

* :func:`source_argument` / :func:`load_source` — SOURCE (file, bundle
  directory, ``-``) or ``--live``;
* :func:`route_options` — the ``ip route get`` flags (``--from``, ``--iif``,
  ``--oif``, ``--mark``, ``--uid``, ``--proto``, ``--sport``, ``--dport``,
  ``--tos``), also accepted as iproute2 keywords after DST;
* :func:`format_options` + :data:`FORMATS` — ``--format text|json|dot|svg``
  and ``--json``; a command's renderers are one entry of the table, so a
  new format is one :func:`register_format` call;
* :func:`handle_errors` — exit 0 success, 2 bad input (one line on stderr,
  ``file:line: expected ...``), 1 internal error.

Other modules add commands with a ``register(group)`` function
(``wgexplain.cli_trace``, ``wgexplain.cli_capture``).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import click

from wgexplain import inet
from wgexplain.errors import DumpError, UsageError, WgExplainError
from wgexplain.model import AF_INET, AF_INET6, Host, as_dict, family_name

Renderer = Callable[[Any, "click.Context"], str]

#: command -> format -> renderer(result, ctx) -> text to print
FORMATS: dict[str, dict[str, Renderer]] = {}
ALL_FORMATS = ("text", "json", "dot", "svg")


def register_format(command: str, fmt: str, renderer: Renderer) -> None:
    """Let ``command`` print ``--format fmt`` with ``renderer`` (e.g. the diagram engineer's dot)."""
    FORMATS.setdefault(command, {})[fmt] = renderer


def render_as(command: str, fmt: str, obj: Any, ctx: click.Context) -> str:
    table = FORMATS.get(command, {})
    if fmt not in table:
        raise UsageError(f"--format {fmt} is not available for the {command} command yet "
                         f"(available: {', '.join(sorted(table)) or 'none'})")
    return table[fmt](obj, ctx)


# --------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------

def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into one line on stderr: exit 2 for bad input, 1 for a bug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (DumpError, UsageError) as e:
            click.echo(f"wgexplain: {e}", err=True)
            sys.exit(2)
        except WgExplainError as e:
            click.echo(f"wgexplain: {e}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            sys.exit(0)
        except Exception as e:  # noqa: BLE001 - the one place that reports bugs
            click.echo(f"wgexplain: internal error: {type(e).__name__}: {e}", err=True)
            sys.exit(1)

    return wrapper


def format_options(fn: Callable[..., Any] | None = None, *,
                   formats: tuple[str, ...] = ALL_FORMATS) -> Any:
    """``--format text|json|dot|svg`` (or the ``formats`` a command has) and ``--json``.

    Use bare (``@format_options``) or with the command's own formats
    (``@format_options(formats=("text", "json"))``): ``--help`` lists only those
    and any other is refused in one line.
    """
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(f)
        f = click.option("--format", "fmt", type=click.Choice(formats), default="text",
                         show_default=True, help="Output format.")(f)
        return f

    return deco if fn is None else deco(fn)


def chosen_format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--live``: read the running kernel instead of SOURCE."""
    return click.option("--live", is_flag=True,
                        help="Read the running kernel (read-only) instead of a SOURCE.")(fn)


def _keep_kernel(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from wgexplain.kernel.profile import parse_profile

        try:
            ctx.meta["wgexplain.kernel"] = parse_profile(value)
        except UsageError as e:
            raise click.BadParameter(str(e).removeprefix("--kernel: "), ctx, _param) from None


def kernel_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--kernel PROFILE``: the kernel to imitate (see :mod:`wgexplain.kernel.profile`);
    :func:`load_source` gives it to the Host, over a bundle's own ``kernel.json``."""
    from wgexplain.kernel.profile import PROFILE_HELP

    return click.option("--kernel", "kernel", default=None, metavar="PROFILE", expose_value=False,
                        is_eager=True, callback=_keep_kernel, help=PROFILE_HELP)(fn)


def load_source(source: str | None, live: bool = False) -> Host:
    """SOURCE (a file, a bundle directory, ``-`` for stdin) or ``--live`` -> Host.

    With ``--kernel PROFILE`` the Host imitates that kernel; else a bundle's
    ``kernel.json``, ``--live`` the running kernel, or the default profile.
    """
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("wgexplain.kernel") if ctx is not None else None
    if live:
        from wgexplain.sources import live as live_mod

        host = live_mod.load_live()
    else:
        if not source:
            raise UsageError("expected a SOURCE (a file, a bundle directory, or -) or --live")
        from wgexplain import load

        host = load(source)
    if chosen is not None:
        import dataclasses

        host = dataclasses.replace(host, kernel=chosen)
    return host


_ROUTE_FLAGS = (
    ("--from", "src", "ADDR", "Source address (ip route get from)."),
    ("--iif", "iif", "DEV", "Input device: an arriving packet (input lookup)."),
    ("--oif", "oif", "DEV", "Output device the lookup is bound to."),
    ("--mark", "mark", "N", "Firewall mark, hex (0x6d6f6c65) or decimal."),
    ("--uid", "uid", "N", "uid of the sender (default 0, as root)."),
    ("--proto", "ipproto", "P", "IP protocol: tcp, udp, icmp or a number."),
    ("--sport", "sport", "N", "Source port."),
    ("--dport", "dport", "N", "Destination port."),
    ("--tos", "tos", "N", "TOS / dsfield."),
)


def route_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``ip route get`` flags, as keyword arguments named like ``route_get()``'s."""
    for flag, dest, metavar, help_ in reversed(_ROUTE_FLAGS):
        fn = click.option(flag, dest, default=None, metavar=metavar, help=help_)(fn)
    return fn


def merge_route_args(dst_and_keywords: tuple[str, ...], flags: dict[str, Any]) -> dict[str, Any]:
    """DST plus iproute2 keywords after it, merged with the flags (a clash is an error)."""
    from wgexplain.kernel.flowspec import parse_flowspec

    spec = parse_flowspec(list(dst_and_keywords))
    for key, value in flags.items():
        if value is None:
            continue
        if key in spec and str(spec[key]) != str(value):
            raise UsageError(f"{key} given twice ({spec[key]} and {value})")
        spec[key] = value
    return spec


# --------------------------------------------------------------------------
# the group
# --------------------------------------------------------------------------

class OneLineErrors(click.Group):
    """A group whose command-line mistakes print one line (``wgexplain: ...``), exit 2.

    click's own form (usage, a hint, a blank line, the error) is four lines; a
    script reading stderr wants one, as for bad input.
    """

    def main(self, args: Any = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `wgexplain`: the help, as click does
                click.echo(e.format_message(), err=True)
                sys.exit(2)
            where = e.ctx.command_path if e.ctx is not None else "wgexplain"
            click.echo(f"wgexplain: {e.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.ClickException as e:
            click.echo(f"wgexplain: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("wgexplain: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, context_settings={
    "help_option_names": ["-h", "--help"],
    # help as wide as the terminal, up to 120 columns (click's own cap is 80)
    "max_content_width": 120})
@click.version_option(package_name="wgexplain")
def main() -> None:
    """Explain, and prove against the Linux kernel, how a machine on a WireGuard VPN routes its traffic."""


# --------------------------------------------------------------------------
# route
# --------------------------------------------------------------------------

_MISSING_TABLE = re.compile(r"table (\S+), which is not in this dump")


def dump_warnings(host: Host | None, shown: str | None, said: str = "") -> list[str]:
    """The source's warnings that bear on an answer whose text is ``shown``.

    A paste whose command has no output, and a table the answer consulted that
    the dump does not hold: without them the answer looks complete when it is not.
    ``shown`` ``None``: every missing table counts (a journey makes several lookups).
    """
    if host is None:
        return []
    out = []
    for w in host.warnings:
        m = _MISSING_TABLE.search(w)
        if m and f"table {m.group(1)} was not pasted" in (said or shown or ""):
            continue  # already said, as an assumption the answer rests on
        if "has no output in the paste" in w or (
                m and (shown is None or f"table {m.group(1)}" in shown)):
            out.append(w)
    return out


def warning_lines(host: Host | None, shown: str | None, width: int | None,
                  said: str = "") -> list[Any]:
    """``warning: ...`` lines (rich Text, wrapped) for :func:`dump_warnings`."""
    from rich.text import Text

    from wgexplain.explain.wrap import wrap_hanging

    lines: list[Any] = []
    for w in dump_warnings(host, shown, said):
        t = Text("warning: ", style="bold yellow")
        t.append(w)
        lines.extend(wrap_hanging(t, width, "         "))
    return lines


def with_warnings(text: str, ctx: click.Context, width: int | None, shown: str | None) -> str:
    """A command's text output followed by the dump's warnings (those not already in ``shown``)."""
    extra = warning_lines(ctx.meta.get("wgexplain.host"), shown, width, said=text)
    return (text + "".join(x.plain + "\n" for x in extra)).rstrip("\n")


def _route_text(result: Any, ctx: click.Context) -> str:
    from wgexplain.explain.route_text import format_text
    from wgexplain.explain.wrap import output_width

    width = output_width()
    text = format_text(result, width)
    return with_warnings(text, ctx, width, shown=text)


def _route_json(result: Any, ctx: click.Context) -> str:
    from wgexplain.explain.summary import fold_json_steps

    obj = result.to_json()
    obj["steps"] = fold_json_steps(obj["steps"])  # long runs of rules: one step each
    return json.dumps(obj, ensure_ascii=False)


#: a batch line longer than this may hold a long run of rule steps to fold
_FOLD_ABOVE = 20_000


def _folded_line(line: str) -> str:
    """A batch JSON line with its long runs of rule steps folded, as ``--json`` prints them."""
    if len(line) <= _FOLD_ABOVE:
        return line
    from wgexplain.explain.summary import fold_json_steps

    obj = json.loads(line)
    steps = fold_json_steps(obj["steps"])
    if steps is obj["steps"]:
        return line
    obj["steps"] = steps
    return json.dumps(obj, ensure_ascii=False)


register_format("route", "text", _route_text)
register_format("route", "json", _route_json)


@main.command("route", context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1, metavar="SOURCE DST [KEYWORDS]...")
@route_options
@kernel_option
@click.option("--batch", "batch", default=None, metavar="FILE|-",
              help="Many lookups: one `ip route get` argument line each; JSON Lines out.")
@source_options
@format_options
@handle_errors
def route_command(args: tuple[str, ...], batch: str | None, live: bool, fmt: str,
                  as_json: bool, **flags: Any) -> None:
    """The routing decision for DST, as `ip route get` makes it, with the reasons.

    DST may be followed by iproute2's own keywords:
    `wgexplain route SOURCE 1.1.1.1 from 10.0.0.1 mark 0x10`.
    """
    ctx = click.get_current_context()
    source, rest = (None, args) if live else (args[0] if args else None, args[1:])
    if batch == "-" and source == "-":
        raise UsageError("SOURCE and --batch cannot both be standard input (-): "
                         "give one of them as a file")
    host = load_source(source, live)
    ctx.meta["wgexplain.host"] = host  # for renderers that draw the rules too (--format dot|svg)
    if batch is not None:
        if rest or any(v is not None for v in flags.values()):
            raise UsageError("--batch takes no DST or route options: put them in the batch lines")
        if chosen_format(fmt, as_json) not in ("text", "json"):
            raise UsageError(f"--format {fmt} is not available with --batch "
                             "(it prints one JSON object per line)")
        out = sys.stdout
        with _batch_progress(batch) as tick:
            run_batch(host, batch, out, progress=tick)
        return
    if not rest:
        raise UsageError("expected a destination address (DST) after SOURCE")
    from wgexplain.kernel.route import route_get

    result = route_get(host, **merge_route_args(rest, flags))
    fmt = chosen_format(fmt, as_json)
    if fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        from wgexplain.explain.route_text import render
        from wgexplain.explain.wrap import output_width

        width = output_width()
        text = render(result, width)
        console = Console(highlight=False, soft_wrap=True)
        console.print(text, end="")
        for line in warning_lines(host, text.plain, width):
            console.print(line)
        return
    click.echo(render_as("route", fmt, result, ctx))


def _batch_lines(batch: str) -> Iterator[tuple[str, int, str]]:
    if batch == "-":
        name = "<stdin>"
        stream: TextIO = sys.stdin
        for n, line in enumerate(stream, 1):
            yield name, n, line
        return
    path = Path(batch)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DumpError(batch, 0, "an existing batch file", got="no such file") from None
    except IsADirectoryError:
        raise DumpError(batch, 0, "a batch file", got="a directory") from None
    except UnicodeDecodeError as e:
        raise DumpError(batch, 0, "a UTF-8 text batch file",
                        got=f"binary data (byte 0x{e.object[e.start]:02x} at offset {e.start})"
                        ) from None
    except OSError as e:
        raise DumpError(batch, 0, "a readable batch file", got=e.strerror or str(e)) from None
    for n, line in enumerate(text.splitlines(), 1):
        yield batch, n, line


#: what makes shlex.split() and str.split() differ: quotes, escapes, comments, the ASCII
#: separators str.split() cuts at and shlex does not, and any non-ASCII character
_SHELL_SYNTAX = re.compile(r"[\"'\\#\x0b\x0c\x1c-\x1f]|[^\x00-\x7f]")

_BATCH_PREFIXES = (("ip", "route", "get"), ("route", "get"), ("r", "get"), ("ro", "get"),
                   ("r", "g"), ("route", "g"), ("ip", "r", "g"), ("ip", "r", "get"))
_BATCH_FIRST = frozenset(p[0] for p in _BATCH_PREFIXES)


def batch_tokens(line: str) -> list[str] | None:
    """The ``ip route get`` arguments on a batch line (``None`` for blank/comment lines).

    A leading ``ip route get`` / ``route get`` (as ``ip -batch`` lines have),
    ``-4``/``-6`` and ``-j``/``-d`` flags are accepted and dropped.
    """
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    # shlex.split() reads plain ASCII words (no quote, backslash, comment or whitespace
    # that only str.split() knows) as str.split() does, several times slower
    toks = shlex.split(stripped, comments=True) if _SHELL_SYNTAX.search(stripped) \
        else stripped.split()
    while toks and toks[0] in ("-4", "-6", "-j", "-d", "-json", "-details"):
        toks = toks[1:]
    for prefix in _BATCH_PREFIXES if toks and toks[0] in _BATCH_FIRST else ():
        if tuple(toks[:len(prefix)]) == prefix:
            toks = toks[len(prefix):]
            break
    while toks and toks[0] in ("-4", "-6", "-j", "-d"):
        toks = toks[1:]
    return toks


_USAGE_MSG = re.compile(r"(?P<what>[^:]+): expected (?P<exp>.+), got (?P<got>'.*'|\".*\")$")


def batch_line_error(name: str, n: int, line: str, e: UsageError) -> DumpError:
    """A lookup argument the simulator refused, as ``FILE:LINE: expected ..., got ...``."""
    import ast

    m = _USAGE_MSG.match(str(e))
    if m:
        return DumpError(name, n, f"{m.group('exp')} for '{m.group('what')}'",
                         got=ast.literal_eval(m.group("got")))
    return DumpError(name, n, f"`ip route get` arguments that fit together ({e})",
                     got=line.strip())


@contextlib.contextmanager
def _batch_progress(batch: str) -> Iterator[Callable[[int], None] | None]:
    """A transient progress bar on stderr for a long ``--batch`` file.

    Only when stderr is a terminal and stdout is not (the JSON Lines go to a
    file or a pipe): on a terminal the output itself shows the progress.
    """
    if batch == "-" or not sys.stderr.isatty() or sys.stdout.isatty():
        yield None
        return
    try:
        with open(batch, "rb") as f:
            total = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        yield None
        return
    if total < 5000:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True, redirect_stdout=False,
                  redirect_stderr=False) as bar:
        task = bar.add_task("route lookups", total=total)
        yield lambda n: bar.update(task, completed=n)


def _fast_addr(text: str) -> "ipaddress.IPv4Address | ipaddress.IPv6Address | None":
    """``text`` as an address when ``inet_pton()`` reads it (what ``ipaddress.ip_address()``
    reads, without a scope id, several times faster: tests/test_route_batch_json.py
    compares them), else ``None`` (``route_get()`` reads it then, and says what is wrong)."""
    try:
        if ":" in text:
            return ipaddress.IPv6Address(inet.inet_pton(inet.AF_INET6, text))
        return ipaddress.IPv4Address(inet.inet_pton(inet.AF_INET, text))
    except (OSError, ValueError):
        return None


def run_batch(host: Host, batch: str, out: TextIO,
              progress: Callable[[int], None] | None = None) -> int:
    """``--batch``: one JSON object per input line, in order (JSON Lines); returns the count.

    An unreadable line is bad input (``DumpError`` naming the batch file and
    line); a lookup the kernel would refuse is an object with ``"error"``.
    ``progress(lines_read)`` is called every 1000 lines.
    """
    from wgexplain.kernel.flowspec import FlowSpecError, parse_flowspec
    from wgexplain.kernel.route import json_line, lookup, prepare, route_get
    from wgexplain.model import Flow
    from wgexplain.sources._fast import slot_constructor

    dst_flow = slot_constructor(Flow, ["dst"])  # Flow(dst), without the keyword __init__

    prepare(host)
    count = 0
    for name, n, line in _batch_lines(batch):
        if progress is not None and n % 1000 == 0:
            progress(n)
        try:
            toks = batch_tokens(line)
        except ValueError as e:
            raise DumpError(name, n, f"a line in shell quoting ({str(e).lower()})",
                            got=line.strip()) from None
        if toks is None:
            continue
        try:
            spec = parse_flowspec(toks)
            dst = _fast_addr(spec["dst"])
            if dst is not None and len(spec) == 1:  # `route get DST`: Flow(DST)
                result = lookup(host, dst_flow(dst))
            else:
                if dst is not None:
                    spec["dst"] = dst
                src = _fast_addr(spec["src"]) if "src" in spec else None
                if src is not None:
                    spec["src"] = src
                result = route_get(host, **spec)
        except FlowSpecError as e:
            raise DumpError(name, n, e.expected, got=e.got) from None
        except UsageError as e:
            raise batch_line_error(name, n, line, e) from None
        # json.dumps(result.to_json(), ensure_ascii=False), byte for byte, faster
        out.write(_folded_line(json_line(result)))
        out.write("\n")
        count += 1
    out.flush()
    return count


# --------------------------------------------------------------------------
# show
# --------------------------------------------------------------------------

def _ruleset_view(ruleset: Any, prefer: tuple[str, ...] = ("to_json", "summary")) -> Any:
    for attr in prefer:
        fn = getattr(ruleset, attr, None)
        if callable(fn):
            return fn()
    return str(ruleset)


def show_data(host: Host) -> dict[str, Any]:
    """Everything understood from a source, as plain JSON."""
    from wgexplain.kernel.fib_rules import format_rule
    from wgexplain.kernel.fib_trie import format_route
    from wgexplain.kernel.profile import DEFAULT as DEFAULT_PROFILE
    from wgexplain.kernel.route import fib_for

    fib = fib_for(host)
    h = fib.host
    rules = []
    for fam in (AF_INET, AF_INET6):
        for r in h.rules_of(fam):
            rules.append({"family": family_name(fam), "pref": r.pref,
                          "text": format_rule(r, h.table_name), "origin": str(r.origin),
                          "derived": r.origin.derived})
    tables = []
    order = {255: 0, 254: 1, 253: 2}
    for (fam, tid), table in sorted(fib.tables.items(),
                                    key=lambda kv: (kv[0][0], order.get(kv[0][1], 3), kv[0][1])):
        routes = [{"text": format_route(r, h.table_name(tid)), "origin": str(r.origin),
                   "derived": r.origin.derived} for r in table.routes()]
        tables.append({"family": family_name(fam), "id": tid, "name": h.table_name(tid),
                       "routes": routes})
    data: dict[str, Any] = {
        "source": h.source,
        "links": [as_dict(link) for link in h.links],
        "addresses": [{"dev": a.dev, "address": str(a.address), "scope": a.scope,
                       "flags": sorted(a.flags), "origin": str(a.origin)} for a in h.addresses],
        "rules": rules,
        "tables": tables,
        "ruleset": None if h.ruleset is None else _ruleset_view(h.ruleset),
        "ruleset_summary": None if h.ruleset is None else
        _ruleset_view(h.ruleset, ("summary", "to_json")),
        "wireguard": [as_dict(w) for w in h.wireguard],
        "sysctls": dict(h.sysctls),
        "dumped": sorted(h.dumped),
        "warnings": list(h.warnings),
        "kernel": (host.kernel or DEFAULT_PROFILE).to_json(),
        # what the kernel itself answered in the paste (ip route get), kept as evidence
        "kernel_answers": [{**{k: v for k, v in as_dict(a).items() if k != "origin"},
                            "origin": str(a.origin)} for a in h.kernel_answers],
        # addresses the poster hid: unknown addresses, read as stand-ins
        "redacted": [{"text": r.text, "stand_in": r.stand_in, "origin": str(r.origin)}
                     for r in h.redacted],
    }
    from wgexplain.evidence import host_assumptions, to_paste
    from wgexplain.signatures import recognise

    assumed = host_assumptions(host)
    kinds = {a.kind for a in assumed}
    # a listing that was not pasted is said once, as an assumption, not again as a warning
    data["warnings"] = [w for w in data["warnings"]
                        if not any(w.startswith(p) and k in kinds for p, k in _SAID_AS_ASSUMPTION)]
    data["assumptions"] = [a.text for a in assumed]
    data["to_paste"] = to_paste(assumed)
    data["clients"] = [c.to_json() for c in recognise(h)]
    return data


#: the source's warnings about a listing not pasted, and the assumption kind that says it
_SAID_AS_ASSUMPTION = (("no ip rule in this dump", "ip-rule"), ("no ip -6 rule in this dump", "ip6-rule"),
                       ("no IPv4 rules in the dump", "ip-rule"),
                       ("no IPv6 rules in the dump", "ip6-rule"),
                       ("no nft ruleset in this dump", "nft"), ("no ip addr in this dump", "ip-addr"))


def _show_json(host: Any, ctx: click.Context) -> str:
    return json.dumps(show_data(host), ensure_ascii=False, default=str)


def show_lines(d: dict[str, Any], width: int | None = None) -> list[Any]:
    """:func:`show_data` as styled lines (rich Text): headings bold, where each fact
    came from dim, warnings yellow; long lines wrapped under their own text."""
    from rich.text import Text

    from wgexplain.explain.wrap import wrap_hanging

    out: list[Any] = []

    def heading(text: str, note: str = "") -> None:
        if out:
            out.append(Text(""))
        t = Text(text, style="bold")
        if note:
            t.append(note, style="dim")
        out.append(t)

    def fact(indent: str, text: str, tag: str = "", hang: str = "    ",
             style: str = "") -> None:
        t = Text(indent)
        t.append(text, style=style)
        if tag:
            t.append(f"  ({tag})", style="dim italic" if tag == "derived" else "dim")
        out.extend(wrap_hanging(t, width, indent + hang))

    out.append(Text.assemble(("source: ", "bold"), str(d["source"])))
    heading("links and addresses:")
    by_dev: dict[str, list[dict[str, Any]]] = {}  # one pass, not links x addresses
    for a in d["addresses"]:
        by_dev.setdefault(a["dev"], []).append(a)
    for link in d["links"]:
        flags = ",".join(link["flags"])
        fact("  ", f"{link['index']}: {link['name']} <{flags}> mtu {link['mtu']}")
        for a in by_dev.get(link["name"], ()):
            fact("      ", f"{a['address']} scope {a['scope']} {' '.join(a['flags'])}".rstrip())
    names = {x["name"] for x in d["links"]}
    for a in d["addresses"]:
        if a["dev"] not in names:
            fact("  ", f"{a['dev']}: {a['address']} scope {a['scope']}")
    for fam in ("inet", "inet6"):
        heading(f"rules ({'IPv4' if fam == 'inet' else 'IPv6'}):")
        rules = [r for r in d["rules"] if r["family"] == fam]
        w = max((len(str(r["pref"])) for r in rules), default=0)
        for r in rules:
            text = r["text"]
            pref = f"{r['pref']}:"
            if text.startswith(pref):  # right-align the preferences, as a column
                text = " " * (w - len(str(r["pref"]))) + text
            fact("  ", text, "derived" if r["derived"] else r["origin"], hang=" " * (w + 2))
    for t in d["tables"]:
        heading(f"table {t['name']}", f" ({'IPv4' if t['family'] == 'inet' else 'IPv6'}, "
                f"id {t['id']}):")
        for r in t["routes"]:
            fact("  ", r["text"], "derived" if r["derived"] else r["origin"])
    if d["ruleset_summary"] is not None:
        heading("nftables ruleset:")
        rs = d["ruleset_summary"]
        if isinstance(rs, list):
            text = "\n".join(str(x) for x in rs)
        elif isinstance(rs, str):
            text = rs
        else:
            text = json.dumps(rs, indent=2, ensure_ascii=False, default=str)
        for x in text.splitlines():
            body, sep, where = x.rpartition("   [")
            indent = " " * (len(x) - len(x.lstrip()) + 2)
            if sep and where.endswith("]"):
                t = Text(indent + body.strip())
                t.append(f"   [{where}", style="dim")
            else:
                t = Text("  " + x, style="bold" if x.lstrip().startswith("table ") else "")
            out.extend(wrap_hanging(t, width, indent + "    "))
    if d["wireguard"]:
        heading("wireguard:")
        for w_ in d["wireguard"]:
            fact("  ", f"{w_['name']} fwmark 0x{w_['fwmark']:x} peers {len(w_['peers'])}"
                 + (" (inferred)" if w_.get("inferred") else ""))
    if d.get("clients"):
        heading("clients recognised:")
        for c in d["clients"]:
            fact("  ", f"{c['client']}: {', '.join(c['why'])}")
            fact("      ", f"installs: {c['installs']}", hang="  ", style="dim")
    heading("sysctls:", "" if d["sysctls"] else " (none in the dump)")
    for k, v in sorted(d["sysctls"].items()):
        fact("  ", f"{k} = {v}")
    if d.get("kernel_answers"):
        heading("the kernel's own answers, as pasted:")
        for a in d["kernel_answers"]:
            if a["command"]:
                fact("  ", f"$ {a['command']}")
            for k, x in enumerate(a["answer"].splitlines()):
                fact("    ", x.rstrip(), "" if k else a["origin"])
    if d.get("redacted"):
        heading("hidden addresses (unknown; read as stand-ins that match nothing):")
        for r in d["redacted"]:
            fact("  ", f"{r['text']} -> {r['stand_in']}", r["origin"])
    if d["warnings"]:
        heading("warnings:")
        for w_ in d["warnings"]:
            fact("  ", f"- {w_}", hang="  ", style="yellow")
    if d.get("assumptions"):
        heading("assuming (not pasted):")
        for a in d["assumptions"]:
            fact("  ", f"- {a}", hang="  ", style="yellow")
        fact("", "to settle it, paste the output of: " + "; ".join(
            f"`{c}`" for c in d["to_paste"]), hang="    ", style="cyan")
        from wgexplain.explain.route_text import collect_lines

        out.extend(collect_lines())
    return out


def _show_text(host: Any, ctx: click.Context) -> str:
    from wgexplain.explain.wrap import output_width

    return "\n".join(line.plain for line in show_lines(show_data(host), output_width()))


register_format("show", "text", _show_text)
register_format("show", "json", _show_json)


@main.command("show")
@click.argument("source", required=False)
@kernel_option
@source_options
@format_options
@handle_errors
def show_command(source: str | None, live: bool, fmt: str, as_json: bool) -> None:
    """What was understood from SOURCE: links, addresses, rules, tables, ruleset, sysctls."""
    ctx = click.get_current_context()
    host = load_source(source, live)
    ctx.meta["wgexplain.host"] = host
    fmt = chosen_format(fmt, as_json)
    if fmt == "text" and sys.stdout.isatty():
        from rich.console import Console

        from wgexplain.explain.wrap import output_width

        console = Console(highlight=False, soft_wrap=True)
        for line in show_lines(show_data(host), output_width()):
            console.print(line)
        return
    click.echo(render_as("show", fmt, host, ctx))


# --------------------------------------------------------------------------
# commands from other modules
# --------------------------------------------------------------------------

def _register_plugins() -> None:
    import importlib

    for name in ("wgexplain.cli_trace", "wgexplain.cli_capture", "wgexplain.explain.dot",
                 "wgexplain.cli_verify"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        register = getattr(mod, "register", None)
        if callable(register):
            register(main)


_register_plugins()

if __name__ == "__main__":  # pragma: no cover
    main()
