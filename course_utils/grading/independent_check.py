"""nbgrader preprocessor that re-checks every probed test cell outside the student's kernel.

:class:`IndependentCheck` runs the independent check (:mod:`course_utils.grading.recheck`) on the
notebook :class:`~course_utils.grading.contained_execute.ContainedExecute` has just run, in sandboxed
processes of its own. A test cell keeps its points only when the independent check passes, and, where
the kernel ran it, the kernel's check passed as well. The verdicts, the re-check's events and the
answer cells it could not run (``cell_errors``) are stored in the notebook's metadata under
``course_grading`` for ``make grade`` to report.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Float, Integer

from course_utils.grading.contained_execute import KERNEL_DIED, NOT_RUN, error_output, grading_metadata

# The independent check (and torch) is imported when a notebook is graded, not when nbgrader reads
# nbgrader_config.py: feedback, export and the other commands start faster.

__all__ = ["IndependentCheck"]


class IndependentCheck(NbGraderPreprocessor):
    """Re-check every probed test cell outside the student's kernel and mark failures as errors."""

    item_timeout = Float(60.0, help="Seconds a cell or check may run without progress in the re-check.").tag(config=True)
    memory_mb = Integer(6144, help="Memory limit (MiB) of each re-check process; 0 for none.").tag(config=True)
    seed = Integer(0, help="Seed of the re-check's random inputs; 0 draws one per run (or takes COURSE_RECHECK_SEED).").tag(config=True)
    process_timeout = Float(300.0, help="Wall-clock seconds one re-check process may run, whatever it prints.").tag(config=True)
    notebook_timeout = Float(900.0, help="Wall-clock seconds for one notebook's re-check, restarts included.").tag(config=True)
    sandbox = Bool(True, help="Run the student's re-check processes inside bubblewrap where it works.").tag(config=True)
    warm_processes = Integer(2, help="Re-check processes kept started ahead of need in this process "
                                     "(course_utils.grading.recheck.runner_pool); 0 starts each when needed.").tag(config=True)

    def _seed(self) -> int:
        if self.seed:
            return int(self.seed)
        from_env = os.environ.get("COURSE_RECHECK_SEED", "")
        if from_env.isdigit():
            return int(from_env)
        if not getattr(self, "_drawn", 0):
            self._drawn = secrets.randbelow(2**31 - 1) + 1
        return self._drawn

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        from course_utils.grading.recheck.supervisor import RecheckSettings, recheck_notebook

        assignment = resources["nbgrader"]["assignment"]
        settings = RecheckSettings(item_timeout=self.item_timeout, memory_mb=self.memory_mb, process_timeout=self.process_timeout,
                                   notebook_timeout=self.notebook_timeout, sandbox=self.sandbox, warm=self.warm_processes)
        result = recheck_notebook(nb, assignment, Path.cwd().resolve(), self._seed(), settings)
        meta = grading_metadata(nb)
        meta["recheck"] = {gid: {"passed": v.passed, "message": v.message} for gid, v in result.verdicts.items()}
        meta.setdefault("events", []).extend(result.events)
        meta["cell_errors"] = dict(result.cell_errors)  # answer cells the re-check could not run, and why
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell) or grade_id not in result.verdicts:
                continue
            verdict = result.verdicts[grade_id]
            outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
            not_run = any(o.get("output_type") == "error" and o.get("ename") in (NOT_RUN, KERNEL_DIED) for o in outputs)
            if not verdict.passed:
                outputs.insert(0, error_output("IndependentCheckFailed", f"checked again outside your notebook, with fresh random "
                                                                         f"inputs: {verdict.message}"))
            elif not_run:
                outputs = [NotebookNode(output_type="stream", name="stdout",
                                        text="Graded by the independent check: the notebook's kernel had stopped before this cell.\n")]
            cell.outputs = outputs
        for student_event in result.events:
            self.log.warning("%s/%s: %s", resources["nbgrader"].get("student"), assignment, student_event)
        return nb, resources
