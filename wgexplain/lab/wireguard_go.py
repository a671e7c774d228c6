"""wireguard-go devices in the lab: start one in a namespace, talk to it, stop it.

This kernel has no ``wireguard`` link type; Debian's ``wireguard-go`` is the
userspace twin of ``drivers/net/wireguard`` over a tun device (the encrypted
UDP leaves with ``skb->mark = wg->fwmark``, as ``send4()`` sets it). It runs
in the foreground (``-f``), so the PID held is the device's; the lab kills it
by that PID.

Its control socket ``/run/wireguard/IFNAME.sock`` is one path for the whole
machine. Two ways to start it:

* ``private=True`` (the rebuilt labs): in its own mount namespace with a
  tmpfs on ``/run/wireguard``, so two labs can use the same device name;
  ``wg`` then runs inside that mount namespace (``nsenter -t PID -m -n``).
* ``private=False`` (machines meant to look real, e.g. for
  ``wgexplain capture --netns``): the shared path, as on a user's machine;
  ``wg`` runs with ``ip netns exec``, and ``wg show all dump`` lists every
  namespace's devices.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wgexplain.lab.netns import Lab, LabError, run, stop, wait_for

__all__ = ["WireguardGo", "genkey", "pubkey"]

SHARED_RUN = Path("/run/wireguard")


def pubkey(private: str) -> str:
    """``wg pubkey`` of a private key (Curve25519 public key, base64)."""
    return run(["wg", "pubkey"], input=private.strip() + "\n").stdout.strip()


def genkey() -> tuple[str, str]:
    """A fresh (private, public) key pair (``wg genkey`` | ``wg pubkey``)."""
    private = run(["wg", "genkey"]).stdout.strip()
    return private, pubkey(private)


def _accepts(path: Path) -> bool:
    """True once the UAPI socket at ``path`` accepts a connection.

    wireguard-go creates the socket file (bind) a moment before it listens;
    ``wg`` connecting in between is refused and falls back to the kernel's
    generic netlink, which this kernel lacks ("Protocol not supported").
    So readiness is a successful connect, not the file's existence.
    """
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


class WireguardGo:
    """One running wireguard-go device: ``ns``, ``ifname``, ``proc`` (its PID is the device's)."""

    def __init__(self, lab: Lab, ns: str, ifname: str, *, private: bool = True,
                 timeout: float = 5.0) -> None:
        """Start wireguard-go in ``ns`` and wait until its control socket exists."""
        self.lab, self.ns, self.ifname, self.private = lab, ns, ifname, private
        os.makedirs(SHARED_RUN, exist_ok=True)
        if private:
            script = f"mount -t tmpfs wgx-wg {SHARED_RUN} && exec wireguard-go -f {ifname}"
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        else:
            argv = ["env", "WG_PROCESS_FOREGROUND=1", "wireguard-go", "-f", ifname]
        self.proc: subprocess.Popen[Any] = lab.start(ns, argv, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL)
        root = Path(f"/proc/{self.proc.pid}/root") if private else Path("/")
        sock = root / SHARED_RUN.relative_to("/") / f"{ifname}.sock"

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise LabError(f"wireguard-go {ifname} exited with {self.proc.returncode}")
            return _accepts(sock)

        wait_for(ready, timeout, f"wireguard-go to create {ifname}.sock")

    def wg(self, *args: str, input: str | None = None) -> str:
        """``wg ARGS`` where this device's control socket is visible."""
        if self.private:
            argv = ["nsenter", "-t", str(self.proc.pid), "-m", "-n", "wg", *args]
        else:
            argv = ["ip", "netns", "exec", self.ns, "wg", *args]
        return run(argv, input=input).stdout

    def setconf(self, lines: Sequence[str]) -> None:
        """``wg setconf IFNAME`` with a configuration given as lines (``[Interface]``, ...)."""
        self.wg("setconf", self.ifname, "/dev/stdin", input="\n".join(lines) + "\n")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop wireguard-go (by its PID) and wait until the kernel has removed the tun device
        (and the routes on it: ``fib_disable_ip()`` on NETDEV_UNREGISTER)."""
        stop(self.proc, grace=timeout)
        wait_for(lambda: self.lab.ip(self.ns, "link", "show", "dev", self.ifname,
                                     check=False).returncode != 0,
                 timeout, f"{self.ifname} to disappear after wireguard-go stopped")
