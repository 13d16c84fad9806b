"""The adversarial suite: a class of submissions that try to fool or break the grader.

The class (``course_utils/grading/adversarial.py``) is written into ``submitted/`` of a scratch course
beside the reference and a blank notebook and graded once through the grading jobs themselves
(:func:`course_utils.grading.autograde.grade_jobs` on a local Dask cluster of two workers: nbgrader's
sanitize step, the sandboxed kernel and the sandboxed independent check, everything but the gradebook
write), scored as nbgrader scores them (``report.notebook_scores``). Each submission is a test: it says
what it attempts and which cells must score zero; every other autograded cell must keep full marks.
Then: the gradebook, ``submitted/`` and the other students come out untouched, the damaged notebook is
reported, and a part of the class graded end to end through the instructors' command line
(``python -m course_utils.grading grade``, what ``make grade`` runs, nbgrader's gradebook included)
gets the same scores.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from course_utils.grading import bubblewrap
from course_utils.grading.adversarial import ADVERSARIAL, ESCAPE_MARKER, write_adversarial
from course_utils.grading.autograde import format_outcomes, grade_jobs
from course_utils.grading.cluster import grading_client
from course_utils.grading.course import Course
from course_utils.grading.planted import BLANK, REFERENCE, planted_for
from course_utils.grading.report import read_scores, notebook_scores
from course_utils.grading.submissions import fill_submission, write_submission

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_sgd"
# Short limits keep the endless loop and the memory bomb cheap; the notebook's slowest cell needs a few seconds.
TEST_LIMITS = """
c.Execute.timeout = 25
c.IndependentCheck.item_timeout = 12
c.IndependentCheck.process_timeout = 90
c.ContainedExecute.notebook_timeout = 300
c.ContainedExecute.memory_mb = 3072
c.IndependentCheck.memory_mb = 3072
"""


def digest_tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_grade(course: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "course_utils.grading", "grade", "--course", str(course), *extra],
                          capture_output=True, text=True, timeout=3000, env={**os.environ, **(env or {})})


def make_course(root: Path) -> Course:
    course = Course.scratch_copy(Course(REPO), root)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    with open(root / "nbgrader_config.py", "a") as handle:
        handle.write(TEST_LIMITS)
    return course


@dataclass
class Table:
    """Scores per student and graded cell, like ``report.ScoreTable``'s, from the graded notebooks."""

    rows: dict
    manual_cells: frozenset
    cells: tuple


