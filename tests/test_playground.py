"""The playground (docs/playground.md): wgexplain in the reader's browser.

In CPython: :mod:`wgexplain.web` answers what the CLI answers (``--json``
and ``--format dot``, the same objects) for every sample and each command,
and imports with click, rich and pyroute2 absent (the browser has none);
the hook's repacked wheels hold what is installed.

In Chromium (Playwright, the site built by ``site_build`` and served under
``/wgexplain/`` as tests/test_browser.py does): the page loads Pyodide from
the site, answers the seed session's packet (``wg-mullvad``, a journey
drawn as SVG), a changed mark (``wlp0s20f3``), marks the line of a broken
ruleset, and its JSON equals the CLI's for every sample; with no console
error, no request outside the site, and the paste in no request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hooks"))

import playground as hook  # noqa: E402  (hooks/playground.py)

from wgexplain.web import answer  # noqa: E402

SEED = "examples/mullvad/session-en.txt"
BROKEN_RULESET = ("table inet filter {\n\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n"
                  "\t\tip daddr 10.0.0.1 frobnicate\n\t}\n}\n")
#: per command: the packet asked of every sample (the form's fields)
PACKETS: dict[str, dict[str, str]] = {
    "trace": {"dst": "1.1.1.1", "ipproto": "tcp", "dport": "443"},
    "route": {"dst": "1.1.1.1", "mark": "0x6d6f6c65"},
    "check": {},
}


def _cli_words(command: str, source: str, packet: dict[str, str]) -> list[str]:
    words = [command, source]
    if command != "check":
        words.append(packet["dst"])
        for key in ("from", "iif", "oif", "mark", "uid", "ipproto", "sport", "dport", "tos"):
            if key in packet:
                words += [key, packet[key]]
    return words + ["--json"]


def cli_json(command: str, source: str, packet: dict[str, str]) -> Any:
    """What ``wgexplain COMMAND SOURCE ... --json`` prints (run in-process, from the repo root)."""
    from click.testing import CliRunner

    from wgexplain.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, _cli_words(command, source, packet))
    finally:
        os.chdir(cwd)
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


def cli_dot(command: str, source: str, packet: dict[str, str]) -> str:
    from click.testing import CliRunner

    from wgexplain.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, _cli_words(command, source, packet)[:-1] + ["--format", "dot"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip("\n")


def cli_chain_map(source: str) -> str | None:
    """``wgexplain show SOURCE --format dot``: the chain map (``None`` when it refuses: no ruleset)."""
    from click.testing import CliRunner

    from wgexplain.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, ["show", source, "--format", "dot"])
    finally:
        os.chdir(cwd)
    if result.exit_code == 2 and "has none" in result.output:
        return None
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip("\n")


SAMPLES = hook.samples()


def _source(key: str) -> str:
    files = SAMPLES[key]["files"]
    assert isinstance(files, list)
    name = files[0]["name"]
    return name if len(files) == 1 else name.rsplit("/", 1)[0]


def test_samples_are_every_bundle_and_session() -> None:
    bundles = {p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "examples").rglob("ip-rule.*")}
    assert bundles and bundles <= set(SAMPLES)
    assert SEED in SAMPLES


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_web_answers_as_the_cli(key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sample, each command: the page's JSON is the CLI's, the DOT is ``--format dot``'s."""
    monkeypatch.chdir(tmp_path)  # the page writes a bundle's files under its own directory
    files = SAMPLES[key]["files"]
    for command, packet in PACKETS.items():
        got = answer({"files": files, "command": command, "packet": packet})
        assert got["ok"], got
        assert got["json"] == cli_json(command, _source(key), packet), (key, command)
        if command == "trace":
            assert got["dot"] == cli_dot(command, _source(key), packet)
            assert got["chains"] == cli_chain_map(_source(key))
            assert got["html"].startswith('<div class="wgx-trace">')


def test_web_errors_as_the_cli_words_them() -> None:
    got = answer({"files": [{"name": "paste", "text": BROKEN_RULESET}], "command": "trace",
                  "packet": {"dst": "1.1.1.1"}})
    assert got["ok"] is False and got["file"] == "paste" and got["line"] == 4
    assert got["error"].startswith("wgexplain: paste:4:")
    bad_mark = answer({"files": [{"name": "paste", "text": (ROOT / SEED).read_text()}], "command": "route",
                       "packet": {"dst": "1.1.1.1", "mark": "zz"}})
    assert bad_mark["ok"] is False and "mark" in bad_mark["error"] and bad_mark["line"] is None
    empty = answer({"files": [{"name": "paste", "text": ""}], "command": "trace", "packet": {"dst": "1.1.1.1"}})
    assert empty["ok"] is False and empty["error"].startswith("wgexplain: paste:")
    escape = answer({"files": [{"name": "../x/ip-rule.txt", "text": "0: from all lookup local\n"},
                               {"name": "../x/ip-route.txt", "text": ""}],
                     "command": "route", "packet": {"dst": "1.1.1.1"}})
    assert escape["ok"] is False and "bundle directory" in escape["error"]


