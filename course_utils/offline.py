"""HTML exports that read offline: typeset math and interactive figures without a network.

Two things an exported notebook needs from the internet by default, and where the course gets them:

- **MathJax.** nbconvert (and nbgrader's feedback) load MathJax 2 from a CDN, so offline the page shows
  raw ``$\\theta$``. The course ships MathJax 2.7 through the ``jupyter-server-mathjax`` package (a
  dependency) and copies it into a folder ``mathjax/`` next to the HTML page; the page loads it with a
  relative URL, so the page works from ``file://``, from a ZIP and from a web server, as long as that
  folder travels with it. MathJax 2 loads its parts lazily, so a single inlined file is not an option;
  the copy leaves out what the course's pages never load (translations, the accessibility extensions).
  Its config is ``TeX-AMS-MML_HTMLorMML-full`` (the one the package has) with the HTML-CSS output and
  its STIX-Web fonts.
- **plotly.js.** Saved notebooks do not carry plotly.js (4.7 MB; see
  :class:`course_utils.plotting.CourseRenderer`); the export template puts it into the page once.

How it is wired (nbconvert's own extension points):

- :data:`TEMPLATES` holds the nbconvert template ``course_offline`` (the lab export plus plotly.js,
  MathJax from ``mathjax/``) and ``feedback/mathjax.html.j2``, which gives nbgrader's feedback pages
  the same MathJax (:func:`feedback_config`).
- :class:`OfflineAssets` is an nbconvert preprocessor: it hands plotly.js to the template when the
  notebook has plotly figures, and puts the MathJax copy into ``resources["outputs"]``, which
  nbconvert's and nbgrader's file writers write next to the page.
- :func:`nbconvert_config` is the configuration for ``jupyter nbconvert --to html`` and for the
  JupyterLab server's "Save and Export Notebook As > HTML"; :func:`install_jupyter_config` writes it
  into an environment's ``etc/jupyter`` (``python -m course_utils.offline install``).
  JupyterLab's export downloads a single file, so there the figures work offline but the math is
  typeset offline only where ``mathjax/`` sits next to the downloaded page (without it the page loads
  MathJax from its CDN, which needs a network); ``jupyter nbconvert`` and the feedback write the
  folder themselves.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

__all__ = [
    "MATHJAX_CONFIG",
    "MATHJAX_FOLDER",
    "OfflineAssets",
    "TEMPLATES",
    "copy_mathjax",
    "install_jupyter_config",
    "mathjax_files",
    "mathjax_source",
    "mathjax_url",
    "nbconvert_config",
]

TEMPLATES = Path(__file__).with_name("templates")
MATHJAX_FOLDER = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
# Parts of MathJax 2 that the course's pages never load: other languages, the accessibility
# explorer (its own 3.7 MB), the SVG fonts (the package has no SVG output to use them) and mhchem 3.
_LEFT_OUT = ("localization/", "extensions/a11y/", "jax/output/SVG/", "extensions/TeX/mhchem3/")
_KEPT_LOCALIZATION = "localization/en/"
PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"


def mathjax_source() -> Path:
    """The MathJax 2 tree that ``jupyter-server-mathjax`` installs (the folder holding ``MathJax.js``)."""
    try:
        import jupyter_server_mathjax
    except ImportError as error:  # pragma: no cover - a declared dependency
        raise RuntimeError(
            "jupyter-server-mathjax is not installed; it provides the MathJax copy that offline HTML needs "
            "(pip install jupyter-server-mathjax, or make setup)"
        ) from error
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise RuntimeError(f"jupyter-server-mathjax has no MathJax.js under {static}; reinstall it")
    return static


def mathjax_url(folder: str = MATHJAX_FOLDER) -> str:
    """The script URL of MathJax relative to the page, e.g. ``mathjax/MathJax.js?config=...``."""
    return f"{folder.rstrip('/')}/MathJax.js?config={MATHJAX_CONFIG}"


def _wanted(relative: str) -> bool:
    if relative.startswith(_KEPT_LOCALIZATION):
        return True
    return not relative.startswith(_LEFT_OUT)


@functools.lru_cache(maxsize=1)
def mathjax_files() -> dict[str, bytes]:
    """The course's subset of MathJax as ``{"mathjax/<path>": bytes}`` (read once per process)."""
    source = mathjax_source()
    files = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if path.is_file() and _wanted(relative):
            files[f"{MATHJAX_FOLDER}/{relative}"] = path.read_bytes()
    return files


