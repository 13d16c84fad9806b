"""``collect``: LMS download zips into submitted/<student>/<assignment>/<assignment>.ipynb, safely."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from course_utils.grading.collect import (
    MOODLE_BY_NAME,
    CollectReport,
    Unplaceable,
    cmd_collect,
    collect,
    sanitize_student_id,
)

ASSIGNMENTS = ("01_sgd", "02_rmsprop_adam", "03_adamw")


@pytest.fixture
def course(tmp_path: Path):
    """A minimal course: nbgrader_config.py and solutions/<id>/<id>.ipynb (all Course.assignments needs)."""
    from course_utils.grading.course import Course

    root = tmp_path / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    for assignment in ASSIGNMENTS:
        folder = root / "solutions" / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_text("{}")
    return Course(root)


def notebook_bytes(tag: str) -> bytes:
    return ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "tag": "%s"}\n' % tag).encode()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return path


def placed_map(report: CollectReport) -> dict[str, tuple[str, str]]:
    return {member: (student, assignment) for member, student, assignment in report.placed}


def unplaced_map(report: CollectReport) -> dict[str, str]:
    return dict(report.unplaced)


@pytest.mark.parametrize(
    ("member", "student", "assignment"),
    [
        # Canvas: <lastfirst>[_LATE]_<user id>_<submission id>_<file>; the user id is the stable key.
        ("smithjane_12345_67890_01_sgd.ipynb", "12345", "01_sgd"),
        ("smithjane_LATE_12345_67890_01_sgd-1.ipynb", "12345", "01_sgd"),
        ("submissions/doejohn_222_333_02_rmsprop_adam.ipynb", "222", "02_rmsprop_adam"),
        # Moodle: folder per student (or the same prefix on the file name).
        ("Jane Smith_12345_assignsubmission_file_/01_sgd.ipynb", "12345", "01_sgd"),
        ("Jane Smith_12345_assignsubmission_file_01_sgd.ipynb", "12345", "01_sgd"),
        ("Jörg Müller_777_assignsubmission_file_/my 03_adamw (1).ipynb", "777", "03_adamw"),
        # Blackboard: <title>_<username>_attempt_<stamp>[_<file>].
        ("01_sgd_jsmith_attempt_2026-11-20-10-30-00_01_sgd.ipynb", "jsmith", "01_sgd"),
        ("01_sgd_j_smith_attempt_2026-11-20-10-30-00_sgd.ipynb", "j_smith", "01_sgd"),
        ("Homework 1_jsmith_attempt_2026-11-20-10-30-00_01_sgd.ipynb", "jsmith", "01_sgd"),
        # Plain.
        ("jsmith_01_sgd.ipynb", "jsmith", "01_sgd"),
        ("jsmith-02-rmsprop-adam.ipynb", "jsmith", "02_rmsprop_adam"),
        ("jsmith/01_sgd.ipynb", "jsmith", "01_sgd"),
        ("class/jsmith/01_sgd-2.ipynb", "jsmith", "01_sgd"),
        ("submitted/jsmith/03_adamw/03_adamw.ipynb", "jsmith", "03_adamw"),
        ("Jane Doe/01 SGD.ipynb", "Jane_Doe", "01_sgd"),
    ],
)
def test_each_naming_convention_is_placed(tmp_path: Path, course, member: str, student: str, assignment: str) -> None:
    data = notebook_bytes(member)
    report = collect(make_zip(tmp_path / "downloads.zip", {member: data}), course)
    assert placed_map(report) == {member: (student, assignment)}, report.format()
    assert course.submission_path(student, assignment).read_bytes() == data
    assert report.ok


def test_a_whole_canvas_download(tmp_path: Path, course) -> None:
    members = {
        "smithjane_12345_67890_01_sgd.ipynb": notebook_bytes("jane"),
        "doejohn_LATE_54321_67891_01_sgd-1.ipynb": notebook_bytes("john"),
        "roeann_999_67892_01_sgd.ipynb": notebook_bytes("ann"),
    }
    report = collect(make_zip(tmp_path / "submissions.zip", members), course)
    assert sorted(s for _, s, _ in report.placed) == ["12345", "54321", "999"]
    assert course.students_submitted() == ["12345", "54321", "999"]
    assert "placed        3" in report.format()


def test_moodle_numbers_come_with_a_note(tmp_path: Path, course) -> None:
    report = collect(make_zip(tmp_path / "d.zip", {"A B_1_assignsubmission_file_/01_sgd.ipynb": b"x"}), course)
    assert any("per assignment" in note for note in report.notes)
    assert "--pattern" in report.format()


def test_moodle_by_name_pattern_keys_students_by_name(tmp_path: Path, course) -> None:
    members = {"CS101-01_sgd-9/Jane Smith_12345_assignsubmission_file_/01_sgd.ipynb": b"a",
               "Ann Roe_12346_assignsubmission_file_01_sgd.ipynb": b"b"}
    report = collect(make_zip(tmp_path / "d.zip", members), course, pattern=MOODLE_BY_NAME)
    assert sorted(s for _, s, _ in report.placed) == ["Ann_Roe", "Jane_Smith"]
    assert report.notes == []


def test_custom_pattern_overrides_the_guessing(tmp_path: Path, course) -> None:
    members = {
        "hw-s1234-01_sgd.ipynb": b"a",
        "hw-s5678-sgd.ipynb": b"b",  # no assignment group match and no id in the name
        "other.ipynb": b"c",
    }
    report = collect(make_zip(tmp_path / "d.zip", members), course, pattern=r"^hw-(?P<student>s\d+)-")
    assert placed_map(report) == {"hw-s1234-01_sgd.ipynb": ("s1234", "01_sgd")}
    problems = unplaced_map(report)
    assert "no known assignment id" in problems["hw-s5678-sgd.ipynb"]
    assert "does not match --pattern" in problems["other.ipynb"]


def test_pattern_with_assignment_group_and_whole_path(tmp_path: Path, course) -> None:
    members = {"by-student/u42/task-02-rmsprop-adam/notebook.ipynb": b"a",
               "by-student/u43/task-09-nope/notebook.ipynb": b"b"}
    pattern = r"by-student/(?P<student>[^/]+)/task-(?P<assignment>[^/]+)/"
    report = collect(make_zip(tmp_path / "d.zip", members), course, pattern=pattern)
    assert placed_map(report) == {"by-student/u42/task-02-rmsprop-adam/notebook.ipynb": ("u42", "02_rmsprop_adam")}
    assert "not one known assignment" in unplaced_map(report)["by-student/u43/task-09-nope/notebook.ipynb"]


@pytest.mark.parametrize("pattern", [r"(?P<name>\w+)", r"(?P<student>["])
def test_bad_patterns_are_refused_up_front(tmp_path: Path, course, pattern: str) -> None:
    with pytest.raises(ValueError, match="--pattern"):
        collect(make_zip(tmp_path / "d.zip", {"jsmith_01_sgd.ipynb": b"a"}), course, pattern=pattern)


def test_unknown_assignment_and_unparseable_names(tmp_path: Path, course) -> None:
    members = {
        "jsmith_99_quantum.ipynb": b"a",  # no known assignment id
        "01_sgd.ipynb": b"b",  # whose?
        "01_sgd_final_version.ipynb": b"c",  # assignment known, student not in a known place
        "jsmith_01_sgd_02_rmsprop_adam.ipynb": b"d",  # two assignments
    }
    report = collect(make_zip(tmp_path / "d.zip", members), course)
    assert report.placed == []
    problems = unplaced_map(report)
    assert "no known assignment id" in problems["jsmith_99_quantum.ipynb"]
    assert "named after the assignment only" in problems["01_sgd.ipynb"]
    assert "cannot tell the student" in problems["01_sgd_final_version.ipynb"]
    assert "several assignments" in problems["jsmith_01_sgd_02_rmsprop_adam.ipynb"]
    assert not (course.root / "submitted").exists()


def test_assignment_from_the_zip_name_or_the_argument(tmp_path: Path, course) -> None:
    members = {"smithjane_12345_67890_homework.ipynb": b"a"}
    from_zip_name = collect(make_zip(tmp_path / "CS101-01_sgd-77.zip", members), course)
    assert placed_map(from_zip_name) == {"smithjane_12345_67890_homework.ipynb": ("12345", "01_sgd")}
    from_argument = collect(make_zip(tmp_path / "submissions.zip", members), course, assignment="03_adamw")
    assert placed_map(from_argument) == {"smithjane_12345_67890_homework.ipynb": ("12345", "03_adamw")}
    with pytest.raises(ValueError, match="unknown assignment"):
        collect(tmp_path / "submissions.zip", course, assignment="99_nope")


def test_non_notebooks_are_reported_and_clutter_is_skipped(tmp_path: Path, course) -> None:
    members = {
        "jsmith/": b"",
        "jsmith/01_sgd.ipynb": b"a",
        "jsmith/notes.txt": b"n",
        "01_sgd_jsmith_attempt_2026-11-20-10-30-00.txt": b"receipt",
        "__MACOSX/jsmith/._01_sgd.ipynb": b"junk",
        "jsmith/.ipynb_checkpoints/01_sgd-checkpoint.ipynb": b"old",
        "jsmith/.DS_Store": b"junk",
        "Thumbs.db": b"junk",
    }
    report = collect(make_zip(tmp_path / "d.zip", members), course)
    assert placed_map(report) == {"jsmith/01_sgd.ipynb": ("jsmith", "01_sgd")}
    problems = unplaced_map(report)
    assert set(problems) == {"jsmith/notes.txt", "01_sgd_jsmith_attempt_2026-11-20-10-30-00.txt"}
    assert all("not a notebook" in reason for reason in problems.values())
    assert sorted(report.skipped) == sorted(set(members) - {"jsmith/01_sgd.ipynb", *problems})
    assert course.submission_path("jsmith", "01_sgd").read_bytes() == b"a"
    assert not report.ok


@pytest.mark.parametrize(
    "member",
    ["../evil_01_sgd.ipynb", "../../jsmith/01_sgd.ipynb", "/etc/jsmith_01_sgd.ipynb", "a/../../jsmith_01_sgd.ipynb",
     "C:/Users/jsmith_01_sgd.ipynb", "..\\..\\jsmith_01_sgd.ipynb"],
)
def test_zip_slip_members_are_never_extracted(tmp_path: Path, course, member: str) -> None:
    report = collect(make_zip(tmp_path / "d.zip", {member: b"evil"}), course)
    assert report.placed == [] and "unsafe path" in unplaced_map(report)[member]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"evil"]
    assert written == []


def test_student_ids_are_sanitised() -> None:
    assert sanitize_student_id("Jane Smith") == "Jane_Smith"
    assert sanitize_student_id("jane.smith@uni.edu") == "jane.smith_uni.edu"
    assert sanitize_student_id("José Ñúñez") == "Jose_Nunez"
    assert sanitize_student_id("../../etc") == "etc"
    assert sanitize_student_id(".hidden") == "hidden"
    for bad in ("", ".", "..", "...", "///", "李雷"):
        with pytest.raises(Unplaceable):
            sanitize_student_id(bad)


def test_pattern_cannot_escape_submitted(tmp_path: Path, course) -> None:
    members = {"x/01_sgd.ipynb": b"a", "y/01_sgd.ipynb": b"b"}
    report = collect(make_zip(tmp_path / "d.zip", members), course, pattern=r"(?P<student>\.\./\.\.|/)")
    # "../.." sanitises to nothing; "/" likewise: both refused, nothing written anywhere.
    assert report.placed == []
    assert all("empty once reduced" in reason for reason in unplaced_map(report).values())
    assert not (course.root / "submitted").exists()


def test_recollecting_identical_is_unchanged(tmp_path: Path, course) -> None:
    zip_path = make_zip(tmp_path / "d.zip", {"jsmith_01_sgd.ipynb": b"first"})
    assert len(collect(zip_path, course).placed) == 1
    again = collect(zip_path, course)
    assert again.placed == [] and again.unchanged == [("jsmith_01_sgd.ipynb", "jsmith", "01_sgd")]
    assert again.ok


def test_recollecting_different_is_a_conflict_and_keeps_the_original(tmp_path: Path, course) -> None:
    collect(make_zip(tmp_path / "first.zip", {"jsmith_01_sgd.ipynb": b"first"}), course)
    target = course.submission_path("jsmith", "01_sgd")
    before = target.stat().st_mtime_ns
    report = collect(make_zip(tmp_path / "second.zip", {"jsmith/01_sgd.ipynb": b"second"}), course)
    assert report.conflicts == [("jsmith/01_sgd.ipynb", "jsmith", "01_sgd")] and report.placed == []
    assert target.read_bytes() == b"first" and target.stat().st_mtime_ns == before
    text = report.format()
    assert "jsmith/01_sgd.ipynb" in text and "--replace" in text
    assert not report.ok


def test_replace_overwrites(tmp_path: Path, course) -> None:
    collect(make_zip(tmp_path / "first.zip", {"jsmith_01_sgd.ipynb": b"first"}), course)
    report = collect(make_zip(tmp_path / "second.zip", {"jsmith_01_sgd.ipynb": b"second"}), course, replace=True)
    assert report.placed == report.replaced == [("jsmith_01_sgd.ipynb", "jsmith", "01_sgd")]
    assert course.submission_path("jsmith", "01_sgd").read_bytes() == b"second"
    assert "1 replacing an earlier submission" in report.format()
    # The notebook and the submission time collect recorded for it (timestamp.txt, read by nbgrader).
    assert sorted(p.name for p in course.submission_path("jsmith", "01_sgd").parent.iterdir()) == ["01_sgd.ipynb", "timestamp.txt"]


def test_two_members_for_one_student_and_assignment_place_neither(tmp_path: Path, course) -> None:
    members = {
        "01_sgd_jsmith_attempt_2026-11-20-10-30-00_01_sgd.ipynb": b"one",
        "01_sgd_jsmith_attempt_2026-11-21-09-00-00_01_sgd.ipynb": b"two",
        "01_sgd_adoe_attempt_2026-11-21-09-00-00_01_sgd.ipynb": b"ann",
        "copy/adoe_01_sgd.ipynb": b"ann",  # identical bytes: not a clash
    }
    report = collect(make_zip(tmp_path / "d.zip", members), course)
    assert [(s, a) for _, s, a in report.placed] == [("adoe", "01_sgd")]
    problems = unplaced_map(report)
    first, second = sorted(m for m in members if "jsmith" in m)
    assert second in problems[first] and first in problems[second] and "none was placed" in problems[first]
    assert not course.submission_path("jsmith", "01_sgd").exists()


def test_report_text_mentions_every_unplaced_member(tmp_path: Path, course) -> None:
    members = {"readme.md": b"r", "01_sgd.ipynb": b"x", "../evil.ipynb": b"e", "jsmith_01_sgd.ipynb": b"ok"}
    report = collect(make_zip(tmp_path / "d.zip", members), course)
    text = report.format()
    for member, reason in report.unplaced:
        assert f"{member}: {reason}" in text
    assert {m for m, _ in report.unplaced} == {"readme.md", "01_sgd.ipynb", "../evil.ipynb"}
    assert "unplaced      3" in text and "placed        1" in text


def test_cmd_collect_exit_codes_and_output(tmp_path: Path, course, capsys) -> None:
    good = make_zip(tmp_path / "good.zip", {"jsmith_01_sgd.ipynb": b"a"})
    assert cmd_collect(course, [str(good)]) == 0
    assert "placed        1" in capsys.readouterr().out
    assert cmd_collect(course, [str(good)]) == 0  # unchanged is fine
    mixed = make_zip(tmp_path / "mixed.zip", {"adoe_01_sgd.ipynb": b"b", "notes.txt": b"n"})
    assert cmd_collect(course, [str(mixed), "--verbose"]) == 1
    out = capsys.readouterr().out
    assert "notes.txt: not a notebook" in out and "adoe_01_sgd.ipynb -> submitted/adoe/01_sgd/01_sgd.ipynb" in out
    assert course.submission_path("adoe", "01_sgd").read_bytes() == b"b"  # the rest is still placed
    changed = make_zip(tmp_path / "changed.zip", {"jsmith_01_sgd.ipynb": b"z"})
    assert cmd_collect(course, [str(changed)]) == 1
    assert cmd_collect(course, [str(changed), "--replace"]) == 0
    custom = make_zip(tmp_path / "custom.zip", {"u9-01_sgd.ipynb": b"c"})
    assert cmd_collect(course, [str(custom), "--pattern", r"^(?P<student>u\d+)-"]) == 0
    assert course.submission_path("u9", "01_sgd").read_bytes() == b"c"


def test_cmd_collect_errors(tmp_path: Path, course, capsys) -> None:
    assert cmd_collect(course, [str(tmp_path / "missing.zip")]) == 1
    assert "error: cannot collect" in capsys.readouterr().err
    (tmp_path / "not.zip").write_text("plain text")
    assert cmd_collect(course, [str(tmp_path / "not.zip")]) == 1
    with pytest.raises(SystemExit):
        cmd_collect(course, [str(tmp_path / "not.zip"), "--pattern", "(?P<name>x)"])
    assert "needs a named group" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Through nbgrader's zip_collect: submission times, several assignments, the plugins on their own, late work
# --------------------------------------------------------------------------------------------------


def _member(name: str, when: tuple[int, ...]) -> zipfile.ZipInfo:
    return zipfile.ZipInfo(name, date_time=when)


def test_each_submission_time_lands_in_timestamp_txt(tmp_path: Path, course) -> None:
    from course_utils.grading.late import read_timestamp

    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as archive:
        # Blackboard's name carries the time; a plain name takes the zip entry's.
        archive.writestr(_member("01_sgd_jsmith_attempt_2026-11-20-10-30-05_01_sgd.ipynb", (2026, 12, 1, 0, 0, 0)), b"a")
        archive.writestr(_member("adoe_01_sgd.ipynb", (2026, 11, 19, 8, 15, 30)), b"b")
    report = collect(path, course)
    assert report.ok and len(report.placed) == 2
    import datetime as dt

    assert read_timestamp(course.submission_path("jsmith", "01_sgd").parent) == dt.datetime(2026, 11, 20, 10, 30, 5)
    assert read_timestamp(course.submission_path("adoe", "01_sgd").parent) == dt.datetime(2026, 11, 19, 8, 15, 30)


def test_a_zip_for_several_assignments_is_staged_for_each(tmp_path: Path, course) -> None:
    members = {"jsmith_01_sgd.ipynb": b"a", "jsmith_03_adamw.ipynb": b"b", "nobody.ipynb": b"c"}
    report = collect(make_zip(tmp_path / "term.zip", members), course)
    assert placed_map(report) == {"jsmith_01_sgd.ipynb": ("jsmith", "01_sgd"), "jsmith_03_adamw.ipynb": ("jsmith", "03_adamw")}
    assert list(unplaced_map(report)) == ["nobody.ipynb"]  # reported once, though both runs saw it
    for assignment in ("01_sgd", "03_adamw"):
        assert (course.root / "downloaded" / assignment / "archive" / "term.zip").is_file()
    assert not (course.root / "downloaded" / "02_rmsprop_adam").exists()


def test_nbgrader_zip_collect_uses_the_course_plugins(tmp_path: Path, course) -> None:
    """``nbgrader zip_collect`` itself, configured only by nbgrader_config.py's collector lines."""
    import subprocess
    import sys

    (course.root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "from course_utils.grading.zipcollect import LmsCollector, SafeExtractor\n"
        "c.ZipCollectApp.extractor_plugin = SafeExtractor\n"
        "c.ZipCollectApp.collector_plugin = LmsCollector\n"
    )
    archive = course.root / "downloaded" / "01_sgd" / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "canvas.zip", "w") as download:
        download.writestr(_member("smithjane_12345_67890_01_sgd.ipynb", (2026, 11, 2, 7, 0, 0)), b"jane")
        download.writestr("../../evil_01_sgd.ipynb", b"evil")
        download.writestr("roeann_999_67892_02_rmsprop_adam.ipynb", b"other assignment")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "zip_collect", "01_sgd"], cwd=course.root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert course.submission_path("12345", "01_sgd").read_bytes() == b"jane"
    assert (course.submission_path("12345", "01_sgd").parent / "timestamp.txt").read_text().startswith("2026-11-02 07:00:00")
    assert course.students_submitted() == ["12345"]
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"evil"] == []
    assert "unsafe path" in result.stderr  # nbgrader's log says why the member was not placed


