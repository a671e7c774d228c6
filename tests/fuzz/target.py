"""One input through every reader and command, in-process; what happened.

:func:`run_case` reads the input the way the CLI does (a file by its name,
or text with lone surrogates, as standard input gives under a C locale),
then runs ``show`` (text and JSON), ``route`` and ``trace`` (a few
destinations taken from the dump itself, text and JSON), ``check`` (text
and JSON) and ``redact``. Every text produced must encode as UTF-8 (what
printing it needs). ``DumpError``/``UsageError`` (exit 2) are the clean
path; any other exception is a crash, grouped by its type and innermost
frame in ``wgexplain`` (:func:`crash_key`). A case taking longer than
``timeout`` seconds is a hang.

:func:`leaks` is the redaction check: the sensitive strings of an input
(public addresses, MACs in any notation and the EUI-64 addresses made from
them, WireGuard keys, host and user names from prompts), found here
independently of ``wgexplain.redact``, must not be in its output.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import os
import random
import re
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import wgexplain
from wgexplain.errors import WgExplainError

PKG = os.path.dirname(os.path.abspath(wgexplain.__file__))
STAGES = ("load", "show", "route", "trace", "check", "redact")


class Hang(BaseException):
    """Raised by the alarm: the case ran longer than its timeout."""


@dataclass
class Case:
    name: str           #: file name the input is read as
    data: bytes
    mode: str = "file"  #: "file" (read from a file) or "text" (text in hand, surrogates kept)
    stages: tuple[str, ...] = STAGES
    leak_check: bool = False
    origin: str = ""


@dataclass
class Outcome:
    status: str                      #: "read", "refused", "crash", "hang"
    stage: str = ""
    key: tuple[str, str] | None = None   #: (exception type, innermost wgexplain frame)
    detail: str = ""
    leaks: list[str] = field(default_factory=list)
    redacted: bool = False


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` after ``seconds`` of CPU time (main thread only; no-op otherwise).

    CPU time, not the clock: on a machine shared with other work a case that
    waits for the processor is not a hang.
    """
    if seconds <= 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise Hang(f"over {seconds:g} s")

    try:
        old = signal.signal(signal.SIGPROF, fire)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def crash_key(exc: BaseException) -> tuple[str, str]:
    """(exception type, innermost frame inside the wgexplain package as file:function)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = "?"
    for fr in frames:
        if fr.filename.startswith(PKG):
            rel = os.path.relpath(fr.filename, os.path.dirname(PKG))
            where = f"{rel}:{fr.name}"
    return type(exc).__name__, where


def _detail(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    inner = [f for f in tb if f.filename.startswith(PKG)][-3:]
    loc = " <- ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}"
                      for f in reversed(inner))
    msg = str(exc)
    if len(msg) > 200:
        msg = msg[:200] + "..."
    return f"{type(exc).__name__}: {msg}  [{loc}]"


def _utf8(text: str) -> str:
    text.encode("utf-8")  # printing it must work (stdout is UTF-8)
    return text


# ------------------------------------------------------------------ destinations

def destinations(host: Any, r: random.Random, n: int = 2) -> list[dict[str, Any]]:
    """Lookups worth making on ``host``: addresses and routes of the dump itself, the
    endpoint, marks of its rules, and a public address of each family."""
    addrs: list[str] = ["1.1.1.1", "2606:4700:4700::1111"]
    for a in list(getattr(host, "addresses", ()))[:20]:
        addrs.append(str(a.address.ip))
    for w in getattr(host, "wireguard", ())[:3]:
        for p in w.peers[:3]:
            if p.endpoint:
                addrs.append(str(p.endpoint[0]))
    try:
        for fam in (2, 10):
            for rule in list(host.rules_of(fam))[:10]:
                if rule.dst is not None:
                    addrs.append(str(rule.dst.network_address))
    except Exception:  # noqa: BLE001 - a crash here shows up in the stages
        pass
    marks = [0]
    try:
        marks += [rule.fwmark for fam in (2, 10) for rule in host.rules_of(fam)
                  if getattr(rule, "fwmark", None)][:4]
    except Exception:  # noqa: BLE001
        pass
    links = [lk.name for lk in getattr(host, "links", ())][:8]
    out = []
    for _ in range(n):
        spec: dict[str, Any] = {"dst": r.choice(addrs)}
        x = r.random()
        if x < 0.2 and links:
            spec["iif"] = r.choice(links)
        elif x < 0.35 and links:
            spec["oif"] = r.choice(links)
        if r.random() < 0.3:
            spec["mark"] = r.choice(marks)
        if r.random() < 0.3:
            spec["ipproto"], spec["dport"] = r.choice((("tcp", 443), ("udp", 53), ("udp", 51820)))
        out.append(spec)
    return out


# ------------------------------------------------------------------ the stages

def _show(host: Any) -> None:
    from wgexplain import cli

    d = cli.show_data(host)
    _utf8("\n".join(line.plain for line in cli.show_lines(d, 100)))
    _utf8(json.dumps(d, ensure_ascii=False, default=str))


def _route(host: Any, specs: list[dict[str, Any]]) -> None:
    from wgexplain.explain.route_text import format_text
    from wgexplain.kernel.route import route_get

    for spec in specs:
        try:
            res = route_get(host, **spec)
        except WgExplainError:
            continue
        _utf8(format_text(res, 100))
        _utf8(json.dumps(res.to_json(), ensure_ascii=False))


def _trace(host: Any, specs: list[dict[str, Any]]) -> None:
    from wgexplain.explain.trace_text import to_text
    from wgexplain.kernel.path import trace

    for spec in specs[:1]:
        kw = dict(spec)
        dst = kw.pop("dst")
        if "ipproto" in kw:
            kw["proto"] = kw.pop("ipproto")
        if "iif" in kw:
            kw["direction"] = "forward"
        try:
            t = trace(host, dst, **kw)
        except WgExplainError:
            continue
        _utf8(to_text(t, 100))
        _utf8(json.dumps(t.to_json(), ensure_ascii=False))


def _check(host: Any) -> None:
    from rich.console import Console

    from wgexplain.check import check
    from wgexplain.cli_verify import render_check

    report = check(host)
    buf = io.StringIO()
    render_check(report, Console(file=buf, width=100, force_terminal=False), 100)
    _utf8(buf.getvalue())
    _utf8(json.dumps(report.to_json(), ensure_ascii=False))


def _stdin(data: bytes, errors: str) -> Any:
    """Standard input as Python makes it: UTF-8, strict (a UTF-8 locale) or
    surrogateescape (the C locale)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors=errors)


