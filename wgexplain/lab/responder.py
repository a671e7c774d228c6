"""The lab's servers: a process that answers and logs who called it.

A :class:`Responder` runs :data:`RESPONDER` in one namespace. It binds each
address it is given separately (UDP and TCP, IPv4 and IPv6), so a UDP
answer leaves from the address asked, and logs every call as the
*source address it saw*: through a tunnel that is the relay's (masquerade),
in plaintext it is the client's own. That is how a lab tells where a packet
really went.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from wgexplain.lab.netns import Lab, LabError

__all__ = ["RESPONDER", "Responder", "readline"]

#: Answers every UDP datagram and TCP connection with the caller's address and logs
#: "PROTO PORT CALLER" (IPv4 and IPv6).
RESPONDER = r"""
import selectors, socket, sys
sel = selectors.DefaultSelector()
for addr in sys.argv[1].split(","):
  fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
  for port in [int(p) for p in sys.argv[2].split(",")]:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
      s = socket.socket(fam, kind)
      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind((addr, port))
      if kind == socket.SOCK_STREAM:
        s.listen(16)
      sel.register(s, selectors.EVENT_READ, ("udp" if kind == socket.SOCK_DGRAM else "tcp", port))
print("ready", flush=True)
while True:
  for key, _ in sel.select():
    proto, port = key.data
    try:
      if proto == "udp":
        data, peer = key.fileobj.recvfrom(2048)
        key.fileobj.sendto(peer[0].encode(), peer)
      else:
        conn, peer = key.fileobj.accept()
        conn.sendall(peer[0].encode()); conn.close()
      print("%s %d %s" % (proto, port, peer[0]), flush=True)
    except OSError as exc:
      print("error %s %d %s" % (proto, port, exc), flush=True)
"""


class Responder:
    """A :data:`RESPONDER` process in ``ns``, with the calls it logged (proto, port, caller)."""

    def __init__(self, lab: Lab, ns: str, addresses: Sequence[object],
                 ports: Sequence[int]) -> None:
        self.ns = ns
        self.proc = lab.start(ns, [sys.executable, "-I", "-S", "-u", "-c", RESPONDER,
                                   ",".join(map(str, addresses)), ",".join(map(str, ports))])
        self.calls: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        first = readline(self.proc, 5.0)
        if first.strip() != "ready":
            raise LabError(f"responder in {ns} did not start (exit {self.proc.poll()}): {first!r}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            parts = raw.decode(errors="replace").split()
            if len(parts) == 3 and parts[0] in ("udp", "tcp"):
                with self._lock:
                    self.calls.append((parts[0], int(parts[1]), parts[2]))

    def seen(self) -> list[tuple[str, int, str]]:
        """Every call so far, oldest first."""
        with self._lock:
            return list(self.calls)


def readline(proc: subprocess.Popen[Any], timeout: float) -> str:
    """One line of a process's binary stdout, or "" after ``timeout`` s or at EOF."""
    import select

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")
