"""Offline HTML: exports and feedback typeset math and draw figures in a browser with no network.

The browser checks open the page from ``file://`` in Debian's chromium (Playwright) with every request
that is not a local file aborted, then look for MathJax's output and plotly's drawing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest
from traitlets.config import Config

from conftest import REPO
from course_utils import offline
from course_utils.plotting import CourseRenderer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_browser = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="chromium is not installed (make browser)")
MATH = r"The step is $\theta_{t+1} = \theta_t - \eta \nabla f(\theta_t)$, and $$\sum_{k=1}^{n} g_k^2 .$$"


def small_notebook() -> nbformat.NotebookNode:
    """A notebook with math in markdown and one plotly figure as the course renderer saves it."""
    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[3, 1, 2], name="path"))
    output = nbformat.v4.new_output("display_data", data=CourseRenderer().to_mimebundle(fig.to_dict()))
    code = nbformat.v4.new_code_cell("fig", outputs=[output], execution_count=1)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MATH), code])


def open_offline(page_path: Path) -> dict:
    """Open ``page_path`` in chromium with the network cut off; report what MathJax and plotly drew."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page()
            blocked: list[str] = []

            def route(request_route):
                if request_route.request.url.startswith("file://"):
                    request_route.continue_()
                else:
                    blocked.append(request_route.request.url)
                    request_route.abort()

            page.route("**/*", route)
            # Generous limits: a busy two-core machine takes a while to typeset a long chapter.
            page.goto(page_path.resolve().as_uri(), wait_until="domcontentloaded", timeout=300_000)
            page.wait_for_function(
                "() => window.MathJax && MathJax.Hub && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0"
                " && document.querySelectorAll('.MathJax, .MathJax_Display, mjx-container, .MathJax_CHTML').length > 0",
                timeout=300_000,
            )
            return {
                "math": page.locator(".MathJax, .MathJax_Display, mjx-container, .MathJax_CHTML").count(),
                "text": page.inner_text("body"),
                "plots": page.locator(".plotly-graph-div.js-plotly-plot").count(),  # the class newPlot adds
                "blocked": blocked,
            }
        finally:
            browser.close()


