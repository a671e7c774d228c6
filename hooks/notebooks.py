"""MkDocs hook: publish the example notebooks under ``notebooks/``.

The notebooks live once, in ``examples/`` (used by the docs, the tests and
readers who open them in Jupyter); this hook adds each ``examples/*.ipynb``
to the site as ``notebooks/<name>.ipynb`` without copying it, so that
mkdocs-jupyter executes it (in ``examples/``, its own folder) at build time.

mkdocs-jupyter wraps every notebook file in its ``NotebookFile``, which
recomputes ``abs_src_path`` from ``src_dir`` -- ``None`` for a generated
file. The second ``on_files`` (after mkdocs-jupyter's) gives the wrapper
the real path back.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import CombinedEvent, event_priority
from mkdocs.structure.files import File, Files

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _notebooks() -> dict[str, str]:
    return {f"notebooks/{nb.name}": str(nb) for nb in sorted(EXAMPLES.glob("*.ipynb"))}


@event_priority(100)
def _add_notebooks(files: Files, config: MkDocsConfig) -> Files:
    for uri, path in _notebooks().items():
        files.append(File.generated(config, uri, abs_src_path=path))
    return files


@event_priority(-100)
def _on_files_after_jupyter(files: Files, config: MkDocsConfig) -> Files:
    notebooks = _notebooks()
    for file in files:
        if file.src_uri in notebooks:
            vars(file)["abs_src_path"] = notebooks[file.src_uri]
    return files


on_files = CombinedEvent(_add_notebooks, _on_files_after_jupyter)
