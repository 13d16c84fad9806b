"""Re-check processes forked or started ahead of need, one process-wide pool; each runs one job, then dies.

Where the fork server works (:mod:`course_utils.grading.forkserver`: Linux with bubblewrap, no GPU), a
job (a student's, and the reference's too) runs in a process forked from a sandboxed zygote that imported
everything once (:class:`ForkedRunner`); it costs milliseconds instead of seconds, and is walled off from
the zygote and every other job. Elsewhere a process is started per job as follows.

A re-check process (:mod:`course_utils.grading.recheck.runner`) spends seconds importing torch and
the course's libraries before it reads its job from standard input. :func:`take` gives the
supervisor (:mod:`course_utils.grading.recheck.supervisor`) a process that has been started earlier,
in the background, in a sandbox and a scratch folder of its own, and is waiting for its job with its
libraries loaded; it starts the replacement at once. Where none is ready, it starts one there and then.

Nothing is shared between students: a process is started before anyone's submission is known, sees
only its own empty scratch folder (:mod:`course_utils.grading.bubblewrap`), receives exactly one job
over its standard input, and is killed when that job is done. It is handed out only for jobs of the
same settings (:class:`RunnerSpec`) it was started with.

Processes are started from one long-lived thread (a sandbox ends when the thread that started it ends:
bubblewrap's ``--die-with-parent``) and killed when this process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from course_utils.grading import bubblewrap, forkserver

__all__ = ["RunnerSpec", "StartedRunner", "ForkedRunner", "start_runner", "take", "shutdown"]


@dataclass(frozen=True)
class RunnerSpec:
    """How a re-check process is started; only a process of the same spec may run a job."""

    sandboxed: bool
    memory_mb: int
    file_mb: int


@dataclass
class StartedRunner:
    """A running re-check process waiting for its job, in ``scratch`` (its working folder)."""

    process: subprocess.Popen[bytes]
    scratch: Path
    log: IO[bytes]
    sandboxed: bool

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_job(self, job: dict) -> None:
        """Hand it its job (it reads it from standard input)."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(job).encode())
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> int | None:
        """Kill it and everything it started (inside a sandbox, killing bwrap ends them all); its exit code."""
        if self.log.closed:  # killed before
            return self.process.returncode
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        self.log.close()
        return self.process.returncode


@dataclass
class ForkedRunner:
    """A job's folder ``scratch`` in a fork server's root; its process is forked when the job is sent."""

    server: forkserver.ForkServer
    scratch: Path
    spec: RunnerSpec
    sandboxed: bool = True
    process: forkserver.ForkedProcess | None = None

    def alive(self) -> bool:
        if self.process is None:
            return self.server.alive()
        return self.process.poll() is None

    def send_job(self, job: dict) -> None:
        """Leave the job in its folder and fork its process (it reads ``job.json`` and deletes it)."""
        (self.scratch / "job.json").write_text(json.dumps(job))
        self.process = self.server.spawn(self.scratch, env=child_env(self.scratch), limits=_limits(self.spec),
                                         output=self.scratch / "output.log")

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def kill(self) -> int | None:
        """Kill its process and everything it started (its PID namespace ends with it); its exit code."""
        return None if self.process is None else self.process.kill()


def _limits(spec: RunnerSpec) -> bubblewrap.Limits:
    return bubblewrap.Limits(memory_mb=spec.memory_mb, file_mb=spec.file_mb)


def _server(spec: RunnerSpec) -> forkserver.ForkServer | None:
    """The fork server for a sandboxed spec, where fork servers work; None otherwise."""
    return forkserver.server() if spec.sandboxed else None


def child_env(scratch: Path) -> dict[str, str]:
    """The whole environment of a re-check process (bubblewrap.student_env), one thread, no display."""
    env = bubblewrap.student_env(scratch, MPLBACKEND="Agg")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def runner_command(scratch: Path, env: dict[str, str], sandboxed: bool) -> list[str]:
    command = [sys.executable, "-I", "-m", "course_utils.grading.recheck.runner"]
    if not sandboxed:
        return command
    return bubblewrap.sandbox_command(command, writable=[scratch], cwd=scratch, env=env)


def start_runner(scratch: Path, spec: RunnerSpec) -> StartedRunner | ForkedRunner:
    """A re-check process for ``scratch`` that waits for its job: forked from the fork server that owns
    ``scratch`` (a folder it made), else started there (in its own session, with the spec's limits)."""
    server = _server(spec)
    if server is not None and server.owns(scratch):
        return ForkedRunner(server, scratch, spec)
    scratch.mkdir(parents=True, exist_ok=True)
    limits = _limits(spec)
    env = child_env(scratch)
    log = open(scratch / "output.log", "ab")
    try:
        process = subprocess.Popen(
            runner_command(scratch, env, spec.sandboxed),
            cwd=scratch, env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=bubblewrap.limits_preexec(limits),
        )
    except BaseException:
        log.close()
        raise
    return StartedRunner(process, scratch, log, spec.sandboxed)


def _start_in_fresh_folder(spec: RunnerSpec) -> StartedRunner:
    scratch = Path(tempfile.mkdtemp(prefix="recheck-"))
    try:
        return start_runner(scratch, spec)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready: dict[RunnerSpec, list[Future[StartedRunner]]] = {}
        self.starter: ThreadPoolExecutor | None = None
        self.closed = False

    def take(self, spec: RunnerSpec, keep_warm: int) -> StartedRunner | ForkedRunner:
        server = _server(spec)
        if server is not None:
            return ForkedRunner(server, server.new_folder("recheck-"), spec)
        with self.lock:
            waiting = self.ready.setdefault(spec, [])
            future = waiting.pop(0) if waiting else None
            if keep_warm > 0 and not self.closed:
                if self.starter is None:
                    self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recheck-starter")
                    atexit.register(shutdown)
                waiting += [self.starter.submit(_start_in_fresh_folder, spec) for _ in range(keep_warm - len(waiting))]
        runner = _usable(future) if future is not None else None  # waited for outside the lock
        return runner if runner is not None else _start_in_fresh_folder(spec)

    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            pending = [future for futures in self.ready.values() for future in futures]
            self.ready.clear()
        for future in pending:
            try:
                runner = future.result(timeout=60)
            except Exception:  # noqa: BLE001
                continue
            runner.kill()
            shutil.rmtree(runner.scratch, ignore_errors=True)
        if self.starter is not None:
            self.starter.shutdown(wait=True)


def _usable(future: Future[StartedRunner]) -> StartedRunner | None:
    try:
        runner = future.result()
    except Exception:  # noqa: BLE001 - it could not start; the caller starts one
        return None
    if runner.alive():
        return runner
    runner.kill()
    shutil.rmtree(runner.scratch, ignore_errors=True)
    return None


_POOL = _Pool()


def take(spec: RunnerSpec, keep_warm: int = 2) -> StartedRunner | ForkedRunner:
    """A started re-check process for ``spec`` in a fresh scratch folder (the caller kills it and deletes the
    folder), and ``keep_warm`` more started in the background for the next jobs."""
    return _POOL.take(spec, keep_warm)


def shutdown() -> None:
    """Kill every process waiting in the pool (at exit, or when a grading worker stops)."""
    _POOL.shutdown()
    forkserver.shutdown()
