"""A failing check in JupyterLab, and the course's static pages opened offline in chromium.

- In JupyterLab, a wrong (or missing) answer followed by its check cell shows the check's message,
  not a long traceback into ``course_utils``.
- An exported HTML chapter, one feedback report and the book, opened from ``file://`` with every
  network request aborted: math is typeset and figures render. The chapter and the book come from the
  session's one run of each reference notebook and its one book build (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import executed_reference  # tests/conftest.py: one run per chapter and session

from .conftest import (MATH, NOTEBOOK, REPO, VENV_BIN, IMAGES_BROKEN, PLOTLY_RENDERED, Lab, math_problems,
                       open_notebook, open_offline, plotly_outputs, png_outputs, run_menu, student_notebook,
                       wait_kernel_idle)

pytestmark = pytest.mark.slow

CHAPTER = "01_sgd"
EXERCISE = "gradient_descent_by_hand"


@pytest.fixture(scope="module")
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def grade_ids(notebook: nbformat.NotebookNode) -> dict[str, int]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): i for i, cell in enumerate(notebook.cells)
            if cell.metadata.get("nbgrader", {}).get("grade_id")}


def expected_check_message(answer_source: str) -> str:
    """What the chapter's check raises for this answer, computed here, outside the browser."""
    from course_utils.checks import sgd as checks
    from course_utils.checks.feedback import CheckFailed

    namespace: dict = {"__name__": "__student__"}
    exec(compile("import math\nimport torch\n" + answer_source, "<answer>", "exec"), namespace)
    with pytest.raises(CheckFailed) as failure:
        getattr(checks, f"check_{EXERCISE}")(namespace[EXERCISE])
    return str(failure.value).strip()


@pytest.mark.parametrize("student", ["path_mistakes", "blank"])
def test_a_failing_check_shows_its_message_not_a_traceback(student: str, lab: Lab, context, shots) -> None:
    from course_utils.grading.planted import planted_for

    planted = next(p for p in planted_for(CHAPTER) if p.student_id == student)
    assert planted.blank or EXERCISE in planted.replacements, f"{student} should get {EXERCISE} wrong"
    notebook = student_notebook(CHAPTER, answered=not planted.blank, replacements=dict(planted.replacements))
    path = f"{CHAPTER}/{student}.ipynb"
    nbformat.write(notebook, lab.root / path)
    ids = grade_ids(notebook)
    answer, check = ids[EXERCISE], ids[f"test_{EXERCISE}"]
    message = expected_check_message(notebook.cells[answer].source)

    lab.shutdown_kernels()
    page = context.new_page()
    try:
        open_notebook(page, lab, path)
        cells = page.locator(f"{NOTEBOOK} .jp-Cell")
        cells.nth(check + 1).locator(".jp-InputPrompt").first.click()
        run_menu(page, "Run All Above Selected Cell")
        page.wait_for_timeout(2000)
        wait_kernel_idle(page, lab)
        output = cells.nth(check).locator(".jp-Cell-outputArea")
        output.scroll_into_view_if_needed()
        shots(page, "check-failed")
        text = output.inner_text()
    finally:
        page.close()
    first_line = message.splitlines()[0]
    assert first_line in text, f"the check's message {first_line!r} is not shown; the output reads:\n{text}"
    assert "CheckFailed" in text
    # The student's own frames may be quoted; frames inside the course's checks are noise to a student.
    assert "/course_utils/" not in text, f"the output shows frames inside course_utils:\n{text}"
    assert len(text.strip().splitlines()) <= len(message.splitlines()) + 3, f"more than the message is shown:\n{text}"


