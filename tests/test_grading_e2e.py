"""The whole nbgrader pipeline, end to end, on the demo class (one autograde run shared by every test).

The run goes through the instructors' own command line (``python -m course_utils.grading grade``, what
``make grade`` calls) on a scratch copy of the course with nothing submitted, so it grades the demo
class: the reference, a blank notebook and the planted mistakes of ``course_utils.grading.planted``
(the independent check outside the kernel included). The attacks are in ``test_adversarial.py``.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, REPO
from course_utils.grading.planted import BLANK, REFERENCE, planted_for
from course_utils.grading.report import read_scores

pytestmark = pytest.mark.slow  # one file, one xdist worker (make test uses --dist loadfile): one shared autograde run


def run_cli(course: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "course_utils.grading", command, "--course", str(course), *extra],
                          capture_output=True, text=True, timeout=3000)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions")
    return root


@pytest.fixture(scope="module")
def graded(course: Path) -> tuple[Path, str]:
    # The adversarial submissions are graded by tests/test_adversarial.py, beside this run.
    result = run_cli(course, "grade", "--demo-class", "planted", "--jobs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    return course / "build" / "demo_class", result.stdout


@pytest.fixture(scope="module")
def tables(graded) -> dict:
    demo, _ = graded
    return {a: read_scores(f"sqlite:///{demo / 'gradebook.db'}", a) for a in ASSIGNMENTS}


def autograded_cells(table) -> list[str]:
    return [c for c in table.cells if c not in table.manual_cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_earns_full_marks_on_every_autograded_cell(tables, assignment: str) -> None:
    table = tables[assignment]
    row = table.rows[REFERENCE]
    lost = {c: row[c].score for c in autograded_cells(table) if row[c].score != row[c].max_score}
    assert not lost, f"reference lost points in {lost}"
    assert table.autograded_total(REFERENCE)[1] > 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_notebook_earns_nothing(tables, assignment: str) -> None:
    table = tables[assignment]
    assert table.total(BLANK)[0] == 0
    assert all(table.rows[BLANK][c].score == 0 for c in autograded_cells(table))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_planted_mistake_loses_exactly_the_cells_that_test_it(tables, assignment: str) -> None:
    table = tables[assignment]
    for planted in planted_for(assignment):
        if planted.student_id in (REFERENCE, BLANK):
            continue
        row = table.rows[planted.student_id]
        lost = {c for c in autograded_cells(table) if row[c].score != row[c].max_score}
        assert lost == set(planted.loses), f"{planted.student_id}: lost {sorted(lost)}, expected {sorted(planted.loses)}"
        for cell in planted.loses:
            assert row[cell].score == 0, f"{planted.student_id} kept partial credit in {cell}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_written_answers_wait_for_a_person(tables, assignment: str) -> None:
    table = tables[assignment]
    assert table.manual_cells, "each assignment has at least one manually graded written answer"
    for cell in table.manual_cells:
        assert table.rows[REFERENCE][cell].needs_manual_grade


def test_grade_prints_a_table_with_every_student_and_cell(graded, tables) -> None:
    _, stdout = graded
    for assignment, table in tables.items():
        assert f"Assignment {assignment}" in stdout
        for cell in table.cells:
            assert cell in stdout
        for student in table.rows:
            assert student in stdout
    reference_line = next(line for line in stdout.splitlines() if line.startswith(REFERENCE + " "))
    auto, auto_max = tables[ASSIGNMENTS[0]].autograded_total(REFERENCE)
    assert f"{auto:g}/{auto_max:g}" in reference_line


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_student_notebooks_are_what_nbgrader_generates(graded, assignment: str) -> None:
    demo, _ = graded
    generated = json.loads((demo / "notebooks" / assignment / f"{assignment}.ipynb").read_text())
    committed = json.loads((REPO / "notebooks" / assignment / f"{assignment}.ipynb").read_text())
    assert committed == generated, "notebooks/ drifted from solutions/: run `make release` and commit the result"


def test_release_has_no_solutions_or_hidden_tests(graded) -> None:
    demo, _ = graded
    for assignment in ASSIGNMENTS:
        text = (demo / "notebooks" / assignment / f"{assignment}.ipynb").read_text()
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "thorough=True"):
            assert marker not in text


def test_feedback_is_written_per_student_with_scores(graded, course: Path, tables) -> None:
    result = run_cli(course, "feedback")
    assert result.returncode == 0, result.stdout + result.stderr
    demo, _ = graded
    for assignment, table in tables.items():
        for student in table.rows:
            html = demo / "feedback" / student / assignment / f"{assignment}.html"
            assert html.is_file(), f"no feedback for {student}"
    text = (demo / "feedback" / "momentum_as_average" / "01_sgd" / "01_sgd.html").read_text()
    assert "momentum as an average" in text  # the failed check's message reaches the student
    for assignment, table in tables.items():
        for student in table.rows:
            html = (demo / "feedback" / student / assignment / f"{assignment}.html").read_text()
            for secret in ("thorough=True", "BEGIN HIDDEN TESTS", "BEGIN SOLUTION"):
                assert secret not in html, f"{student}/{assignment}: feedback shows {secret!r}"


def test_export_writes_every_students_score(graded, course: Path, tables) -> None:
    result = run_cli(course, "export")
    assert result.returncode == 0, result.stdout + result.stderr
    demo, _ = graded
    with open(demo / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_student = {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}
    for assignment, table in tables.items():
        for student in table.rows:
            assert by_student[(assignment, student)] == pytest.approx(table.total(student)[0])
