"""Every `wgexplain` command a reader can copy from the site runs.

The site's shell blocks (```sh, ```bash, ```text) are for copying. This test
collects each line that starts with ``wgexplain`` and runs it in-process on
the repository's samples: commands on ``examples/...`` must succeed (``check``
may answer 3: it found something), and commands on the reader's own dump
(``my-paste.txt``, ``my-bundle``) are run on the seed instead, where they may
refuse the input (exit 2, e.g. a device the seed lacks) but must never be a
usage error or an internal error. Commands that write to or read the running
machine (``capture``, ``verify``, ``redact -o``) are left to their own tests.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from wgexplain.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(\s*)```(?:sh|bash|text|console)\s*$")
#: Stand-ins for the reader's own dump, on which the command is tried instead.
OWN = {"my-paste.txt": "examples/mullvad/session-en.txt", "my-bundle": "examples/mullvad/bundle"}
#: Subcommands that touch the running machine or write files.
SKIP = {"capture", "verify", "redact"}


def _commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for page in sorted(DOCS.rglob("*.md")):
        inside = False
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if not inside:
                inside = bool(FENCE.match(line))
                continue
            if line.strip().startswith("```"):
                inside = False
                continue
            text = line.strip()
            if text.startswith("sudo "):
                text = text[len("sudo "):]
            if text.startswith("wgexplain "):
                found.append((f"{page.relative_to(ROOT)}:{n}", text))
    return found


COMMANDS = _commands()


def _argv(text: str) -> list[str]:
    words = shlex.split(text, comments=True)
    if ">" in words:  # `... --format svg > ladder.svg`: the output is checked, not saved
        words = words[:words.index(">")]
    return words[1:]


def test_the_site_shows_commands_to_copy() -> None:
    assert len(COMMANDS) >= 30, COMMANDS
    assert sum("examples/" in c for _, c in COMMANDS) >= 25


@pytest.mark.parametrize(("where", "text"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_runs(where: str, text: str) -> None:
    argv = _argv(text)
    if argv[0] in SKIP:
        pytest.skip(f"{argv[0]} touches the running machine or writes files: tested on its own")
    own = [a for a in argv if a in OWN]
    argv = [OWN.get(a, a) for a in argv]
    run = CliRunner().invoke(main, argv)
    assert "No such option" not in run.output and "Usage:" not in run.output, (where, text, run.output)
    assert run.exit_code != 1, (where, text, run.output)  # 1: an internal error
    assert run.exception is None or isinstance(run.exception, SystemExit), (where, text, run.exception)
    if own:
        assert run.exit_code in (0, 2, 3), (where, text, run.output)
    else:
        allowed = (0, 3) if argv[0] == "check" else (0,)
        assert run.exit_code in allowed, (where, text, run.exit_code, run.output)
        assert run.output.strip(), (where, text)
