"""Network namespaces for the kernel lab: create, run in, always tear down.

Everything the lab creates lives in namespaces named ``wgx-…`` (the
kernel's ``struct net``, made with ``ip netns add``, i.e. ``unshare(CLONE_NEWNET)``
bound to ``/run/netns/NAME``); nothing touches the host namespace. A
:class:`Lab` is a context manager that remembers every namespace it made and
every process it started, and on exit — normal, exception or
``KeyboardInterrupt`` — kills those processes by PID and deletes those
namespaces (deleting a namespace destroys its devices, routes, rules and
nftables tables with it: ``cleanup_net()``). SIGTERM is turned into
``SystemExit`` (when no handler was set) so that it unwinds the same way.

Example (needs root)::

    with Lab("demo") as lab:
        ns = lab.netns("client")
        lab.ip(ns, "link", "set", "lo", "up")
        print(lab.ip(ns, "-j", "route", "show", "table", "local").stdout)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Self

from wgexplain.errors import WgExplainError

#: Every namespace the project creates starts with this, so leftovers are easy to spot.
PREFIX = "wgx-"
NETNS_DIR = "/run/netns"


class LabError(WgExplainError):
    """The lab could not be built or queried (a command failed, no root, ...)."""


def lab_available() -> tuple[bool, str]:
    """Whether namespaces can be made here, and if not, why (for ``skipif`` reasons)."""
    if os.geteuid() != 0:
        return False, "the kernel lab needs root (network namespaces)"
    if shutil.which("ip") is None:
        return False, "iproute2 'ip' is not installed"
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover - environment
        return False, f"'ip netns' is unavailable: {exc}"
    if out.returncode != 0:
        return False, f"'ip netns' is unavailable: {out.stderr.strip()}"
    return True, ""


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one command, capture its output; raise :class:`LabError` on failure when ``check``.

    ``env``: variables added to this process's environment for the command.
    """
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **env} if env else None)
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout:g} s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv[:6])}{' ...' if len(argv) > 6 else ''} failed "
                       f"(exit {proc.returncode}): {' | '.join(msg[:5])}")
    return proc


class Lab:
    """A set of ``wgx-`` namespaces and processes, torn down together.

    ``tag`` becomes part of every namespace name: ``wgx-<tag>-<random>-<role>``.
    Use as a context manager; :meth:`close` is idempotent and also runs at
    interpreter exit if the lab was never closed.
    """

    def __init__(self, tag: str = "lab") -> None:
        ok, why = lab_available()
        if not ok:
            raise LabError(why)
        safe = "".join(c for c in tag if c.isalnum() or c == "-")[:12] or "lab"
        self.prefix = f"{PREFIX}{safe}-{secrets.token_hex(3)}"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[Any]] = []
        self.adopted: list[int] = []
        self._closed = False
        # Runs at close(), on garbage collection, or at interpreter exit.
        self._finalizer = weakref.finalize(self, Lab._cleanup, self.namespaces, self.processes,
                                           self.adopted)
        _sigterm_unwinds()

    # -- context manager -------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill the processes this lab started (by PID) and delete its namespaces."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()

    @staticmethod
    def _cleanup(namespaces: list[str], processes: list[subprocess.Popen[Any]],
                 adopted: list[int]) -> None:
        # Never let a second Ctrl-C leave half a lab behind.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            for proc in reversed(processes):
                stop(proc)
            processes.clear()
            for pid in reversed(adopted):
                _stop_pid(pid)
            adopted.clear()
            for ns in reversed(namespaces):
                if not ns.startswith(PREFIX):  # pragma: no cover - defensive
                    continue
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
            namespaces.clear()
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)

    # -- namespaces ------------------------------------------------------
    def netns(self, role: str) -> str:
        """Create a namespace ``wgx-…-ROLE[N]`` owned by this lab, loopback still down; returns its name."""
        if self._closed:
            raise LabError("this lab is closed")
        name = f"{self.prefix}-{role}"
        n = 1
        while name in self.namespaces:  # the same role again: number it
            n += 1
            name = f"{self.prefix}-{role}{n}"
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        return name

    def ip(self, ns: str, *args: str, input: str | None = None, check: bool = True,
           timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``ip -n NS ARGS...`` (iproute2 switches into the namespace itself)."""
        self._own(ns)
        return run(["ip", "-n", ns, *args], input=input, check=check, timeout=timeout)

    def exec(self, ns: str, argv: Sequence[str], *, input: str | None = None, check: bool = True,
             timeout: float = 60.0,
             env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside NS (``ip netns exec``) and wait for it."""
        self._own(ns)
        return run(["ip", "netns", "exec", ns, *argv], input=input, check=check, timeout=timeout,
                   env=env)

    def start(self, ns: str, argv: Sequence[str], *, stdin: int | IO[Any] | None = subprocess.DEVNULL,
              stdout: int | IO[Any] | None = subprocess.PIPE,
              stderr: int | IO[Any] | None = subprocess.PIPE) -> subprocess.Popen[Any]:
        """Start a long-running process in NS; it is killed by PID at teardown."""
        self._own(ns)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=stdin, stdout=stdout,
                                stderr=stderr, start_new_session=True)
        self.processes.append(proc)
        return proc

    def adopt(self, pid: int) -> None:
        """Kill ``pid`` by PID at teardown: a process started in one of this lab's
        namespaces by a program we ran (e.g. wg-quick's wireguard-go), not by us."""
        if self._closed:
            raise LabError("this lab is closed")
        self.adopted.append(pid)

    def sysctl(self, ns: str, settings: Sequence[tuple[str, str]]) -> None:
        """Write sysctls inside NS, in order (``/proc/sys`` seen from the namespace)."""
        if not settings:
            return
        self.exec(ns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings)])

    def _own(self, ns: str) -> None:
        if ns not in self.namespaces:
            raise LabError(f"namespace {ns!r} does not belong to this lab")


def _sigterm_unwinds() -> None:
    """Make SIGTERM raise SystemExit (once, if nobody set a handler), so ``with Lab()``
    blocks unwind and tear down instead of leaving namespaces behind."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    owner = os.getpid()

    def _raise(signum: int, frame: object) -> None:
        if os.getpid() != owner:
            # a fork()ed copy of this process (e.g. pyroute2's netns helper, which its
            # parent stops with SIGTERM): die as SIG_DFL would; unwinding there would
            # run the parent's code in the child and hang it.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def wait_for(cond: Callable[[], bool], timeout: float, what: str, *, poll: float = 0.02) -> None:
    """Poll ``cond`` until it is true; :class:`LabError` "timed out waiting for WHAT" after
    ``timeout`` s (exceptions from ``cond`` pass through)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def stop(proc: subprocess.Popen[Any], grace: float = 2.0) -> None:
    """Terminate one process we started (by its PID), then kill it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):  # pragma: no cover - racy exit
        pass


def _stop_pid(pid: int, grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL, a process that is not our child (we cannot reap it: a
    zombie counts as gone)."""

    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                return fh.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
        except OSError:
            return True

    for sig in (signal.SIGTERM, signal.SIGKILL):
        if gone():
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while not gone() and time.monotonic() < deadline:
            time.sleep(0.02)
