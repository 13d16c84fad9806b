"""The course book (make book): every chapter page, its figures, math and Colab link, and no answers.

One build per session: the ``book`` fixture of conftest.py (course_utils.book.build_book into build/book,
from the session's one run of each reference notebook, which test_notebooks checks as well). The same
runs give the size of a saved, fully run notebook.
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, REPO, nbgrader_meta, read_notebook, source_notebook

pytestmark = pytest.mark.slow

LMS_UPLOAD_LIMIT = 3_000_000  # bytes: a saved, fully run notebook must fit an LMS upload


def page_text(path: Path) -> str:
    """What a reader sees: tags removed, entities decoded (code is split into highlighting spans)."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def solution_lines(assignment: str) -> list[str]:
    """Distinctive lines of the reference answers: inside BEGIN/END SOLUTION, and absent from the student notebook."""
    student = read_notebook(REPO / "notebooks" / assignment / f"{assignment}.ipynb")
    student_text = "\n".join(c.source for c in student.cells)
    lines = []
    for cell in source_notebook(assignment).cells:
        if not nbgrader_meta(cell).get("solution"):
            continue
        inside = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0] if "### BEGIN SOLUTION" in cell.source else cell.source
        candidates = [line.strip() for line in inside.splitlines() if len(line.strip()) >= 25 and line.strip() not in student_text]
        if candidates:
            lines.append(max(candidates, key=len))
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_fully_run_notebook_fits_an_lms_upload(book, assignment):
    executed = book / "executed" / f"{assignment}.ipynb"
    size = executed.stat().st_size
    assert size < LMS_UPLOAD_LIMIT, f"{assignment}: a run notebook weighs {size / 1e6:.1f} MB"
    notebook = read_notebook(executed)
    figures = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures and all("text/html" in o.data for o in figures), "the figures are still there, with their HTML"
    bundles = sum(o.data["text/html"].count("* plotly.js v") for c in notebook.cells if c.cell_type == "code"
                  for o in c.outputs if "text/html" in o.get("data", {}))
    assert bundles == 0, "plotly.js is supplied by the export, not saved in the notebook"


def test_the_front_page_lists_every_chapter(book):
    index = (book / "html" / "index.html").read_text()
    for assignment in ASSIGNMENTS:
        assert f"{assignment}/{assignment}.html" in index


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_chapter_page_has_figures_math_and_a_colab_link_to_the_student_notebook(book, assignment):
    page = book / "html" / assignment / f"{assignment}.html"
    source = page.read_text()
    assert 'class="plotly-graph-div' in source and "Plotly.newPlot" in source
    assert "../_static/plotly.min.js" in source and (book / "html" / "_static" / "plotly.min.js").is_file()
    assert 'class="math' in source
    assert "_static/mathjax/MathJax.js?config=" in source and (book / "html" / "_static" / "mathjax" / "MathJax.js").is_file()
    links = re.findall(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', source)
    assert links and all(link.endswith(f"/notebooks/{assignment}/{assignment}.ipynb") for link in links), links


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_chapter_page_shows_the_exercises_but_not_their_answers(book, assignment):
    text = page_text(book / "html" / assignment / f"{assignment}.html")
    assert "raise NotImplementedError()" in text, "the exercises show the student's starting point"
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    lines = solution_lines(assignment)
    assert lines, "found no reference lines to look for"
    leaked = [line for line in lines if line in text]
    assert not leaked, f"reference answers on the page: {leaked}"


# The book in a browser (offline: math typeset, figures drawn, the Colab link) is checked once, with the
# other offline pages: tests/browser/test_offline_pages.py::test_book_typesets_math_renders_figures_and_links_to_colab_offline.
