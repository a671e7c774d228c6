"""Read sysctl values: ``sysctl`` output, ``cat /proc/sys/...``, ``grep . /proc/sys/...``.

``sysctl`` (procps ``ReadSetting()``) prints ``key = value`` with dots between
the levels of ``/proc/sys``, and a slash where a name (an interface like
``eth0.100``) has a dot. Values are kept as the text printed (multi-value
ones like ``ip_local_port_range`` with single spaces).
"""

from __future__ import annotations

from wgexplain.errors import DumpError

PROC_SYS = "/proc/sys/"


def key_of_path(path: str) -> str:
    """``/proc/sys/net/ipv4/conf/eth0.100/rp_filter`` -> ``net.ipv4.conf.eth0/100.rp_filter``."""
    rel = path[len(PROC_SYS):] if path.startswith(PROC_SYS) else path
    return ".".join(part.replace(".", "/") for part in rel.strip("/").split("/"))


def normalise_key(key: str) -> str:
    """A key as ``sysctl`` accepts it (``net/ipv4/ip_forward`` too) -> the dotted form."""
    if "/" in key and "." not in key:
        return key.strip("/").replace("/", ".")
    return key


def parse_sysctl_text(text: str, file: str, first_line: int = 1) -> dict[str, str]:
    """``key = value`` lines (``sysctl -a``, ``sysctl KEY``, a bundle's sysctl.txt).

    Also ``/proc/sys/PATH:value`` lines (``grep . /proc/sys/...``). Lines
    ``sysctl: ...`` (its error messages, e.g. permission denied) carry no
    value and are skipped.
    """
    out: dict[str, str] = {}
    for i, raw in enumerate(text.split("\n")):
        s = raw.strip()
        if not s or s.startswith("sysctl: "):
            continue
        if s.startswith(PROC_SYS):
            path, sep, value = s.partition(":")
            if not sep:
                raise DumpError(file, first_line + i, "'/proc/sys/PATH:value' (grep . output)",
                                got=s)
            out[key_of_path(path)] = " ".join(value.split())
            continue
        key, sep, value = s.partition(" = ")
        if not sep:
            key, sep, value = s.partition("=")
        key = key.strip()
        if not sep or not key or " " in key:
            raise DumpError(file, first_line + i, "a 'key = value' line as sysctl prints it",
                            got=s)
        out[normalise_key(key)] = " ".join(value.split())
    return out


def parse_values(text: str, file: str, first_line: int, keys: list[str]) -> dict[str, str]:
    """Bare values, one line each, for ``keys`` in order (``cat /proc/sys/A B``, ``sysctl -n``)."""
    values = [(first_line + i, raw.strip()) for i, raw in enumerate(text.split("\n"))
              if raw.strip()]
    if len(values) != len(keys):
        line = values[len(keys)][0] if len(values) > len(keys) else (
            values[-1][0] if values else first_line)
        raise DumpError(file, line, f"{len(keys)} value line(s), one per file named in the "
                        "command", got=f"{len(values)} line(s)")
    return {k: " ".join(v.split()) for k, (_, v) in zip(keys, values)}