def copy_mathjax(folder: Path) -> Path:
    """Write the MathJax subset into ``folder/mathjax`` (for pages written into ``folder``); return that path."""
    folder = Path(folder)
    for name, data in mathjax_files().items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.stat().st_size != len(data):
            target.write_bytes(data)
    return folder / MATHJAX_FOLDER


def _has_plotly(nb: Any) -> bool:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if PLOTLY_MIMETYPE in output.get("data", {}):
                return True
    return False


class OfflineAssets(Preprocessor):
    """Give an HTML export what it needs offline: plotly.js for the template and the MathJax copy.

    Sets ``resources["course_plotly_js"]`` (read by the ``course_offline`` template) when the notebook
    has plotly figures, and adds the MathJax subset to ``resources["outputs"]``, which the writers of
    ``jupyter nbconvert`` and nbgrader save next to the page as ``mathjax/...``.
    """

    # nbgrader registers its converters' preprocessors without enabling them (nbconvert's default is
    # off), so this one is on unless configured otherwise.
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        if _has_plotly(nb):
            from plotly.offline import get_plotlyjs

            resources["course_plotly_js"] = get_plotlyjs()
        resources.setdefault("outputs", {}).update(mathjax_files())
        return nb, resources


def nbconvert_config() -> dict[str, Any]:
    """Configuration (JSON-ready) for nbconvert's HTML exporter: the offline template, assets, MathJax URL."""
    return {
        "HTMLExporter": {
            "extra_template_basedirs": [str(TEMPLATES)],
            "template_name": "course_offline",
            "mathjax_url": mathjax_url(),
            "preprocessors": ["course_utils.offline.OfflineAssets"],
        }
    }


def feedback_config(c: Any) -> None:
    """Make nbgrader's feedback read offline (for ``nbgrader_config.py``, after its feedback settings).

    Puts :data:`TEMPLATES` first in ``HTMLExporter.extra_template_basedirs``, so that any feedback
    template extending nbgrader's ``feedback`` finds the course's ``mathjax()`` macro
    (``templates/feedback/mathjax.html.j2``) first, and appends :class:`OfflineAssets` to
    ``GenerateFeedback.preprocessors``, so the MathJax copy is written next to each page. The template
    itself is left as configured. When no template folders are configured, nbgrader's own (which
    nbgrader adds only when the setting is left alone) are kept findable.
    """
    import nbgrader

    basedirs = list(c.HTMLExporter.get("extra_template_basedirs", []))
    if not basedirs:
        basedirs = [str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")]
        c.HTMLExporter.template_name = c.HTMLExporter.get("template_name", "feedback")
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), *[d for d in basedirs if d != str(TEMPLATES)]]
    c.HTMLExporter.mathjax_url = mathjax_url()
    preprocessors = list(c.GenerateFeedback.get("preprocessors", []))
    if OfflineAssets not in preprocessors:
        c.GenerateFeedback.preprocessors = [*preprocessors, OfflineAssets]


def install_jupyter_config(prefix: Path | str = sys.prefix) -> list[Path]:
    """Write :func:`nbconvert_config` for ``jupyter nbconvert`` and for the Jupyter server of ``prefix``.

    Files: ``etc/jupyter/jupyter_nbconvert_config.json`` (merged with what is there) and
    ``etc/jupyter/jupyter_server_config.d/course_offline.json`` (read by ``jupyter lab``'s server for
    its export menu). Returns the files written.
    """
    etc = Path(prefix) / "etc" / "jupyter"
    config = nbconvert_config()
    nbconvert_file = etc / "jupyter_nbconvert_config.json"
    existing = json.loads(nbconvert_file.read_text()) if nbconvert_file.is_file() else {}
    existing.setdefault("HTMLExporter", {}).update(config["HTMLExporter"])
    server_file = etc / "jupyter_server_config.d" / "course_offline.json"
    server_file.parent.mkdir(parents=True, exist_ok=True)
    nbconvert_file.write_text(json.dumps(existing, indent=2) + "\n")
    server_file.write_text(json.dumps(config, indent=2) + "\n")
    return [nbconvert_file, server_file]


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.offline install [PREFIX]``: write the Jupyter configuration files."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "install" or len(args) > 2:
        print("usage: python -m course_utils.offline install [PREFIX]   (default: this Python's prefix)")
        return 2
    for path in install_jupyter_config(args[1] if len(args) == 2 else sys.prefix):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
