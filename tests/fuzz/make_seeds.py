"""Make ``tests/fuzz/seeds/<sample>/``: the kernel's own JSON for a sample (needs root).

Each sample bundle named on the command line is rebuilt in ``wgx-`` network
namespaces (``wgexplain.lab.build``) and captured from there
(``wgexplain capture``: ``ip -j`` rules, routes, addresses, links and
``nft -j list ruleset``), so the fuzzer has JSON seeds the kernel wrote::

    sudo PYTHONPATH=tests .venv/bin/python -m fuzz.make_seeds wg-quick mullvad-tailscale
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from wgexplain import load
from wgexplain.lab.build import build
from wgexplain.lab.netns import Lab
from wgexplain.sources.live import capture

ROOT = Path(__file__).resolve().parents[2]


def main(names: list[str]) -> None:
    for name in names:
        host = load(ROOT / "examples" / name / "bundle")
        with Lab("seed") as lab:
            lh = build(lab, host)
            out = Path(__file__).resolve().parent / "seeds" / name
            if out.exists():
                shutil.rmtree(out)
            capture(out, netns=lh.ns)
            print(name, sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main(sys.argv[1:])
