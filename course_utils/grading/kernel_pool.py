"""Grading kernels started ahead of need, one process-wide pool; each kernel grades one notebook, then dies.

Starting a kernel and importing torch in it costs seconds a notebook. :func:`take` gives
:class:`~course_utils.grading.contained_execute.ContainedExecute` a kernel that is already running,
with the course's libraries imported (:mod:`course_utils.grading.kernel_warmup`), and starts its
replacement at once, in the background, while this notebook runs. Where none is ready (the first
notebook, or ``keep_warm=0``) it starts one there and then.

Where the fork server works (:mod:`course_utils.grading.forkserver`), a sandboxed kernel is not started
but forked from a zygote that imported ipykernel and the course's libraries once
(:class:`ForkedProvisioner`); it is then ready in a fraction of a second and no kernel needs starting
ahead of need.

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

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync

from course_utils.grading import bubblewrap, forkserver, kernel_launch

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


class ForkedProvisioner(LocalProvisioner):  # type: ignore[misc]
    """jupyter_client's local provisioner, but the kernel is forked by a fork server instead of started.

    ``pre_launch`` (the connection file, the ports) is the local provisioner's; ``launch_kernel`` asks
    the zygote (:mod:`course_utils.grading.zygote`) for a kernel in ``folder`` with the command's
    ipykernel arguments, and ``process`` is its :class:`~course_utils.grading.forkserver.ForkedProcess`,
    which kills the kernel's whole PID namespace. No process group is ever signalled from here.
    """

    server: forkserver.ForkServer
    folder: Path
    spec: "KernelSpec"

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        launcher = next((i for i, part in enumerate(cmd) if part == "ipykernel_launcher"), None)
        if launcher is None:
            raise RuntimeError(f"a forked kernel needs an ipykernel_launcher command, not {cmd}")
        scratch = self.folder / "scratch"
        env = kernel_launch.kernel_env(str(scratch), dict(self.spec.environment), self.spec.protected)
        self.process = self.server.spawn(self.folder, entry="kernel", cwd=scratch, env=env, argv=cmd[launcher + 1:],
                                         limits=bubblewrap.Limits(memory_mb=self.spec.memory_mb))
        self.pid, self.pgid = None, None
        self.cwd = str(scratch)
        return self.connection_info


def _forked_kernel(spec: "KernelSpec", km: Any) -> tuple[Path, Path, Path] | None:
    """Give ``km`` a :class:`ForkedProvisioner` where the fork server works; (folder, scratch, sockets) or None."""
    if not spec.sandboxed:
        return None
    server = forkserver.server()
    if server is None:
        return None
    import uuid

    folder = server.new_folder("kernel-")
    (folder / "scratch").mkdir()
    (folder / "sockets").mkdir()
    km.kernel_id = str(uuid.uuid4())
    provisioner = ForkedProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    provisioner.server, provisioner.folder, provisioner.spec = server, folder, spec
    km.provisioner = provisioner
    return folder, folder / "scratch", folder / "sockets"


@dataclass
class WarmKernel:
    """A started kernel, its scratch folder (its working folder) and its sockets' folder."""

    km: Any  # course_utils.grading.contained_execute.LimitedKernelManager
    scratch: Path
    kernel_dir: Path
    _discarded: bool = field(default=False, repr=False)
    folder: Path | None = None  # a forked kernel's folder (holding both)

    def alive(self) -> bool:
        process = getattr(self.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    def discard(self) -> None:
        """Kill the kernel's sandbox (everything in it ends with it) and delete its folders."""
        if self._discarded:
            return
        self._discarded = True
        process = getattr(self.km.provisioner, "process", None)
        if isinstance(process, forkserver.ForkedProcess):
            process.kill()
        elif process is not None:
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
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_kernel(spec: KernelSpec) -> WarmKernel:
    """Start (or fork) one kernel for ``spec`` in fresh folders; return once its process runs (it may still be importing)."""
    from course_utils.grading.contained_execute import LimitedKernelManager

    km = LimitedKernelManager(kernel_name=spec.kernel_name)
    km.memory_mb = spec.memory_mb
    km.protected = list(spec.protected)
    km.max_message_mb = spec.max_message_mb
    forked = _forked_kernel(spec, km)
    if forked is not None:
        folder, scratch, kernel_dir = forked
    else:
        folder = None
        scratch = Path(tempfile.mkdtemp(prefix="grading-kernel-"))
        kernel_dir = Path(tempfile.mkdtemp(prefix="grading-sockets-"))
    if spec.sandboxed:
        km.transport = "ipc"
        km.connection_file = str(kernel_dir / "kernel.json")
        km.ip = str(kernel_dir / "ipc")
        km.sandbox_dirs = [str(scratch), str(kernel_dir)]
    kernel = WarmKernel(km, scratch, kernel_dir, folder=folder)
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