def nbconvert_html(notebook: Path, output_dir: Path) -> Path:
    """``jupyter nbconvert --to html`` from the venv, in the course root (its Jupyter configuration applies)."""
    result = subprocess.run([str(VENV_BIN / "jupyter"), "nbconvert", "--to", "html", str(notebook),
                             "--output-dir", str(output_dir)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return output_dir / f"{notebook.stem}.html"


def assert_renders_offline(context, html: Path, notebook: nbformat.NotebookNode, shots, step: str) -> None:
    offline = open_offline(context, html)
    try:
        problems = math_problems(offline)
        shots(offline.page, f"{step}-top")
        expected_plots = plotly_outputs(notebook)
        if expected_plots:
            try:
                offline.page.wait_for_function(f"() => ({PLOTLY_RENDERED})() >= {expected_plots}", timeout=60_000)
            except Exception:  # playwright's TimeoutError: counted and reported below
                pass
        rendered = offline.page.evaluate(PLOTLY_RENDERED)
        first_plot = offline.page.locator(".js-plotly-plot, .plotly-graph-div, .jp-RenderedImage img").first
        if first_plot.count():
            first_plot.scroll_into_view_if_needed()
            shots(offline.page, f"{step}-first-figure")
        broken = offline.page.evaluate(IMAGES_BROKEN)
        if rendered < expected_plots:
            problems.append(f"{rendered} of {expected_plots} plotly figures rendered; blocked: {offline.blocked[:8]}; "
                            f"JavaScript errors: {offline.log.errors[:5]}")
        if broken:
            problems.append(f"{broken} embedded images do not display")
        shown_images = offline.page.evaluate("() => document.querySelectorAll('img[src^=\"data:image/png\"]').length")
        if shown_images < png_outputs(notebook):
            problems.append(f"{shown_images} of {png_outputs(notebook)} PNG figures are in the page")
    finally:
        offline.page.close()
    assert not problems, f"{html.name}: " + "; ".join(problems)


def test_exported_chapter_typesets_math_and_renders_figures_offline(context, tmp_path, shots) -> None:
    """The reference chapter, run top to bottom (this session's run), exported by nbconvert as a student would."""
    executed = nbformat.read(executed_reference(CHAPTER), as_version=4)
    assert plotly_outputs(executed) > 0
    path = tmp_path / f"{CHAPTER}.ipynb"
    nbformat.write(executed, path)
    html = nbconvert_html(path, tmp_path / "html")
    assert_renders_offline(context, html, executed, shots, "exported-chapter")


def run_cli(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "course_utils.grading", *args, "--course", str(course)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_feedback_report_typesets_math_and_renders_figures_offline(context, tmp_path, shots) -> None:
    from course_utils.grading.course import Course
    from course_utils.grading.planted import planted_for
    from course_utils.grading.submissions import write_submission

    course = Course.scratch_copy(Course(REPO), tmp_path / "course")
    for other in (course.root / "solutions").iterdir():  # grade one chapter only
        if other.name != CHAPTER:
            shutil.rmtree(other)
    students = [p for p in planted_for(CHAPTER) if p.student_id == "path_mistakes"]  # one: grading is the slow part
    for planted in students:
        notebook = student_notebook(CHAPTER, answered=not planted.blank, replacements=dict(planted.replacements))
        write_submission(notebook, course.submission_path(planted.student_id, CHAPTER))
    course.release(CHAPTER)  # the instructor's make release: make grade grades against notebooks/ and never writes it
    graded = run_cli(course.root, "grade", "--jobs", "1")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    feedback = run_cli(course.root, "feedback")
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr

    for planted in students:
        html = course.root / "feedback" / planted.student_id / CHAPTER / f"{CHAPTER}.html"
        assert html.is_file(), f"no feedback report at {html}:\n{feedback.stdout}{feedback.stderr}"
        autograded = nbformat.read(course.root / "autograded" / planted.student_id / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
        assert_renders_offline(context, html, autograded, shots, f"feedback-{planted.student_id}")


MATHJAX_DONE = ("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue && MathJax.Hub.queue.pending === 0"
                " && document.querySelectorAll('%s').length > 0" % MATH)


def test_book_typesets_math_renders_figures_and_links_to_colab_offline(context, book: Path, shots) -> None:
    """The book (the session's build, tests/conftest.py), its front page and one chapter page offline."""
    html = book / "html"
    index = html / "index.html"
    assert index.is_file(), f"the book has no index.html in {html}"
    offline = open_offline(context, index)
    try:
        shots(offline.page, "book-index")
        chapter_pages = sorted(html.rglob(f"*{CHAPTER}*.html"))
        assert chapter_pages, f"the book has no page for {CHAPTER} under {html}"
    finally:
        offline.page.close()

    offline = open_offline(context, chapter_pages[0])
    try:
        problems = math_problems(offline)
        shots(offline.page, "book-chapter")
        try:
            offline.page.wait_for_function(f"() => ({PLOTLY_RENDERED})() > 0", timeout=60_000)
        except Exception:  # playwright's TimeoutError: reported below
            problems.append(f"no plotly figure rendered; blocked: {offline.blocked[:8]}; errors: {offline.log.errors[:5]}")
        else:
            offline.page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
            shots(offline.page, "book-chapter-figure")
        colab = offline.page.locator("a[href*='colab.research.google.com']")
        if colab.count() == 0:
            problems.append("no 'Open in Colab' link")
        # The whole chapter typeset, not only its first formula (MathJax's queue empty; a busy machine is slow).
        offline.page.wait_for_function(MATHJAX_DONE, timeout=300_000)
        typeset = offline.page.locator(MATH).count()
        if typeset <= 10:
            problems.append(f"only {typeset} typeset formulas in the chapter")
        if "\\theta" in offline.page.inner_text("body"):
            problems.append("raw TeX (\\theta) left anywhere in the page")
    finally:
        offline.page.close()
    assert not problems, f"{chapter_pages[0].name}: " + "; ".join(problems)
