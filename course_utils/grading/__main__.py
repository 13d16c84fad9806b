"""Command line for instructors: ``python -m course_utils.grading COMMAND`` (the Makefile calls it).

Commands:
  release    regenerate notebooks/ from solutions/ for every assignment
  grade      autograde every submission under submitted/ on a Dask cluster (--jobs local workers, or
             --scheduler tcp://host:port), print the score table (lateness and penalty when a due date
             is set) and what happened to whom (repairs, crashes, overruled checks, what the independent
             check could not run); stops when notebooks/ is not what solutions/ releases (make release);
             with nothing submitted, grade a demo class (build/demo_class/) instead
  collect    place a zip of notebooks downloaded from an LMS into submitted/<student>/<assignment>/
             (with timestamp.txt, the submission time nbgrader checks against the due date)
  feedback   write HTML feedback per student (feedback/<student>/<assignment>/)
  export     write grades.csv: one row per notebook handed in, late penalty included
  written    lay out every student's written answers, question by question, in written/<assignment>.html
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from course_utils.grading import bubblewrap, written
from course_utils.grading.autograde import format_outcomes, grade_assignment, submit_jobs
from course_utils.grading.cluster import SCHEDULER_VARIABLE, default_jobs, grading_client
from course_utils.grading.collect import cmd_collect
from course_utils.grading.course import Course, NbgraderError, ReleaseMismatch, find_course_root
from course_utils.grading.demo_class import DEMO_DIR, SELECTIONS, build_demo_class, demo_notes
from course_utils.grading.late import DueDateError, record_due_dates
from course_utils.grading.report import format_table, read_scores
from course_utils.grading.release import ReleaseSettingError, read_public_repository, stamp_solutions


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
    for assignment in course.release_all():
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
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="local Dask workers (default: the cores)")
    parser.add_argument("--scheduler", default=os.environ.get(SCHEDULER_VARIABLE) or None,
                        help=f"a Dask scheduler's address, tcp://host:port (default: ${SCHEDULER_VARIABLE}; none: a local cluster)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the independent check's inputs (default: random)")
    parser.add_argument("--demo-class", choices=SELECTIONS, default="sample",
                        help="with nothing submitted: a sample of each kind of submission, every planted mistake, or all")
    args = parser.parse_args(argv)
    print(sandbox_line(), flush=True)
    demo = not course.students_submitted()
    if demo:
        print(f"Nothing under {course.root / 'submitted'}: grading the demo class in {DEMO_DIR}/ instead.")
        target = build_demo_class(course, course.root / DEMO_DIR, args.demo_class)
    else:
        target = course
    handed_in = {a: [s for s in target.students_submitted() if target.submission_path(s, a).is_file()] for a in target.assignments}
    handed_in = {a: students for a, students in handed_in.items() if students}  # nobody handed it in: nothing to grade
    if not demo:
        for assignment in handed_in:  # the gradebook needs the assignment as released; notebooks/ is never rewritten here
            checked = target.check_release(assignment)
            print(f"{assignment}: notebooks/ is what solutions/ releases" + (" (recorded in the gradebook)" if checked else ""))
    workers = max(1, min(args.jobs, max(map(len, handed_in.values()), default=1)))
    where = args.scheduler or f"{workers} local worker(s)"
    with grading_client(workers, args.scheduler) as client:
        # Every assignment's jobs go to the cluster first: the workers keep grading while each assignment is saved.
        pending = {}
        for number, (assignment, students) in enumerate(handed_in.items(), start=1):
            due = record_due_dates(target.root, target.db_url, [assignment])[assignment]
            if due is not None:
                print(f"{assignment} is due {due:%Y-%m-%d %H:%M} UTC (c.LatePenalty.due_dates in nbgrader_config.py)")
            seed = args.seed or secrets.randbelow(2**31 - 1) + 1
            pending[assignment] = submit_jobs(target, assignment, students, seed=seed, client=client,
                                              last=number == len(handed_in))
            print(f"Autograding {assignment}: {len(students)} submission(s) on {where}...", flush=True)
        print()
        for assignment, students in handed_in.items():
            outcomes = grade_assignment(target, assignment, students, pending=pending[assignment])
            print(format_table(read_scores(target.db_url, assignment), demo_notes(assignment) if demo else {}))
            report = format_outcomes(outcomes)
            if report:
                print(report)
            print(flush=True)
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
    except (NbgraderError, FileNotFoundError, ReleaseSettingError, DueDateError, ReleaseMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