def test_web_path_imports_without_the_cli_libraries() -> None:
    """The browser has no click, rich or pyroute2: the web path must not import them."""
    code = (
        "import sys\n"
        "for m in ('click', 'rich', 'pyroute2'): sys.modules[m] = None\n"
        "from wgexplain.web import answer, warm_up\n"
        "warm_up()\n"
        f"text = open({str(ROOT / SEED)!r}).read()\n"
        "for cmd in ('trace', 'route', 'check'):\n"
        "    out = answer({'files': [{'name': 'paste', 'text': text}], 'command': cmd,\n"
        "                  'packet': {'dst': '1.1.1.1', 'ipproto': 'tcp', 'dport': '443'}})\n"
        "    assert out['ok'], out\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_ipv6_without_socket_support_answers_the_same(tmp_path: Path) -> None:
    """Pyodide's socket refuses AF_INET6 (inet_pton/inet_ntop): wgexplain.inet's fallbacks give the same answers."""
    files = SAMPLES["examples/broken/ipv6-leak"]["files"]
    request = {"files": files, "command": "trace",
               "packet": {"dst": "2606:4700:4700::1111", "ipproto": "tcp", "dport": "443"}}
    code = (
        "import json, socket, sys\n"
        "pton, ntop = socket.inet_pton, socket.inet_ntop\n"
        "def no6(f, fn):\n"
        "    def g(family, x):\n"
        "        if family == socket.AF_INET6: raise OSError(\"can't use AF_INET6, IPv6 is disabled\")\n"
        "        return fn(family, x)\n"
        "    return g\n"
        "socket.inet_pton, socket.inet_ntop = no6(6, pton), no6(6, ntop)\n"
        "from wgexplain.web import answer\n"
        "from wgexplain.sources import iproute_route\n"
        "assert iproute_route.inet_pton is not pton\n"
        "print(json.dumps(answer(json.loads(sys.stdin.read()))))\n")
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(request), capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["ok"], got
    assert got["json"] == cli_json("trace", _source("examples/broken/ipv6-leak"), request["packet"])  # type: ignore[arg-type]


def test_repacked_wheel_holds_the_installed_files(tmp_path: Path) -> None:
    import importlib.metadata

    wheel = hook.repack("lark", tmp_path)
    dist = importlib.metadata.distribution("lark")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert f"lark-{dist.version}.dist-info/RECORD" in names
        assert "lark/lark.py" in names and "lark/grammars/common.lark" in names
        assert z.read("lark/lark.py") == Path(str(dist.locate_file("lark/lark.py"))).read_bytes()
        assert not any(n.endswith("INSTALLER") or "__pycache__" in n for n in names)


# --------------------------------------------------------------------------
# in the browser
# --------------------------------------------------------------------------

HAVE_BROWSER = importlib.util.find_spec("playwright") is not None and Path("/usr/bin/chromium").exists()
if HAVE_BROWSER:  # the site served under /wgexplain/, Debian's chromium, the request guard
    from tests.test_browser import _guard, browser_type_launch_args, site_url  # noqa: F401 - fixtures

in_browser = pytest.mark.browser
READY_MS = 120_000  # Pyodide's start, on a loaded CI machine
ANSWER_MS = 120_000  # a `check` runs a dozen traces
#: the samples whose `check` is also compared in the browser (each runs a dozen traces)
CHECKED_IN_BROWSER = ("examples/broken/dns-leak", SEED)


def _skip_without_browser() -> None:
    if not HAVE_BROWSER:
        pytest.skip("needs Playwright for Python and Debian's chromium at /usr/bin/chromium")


@pytest.fixture()
def playground(browser: Any, site_url: str) -> Any:
    """The playground page, its simulator loaded; yields (page, requests, outside, errors)."""
    _skip_without_browser()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    _guard(context, site_url, outside)
    page = context.new_page()
    errors: list[str] = []
    requests: list[Any] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    context.on("request", lambda r: requests.append(r))
    page.goto(site_url + "playground/", wait_until="load")
    page.wait_for_selector("#wgx-pg[data-ready]", timeout=READY_MS)
    try:
        yield page, requests, outside, errors
    finally:
        context.close()


def _ask(page: Any) -> None:
    """Click Ask, wait for this answer (the page counts them)."""
    before = page.evaluate("document.getElementById('wgx-pg').dataset.answered || '0'")
    page.click("#wgx-pg-run")
    page.wait_for_function(
        f"(() => {{ const d = document.getElementById('wgx-pg').dataset;"
        f" return !d.busy && d.answered && d.answered !== '{before}'; }})()", timeout=ANSWER_MS)


def _fill(page: Any, fields: dict[str, str]) -> None:
    for name in ("dst", "from", "iif", "oif", "ipproto", "sport", "dport", "mark", "uid", "tos", "cgroup"):
        page.fill(f"#wgx-pg-form [name={name}]", fields.get(name, ""))


@in_browser
def test_playground_answers_the_seed_in_the_page(playground: Any) -> None:
    page, requests, outside, errors = playground
    text = (ROOT / SEED).read_text()
    page.fill("#wgx-pg-paste", text)
    page.check("#wgx-pg-form input[value=trace]")
    _fill(page, {"dst": "1.1.1.1", "ipproto": "tcp", "dport": "443"})
    _ask(page)
    verdict = page.inner_text("#wgx-pg-answer .wgx-verdict")
    assert "wg-mullvad" in verdict, verdict
    page.wait_for_selector("#wgx-pg-diagram svg g.node")
    assert page.eval_on_selector("#wgx-pg-diagram svg", "s => s.getBoundingClientRect().width") > 100
    shown = json.loads(page.eval_on_selector(".wgx-pg-json pre code", "c => c.textContent"))
    assert shown["egress"]["dev"] == "wg-mullvad"
    page.click("#wgx-pg-chains summary")  # the chain map, drawn when opened
    page.wait_for_selector("#wgx-pg-chains svg g.node")

    # the mark the Mullvad client's own packets carry: routed around the tunnel
    page.check("#wgx-pg-form input[value=route]")
    _fill(page, {"dst": "1.1.1.1", "ipproto": "tcp", "dport": "443", "mark": "0x6d6f6c65"})
    _ask(page)
    verdict = page.inner_text("#wgx-pg-answer .wgx-verdict")
    assert "wlp0s20f3" in verdict and "wg-mullvad" not in verdict, verdict
    page.check("#wgx-pg-form input[value=trace]")
    _ask(page)
    steps = page.inner_text("#wgx-pg-answer .wgx-trace")
    assert "dev wlp0s20f3" in steps, steps  # the route; the kill switch then rejects it

    # a broken ruleset: the CLI's words, its line marked
    page.fill("#wgx-pg-paste", BROKEN_RULESET)
    _ask(page)
    error = page.inner_text("#wgx-pg-answer .wgx-pg-error pre")
    assert error.startswith("wgexplain: paste:4:"), error
    assert page.inner_text(".wgx-pg-errline").endswith("ip daddr 10.0.0.1 frobnicate")
    selected = page.evaluate("(() => { const t = document.getElementById('wgx-pg-paste');"
                             " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
    assert selected == "\t\tip daddr 10.0.0.1 frobnicate"

    assert errors == [] and outside == []
    needle = "185.195.233.76"  # the seed's endpoint: in the paste, in no request
    for r in requests:
        assert needle not in r.url and "frobnicate" not in r.url
        body = r.post_data_buffer or b""
        assert needle.encode() not in body and b"frobnicate" not in body
    assert all(r.url.startswith(page.url.split("playground/")[0]) for r in requests)


@in_browser
def test_playground_json_is_the_clis_for_every_sample(playground: Any) -> None:
    page, _requests, outside, errors = playground
    for key in sorted(SAMPLES):
        page.select_option("#wgx-pg-example", key)
        for command in ("trace", "check") if key in CHECKED_IN_BROWSER else ("trace",):
            packet = PACKETS[command]
            page.check(f"#wgx-pg-form input[value={command}]")
            _fill(page, packet)
            _ask(page)
            shown = page.eval_on_selector(".wgx-pg-json pre code", "c => c.textContent")
            assert json.loads(shown) == cli_json(command, _source(key), packet), (key, command)
    assert errors == [] and outside == []


@in_browser
def test_a_try_it_link_opens_the_pages_packet(browser: Any, site_url: str) -> None:
    """The fwmark page's "Try it" link: the playground opens with the seed and the marked packet, answered."""
    _skip_without_browser()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    _guard(context, site_url, outside)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(site_url + "concepts/fwmark/", wait_until="load")
        page.click("a.wgx-try-link:has-text('mark 0x6d6f6c65')")
        page.wait_for_selector("#wgx-pg[data-answered]", timeout=READY_MS)
        assert page.input_value("#wgx-pg-form [name=mark]") == "0x6d6f6c65"
        assert page.input_value("#wgx-pg-paste") == (ROOT / SEED).read_text()
        verdict = page.inner_text("#wgx-pg-answer .wgx-verdict")
        assert "wlp0s20f3" in verdict and "rule 32766" in verdict, verdict
    finally:
        context.close()
    assert errors == [] and outside == []
