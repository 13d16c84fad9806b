"""Sphinx configuration of the course book (``make book``; see ``course_utils/book.py``).

The pages are the reference notebooks after a run, with the answers replaced by the student stubs;
``course_utils.book.build_book`` prepares them and the static files, then runs Sphinx with this file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

REPO = Path(os.environ.get("COURSE_REPO", Path(__file__).resolve().parents[1]))
STATIC = os.environ.get("COURSE_BOOK_STATIC", str(REPO / "build" / "book" / "static"))


def course_repository() -> tuple[str, str]:
    """``(owner/name, branch)`` of the public student repository: ``[tool.course]`` in pyproject.toml, else the README."""
    course = tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("course", {})
    if course.get("repository"):
        return course["repository"], course.get("branch", "main")
    found = re.search(r"github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?(?=[\s/)#]|$)", (REPO / "README.md").read_text())
    if not found:
        raise RuntimeError("no repository: set [tool.course] repository = 'owner/name' in pyproject.toml")
    return found.group(1), "main"


REPOSITORY, BRANCH = course_repository()

project = "Optimizers, by hand"
author = "the course authors"
html_title = project
extensions = ["myst_nb", "sphinx.ext.mathjax"]
exclude_patterns = ["**.ipynb_checkpoints"]
# plotly's own mimetype has no renderer in a static page; its text/html twin is what the page shows.
suppress_warnings = ["mystnb.unknown_mime_type"]

# The notebooks were run by course_utils.book (outputs included); MyST-NB only reads them.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
# A widget needs a kernel; offline its JavaScript (from a CDN) is not there either. Its saved text stays.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
]

html_theme = "sphinx_book_theme"
html_static_path = [STATIC]
# plotly.js once per page, before anything else (figures are <div>s plus a Plotly.newPlot call).
html_js_files = [("plotly.min.js", {"priority": 200})]
# MathJax 2.7 from the course's copy (jupyter-server-mathjax) in _static: the book typesets offline.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
mathjax2_config = {
    # Sphinx writes math as <span class="math">\( \)</span> (and \[ \] blocks); MyST-NB marks the rest of
    # a notebook page tex2jax_ignore, so MathJax looks at the "math" elements only.
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processClass": "math",
        "processEscapes": True,
    },
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    "messageStyle": "none",
}

html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": BRANCH,
    # Launch buttons open <path_to_docs>/<page>.ipynb: the student notebook, not the reference.
    "path_to_docs": "notebooks",
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "use_repository_button": True,
}