def manual_cells(course: Course) -> frozenset:
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    return frozenset(c.metadata["nbgrader"]["grade_id"] for c in release.cells
                     if c.cell_type == "markdown" and c.get("metadata", {}).get("nbgrader", {}).get("grade"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    course = make_course(tmp_path_factory.mktemp("adversarial"))
    course.check_release(ASSIGNMENT)  # the gradebook holds the released test cells the sanitize step restores
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    source = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    for planted in planted_for(ASSIGNMENT)[:2]:  # the reference and the blank notebook: the attacks' victims
        write_submission(fill_submission(release, source, planted.replacements, blank=planted.blank),
                         course.submission_path(planted.student_id, ASSIGNMENT))
    for submission in ADVERSARIAL:
        write_adversarial(submission, release, source, course)
    submitted_before = digest_tree(course.root / "submitted")
    students = course.students_submitted()
    with grading_client(2) as client:
        results, outcomes = grade_jobs(course, ASSIGNMENT, students, seed=20261121, client=client)
    rows = {student: notebook_scores(result.notebook) for student, result in results.items()}
    cells = tuple(next(iter(rows.values())))
    report = format_outcomes([outcomes[student] for student in students])
    return {"course": course, "stdout": report, "table": Table(rows, manual_cells(course), cells),
            "results": results, "submitted_before": submitted_before}


def autograded(table) -> list[str]:
    return [c for c in table.cells if c not in table.manual_cells]


def test_the_suite_is_big_enough() -> None:
    attacks = [s for s in ADVERSARIAL if s.student_id.startswith("x_")]
    honest = [s for s in ADVERSARIAL if s.student_id.startswith("ok_")]
    assert len(ADVERSARIAL) >= 25 and len(attacks) >= 18 and len(honest) >= 3


@pytest.mark.parametrize("submission", [s for s in ADVERSARIAL if s.graded], ids=lambda s: f"{s.student_id}: {s.attempt}")
def test_submission_scores_exactly_what_it_earned(graded, submission) -> None:
    table = graded["table"]
    assert submission.student_id in table.rows, f"{submission.student_id} was not graded:\n{graded['stdout'][-3000:]}"
    row = table.rows[submission.student_id]
    cells = autograded(table)
    must_lose = set(cells) if "*" in submission.loses else set(submission.loses)
    false_marks = {c: row[c].score for c in must_lose if row[c].score}
    assert not false_marks, f"{submission.attempt}: earned points it must not: {false_marks}"
    lost = {c: row[c].score for c in cells if c not in must_lose and row[c].score != row[c].max_score}
    assert not lost, f"{submission.attempt}: lost points it earned honestly: {lost}"


def test_reference_and_blank_are_untouched_by_the_attacks(graded) -> None:
    table = graded["table"]
    cells = autograded(table)
    assert all(table.rows[REFERENCE][c].score == table.rows[REFERENCE][c].max_score for c in cells)
    assert all(table.rows[BLANK][c].score == 0 for c in cells)


def test_gradebook_and_submissions_survive(graded) -> None:
    course = graded["course"]
    assert digest_tree(course.root / "submitted") == graded["submitted_before"], "grading changed a submitted file"
    with sqlite3.connect(course.root / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM grade WHERE manual_score IS NOT NULL").fetchone()[0] == 0, \
            "a manual score was written, and nobody graded by hand"
        assert db.execute("SELECT COUNT(*) FROM comment WHERE manual_comment IS NOT NULL").fetchone()[0] == 0
    reference = nbformat.reads(graded["results"][REFERENCE].notebook, as_version=4)
    assert len(reference.cells) > 10


def test_unreadable_notebook_is_reported_not_graded(graded) -> None:
    broken = [s for s in ADVERSARIAL if not s.graded]
    assert broken
    for submission in broken:
        assert submission.student_id not in graded["table"].rows
        assert submission.student_id in graded["stdout"] and "NOT GRADED" in graded["stdout"]
        assert "JSON" in graded["stdout"]


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


def test_the_report_says_what_happened_to_whom(graded) -> None:
    for student, words in (("x_os_exit", ("contained", "kernel died", "os._exit")),
                           ("x_infinite_loop", ("contained", "no progress")),
                           ("x_segfault", ("SIGSEGV",)),
                           ("d_colab_stripped", ("repaired",)),
                           ("x_input_transformer", ("independent check failed",))):
        block = report_for(graded["stdout"], student)
        for word in words:
            assert word in block, f"{student}: expected '{word}' in\n{block}"


def test_overruled_cells_show_the_independent_message_in_feedback(graded) -> None:
    notebook = nbformat.reads(graded["results"]["x_nbgrader_execution"].notebook, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_SGD_momentum")
    assert cell.outputs[0]["ename"] == "IndependentCheckFailed"
    assert "after step" in cell.outputs[0]["evalue"]


# x_hard_coded, x_input_transformer and x_os_exit are also in the demo class, graded end to end by test_grading_e2e.py.
END_TO_END = ["x_os_exit", "ok_optimizer_subclass", "d_shuffled"]


@pytest.fixture(scope="module")
def end_to_end(graded, tmp_path_factory) -> dict:
    """A part of the class graded through the command line, nbgrader's gradebook included (one worker: the suite's
    other tests keep the cores busy; two workers grade side by side in the catalogue above)."""
    course = make_course(tmp_path_factory.mktemp("end_to_end"))
    source_root = graded["course"].root / "submitted"
    for student in END_TO_END:
        shutil.copytree(source_root / student, course.root / "submitted" / student)
    result = run_grade(course.root, "--jobs", "1", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    return {"course": course, "stdout": result.stdout}


def test_grading_end_to_end_matches_the_jobs_and_regrading_without_sandbox_keeps_manual_grades(graded, end_to_end) -> None:
    course = end_to_end["course"]
    db_url = f"sqlite:///{course.root / 'gradebook.db'}"
    serial = graded["table"]

    def assert_same_as_serial(table, when: str) -> None:
        for student in END_TO_END:
            got = {c: s.score for c, s in table.rows[student].items() if c not in table.manual_cells}
            want = {c: s.score for c, s in serial.rows[student].items() if c not in serial.manual_cells}
            assert got == want, f"{student} {when}: {got} != the grading jobs' {want}"

    assert_same_as_serial(read_scores(db_url, ASSIGNMENT), "graded end to end")

    from nbgrader.api import Gradebook

    written = read_scores(db_url, ASSIGNMENT).manual_cells
    cell = sorted(written)[0]
    with Gradebook(db_url) as gradebook:
        grade = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, "ok_optimizer_subclass")
        grade.manual_score = 1.0
        comment = gradebook.find_comment(cell, ASSIGNMENT, ASSIGNMENT, "ok_optimizer_subclass")
        comment.manual_comment = "Clear explanation."
        gradebook.db.commit()
    # Grade again, other random inputs, and without the sandbox: the fallback gives the same scores and says so first.
    result = run_grade(course.root, "--jobs", "1", "--seed", "8", env={"COURSE_SANDBOX": "off"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("NO SANDBOX"), result.stdout[:300]
    assert_same_as_serial(read_scores(db_url, ASSIGNMENT), "graded again, without the sandbox")
    with Gradebook(db_url) as gradebook:
        assert gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, "ok_optimizer_subclass").manual_score == 1.0
        assert gradebook.find_comment(cell, ASSIGNMENT, ASSIGNMENT, "ok_optimizer_subclass").manual_comment == "Clear explanation."
    # Feedback for a term where only one chapter has been handed in: that chapter, and no error for the others.
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "feedback", "--course", str(course.root)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.parent.parent.name for p in (course.root / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html")) == sorted(END_TO_END)


def test_the_end_to_end_report_says_what_happened_to_whom(end_to_end) -> None:
    for student, words in (("x_os_exit", ("contained", "kernel died", "os._exit")), ("d_shuffled", ("repaired",))):
        block = report_for(end_to_end["stdout"], student)
        for word in words:
            assert word in block, f"{student}: expected '{word}' in\n{block}"


def test_the_report_says_first_whether_there_was_a_sandbox(end_to_end) -> None:
    first = end_to_end["stdout"].splitlines()[0]
    if bubblewrap.available():
        assert first.startswith("Sandbox: bubblewrap"), first
    else:
        assert first.startswith("NO SANDBOX"), first


def test_nothing_an_attack_started_is_still_running(graded) -> None:
    left = subprocess.run(["pgrep", "-af", ESCAPE_MARKER], capture_output=True, text=True).stdout
    assert not left.strip(), f"still running after grading:\n{left}"


def test_every_notebook_finished_within_its_limits(graded) -> None:
    """The hanging, flooding and keep-alive submissions were stopped by the limits, and said so."""
    for student, words in (("x_keep_alive", ("no progress",)), ("x_infinite_loop", ("no progress",))):
        block = report_for(graded["stdout"], student)
        assert any(word in block for word in words), f"{student}: expected one of {words} in\n{block}"
    table = graded["table"]
    graded_students = {s.student_id for s in ADVERSARIAL if s.graded}
    assert graded_students <= set(table.rows), graded_students - set(table.rows)


@pytest.mark.parametrize("student, construct", [
    ("x_forge_probes", "sys._getframe"), ("x_escape", "_posixsubprocess"), ("x_fused_kernel", "_fused_"),
    ("x_subclasses", "__subclasses__"), ("x_dir_fd_steal", "dir_fd"), ("x_vandal_uri_dir_fd", "sqlite3"),
])
def test_the_report_flags_constructs_with_no_place_in_an_answer(graded, student, construct) -> None:
    block = report_for(graded["stdout"], student)
    assert "flagged for a person" in block and construct in block, block


def test_honest_submissions_are_not_flagged(graded) -> None:
    for submission in ADVERSARIAL:
        if submission.student_id.startswith("ok_") and f"  {submission.student_id}:" in graded["stdout"]:
            assert "flagged" not in report_for(graded["stdout"], submission.student_id)
