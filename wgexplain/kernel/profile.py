"""Which kernel the simulator imitates: a small, explicit kernel profile.

The routing decision is the same on every kernel this project knows, but a
few answers of ``ip route get`` depend on how the kernel was built or on its
version. Each such difference is one field of :class:`KernelProfile`, named
after the kernel option or change, with the kernel function that makes it:

``ipv6_mroute`` (``CONFIG_IPV6_MROUTE``)
    ``rt6_fill_node()`` (net/ipv6/route.c): for an input lookup (``iif``)
    whose route's destination prefix is multicast (``ff00::/8``), the reply
    is filled by ``ip6mr_get_route()``; without a multicast routing cache
    entry for the packet it fails and ``ip -6 route get`` answers
    **EMSGSIZE**. Built without the option, the reply is
    ``multicast ... dev IIF``. The packet itself is delivered either way.
``ip_mroute`` (``CONFIG_IP_MROUTE``)
    ``rt_fill_info()`` (net/ipv4/route.c) asks ``ipmr_get_route()`` for an
    IPv4 input lookup of a non-link-local multicast group only when
    ``net.ipv4.conf.all.mc_forwarding`` is on, which only a running
    multicast routing daemon turns on. The simulator says "not modelled"
    then; with the option off, or mc_forwarding off, nothing changes.
``input_einval`` (Linux 6.13 and newer)
    ``inet_rtm_getroute()`` returns **EINVAL** for every refusal of
    ``ip_route_input_rcu()`` (which returns drop reasons since 6.13);
    older kernels return the errno of the check that refused, **EXDEV** for
    a source refused by rp_filter (``fib_validate_source()``).

:data:`DEFAULT` (``distro``) is what the common distribution kernels do:
Debian (``debian/config/config``), Ubuntu (``debian.master/config``) and
Fedora/RHEL (``redhat/configs/common/generic``) build with
``CONFIG_IP_MROUTE=y`` and ``CONFIG_IPV6_MROUTE=y``; the version is a
current one (6.13 or newer). :data:`PROFILES` names the others;
:func:`parse_profile` reads ``--kernel NAME[,feature=y|n]...``;
:func:`from_config` reads a kernel's own ``.config`` (``/proc/config.gz``,
``/boot/config-RELEASE``) and release, as ``capture`` records them in a
bundle's ``kernel.json`` (:func:`from_record`).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from wgexplain.errors import UsageError

#: the features, in the order they are printed, each with a one-line description
FEATURES: dict[str, str] = {
    "ipv6_mroute": "CONFIG_IPV6_MROUTE: rt6_fill_node() asks ip6mr_get_route() for IPv6 "
                   "multicast input lookups (ip route get answers EMSGSIZE)",
    "ip_mroute": "CONFIG_IP_MROUTE: rt_fill_info() asks ipmr_get_route() for IPv4 multicast "
                 "input lookups when mc_forwarding is on",
    "input_einval": "Linux 6.13+: inet_rtm_getroute() answers EINVAL for every refused input "
                    "lookup (older kernels: EXDEV for rp_filter)",
}

#: the kernel options behind the build features
CONFIG_OPTIONS = {"ipv6_mroute": "CONFIG_IPV6_MROUTE", "ip_mroute": "CONFIG_IP_MROUTE"}

#: the first version whose inet_rtm_getroute() answers EINVAL for every input refusal
EINVAL_SINCE = (6, 13)


@dataclass(frozen=True, slots=True)
class KernelProfile:
    """The kernel the simulator imitates (see the module doc for each feature).

    ``origin`` says where the profile came from (``default``, ``--kernel``,
    ``kernel.json``, ``detected``...); ``release`` is the kernel release when
    known; ``unknown`` lists the features that could not be read and were
    taken from :data:`DEFAULT`.
    """

    name: str
    ipv6_mroute: bool = True
    ip_mroute: bool = True
    input_einval: bool = True
    release: str | None = None
    origin: str = "default"
    unknown: tuple[str, ...] = ()

    def features(self) -> dict[str, bool]:
        return {k: bool(getattr(self, k)) for k in FEATURES}

    def to_json(self) -> dict[str, Any]:
        """``"kernel"`` in the JSON outputs: the profile's name, features and origin."""
        out: dict[str, Any] = {"name": self.name, "release": self.release}
        out.update(self.features())
        out["origin"] = self.origin
        if self.unknown:
            out["unknown"] = list(self.unknown)
        return out

    def describe(self) -> str:
        """One line: ``distro (ipv6_mroute=y ip_mroute=y input_einval=y)``."""
        feats = " ".join(f"{k}={'y' if v else 'n'}" for k, v in self.features().items())
        rel = f", {self.release}" if self.release else ""
        return f"{self.name} ({feats}{rel}; {self.origin})"


#: what the common distribution kernels do (Debian, Ubuntu, Fedora; 6.13 or newer)
DEFAULT = KernelProfile("distro")

#: the named profiles ``--kernel`` accepts
PROFILES: dict[str, KernelProfile] = {
    "distro": DEFAULT,
    # Debian 12 (6.1), Ubuntu 24.04 (6.8), Debian 13 (6.12): the same options, older errnos
    "distro-pre-6.13": KernelProfile("distro-pre-6.13", input_einval=False),
    # kernels built without multicast routing (small VM and CI kernels), 6.13 or newer
    "no-mroute": KernelProfile("no-mroute", ipv6_mroute=False, ip_mroute=False),
    "no-mroute-pre-6.13": KernelProfile("no-mroute-pre-6.13", ipv6_mroute=False,
                                        ip_mroute=False, input_einval=False),
}

