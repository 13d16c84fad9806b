"""nbgrader's ``Execute`` with the kernel in a sandbox, with limits, surviving a dead or stuck kernel.

:class:`ContainedExecute` runs the notebook like nbgrader's ``Execute``, but with the kernel inside its
own bubblewrap sandbox (:mod:`course_utils.grading.bubblewrap`: an empty scratch folder, no course
files, no network; where there is no sandbox, an empty scratch folder and a guard that keeps the kernel
away from the course's files), with memory and file limits, a wall-clock limit per cell and per
notebook, and a cap on the output it keeps. A kernel that dies (``os._exit``, a segfault, memory) or a
cell that hangs no longer aborts the notebook: that cell gets an error, the cells after it are marked
as not run, and grading goes on. Of the release's demonstration cells (plots, training runs: code
cells without nbgrader metadata, unchanged from the release) only the definitions run
(:mod:`course_utils.grading.definitions`), which halves the grading time and still gives answers the
notebook's helpers; cells a student added or changed run whole. ``run_demonstration_cells`` runs them
all.

Each notebook gets a kernel of its own, used for that notebook alone and then killed. The kernel is
usually one that :mod:`course_utils.grading.kernel_pool` started ahead of need, while the previous
notebook ran, with the course's libraries already imported.

Time limits use nbclient's public traits only: ``timeout_func`` gives each cell the smaller of
``timeout`` and what is left of ``notebook_timeout``; ``interrupt_on_timeout`` is off, so nbclient
raises ``CellTimeoutError``, and :meth:`ContainedExecute.preprocess_cell` stops the kernel (an
interrupt may not stop code that catches ``KeyboardInterrupt``).

What happened (events) is stored in the notebook's metadata under ``course_grading`` for ``make grade``
to report.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode, validate

from course_utils.grading import bubblewrap
from course_utils.grading.course import OFF_LIMITS

__all__ = ["ContainedExecute", "LimitedKernelManager", "grading_metadata", "error_output", "KERNEL_DIED", "NOT_RUN"]

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
_DEATH_CAUSES = "os._exit, exit(), a crash, running out of memory, or more output than the grader accepts"


def grading_metadata(nb: NotebookNode) -> dict[str, Any]:
    """``nb.metadata["course_grading"]``, created when missing."""
    return nb.metadata.setdefault("course_grading", {})


def error_output(ename: str, evalue: str) -> NotebookNode:
    """An ``error`` output, as a kernel would send it."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class LimitedKernelManager(AsyncKernelManager):
    """Starts the kernel through :mod:`course_utils.grading.kernel_launch`: limits, guard, and the sandbox.

    With a sandbox the kernel talks to nbclient over Unix sockets in its sockets' folder (``transport =
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
        client._created_context = True  # closed with the client (jupyter_client's KernelClient.stop_channels)
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
    warm_kernels = Integer(1, help="Kernels kept started ahead of need in this process (course_utils.grading.kernel_pool); "
                                   "0 starts each notebook's kernel when it is needed.").tag(config=True)
    startup_timeout = Integer(120, help="Seconds a kernel may take to start, the course's libraries imported.").tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.interrupt_on_timeout = False
        self.timeout_func = self._cell_timeout
        self._dead: str | None = None
        self._started = time.monotonic()

    # --- nbclient's public hooks ------------------------------------------------------------------------

    @validate("interrupt_on_timeout")
    def _stop_instead_of_interrupting(self, proposal: Any) -> bool:
        """Always False, whatever the configuration says about ``Execute``: a cell past its limit then makes
        nbclient raise ``CellTimeoutError`` at once, and :meth:`preprocess_cell` stops the kernel."""
        return False

    def _cell_timeout(self, cell: NotebookNode) -> int | None:
        """``timeout_func``: the cell's limit, never past the notebook's (``notebook_timeout``)."""
        left = self.notebook_timeout - (time.monotonic() - self._started)
        limits = [value for value in (self.timeout, math.ceil(left)) if value is not None and value > 0]
        self._cell_limit = max(1, min(limits)) if limits else None
        return self._cell_limit

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        from course_utils.grading import kernel_pool

        root = Path.cwd().resolve()
        self._started = time.monotonic()
        self._output_bytes = 0
        self._dead = None
        self._cell_limit = None
        self._demonstrations = self._release_demonstrations(root, resources or {})
        resources = resources if resources is not None else {}
        original_path = resources.setdefault("metadata", {}).get("path")
        if km is not None:  # the caller's own kernel, as nbclient takes it
            return super().preprocess(nb, resources, km=km)
        guard = Path(__file__).resolve().with_name("kernel_guard.py")
        warmup = Path(__file__).resolve().with_name("kernel_warmup.py")
        self.extra_arguments = ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_files=['{guard}', '{warmup}']"]
        spec = kernel_pool.KernelSpec(
            kernel_name=self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3",
            memory_mb=self.memory_mb, protected=tuple(str(root / name) for name in OFF_LIMITS),
            sandboxed=bool(self.sandbox and bubblewrap.available()), extra_arguments=tuple(self.extra_arguments),
            environment=kernel_pool.kernel_environment())
        kernel = kernel_pool.take(spec, keep_warm=self.warm_kernels)
        resources["metadata"]["path"] = str(kernel.scratch)
        try:
            return super().preprocess(nb, resources, km=kernel.km)
        finally:
            resources["metadata"]["path"] = original_path
            if self.kc is not None:
                self.kc.stop_channels()
            self.kc = None
            self.km = None
            kernel.discard()

    def _release_demonstrations(self, root: Path, resources: dict[str, Any]) -> frozenset[str]:
        if self.run_demonstration_cells:
            return frozenset()
        names = resources.get("nbgrader", {})
        release = root / self.release_directory / str(names.get("assignment")) / f"{names.get('notebook')}.ipynb"
        if not release.is_file():
            return frozenset()
        from course_utils.grading.recheck.supervisor import demonstration_sources

        return demonstration_sources(nbformat.read(str(release), as_version=4))

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
            cell.outputs = [error_output(NOT_RUN, f"not run: {self._dead}")]
            return cell, resources
        started = time.monotonic()
        try:
            return super().preprocess_cell(cell, resources, index)
        except CellTimeoutError:
            if not self._past_limit(started):  # the reply came, the output did not (raise_on_iopub_timeout)
                return self._kernel_died(cell, resources, index)
            limit = self._stop_kernel_after_timeout()
            cell.outputs = list(cell.get("outputs", [])) + [error_output(
                "CellTimeoutError", f"the cell ran longer than {limit} s and was stopped (an endless loop?)")]
            return cell, resources
        except DeadKernelError:
            return self._kernel_died(cell, resources, index)

    def _past_limit(self, started: float) -> bool:
        return self._cell_limit is not None and time.monotonic() - started >= self._cell_limit

    def _kernel_died(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        self._dead = f"the Python kernel stopped in an earlier cell ({_DEATH_CAUSES})"
        cell.outputs = list(cell.get("outputs", [])) + [error_output(
            KERNEL_DIED, f"the Python kernel stopped while this cell ran ({_DEATH_CAUSES})")]
        name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"number {index}"
        grading_metadata(self.nb).setdefault("events", []).append(f"the kernel died in cell {name}")
        return cell, resources

    def _stop_kernel_after_timeout(self) -> int | None:
        """Kill the kernel (and with it the sandbox and all it started) after a cell ran past its limit."""
        limit = self._cell_limit if self._cell_limit is not None else self.timeout
        self.log.error("Cell timed out after %s s; stopping the kernel", limit)
        try:
            run_sync(self.km.signal_kernel)(signal.SIGKILL)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._dead = f"an earlier cell ran longer than {limit} s and the kernel was stopped"
        grading_metadata(self.nb).setdefault("events", []).append(f"a cell ran longer than {limit} s; the kernel was stopped")
        return limit

    def _run_definitions(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        """Run only what a demonstration cell defines (functions, classes, imports, constants); show nothing."""
        from course_utils.grading.definitions import definitions_only

        source, definitions = cell.source, definitions_only(cell.source)
        if definitions.strip() and self._dead is None:
            cell.source = definitions
            try:
                super().preprocess_cell(cell, resources, index)
            except CellTimeoutError:
                self._stop_kernel_after_timeout()
                self._dead = "the Python kernel stopped in an earlier cell"
            except DeadKernelError:
                self._dead = "the Python kernel stopped in an earlier cell"
            finally:
                cell.source = source
        cell.outputs, cell.execution_count = [], None
        return cell, resources
