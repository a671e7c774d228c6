"""MkDocs hook: a "Try it in your browser" line under every shell block that runs the CLI
on a sample.

A page's ``sh`` block such as::

    wgexplain route examples/mullvad/session-en.txt 185.195.233.76 --mark 0x6d6f6c65
    wgexplain trace examples/mullvad/bundle 1.1.1.1 --proto tcp --dport 443

gets, right after it, one line of links that open the playground with the
same sample and the same packet (``?example=…&cmd=…&dst=…&mark=…``), so a
reader can change one rule or one mark and see what changes. The address
holds the example's name and the packet only, never a reader's own paste.

Only commands the playground answers the same way are linked: ``route``,
``trace`` and ``check`` on a sample it carries (``hooks/playground.py``'s
``samples()``), with options it has a field for (``ip route get``'s keywords
and their ``--`` forms, ``--cgroup``, ``--direction``, ``--state``). A line
with anything else (``--format``, a redirection, ``--kernel``) is left
without a link. A page that writes its own links (class ``wgx-try-link``)
is left as it is.
"""

from __future__ import annotations

import html
import re
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from playground import PAGE, samples  # noqa: E402  (a sibling hook: the samples it ships)

_FENCE = re.compile(r"^(?P<ind>[ \t]*)```(?:sh|bash|shell|console)[^\n]*\n(?P<body>.*?)\n"
                    r"(?P=ind)```[ \t]*$", re.M | re.S)
#: CLI option (or ``ip route get`` keyword) -> the playground's field
_FIELDS = {"from": "from", "iif": "iif", "oif": "oif", "mark": "mark", "uid": "uid",
           "ipproto": "ipproto", "proto": "ipproto", "sport": "sport", "dport": "dport",
           "tos": "tos", "cgroup": "cgroup", "direction": "direction", "state": "state"}
_COMMANDS = ("route", "trace", "check")

_known: set[str] | None = None


def _samples() -> set[str]:
    global _known
    if _known is None:
        _known = set(samples())
    return _known


def link_query(line: str) -> tuple[str, dict[str, str]] | None:
    """The playground query for one shell line, or None when the playground cannot answer
    it as the CLI does. Returns (the command as shown, the query's fields)."""
    line = re.sub(r"\s+#.*$", "", line.strip())
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if words and words[0] == "sudo":
        words = words[1:]
    if len(words) < 3 or words[0].rsplit("/", 1)[-1] != "wgexplain" or words[1] not in _COMMANDS:
        return None
    cmd, example, rest = words[1], words[2].rstrip("/"), words[3:]
    if example not in _samples():
        return None
    query = {"example": example, "cmd": cmd}
    if cmd == "check":
        return (" ".join(words[1:2] + rest), query) if not rest else None
    if not rest or rest[0].startswith("-"):
        return None
    query["dst"] = rest[0]
    i = 1
    while i < len(rest):
        key = rest[i][2:] if rest[i].startswith("--") else rest[i]
        if key not in _FIELDS or i + 1 >= len(rest):
            return None
        query[_FIELDS[key]] = rest[i + 1]
        i += 2
    return " ".join([cmd, *rest]), query


def on_page_markdown(markdown: str, page: Page, config: Any, files: Any) -> str:
    if page.file.src_uri == PAGE or "wgx-try-link" in markdown:
        return markdown
    target = get_relative_url("playground/", page.url)

    def add(m: re.Match[str]) -> str:
        found = [f for f in map(link_query, m.group("body").splitlines()) if f is not None]
        if not found:
            return m.group(0)
        examples = {q["example"] for _, q in found}
        one = len(examples) == 1
        links = []
        for shown, query in found:
            label = shown if one else f"{query['example'].removeprefix('examples/')}: {shown}"
            href = html.escape(f"{target}?{urlencode(query)}")
            # a line may break between words, never inside one ("--dport", "wg-quick")
            words = " ".join(f'<span style="white-space:nowrap">{html.escape(w)}</span>'
                             for w in label.split())
            links.append(f'<li><a class="wgx-try-link" href="{href}"><code>{words}</code></a></li>')
        where = f", on <code>{html.escape(next(iter(examples)))}</code>" if one else ""
        ind = m.group("ind")
        return (f"{m.group(0)}\n\n{ind}<div class=\"wgx-try\"><p>Try in your browser{where}:</p>"
                f"<ul>{''.join(links)}</ul></div>\n")

    return _FENCE.sub(add, markdown)
