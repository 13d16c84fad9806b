"""The notebooks: committed clean, shaped as the course promises, and executing top to bottom."""

from __future__ import annotations

import importlib
import re

import nbformat
import pytest

from conftest import ASSIGNMENTS, REPO, executed_reference, nbgrader_meta, read_notebook, source_notebook

ALL_NOTEBOOKS = sorted([*REPO.glob("solutions/*/*.ipynb"), *REPO.glob("notebooks/*/*.ipynb")])


def test_there_is_at_least_one_assignment() -> None:
    assert "01_sgd" in ASSIGNMENTS


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_committed_notebook_has_no_outputs(path) -> None:
    notebook = read_notebook(path)
    dirty = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} carry outputs or execution counts"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_solutions_notebook_has_a_student_twin(assignment: str) -> None:
    assert (REPO / "notebooks" / assignment / f"{assignment}.ipynb").is_file()


def _checks_module(assignment: str):
    from course_utils.checks import checks_for

    return checks_for(assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_cell_is_one_visible_check_and_its_hidden_twin(assignment: str) -> None:
    registry = _checks_module(assignment).CELL_CHECKS
    cells = {nbgrader_meta(c).get("grade_id"): c for c in source_notebook(assignment).cells}
    test_cells = {gid for gid, c in cells.items() if nbgrader_meta(c).get("grade") and c.cell_type == "code"}
    assert test_cells == set(registry)
    for grade_id, (check, _) in registry.items():
        meta = nbgrader_meta(cells[grade_id])
        assert meta["locked"] and meta["points"] > 0
        source = cells[grade_id].source
        visible, _, hidden = source.partition("### BEGIN HIDDEN TESTS")
        assert f"{check.__name__}(" in visible and "thorough=True" not in visible
        assert f"{check.__name__}(" in hidden and "thorough=True" in hidden and "### END HIDDEN TESTS" in hidden


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_exercise_states_difficulty_time_and_hints(assignment: str) -> None:
    notebook = source_notebook(assignment)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    exercises = [c for c in notebook.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")]
    assert len(re.findall(r"(?i)difficulty", markdown)) >= len(exercises)
    assert len(re.findall(r"(?i)\bmin\b|minutes", markdown)) >= len(exercises)
    assert markdown.count("<details>") >= len(exercises), "each exercise needs hints that unfold"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_has_a_manually_graded_written_answer(assignment: str) -> None:
    manual = [c for c in source_notebook(assignment).cells
              if c.cell_type == "markdown" and nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("solution")]
    assert manual


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_opens_in_colab_and_installs_course_utils_there(assignment: str) -> None:
    notebook = source_notebook(assignment)
    first_markdown = "\n".join(c.source for c in notebook.cells[:3] if c.cell_type == "markdown")
    assert f"colab.research.google.com/github/" in first_markdown and f"notebooks/{assignment}/{assignment}.ipynb" in first_markdown
    setup = next(c for c in notebook.cells if nbgrader_meta(c).get("grade_id") == "setup")
    assert nbgrader_meta(setup)["locked"]
    assert "google.colab" in setup.source and "pip" in setup.source


# --- execution --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def executed(request) -> tuple[str, nbformat.NotebookNode]:
    """The reference notebook run top to bottom in this session (one run per chapter, shared: conftest.py)."""
    assignment = request.param
    return assignment, read_notebook(executed_reference(assignment))


@pytest.mark.slow
def test_solution_notebook_runs_without_errors(executed) -> None:
    _, notebook = executed
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(notebook.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.slow
def test_test_cells_print_their_success_line_and_nothing_on_stderr(executed) -> None:
    _, notebook = executed
    for cell in notebook.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade"):
            streams = [o for o in cell.outputs if o.output_type == "stream"]
            assert not [o for o in streams if o.name == "stderr"], nbgrader_meta(cell)["grade_id"]
            assert not [o for o in cell.outputs if o.output_type == "execute_result"], "a value would be read as partial credit"
            assert "\u2714" in "".join(o.text for o in streams)


@pytest.mark.slow
def test_figures_render_in_the_notebook_and_in_html_export(executed) -> None:
    from nbconvert import HTMLExporter

    _, notebook = executed
    mimes = [set(o.get("data", {})) for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    plotly = [m for m in mimes if "application/vnd.plotly.v1+json" in m]
    assert plotly and all("text/html" in m for m in plotly), "plotly figures need an HTML fallback for export"
    static = [m for m in mimes if "image/png" in m]
    assert all("text/plain" in m for m in static), "static figures display as PNG with a text fallback"
    html, _ = HTMLExporter().from_notebook_node(notebook)
    assert "Plotly.newPlot" in html and "plotly" in html.lower()