def _redact(case: Case, path: Path | None, tmp: str, errors: str) -> str | None:
    from wgexplain.redact import redact_source, redact_text

    if case.mode == "api":
        redact_text(case.data.decode("utf-8", "surrogateescape"))
        return None
    if path is None:  # wgexplain redact - (stdin to stdout)
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding="utf-8", errors=errors, write_through=True)
        old_in, old_out = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = _stdin(case.data, errors), out
        try:
            redact_source("-")
        finally:
            sys.stdin, sys.stdout = old_in, old_out
        out.flush()
        return raw.getvalue().decode("utf-8", "replace")
    dst = os.path.join(tmp, "redacted-" + case.name)
    redact_source(str(path), dst)
    return _utf8(Path(dst).read_text(encoding="utf-8"))


_WORKDIR: dict[int, str] = {}


@contextlib.contextmanager
def _workdir() -> Iterator[str]:
    """One empty temporary directory per process, emptied after each case (cheaper than a
    new one per case)."""
    import shutil

    d = _WORKDIR.get(os.getpid())
    if d is None or not os.path.isdir(d):
        import atexit

        d = _WORKDIR[os.getpid()] = tempfile.mkdtemp(prefix="wgx-fuzz-")
        atexit.register(shutil.rmtree, d, True)
    try:
        yield d
    finally:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)


def run_case(case: Case, *, timeout: float = 10.0, seed: int = 0) -> Outcome:
    """Run ``case`` through its stages: the first crash or hang ends it.

    ``mode``: ``file`` (SOURCE a file), ``stdin`` (SOURCE ``-``, decoded strictly or
    with surrogateescape as Python does in a UTF-8 or a C locale), ``api``
    (``load_text()`` on text holding lone surrogates).
    """
    from wgexplain.sources import load, load_text

    r = random.Random(seed)
    errors = r.choice(("strict", "surrogateescape"))
    stage = "load"
    host = None
    redacted: str | None = None
    try:
        with _workdir() as tmp, alarm(timeout):
            path: Path | None = None
            if case.mode == "file":
                path = Path(tmp) / case.name
                path.write_bytes(case.data)
            try:
                if case.mode == "api":
                    host = load_text(case.data.decode("utf-8", "surrogateescape"), case.name)
                elif case.mode == "stdin":
                    old_in = sys.stdin
                    sys.stdin = _stdin(case.data, errors)
                    try:
                        host = load("-")
                    finally:
                        sys.stdin = old_in
                else:
                    host = load(str(path))
            except WgExplainError:
                host = None
            if host is not None:
                specs = destinations(host, r)
                for stage in case.stages:
                    try:
                        if stage == "show":
                            _show(host)
                        elif stage == "route":
                            _route(host, specs)
                        elif stage == "trace":
                            _trace(host, specs)
                        elif stage == "check":
                            _check(host)
                    except WgExplainError:
                        pass
            if "redact" in case.stages:
                stage = "redact"
                try:
                    redacted = _redact(case, path, tmp, errors)
                except WgExplainError:
                    redacted = None
    except Hang as e:
        return Outcome("hang", stage, ("Hang", stage), str(e))
    except Exception as e:  # noqa: BLE001 - the point: every other exception is a crash
        return Outcome("crash", stage, crash_key(e), _detail(e))
    out = Outcome("read" if host is not None else "refused", redacted=redacted is not None)
    if case.leak_check and redacted is not None:
        out.leaks = leaks(case.data.decode("utf-8", "replace"), redacted)
    return out


