"""A test cell's stderr text (progress bars, torch's C++ warnings) is shown, not scored as a failure."""

from __future__ import annotations

import copy

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.utils import determine_grade

from course_utils.grading.stderr_filter import StderrIsNotAnError, collapse_redraws

TEST_META = {"nbgrader": {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 2, "schema_version": 3}}
ANSWER_META = {"nbgrader": {"grade": False, "solution": True, "locked": False, "grade_id": "a", "schema_version": 3}}

TQDM = "\r  0%|          | 0/3 [00:00<?, ?it/s]\r 33%|###3      | 1/3 [00:00<00:00, 9.9it/s]\r100%|##########| 3/3 [00:00<00:00, 29.7it/s]\n"
NNPACK = "[W NNPACK.cpp:64] Could not initialize NNPACK! Reason: Unsupported hardware.\n"


def stream(name: str, text: str) -> nbformat.NotebookNode:
    return new_output("stream", name=name, text=text)


def graded_cell(*outputs: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return new_code_cell("check_sgd(SGD)", metadata=copy.deepcopy(TEST_META), outputs=list(outputs))


def filtered(*cells: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    notebook = new_notebook(cells=list(cells))
    notebook, _ = StderrIsNotAnError()(notebook, {})
    nbformat.validate(notebook)
    return notebook.cells


def test_progress_bar_and_torch_warning_no_longer_zero_a_passing_test_cell() -> None:
    cell = graded_cell(stream("stdout", "checking...\n"), stream("stderr", TQDM), stream("stderr", NNPACK))
    assert determine_grade(cell) == (0, 2.0)  # nbgrader's own rule, before the filter
    (cell,) = filtered(cell)
    assert determine_grade(cell) == (2.0, 2.0)
    assert [(o.output_type, o.name) for o in cell.outputs] == [("stream", "stdout")] * 3
    assert cell.outputs[1].text == "100%|##########| 3/3 [00:00<00:00, 29.7it/s]\n"
    assert cell.outputs[2].text == NNPACK  # still shown in the feedback


def test_an_error_still_scores_zero() -> None:
    error = new_output("error", ename="AssertionError", evalue="step 1 is wrong", traceback=["AssertionError: step 1 is wrong"])
    (cell,) = filtered(graded_cell(stream("stderr", TQDM), error))
    assert determine_grade(cell) == (0, 2.0)
    assert [o.output_type for o in cell.outputs] == ["stream", "error"]
    assert cell.outputs[1] == error


def test_answer_ungraded_and_markdown_cells_are_left_alone() -> None:
    answer = new_code_cell("def sgd(): ...", metadata=copy.deepcopy(ANSWER_META), outputs=[stream("stderr", TQDM)])
    demonstration = new_code_cell("train()", outputs=[stream("stderr", TQDM)])
    markdown = new_markdown_cell("Some text")
    before = copy.deepcopy([answer, demonstration, markdown])
    assert filtered(answer, demonstration, markdown) == before


def test_disabled_filter_changes_nothing() -> None:
    cell = graded_cell(stream("stderr", NNPACK))
    notebook = new_notebook(cells=[cell])
    notebook, _ = StderrIsNotAnError(enabled=False)(notebook, {})
    assert notebook.cells[0].outputs[0].name == "stderr"


def test_redraws_are_collapsed_line_by_line() -> None:
    assert collapse_redraws(TQDM) == "100%|##########| 3/3 [00:00<00:00, 29.7it/s]\n"
    assert collapse_redraws("epoch 1\r  50%\r 100%\nepoch 2\r 100%\n") == " 100%\n 100%\n"
    assert collapse_redraws("windows line\r\nnext\n") == "windows line\nnext\n"
    assert collapse_redraws("kept\r") == "kept"
    assert collapse_redraws("plain text\n") == "plain text\n"


def test_a_progress_bar_that_cleared_itself_leaves_no_output() -> None:
    (cell,) = filtered(graded_cell(stream("stderr", "\r 50%|#####     |\r" + " " * 20 + "\r")))
    assert cell.outputs == [] and determine_grade(cell) == (2.0, 2.0)
