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


#: the last part of the keys the simulator reads as numbers (kernel/fib_frontend.py)
NUMERIC = frozenset({"forwarding", "rp_filter", "src_valid_mark", "accept_local", "route_localnet",
                     "send_redirects", "ignore_routes_with_linkdown", "bc_forwarding",
                     "ip_forward", "use_tempaddr", "fwmark_reflect", "fib_multipath_hash_policy"})


def _checked(key: str, value: str, file: str, line: int) -> str:
    """``value``, refused (DumpError) when the simulator reads ``key`` as a number and it is none."""
    if key.rsplit(".", 1)[-1] in NUMERIC:
        try:
            first = value.split()[0]
            if not first.isascii() or len(first) > 40:
                raise ValueError(first)
            int(first, 0)
        except (ValueError, IndexError):
            raise DumpError(file, line, f"a number for {key}", got=value) from None
    return value


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
            key = key_of_path(path)
            out[key] = _checked(key, " ".join(value.split()), file, first_line + i)
            continue
        key, sep, value = s.partition(" = ")
        if not sep:
            key, sep, value = s.partition("=")
        key = key.strip()
        if not sep or not key or " " in key:
            raise DumpError(file, first_line + i, "a 'key = value' line as sysctl prints it",
                            got=s)
        key = normalise_key(key)
        out[key] = _checked(key, " ".join(value.split()), file, first_line + i)
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
    return {k: _checked(k, " ".join(v.split()), file, n) for k, (n, v) in zip(keys, values)}
