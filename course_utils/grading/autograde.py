"""Autograde a class on a Dask cluster; the coordinator alone writes the gradebook.

:func:`grade_assignment` grades one assignment in three steps:

1. Here, in the coordinator: every submitted notebook is read (a damaged file is reported and skipped,
   never changed) and sanitized as nbgrader sanitizes it (:mod:`course_utils.grading.sanitize`).
2. On the cluster (:mod:`course_utils.grading.cluster`): one grading job per student
   (:func:`course_utils.grading.job.grade_job`: the notebook executed in its sandboxed kernel and
   re-checked in sandboxed processes). Workers never open the gradebook. Every job of a class shares one
   random seed for the independent check, so the reference record is computed once per worker and a
   student's scores do not depend on which worker graded them or in which order.
3. Here again: one ``nbgrader autograde`` run for the whole class whose first autograde preprocessor
   (:class:`course_utils.grading.job_result.GradingJobResult`) takes each student's graded notebook from
   the results folder, followed by nbgrader's ``SaveAutoGrades``, ``AssignLatePenalties`` and
   ``CheckCellMetadata``. The gradebook is SQLite by default, or whatever ``CourseDirectory.db_url`` names
   (PostgreSQL for one shared by several machines).

Re-running keeps manual grades and comments (nbgrader updates only the automatic scores) and never
touches ``submitted/``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from course_utils.grading.cluster import default_jobs, grading_client
from course_utils.grading.course import Course
from course_utils.grading.job import GradedNotebook, GradingJob, grade_job, load_course_config
from course_utils.grading.job_result import result_paths
from course_utils.grading.repair import load_submission
from course_utils.grading.sanitize import sanitize_submission
from course_utils.grading.scan import format_flags, scan_notebook

__all__ = ["StudentOutcome", "PendingGrading", "grade_assignment", "submit_jobs", "collect_jobs", "grade_jobs",
           "save_grades", "graded_outcome", "read_outcome", "format_outcomes", "default_jobs", "RESULTS_DIR"]

RESULTS_DIR = Path("build") / "grading_results"
"""Where, under the course root, the coordinator keeps the workers' graded notebooks while nbgrader saves them."""


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
    cell_errors: dict[str, str] = field(default_factory=dict)  # answer cell -> what the re-check could not run in it


def read_outcome(notebook: dict[str, Any], outcome: StudentOutcome) -> None:
    """Fill ``outcome`` from a graded notebook's JSON (its ``course_grading`` metadata and test cells)."""
    meta = notebook.get("metadata", {}).get("course_grading", {})
    outcome.repairs = list(meta.get("repairs", []))
    outcome.events = list(dict.fromkeys(meta.get("events", [])))
    outcome.cell_errors = dict(meta.get("cell_errors", {}))
    recheck = meta.get("recheck", {})
    for cell in notebook.get("cells", []):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        verdict = recheck.get(grade_id)
        if verdict and not verdict.get("passed"):
            kernel_errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"
                             and o.get("ename") != "IndependentCheckFailed"]
            if not kernel_errors:
                outcome.overruled.append(grade_id)


def _read_outcome(course: Course, student: str, assignment: str, outcome: StudentOutcome) -> None:
    path = course.root / "autograded" / student / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        outcome.graded = False
        return
    read_outcome(json.loads(path.read_text()), outcome)  # plain JSON: the graded notebook needs no validation here


def _failure(output: str, student: str) -> str:
    lines = output.strip().splitlines()
    mine = [i for i, line in enumerate(lines) if f"'{student}'" in line and "error" in line.lower()]
    tail = lines[max(0, mine[0] - 6): mine[0] + 1] if mine else lines[-6:]
    return "nbgrader could not grade this notebook:\n      " + "\n      ".join(tail)


