"""The corpus of real pastes (issue 9): what people post, read as a new user would.

``tests/pastes/`` holds pastes from public threads (outputs as posted, public
addresses replaced by documentation ranges, prose rewritten in the same shape)
and ``tests/pastes/index.toml`` says where each came from and, where the thread
tells, what really happened. For every paste:

* ``show`` reads it (exit 0) or refuses it (exit 2) with one line that names the
  commands to paste; never exit 1, never a traceback;
* a paste that holds usable listings is read, not refused;
* the prose around the listings is skipped with a warning that names its lines;
* each recorded outcome: ``route``/``trace`` agrees with what happened, or its
  ``assumptions`` name the missing piece the answer hinges on.

What the reader cannot do yet is marked ``xfail(strict=True)`` in
:data:`KNOWN_FAILURES` with the reason, so the suite stays green and each case
fails loudly (XPASS) the day it starts to work: then delete its line.
``benchmarks/real_pastes.py`` prints the same checks as counts.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wgexplain import cli

PASTES = Path(__file__).resolve().parent / "pastes"

#: The commands whose output wgexplain reads; a refusal names at least two of them.
COMMANDS = {
    "ip rule": re.compile(r"\bip (-[46j] )*(rule|ru)\b"),
    "ip route": re.compile(r"\bip (-[46j] )*(route|r)\b(?! get)"),
    "ip addr": re.compile(r"\bip (-[46j] )*(addr|a|address)\b"),
    "nft list ruleset": re.compile(r"\bnft (-j )?list ruleset\b"),
    "wg show": re.compile(r"\bwg show\b"),
}


def names_what_to_paste(message: str) -> bool:
    """The message tells what to paste: it names at least two of :data:`COMMANDS`."""
    return sum(bool(rx.search(message)) for rx in COMMANDS.values()) >= 2
#: A warning about skipped text: says it skipped and names lines.
SKIPPED = re.compile(r"skip|not read|ignor|not (network|a listing)|unrecogni", re.I)
LINES = re.compile(r"\blines? \d+|\d+\s*[-–]\s*\d+|:\d+\b")


@dataclass(frozen=True)
class Outcome:
    """One checkable expectation from the thread (or from the complete listings)."""

    command: str
    dst: str
    args: tuple[str, ...]
    expect: dict[str, Any]
    hinges_on: tuple[str, ...]
    basis: str

    @property
    def id(self) -> str:
        extra = "".join(a.strip("-") for a in self.args)
        return f"{self.command}-{self.dst}{('-' + extra) if extra else ''}"


@dataclass(frozen=True)
class Paste:
    file: str
    source: str
    client: str
    lang: str
    shape: tuple[str, ...]
    expect: str
    thread: str
    outcomes: tuple[Outcome, ...] = field(default=())

    @property
    def path(self) -> Path:
        return PASTES / self.file

    @property
    def id(self) -> str:
        return self.file.split("-", 1)[0] + "-" + self.file.rsplit(".", 1)[0].split("-", 1)[1]


def load_corpus() -> list[Paste]:
    """The pastes of ``tests/pastes/index.toml``, in file order."""
    with (PASTES / "index.toml").open("rb") as f:
        data = tomllib.load(f)
    pastes = []
    for p in data["paste"]:
        outs = tuple(
            Outcome(o["command"], o["dst"], tuple(o.get("args", ())), dict(o.get("expect", {})),
                    tuple(o.get("hinges_on", ())), o.get("basis", "thread"))
            for o in p.get("outcome", ())
        )
        pastes.append(Paste(p["file"], p["source"], p["client"], p["lang"], tuple(p["shape"]),
                            p["expect"], p.get("thread", ""), outs))
    return pastes


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke(*args: str) -> Run:
    """``wgexplain ARGS`` in-process; an exception escaping the CLI counts as exit 1."""
    r = CliRunner().invoke(cli.main, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return Run(1, r.stdout, r.stderr + f"\n{type(r.exception).__name__}: {r.exception}")
    return Run(r.exit_code, r.stdout, r.stderr)


def show(paste: Paste) -> Run:
    return invoke("show", str(paste.path), "--json")


def skip_warnings(run: Run) -> list[str]:
    """The warnings of a ``show --json`` run that report skipped text by its lines."""
    if run.exit_code != 0:
        return []
    return [w for w in run.json().get("warnings", []) if SKIPPED.search(w) and LINES.search(w)]


@dataclass(frozen=True)
class Verdict:
    """How one outcome came out: ``agreed`` (the answer matches), ``hinged``
    (it names the missing piece it depends on), or neither (``why``)."""

    agreed: bool
    hinged: bool
    why: str

    @property
    def ok(self) -> bool:
        return self.agreed or self.hinged


def check_outcome(paste: Paste, o: Outcome) -> Verdict:
    run = invoke(o.command, str(paste.path), o.dst, *o.args, "--json")
    if run.exit_code != 0:
        return Verdict(False, False, f"exit {run.exit_code}: {run.stderr.strip()[:300]}")
    d = run.json()
    mismatches = []
    for key, want in o.expect.items():
        if key == "not_dev":  # a device was found, and it is another one
            if d.get("dev") in (want, None):
                mismatches.append(f"dev is {d.get('dev')!r}" + (f" ({d['error']})" if d.get("error") else ""))
        elif d.get(key) != want:
            mismatches.append(f"{key} {d.get(key)!r} != {want!r}")
    agreed = bool(o.expect) and not mismatches
    said = " ".join(str(a) for a in d.get("assumptions", [])).lower()
    hinged = any(re.search(rf"(?<![\w-]){re.escape(h.lower())}(?![\w-])", said) for h in o.hinges_on)
    why = "; ".join(mismatches) or ("no expectation: must name " + " / ".join(o.hinges_on))
    if not hinged and o.hinges_on:
        why += f"; assumptions {d.get('assumptions', 'absent')!r} name none of {list(o.hinges_on)}"
    return Verdict(agreed, hinged, why)


CORPUS = load_corpus()

# --------------------------------------------------------------------------
# What fails today (main at the time of writing), with the kind of failure.
# Delete a line when its case XPASSes.
# --------------------------------------------------------------------------

KNOWN_FAILURES: dict[tuple[str, str], str] = {
    ('01-mullvad-md-nft-redacted.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('01-mullvad-md-nft-redacted.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('02-mullvad-md-nft-bypass.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('02-mullvad-md-nft-bypass.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('03-gnosis-md-angle-prompts.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('04-mullvad-sysctl-rpfilter.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('05-networkmanager-ip-r-route-n.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('05-networkmanager-ip-r-route-n.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('05-networkmanager-ip-r-route-n.md', 'outcome:route-203.0.113.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('06-networkmanager-wg-route-n-redacted.md', 'read'):
        'refused: a redacted endpoint in wg show (kind 3)',
    ('06-networkmanager-wg-route-n-redacted.md', 'skipped'):
        'refused: a redacted endpoint in wg show (kind 3)',
    ('06-networkmanager-wg-route-n-redacted.md', 'outcome:route-10.1.2.3'):
        'the paste is refused, so no answer: refused: a redacted endpoint in wg show (kind 3)',
    ('07-wg-quick-unifi-log-failed.txt', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('08-wg-quick-wgcf-log-wg.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('08-wg-quick-wgcf-log-wg.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('08-wg-quick-wgcf-log-wg.md', 'outcome:route-198.51.100.20'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('09-wg-quick-zsh-prompt-ping.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('09-wg-quick-zsh-prompt-ping.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('09-wg-quick-zsh-prompt-ping.md', 'outcome:route-2001:db8:4004:c1d::71'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('10-tailscale-vrf-percent-prompt.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('11-nmstate-addr-main-cut.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('11-nmstate-addr-main-cut.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('12-mullvad-tailscale-rule-list.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('12-mullvad-tailscale-rule-list.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('13-tailscale-iptables-L.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('14-wg-quick-synology-suppress-error.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('15-docker-supervisord-log-routes.txt', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('15-docker-supervisord-log-routes.txt', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('15-docker-supervisord-log-routes.txt', 'outcome:route-203.0.113.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('16-nordvpn-user-host-ip-a-route.txt', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('17-nordvpn-container-table-51820.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('18-nordvpn-lan-10-10.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('18-nordvpn-lan-10-10.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('18-nordvpn-lan-10-10.md', 'outcome:route-10.9.2.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('19-nordvpn-iptables-forward-comments.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('20-mozillavpn-qubes-addr-table.md', 'read'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('20-mozillavpn-qubes-addr-table.md', 'skipped'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('20-mozillavpn-qubes-addr-table.md', 'outcome:route-203.0.113.10-iifvif9.0from10.137.0.5'):
        'the paste is refused, so no answer: refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('21-openwrt-vpr-status.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('21-openwrt-vpr-status.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('22-asuswrt-named-table-backticks.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('22-asuswrt-named-table-backticks.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('22-asuswrt-named-table-backticks.md', 'outcome:route-203.0.113.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('23-wg-quick-journal-dietpi.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('23-wg-quick-journal-dietpi.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('24-wg-quick-docker-logs-redacted.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('24-wg-quick-docker-logs-redacted.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('25-firewalld-ruleset-cut.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('25-firewalld-ruleset-cut.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('26-firewalld-rpfilter-dmesg-chain.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('27-networkmanager-firewalld-v6-route-get.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('27-networkmanager-firewalld-v6-route-get.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('27-networkmanager-firewalld-v6-route-get.md', 'outcome:route-2001:db8:4860::8888-fromfd00:192:168:247::2iifwg0'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('28-firewalld-progname-comment.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('28-firewalld-progname-comment.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('29-networkd-bare-rules-unreachable.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('29-networkd-bare-rules-unreachable.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('30-networkd-email-quoted-named-tables.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('30-networkd-email-quoted-named-tables.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('31-networkd-inline-rule-only-local.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('31-networkd-inline-rule-only-local.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('31-networkd-inline-rule-only-local.md', 'outcome:route-203.0.113.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('32-tailscale-mark-unreachable.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('32-tailscale-mark-unreachable.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('32-tailscale-mark-unreachable.md', 'outcome:route-100.71.166.52-mark0x80000'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('33-tailscale-rule-table52-prose.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('33-tailscale-rule-table52-prose.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('33-tailscale-rule-table52-prose.md', 'outcome:route-192.168.1.20'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('34-tailscale-only-table-52.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('35-tailscale-table52-inline.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('35-tailscale-table52-inline.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('35-tailscale-table52-inline.md', 'outcome:route-192.168.50.10'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('36-wg-quick-ru-habr-table-100500.txt', 'read'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('36-wg-quick-ru-habr-table-100500.txt', 'skipped'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('36-wg-quick-ru-habr-table-100500.txt', 'outcome:route-100.100.100.100'):
        'the paste is refused, so no answer: refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('36-wg-quick-ru-habr-table-100500.txt', 'outcome:route-100.100.100.100-mark0x1234'):
        'the paste is refused, so no answer: refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('37-wg-quick-ja-blog-log.txt', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('37-wg-quick-ja-blog-log.txt', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('37-wg-quick-ja-blog-log.txt', 'outcome:route-198.51.100.20'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('38-wg-quick-clean-session.txt', 'read'):
        'refused: a listing cut mid-line (kind 2)',
    ('38-wg-quick-clean-session.txt', 'skipped'):
        'refused: a listing cut mid-line (kind 2)',
    ('38-wg-quick-clean-session.txt', 'outcome:route-198.51.100.20'):
        'the paste is refused, so no answer: refused: a listing cut mid-line (kind 2)',
    ('38-wg-quick-clean-session.txt', 'outcome:route-192.168.178.1'):
        'the paste is refused, so no answer: refused: a listing cut mid-line (kind 2)',
    ('39-mullvad-zsh-route-rt-tables.txt', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('40-wg-quick-placeholders.txt', 'read'):
        'refused: a redaction placeholder as gateway (kind 3)',
    ('40-wg-quick-placeholders.txt', 'skipped'):
        'refused: a redaction placeholder as gateway (kind 3)',
    ('41-wg-quick-mail-stripped.txt', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('42-wg-quick-unixse-named-table-route-get.txt', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('42-wg-quick-unixse-named-table-route-get.txt', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('42-wg-quick-unixse-named-table-route-get.txt', 'outcome:route-203.0.113.233'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('43-wg-quick-zh-warp-rule.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('44-openwrt-pbr-route-n-omissis.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('44-openwrt-pbr-route-n-omissis.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('45-wg-quick-masked-ifconfig.md', 'read'):
        'refused: a redaction placeholder as gateway (kind 3)',
    ('45-wg-quick-masked-ifconfig.md', 'skipped'):
        'refused: a redaction placeholder as gateway (kind 3)',
    ('45-wg-quick-masked-ifconfig.md', 'outcome:route-10.28.188.7'):
        'the paste is refused, so no answer: refused: a redaction placeholder as gateway (kind 3)',
    ('46-wg-quick-dietpi-route-get-inline.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('47-iproute-json-invalid-local.md', 'read'):
        'refused: an ip -j error message before the JSON (kind 7)',
    ('47-iproute-json-invalid-local.md', 'skipped'):
        'refused: an ip -j error message before the JSON (kind 7)',
    ('47-iproute-json-invalid-local.md', 'outcome:route-192.168.178.78'):
        'the paste is refused, so no answer: refused: an ip -j error message before the JSON (kind 7)',
    ('48-openwrt-mwan3-dashed-headings.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('48-openwrt-mwan3-dashed-headings.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('48-openwrt-mwan3-dashed-headings.md', 'outcome:route-198.51.100.20-mark0x3d00'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('49-docker-table-all-user-prompt.md', 'read'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('49-docker-table-all-user-prompt.md', 'skipped'):
        'refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('49-docker-table-all-user-prompt.md', 'outcome:route-192.168.1.50'):
        'the paste is refused, so no answer: refused: a line that is not a route inside a route listing (kinds 4, 7)',
    ('50-tailscale-commands-no-output.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('51-iptables-save-rules-file.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('52-wg-edgerouter-old-iproute-spaces.md', 'skipped'):
        'skipped text is not named in a warning (kind 4)',
    ('53-wg-edgerouter-config-mode-netstat.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('54-docker-md-two-wg-tables.md', 'read'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('54-docker-md-two-wg-tables.md', 'skipped'):
        "refused: no '$ ' command line in the paste (kind 1)",
    ('54-docker-md-two-wg-tables.md', 'outcome:route-10.0.0.5'):
        "the paste is refused, so no answer: refused: no '$ ' command line in the paste (kind 1)",
    ('55-docker-printf-headers-oneliner.md', 'read'):
        'refused: a listing cut mid-line (kind 2)',
    ('55-docker-printf-headers-oneliner.md', 'skipped'):
        'refused: a listing cut mid-line (kind 2)',
    ('55-docker-printf-headers-oneliner.md', 'outcome:route-192.168.178.20'):
        'the paste is refused, so no answer: refused: a listing cut mid-line (kind 2)',
}


def _param(paste: Paste, check: str, *extra: Any, suffix: str = "") -> Any:
    reason = KNOWN_FAILURES.get((paste.file, f"{check}:{suffix}" if suffix else check))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(paste, *extra, id=paste.id + (f"-{suffix}" if suffix else ""), marks=marks)


def test_corpus_is_complete() -> None:
    """Every file is indexed, every index entry exists, enough pastes and shapes."""
    files = {p.name for p in PASTES.iterdir() if p.name != "index.toml"}
    indexed = [p.file for p in CORPUS]
    assert sorted(indexed) == sorted(files)
    assert len(set(indexed)) == len(indexed)
    assert len(CORPUS) >= 45
    assert {p.lang for p in CORPUS} >= {"en", "ja", "ru", "zh"}
    assert {p.expect for p in CORPUS} <= {"read", "refuse", "either"}
    for p in CORPUS:
        assert p.source.startswith("https://"), p.file
        text = p.path.read_text(encoding="utf-8")
        assert "192.0.2." not in text, f"{p.file}: 192.0.2.0/24 is not to be used"


@pytest.mark.parametrize("paste", [pytest.param(p, id=p.id) for p in CORPUS])
def test_never_an_internal_error(paste: Paste) -> None:
    """Whatever is pasted, ``show`` answers 0 or 2, never 1 and never a traceback."""
    run = show(paste)
    assert run.exit_code in (0, 2), (run.exit_code, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr


@pytest.mark.parametrize("paste", [_param(p, "read") for p in CORPUS])
def test_read_or_refused_with_what_to_paste(paste: Paste) -> None:
    """A paste with listings is read; a refusal is one line that names commands to paste."""
    run = show(paste)
    if run.exit_code == 2:
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert names_what_to_paste(lines[0]), f"refusal does not say what to paste: {lines[0]}"
    if paste.expect == "read":
        assert run.exit_code == 0, run.stderr.strip()
    elif paste.expect == "refuse":
        assert run.exit_code == 2, "read a paste that holds no output"
    else:
        assert run.exit_code in (0, 2)


@pytest.mark.parametrize("paste", [_param(p, "skipped") for p in CORPUS if p.expect != "refuse"])
def test_skipped_text_is_named_by_its_lines(paste: Paste) -> None:
    """The prose around the listings is not silently dropped: a warning names its lines."""
    run = show(paste)
    if paste.expect == "either" and run.exit_code == 2:
        return
    assert run.exit_code == 0, run.stderr.strip()
    assert skip_warnings(run), run.json().get("warnings")


@pytest.mark.parametrize(
    ("paste", "outcome"),
    [_param(p, "outcome", o, suffix=o.id) for p in CORPUS for o in p.outcomes],
)
def test_outcome_agrees_or_names_what_it_hinges_on(paste: Paste, outcome: Outcome) -> None:
    """Where the thread tells what happened, the answer agrees or says what it assumed."""
    v = check_outcome(paste, outcome)
    assert v.ok, v.why
