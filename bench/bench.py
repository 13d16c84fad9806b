"""Timings for `make bench`: what an instructor waits for, each figure beside its floor or target and the ratio.

- ``import course_utils`` (target 1 s);
- the floor of grading one submission: one sandboxed kernel start plus one ``import torch`` in it
  (measured here; a notebook cannot be graded faster than its kernel starts);
- a class of ``--class-size`` (30) submissions of one assignment (``--class-assignment``, the reference
  under different student ids) graded end to end, independent check included, with the course's grading
  entry point (:func:`course_utils.grading.autograde.grade_assignment`) on ``--jobs`` workers (target 45 s;
  the ratio to the floor says how many kernel starts the class costs), the cost per submission, and the
  same class on 1 worker (how grading scales from 1 to 2 workers);
- the fork server (:mod:`course_utils.grading.forkserver`): its start, once per worker, and one forked
  job from request to exit, beside the floor above (what each kernel and re-check process cost before);
- ``make grade`` with nothing submitted: the demo class, through the command line (target 90 s);
- with ``--notebooks``: each solution notebook run top to bottom (target 30 s).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course_utils.grading.course import Course  # noqa: E402
from course_utils.grading.submissions import fill_submission, write_submission  # noqa: E402

CLASS_TARGET_S = 45.0
DEMO_TARGET_S = 90.0
IMPORT_TARGET_S = 1.0
NOTEBOOK_TARGET_S = 30.0


def row(what: str, seconds: float, against: str = "", reference: float | None = None) -> None:
    """One line: the figure, what it is measured against, and the ratio."""
    ratio = f"ratio {seconds / reference:5.2f}" if reference else ""
    print(f"{what:<58}{seconds:>9.2f} s  {against:<28}{ratio}", flush=True)


def time_import() -> float:
    code = "import time; t = time.perf_counter(); import course_utils; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    return min(runs)


def time_kernel_floor() -> float:
    """Seconds from nothing to a sandboxed grading kernel that has run ``import torch`` (best of 2).

    The kernel is started exactly as :class:`~course_utils.grading.contained_execute.ContainedExecute` starts
    one (:mod:`course_utils.grading.kernel_pool`), without the warm-up imports, so the ``import torch`` is
    paid in the cell, and started as a process of its own, never forked from the fork server.
    """
    from nbclient import NotebookClient

    from course_utils.grading import bubblewrap, kernel_pool

    guard = REPO / "course_utils" / "grading" / "kernel_guard.py"
    spec = kernel_pool.KernelSpec(kernel_name="python3", memory_mb=6144, protected=(), sandboxed=bubblewrap.available(),
                                  extra_arguments=("--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_files=['{guard}']"),
                                  environment=kernel_pool.kernel_environment())
    times = []
    saved = os.environ.get("COURSE_FORKSERVER")
    os.environ["COURSE_FORKSERVER"] = "off"
    for _ in range(2):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch")])
        started = time.perf_counter()
        kernel = kernel_pool.start_kernel(spec)
        try:
            client = NotebookClient(notebook, km=kernel.km, timeout=300, startup_timeout=300)
            client.execute()
            times.append(time.perf_counter() - started)
            if client.kc is not None:
                client.kc.stop_channels()
        finally:
            kernel.discard()
    if saved is None:
        os.environ.pop("COURSE_FORKSERVER")
    else:
        os.environ["COURSE_FORKSERVER"] = saved
    return min(times)


def time_notebook(path: Path) -> float:
    from nbclient import NotebookClient

    notebook = nbformat.read(str(path), as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    return time.perf_counter() - started


def class_course(assignment: str, size: int, scratch: Path) -> tuple[Course, list[str]]:
    """A scratch course with ``size`` reference submissions of ``assignment``, released, nothing graded."""
    course = Course.scratch_copy(Course(REPO), scratch)
    shutil.copytree(REPO / "notebooks", course.root / "notebooks", dirs_exist_ok=True)
    course.release(assignment)
    release = nbformat.read(str(course.release_notebook(assignment)), as_version=4)
    source = nbformat.read(str(course.source_notebook(assignment)), as_version=4)
    students = [f"student{i:02d}" for i in range(size)]
    for student in students:
        write_submission(fill_submission(release, source), course.submission_path(student, assignment))
    return course, students


def time_class(assignment: str, size: int, jobs: int, scratch: Path) -> float:
    """Seconds to grade ``size`` submissions of ``assignment`` with ``jobs`` workers, end to end."""
    from course_utils.grading.autograde import grade_assignment

    course, students = class_course(assignment, size, scratch)
    started = time.perf_counter()
    outcomes = grade_assignment(course, assignment, students, jobs=jobs)
    elapsed = time.perf_counter() - started
    failed = [o.student for o in outcomes if not o.graded]
    if failed:
        print(f"  (not graded: {failed})")
    return elapsed


def time_demo_grade(scratch: Path, jobs: int) -> float:
    """Seconds of ``python -m course_utils.grading grade`` (what ``make grade`` runs) on a course with nothing submitted."""
    course = Course.scratch_copy(Course(REPO), scratch)
    shutil.copytree(REPO / "notebooks", course.root / "notebooks", dirs_exist_ok=True)
    for assignment in course.assignments:
        course.release(assignment)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "grade", "--course", str(course.root), "--jobs", str(jobs)],
                            capture_output=True, text=True, cwd=course.root)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        print(f"  (make grade failed, exit {result.returncode}: {(result.stdout + result.stderr).strip().splitlines()[-3:]})")
    return elapsed


def time_fork_server() -> tuple[float, float] | None:
    """Seconds to start a fork server (imports and self-test), and for one forked job, request to exit (best of 5)."""
    from course_utils.grading import bubblewrap, forkserver

    if forkserver.usable() is not None:
        print(f"no fork server here ({forkserver.usable()}): every kernel and re-check process starts on its own")
        return None
    started = time.perf_counter()
    server = forkserver.server()
    start = time.perf_counter() - started
    if server is None:
        print(f"the fork server did not start: {forkserver.failure()}")
        return None
    runs = []
    for _ in range(5):
        folder = server.new_folder("bench-")
        began = time.perf_counter()
        server.spawn(folder, env={"PATH": "/usr/bin:/bin"}, limits=bubblewrap.Limits(), entry="selftest").wait(60)
        runs.append(time.perf_counter() - began)
        shutil.rmtree(folder, ignore_errors=True)
    forkserver.shutdown()
    return start, min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--class-assignment", default="04_param_groups")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--no-serial", action="store_true", help="skip the class on 1 worker")
    parser.add_argument("--no-demo", action="store_true", help="skip make grade with nothing submitted")
    parser.add_argument("--notebooks", action="store_true", help="also run each solution notebook top to bottom")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from course_utils.grading import bubblewrap

    print(f"{'what':<58}{'time':>11}  {'floor or target':<28}ratio")
    row("import course_utils", time_import(), f"target {IMPORT_TARGET_S:g} s", IMPORT_TARGET_S)
    if not bubblewrap.available():
        print(f"no sandbox here ({bubblewrap.unavailable_reason()}): the figures below are without it")
    floor = time_kernel_floor()
    row("floor: a sandboxed kernel start + import torch", floor)
    forked = time_fork_server()
    if forked is not None:
        row("fork server: start, once per worker", forked[0], f"floor {floor:.2f} s", floor)
        row("fork server: one forked, walled-off job", forked[1], f"floor {floor:.2f} s", floor)
    with tempfile.TemporaryDirectory() as scratch:
        name, size = args.class_assignment, args.class_size
        if size > 0:
            parallel = time_class(name, size, args.jobs, Path(scratch) / "class")
            row(f"{name}: class of {size}, {args.jobs} workers", parallel, f"target {CLASS_TARGET_S:g} s", CLASS_TARGET_S)
            row(f"{name}: class of {size}, {args.jobs} workers, against the floor", parallel, f"floor {floor:.2f} s", floor)
            row(f"{name}: per submission ({args.jobs} workers)", parallel / size,
                f"target {CLASS_TARGET_S / size:.2f} s", CLASS_TARGET_S / size)
            if not args.no_serial and args.jobs != 1:
                serial = time_class(name, size, 1, Path(scratch) / "class-serial")
                row(f"{name}: class of {size}, 1 worker", serial, f"{args.jobs} workers: {parallel:.1f} s", parallel)
                print(f"{'':<58}speed-up {serial / parallel:.2f} from 1 to {args.jobs} workers")
        if not args.no_demo:
            demo = time_demo_grade(Path(scratch) / "demo", args.jobs)
            row("make grade, nothing submitted (the demo class)", demo, f"target {DEMO_TARGET_S:g} s", DEMO_TARGET_S)
        if args.notebooks:
            course = Course(REPO)
            for assignment in course.assignments:
                row(f"{assignment}: solution notebook, top to bottom", time_notebook(course.source_notebook(assignment)),
                    f"target {NOTEBOOK_TARGET_S:g} s", NOTEBOOK_TARGET_S)


if __name__ == "__main__":
    main()
