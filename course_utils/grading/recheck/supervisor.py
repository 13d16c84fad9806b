"""Run the reference and the student's code in separate processes, contain what goes wrong, compare.

:func:`recheck_notebook` is the whole independent check of one notebook:

1. The reference record: the solution notebook's set-up and answer cells run with every probe in a
   process that never sees student code (cached per assignment and seed).
2. The student's record: the submission's locked set-up and answer cells, then the probes, in a
   hardened process (torch.optim gone, grading modules hidden, audit hook). Probes that need
   torch.optim for the exercise itself run in a second process with just those classes left.
3. Containment: each process runs in its own session with a memory limit. When a cell or a probe
   hangs (no progress for ``item_timeout`` seconds), exits, crashes or runs out of memory, the process
   is killed and started again without that item, so every other exercise is still graded.
4. The grader compares the records (:func:`~course_utils.grading.recheck.observations.compare_records`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import torch

from course_utils.grading.recheck.observations import compare_records, memory_facts, read_shared_memory
from course_utils.grading import bubblewrap, forkserver
from course_utils.grading.recheck import runner_pool
from course_utils.grading.course import OFF_LIMITS
from course_utils.grading.definitions import definitions_only
from course_utils.grading.recheck.probes import Probe, probes_for
from course_utils.grading.submissions import strip_solution_markers

__all__ = ["RecheckSettings", "Verdict", "RecheckResult", "notebook_cells", "demonstration_sources", "recheck_notebook", "reference_record",
           "read_records", "verdict_for", "probe_groups"]

@dataclass(frozen=True)
class RecheckSettings:
    item_timeout: float = 60.0  # seconds without progress before a cell or probe counts as stuck
    memory_mb: int = 6144  # data-segment limit per process (0: none)
    max_restarts: int = 12
    workers: int = 2  # student processes run side by side (the locked one and the one with torch.optim)
    process_timeout: float = 300.0  # wall-clock seconds one process may run, whatever it writes
    notebook_timeout: float = 900.0  # wall-clock seconds for one notebook's re-check, restarts included
    file_mb: int = 64  # the largest file (its output log included) a process may write
    sandbox: bool = True  # run student code inside bubblewrap where it works (see course_utils.grading.bubblewrap)
    warm: int = 2  # processes kept started ahead of need (runner_pool); 0: each started when needed


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


@dataclass
class RecheckResult:
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)  # what happened to the processes, in words
    cell_errors: dict[str, str] = field(default_factory=dict)  # answer cell grade_id -> the error it raised


def notebook_cells(notebook: nbformat.NotebookNode, *, strip_markers: bool = False,
                   demonstrations: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """``(label, source)`` of the locked set-up cells and the answer cells, in notebook order.

    Locked set-up cells are locked, ungraded code cells; answer cells are code cells with
    ``solution: true``. Test cells and markdown are left out. Code cells without nbgrader metadata
    are the release's demonstrations: with ``demonstrations`` (the release's own demonstration
    sources) given, only their definitions run (:func:`~course_utils.grading.definitions.definitions_only`,
    labelled ``definitions-<index>``: a helper an answer may call), and a cell that is not one of them
    was added by the student and runs whole, labelled ``added-<index>``.
    """
    cells: list[tuple[str, str]] = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        label = str(meta.get("grade_id") or f"cell-{index}")
        source = cell.get("source", "")
        if strip_markers:
            source = strip_solution_markers(source)
        if meta.get("solution"):
            cells.append((label, source))
        elif meta.get("locked") and not meta.get("grade"):
            cells.append((label, source))
        elif not meta and demonstrations is not None and source.strip() and source.strip() not in demonstrations:
            cells.append((f"added-{index}", source))
        elif not meta and demonstrations is not None and (definitions := definitions_only(source)).strip():
            cells.append((f"definitions-{index}", definitions))
    return cells


def demonstration_sources(release: nbformat.NotebookNode) -> frozenset[str]:
    """The (stripped) sources of the release's code cells that carry no nbgrader metadata."""
    return frozenset(cell.source.strip() for cell in release.cells
                     if cell.cell_type == "code" and not cell.get("metadata", {}).get("nbgrader"))


