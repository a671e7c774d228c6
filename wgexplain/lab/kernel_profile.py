"""The running kernel's profile (:mod:`wgexplain.kernel.profile`), detected once.

Parity tests compare the real kernel with the simulator imitating *this*
kernel. :func:`detect` reads the kernel's own ``.config`` where it is
readable (``/proc/config.gz``, ``/boot/config-RELEASE``); a feature the
config does not settle is probed in a ``wgx-`` namespace:

* ``ipv6_mroute``: a veth pair brought up gets its ``multicast ff00::/8``
  route (``addrconf_add_mroute()``); ``ip -6 route get ff02::1 iif A``
  answers ``Message too long`` (EMSGSIZE) only when ``rt6_fill_node()``
  asks ``ip6mr_get_route()`` (CONFIG_IPV6_MROUTE);
* ``ip_mroute``: ``setsockopt(MRT_INIT)`` on a raw IGMP socket in the
  namespace is refused with ENOPROTOOPT without CONFIG_IP_MROUTE
  (``ip_setsockopt()`` -> ``ip_mroute_setsockopt()``);
* ``input_einval``: from the release (6.13 and newer).
"""

from __future__ import annotations

import dataclasses
import os
import sys

from wgexplain.kernel.profile import (EINVAL_SINCE, FEATURES, KernelProfile, config_features,
                                      named, read_running_config, release_version)
from wgexplain.lab.netns import Lab, LabError

_DETECTED: list[KernelProfile] = []

#: run inside the namespace: 0 when MRT_INIT (200) is accepted, 1 on ENOPROTOOPT
_MRT_INIT_PROBE = (
    "import errno, socket, struct, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)\n"
    "try:\n"
    "    s.setsockopt(socket.IPPROTO_IP, 200, struct.pack('i', 1))\n"
    "except OSError as e:\n"
    "    sys.exit(1 if e.errno == errno.ENOPROTOOPT else 2)\n"
    "sys.exit(0)\n")


def probe_ipv6_mroute(lab: Lab) -> bool:
    """Ask the kernel: does ``ip -6 route get ff02::1 iif DEV`` answer EMSGSIZE?"""
    ns = lab.netns("kprobe6")
    lab.ip(ns, "link", "add", "wgxpa", "type", "veth", "peer", "name", "wgxpb")
    lab.ip(ns, "link", "set", "wgxpa", "up")
    lab.ip(ns, "link", "set", "wgxpb", "up")
    got = lab.ip(ns, "-6", "route", "get", "ff02::1", "from", "fe80::1", "iif", "wgxpa",
                 check=False)
    text = got.stdout + got.stderr
    if "Message too long" in text:
        return True
    if got.returncode == 0 and "multicast" in text:
        return False
    raise LabError(f"the IPv6 multicast probe answered neither: {text.strip()[:200]}")


def probe_ip_mroute(lab: Lab) -> bool:
    """Ask the kernel: is ``MRT_INIT`` known (CONFIG_IP_MROUTE)?"""
    ns = lab.netns("kprobe4")
    got = lab.exec(ns, [sys.executable, "-c", _MRT_INIT_PROBE], check=False)
    if got.returncode in (0, 1):
        return got.returncode == 0
    raise LabError(f"the IPv4 multicast routing probe failed: {got.stderr.strip()[:200]}")


def detect(lab: Lab | None = None) -> KernelProfile:
    """The running kernel's profile: its config where readable, else probes (cached)."""
    if _DETECTED:
        return _DETECTED[0]
    release = os.uname().release
    text, where = read_running_config(release)
    feats: dict[str, bool] = config_features(text) if text else {}
    how = [f"config {where}"] if text else []
    version = release_version(release)
    if version is not None:
        feats["input_einval"] = version >= EINVAL_SINCE
    missing = [k for k in ("ipv6_mroute", "ip_mroute") if k not in feats]
    if missing:
        own = lab is None
        the_lab = lab or Lab("kprobe")
        try:
            if "ipv6_mroute" in missing:
                feats["ipv6_mroute"] = probe_ipv6_mroute(the_lab)
            if "ip_mroute" in missing:
                feats["ip_mroute"] = probe_ip_mroute(the_lab)
        finally:
            if own:
                the_lab.close()
        how.append("probed in a wgx- namespace: " + ", ".join(missing))
    profile = named(feats, release=release, origin="detected (" + "; ".join(how) + ")",
                    unknown=tuple(k for k in FEATURES if k not in feats))
    _DETECTED.append(profile)
    return profile


def detect_by_probe(lab: Lab) -> KernelProfile:
    """The build features by probing only (no config read): to check :func:`detect`."""
    feats = {"ipv6_mroute": probe_ipv6_mroute(lab), "ip_mroute": probe_ip_mroute(lab)}
    version = release_version(os.uname().release)
    if version is not None:
        feats["input_einval"] = version >= EINVAL_SINCE
    return dataclasses.replace(named(feats), origin="probed")