def _prepare(course: Course, assignment: str, student: str, config: Any) -> tuple[str | None, StudentOutcome | None, list[str]]:
    """``student``'s sanitized notebook JSON, or the outcome saying why it cannot be graded; the static scan's flags."""
    notebook, problems = load_submission(course.submission_path(student, assignment))
    if notebook is None:
        return None, StudentOutcome(student, graded=False, problems=problems), []
    flags = format_flags(scan_notebook(notebook))
    try:
        return nbformat.writes(sanitize_submission(course, student, assignment, config)), None, flags
    except Exception as error:  # noqa: BLE001 - nbgrader's own checks (cell metadata) refuse it
        return None, StudentOutcome(student, graded=False, flags=flags,
                                    problems=[f"nbgrader could not prepare this notebook: {error}"]), flags


def _save_grades(course: Course, assignment: str, graded: Sequence[str], results_dir: Path, seed: int) -> str:
    """The coordinator's one ``nbgrader autograde`` run over ``graded``; its output when it failed."""
    everyone = set(course.students_submitted())
    others = sorted(everyone - set(graded))
    selection = [f"--student={graded[0]}"] if len(graded) == 1 else (
        [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else [])
    result = course.nbgrader("autograde", assignment, *selection, "--force", "--log-level=WARN",
                             f"--GradingJobResult.results_directory={results_dir}", check=False,
                             env={"COURSE_RECHECK_SEED": str(seed)})
    return "" if result.returncode == 0 else result.stdout + result.stderr


@dataclass
class PendingGrading:
    """One assignment's grading jobs sent to the cluster (:func:`submit_jobs`), not collected yet."""

    course: Course
    assignment: str
    students: list[str]
    seed: int
    futures: dict[Any, str] = field(default_factory=dict)  # future -> student
    outcomes: dict[str, StudentOutcome] = field(default_factory=dict)  # students that cannot be graded
    flags: dict[str, list[str]] = field(default_factory=dict)


def worker_count(client: Any) -> int:
    """How many workers ``client``'s cluster has now (at least 1)."""
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    except Exception:  # noqa: BLE001 - a scheduler that cannot say: assume one
        return 1


def submit_jobs(course: Course, assignment: str, students: Sequence[str], *, seed: int, client: Any,
                last: bool = True) -> PendingGrading:
    """Step 1 and the start of step 2: each submission sanitized and sent to the cluster at once.

    ``last``: no other jobs follow these, so the final job per worker starts no kernel or re-check
    process ahead of need (each would be killed unused, seconds of CPU apiece).
    """
    config = load_course_config(course.root)
    pending = PendingGrading(course, assignment, list(students), seed)
    tail = len(students) - worker_count(client) if last else len(students)
    for index, student in enumerate(students):
        notebook, refused, pending.flags[student] = _prepare(course, assignment, student, config)
        if refused is not None:
            pending.outcomes[student] = refused
            continue
        job = GradingJob(str(course.root), assignment, student, notebook or "", seed, keep_warm=index < tail)
        key = f"grade-{assignment}-{student}-{secrets.token_hex(4)}"
        pending.futures[client.submit(grade_job, job, pure=False, key=key)] = student
    return pending


def collect_jobs(pending: PendingGrading) -> tuple[dict[str, GradedNotebook], dict[str, StudentOutcome]]:
    """The end of step 2: each graded student's notebook, and an outcome for every student."""
    from distributed import as_completed

    results: dict[str, GradedNotebook] = {}
    outcomes = dict(pending.outcomes)
    for future in as_completed(list(pending.futures)):
        student = pending.futures[future]
        try:
            result = future.result()
        except Exception as error:  # noqa: BLE001 - a worker lost, or the job could not be shipped
            result = GradedNotebook(student, None, "", f"the grading job was lost: {error}")
        if result.notebook is None:
            outcomes[student] = StudentOutcome(student, graded=False, flags=pending.flags[student],
                                               problems=[result.error or "the grading job gave nothing back"])
        else:
            results[student] = result
            outcomes[student] = graded_outcome(student, result, pending.flags[student])
    return results, outcomes


def grade_jobs(course: Course, assignment: str, students: Sequence[str], *, seed: int, client: Any
               ) -> tuple[dict[str, GradedNotebook], dict[str, StudentOutcome]]:
    """Steps 1 and 2: each gradable student's graded notebook, and an outcome for every student.

    Writes nothing: the gradebook is only read (the sanitize step's released test cells).
    """
    return collect_jobs(submit_jobs(course, assignment, students, seed=seed, client=client))


def graded_outcome(student: str, result: GradedNotebook, flags: Sequence[str] = ()) -> StudentOutcome:
    """What the worker's graded notebook says happened to ``student``."""
    outcome = StudentOutcome(student, graded=True, flags=list(flags))
    read_outcome(json.loads(result.notebook or "{}"), outcome)
    return outcome


def grade_assignment(course: Course, assignment: str, students: Sequence[str], *, jobs: int | None = None,
                     seed: int | None = None, scheduler: str | None = None, client: Any = None,
                     pending: PendingGrading | None = None) -> list[StudentOutcome]:
    """Autograde ``students``' submissions of ``assignment``; return one outcome per student, in order.

    The jobs run on ``client`` when given, else on ``scheduler``'s cluster (``tcp://host:port``), else on a
    ``LocalCluster`` of ``jobs`` workers (default: one per core) made for this call. ``pending``: jobs
    already sent with :func:`submit_jobs` (several assignments keep the workers busy while each is saved).
    """
    if pending is None:
        seed = seed or secrets.randbelow(2**31 - 1) + 1
        workers = max(1, min(jobs or default_jobs(), len(students) or 1))
        with nullcontext(client) if client is not None else grading_client(workers, scheduler) as active:
            results, outcomes = grade_jobs(course, assignment, students, seed=seed, client=active)
    else:
        results, outcomes = collect_jobs(pending)
        seed = pending.seed
    return save_grades(course, assignment, students, results, outcomes, seed)


def save_grades(course: Course, assignment: str, students: Sequence[str], results: dict[str, GradedNotebook],
                outcomes: dict[str, StudentOutcome], seed: int) -> list[StudentOutcome]:
    """Step 3: the workers' notebooks saved into the gradebook by one ``nbgrader autograde`` run; outcomes in order."""
    (course.root / RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    results_dir = Path(tempfile.mkdtemp(prefix=f"{assignment}-", dir=course.root / RESULTS_DIR))
    try:
        for student, result in results.items():
            notebook_path, digest_path = result_paths(results_dir, student)
            notebook_path.write_text(result.notebook or "")
            digest_path.write_text(result.input_digest + "\n")
        output = _save_grades(course, assignment, list(results), results_dir, seed) if results else ""
    finally:
        shutil.rmtree(results_dir, ignore_errors=True)
    for student in results:
        outcome = StudentOutcome(student, graded=True, flags=outcomes[student].flags)
        _read_outcome(course, student, assignment, outcome)
        if not outcome.graded:
            outcome.problems.append(_failure(output, student) if output else "no graded notebook was written; see .nbgrader.log")
        outcomes[student] = outcome
    for cache in (course.root / ".recheck").glob(f"{assignment}-{seed}-*"):  # this run's reference record
        shutil.rmtree(cache, ignore_errors=True)
    return [outcomes[student] for student in students]


def _gist(text: str, width: int = 100) -> str:
    line = next((part.strip() for part in str(text).strip().splitlines()[::-1] if part.strip()), "")
    return line if len(line) <= width else line[: width - 3] + "..."


def format_outcomes(outcomes: Sequence[StudentOutcome]) -> str:
    """The students something happened to, and what; empty when every notebook was graded plainly."""
    lines = []
    for outcome in outcomes:
        notes = [f"NOT GRADED: {p}" for p in outcome.problems]
        notes += [f"repaired: {r}" for r in outcome.repairs]
        notes += [f"contained: {e}" for e in outcome.events]
        if outcome.overruled:
            notes.append("the independent check failed cells the notebook's own run passed: " + ", ".join(outcome.overruled))
        if outcome.cell_errors:
            notes.append("the independent check could not run: " + "; ".join(
                f"{cell} ({_gist(error)})" for cell, error in outcome.cell_errors.items()))
        if outcome.flags:
            notes.append("flagged for a person to read (the score is unchanged): " + "; ".join(outcome.flags))
        if notes:
            lines.append(f"  {outcome.student}:")
            lines += [f"    - {note}" for note in notes]
    return "\n".join(["What happened while grading:", *lines]) if lines else ""
