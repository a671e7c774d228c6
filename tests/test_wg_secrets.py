"""What people paste is safe: `wgexplain capture` writes no WireGuard private or
preshared key into the bundle (``wg show all dump`` prints both)."""

from __future__ import annotations

from wgexplain.sources.live import hide_wg_secrets
from wgexplain.sources.wg import parse_wg_dump

PRIVATE = "8NJzz234zFaJIrT4R/8S/YZUmh0STnhKklkJr750P1I="
PUBLIC = "Exjx/eZNSX7RWMrKAbrixkZxwEvKuJnsF2EN3lT2W3w="
PEER = "IOATp0mMYVl6HhFo7SEC0RjAzaoWuZdtX+vsHgTjPn8="
PSK = "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE="
DUMP = (f"wgq0\t{PRIVATE}\t{PUBLIC}\t51820\t0xca6c\n"
        f"wgq0\t{PEER}\t{PSK}\t203.0.113.5:51820\t0.0.0.0/0,::/0\t0\t0\t148\toff\n")


def test_capture_hides_private_and_preshared_keys() -> None:
    hidden = "\n".join(hide_wg_secrets(line) for line in DUMP.splitlines()) + "\n"
    assert PRIVATE not in hidden and PSK not in hidden
    assert PUBLIC in hidden and PEER in hidden  # public keys stay (redact replaces them on demand)
    assert hidden.splitlines()[0].split("\t")[1] == "(hidden)"
    # what the explanation reads is the same
    assert parse_wg_dump(hidden, "wg.txt") == parse_wg_dump(DUMP, "wg.txt")


def test_no_secret_no_change() -> None:
    line = f"wgq0\t{PEER}\t(none)\t203.0.113.5:51820\t0.0.0.0/0\t0\t0\t0\toff"
    assert hide_wg_secrets(line) == line


def test_no_sample_holds_a_private_key() -> None:
    from pathlib import Path

    for wg in sorted((Path(__file__).resolve().parent.parent / "examples").glob("*/bundle/wg.txt")):
        for line in wg.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 5:
                assert fields[1] in ("(hidden)", "(none)"), f"{wg}: a private key"
