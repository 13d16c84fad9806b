"""``HideHiddenTests``: feedback shows scores and check messages, never hidden tests or reference code."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from conftest import REPO, nbgrader_meta, read_notebook, source_notebook
from course_utils.grading.feedback_filter import (
    HideHiddenTests,
    drop_leaking_lines,
    is_test_cell,
    strip_hidden_tests,
    strip_solution_markers,
)

ASSIGNMENT = "01_sgd"
RESOURCES = {"nbgrader": {"assignment": ASSIGNMENT, "notebook": ASSIGNMENT, "student": "x"}}
FAILED_CELL = "test_SGD_plain"
MESSAGE = "SGD, configuration 2 (momentum=0.9), step 3: parameter 0 expected 0.5, got 0.4 (momentum buffer not kept)"
PASSED = "SGD matches torch.optim.SGD: 4 configurations, 40 steps."


def reference_line(source: nbformat.NotebookNode, grade_id: str) -> str:
    """The longest line of the reference answer of ``grade_id`` (inside solution markers; no HTML-escaped characters)."""
    cell = next(c for c in source.cells if nbgrader_meta(c).get("grade_id") == grade_id)
    inside, candidates = False, []
    for line in cell.source.split("\n"):
        if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
            inside = line.strip() == "### BEGIN SOLUTION"
        elif inside and not any(ch in line for ch in "\"'<>&"):
            candidates.append(line)
    return max(candidates, key=lambda line: len(line.strip()))


def autograded_like(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The source notebook as autograde leaves it: full test cells, with outputs that quote the hidden part."""
    notebook = copy.deepcopy(source)
    secret = reference_line(source, "SGD")
    for cell in notebook.cells:
        if not is_test_cell(cell):
            continue
        hidden_call = next(line for line in cell.source.split("\n") if "thorough=True" in line)
        cell.outputs = [nbformat.v4.new_output(
            "stream", name="stdout",
            text=f"{PASSED}\n\x1b[0;31m>>> {hidden_call}\x1b[0m\nrunning ### BEGIN HIDDEN TESTS\n",
        )]
        if nbgrader_meta(cell)["grade_id"] == FAILED_CELL:
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="CheckFailed", evalue=MESSAGE,
                traceback=[
                    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
                    "\x1b[0;31mCheckFailed\x1b[0m                               Traceback (most recent call last)",
                    "Cell \x1b[0;32mIn[12], line 3\x1b[0m\n\x1b[1;32m      1\x1b[0m checks\x1b[38;5;241m.\x1b[39mcheck_sgd_plain(SGD)\n"
                    "\x1b[1;32m      2\x1b[0m ### BEGIN HIDDEN TESTS\n"
                    f"\x1b[0;32m----> 3\x1b[0m {hidden_call}\n",
                    f"Cell \x1b[0;32mIn[9], line 40\x1b[0m, in \x1b[0;36mSGD.step\x1b[0;34m(self)\x1b[0m\n{secret}\n",
                    f"\x1b[0;31mCheckFailed\x1b[0m: {MESSAGE}",
                ],
            ))
    return notebook


def run_filter(notebook: nbformat.NotebookNode, **traits) -> nbformat.NotebookNode:
    processed, _ = HideHiddenTests(**traits).preprocess(copy.deepcopy(notebook), copy.deepcopy(RESOURCES))
    return processed


def checks_by_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {nbgrader_meta(c)["grade_id"]: c for c in notebook.cells if is_test_cell(c)}


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything a cell's outputs would show, as one string."""
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=cell.outputs)]))


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return source_notebook(ASSIGNMENT)


