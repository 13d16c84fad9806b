"""Timings for `make bench`: what a student and an instructor wait for, against the course's targets.

For each assignment: the solution notebook's top-to-bottom run (target < 30 s on 2 cores), the time to
autograde one submission with nbgrader, alone (it includes nbgrader's start-up and the reference
record of the independent check, both paid once per grading run, so the class figures below are the
fair per-submission cost; target < 1.5x the plain run), and once, `import course_utils`
(target < 1 s). Then a class of 30 submissions of one assignment (``--class-size``, ``--class-assignment``)
graded serially and in parallel (one process per student, as `make grade` does), with the speed-up
and the grading overhead per submission over a plain run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course_utils.grading.course import Course  # noqa: E402
from course_utils.grading.submissions import fill_submission, write_submission  # noqa: E402


def time_import() -> float:
    code = "import time; t = time.perf_counter(); import course_utils; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    return min(runs)


def time_notebook(path: Path) -> float:
    notebook = nbformat.read(str(path), as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def time_autograde(assignment: str, scratch: Path) -> float:
    course = Course.scratch_copy(Course(REPO), scratch / assignment)
    course.release(assignment)
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    source = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    write_submission(fill_submission(release, source), course.submission_path("bench_student", assignment))
    started = time.perf_counter()
    course.nbgrader("autograde", assignment, "--force", "--log-level=WARN")
    return time.perf_counter() - started


def time_class(assignment: str, size: int, jobs: int, scratch: Path) -> float:
    """Seconds to grade ``size`` submissions of ``assignment`` (the reference, under different ids) with ``jobs`` workers."""
    from course_utils.grading.autograde import grade_assignment

    course = Course.scratch_copy(Course(REPO), scratch / f"class-{jobs}")
    course.release(assignment)
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    source = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    students = [f"student{i:02d}" for i in range(size)]
    for student in students:
        write_submission(fill_submission(release, source), course.submission_path(student, assignment))
    started = time.perf_counter()
    outcomes = grade_assignment(course, assignment, students, jobs=jobs)
    elapsed = time.perf_counter() - started
    failed = [o.student for o in outcomes if not o.graded]
    if failed:
        print(f"  (not graded: {failed})")
    return elapsed


def time_sandbox_start() -> tuple[float, float]:
    """Seconds to start Python and import torch, plainly and inside the bubblewrap sandbox (best of 3)."""
    from course_utils.grading import bubblewrap

    command = [sys.executable, "-I", "-c", "import torch"]

    def best(cmd: list[str]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return min(times)

    return best(command), best(bubblewrap.sandbox_command(command, env={"PATH": "/usr/bin:/bin"}))


def time_sandbox_cost(assignment: str, size: int, scratch: Path) -> tuple[float, float]:
    """Seconds to grade a class of ``size`` one at a time with the sandbox and without it (COURSE_SANDBOX=off)."""
    import os

    with_sandbox = time_class(assignment, size, 1, scratch / "sandbox-on")
    os.environ["COURSE_SANDBOX"] = "off"
    try:
        without = time_class(assignment, size, 1, scratch / "sandbox-off")
    finally:
        del os.environ["COURSE_SANDBOX"]
    return with_sandbox, without


def main() -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--class-assignment", default="04_param_groups")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--class-only", action="store_true", help="time only the class of --class-size")
    parser.add_argument("--sandbox-class-size", type=int, default=6, help="class graded with and without the sandbox")
    args = parser.parse_args()
    course = Course(REPO)
    print(f"{'what':<52}{'seconds':>9}  target")
    print(f"{'import course_utils':<52}{time_import():>9.3f}  < 1 s")
    from course_utils.grading import bubblewrap

    if bubblewrap.available():
        plain, boxed = time_sandbox_start()
        print(f"{'python + import torch, plain':<52}{plain:>9.2f}")
        print(f"{'python + import torch, inside bubblewrap':<52}{boxed:>9.2f}  (+{boxed - plain:.2f} s a process)")
    else:
        print(f"no sandbox here: {bubblewrap.unavailable_reason()}")
    with tempfile.TemporaryDirectory() as scratch:
        for assignment in course.assignments:
            if args.class_only and assignment != args.class_assignment:
                continue
            run = time_notebook(course.source_notebook(assignment))
            print(f"{assignment + ': solution notebook, top to bottom':<52}{run:>9.2f}  < 30 s")
            if assignment == args.class_assignment:
                class_run = run
            if args.class_only:
                continue
            grade = time_autograde(assignment, Path(scratch))
            print(f"{assignment + ': autograde one submission, alone':<52}{grade:>9.2f}  < 1.5 x run = {1.5 * run:.1f} s  (ratio {grade / run:.2f})")
        if args.class_size > 0:
            name = args.class_assignment
            serial = time_class(name, args.class_size, 1, Path(scratch))
            parallel = time_class(name, args.class_size, args.jobs, Path(scratch))
            per_student = serial / args.class_size
            print(f"{f'{name}: class of {args.class_size}, one at a time':<52}{serial:>9.1f}  "
                  f"({per_student:.1f} s a submission, {per_student / class_run:.2f} x a plain run; target < 1.5)")
            print(f"{f'{name}: class of {args.class_size}, {args.jobs} at a time':<52}{parallel:>9.1f}  "
                  f"speed-up {serial / parallel:.2f} on {args.jobs} cores (target: scales with cores)")
        if args.sandbox_class_size > 0 and bubblewrap.available():
            name, size = args.class_assignment, args.sandbox_class_size
            boxed, unboxed = time_sandbox_cost(name, size, Path(scratch))
            print(f"{f'{name}: class of {size}, sandboxed':<52}{boxed:>9.1f}")
            print(f"{f'{name}: class of {size}, COURSE_SANDBOX=off':<52}{unboxed:>9.1f}  "
                  f"the sandbox costs {(boxed - unboxed) / size:+.2f} s a submission ({boxed / unboxed:.2f} x)")


if __name__ == "__main__":
    main()
