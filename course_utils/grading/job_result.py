"""The coordinator's side of a grading job: an nbgrader preprocessor that takes the worker's graded notebook.

``nbgrader_config.py`` puts :class:`GradingJobResult` first in ``Autograde.autograde_preprocessors``,
before nbgrader's own ``SaveAutoGrades``, ``AssignLatePenalties`` and ``CheckCellMetadata``, so the
one ``nbgrader autograde`` run the coordinator makes (:mod:`course_utils.grading.autograde`) is the only
process that writes the gradebook. With ``results_directory`` set, the notebook comes from
``<results_directory>/<student>.ipynb`` (written by the coordinator from a worker's
:class:`~course_utils.grading.job.GradedNotebook`), and must have been made from the very notebook
nbgrader just sanitized. Without it (a plain ``nbgrader autograde`` by hand) the grading job runs here,
in this process (:func:`~course_utils.grading.job.run_worker_pipeline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from course_utils.grading.job import notebook_digest, run_worker_pipeline

__all__ = ["GradingJobResult", "result_paths", "StaleResultError"]


class StaleResultError(RuntimeError):
    """The worker graded another version of the notebook than the one nbgrader sanitized now."""


def result_paths(results_directory: Path, student: str) -> tuple[Path, Path]:
    """Where the coordinator writes ``student``'s graded notebook and the digest of the notebook it was made from."""
    return results_directory / f"{student}.ipynb", results_directory / f"{student}.digest"


class GradingJobResult(NbGraderPreprocessor):
    """Replace the sanitized notebook by the graded one: a worker's result, or a grading job run here."""

    results_directory = Unicode("", help="Folder of the workers' graded notebooks (<student>.ipynb); empty: grade "
                                         "in this process.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        if not self.results_directory:
            return run_worker_pipeline(nb, resources, self.config)
        student = resources["nbgrader"]["student"]
        notebook_path, digest_path = result_paths(Path(self.results_directory), student)
        if not notebook_path.is_file() or not digest_path.is_file():
            raise FileNotFoundError(f"no graded notebook for {student} in {self.results_directory}")
        if digest_path.read_text().strip() != notebook_digest(nb):
            raise StaleResultError(f"{student}'s submission changed while it was graded; grade again")
        return nbformat.read(str(notebook_path), as_version=4), resources
