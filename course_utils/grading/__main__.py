"""Command line for instructors: ``python -m course_utils.grading COMMAND`` (the Makefile calls it).

Commands:
  release    regenerate notebooks/ from solutions/ for every assignment
  grade      autograde every submission under submitted/ and print the score table;
             with nothing submitted, grade the demo class (build/demo_class/) instead
  feedback   write HTML feedback per student (feedback/<student>/<assignment>/)
  export     write the gradebook to grades.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from course_utils.grading.course import Course, NbgraderError, find_course_root
from course_utils.grading.planted import planted_for
from course_utils.grading.report import format_table, read_scores
from course_utils.grading.submissions import fill_submission, write_submission

DEMO_DIR = Path("build") / "demo_class"


def build_demo_class(course: Course, destination: Path) -> Course:
    """A scratch course at ``destination`` whose submitted/ holds every assignment's planted submissions."""
    demo = Course.scratch_copy(course, destination)
    for assignment in demo.assignments:
        demo.release(assignment)
        release = nbformat.read(demo.release_notebook(assignment), as_version=4)
        source = nbformat.read(demo.source_notebook(assignment), as_version=4)
        for planted in planted_for(assignment):
            notebook = fill_submission(release, source, planted.replacements, blank=planted.blank)
            write_submission(notebook, demo.submission_path(planted.student_id, assignment))
    return demo


def grading_course(course: Course) -> tuple[Course, bool]:
    """The course to grade: this one if anything is submitted, else the demo class (second value True)."""
    if course.students_submitted():
        return course, False
    demo_root = course.root / DEMO_DIR
    if (demo_root / "submitted").is_dir():
        return Course(demo_root), True
    return course, False


def cmd_release(course: Course) -> int:
    for assignment in course.assignments:
        course.release(assignment)
        print(f"released {assignment}: {course.release_notebook(assignment).relative_to(course.root)}")
    return 0


def cmd_grade(course: Course) -> int:
    demo = not course.students_submitted()
    if demo:
        print(f"Nothing under {course.root / 'submitted'}: grading the demo class in {DEMO_DIR}/ instead.")
        target = build_demo_class(course, course.root / DEMO_DIR)
    else:
        target = course
    for assignment in target.assignments:
        if not demo:
            target.release(assignment)  # records the assignment (and its hidden tests) in the gradebook
        students = [s for s in target.students_submitted() if target.submission_path(s, assignment).is_file()]
        if not students:
            continue
        print(f"Autograding {assignment}: {len(students)} submission(s)...", flush=True)
        result = target.nbgrader("autograde", assignment, "--force", "--log-level=WARN", check=False)
        if result.returncode != 0:
            print(result.stdout + result.stderr, file=sys.stderr)
        notes = {p.student_id: p.description for p in planted_for(assignment)} if demo else {}
        table = read_scores(f"sqlite:///{target.root / 'gradebook.db'}", assignment)
        print(format_table(table, notes))
        print()
    return 0


def cmd_feedback(course: Course) -> int:
    target, demo = grading_course(course)
    for assignment in target.assignments:
        target.nbgrader("generate_feedback", assignment, "--force", "--log-level=WARN")
        print(f"feedback for {assignment}: {(target.root / 'feedback').relative_to(course.root) if demo else 'feedback'}/<student>/{assignment}/")
    return 0


def cmd_export(course: Course) -> int:
    target, _ = grading_course(course)
    out = target.root / "grades.csv"
    target.nbgrader("export", f"--to={out}", "--log-level=WARN")
    print(f"grades written to {out.relative_to(course.root) if out.is_relative_to(course.root) else out}")
    return 0


COMMANDS = {"release": cmd_release, "grade": cmd_grade, "feedback": cmd_feedback, "export": cmd_export}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--course", type=Path, default=None, help="course root (default: found from the current directory)")
    args = parser.parse_args(argv)
    try:
        course = Course(find_course_root(args.course))
        return COMMANDS[args.command](course)
    except (NbgraderError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