@pytest.fixture(scope="module")
def release() -> nbformat.NotebookNode:
    return read_notebook(REPO / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


@pytest.fixture
def in_repo(monkeypatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def hidden_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Per test cell, the lines of its source version that its released version does not have."""
    released = checks_by_id(release)
    return {
        grade_id: [line for line in cell.source.split("\n") if line not in released[grade_id].source.split("\n")]
        for grade_id, cell in checks_by_id(source).items()
    }


def assert_nothing_hidden_left(processed: nbformat.NotebookNode, source: nbformat.NotebookNode,
                               release: nbformat.NotebookNode) -> None:
    secret = reference_line(source, "SGD")
    hidden = hidden_lines(source, release)
    cells = checks_by_id(processed)
    assert set(cells) == set(hidden) and FAILED_CELL in cells
    for grade_id, cell in cells.items():
        outputs = output_text(cell)
        for text in (cell.source, outputs):
            assert "BEGIN HIDDEN TESTS" not in text and "thorough" not in text and secret not in text
            assert not any(line.strip() and line in text for line in hidden[grade_id])
        assert PASSED in outputs
    for cell in processed.cells:
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source


def test_test_cells_show_the_released_source(in_repo, source, release) -> None:
    processed = run_filter(autograded_like(source))
    released = checks_by_id(release)
    for grade_id, cell in checks_by_id(processed).items():
        assert cell.source == released[grade_id].source
    assert_nothing_hidden_left(processed, source, release)


def test_failed_check_keeps_its_message_only(in_repo, source) -> None:
    cell = checks_by_id(run_filter(autograded_like(source)))[FAILED_CELL]
    assert cell.source == "checks.check_sgd_plain(SGD)"
    stream, error = cell.outputs
    assert stream.text == f"{PASSED}\n"
    assert (error.ename, error.evalue, error.traceback) == ("CheckFailed", MESSAGE, [f"CheckFailed: {MESSAGE}"])


def test_metadata_is_untouched(in_repo, source) -> None:
    before = autograded_like(source)
    after = run_filter(before)
    assert len(after.cells) == len(before.cells)
    assert [c.metadata for c in after.cells] == [c.metadata for c in before.cells]
    assert checks_by_id(after)[FAILED_CELL].metadata.nbgrader.points == 2


def test_answer_cells_lose_only_the_solution_markers(in_repo, source) -> None:
    before = autograded_like(source)
    after = run_filter(before)
    for old, new in zip(before.cells, after.cells):
        if nbgrader_meta(old).get("solution"):
            assert new.source == strip_solution_markers(old.source)
        elif not is_test_cell(old):
            assert new.source == old.source and new.get("outputs") == old.get("outputs")


def test_without_a_release_the_hidden_region_is_cut(tmp_path: Path, monkeypatch, source, release) -> None:
    monkeypatch.chdir(tmp_path)  # no notebooks/ here
    processed = run_filter(autograded_like(source))
    released = checks_by_id(release)
    for grade_id, cell in checks_by_id(processed).items():
        assert cell.source == released[grade_id].source
    assert_nothing_hidden_left(processed, source, release)


def test_a_test_cell_missing_from_the_release_falls_back(tmp_path: Path, monkeypatch, source, release) -> None:
    trimmed = copy.deepcopy(release)
    trimmed.cells = [c for c in trimmed.cells if nbgrader_meta(c).get("grade_id") != FAILED_CELL]
    for cell in checks_by_id(trimmed).values():
        cell.source += "  # as released"
    folder = tmp_path / "released" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(trimmed, str(folder / f"{ASSIGNMENT}.ipynb"))
    monkeypatch.chdir(tmp_path)
    cells = checks_by_id(run_filter(autograded_like(source), release_directory="released"))
    assert cells[FAILED_CELL].source == "checks.check_sgd_plain(SGD)"
    assert all(c.source.endswith("  # as released") for g, c in cells.items() if g != FAILED_CELL)


def test_html_shows_the_message_and_not_the_hidden_tests(in_repo, source) -> None:
    html, _ = HTMLExporter().from_notebook_node(run_filter(autograded_like(source)), resources=copy.deepcopy(RESOURCES))
    assert MESSAGE.split(":")[0] in html and "momentum buffer not kept" in html and PASSED in html
    assert "thorough" not in html and "HIDDEN TESTS" not in html and "BEGIN SOLUTION" not in html
    assert reference_line(source, "SGD").strip() not in html


def test_html_with_nbgraders_feedback_template_keeps_scores(in_repo, source) -> None:
    """The template ``generate_feedback`` uses, with the scores GetGrades would have put in the metadata."""
    import nbgrader

    notebook = run_filter(autograded_like(source))
    for cell in notebook.cells:
        if nbgrader_meta(cell).get("grade"):
            cell.metadata.nbgrader["score"] = 0 if nbgrader_meta(cell)["grade_id"] == FAILED_CELL else cell.metadata.nbgrader["points"]
    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    exporter = HTMLExporter(  # as nbgrader's GenerateFeedback configures it
        template_name="feedback",
        extra_template_basedirs=[str(formgrader / "templates")],
        extra_template_paths=[str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css")],
    )
    resources = copy.deepcopy(RESOURCES)
    resources["nbgrader"].update(score=14.0, max_score=16.0, late_penalty=0)
    html, _ = exporter.from_notebook_node(notebook, resources=resources)
    assert "(Score: 14.0 / 16.0)" in html and "Score: 0.0 / 2.0" in html
    assert "momentum buffer not kept" in html and "thorough" not in html and "HIDDEN TESTS" not in html


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc", "a\nc"),
        ("a\n### BEGIN HIDDEN TESTS\nb", "a"),  # never closed: hidden to the end
        ("no markers\n", "no markers\n"),
    ],
)
def test_strip_hidden_tests(text: str, expected: str) -> None:
    assert strip_hidden_tests(text) == expected


def test_strip_solution_markers_and_leaking_lines() -> None:
    assert strip_solution_markers("x = 1\n### BEGIN SOLUTION\ny = 2\n    ### END SOLUTION\n") == "x = 1\ny = 2\n"
    assert drop_leaking_lines("ok\n\x1b[1mcheck(thorough\x1b[0m=True)\nfine", ["thorough=True"]) == "ok\nfine"
    assert drop_leaking_lines("keep\x1b[31m thorough=True\x1b[0m\n", ["thorough=True"]) == ""
