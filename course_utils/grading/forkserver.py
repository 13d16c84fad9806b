"""The coordinator's side of the fork server: one sandboxed zygote per grading process, a fork per job.

A grading kernel or re-check process used to be a fresh ``bwrap … python`` per job, and each paid about
6.5 CPU-seconds of imports (torch, torch._dynamo, ipykernel, the course's libraries) before it ran a line
of the student's code. A :class:`ForkServer` starts one zygote (:mod:`course_utils.grading.zygote`) in a bubblewrap sandbox
whose only writable folder is its own root folder, waits until it has imported everything, checks once
that a forked child is walled off as it must be (:meth:`ForkServer.self_test`), and then forks a child
per job in a few milliseconds. Each child sees only its own folder (``root/<name>``, made here before
the job starts), has no capabilities, its own PID namespace (with an init of its own) and no way to reach
the zygote or a sibling; the zygote module's docstring lists its walls.

:func:`server` keeps one server for the life of this process (a grading worker, or one ``nbgrader
autograde`` run); it is killed, with every child, when the process exits. The zygote itself has no
memory limit (it runs no student code); each child sets its job's own limits before it runs anything. Where a server cannot start or its self-test fails
(no bubblewrap, a kernel that refuses nested namespaces, a GPU machine: see :func:`usable`),
callers start one sandboxed process per job as before.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils.grading import bubblewrap

__all__ = ["ForkServer", "ForkedProcess", "server", "prestart", "usable", "failure", "shutdown"]

_START_TIMEOUT = 180.0


class ForkedProcess:
    """One job's process, forked by a zygote; :meth:`poll` and :meth:`kill` as :class:`subprocess.Popen`'s."""

    def __init__(self, server: "ForkServer", job_id: int) -> None:
        self.server = server
        self.job_id = job_id
        self.returncode: int | None = None
        self.error: str | None = None
        self._done = threading.Event()

    def _finish(self, code: int | None, error: str | None = None) -> None:
        if not self._done.is_set():
            self.returncode, self.error = code, error
            self._done.set()

    def poll(self) -> int | None:
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        self._done.wait(timeout)
        return self.poll()

    # What jupyter_client's LocalProvisioner uses of a Popen (course_utils.grading.kernel_pool.ForkedProvisioner).
    pid = None  # its number means nothing outside the zygote's PID namespace: never signal it from here
    stdin = stdout = stderr = None

    def send_signal(self, signum: int) -> None:
        """SIGKILL and SIGTERM kill it; no other signal is passed on (grading never interrupts a kernel)."""
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.kill()

    def terminate(self) -> None:
        self.kill()

    def kill(self) -> int | None:
        """Kill it (and, with it, everything it started); its exit code."""
        if not self._done.is_set():
            self.server._send({"op": "kill", "id": self.job_id})
            if not self._done.wait(30):
                self._finish(-signal.SIGKILL, "the fork server did not answer")
        return self.returncode


class ForkServer:
    """A zygote in bubblewrap; its children get their job's own limits."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="grading-zygote-")).resolve()
        self.log_path = self.root.parent / f"{self.root.name}.log"
        self._log = open(self.log_path, "ab")
        self._lock = threading.Lock()
        self._next_id = 0
        self._jobs: dict[int, ForkedProcess] = {}
        self._ready = threading.Event()
        self._failure: str | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        # The zygote is started by the thread that then reads its replies, and lives as long as it: bubblewrap's
        # --die-with-parent ends the sandbox when the thread that started it ends.
        self._reader = threading.Thread(target=self._start_and_read, name="forkserver", daemon=True)
        self._reader.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    def _start_and_read(self) -> None:
        env = bubblewrap.student_env(self.root / ".zygote", MPLBACKEND="Agg", OMP_NUM_THREADS="1")
        env.update(MPLCONFIGDIR="/tmp/.mpl")
        command = bubblewrap.sandbox_command([sys.executable, "-I", "-m", "course_utils.grading.zygote", str(self.root)],
                                             writable=[self.root], cwd=self.root, env=env, allow_user_namespaces=True)
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                            preexec_fn=bubblewrap.limits_preexec(bubblewrap.Limits(memory_mb=0, file_mb=0)))
        except BaseException as error:  # noqa: BLE001 - raised in the constructor's thread
            self._start_error = error
            self._started.set()
            return
        self._started.set()
        self._read()

    # --- the zygote's replies ---------------------------------------------------------------------------
    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("ready"):
                self._ready.set()
                continue
            if "id" not in message:
                self._failure = str(message.get("error", message))
                self._ready.set()
                continue
            with self._lock:
                job = self._jobs.get(message["id"])
            if job is None:
                continue
            if "error" in message:
                job._finish(None, message["error"])
            elif "exit" in message:
                job._finish(int(message["exit"]))
                with self._lock:
                    self._jobs.pop(message["id"], None)
        self._failure = self._failure or f"the fork server ended (see {self.log_path})"
        self._ready.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job._finish(-signal.SIGKILL, self._failure)

    def wait_ready(self, timeout: float = _START_TIMEOUT) -> str | None:
        """None once the zygote has imported its libraries; else why it will not."""
        if not self._ready.wait(timeout):
            return f"the fork server did not start within {timeout:g} s"
        return self._failure

    def alive(self) -> bool:
        return self.process.poll() is None and self._failure is None

    def _send(self, message: dict[str, Any]) -> None:
        try:
            with self._lock:
                assert self.process.stdin is not None
                self.process.stdin.write((json.dumps(message) + "\n").encode())
                self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    # --- jobs ------------------------------------------------------------------------------------------
    def new_folder(self, prefix: str = "job-") -> Path:
        """An empty folder for one job, the only one its process will see of ``root``."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def owns(self, folder: Path) -> bool:
        return Path(folder).resolve().parent == self.root

    def spawn(self, folder: Path, *, env: dict[str, str], limits: bubblewrap.Limits, cwd: Path | None = None,
              output: Path | None = None, entry: str = "recheck", argv: list[str] | None = None) -> ForkedProcess:
        """Fork a child for one job in ``folder`` (made by :meth:`new_folder`); it starts at once."""
        with self._lock:
            self._next_id += 1
            job = ForkedProcess(self, self._next_id)
            self._jobs[job.job_id] = job
        if not self.alive():
            job._finish(None, self._failure or "the fork server is not running")
            return job
        self._send({"op": "run", "id": job.job_id, "entry": entry, "folder": str(Path(folder).resolve()),
                    "cwd": str(Path(cwd or folder).resolve()), "env": env,
                    "output": str(output) if output is not None else None,
                    "memory_mb": limits.memory_mb, "file_mb": limits.file_mb, "argv": list(argv or [])})
        return job

    def self_test(self) -> str | None:
        """None when a forked child sees only its own folder and process, no capabilities, no new namespaces."""
        folder = self.new_folder("selftest-")
        sibling = self.new_folder("sibling-")
        try:
            job = self.spawn(folder, env={"PATH": "/usr/bin:/bin"}, limits=bubblewrap.Limits(), entry="selftest",
                             output=folder / "output.log")
            code = job.wait(60)
            if code != 0:
                log = (folder / "output.log").read_text(errors="replace")[-800:] if (folder / "output.log").exists() else ""
                return f"a forked child could not wall itself off (exit {code}, {job.error or 'no message'}): {log}"
            facts = json.loads((folder / "selftest.json").read_text())
            problems = []
            if facts["siblings"] != [folder.name]:
                problems.append(f"it sees other jobs' folders {facts['siblings']}")
            if facts["processes"] != ["2"] or facts["pid"] != 2:
                problems.append(f"it sees processes {facts['processes']} (pid {facts['pid']})")
            if facts["writable"]:
                problems.append(f"it could write in {facts['writable']}")
            if max(facts["fds"]) > 3:  # 0-2, and the one listing them
                problems.append(f"it holds file descriptors {facts['fds']}")
            if facts["capabilities"] != 0:
                problems.append(f"it kept capabilities {facts['capabilities']:#x}")
            if not str(facts["user_namespace"]).startswith("refused"):
                problems.append("it could create a user namespace")
            # /tmp holds nothing but the way to its own folder when the root lives there.
            kept = [self.root, *bubblewrap.python_roots()]
            way = sorted({path.relative_to("/tmp").parts[0] for path in kept if path.is_relative_to("/tmp")})
            if facts["tmp"] != way:
                problems.append(f"its /tmp is not empty: {facts['tmp']}")
            return "; ".join(problems) or None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(sibling, ignore_errors=True)

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass
        self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            self.log_path.unlink()
        except OSError:
            pass


def usable() -> str | None:
    """None when fork servers may be used here; else why each job starts its own process instead."""
    if os.environ.get("COURSE_FORKSERVER", "").lower() in ("0", "off", "no", "false"):
        return "turned off with COURSE_FORKSERVER=off"
    reason = bubblewrap.unavailable_reason()
    if reason is not None:
        return reason
    if glob.glob("/dev/nvidia*"):
        # A child forked from a process that initialised CUDA cannot use it, and forked children have not been
        # tried on a GPU yet: each job starts its own process there.
        return "a GPU machine: each job starts its own process"
    return None


_LOCK = threading.Lock()
_SERVER: ForkServer | None = None
_FAILURE: str | None = None


def server() -> ForkServer | None:
    """This process's running, self-tested fork server (started on first use), or None.

    None when :func:`usable` says no, or when the server would not start or failed its self-test (then
    :func:`failure` says why, and no new server is tried in this process).
    """
    global _SERVER, _FAILURE
    if usable() is not None:
        return None
    with _LOCK:
        if _SERVER is not None and _SERVER.alive():
            return _SERVER
        if _FAILURE is not None:
            return None
        if _SERVER is not None:  # it died: start another
            _SERVER.close()
        else:
            atexit.register(shutdown)
        started = ForkServer()
        problem = started.wait_ready() or started.self_test()
        if problem is not None:
            started.close()
            _SERVER, _FAILURE = None, problem
            return None
        _SERVER = started
        return started


def prestart() -> None:
    """Start the fork server in the background (a grading worker's first job then finds it ready)."""
    if usable() is None and _SERVER is None:
        threading.Thread(target=server, name="forkserver-prestart", daemon=True).start()


def failure() -> str | None:
    """Why this process has no fork server although :func:`usable` allows one (None: it has one, or none was tried)."""
    return _FAILURE


def shutdown() -> None:
    """Kill this process's fork server and its children."""
    global _SERVER
    with _LOCK:
        running, _SERVER = _SERVER, None
    if running is not None:
        running.close()