# A scratch course with one small exercise, a due date and the course's penalty rule; one submission on time,
# one 36 hours late, both collected from one zip and autograded by nbgrader.
_DUE = "2026-10-12 23:59:00 UTC"
_LATE_CONFIG = f"""c = get_config()
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
from course_utils.grading.late import LatePenalty
from course_utils.grading.zipcollect import LmsCollector, SafeExtractor
c.ZipCollectApp.extractor_plugin = SafeExtractor
c.ZipCollectApp.collector_plugin = LmsCollector
c.AssignLatePenalties.plugin_class = LatePenalty
c.LatePenalty.due_dates = {{"hw": "{_DUE}"}}
c.LatePenalty.fraction_per_day = 0.25
"""


def _small_exercise():
    import nbformat

    def cell(source: str, grade_id: str, **flags):
        metadata = {"grade": False, "solution": False, "locked": False, "task": False, "schema_version": 3,
                    "grade_id": grade_id, **flags}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": metadata})

    notebook = nbformat.v4.new_notebook(cells=[
        cell("### BEGIN SOLUTION\nx = 2\n### END SOLUTION", "answer", solution=True),
        cell("assert x == 2", "test_answer", grade=True, locked=True, points=4),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


@pytest.mark.slow
def test_a_late_collected_submission_pays_the_configured_penalty(tmp_path: Path) -> None:
    import nbformat
    from nbgrader.api import Gradebook

    from course_utils.grading.course import Course
    from course_utils.grading.late import record_due_dates

    root = tmp_path / "course"
    (root / "solutions" / "hw").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(_LATE_CONFIG)
    nbformat.write(_small_exercise(), root / "solutions" / "hw" / "hw.ipynb")
    course = Course(root)
    course.nbgrader("generate_assignment", "hw", "--log-level=WARN")
    release = course.release_notebook("hw").read_text()
    assert "raise NotImplementedError()" in release
    answered = release.replace("raise NotImplementedError()", "x = 2").encode()
    download = tmp_path / "hw.zip"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr(_member("alice_hw.ipynb", (2026, 10, 12, 20, 15, 0)), answered)
        archive.writestr(_member("bob_hw.ipynb", (2026, 10, 14, 11, 59, 58)), answered)  # 36 h late: 2 started days
    report = collect(download, course)
    assert report.ok and sorted(s for _, s, _ in report.placed) == ["alice", "bob"], report.format()

    db_url = f"sqlite:///{root / 'gradebook.db'}"
    record_due_dates(root, db_url, ["hw"])
    course.nbgrader("autograde", "hw", "--log-level=WARN")
    with Gradebook(db_url) as gradebook:
        alice, bob = (gradebook.find_submission("hw", student) for student in ("alice", "bob"))
        assert alice.score == 4 and not alice.late_submission_penalty
        assert bob.late_submission_penalty == pytest.approx(2 * 0.25 * 4)
        assert bob.score == 4  # the gradebook keeps the raw score; the penalty is taken off in the grade (export)


def test_replacing_a_submission_moves_its_time_and_says_so(tmp_path: Path, course) -> None:
    import datetime as dt

    from course_utils.grading.late import read_timestamp

    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    with zipfile.ZipFile(first, "w") as archive:
        archive.writestr(_member("jsmith_01_sgd.ipynb", (2026, 11, 1, 9, 0, 0)), b"first")
    with zipfile.ZipFile(second, "w") as archive:
        archive.writestr(_member("jsmith_01_sgd.ipynb", (2026, 11, 3, 9, 0, 0)), b"second")
    collect(first, course)
    kept = collect(second, course)  # a conflict: the first notebook and its time stay
    assert kept.conflicts and read_timestamp(course.submission_path("jsmith", "01_sgd").parent) == dt.datetime(2026, 11, 1, 9)
    replaced = collect(second, course, replace=True)
    assert replaced.replaced == [("jsmith_01_sgd.ipynb", "jsmith", "01_sgd")]
    assert read_timestamp(course.submission_path("jsmith", "01_sgd").parent) == dt.datetime(2026, 11, 3, 9)
    assert any("moved from 2026-11-01 09:00:00" in note for note in replaced.notes), replaced.notes
