"""nbgrader preprocessors that make autograding robust; ``nbgrader_config.py`` puts them in the pipeline.

- :class:`ContainedExecute` runs the notebook like nbgrader's ``Execute``, but with the kernel inside
  its own bubblewrap sandbox (:mod:`course_utils.grading.bubblewrap`: an empty scratch folder, no
  course files, no network; where there is no sandbox, an empty scratch folder and a guard that keeps
  the kernel away from the course's files), with memory and file limits, a wall-clock limit per cell and
  per notebook, and a cap on the output it keeps. A kernel that dies (``os._exit``, a segfault, memory)
  or a cell that hangs no longer aborts the notebook: that cell gets an error, the cells after it are
  marked as not run, and grading goes on. Of the release's demonstration cells (plots, training runs:
  code cells without nbgrader metadata, unchanged from the release) only the definitions run
  (:mod:`course_utils.grading.definitions`), which halves the grading time and still gives answers the
  notebook's helpers; cells a student added or changed run whole. ``run_demonstration_cells`` runs
  them all.
- :class:`IndependentCheck` re-checks every probed test cell outside the student's kernel
  (:mod:`course_utils.grading.recheck`), in sandboxed processes. A test cell keeps its points only
  when the independent check passes, and, where the kernel ran it, the kernel's check passed as well.

What happened to each notebook (repairs, events, verdicts) is stored in its metadata under
``course_grading`` for ``make grade`` to report.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution
import nbformat
from traitlets import Bool, Float, Integer, List, Unicode

from course_utils.grading import bubblewrap
from course_utils.grading.course import OFF_LIMITS

# The independent check (and torch) is imported when a notebook is graded, not when nbgrader reads
# nbgrader_config.py: feedback, export and the other commands start faster.

__all__ = ["ContainedExecute", "IndependentCheck", "grading_metadata"]

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"


def grading_metadata(nb: NotebookNode) -> dict[str, Any]:
    """``nb.metadata["course_grading"]``, created when missing."""
    return nb.metadata.setdefault("course_grading", {})


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class LimitedKernelManager(AsyncKernelManager):
    """Starts the kernel through :mod:`course_utils.grading.kernel_launch`: limits, guard, and the sandbox.

    With a sandbox the kernel talks to nbclient over Unix sockets in ``kernel_dir`` (``transport =
    "ipc"``): it has no network, not even the loopback of the grading machine. Every message it sends
    is at most ``max_message_mb``: a larger one disconnects it, so a cell that prints 300 MB cannot
    swell the grading process.
    """

    memory_mb = Integer(6144).tag(config=True)
    protected = List(Unicode()).tag(config=True)
    sandbox_dirs = List(Unicode(), help="Folders the sandboxed kernel may write: its scratch folder and its sockets' folder; "
                                        "empty: no sandbox.").tag(config=True)
    max_message_mb = Integer(32).tag(config=True)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        wrapper = [sys.executable, "-m", "course_utils.grading.kernel_launch", "--memory-mb", str(self.memory_mb)]
        for path in self.protected:
            wrapper += ["--protect", path]
        for path in self.sandbox_dirs:
            wrapper += ["--sandbox-writable", path]
        return [*wrapper, "--", *command]

    def client(self, **kwargs: Any) -> Any:
        import zmq
        import zmq.asyncio

        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_mb * 1024 * 1024)
        client = super().client(context=context, **kwargs)
        client._created_context = True  # closed with the client
        return client


class ContainedExecute(Execute):
    """nbgrader's Execute in a scratch folder, with limits, surviving a dead or stuck kernel."""

    memory_mb = Integer(6144, help="Memory limit (MiB) of the grading kernel's data segment; 0 for none.").tag(config=True)
    run_demonstration_cells = Bool(False, help="Also run the release's demonstration cells (plots in the feedback, "
                                               "about twice the grading time).").tag(config=True)
    release_directory = Unicode("notebooks").tag(config=True)
    notebook_timeout = Integer(900, help="Wall-clock seconds one notebook's kernel may run in all; the cells "
                                         "after that are not run.").tag(config=True)
    max_output_mb = Integer(16, help="Output (MiB) kept from one notebook's run; the rest is dropped.").tag(config=True)
    sandbox = Bool(True, help="Run the kernel inside bubblewrap where it works "
                              "(course_utils.grading.bubblewrap).").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", LimitedKernelManager)
        super().__init__(*args, **kwargs)
        self._dead: str | None = None

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        root = Path.cwd().resolve()
        guard = Path(__file__).resolve().with_name("kernel_guard.py")
        self.extra_arguments = ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_files=['{guard}']"]
        scratch = Path(tempfile.mkdtemp(prefix="grading-kernel-"))
        self._kernel_dir = Path(tempfile.mkdtemp(prefix="grading-sockets-"))
        self._scratch = scratch
        self._started = time.monotonic()
        self._output_bytes = 0
        resources = resources if resources is not None else {}
        original_path = resources.setdefault("metadata", {}).get("path")
        resources["metadata"]["path"] = str(scratch)
        self._dead = None
        self._protected = [str(root / name) for name in OFF_LIMITS]
        self._demonstrations = frozenset()
        if not self.run_demonstration_cells:
            names = resources.get("nbgrader", {})
            release = root / self.release_directory / str(names.get("assignment")) / f"{names.get('notebook')}.ipynb"
            if release.is_file():
                from course_utils.grading.recheck.supervisor import demonstration_sources

                self._demonstrations = demonstration_sources(nbformat.read(str(release), as_version=4))
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            resources["metadata"]["path"] = original_path
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(self._kernel_dir, ignore_errors=True)

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        if isinstance(km, LimitedKernelManager):
            km.memory_mb = self.memory_mb
            km.protected = list(getattr(self, "_protected", []))
            if self.sandbox and bubblewrap.available():
                km.transport = "ipc"
                km.connection_file = str(self._kernel_dir / "kernel.json")
                km.ip = str(self._kernel_dir / "ipc")
                km.sandbox_dirs = [str(self._scratch), str(self._kernel_dir)]
        return km

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        """Keep at most ``max_output_mb`` of output per notebook; say once that the rest was dropped."""
        size = len(json.dumps(msg.get("content", {}), default=str))
        limit = self.max_output_mb * 1024 * 1024
        if self._output_bytes > limit:
            return None
        self._output_bytes += size
        if self._output_bytes > limit:
            outs.append(NotebookNode(output_type="stream", name="stdout",
                                     text=f"\n[output cut: this notebook printed more than {self.max_output_mb} MiB]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        if cell.cell_type != "code":
            return cell, resources
        if not cell.get("metadata", {}).get("nbgrader") and cell.source.strip() in self._demonstrations:
            return self._run_definitions(cell, resources, index)
        if self._dead is None and time.monotonic() - self._started > self.notebook_timeout:
            self._dead = f"the notebook ran longer than {self.notebook_timeout} s in all"
            grading_metadata(self.nb).setdefault("events", []).append(
                f"the notebook ran longer than {self.notebook_timeout} s; its remaining cells were not run")
        if self._dead is not None:
            cell.outputs = [_error(NOT_RUN, f"not run: {self._dead}")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError):
            if self._dead is not None:  # stopped by _async_handle_timeout: the kernel sends nothing more
                cell.outputs = list(cell.get("outputs", [])) + [_error("CellTimeoutError", self._timed_out_message)]
                return cell, resources
            causes = "os._exit, exit(), a crash, running out of memory, or more output than the grader accepts"
            self._dead = f"the Python kernel stopped in an earlier cell ({causes})"
            cell.outputs = list(cell.get("outputs", [])) + [_error(
                KERNEL_DIED, f"the Python kernel stopped while this cell ran ({causes})")]
            name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"number {index}"
            grading_metadata(self.nb).setdefault("events", []).append(f"the kernel died in cell {name}")
            return cell, resources

    def _run_definitions(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        """Run only what a demonstration cell defines (functions, classes, imports, constants); show nothing."""
        from course_utils.grading.definitions import definitions_only

        source, definitions = cell.source, definitions_only(cell.source)
        if definitions.strip() and self._dead is None:
            cell.source = definitions
            try:
                super().preprocess_cell(cell, resources, index)
            except (DeadKernelError, CellTimeoutError):
                self._dead = "the Python kernel stopped in an earlier cell"
            finally:
                cell.source = source
        cell.outputs, cell.execution_count = [], None
        return cell, resources

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        # An interrupt may not stop code that catches KeyboardInterrupt: stop the kernel instead (and with
        # it the sandbox and everything the kernel started in it).
        self.log.error("Cell timed out after %s s; stopping the kernel", timeout)
        try:
            await self.km.signal_kernel(signal.SIGKILL)
        except Exception:  # noqa: BLE001
            pass
        self._dead = f"an earlier cell ran longer than {timeout} s and the kernel was stopped"
        self._timed_out_message = f"the cell ran longer than {timeout} s and was stopped (an endless loop?)"
        grading_metadata(self.nb).setdefault("events", []).append(f"a cell ran longer than {timeout} s; the kernel was stopped")
        return {"content": {"status": "error", "ename": "CellTimeoutError", "evalue": self._timed_out_message, "traceback": []}}


class IndependentCheck(NbGraderPreprocessor):
    """Re-check every probed test cell outside the student's kernel and mark failures as errors."""

    item_timeout = Float(60.0, help="Seconds a cell or check may run without progress in the re-check.").tag(config=True)
    memory_mb = Integer(6144, help="Memory limit (MiB) of each re-check process; 0 for none.").tag(config=True)
    seed = Integer(0, help="Seed of the re-check's random inputs; 0 draws one per run (or takes COURSE_RECHECK_SEED).").tag(config=True)
    process_timeout = Float(300.0, help="Wall-clock seconds one re-check process may run, whatever it prints.").tag(config=True)
    notebook_timeout = Float(900.0, help="Wall-clock seconds for one notebook's re-check, restarts included.").tag(config=True)
    sandbox = Bool(True, help="Run the student's re-check processes inside bubblewrap where it works.").tag(config=True)

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
                                   notebook_timeout=self.notebook_timeout, sandbox=self.sandbox)
        result = recheck_notebook(nb, assignment, Path.cwd().resolve(), self._seed(), settings)
        meta = grading_metadata(nb)
        meta["recheck"] = {gid: {"passed": v.passed, "message": v.message} for gid, v in result.verdicts.items()}
        meta.setdefault("events", []).extend(result.events)
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell) or grade_id not in result.verdicts:
                continue
            verdict = result.verdicts[grade_id]
            outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
            not_run = any(o.get("output_type") == "error" and o.get("ename") in (NOT_RUN, KERNEL_DIED) for o in outputs)
            if not verdict.passed:
                outputs.insert(0, _error("IndependentCheckFailed", f"checked again outside your notebook, with fresh random "
                                                                   f"inputs: {verdict.message}"))
            elif not_run:
                outputs = [NotebookNode(output_type="stream", name="stdout",
                                        text="Graded by the independent check: the notebook's kernel had stopped before this cell.\n")]
            cell.outputs = outputs
        for student_event in result.events:
            self.log.warning("%s/%s: %s", resources["nbgrader"].get("student"), assignment, student_event)
        return nb, resources
