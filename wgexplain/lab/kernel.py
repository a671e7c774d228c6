"""Ask the real kernel: ``ip route get`` for many flows in one ``ip -batch``.

One ``ip -n NS -N -j -d -force -batch -`` process answers every flow of a
namespace (``inet_rtm_getroute()`` / ``inet6_rtm_getroute()`` for each line).
iproute2 prints one JSON line per successful lookup on stdout and, for a
failed one, ``RTNETLINK answers: <strerror>`` then ``Command failed -:N`` on
stderr (N = the input line); the two streams are matched back by counting.
A line iproute2 itself refuses (e.g. ``dport 70000``) ends the whole batch: the
rest is re-run in a new batch and the refused line answered ``EUSAGE``.

How ``ip -N -j -d route get`` maps to the simulator's ``RouteResult.to_json()``:

=========  =============================================================
field      from iproute2's object
=========  =============================================================
type       ``type``: an RTN_* number with ``-N`` (1 unicast, 2 local, ...)
dev        ``dev``
gateway    ``gateway`` (or ``via.host`` for an IPv4 route via IPv6)
src        as the simulator's ``src``. IPv6 output lookups: ``prefsrc``, what
           ``rt6_fill_node()`` reports from ``ip6_route_get_saddr()`` (the
           route's prefsrc, else ``ipv6_dev_get_saddr()`` on its device),
           ``from`` or not. IPv4 output lookups: the flow's ``from`` when
           given (echoed as ``from``, RTA_SRC; the kernel prints ``prefsrc``
           only when it differs), else ``prefsrc`` (``fl4->saddr``). An
           input lookup chooses no source: src is the ``from`` given
table      ``table`` (numeric with ``-N``); absent (null) when no table was
           consulted, e.g. ``route get 0.0.0.0``
error      null; on failure the errno name of the ``RTNETLINK answers``
           text (``os.strerror`` inverted), or for an extended-ack message
           (``Error: ...``) the errno the kernel code returns with it
=========  =============================================================

On failure the kernel says nothing but the errno: ``type``, ``table``, ``src``
and ``gateway`` are null then — the route type met is not observable through
``route get`` — and :mod:`wgexplain.lab.parity` compares only ``error`` and
``dev`` for such flows. ``uid``, ``mark``, ``flags``, ``cache``, ``metric``,
``protocol``, ``scope``, ``pref`` are echoed inputs or attributes that do not
change where the packet goes, and are not compared.
"""

from __future__ import annotations

import errno as _errno
import json
import os
from collections.abc import Sequence
from typing import Any

from wgexplain.lab.netns import Lab, LabError, run
from wgexplain.model import ROUTE_TYPES, Flow

#: The fields compared with the simulator (``RouteResult.to_json()``).
FIELDS = ("type", "dev", "gateway", "src", "table", "error")

#: strerror text -> errno name, from this C library (what iproute2 prints).
_STRERROR: dict[str, str] = {}
for _code, _name in sorted(_errno.errorcode.items(), reverse=True):
    _STRERROR[os.strerror(_code)] = _name

#: Extended-ack messages (``NL_SET_ERR_MSG``) that replace the strerror line,
#: with the errno the kernel returns alongside them.
EXTACK_ERRNO: dict[str, str] = {
    "Unsupported ip proto.": "EOPNOTSUPP",  # rtm_getroute_parse_ip_proto()
    "Invalid uid": "EINVAL",
    "Invalid flags for get route request": "EINVAL",
    "Invalid values in header for get route request": "EINVAL",
}

#: RTN_* numbers as ``ip -N`` prints them.
_RTN = {str(i + 1): name for i, name in enumerate(ROUTE_TYPES)}


def route_get_line(flow: Flow) -> str:
    """One ``route get`` line in iproute2's keyword syntax for a :class:`Flow`."""
    from wgexplain.kernel.flowspec import format_flowspec

    return "route get " + format_flowspec(flow)


def errno_name(message: str) -> str:
    """``RTNETLINK answers: No route to host`` -> ``EHOSTUNREACH``."""
    msg = message.strip()
    if msg.startswith("RTNETLINK answers:"):
        text = msg.split(":", 1)[1].strip()
        return _STRERROR.get(text, f"E?({text})")
    if msg.startswith("Error:"):
        text = msg.split(":", 1)[1].strip()
        return EXTACK_ERRNO.get(text, f"E?({text})")
    if msg.startswith("Cannot find device"):
        return "ENODEV"  # iproute2's ll_name_to_index() failed: the kernel was not asked
    return f"E?({msg})"