PROFILE_HELP = ("Kernel profile to imitate: " + ", ".join(PROFILES) + " (default distro), "
                "optionally with features, e.g. distro,ipv6_mroute=n")


def named(features: Mapping[str, bool], **extra: Any) -> KernelProfile:
    """The profile with these features, named after the named profile that has them."""
    feats: dict[str, Any] = {k: bool(v) for k, v in features.items() if k in FEATURES}
    base = dataclasses.replace(DEFAULT, **feats)
    name = next((n for n, p in PROFILES.items() if p.features() == base.features()), "custom")
    return dataclasses.replace(base, name=name, **extra)


def parse_profile(text: str, origin: str = "--kernel") -> KernelProfile:
    """``NAME[,feature=y|n]...`` (``--kernel``); a bad one is a ``UsageError``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError(f"--kernel: expected a profile name ({', '.join(PROFILES)}), got {text!r}")
    head = parts[0]
    if "=" in head:
        base, rest = DEFAULT, parts
    else:
        if head not in PROFILES:
            raise UsageError(f"--kernel: expected a profile name ({', '.join(PROFILES)}), "
                             f"got {head!r}")
        base, rest = PROFILES[head], parts[1:]
    feats = base.features()
    for item in rest:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_").lower()
        if not sep or key not in FEATURES or value.strip().lower() not in _BOOL:
            raise UsageError(f"--kernel: expected FEATURE=y|n with FEATURE one of "
                             f"{', '.join(FEATURES)}, got {item!r}")
        feats[key] = _BOOL[value.strip().lower()]
    if not rest:
        return dataclasses.replace(base, origin=origin)
    return named(feats, origin=origin)


_BOOL = {"y": True, "yes": True, "1": True, "on": True, "true": True,
         "n": False, "no": False, "0": False, "off": False, "false": False}


def release_version(release: str | None) -> tuple[int, int] | None:
    """``6.18.44-fc-v1374`` -> ``(6, 18)``; ``None`` when unreadable."""
    m = re.match(r"(\d+)\.(\d+)", release or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def config_features(config_text: str) -> dict[str, bool]:
    """The build features a kernel ``.config`` states (``=y``/``=m`` on, ``is not set`` off)."""
    out: dict[str, bool] = {}
    for feature, option in CONFIG_OPTIONS.items():
        m = re.search(rf"^(?:{option}=(\w+)|# {option} is not set)\s*$", config_text, re.M)
        if m:
            out[feature] = m.group(1) in ("y", "m")
    return out


def from_config(config_text: str | None, release: str | None, origin: str) -> KernelProfile:
    """The profile of a kernel from its ``.config`` text (or ``None``) and release.

    A feature neither stated nor derivable is taken from :data:`DEFAULT` and
    listed in ``unknown``.
    """
    feats: dict[str, bool] = config_features(config_text) if config_text else {}
    version = release_version(release)
    if version is not None:
        feats["input_einval"] = version >= EINVAL_SINCE
    unknown = tuple(k for k in FEATURES if k not in feats)
    return named(feats, release=release, origin=origin, unknown=unknown)


def read_running_config(release: str | None = None) -> tuple[str | None, str | None]:
    """(the running kernel's ``.config`` text, where it was read) or ``(None, None)``.

    ``/proc/config.gz`` (CONFIG_IKCONFIG_PROC), else ``/boot/config-RELEASE``.
    """
    release = release or os.uname().release
    for path in (Path("/proc/config.gz"), Path(f"/boot/config-{release}")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        try:
            text = gzip.decompress(data).decode("utf-8", "replace") if path.suffix == ".gz" \
                else data.decode("utf-8", "replace")
        except (OSError, EOFError):
            continue
        return text, str(path)
    return None, None


def running_record() -> dict[str, Any]:
    """What ``capture`` writes as ``kernel.json``: release, where the config was read, features.

    A feature that could not be read is ``null`` (unknown), not guessed.
    """
    release = os.uname().release
    text, where = read_running_config(release)
    feats: dict[str, bool | None] = {k: None for k in FEATURES}
    feats.update(config_features(text) if text else {})
    version = release_version(release)
    if version is not None:
        feats["input_einval"] = version >= EINVAL_SINCE
    return {"release": release, "config": where, "features": feats}


def from_record(text: str, name: str) -> KernelProfile:
    """A bundle's ``kernel.json`` (see :func:`running_record`) as a profile.

    Raises ``ValueError`` (with the reason) when the file is not such a record.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object with release and features")
    release = data.get("release")
    if release is not None and not isinstance(release, str):
        raise ValueError("release: expected a string")
    feats_in = data.get("features")
    feats_in = {} if feats_in is None else feats_in
    if not isinstance(feats_in, dict):
        raise ValueError("features: expected an object")
    feats = {k: bool(v) for k, v in feats_in.items() if k in FEATURES and isinstance(v, bool)}
    version = release_version(release)
    if "input_einval" not in feats and version is not None:
        feats["input_einval"] = version >= EINVAL_SINCE
    unknown = tuple(k for k in FEATURES if k not in feats)
    return named(feats, release=release, origin=name, unknown=unknown)
