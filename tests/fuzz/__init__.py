"""The fuzzer: every input is data, never a crash; ``redact`` never leaks.

Seeds (:mod:`fuzz.seeds`) are the samples in ``examples/``, the kernel-made
JSON in ``tests/fuzz/seeds/``, the real pastes in ``tests/pastes/`` and the
nftables project's dumps in ``../shared/corpus`` (each when present).
:mod:`fuzz.mutate` changes them line-, token- and byte-wise (JSON values
retyped and nested, CRLF, invalid UTF-8, NUL, ANSI colour, huge lines and
counts). :mod:`fuzz.target` feeds one input to every reader and to ``show``,
``route``, ``trace``, ``check`` and ``redact``, in-process, and says what
happened: read, refused (``DumpError``/``UsageError``: the clean path), a
crash (any other exception, grouped by type and innermost ``wgexplain``
frame), a hang (over 10 s), or a redaction leak.

``scripts/fuzz`` (``python -m fuzz``) runs many inputs in worker processes
and prints the count and every crash group with a shrunk reproducer; the
test suite runs a bounded number on every run (``tests/test_fuzz.py``).
"""