# ------------------------------------------------------------------ redaction leaks

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_V4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w])")
_V6 = re.compile(r"(?<![\w:.])([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:])")
_MAC = re.compile(r"(?<![\w:-])([0-9A-Fa-f]{2}(?P<sep>[:-])[0-9A-Fa-f]{2}"
                  r"(?:(?P=sep)[0-9A-Fa-f]{2}){4})(?![\w:-])")
_KEY = re.compile(r"(?<![A-Za-z0-9+/])([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)(?![A-Za-z0-9+/=])")
_PROMPT = re.compile(r"(?m)^\[?(?P<user>[a-z_][\w.-]*)@(?P<host>[A-Za-z0-9][\w.-]*)[: \]]")
_COMMON = frozenset({"root", "localhost", "user", "host"})


def _public(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public address that names something: not the all-zeros start of a short prefix
    (``128.0.0.0/1``, ``2000::/3``: a prefix-preserving redaction keeps those)."""
    if a.version == 6 and a.ipv4_mapped is not None:
        return _public(a.ipv4_mapped)
    if int(a) & ((1 << (24 if a.version == 4 else 112)) - 1) == 0:
        return False
    if a.version == 6 and int(a) >> 120 == 0:  # ::/8, reserved by the IETF: nobody's address
        return False
    if a.version == 6 and int(a) >> 125 == 0b010:  # 4000::/3, reserved by the IETF (a stand-in pool)
        return False
    return a.is_global and not a.is_multicast


def sensitive(text: str) -> set[str]:
    """What redaction must remove from ``text``, in a canonical form (lower case)."""
    text = _ANSI.sub("", text)
    found: set[str] = set()
    macs: set[int] = set()
    for m in _MAC.finditer(text):
        v = int(re.sub(r"[:-]", "", m.group(1)), 16)
        if v not in (0, (1 << 48) - 1):
            macs.add(v)
            found.add(f"mac:{v:012x}")
    eui = set()
    for v in macs:
        b = v.to_bytes(6, "big")
        iid = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:]
        eui.add(int.from_bytes(iid, "big"))
    for m in _V4.finditer(text):
        try:
            a4 = ipaddress.IPv4Address(m.group(1))
        except ValueError:
            continue
        if _public(a4):
            found.add(f"ip:{a4}")
    for m in _V6.finditer(text):
        try:
            a6 = ipaddress.IPv6Address(m.group(1))
        except ValueError:
            continue
        if _public(a6) or (int(a6) & ((1 << 64) - 1)) in eui:
            found.add(f"ip:{a6}")
    for m in _KEY.finditer(text):
        found.add(f"key:{m.group(1)}")
    for m in _PROMPT.finditer(text):
        for kind in ("user", "host"):
            name = m.group(kind)
            if name not in _COMMON and len(name) >= 3:
                found.add(f"{kind}:{name}")
    return found


def leaks(original: str, redacted: str) -> list[str]:
    """The sensitive strings of ``original`` still found in ``redacted``."""
    before = sensitive(original)
    if not before:
        return []
    plain = _ANSI.sub("", redacted)
    after = sensitive(plain)
    out = sorted(before & {x for x in after if not x.startswith(("user:", "host:"))})
    for item in before:
        kind, _, name = item.partition(":")
        if kind in ("user", "host") and re.search(
                rf"(?<![\w.-]){re.escape(name)}(?![\w-])", plain):
            out.append(item)
    return out


# ------------------------------------------------------------------ shrinking

def minimise(case: Case, key: tuple[str, str], *, budget: float = 30.0,
             timeout: float = 10.0) -> Case:
    """A smaller case that still crashes with ``key`` (lines, then characters, removed)."""
    import time

    deadline = time.monotonic() + budget

    def still(data: bytes) -> bool:
        if time.monotonic() > deadline:
            return False
        c = Case(case.name, data, case.mode, case.stages, False, case.origin)
        o = run_case(c, timeout=timeout)
        return o.key == key

    data = case.data
    for unit in (b"\n", None):
        parts: list[bytes] = data.split(b"\n") if unit else [bytes([x]) for x in data]
        if unit is None and len(parts) > 4000:
            break
        joiner = b"\n" if unit else b""
        n = 2
        while len(parts) >= 2 and time.monotonic() < deadline:
            chunk = max(1, len(parts) // n)
            removed = False
            for i in range(0, len(parts), chunk):
                trial = parts[:i] + parts[i + chunk:]
                if trial and still(joiner.join(trial)):
                    parts = trial
                    n = max(n - 1, 2)
                    removed = True
                    break
            if not removed:
                if chunk == 1:
                    break
                n = min(n * 2, len(parts))
        data = joiner.join(parts)
    return Case(case.name, data, case.mode, case.stages, False, case.origin)


def reproducer(case: Case) -> str:
    """The shortest Python statement that makes ``case`` again (for the report)."""
    return f"Case({case.name!r}, {case.data!r}, mode={case.mode!r})"


Runner = Callable[[Case], Outcome]