def _read_progress(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _describe_exit(code: int | None, stopped: str | None, sandboxed: bool = False) -> str:
    if stopped:
        return stopped
    if code is None:
        return "was stopped"
    if sandboxed and code > 128 and code - 128 in signal.Signals._value2member_map_:
        code = -(code - 128)  # bubblewrap reports a child killed by a signal as 128 + the signal
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        if name == "SIGKILL":
            return "was killed by the system (SIGKILL: most often it ran out of memory)"
        if name == "SIGSEGV":
            return "crashed the Python process (SIGSEGV: a segmentation fault)"
        if name == "SIGXFSZ":
            return "wrote more output than the grader keeps (SIGXFSZ: a file grew past its limit) and was stopped"
        return f"ended the process with signal {name}"
    return f"ended the process early (exit code {code}, e.g. os._exit)"


class _ProgressWatch:
    """Counts the items a runner reports started or done; junk appended to its progress file is no progress."""

    def __init__(self, path: Path, items: set[str]) -> None:
        self.path, self.items, self.offset, self.seen = path, items, 0, 0
        self.ready = False  # the runner has its libraries and its job (its first line); no student code ran before
        self._partial = b""

    def advanced(self) -> bool:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(1 << 20)
        except FileNotFoundError:
            return False
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()[-4096:]
        before = self.seen
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and any(isinstance(entry.get(key), str) and entry[key] in self.items
                                               for key in ("start", "done")):
                self.seen += 1
            elif isinstance(entry, dict) and entry.get("ready") is True:
                self.ready = True
        return self.seen > before


def runner_spec(job: Mapping[str, Any], settings: RecheckSettings) -> runner_pool.RunnerSpec:
    """How the process for ``job`` starts: a student's code inside bubblewrap (where it works), with the limits.

    The reference's job is trusted; it runs sandboxed too where the fork server works, because a fork
    there costs milliseconds and a process of its own seconds.
    """
    wanted = job.get("role") == "student" or forkserver.usable() is None
    sandboxed = wanted and settings.sandbox and bubblewrap.available()
    return runner_pool.RunnerSpec(sandboxed=sandboxed, memory_mb=settings.memory_mb, file_mb=settings.file_mb)


def _run_once(job: Mapping[str, Any], scratch: Path, settings: RecheckSettings, deadline: float,
              runner: runner_pool.StartedRunner | runner_pool.ForkedRunner | None = None) -> tuple[int | None, str | None, bool]:
    """Run ``job`` in ``scratch``; return (exit code, why it was stopped or None, sandboxed).

    ``runner``: a process already started in ``scratch`` and waiting for its job (runner_pool); without
    one (or when it has died meanwhile) a process is started now. The process is stopped when nothing
    new reaches its progress file for ``item_timeout`` seconds (counted once it has read its job), when it has run ``process_timeout``
    seconds (from receiving its job) in all, or at ``deadline`` (monotonic clock): writing to the
    progress file cannot keep it alive past the last two.
    """
    spec = runner_spec(job, settings)
    if runner is not None and not runner.alive():
        runner.kill()
        runner = None
    if runner is None:
        runner = runner_pool.start_runner(scratch, spec)
    sandboxed = runner.sandboxed
    runner.send_job(dict(job))
    progress = _ProgressWatch(scratch / "progress.jsonl", {label for label, _ in job["cells"]} | set(job["probes"]))
    started = time.monotonic()
    stop_at = min(deadline, started + settings.process_timeout)
    last_change = started
    stopped: str | None = None
    while runner.poll() is None:
        time.sleep(0.05)
        now = time.monotonic()
        if progress.advanced() or not progress.ready:  # importing its libraries is not an item's time
            last_change = now
        elif now - last_change > settings.item_timeout:
            stopped = f"made no progress for {settings.item_timeout:g} s (an endless loop?) and was stopped"
            break
        if now >= stop_at:
            stopped = f"ran past the grading time limit ({now - started:.0f} s) and was stopped"
            break
    code = runner.kill()  # leave nothing behind that the code started
    return code, stopped, sandboxed


def run_job(job: dict[str, Any], scratch: Path, settings: RecheckSettings,
            first: runner_pool.StartedRunner | runner_pool.ForkedRunner | None = None) -> tuple[dict[str, list], list[str], dict[str, str]]:
    """Run ``job`` until every item has run or been given up on; return (records, events, cell errors).

    ``first``: a process already started in ``scratch`` for the first attempt; restarts (after a cell or
    check that hangs or kills its process) start new processes in the same folder.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    skip: set[str] = set(job.get("skip", ()))
    events: list[str] = []
    labels = {label for label, _ in job["cells"]}
    deadline = time.monotonic() + settings.notebook_timeout
    for _ in range(settings.max_restarts + 1):
        if time.monotonic() >= deadline:
            events.append(f"the re-check ran past its time limit for one notebook ({settings.notebook_timeout:g} s); "
                          "what had not run by then scored nothing")
            break
        progress_file = scratch / "progress.jsonl"
        if progress_file.exists():
            progress_file.unlink()
        code, stopped, sandboxed = _run_once({**job, "skip": sorted(skip)}, scratch, settings, deadline, first)
        first = None
        progress = _read_progress(progress_file)
        if any(entry.get("finished") for entry in progress) and code == 0:
            break
        started = [e["start"] for e in progress if "start" in e]
        done = {e["done"] for e in progress if "done" in e}
        culprit = next((item for item in reversed(started) if item not in done), None)
        if culprit is None:
            tail = (scratch / "output.log").read_text(errors="replace")[-1500:] if (scratch / "output.log").exists() else ""
            events.append(f"the grading process failed before running any code ({_describe_exit(code, stopped, sandboxed)}):\n{tail}")
            break
        kind = "answer cell" if culprit in labels else "check"
        events.append(f"{kind} {culprit}: {_describe_exit(code, stopped, sandboxed)}")
        skip.add(culprit)
        skip |= {item for item in done if item not in labels}  # probes already recorded need not run again
    records, unreadable = read_records(scratch, job["probes"])
    events += unreadable
    errors: dict[str, str] = {}
    for entry in _read_progress(scratch / "progress.jsonl"):
        if "done" in entry and entry.get("error") and entry["done"] in labels:
            errors[entry["done"]] = entry["error"]
    return records, events, errors


def read_records(scratch: Path, grade_ids: Iterable[str]) -> tuple[dict[str, list], list[str]]:
    """The records a runner left in ``scratch`` (:func:`course_utils.grading.recheck.runner.execute_job`), per
    probed test cell, with its shared-memory facts; and, in words, each record that could not be read."""
    records: dict[str, list] = {}
    events: list[str] = []
    for grade_id in grade_ids:
        path = scratch / "records" / f"{grade_id}.pt"
        if path.is_file():
            try:
                records[grade_id] = list(torch.load(path, weights_only=True))
            except Exception as error:  # noqa: BLE001 - a record the student's code damaged
                events.append(f"check {grade_id}: its record could not be read ({type(error).__name__})")
                continue
            records[grade_id] += read_shared_memory(scratch / "memory" / grade_id)
    return records, events


def verdict_for(expected: list, got: list) -> Verdict:
    """Whether a student's record ``got`` matches the reference's ``expected`` for one test cell, and how not."""
    difference = compare_records(memory_facts(expected, expected), memory_facts(got, expected))
    return Verdict(difference is None, difference or "")


def _protected(course_root: Path) -> list[str]:
    import nbgrader

    package = Path(__file__).resolve().parents[2]  # course_utils/
    paths = [course_root / name for name in OFF_LIMITS]
    paths += [package / "checks", package / "grading", Path(torch.optim.__file__).resolve().parent,
              Path(nbgrader.__file__).resolve().parent]
    return [str(p.resolve()) for p in paths]


def probe_groups(probes: Mapping[str, Probe], grade_ids: Iterable[str]) -> dict[tuple[str, ...], list[str]]:
    """Probes that lock all of torch.optim, and those that need some of it (one process, the union allowed)."""
    locked = [g for g in grade_ids if not probes[g].allow_torch_optim]
    library = [g for g in grade_ids if probes[g].allow_torch_optim]
    allowed = sorted({name for g in library for name in probes[g].allow_torch_optim})
    groups: dict[tuple[str, ...], list[str]] = {}
    if locked:
        groups[()] = locked
    if library:
        groups[("*",) if "*" in allowed else tuple(allowed)] = library
    return groups


def _fingerprint(course_root: Path, assignment: str) -> str:
    """A short hash of what the reference record depends on: the solution notebook and the probe code."""
    digest = hashlib.sha256((course_root / "solutions" / assignment / f"{assignment}.ipynb").read_bytes())
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def reference_record(course_root: Path, assignment: str, seed: int, settings: RecheckSettings) -> tuple[dict[str, list], list[str]]:
    """Every probe's record on the reference solution, computed once per (assignment, seed) and cached."""
    cache = course_root / ".recheck" / f"{assignment}-{seed}-{_fingerprint(course_root, assignment)}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = cache / "records.pt"
        if done.is_file():
            return torch.load(done, weights_only=True), []
        source = nbformat.read(str(course_root / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
        probes = probes_for(assignment)
        job = {"role": "reference", "assignment": assignment, "seed": seed, "probes": sorted(probes),
               "cells": notebook_cells(source, strip_markers=True)}
        spec = runner_spec(job, settings)
        server = forkserver.server() if spec.sandboxed else None
        runner = runner_pool.ForkedRunner(server, server.new_folder("reference-"), spec) if server is not None else None
        work = runner.scratch if runner is not None else Path(tempfile.mkdtemp(prefix="reference-", dir=cache))
        try:
            records, events, errors = run_job(job, work, settings, runner)
        finally:
            if runner is not None:
                runner.kill()
            shutil.rmtree(work, ignore_errors=True)
        if errors:
            events += [f"reference cell {label}: {error}" for label, error in errors.items()]
        if not events:
            torch.save(records, done)
        return records, events


def recheck_notebook(notebook: nbformat.NotebookNode, assignment: str, course_root: Path, seed: int,
                     settings: RecheckSettings = RecheckSettings(), *,
                     demonstrations: frozenset[str] | None = None) -> RecheckResult:
    """Check every probed test cell of ``notebook`` (a submission of ``assignment``) independently.

    ``demonstrations``: the release's demonstration cell sources (see :func:`notebook_cells`); by
    default they are read from ``notebooks/<assignment>/<assignment>.ipynb`` when it exists.
    """
    probes = probes_for(assignment)
    result = RecheckResult()
    if not probes:
        return result
    test_ids = [cell.metadata.nbgrader.grade_id for cell in notebook.cells
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in probes]
    expected, reference_events = reference_record(course_root, assignment, seed, settings)
    if reference_events:
        result.events += [f"reference: {event}" for event in reference_events]
    if demonstrations is None:
        release = course_root / "notebooks" / assignment / f"{assignment}.ipynb"
        if release.is_file():
            demonstrations = demonstration_sources(nbformat.read(str(release), as_version=4))
    cells = notebook_cells(notebook, demonstrations=demonstrations)
    protected = _protected(course_root)
    got: dict[str, list] = {}
    jobs = [{"role": "student", "assignment": assignment, "seed": seed, "probes": grade_ids, "cells": cells,
             "allow_torch_optim": list(allowed), "protected": protected}
            for allowed, grade_ids in sorted(probe_groups(probes, test_ids).items())]
    # One process per job, each started (usually ahead of need) in a sandbox and scratch folder of its own.
    # Each keeps as many started as one notebook takes (one per group, at most ``warm``), not more.
    runners = [runner_pool.take(runner_spec(job, settings), min(settings.warm, len(jobs))) for job in jobs]
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), settings.workers))) as pool:
            outcomes = list(pool.map(lambda pair: run_job(pair[0], pair[1].scratch, settings, pair[1]), zip(jobs, runners)))
        for records, events, errors in outcomes:
            got.update(records)
            result.events += [e for e in events if e not in result.events]
            result.cell_errors.update(errors)
    finally:
        for runner in runners:
            runner.kill()
            shutil.rmtree(runner.scratch, ignore_errors=True)
    for grade_id in test_ids:
        if grade_id not in expected:
            result.verdicts[grade_id] = Verdict(False, "the grader could not compute the reference for this check; "
                                                       "see the grading log")
            continue
        if grade_id not in got:
            why = next((e for e in result.events if f" {grade_id}:" in e), "your code stopped the check before it recorded anything")
            result.verdicts[grade_id] = Verdict(False, why)
            continue
        result.verdicts[grade_id] = verdict_for(expected[grade_id], got[grade_id])
    return result
