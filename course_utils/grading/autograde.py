"""Autograde a class: one nbgrader process per submission, several side by side, and a report of what happened.

:func:`grade_assignment` checks every submitted notebook can be read (a damaged file is reported
and skipped, never changed), then grades: with ``jobs=1``, in one ``nbgrader autograde`` run for
the whole class; with more, in about three runs per worker, ``jobs`` runs side by side. Every
student's notebook still gets its own kernel and its own re-check processes, so students stay
isolated from each other; batching only pays nbgrader's own start-up (about 5 s) a few times
instead of once per student, which is what lets parallel grading scale with the cores. All runs
share one random seed for the independent check, so the reference record is computed once per
assignment, and a student's scores do not depend on which worker graded them or in which order. Re-running keeps manual grades and comments (nbgrader
updates only the automatic scores) and never touches ``submitted/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


from course_utils.grading.course import Course
from course_utils.grading.repair import load_submission
from course_utils.grading.scan import format_flags, scan_notebook

__all__ = ["StudentOutcome", "grade_assignment", "format_outcomes", "default_jobs"]


@dataclass
class StudentOutcome:
    """What grading did with one student's notebook."""

    student: str
    graded: bool
    problems: list[str] = field(default_factory=list)  # why it could not be graded
    repairs: list[str] = field(default_factory=list)  # what was repaired from the released version
    events: list[str] = field(default_factory=list)  # kernel deaths, time-outs, crashes in the re-check
    overruled: list[str] = field(default_factory=list)  # test cells the kernel passed but the independent check failed
    flags: list[str] = field(default_factory=list)  # constructs the static scan found, for a person to look at


def default_jobs() -> int:
    """Parallel graders: one per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _read_outcome(course: Course, student: str, assignment: str, outcome: StudentOutcome) -> None:
    path = course.root / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        outcome.graded = False
        return
    notebook = json.loads(path.read_text())  # plain JSON: the graded notebook needs no validation here
    meta = notebook.get("metadata", {}).get("course_grading", {})
    outcome.repairs = list(meta.get("repairs", []))
    outcome.events = list(dict.fromkeys(meta.get("events", [])))
    recheck = meta.get("recheck", {})
    for cell in notebook.get("cells", []):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        verdict = recheck.get(grade_id)
        if verdict and not verdict.get("passed"):
            kernel_errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"
                             and o.get("ename") != "IndependentCheckFailed"]
            if not kernel_errors:
                outcome.overruled.append(grade_id)


def _failure(output: str, student: str) -> str:
    lines = output.strip().splitlines()
    mine = [i for i, line in enumerate(lines) if f"'{student}'" in line and "error" in line.lower()]
    tail = lines[max(0, mine[0] - 6): mine[0] + 1] if mine else lines[-6:]
    return "nbgrader could not grade this notebook:\n      " + "\n      ".join(tail)


def _run_nbgrader(course: Course, assignment: str, args: list[str], env: dict[str, str]) -> str:
    """Run ``nbgrader autograde``, again if the gradebook was busy; return its output."""
    for attempt in range(3):
        result = course.nbgrader("autograde", assignment, *args, "--force", "--log-level=WARN", check=False, env=env)
        output = result.stdout + result.stderr
        if result.returncode == 0 or "database is locked" not in output or attempt == 2:
            return output if result.returncode != 0 else ""
    return ""  # pragma: no cover


def _readable(course: Course, assignment: str, students: Sequence[str]) -> tuple[list[str], dict[str, StudentOutcome], dict[str, list[str]]]:
    """Students whose notebook can be read, outcomes for those whose cannot, and the static scan's flags."""
    readable, refused, flags = [], {}, {}
    for student in students:
        notebook, problems = load_submission(course.submission_path(student, assignment))
        if notebook is None:
            refused[student] = StudentOutcome(student, graded=False, problems=problems)
        else:
            readable.append(student)
            flags[student] = format_flags(scan_notebook(notebook))
    return readable, refused, flags


def _batches(students: Sequence[str], jobs: int) -> list[list[str]]:
    """Students split into the nbgrader runs that grade them.

    One run for everyone when ``jobs`` is 1; otherwise about three runs per worker, dealt round-robin, so
    the workers stay busy to the end while nbgrader's start-up is paid a few times, not once a student.
    """
    if not students:
        return []
    count = 1 if jobs == 1 else min(len(students), 3 * jobs)
    return [list(students[k::count]) for k in range(count)]


def grade_assignment(course: Course, assignment: str, students: Sequence[str], *, jobs: int | None = None,
                     seed: int | None = None) -> list[StudentOutcome]:
    """Autograde ``students``' submissions of ``assignment``; return one outcome per student, in order."""
    seed = seed or secrets.randbelow(2**31 - 1) + 1
    env = {"COURSE_RECHECK_SEED": str(seed)}
    readable, outcomes, flags = _readable(course, assignment, students)
    jobs = max(1, min(jobs or default_jobs(), len(readable) or 1))

    def finish(student: str, output: str) -> StudentOutcome:
        outcome = StudentOutcome(student, graded=True, flags=flags.get(student, []))
        _read_outcome(course, student, assignment, outcome)
        if not outcome.graded:
            outcome.problems.append(_failure(output, student) if output else "no graded notebook was written; see .nbgrader.log")
        return outcome

    everyone = set(course.students_submitted())

    def grade_batch(batch: list[str]) -> list[StudentOutcome]:
        others = sorted(everyone - set(batch))
        args = [f"--student={batch[0]}"] if len(batch) == 1 else (
            [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else [])
        output = _run_nbgrader(course, assignment, args, env)
        return [finish(student, output) for student in batch]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for batch_outcomes in pool.map(grade_batch, _batches(readable, jobs)):
            outcomes.update({o.student: o for o in batch_outcomes})
    for cache in (course.root / ".recheck").glob(f"{assignment}-{seed}-*"):  # this run's reference record
        shutil.rmtree(cache, ignore_errors=True)
    return [outcomes[student] for student in students]


def format_outcomes(outcomes: Sequence[StudentOutcome]) -> str:
    """The students something happened to, and what; empty when every notebook was graded plainly."""
    lines = []
    for outcome in outcomes:
        notes = [f"NOT GRADED: {p}" for p in outcome.problems]
        notes += [f"repaired: {r}" for r in outcome.repairs]
        notes += [f"contained: {e}" for e in outcome.events]
        if outcome.overruled:
            notes.append("the independent check failed cells the notebook's own run passed: " + ", ".join(outcome.overruled))
        if outcome.flags:
            notes.append("flagged for a person to read (the score is unchanged): " + "; ".join(outcome.flags))
        if notes:
            lines.append(f"  {outcome.student}:")
            lines += [f"    - {note}" for note in notes]
    return "\n".join(["What happened while grading:", *lines]) if lines else ""
