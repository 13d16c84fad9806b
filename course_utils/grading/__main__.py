"""Command line for instructors: ``python -m course_utils.grading COMMAND`` (the Makefile calls it).

Commands:
  release    regenerate notebooks/ from solutions/ for every assignment
  grade      autograde every submission under submitted/ (--jobs nbgrader runs side by side),
             print the score table (lateness and penalty when a due date is set) and what happened to whom
             (repairs, crashes, overruled checks); re-releases a chapter into the gradebook only when its
             source changed;
             with nothing submitted, grade the demo class (build/demo_class/) instead
  collect    place a zip of notebooks downloaded from an LMS into submitted/<student>/<assignment>/
             (with timestamp.txt, the submission time nbgrader checks against the due date)
  feedback   write HTML feedback per student (feedback/<student>/<assignment>/)
  export     write grades.csv: one row per notebook handed in, late penalty included
  written    lay out every student's written answers, question by question, in written/<assignment>.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from course_utils.grading import bubblewrap, written
from course_utils.grading.adversarial import adversarial_for, write_adversarial
from course_utils.grading.autograde import default_jobs, format_outcomes, grade_assignment
from course_utils.grading.collect import cmd_collect
from course_utils.grading.course import Course, NbgraderError, find_course_root
from course_utils.grading.late import DueDateError, record_due_dates
from course_utils.grading.planted import planted_for
from course_utils.grading.report import format_table, read_scores
from course_utils.grading.release import ReleaseSettingError, read_public_repository, stamp_solutions
from course_utils.grading.submissions import fill_submission, write_submission

DEMO_DIR = Path("build") / "demo_class"


def build_demo_class(course: Course, destination: Path, *, adversarial: bool = True) -> Course:
    """A scratch course at ``destination`` whose submitted/ holds every assignment's planted submissions.

    With ``adversarial``, also the submissions that try to fool or break the grader, honest alternative
    solutions and damaged notebooks (:mod:`course_utils.grading.adversarial`).
    """
    demo = Course.scratch_copy(course, destination)
    for assignment in demo.assignments:
        demo.release(assignment)
        release = nbformat.read(demo.release_notebook(assignment), as_version=4)
        source = nbformat.read(demo.source_notebook(assignment), as_version=4)
        for planted in planted_for(assignment):
            notebook = fill_submission(release, source, planted.replacements, blank=planted.blank)
            write_submission(notebook, demo.submission_path(planted.student_id, assignment))
        for submission in adversarial_for(assignment) if adversarial else ():
            write_adversarial(submission, release, source, demo)
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
    public = read_public_repository(course.root)
    for path in stamp_solutions(course.root, public):
        print(f"wrote {public.repository}@{public.branch} into the badge and set-up cell of {path.relative_to(course.root)}")
    for assignment in course.assignments:
        course.release(assignment)
        print(f"released {assignment}: {course.release_notebook(assignment).relative_to(course.root)}")
    return 0


def sandbox_line() -> str:
    """The grade report's first line: whether student code ran inside the operating-system sandbox."""
    reason = bubblewrap.unavailable_reason()
    if reason is None:
        return ("Sandbox: bubblewrap. Each grading kernel and re-check process sees only its own submission "
                "(no course files, no gradebook, no network); only this process writes grades.")
    return bubblewrap.NO_SANDBOX_NOTICE.format(reason=reason)


def cmd_grade(course: Course, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="students graded side by side (default: the cores)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the independent check's inputs (default: random)")
    parser.add_argument("--demo-class", choices=("all", "planted"), default="all",
                        help="with nothing submitted: grade every demo submission, or only the planted mistakes")
    args = parser.parse_args(argv)
    print(sandbox_line(), flush=True)
    demo = not course.students_submitted()
    if demo:
        print(f"Nothing under {course.root / 'submitted'}: grading the demo class in {DEMO_DIR}/ instead.")
        target = build_demo_class(course, course.root / DEMO_DIR, adversarial=args.demo_class == "all")
    else:
        target = course
    db_url = f"sqlite:///{target.root / 'gradebook.db'}"
    for assignment in target.assignments:
        students = [s for s in target.students_submitted() if target.submission_path(s, assignment).is_file()]
        if not students:
            continue  # nobody handed it in: nothing to release into the gradebook or to grade
        if not demo:
            # The gradebook needs the assignment (and its hidden tests) as released; the source decides whether
            # that is still the last release.
            if target.release_if_changed(assignment):
                print(f"released {assignment} into the gradebook (its source changed since the last release)")
            else:
                print(f"not re-releasing {assignment}: its source is unchanged since the last release")
        due = record_due_dates(target.root, db_url, [assignment])[assignment]
        if due is not None:
            print(f"{assignment} is due {due:%Y-%m-%d %H:%M} UTC (c.LatePenalty.due_dates in nbgrader_config.py)")
        print(f"Autograding {assignment}: {len(students)} submission(s), {min(args.jobs, len(students))} at a time...", flush=True)
        outcomes = grade_assignment(target, assignment, students, jobs=args.jobs, seed=args.seed)
        notes = {p.student_id: p.description for p in planted_for(assignment)} if demo else {}
        if demo:
            notes.update({a.student_id: a.attempt for a in adversarial_for(assignment)})
        table = read_scores(db_url, assignment)
        print(format_table(table, notes))
        report = format_outcomes(outcomes)
        if report:
            print(report)
        print()
    return 0


def cmd_feedback(course: Course) -> int:
    target, demo = grading_course(course)
    graded = [a for a in target.assignments if any((target.root / "autograded").glob(f"*/{a}/{a}.ipynb"))]
    if not graded:
        print("nothing graded yet: run make grade first")
    for assignment in graded:  # a chapter nobody has handed in yet has no feedback to write
        target.nbgrader("generate_feedback", assignment, "--force", "--log-level=WARN")
        print(f"feedback for {assignment}: {(target.root / 'feedback').relative_to(course.root) if demo else 'feedback'}/<student>/{assignment}/")
    return 0


def cmd_export(course: Course) -> int:
    target, _ = grading_course(course)
    out = target.root / "grades.csv"
    target.nbgrader("export", f"--to={out}", "--log-level=WARN")
    print(f"grades written to {out.relative_to(course.root) if out.is_relative_to(course.root) else out}")
    return 0


def cmd_written(course: Course, argv: list[str]) -> int:
    target, _ = grading_course(course)
    return written.cmd_written(target, argv, shown_from=course.root)


COMMANDS = {"release": cmd_release, "grade": cmd_grade, "feedback": cmd_feedback, "export": cmd_export,
            "collect": cmd_collect, "written": cmd_written}
WITH_ARGUMENTS = {"grade", "collect", "written"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--course", type=Path, default=None, help="course root (default: found from the current directory)")
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in WITH_ARGUMENTS:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        course = Course(find_course_root(args.course))
        if args.command in WITH_ARGUMENTS:
            return COMMANDS[args.command](course, rest)
        return COMMANDS[args.command](course)
    except (NbgraderError, FileNotFoundError, ReleaseSettingError, DueDateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
