"""Grading kernels started ahead of need, one process-wide pool; each kernel grades one notebook, then dies.

Starting a kernel and importing torch in it costs seconds a notebook. :func:`take` gives
:class:`~course_utils.grading.contained_execute.ContainedExecute` a kernel that is already running,
with the course's libraries imported (:mod:`course_utils.grading.kernel_warmup`), and starts its
replacement at once, in the background, while this notebook runs. Where none is ready (the first
notebook, or ``keep_warm=0``) it starts one there and then.

Nothing is shared between students: a kernel is started in a sandbox of its own (its own empty scratch
folder and sockets' folder, :mod:`course_utils.grading.kernel_launch`) before anyone's notebook is known,
it runs exactly one notebook, and :meth:`WarmKernel.discard` kills it (and with it its sandbox and
everything it started) and deletes its folders. A kernel is handed out only to a notebook graded with
the same settings it was started with (:class:`KernelSpec`).

The pool lives as long as the process: one ``nbgrader autograde`` run, or one grading worker
(:mod:`course_utils.grading.job`) for many jobs. Its kernels are started from one long-lived thread,
because the sandbox ends when the thread that started it ends (bubblewrap's ``--die-with-parent``);
they are killed when the process exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync

__all__ = ["KernelSpec", "WarmKernel", "take", "start_kernel", "kernel_environment", "shutdown"]

_PASSED_ENV = ("NBGRADER_EXECUTION", "PYTHONWARNINGS")


def kernel_environment() -> tuple[tuple[str, str], ...]:
    """What of this process's environment a grading kernel is given (kernel_launch keeps only these and the
    locale, device and thread settings)."""
    return tuple((key, os.environ[key]) for key in _PASSED_ENV if key in os.environ)


@dataclass(frozen=True)
class KernelSpec:
    """The settings a kernel is started with; only a kernel of the same spec may grade a notebook."""

    kernel_name: str
    memory_mb: int
    protected: tuple[str, ...]
    sandboxed: bool
    extra_arguments: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    max_message_mb: int = 32


@dataclass
class WarmKernel:
    """A started kernel, its scratch folder (its working folder) and its sockets' folder."""

    km: Any  # course_utils.grading.contained_execute.LimitedKernelManager
    scratch: Path
    kernel_dir: Path
    _discarded: bool = field(default=False, repr=False)

    def alive(self) -> bool:
        process = getattr(self.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    def discard(self) -> None:
        """Kill the kernel's sandbox (everything in it ends with it) and delete its folders."""
        if self._discarded:
            return
        self._discarded = True
        process = getattr(self.km.provisioner, "process", None)
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the kernel runs in a session of its own
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.kill()
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - already reaped
                pass
        try:
            run_sync(self.km.cleanup_resources)()
        except Exception:  # noqa: BLE001 - connection files already gone
            pass
        shutil.rmtree(self.scratch, ignore_errors=True)
        shutil.rmtree(self.kernel_dir, ignore_errors=True)


def start_kernel(spec: KernelSpec) -> WarmKernel:
    """Start one kernel for ``spec`` in fresh folders; return once its process runs (it may still be importing)."""
    from course_utils.grading.contained_execute import LimitedKernelManager

    scratch = Path(tempfile.mkdtemp(prefix="grading-kernel-"))
    kernel_dir = Path(tempfile.mkdtemp(prefix="grading-sockets-"))
    km = LimitedKernelManager(kernel_name=spec.kernel_name)
    km.memory_mb = spec.memory_mb
    km.protected = list(spec.protected)
    km.max_message_mb = spec.max_message_mb
    if spec.sandboxed:
        km.transport = "ipc"
        km.connection_file = str(kernel_dir / "kernel.json")
        km.ip = str(kernel_dir / "ipc")
        km.sandbox_dirs = [str(scratch), str(kernel_dir)]
    kernel = WarmKernel(km, scratch, kernel_dir)
    environment = {**os.environ, **dict(spec.environment)}
    for key in _PASSED_ENV:
        if key not in dict(spec.environment):
            environment.pop(key, None)
    try:
        run_sync(km.start_kernel)(extra_arguments=list(spec.extra_arguments), cwd=str(scratch), env=environment)
    except BaseException:
        kernel.discard()
        raise
    return kernel


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready: dict[KernelSpec, list[Future[WarmKernel]]] = {}
        self.starter: ThreadPoolExecutor | None = None
        self.closed = False

    def _starter(self) -> ThreadPoolExecutor:
        if self.starter is None:
            self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grading-kernel-starter")
            atexit.register(shutdown)
        return self.starter

    def take(self, spec: KernelSpec, keep_warm: int) -> WarmKernel:
        with self.lock:
            waiting = self.ready.setdefault(spec, [])
            future = waiting.pop(0) if waiting else None
            if keep_warm > 0 and not self.closed:
                waiting += [self._starter().submit(start_kernel, spec) for _ in range(keep_warm - len(waiting))]
        kernel = self._usable(future) if future is not None else None  # waited for outside the lock
        if kernel is None:
            # Started here, from the caller's thread, which outlives the notebook's run.
            kernel = start_kernel(spec)
        return kernel

    @staticmethod
    def _usable(future: Future[WarmKernel]) -> WarmKernel | None:
        try:
            kernel = future.result()  # still starting: wait, it is nearer ready than a new one
        except Exception:  # noqa: BLE001 - it could not start; a new one is started below
            return None
        if kernel.alive():
            return kernel
        kernel.discard()
        return None

    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            pending = [future for futures in self.ready.values() for future in futures]
            self.ready.clear()
        for future in pending:
            try:
                future.result(timeout=120).discard()
            except Exception:  # noqa: BLE001
                pass
        if self.starter is not None:
            self.starter.shutdown(wait=True)


_POOL = _Pool()


def take(spec: KernelSpec, keep_warm: int = 1) -> WarmKernel:
    """A running kernel for ``spec`` (the caller must :meth:`~WarmKernel.discard` it), and ``keep_warm``
    more started in the background for the next notebooks."""
    return _POOL.take(spec, keep_warm)


def shutdown() -> None:
    """Kill every kernel waiting in the pool (at exit, or when a grading worker stops)."""
    _POOL.shutdown()