def test_mathjax_copy_has_what_the_page_loads_and_leaves_out_the_rest(tmp_path):
    folder = offline.copy_mathjax(tmp_path)
    assert (folder / "MathJax.js").is_file()
    config = offline.MATHJAX_CONFIG.split(",")[0]
    assert (folder / "config" / f"{config}.js").is_file()
    assert list((folder / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").glob("*.woff"))
    assert not (folder / "localization" / "de").exists() and not (folder / "extensions" / "a11y").exists()
    assert offline.mathjax_url() == f"mathjax/MathJax.js?config={offline.MATHJAX_CONFIG}"


def test_install_jupyter_config_writes_nbconvert_and_server_files_and_keeps_other_settings(tmp_path):
    etc = tmp_path / "etc" / "jupyter"
    etc.mkdir(parents=True)
    (etc / "jupyter_nbconvert_config.json").write_text('{"NbConvertApp": {"export_format": "html"}}')
    written = offline.install_jupyter_config(tmp_path)
    import json

    nbconvert_config = json.loads((etc / "jupyter_nbconvert_config.json").read_text())
    assert nbconvert_config["NbConvertApp"] == {"export_format": "html"}
    assert nbconvert_config["HTMLExporter"]["template_name"] == "course_offline"
    server = json.loads((etc / "jupyter_server_config.d" / "course_offline.json").read_text())
    assert server["HTMLExporter"]["mathjax_url"].startswith("mathjax/MathJax.js")
    assert len(written) == 2


@pytest.fixture(scope="module")
def nbconvert_export(tmp_path_factory) -> Path:
    """``jupyter nbconvert --to html`` of the small notebook, with the course's configuration installed."""
    prefix = tmp_path_factory.mktemp("prefix")
    offline.install_jupyter_config(prefix)
    folder = tmp_path_factory.mktemp("export")
    nbformat.write(small_notebook(), str(folder / "chapter.ipynb"))
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(prefix / "etc" / "jupyter")}
    subprocess.run([str(Path(sys.executable).with_name("jupyter")), "nbconvert", "--to", "html", "chapter.ipynb"],
                   cwd=folder, env=env, check=True, capture_output=True)
    return folder / "chapter.html"


def test_nbconvert_export_embeds_plotly_once_and_loads_mathjax_from_the_folder_beside_it(nbconvert_export):
    html = nbconvert_export.read_text()
    assert html.count("* plotly.js v") == 1, "plotly.js belongs in the page exactly once"
    sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    assert not [s for s in sources if "plot.ly" in s or "plotly" in s or "mathjax" in s.lower() and s.startswith("http")]
    assert offline.mathjax_url() in sources
    assert (nbconvert_export.parent / "mathjax" / "MathJax.js").is_file()


@pytest.mark.slow  # chromium: left out of make test-fast
@needs_browser
def test_nbconvert_export_typesets_math_and_draws_the_figure_with_no_network(nbconvert_export):
    seen = open_offline(nbconvert_export)
    assert seen["math"] >= 2, "MathJax typeset nothing"
    assert r"\theta" not in seen["text"] and "$" not in seen["text"], "raw TeX left in the page"
    assert seen["plots"] == 1, "the plotly figure was not drawn"


@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory) -> Path:
    """The small notebook through the feedback exporter and template that ``nbgrader_config.py`` sets up.

    Only the course's offline preprocessor runs (the others need a gradebook); the page is written by
    nbconvert's FilesWriter, as nbgrader's feedback step writes it.
    """
    from nbconvert.writers import FilesWriter

    c = Config()
    exec(compile((REPO / "nbgrader_config.py").read_text(), "nbgrader_config.py", "exec"), {"get_config": lambda: c})
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    root = tmp_path_factory.mktemp("course")
    converter = GenerateFeedback(coursedir=CourseDirectory(config=c, root=str(root)), config=c)
    assert offline.OfflineAssets in converter.preprocessors
    exporter = converter.exporter_class(parent=converter, config=converter.config)  # as nbgrader's start() does
    for preprocessor in converter.preprocessors:  # only the offline one; registered exactly as nbgrader does
        if preprocessor is offline.OfflineAssets:
            exporter.register_preprocessor(preprocessor)
    resources = {"nbgrader": {"notebook": "chapter", "score": 1, "max_score": 2, "late_penalty": 0}}
    body, resources = exporter.from_notebook_node(small_notebook(), resources=resources)
    folder = tmp_path_factory.mktemp("feedback")
    FilesWriter(build_directory=str(folder)).write(body, resources, notebook_name="chapter")
    return folder / "chapter.html"


def test_feedback_loads_mathjax_from_the_folder_beside_it(feedback_page):
    html = feedback_page.read_text()
    assert "chapter (Score: " in html, "not the feedback page"
    sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    assert offline.mathjax_url() in sources and not [s for s in sources if "mathjax" in s.lower() and s.startswith("http")]
    assert (feedback_page.parent / "mathjax" / "MathJax.js").is_file()


@pytest.mark.slow  # chromium: left out of make test-fast
@needs_browser
def test_feedback_typesets_math_with_no_network(feedback_page):
    seen = open_offline(feedback_page)
    assert seen["math"] >= 2 and r"\theta" not in seen["text"]


def test_the_two_copies_of_the_mathjax_macro_are_the_same():
    """nbconvert finds templates by folder, so the export's and the feedback's macro are two files."""
    def macro(path: Path) -> str:
        text = path.read_text()
        return text[text.index("{%- macro"):]

    assert macro(offline.TEMPLATES / "course_offline" / "mathjax.html.j2") == macro(offline.TEMPLATES / "feedback" / "mathjax.html.j2")
