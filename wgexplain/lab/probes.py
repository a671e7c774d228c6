"""Real traffic in the seed lab, and what the kernel did with it.

Each :class:`Case` sends one bounded probe from the client namespace (one
UDP datagram, one TCP connect, or one ICMP echo; timeouts ≤ 2 s), from an
ordinary process or from one in the split-tunnel net_cls cgroup, and
:func:`observe` records what happened from three independent witnesses:

* the sender: the errno of ``send()``/``connect()`` (a local sender hit by
  an output ``reject`` or ``drop`` gets EPERM — ``nf_hook_slow()`` turns
  NF_DROP into ``-EPERM``; ``reject with tcp reset`` gives ECONNREFUSED);
* the kernel's own per-rule account, ``nft monitor trace``
  (``nft_trace_notify()``): a table ``inet wgxtrace`` sets ``meta nftrace``
  at priority -350 in prerouting and output, and has empty chains late in
  postrouting and input that show the packet as it finally leaves
  (device, source after masquerade, ``skb->mark``);
* the wire: ``tcpdump`` on the client's uplink (what really left the
  machine), and the responders' logs (who the server believes called).

Waiting is done with barriers, never fixed sleeps: a marker datagram on
loopback shows when the trace monitor has caught up, and a datagram from
the gateway shows when the capture has.
"""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import re
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wgexplain.lab.netns import LabError
from wgexplain.lab.topology import (DNS_PORT, INTERNET_DNS, INTERNET_HOST, LAB_RELAY, REPO,
                                    SEED_RELAY, SERVICE_PORT, Responder, SeedLab, remap_relay)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

#: The trace table added to the client (separate from the user's ruleset).
TRACE_TABLE = "wgxtrace"
TRACE_RULESET = f"""table inet {TRACE_TABLE} {{
    chain pre {{ type filter hook prerouting priority -350; policy accept; meta nftrace set 1; }}
    chain out {{ type filter hook output priority -350; policy accept; meta nftrace set 1; }}
    chain post {{ type filter hook postrouting priority 300; policy accept; }}
    chain inp {{ type filter hook input priority 300; policy accept; }}
}}
"""


