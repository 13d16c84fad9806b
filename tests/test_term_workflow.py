"""An instructor's term, through the real command line, on a scratch course where only 01_sgd was handed in.

Two students hand in 01_sgd through an LMS zip (``collect``): alice on time, bob two days late (and with a
``<script>`` in his written answer). Then ``grade`` (twice), ``export``, ``feedback`` and ``written``. The
other chapters were never handed in: they must appear nowhere. The quick tests at the end check the
pieces (submission times, the penalty rule, escaping) without grading.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from course_utils.grading.course import RELEASE_STAMPS, Course
from course_utils.grading.submissions import fill_submission

ASSIGNMENT = "01_sgd"
DUE = dt.datetime(2026, 10, 12, 23, 59)  # UTC
ON_TIME = dt.datetime(2026, 10, 12, 20, 15, 0)
TWO_DAYS_LATE = dt.datetime(2026, 10, 14, 11, 59, 58)  # 36 hours late: a day and a part of a day
PER_DAY = 0.1
HOSTILE = "The ravine is **steep** across <script>alert('pwned')</script>, so $\\eta \\lambda_{max} > 1$ overshoots."


def run_cli(course: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "course_utils.grading", command, "--course", str(course), *extra],
                          capture_output=True, text=True, timeout=3000)


def _zip_member(archive: zipfile.ZipFile, name: str, data: bytes, when: dt.datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    archive.writestr(info, data)


@pytest.fixture(scope="module")
def term(tmp_path_factory) -> dict:
    """The scratch course after collect and two grade runs, with what each command printed."""
    root = tmp_path_factory.mktemp("term")
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "solutions", root / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    with open(root / "nbgrader_config.py", "a") as config:  # the one setting: a due date and the penalty rule
        config.write(f"\nc.LatePenalty.due_dates = {{'{ASSIGNMENT}': '{DUE:%Y-%m-%d %H:%M:%S} UTC'}}\n")
        config.write(f"c.LatePenalty.fraction_per_day = {PER_DAY}\n")

    # The students' notebooks are built from a release made elsewhere; this course releases its own before grading.
    builder = Course.scratch_copy(Course(REPO), tmp_path_factory.mktemp("builder") / "course")
    builder.release(ASSIGNMENT)
    release = nbformat.read(builder.release_notebook(ASSIGNMENT), as_version=4)
    source = nbformat.read(builder.source_notebook(ASSIGNMENT), as_version=4)
    alice = fill_submission(release, source)
    bob = fill_submission(release, source, {"answer_step_size": HOSTILE})
    download = root / "downloads.zip"
    with zipfile.ZipFile(download, "w") as archive:
        _zip_member(archive, f"alice/{ASSIGNMENT}.ipynb", nbformat.writes(alice).encode(), ON_TIME)
        _zip_member(archive, f"bob_{ASSIGNMENT}.ipynb", nbformat.writes(bob).encode(), TWO_DAYS_LATE)

    collected = run_cli(root, "collect", str(download))
    assert collected.returncode == 0, collected.stdout + collected.stderr
    Course(root).release(ASSIGNMENT)  # the instructor's make release, for the one chapter handed in
    stamp = root / RELEASE_STAMPS / f"{ASSIGNMENT}.sha256"
    released = root / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    before = (stamp.stat().st_mtime_ns, released.stat().st_mtime_ns)
    first = run_cli(root, "grade", "--jobs", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_cli(root, "grade", "--jobs", "1")
    assert second.returncode == 0, second.stdout + second.stderr
    after = (stamp.stat().st_mtime_ns, released.stat().st_mtime_ns)
    return {"root": root, "collect": collected.stdout, "first": first.stdout, "second": second.stdout,
            "release_times": (before, after)}


def _exported(root: Path) -> list[dict[str, str]]:
    result = run_cli(root, "export")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(root / "grades.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_collect_records_each_submission_time(term) -> None:
    root = term["root"]
    alice = (root / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").read_text()
    bob = (root / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").read_text()
    assert alice.startswith("2026-10-12 20:15:00") and bob.startswith("2026-10-14 11:59:58")


@pytest.mark.slow
def test_export_has_a_row_per_notebook_handed_in_and_the_late_one_pays(term) -> None:
    rows = _exported(term["root"])
    assert sorted((r["assignment"], r["student_id"]) for r in rows) == [(ASSIGNMENT, "alice"), (ASSIGNMENT, "bob")]
    by_student = {r["student_id"]: r for r in rows}
    alice, bob = by_student["alice"], by_student["bob"]
    assert float(alice["late_submission_penalty"]) == 0 and alice["days_late"] == "0"
    assert float(alice["score"]) == float(alice["raw_score"]) > 0
    # 36 hours late: two (started) days at 10% of the assignment's points each.
    assert bob["days_late"] == "2"
    expected = min(float(bob["raw_score"]), 2 * PER_DAY * float(bob["max_score"]))
    assert float(bob["late_submission_penalty"]) == pytest.approx(expected) and expected > 0
    assert float(bob["score"]) == pytest.approx(float(bob["raw_score"]) - expected)


@pytest.mark.slow
def test_grade_table_shows_lateness_and_penalty(term) -> None:
    lines = term["second"].splitlines()
    bob = next(line for line in lines if line.startswith("bob "))
    alice = next(line for line in lines if line.startswith("alice "))
    penalty = float(next(r for r in _exported(term["root"]) if r["student_id"] == "bob")["late_submission_penalty"])
    assert "2d" in bob.split() and f"-{penalty:g}" in bob.split()
    assert "on time" in alice
    assert re.search(r"\blate\b.*\bpenalty\b", next(line for line in lines if line.startswith("student ")))


@pytest.mark.slow
def test_grade_checks_only_the_chapter_handed_in_and_never_rewrites_its_release(term) -> None:
    for run in ("first", "second"):
        assert f"{ASSIGNMENT}: notebooks/ is what solutions/ releases" in term[run] and "02_rmsprop_adam" not in term[run]
    before, after = term["release_times"]
    assert before == after, "grade regenerated the release"
    root = term["root"]
    assert not (root / "notebooks" / "02_rmsprop_adam").exists(), "a chapter nobody handed in was released"


@pytest.mark.slow
def test_feedback_says_a_written_answer_awaits_a_grade_until_one_is_given(term) -> None:
    from nbgrader.api import Gradebook

    root = term["root"]
    result = run_cli(root, "feedback")
    assert result.returncode == 0, result.stdout + result.stderr
    html = (root / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    heading = re.search(r"<h4>(.*?)</h4>", html, re.S).group(1)
    assert "3 points of written answers awaiting a grade" in heading.replace("3.0 points", "3 points")
    assert re.search(r"Written response</a> \(awaiting a grade", html)
    assert not re.search(r"Written response</a> \(Score: 0\.0", html)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        auto = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "alice").score
        grade = gradebook.find_grade("answer_step_size", ASSIGNMENT, ASSIGNMENT, "alice")
        grade.manual_score = 1.0
        grade.needs_manual_grade = False
        gradebook.db.commit()
    # The heading counts what is graded: every autograded point (0 for the waiting answers), then the marked one.
    numbers = re.search(r"Score: ([\d.]+) / ([\d.]+) graded so far", heading)
    assert float(numbers.group(1)) == pytest.approx(auto)
    result = run_cli(root, "feedback")
    assert result.returncode == 0, result.stdout + result.stderr
    html = (root / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert re.search(r'href="#answer_step_size">Written response</a> \(Score: 1\.0 / 1\.0\)', html)
    assert "2.0 points of written answers awaiting a grade" in html
    updated = re.search(r"Score: ([\d.]+) / ([\d.]+) graded so far", html)
    assert float(updated.group(1)) == pytest.approx(auto + 1)
    assert float(updated.group(2)) == pytest.approx(float(numbers.group(2)) + 1)


@pytest.mark.slow
def test_written_export_puts_every_answer_under_its_question_and_escapes_them(term) -> None:
    root = term["root"]
    result = run_cli(root, "written")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (root / "written" / f"{ASSIGNMENT}.html").read_text()
    assert not (root / "written" / "02_rmsprop_adam.html").exists()
    sections = dict(re.findall(r'<section class="question" id="([^"]+)">(.*?)</section>', page, re.S))
    assert set(sections) == {"answer_step_size", "answer_momentum_forms"}
    for grade_id, body in sections.items():
        assert f'id="{grade_id}--alice"' in body and f'id="{grade_id}--bob"' in body
    assert "Question 1" in sections["answer_step_size"] and "Question 2" in sections["answer_momentum_forms"]
    bob = sections["answer_step_size"].split('id="answer_step_size--bob"')[1]
    assert "<script>alert" not in page and "&lt;script&gt;alert" in bob
    assert "<strong>steep</strong>" in bob and "\\lambda_{max}" in bob  # markdown rendered, math left to MathJax
    assert "MathJax.js" in page


# --------------------------------------------------------------------------------------------------
# The pieces, without grading
# --------------------------------------------------------------------------------------------------


def test_a_recorded_submission_time_is_not_moved_silently(tmp_path: Path) -> None:
    from course_utils.grading.late import read_timestamp, write_timestamp

    folder = tmp_path / "submitted" / "alice" / ASSIGNMENT
    assert write_timestamp(folder, ON_TIME) is None
    note = write_timestamp(folder, TWO_DAYS_LATE)
    assert read_timestamp(folder) == ON_TIME and note and "kept" in note
    note = write_timestamp(folder, TWO_DAYS_LATE, replacing_submission=True)
    assert read_timestamp(folder) == TWO_DAYS_LATE and note and "moved" in note


def test_collect_keeps_the_first_time_when_the_same_notebook_comes_again(tmp_path: Path) -> None:
    from course_utils.grading.collect import collect
    from course_utils.grading.late import read_timestamp

    course = Course.scratch_copy(Course(REPO), tmp_path / "course")
    for name, when in (("first.zip", ON_TIME), ("again.zip", TWO_DAYS_LATE)):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            _zip_member(archive, f"alice_{ASSIGNMENT}.ipynb", b"{}", when)
        report = collect(tmp_path / name, course)
    assert read_timestamp(course.submission_path("alice", ASSIGNMENT).parent) == ON_TIME
    assert any("kept the recorded submission time" in note for note in report.notes)


def test_blackboard_names_carry_the_submission_time() -> None:
    from course_utils.grading.late import member_time

    info = zipfile.ZipInfo(f"{ASSIGNMENT}_jsmith_attempt_2026-10-13-08-30-05_{ASSIGNMENT}.ipynb", date_time=(2026, 12, 1, 0, 0, 0))
    assert member_time(info) == dt.datetime(2026, 10, 13, 8, 30, 5)
    plain = zipfile.ZipInfo(f"jsmith_{ASSIGNMENT}.ipynb", date_time=(2026, 10, 1, 9, 0, 0))
    assert member_time(plain) == dt.datetime(2026, 10, 1, 9, 0, 0)


@pytest.mark.parametrize(("hours", "days"), [(0, 0), (0.01, 1), (24, 1), (24.5, 2), (36, 2), (49, 3)])
def test_a_started_day_counts_as_a_day(hours: float, days: int) -> None:
    from course_utils.grading.late import days_late

    assert days_late(hours * 3600) == days


def test_the_penalty_never_takes_more_than_the_score() -> None:
    from course_utils.grading.late import LatePenalty

    plugin = LatePenalty(fraction_per_day=0.25)  # outside autograde: the score stands in for the points
    assert plugin.late_submission_penalty("s", 8.0, 0) is None
    assert plugin.late_submission_penalty("s", 8.0, 3600) == pytest.approx(2.0)
    assert plugin.late_submission_penalty("s", 8.0, 10 * 24 * 3600) == pytest.approx(8.0)


def test_student_markdown_is_escaped() -> None:
    from course_utils.grading.written import render_student_markdown

    html = render_student_markdown('<img src=x onerror="alert(1)"> [link](javascript:alert(1)) <script>x</script> $a<b$')
    assert "<img" not in html and "<script" not in html and "javascript:" not in html
    assert "&lt;script&gt;" in html
