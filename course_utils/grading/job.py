"""One grading job: a sanitized submission in, the executed and re-checked notebook out.

:func:`grade_job` is what a Dask worker runs (:mod:`course_utils.grading.cluster`): it takes the
notebook the coordinator sanitized (nbgrader's sanitize preprocessors, ``Autograde.sanitize_preprocessors``
in ``nbgrader_config.py``), runs the worker pipeline ``WorkerPipeline.preprocessors`` from the same
file (the sandboxed execution and the independent check) in this process, and returns the notebook with
its ``course_grading`` metadata (events, verdicts, the re-check's cell errors). A worker never opens the
gradebook: the coordinator alone writes it, in one ``nbgrader autograde`` run whose first preprocessor
(:class:`course_utils.grading.job_result.GradingJobResult`) takes each student's notebook from these results.

Workers see the course through the same path as the coordinator (one machine, or a shared filesystem
on a cluster): the sandboxed kernels and re-check processes need the release and the solutions.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import traceback
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from traitlets import List
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

__all__ = ["GradingJob", "GradedNotebook", "WorkerPipeline", "grade_job", "run_worker_pipeline", "notebook_digest",
           "load_course_config"]


class WorkerPipeline(Configurable):
    """The preprocessors a grading job runs, in order (``c.WorkerPipeline.preprocessors`` in nbgrader_config.py)."""

    preprocessors = List([], help="Preprocessor classes the grading job runs on a sanitized notebook: execution "
                                  "and the independent check; never the ones that write the gradebook.").tag(config=True)


@dataclass(frozen=True)
class GradingJob:
    """What a worker needs to grade one submission."""

    course_root: str  # absolute; the worker reads the release and the solutions there
    assignment: str
    student: str
    notebook: str  # the sanitized notebook, JSON
    seed: int  # the independent check's seed, the same for the whole class
    keep_warm: bool = True  # start the next job's kernel and re-check processes ahead of need (False: the class's tail)


@dataclass(frozen=True)
class GradedNotebook:
    """What a worker gives back for one submission."""

    student: str
    notebook: str | None  # the executed and re-checked notebook, JSON; None when the job failed
    input_digest: str  # :func:`notebook_digest` of the notebook the job was given
    error: str | None = None  # why there is no notebook


def notebook_digest(nb: NotebookNode) -> str:
    """SHA-256 over each cell's type, source and nbgrader metadata: what grading reads of a sanitized notebook."""
    cells = [(c.get("cell_type"), c.get("source"), c.get("metadata", {}).get("nbgrader", {})) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, default=str).encode()).hexdigest()


_CONFIGS: dict[tuple[str, int], Config] = {}


def load_course_config(course_root: Path) -> Config:
    """``nbgrader_config.py`` of ``course_root`` as traitlets config, read once per version of the file."""
    path = course_root / "nbgrader_config.py"
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _CONFIGS:
        _CONFIGS[key] = PyFileConfigLoader(path.name, path=str(course_root)).load_config()
    return copy.deepcopy(_CONFIGS[key])


@contextmanager
def _job_environment() -> Iterator[None]:
    """What ``nbgrader autograde`` sets for the notebooks it executes, and one thread per kernel."""
    saved = {name: os.environ.get(name) for name in ("NBGRADER_EXECUTION", "OMP_NUM_THREADS", "PYTHONWARNINGS")}
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_worker_pipeline(nb: NotebookNode, resources: dict[str, Any], config: Config) -> tuple[NotebookNode, dict[str, Any]]:
    """Run ``WorkerPipeline.preprocessors`` on ``nb`` the way nbgrader's exporter runs its own (``enabled`` honoured).

    The caller's working directory must be the course root (the preprocessors read the release from there).
    """
    from nbconvert.exporters import NotebookExporter

    exporter = NotebookExporter(config=config)
    exporter._preprocessors = []
    for preprocessor in WorkerPipeline(config=config).preprocessors:
        exporter.register_preprocessor(preprocessor)
    with _job_environment():
        output, resources = exporter.from_notebook_node(nb, resources=resources)
    return nbformat.reads(output, as_version=4), resources


def grade_job(job: GradingJob) -> GradedNotebook:
    """Execute and re-check one sanitized submission in this process; never raises for a student's notebook."""
    nb = nbformat.reads(job.notebook, as_version=4)
    digest = notebook_digest(nb)
    root = Path(job.course_root)
    try:
        config = load_course_config(root)
        config.IndependentCheck.seed = int(job.seed)
        if not job.keep_warm:  # no job is coming after this one on this worker: nothing started that would be killed unused
            config.ContainedExecute.warm_kernels = 0
            config.IndependentCheck.warm_processes = 0
        resources = {
            "unique_key": job.assignment, "output_files_dir": f"{job.assignment}_files",
            "nbgrader": {"student": job.student, "assignment": job.assignment, "notebook": job.assignment, "db_url": None},
            "metadata": {"name": job.assignment, "path": str(root)},
        }
        with chdir(root):
            graded, _ = run_worker_pipeline(nb, resources, config)
        return GradedNotebook(job.student, nbformat.writes(graded), digest)
    except Exception as error:  # noqa: BLE001 - reported to the instructor, the class goes on
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return GradedNotebook(job.student, None, digest, f"the grading job failed: {detail}")