def netns_socket(ns: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket created inside network namespace NS (``setns()`` in a throw-away thread).

    A socket keeps the namespace it was created in (``sock_net()``), so the
    rest of the process stays where it is.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
                box["sock"] = socket.socket(family, kind, proto)
            finally:
                os.close(fd)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if "error" in box:
        raise LabError(f"cannot open a socket in {ns}: {box['error']}")
    return box["sock"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------
# nft monitor trace
# ---------------------------------------------------------------------------

_TRACE_LINE = re.compile(r"^trace id (\w+) (\w+) (\S+) (\S+) (packet|rule|policy|verdict):?\s?(.*)$")
_MARK = re.compile(r"\bmeta mark (0x[0-9a-f]+)\s*$")


@dataclass(slots=True)
class TracedPacket:
    """One packet's journey through the client's chains, as ``nft monitor trace`` told it.

    Not frozen: :func:`parse_trace` fills it line by line as the monitor reports.
    """

    trace_id: str
    hook: str  # "output" (sent locally) or "prerouting" (arrived)
    fields: dict[str, str]
    steps: list[tuple[str, str, str, str]] = field(default_factory=list)  # (table, chain, kind, text)
    final: dict[str, str] = field(default_factory=dict)  # packet fields in our late chain
    final_mark: int = 0

    def matches(self, dst: str | None = None, proto: str | None = None,
                dport: int | None = None, src: str | None = None,
                sport: int | None = None) -> bool:
        f = self.fields
        return ((dst is None or f.get("daddr") == dst) and (src is None or f.get("saddr") == src)
                and (proto is None or f.get("proto") == proto)
                and (dport is None or f.get("dport") == str(dport))
                and (sport is None or f.get("sport") == str(sport)))

    @property
    def verdict(self) -> str | None:
        """accept (it reached our late chain), drop or reject (the rule that dropped it)."""
        for _table, _chain, kind, text in self.steps:
            if kind == "rule" and text.endswith("(verdict drop)"):
                return "reject" if re.search(r"\breject\b", text) else "drop"
            if kind == "policy" and text.startswith("drop"):
                return "drop"
        return "accept" if self.final else None

    def rules(self) -> list[str]:
        """The user's rules and policies this packet met, in order: ``TABLE CHAIN: TEXT``."""
        out = []
        for table, chain, kind, text in self.steps:
            if table.endswith(" " + TRACE_TABLE):
                continue
            text = _MARK.sub("", text).strip()
            out.append(f"{table} {chain}: {'policy ' if kind == 'policy' else ''}{text}")
        return out


def _packet_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, pattern in (("oif", r'\boif (?:"([^"]+)"|(\d+))'), ("iif", r'\biif (?:"([^"]+)"|(\d+))'),
                         ("saddr", r"\bip saddr (\S+)"), ("daddr", r"\bip daddr (\S+)"),
                         ("proto", r"\bip protocol (\S+)"),
                         ("sport", r"\b(?:udp|tcp) sport (\d+)"),
                         ("dport", r"\b(?:udp|tcp) dport (\d+)"),
                         ("icmp", r"\bicmp type (\S+)"), ("tcpflags", r"\btcp flags (\S+)")):
        m = re.search(pattern, text)
        if m:
            out[key] = m.group(1) if m.group(1) is not None else "#" + m.group(2)
    return out


def parse_trace(lines: list[str]) -> list[TracedPacket]:
    """Group ``nft monitor trace`` lines into packets.

    A packet starts where our -350 chain reports it (``wgxtrace out`` or
    ``wgxtrace pre``); later lines with the same id belong to it (ids are
    per skb and may be reused by a later skb, which starts anew).
    """
    packets: list[TracedPacket] = []
    active: dict[str, TracedPacket] = {}
    for line in lines:
        m = _TRACE_LINE.match(line.strip())
        if not m:
            continue
        tid, family, table, chain, kind, text = m.groups()
        qual = f"{family} {table}"
        if table == TRACE_TABLE and kind == "packet" and chain in ("out", "pre"):
            pkt = TracedPacket(tid, "output" if chain == "out" else "prerouting",
                               _packet_fields(text))
            active[tid] = pkt
            packets.append(pkt)
            continue
        cur = active.get(tid)
        if cur is None:
            continue
        if table == TRACE_TABLE and chain in ("post", "inp"):
            if kind == "packet":
                cur.final = _packet_fields(text)
            elif kind == "policy":
                mark = _MARK.search(text)
                cur.final_mark = int(mark.group(1), 16) if mark else 0
            continue
        if kind in ("rule", "policy", "verdict"):
            cur.steps.append((qual, chain, kind, text.strip()))
    return packets


class TraceMonitor:
    """``nft monitor trace`` in the client namespace, with loopback markers as barriers."""

    def __init__(self, lab: SeedLab) -> None:
        self.lab = lab
        lab.nft(lab.client, TRACE_RULESET)
        self.proc = lab.lab.start(lab.client, ["nft", "monitor", "trace"],
                                  stderr=subprocess.DEVNULL)
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self._sink = netns_socket(lab.client, socket.AF_INET, socket.SOCK_DGRAM)
        self._sink.bind(("127.0.0.1", 0))
        self._marker = netns_socket(lab.client, socket.AF_INET, socket.SOCK_DGRAM)
        self._marker.bind(("127.0.0.1", 0))
        self._sync(deadline=5.0)  # the monitor gives no ready signal: wait for a marker

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()

    def _sync(self, deadline: float = 2.0) -> int:
        """Send a marker until the monitor shows it; the index just after it."""
        sport = self._marker.getsockname()[1]
        dport = self._sink.getsockname()[1]
        needle = f"udp sport {sport} udp dport {dport} "
        start = len(self.lines)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            self._marker.sendto(b"wgx-marker", self._sink.getsockname())
            with self._cond:
                wait_until = min(end, time.monotonic() + 0.1)
                while time.monotonic() < wait_until:
                    for i in range(start, len(self.lines)):
                        if needle in self.lines[i] and " out packet:" in self.lines[i]:
                            # also let the marker finish its journey (input side)
                            return len(self.lines)
                    self._cond.wait(timeout=max(0.0, wait_until - time.monotonic()))
        raise LabError("nft monitor trace did not report the loopback marker")

    def begin(self) -> int:
        return self._sync()

    def end(self, start: int) -> list[TracedPacket]:
        stop = self._sync()
        with self._cond:
            lines = self.lines[start:stop]
        dport = self._sink.getsockname()[1]
        packets = [p for p in parse_trace(lines)
                   if not (p.fields.get("daddr") == "127.0.0.1" and p.fields.get("dport") == str(dport))]
        self._resolve_ifindex(packets)
        return packets

    def _resolve_ifindex(self, packets: list[TracedPacket]) -> None:
        """``nft monitor`` names devices from a cache made when it started: a device
        created later (the restored tunnel) is printed by index; name it here."""
        if not any(v.startswith("#") for p in packets for d in (p.fields, p.final)
                   for v in d.values()):
            return
        names = {}
        for line in self.lab.ip(self.lab.client, "-o", "link").splitlines():
            m = re.match(r"^(\d+):\s+([^:@\s]+)", line)
            if m:
                names["#" + m.group(1)] = m.group(2)
        for p in packets:
            for d in (p.fields, p.final):
                for k in ("oif", "iif"):
                    if d.get(k, "").startswith("#"):
                        d[k] = names.get(d[k], d[k])


# ---------------------------------------------------------------------------
# tcpdump on the uplink
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WirePacket:
    """One IPv4 packet seen on a device (from the capture's Ethernet frame)."""

    direction: str  # "out" (sent by the client's MAC) or "in"
    proto: str
    src: str
    dst: str
    sport: int | None
    dport: int | None
    payload: bytes

    def summary(self) -> str:
        """``out udp 192.168.44.83 -> 203.0.113.76:19955``: no ephemeral ports."""
        if self.direction == "out":
            dst = f"{self.dst}:{self.dport}" if self.dport is not None else self.dst
            return f"out {self.proto} {self.src} -> {dst}"
        src = f"{self.src}:{self.sport}" if self.sport is not None else self.src
        return f"in {self.proto} {src} -> {self.dst}"


_PROTO = {1: "icmp", 6: "tcp", 17: "udp"}


def parse_frame(frame: bytes, own_mac: bytes) -> WirePacket | None:
    """An Ethernet II frame → :class:`WirePacket` (IPv4 only; None otherwise)."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    proto = ip[9]
    src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
    l4 = ip[ihl:]
    sport = dport = None
    payload = b""
    if proto in (6, 17) and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
        payload = l4[8:] if proto == 17 else l4[(l4[12] >> 4) * 4:] if len(l4) > 12 else b""
    direction = "out" if frame[6:12] == own_mac else "in"
    return WirePacket(direction, _PROTO.get(proto, str(proto)), src, dst, sport, dport,
                      bytes(payload))


class Capture:
    """``tcpdump --immediate-mode`` on the client's uplink, parsed as it arrives.

    Barrier: a datagram from the gateway namespace to a port of the client
    (dropped by the client's input policy, but seen on the wire).
    """

    def __init__(self, lab: SeedLab) -> None:
        self.lab = lab
        cfg = lab.config
        mac = next(link.mac for link in cfg.links if link.name == cfg.uplink)
        self.own_mac = bytes.fromhex((mac or "").replace(":", ""))
        self.proc = lab.lab.start(lab.client, ["tcpdump", "-i", cfg.uplink, "-n", "-U", "-w", "-",
                                               "--immediate-mode", "-s", "256", "ip"],
                                  stderr=subprocess.DEVNULL)
        self.packets: list[WirePacket] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self._gw = netns_socket(lab.gw, socket.AF_INET, socket.SOCK_DGRAM)
        # a socket receives the barriers (so that, with no firewall, the client
        # does not answer them with ICMP port unreachable)
        self._sink = netns_socket(lab.client, socket.AF_INET, socket.SOCK_DGRAM)
        self._sink.bind((str(cfg.lan_address.ip), 0))
        self._n = 0
        self.sync(deadline=5.0)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        head = stream.read(24)
        if len(head) < 24:
            return
        endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            rec = stream.read(16)
            if len(rec) < 16:
                return
            _s, _us, incl, _orig = struct.unpack(endian + "IIII", rec)
            frame = stream.read(incl)
            pkt = parse_frame(frame, self.own_mac)
            if pkt is not None:
                with self._cond:
                    self.packets.append(pkt)
                    self._cond.notify_all()

    def sync(self, deadline: float = 2.0) -> int:
        """Send a barrier datagram until it is captured; the index just after it."""
        self._n += 1
        token = f"wgx-barrier-{os.getpid()}-{self._n}".encode()
        target = self._sink.getsockname()
        start = len(self.packets)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            self._gw.sendto(token, target)
            with self._cond:
                wait_until = min(end, time.monotonic() + 0.1)
                while time.monotonic() < wait_until:
                    for i in range(start, len(self.packets)):
                        if self.packets[i].payload == token:
                            return i + 1
                    self._cond.wait(timeout=max(0.0, wait_until - time.monotonic()))
        raise LabError("tcpdump did not capture the barrier datagram")

    def between(self, start: int, stop: int) -> list[WirePacket]:
        with self._cond:
            return [p for p in self.packets[start:stop]
                    if not p.payload.startswith(b"wgx-barrier-")]


# ---------------------------------------------------------------------------
# The sender: one probe from a process in the client namespace
# ---------------------------------------------------------------------------

#: Prints one JSON object: errno name of send/connect, the reply, our address.
SENDER = r"""
import errno, json, os, socket, struct, sys, time
proto, dst, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
res = {"errno": None, "reply": None, "local": None}
def name(e):
    if isinstance(e, TimeoutError) or e.errno is None:
        return "ETIMEDOUT"
    return errno.errorcode.get(e.errno, str(e.errno))
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
try:
    if proto == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(timeout)
        s.connect((dst, port)); res["local"] = s.getsockname()[0]
        res["reply"] = s.recv(256).decode()
    elif proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(timeout)
        s.connect((dst, port)); res["local"] = s.getsockname()[0]
        s.send(b"wgx-probe")
        try:
            res["reply"] = s.recv(256).decode()
        except TimeoutError:
            pass
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(timeout)
        s.connect((dst, 0)); res["local"] = s.getsockname()[0]
        ident = os.getpid() & 0xFFFF
        body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"wgx-probe"
        s.send(body[:2] + struct.pack("!H", csum(body)) + body[4:])
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, peer = s.recvfrom(512)
            except TimeoutError:
                break
            ihl = (data[0] & 15) * 4
            if data[ihl] == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                res["reply"] = "echo-reply from %s" % peer[0]; break
except OSError as e:
    res["errno"] = name(e)
print(json.dumps(res))
"""


@dataclass(frozen=True, slots=True)
class Sent:
    errno: str | None
    reply: str | None
    local: str | None


def send(lab: SeedLab, proto: str, dst: str, port: int = 0, *, excluded: bool = False,
         timeout: float = 1.0) -> Sent:
    """One probe from a new process in the client namespace.

    ``excluded``: the process first joins the lab's net_cls cgroup
    (classid from the ruleset's ``meta cgroup``), then enters the namespace
    — ``ip netns exec`` would hide the cgroup tree behind a fresh /sys.
    """
    argv = ["nsenter", f"--net=/run/netns/{lab.client}", sys.executable, "-I", "-S", "-c",
            SENDER, proto, dst, str(port), str(timeout)]
    if excluded:
        if lab.cgroup is None:
            raise LabError("the lab has no net_cls cgroup")
        procs = lab.cgroup / "cgroup.procs"
        argv = ["sh", "-c", f'echo $$ > {shlex.quote(str(procs))} && exec "$@"', "sh", *argv]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"probe {proto} {dst}:{port} did not finish") from exc
    try:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise LabError(f"probe {proto} {dst}:{port} failed: {out.stderr.strip()[-300:]}") from None
    return Sent(res["errno"], res["reply"], res["local"])


# ---------------------------------------------------------------------------
# Cases and observations
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Case:
    """One probe: what is sent, by whom, and in which state of the tunnel.

    ``target`` names a lab host: ``internet`` (198.51.100.10),
    ``internet-dns`` (198.51.100.53), ``tunnel-dns`` (the relay's tunnel
    address, 10.64.0.1), ``gateway`` (the LAN router). ``focus="reply"``
    observes the encrypted reply arriving from the relay instead of the
    request.
    """

    name: str
    title: str
    proto: str  # udp, tcp, icmp
    target: str
    port: int = 0
    excluded: bool = False
    tunnel_down: bool = False
    firewall: bool = True
    focus: str = "request"


CASES: tuple[Case, ...] = (
    Case("tcp-internet", "TCP to an internet host", "tcp", "internet", SERVICE_PORT),
    Case("udp-internet", "UDP to an internet host", "udp", "internet", SERVICE_PORT),
    Case("tunnel-reply", "The relay's encrypted reply arriving on the uplink", "udp", "internet",
         SERVICE_PORT, focus="reply"),
    Case("dns-udp-internet", "DNS over UDP to a resolver outside the tunnel", "udp",
         "internet-dns", DNS_PORT),
    Case("dns-tcp-internet", "DNS over TCP to a resolver outside the tunnel", "tcp",
         "internet-dns", DNS_PORT),
    Case("dns-udp-tunnel", "DNS over UDP to the relay's resolver (10.64.0.1)", "udp",
         "tunnel-dns", DNS_PORT),
    Case("dns-tcp-tunnel", "DNS over TCP to the relay's resolver (10.64.0.1)", "tcp",
         "tunnel-dns", DNS_PORT),
    Case("lan-ping", "Ping the LAN router", "icmp", "gateway"),
    Case("excluded-tcp-internet", "Split-tunnelled process: TCP to an internet host", "tcp",
         "internet", SERVICE_PORT, excluded=True),
    Case("excluded-udp-internet", "Split-tunnelled process: UDP to an internet host", "udp",
         "internet", SERVICE_PORT, excluded=True),
    Case("excluded-ping-tunnel", "Split-tunnelled process: ping 10.64.0.1", "icmp",
         "tunnel-dns", excluded=True),
    Case("excluded-dns-udp-internet", "Split-tunnelled process: DNS to a resolver outside "
         "the tunnel", "udp", "internet-dns", DNS_PORT, excluded=True),
    Case("tunnel-down-udp", "Tunnel down (wireguard-go stopped): UDP to an internet host",
         "udp", "internet", SERVICE_PORT, tunnel_down=True),
    Case("tunnel-down-tcp", "Tunnel down (wireguard-go stopped): TCP to an internet host",
         "tcp", "internet", SERVICE_PORT, tunnel_down=True),
    Case("tunnel-down-no-firewall-udp", "Counterfactual: tunnel down and the ruleset "
         "removed: UDP to an internet host", "udp", "internet", SERVICE_PORT, tunnel_down=True,
         firewall=False),
)
CASES_BY_NAME = {c.name: c for c in CASES}


def target_address(lab: SeedLab, target: str) -> str:
    cfg = lab.config
    table = {"internet": str(INTERNET_HOST), "internet-dns": str(INTERNET_DNS),
             "tunnel-dns": str(cfg.tunnel_dns), "gateway": str(cfg.gateway)}
    if target not in table:
        raise LabError(f"unknown lab target {target!r}; known: {', '.join(table)}")
    return table[target]


def _responder_for(lab: SeedLab, dst: str) -> Responder | None:
    if dst in (str(INTERNET_HOST), str(INTERNET_DNS)):
        return lab.internet
    if dst == str(lab.config.tunnel_dns):
        return lab.tunnel_dns_server
    return None


class Observer:
    """The witnesses of one lab (trace monitor, capture) shared by all cases."""

    def __init__(self, lab: SeedLab) -> None:
        self.lab = lab
        self.trace = TraceMonitor(lab)
        self.capture = Capture(lab)
        # The first packet into the tunnel starts WireGuard's handshake. wireguard-go opens its
        # UDP socket and sets SO_MARK on it in two steps (BindUpdate()), so a handshake sent
        # while the device comes up can leave unmarked: seen once as an outer packet with mark
        # 0 beside the marked ones. One packet before any case, outside every observation
        # window, lets that settle (what a case observes is then the tunnel at work).
        send(lab, "udp", str(INTERNET_HOST), SERVICE_PORT, timeout=1.0)

    @contextmanager
    def _window(self) -> Iterator[dict[str, Any]]:
        box: dict[str, Any] = {}
        t0, c0 = self.trace.begin(), self.capture.sync()
        yield box
        box["wire"] = self.capture.between(c0, self.capture.sync())
        box["trace"] = self.trace.end(t0)

    def observe(self, case: Case, snapshot: Path | None = None) -> dict[str, Any]:
        """Run one case and return its observation (JSON-ready, deterministic).

        ``snapshot``: also dump the client's state, as the case saw it, into
        that directory as a bundle (:func:`write_bundle`).
        """
        lab, cfg = self.lab, self.lab.config
        dst = target_address(lab, case.target)
        responder = _responder_for(lab, dst)
        seen_before = len(responder.seen()) if responder else 0
        # (ruleset first: restoring it needs the tunnel device back)
        with _nothing() if case.firewall else lab.without_ruleset(), \
                lab.tunnel_down() if case.tunnel_down else _nothing():
            if snapshot is not None:
                write_bundle(lab, snapshot)
            with self._window() as box:
                sent = send(lab, case.proto, dst, case.port, excluded=case.excluded,
                            timeout=2.0 if case.proto == "tcp" else 1.0)
        wire: list[WirePacket] = box["wire"]
        traced: list[TracedPacket] = box["trace"]
        calls = responder.seen()[seen_before:] if responder else []
        relay, rport = str(cfg.relay), cfg.relay_port

        def is_outer(p: WirePacket) -> bool:
            return p.proto == "udp" and p.dst == relay and p.dport == rport

        out_wire = [p for p in wire if p.direction == "out"]
        obs: dict[str, Any] = {
            "case": case.name,
            "title": case.title,
            "probe": {"proto": case.proto, "dst": dst, "dport": case.port or None,
                      "cgroup_classid": cfg.classid if case.excluded else None,
                      "tunnel": "down" if case.tunnel_down else "up",
                      "ruleset": "loaded" if case.firewall else "removed"},
            "errno": sent.errno,
            "local_src": sent.local,
            "src_seen_by_server": calls[0][2] if calls else None,
            "plaintext_on_uplink": any(not is_outer(p) for p in out_wire),
            "uplink": sorted({p.summary() for p in wire}),
        }
        if case.focus == "reply":
            replies = [p for p in traced if p.hook == "prerouting"
                       and p.matches(src=relay, proto="udp", sport=rport)]
            first = replies[0] if replies else None
            obs.update({
                "verdict": first.verdict if first else None,
                "ingress_dev": first.fields.get("iif") if first else None,
                "egress_dev": None, "egress_src": None, "egress_mark": None,
                "encapsulated": None if first is None else {
                    "src": relay, "sport": rport, "proto": "udp",
                    "dst": first.fields.get("daddr"), "mark": first.final_mark},
                "trace_rules": first.rules() if first else [],
            })
            return obs
        want: dict[str, Any] = {"proto": case.proto, "dst": dst}
        if case.proto in ("tcp", "udp"):
            want["dport"] = case.port
        requests = [p for p in traced if p.hook == "output" and p.matches(**want)]
        first = requests[0] if requests else None
        verdict = first.verdict if first else None
        egress = first.final if first and verdict == "accept" else {}
        obs.update({
            "verdict": verdict,
            "egress_dev": egress.get("oif"),
            "egress_src": egress.get("saddr"),
            "egress_mark": first.final_mark if first and egress else None,
            "encapsulated": None,
            "trace_rules": first.rules() if first else [],
        })
        if egress.get("oif") == cfg.tunnel:
            outer_wire = [p for p in out_wire if is_outer(p)]
            outer_trace = [p for p in traced if p.hook == "output"
                           and p.matches(dst=relay, proto="udp", dport=rport)]
            marks = sorted({p.final_mark for p in outer_trace})
            if outer_wire:
                obs["encapsulated"] = {
                    "src": outer_wire[0].src, "dst": relay, "proto": "udp", "dport": rport,
                    "mark": marks[0] if len(marks) == 1 else marks,
                    "egress_dev": outer_trace[0].final.get("oif") if outer_trace else None,
                    "trace_rules": outer_trace[0].rules() if outer_trace else [],
                }
        return obs


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# ---------------------------------------------------------------------------
# The simulator's account of the same cases
# ---------------------------------------------------------------------------

def write_bundle(lab: SeedLab, out: Path) -> Path:
    """The client's state *right now*, dumped as a bundle (read-only commands).

    ``ip -4 rule``, ``ip -4 route show table all``, ``ip addr`` and the
    user's own nft tables (not the lab's trace table) — what a user would
    paste, so the simulator can be run on the lab's actual kernel state
    (e.g. with the tunnel down).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "ip-rule.txt").write_text(lab.ip(lab.client, "-4", "rule"))
    (out / "ip-route.txt").write_text(lab.ip(lab.client, "-4", "route", "show", "table", "all"))
    (out / "ip-addr.txt").write_text(lab.ip(lab.client, "addr"))
    tables = re.findall(r"^table\s+(\S+)\s+(\S+)\s*\{", lab.config.ruleset, re.M)
    present = lab.lab.exec(lab.client, ["nft", "list", "tables"]).stdout.splitlines()
    text = "".join(lab.lab.exec(lab.client, ["nft", "list", "table", fam, name]).stdout
                   for fam, name in tables if f"table {fam} {name}" in present)
    # an empty file when the user's tables are gone: the ruleset was dumped and is empty
    # (a missing file would mean "not pasted", and the simulator would say it assumed it)
    (out / "nft-ruleset.nft").write_text(text)
    return out


def seed_bundle(lab: SeedLab, out: Path) -> Path:
    """The seed bundle with the relay remapped, as files (what the simulator reads)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("ip-rule.txt", "ip-route.txt", "ip-addr.txt", "nft-ruleset.nft"):
        src = lab.config.bundle / name
        (out / name).write_text(remap_relay(src.read_text()))
    return out


def _sim_rules(steps: list[dict[str, Any]]) -> list[str]:
    """Simulator hook steps in the words of ``nft monitor trace`` (reject → verdict drop)."""
    out = []
    for st in steps:
        if st.get("stage") != "hook" or not st.get("table") or st["table"].endswith(TRACE_TABLE):
            continue
        text = st.get("text") or ""
        if text.startswith("policy "):
            out.append(f"{st['table']} {st['chain']}: {text}")
            continue
        verdict = st.get("verdict") or "continue"
        verdict = {"reject": "drop"}.get(verdict, verdict)
        out.append(f"{st['table']} {st['chain']}: {text} (verdict {verdict})")
    return out


def simulate(host: Any, lab: SeedLab, case: Case) -> dict[str, Any]:
    """``wgexplain.kernel.path.trace()`` for one case, in the observation's keys."""
    cfg = lab.config
    port = None
    if case.focus == "reply":
        port = int(lab.wg(cfg.tunnel, "show", cfg.tunnel, "listen-port").strip())
    t = probe_trace(host, case, target_address(lab, case.target), cfg, listen_port=port,
                    classid=cfg.classid)
    return observation_of(case, t)


def probe_trace(host: Any, case: Case, dst: str, cfg: Any, *, listen_port: int | None = None,
                classid: int | None = None) -> Any:
    """The simulator's trace of one case's probe: the argument mapping of :func:`simulate`.

    ``cfg`` needs ``lan_address``, ``relay``, ``relay_port`` and ``uplink``
    (a :class:`~wgexplain.lab.topology.SeedConfig`); ``classid`` is the
    net_cls classid of an excluded sender. Also used without a lab, on the
    recorded cases (``wgexplain.explain.kernel_record``).
    """
    from wgexplain.kernel.path import trace

    if case.focus == "reply":
        return trace(host, str(cfg.lan_address.ip), src=str(cfg.relay), iif=cfg.uplink,
                     proto="udp", sport=cfg.relay_port, dport=listen_port, direction="in",
                     state="established")
    kw: dict[str, Any] = {"proto": case.proto}
    if case.port:
        kw["dport"] = case.port
    if case.excluded:
        kw["cgroup"] = classid
    return trace(host, dst, **kw)


def observation_of(case: Case, trace: Any) -> dict[str, Any]:
    """A simulator trace in the observation's keys (what :func:`compare` compares)."""
    t = trace.to_json()
    if case.focus == "reply":
        return {"verdict": t["verdict"], "trace_rules": _sim_rules(t["steps"]),
                "exact": t["exact"]}
    egress = t["egress"] if t["verdict"] == "accept" else None
    enc = t.get("encapsulated")
    outer = enc["egress"] if enc and enc.get("verdict") == "accept" and enc.get("egress") else None
    return {
        "verdict": t["verdict"],
        "errno": t.get("errno"),
        "egress_dev": egress["dev"] if egress else None,
        "egress_src": egress["src"] if egress else None,
        "egress_mark": egress["mark"] if egress else None,
        "encapsulated": None if outer is None else {
            k: outer.get(k) for k in ("src", "dst", "proto", "dport", "mark")}
        | {"egress_dev": outer.get("dev"),
           "trace_rules": _sim_rules(enc["steps"])},
        "trace_rules": _sim_rules(t["steps"]),
        "exact": t["exact"],
    }


def nat_chains(ruleset: str) -> frozenset[str]:
    """``FAMILY TABLE CHAIN`` of every ``type nat`` base chain in nft text."""
    out = set()
    table = ""
    for line in ruleset.splitlines():
        m = re.match(r"^\s*table\s+(\S+)\s+(\S+)", line)
        if m:
            table = f"{m.group(1)} {m.group(2)}"
        m = re.match(r"^\s*chain\s+(\S+)", line)
        if m:
            chain = m.group(1)
        if re.match(r"^\s*type\s+nat\b", line):
            out.add(f"{table} {chain}")
    return frozenset(out)


def compare(observed: dict[str, Any], simulated: dict[str, Any],
            nat: frozenset[str] = frozenset()) -> list[str]:
    """Where the simulator and the kernel disagree (empty when they agree).

    In the outer (encrypted) packet, the chains named in ``nat`` are left
    out: the kernel runs nat chains only for the first packet of the
    tunnel's UDP flow (the handshake, ``nf_nat_inet_fn()``), while the
    simulator models an established tunnel.
    """
    diffs = []
    for key, sim in simulated.items():
        if key == "exact":
            continue
        obs = observed.get(key)
        if key == "encapsulated" and isinstance(obs, dict) and isinstance(sim, dict):
            def keep(rule: str) -> bool:
                return rule.split(":", 1)[0] not in nat
            obs = {k: v for k, v in obs.items() if k in sim}
            obs["trace_rules"] = [r for r in obs.get("trace_rules", []) if keep(r)]
            sim = {**sim, "trace_rules": [r for r in sim["trace_rules"] if keep(r)]}
        if obs != sim:
            diffs.append(f"{key}: kernel {obs!r}, simulator {sim!r}")
    return diffs


# ---------------------------------------------------------------------------
# The record for the site (scripts/lab-record)
# ---------------------------------------------------------------------------

#: Where scripts/lab-record writes by default.
RECORD_PATH = Path(__file__).resolve().parents[2] / "examples" / "mullvad" / "kernel" / \
    "real-traffic.json"


def render_record(lab: SeedLab, observations: dict[str, dict[str, Any]],
                  simulated: dict[str, dict[str, Any]]) -> str:
    """The observations as deterministic JSON (sorted keys, no times, PIDs or ports)."""
    nat = nat_chains(lab.config.ruleset)
    cases = []
    for name, obs in observations.items():
        entry = dict(obs)
        if name in simulated:
            diffs = compare(obs, simulated[name], nat)
            entry["simulator"] = {"agrees": not diffs, "differences": diffs}
        cases.append(entry)
    doc = {
        "about": ("What the real kernel did with one probe per case, in the seed rebuilt "
                  "in network namespaces with a real WireGuard tunnel (wireguard-go). "
                  "Written by scripts/lab-record; see wgexplain/lab/probes.py."),
        "source": f"{lab.config.bundle.relative_to(REPO) if lab.config.bundle.is_relative_to(REPO) else lab.config.bundle}"
                  f" with the relay {SEED_RELAY} remapped to {LAB_RELAY}",
        "witnesses": {
            "errno": "what send()/connect() returned to the probing process",
            "trace_rules": "nft monitor trace: the user's rules and policies the packet met",
            "egress_dev": "the device in postrouting (late chain of the lab's trace table)",
            "uplink": "tcpdump on the client's uplink during the probe",
            "src_seen_by_server": "the address the answering server logged",
        },
        "cases": cases,  # in the order they ran
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def record(out: Path = RECORD_PATH, bundle: Path | None = None) -> Path:
    """Build the lab, run every case, compare with the simulator, write ``out``."""
    import tempfile

    import wgexplain
    from wgexplain.lab.topology import SEED_BUNDLE, seed_lab

    with seed_lab(bundle or SEED_BUNDLE) as lab, tempfile.TemporaryDirectory() as tmp:
        observer = Observer(lab)
        seed = wgexplain.load(str(seed_bundle(lab, Path(tmp) / "seed")))
        observations, simulated = {}, {}
        for case in CASES:
            snap = Path(tmp) / case.name
            observations[case.name] = observer.observe(case, snapshot=snap)
            host = seed if case.firewall and not case.tunnel_down else wgexplain.load(str(snap))
            simulated[case.name] = simulate(host, lab, case)
        text = render_record(lab, observations, simulated)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from wgexplain.lab.topology import lab_ready

    ap = argparse.ArgumentParser(prog="lab-record", description=(
        "Rebuild the seed with a real WireGuard tunnel in wgx- network namespaces, send one "
        "probe per case, and write what the kernel did as JSON (needs root)."))
    ap.add_argument("--out", type=Path, default=RECORD_PATH, help="JSON file to write")
    ap.add_argument("--bundle", type=Path, default=None, help="bundle to rebuild (the seed)")
    args = ap.parse_args(argv)
    ok, why = lab_ready()
    if not ok:
        print(f"lab-record: {why}", file=sys.stderr)
        return 2
    out = record(args.out, args.bundle)
    data = json.loads(out.read_text())
    bad = [c["case"] for c in data["cases"] if not c.get("simulator", {}).get("agrees", True)]
    print(f"lab-record: wrote {out} ({len(data['cases'])} cases"
          + (f"; simulator disagrees on {', '.join(bad)}" if bad else "; simulator agrees") + ")")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
