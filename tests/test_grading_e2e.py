"""The whole nbgrader pipeline, end to end, on the demo class's sample.

The end-to-end run goes through the instructors' own command line (``python -m course_utils.grading grade``,
what ``make grade`` calls) on a scratch copy of the course with nothing submitted, so it grades the demo
class's sample (``course_utils.grading.demo_class``): per chapter the reference, a blank notebook and a few
planted mistakes, and a few attacks and a damaged notebook (the independent check outside the kernel
included), on a local Dask cluster, the gradebook written by nbgrader. Every planted mistake of the
catalogue (``course_utils.grading.planted``) is scored without a grading run, which would add nothing to
what is tested: the visible and hidden checks in ``test_checks_planted.py``, the independent check's
probes in ``test_probes_planted.py``. The whole adversarial catalogue is in ``test_adversarial.py``.
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
from course_utils.grading.demo_class import demo_submissions
from course_utils.grading.planted import BLANK, REFERENCE
from course_utils.grading.report import read_scores

pytestmark = pytest.mark.slow  # one file, one xdist worker (make test uses --dist loadfile): one shared autograde run
SAMPLE = {a: demo_submissions(a)[0] for a in ASSIGNMENTS}


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
    # The whole adversarial catalogue is graded by tests/test_adversarial.py, beside this run.
    result = run_cli(course, "grade", "--jobs", "1")  # one worker: the suite keeps the other core busy
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


def lost_cells(scores: dict, cells: list[str]) -> set[str]:
    return {c for c in cells if scores[c].score != scores[c].max_score}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_planted_mistake_of_the_demo_class_loses_exactly_the_cells_that_test_it(tables, assignment: str) -> None:
    table = tables[assignment]
    wrong = [p for p in SAMPLE[assignment] if p.student_id not in (REFERENCE, BLANK)]
    assert len(wrong) >= 2
    for planted in wrong:
        row = table.rows[planted.student_id]
        lost = lost_cells(row, autograded_cells(table))
        assert lost == set(planted.loses), f"{planted.student_id}: lost {sorted(lost)}, expected {sorted(planted.loses)}"
        for cell in planted.loses:
            assert row[cell].score == 0, f"{planted.student_id} kept partial credit in {cell}"


def report_for(stdout: str, student: str) -> str:
    """The lines the grade command's report gives ``student``."""
    lines = stdout[stdout.index("What happened while grading:"):].splitlines()
    start = lines.index(f"  {student}:")
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        block.append(line)
    return "\n".join(block)


def test_the_demo_class_attacks_score_what_they_earned_and_the_damaged_notebook_is_reported(graded, tables) -> None:
    _, stdout = graded
    attacks = demo_submissions(ASSIGNMENTS[0])[1]
    table = tables[ASSIGNMENTS[0]]
    cells = autograded_cells(table)
    assert any(not a.graded for a in attacks) and any(a.graded for a in attacks)
    for attack in attacks:
        if not attack.graded:
            assert attack.student_id not in table.rows
            block = report_for(stdout, attack.student_id)
            assert "NOT GRADED" in block and "JSON" in block, block
            continue
        row = table.rows[attack.student_id]
        must_lose = set(cells) if "*" in attack.loses else set(attack.loses)
        assert not {c for c in must_lose if row[c].score}, f"{attack.student_id} earned points it must not"
        assert not {c for c in cells if c not in must_lose and row[c].score != row[c].max_score}, \
            f"{attack.student_id} lost points it earned honestly"
    assert "repaired" in report_for(stdout, "d_colab_stripped")


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