def answer_from_json(obj: dict[str, Any], flow: Flow) -> dict[str, Any]:
    """The six compared fields from one ``ip -N -j -d route get`` object (see module doc)."""
    rtype = str(obj.get("type", "1"))
    gateway = obj.get("gateway")
    if gateway is None and isinstance(obj.get("via"), dict):
        gateway = obj["via"].get("host")
    # the source the packet carries: the flow's ``from`` (echoed by the kernel as
    # RTA_SRC; IPv6 prints ``from ::`` when none was given), else the kernel's choice
    frm = obj.get("from")
    if flow.iif is None and flow.dst.version == 6:
        src = obj.get("prefsrc")  # rt6_fill_node(): ip6_route_get_saddr()'s pick, from aside
    else:
        src = frm if frm not in (None, "::", "0.0.0.0") else obj.get("prefsrc")
    table = obj.get("table")
    return {
        "type": _RTN.get(rtype, rtype),
        "dev": obj.get("dev"),
        "gateway": gateway,
        "src": src,
        "table": int(table) if table is not None else None,
        "error": None,
    }


def error_answer(name: str) -> dict[str, Any]:
    return {"type": None, "dev": None, "gateway": None, "src": None, "table": None, "error": name}


def parse_batch(lines: Sequence[str], stdout: str, stderr: str) -> tuple[list[Any], int]:
    """Match a batch's output back to its input lines.

    Returns one entry per line that iproute2 handled — the JSON object, or
    the error message string — and how many lines it handled (fewer than
    ``len(lines)`` when it stopped on a line it could not parse).
    """
    failed: dict[int, str] = {}
    pending: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("Command failed -:"):
            failed[int(line.rsplit(":", 1)[1])] = _pick_message(pending)
            pending = []
        elif line.strip():
            pending.append(line.strip())
    objs = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    handled = len(objs) + len(failed)
    out: list[Any] = []
    it = iter(objs)
    for n in range(1, handled + 1):
        if n in failed:
            out.append(failed[n])
        else:
            got = next(it, None)
            if got is None:
                raise LabError(f"ip -batch output does not match its input at line {n}")
            out.append(got[0] if isinstance(got, list) and got else got)
    if pending and handled < len(lines):
        # the line after the last handled one stopped the batch
        out.append("Error: iproute2 refused: " + " ".join(pending))
        handled += 1
    return out, handled


def _pick_message(pending: list[str]) -> str:
    for line in pending:
        if line.startswith("RTNETLINK answers:"):
            return line
    for line in pending:
        if line.startswith("Error:"):
            return line
    return " ".join(pending)


def route_get(ns: str, flows: Sequence[Flow], *, lab: Lab | None = None,
              raw: bool = False) -> list[dict[str, Any]]:
    """The kernel's answer for every flow, in order (one ``ip -batch`` per chunk).

    With ``raw=True`` each dict also carries ``"raw"``: iproute2's object or
    error text, for reports.
    """
    lines = [route_get_line(f) for f in flows]
    answers: list[dict[str, Any]] = []
    start = 0
    while start < len(lines):
        chunk = lines[start:]
        argv = ["ip", "-n", ns, "-N", "-j", "-d", "-force", "-batch", "-"]
        if lab is not None:
            proc = lab.ip(ns, *argv[3:], input="\n".join(chunk) + "\n", check=False, timeout=600)
        else:
            proc = run(argv, input="\n".join(chunk) + "\n", check=False, timeout=600)
        got, handled = parse_batch(chunk, proc.stdout, proc.stderr)
        if handled == 0:
            raise LabError(f"ip -batch in {ns} answered nothing: {proc.stderr.strip()[:200]}")
        for i, item in enumerate(got):
            flow = flows[start + i]
            if isinstance(item, str):
                if item.startswith("Error: iproute2 refused"):
                    ans = error_answer("EUSAGE")
                else:
                    ans = error_answer(errno_name(item))
            else:
                ans = answer_from_json(item, flow)
            if raw:
                ans["raw"] = item
            answers.append(ans)
        start += handled
    return answers
