"""Errors the CLI turns into one line on stderr (exit 2)."""

from __future__ import annotations


class WgExplainError(Exception):
    """Base class of every error this package raises on purpose."""


class DumpError(WgExplainError):
    """Input that cannot be read: names the file, line, column and what was expected.

    >>> str(DumpError("rules.txt", 3, "a rule preference like '32766:'", got="foo"))
    "rules.txt:3: expected a rule preference like '32766:', got 'foo'"
    """

    def __init__(self, file: str, line: int, expected: str, got: str | None = None,
                 column: int | None = None) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.expected = expected
        self.got = got
        where = f"{file}:{line}" + (f":{column}" if column else "")
        msg = f"{where}: expected {expected}"
        if got is not None:
            got_s = got if len(got) <= 60 else got[:57] + "..."
            msg += f", got {got_s!r}"
        super().__init__(msg)


class UsageError(WgExplainError):
    """A command-line argument that cannot be used (bad address, unknown device...)."""
