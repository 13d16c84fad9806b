"""The fork server inside bubblewrap: ``python -I -m course_utils.grading.zygote FOLDER``.

Starting a Python process that runs student code costs seconds (torch, torch._dynamo, the course's
libraries). The zygote pays that once: it is started in a bubblewrap sandbox
(:func:`course_utils.grading.bubblewrap.sandbox_command`) whose only writable folder is ``FOLDER``,
imports what both kinds of grading process need (a re-check process:
:func:`course_utils.grading.recheck.runner.preload`; a grading kernel: ipykernel and what
:mod:`course_utils.grading.kernel_warmup` imports),
never runs student code itself, and forks one child per job on request. Each child walls itself off
from the zygote and from its siblings before it runs anything of a student's:

1. a new user, mount, PID, network, IPC and UTS namespace (unshare), mapping only its own user;
2. no further user namespaces (``max_user_namespaces`` 0 in its namespace: bubblewrap's ``--disable-userns``);
3. two more forks: an init, PID 1 of the new PID namespace, which only waits, and the job's process,
   PID 2; when the job ends the init ends, and with it everything the job started; no process outside
   that namespace (the zygote, a sibling) can be named, signalled or traced from inside;
4. fresh, empty ``/tmp``, ``/dev/shm`` and ``/dev/pts``; the sandbox's ``/`` and ``/dev`` (shared
   with the zygote and the siblings) read-only; ``FOLDER`` replaced by a read-only empty folder holding only
   this job's own folder (``FOLDER/<name>``, at the same path as outside); ``/proc`` replaced by a
   read-only folder holding this process's own ``/proc/self`` and the machine-wide files libraries read
   (``cpuinfo``, ``meminfo``, ``stat``...), so no other process is listed;
5. standard input from ``/dev/null``, output to the job's log, every other file descriptor closed (the
   zygote's pipes included), the job's resource limits, no capabilities (bounding, ambient, effective,
   permitted), ``no_new_privs``, not dumpable; then the job.

Protocol, one JSON object per line: requests on standard input ``{"op": "run", "id": 3, "entry": "recheck"
| "kernel", "folder": ...,
"cwd": ..., "env": {...}, "output": ..., "memory_mb": ..., "file_mb": ..., "argv": [...]}`` and ``{"op": "kill", "id": 3}``;
replies on standard output ``{"ready": true}`` once imported, then ``{"id": 3, "pid": 41}`` and
``{"id": 3, "exit": 0}`` (negative: killed by that signal), or ``{"id": 3, "error": "..."}``.
The coordinator's side is :mod:`course_utils.grading.forkserver`.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from course_utils.grading import namespaces as ns

__all__ = ["main", "ENTRIES", "SETUP_FAILED"]

SETUP_FAILED = 125  # a child's exit code when it could not wall itself off (it ran nothing)
_PROC_FILES = ("cpuinfo", "meminfo", "stat", "loadavg", "uptime", "version", "filesystems")
_PROC_FOLDERS = ("driver/nvidia",)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _recheck_preload() -> None:
    from course_utils.grading.recheck import runner

    runner.preload()


def _recheck_entry(request: dict[str, Any]) -> None:
    import warnings

    from course_utils.grading.recheck import runner

    warnings.filterwarnings("ignore")  # what runner.preload sets in a process of its own
    runner.run_job_file(Path(request["cwd"]))


def _kernel_preload() -> None:
    """What a grading kernel imports before its notebook (ipykernel_launcher, then kernel_warmup's libraries)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ipykernel.kernelapp  # noqa: F401
        import matplotlib_inline.backend_inline  # noqa: F401
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401

        import course_utils.checks  # noqa: F401
        from course_utils import data, device, landscapes, models, plotting, training, widgets  # noqa: F401


def _kernel_entry(request: dict[str, Any]) -> None:
    """Become an IPython kernel, as ``python -m ipykernel_launcher ARGV`` would (the job's environment is set)."""
    import warnings

    from ipykernel.kernelapp import IPKernelApp

    for action in filter(None, os.environ.get("PYTHONWARNINGS", "").split(",")):  # as Python reads it at start
        warnings.simplefilter(action.split(":")[0])  # type: ignore[arg-type]
    IPKernelApp.launch_instance(list(request.get("argv", [])))


def _selftest_entry(request: dict[str, Any]) -> None:
    """What a child sees, written to its folder for :func:`course_utils.grading.forkserver.ForkServer.self_test`."""
    facts: dict[str, Any] = {"pid": os.getpid(), "capabilities": ns.effective_capabilities(),
                             "siblings": sorted(os.listdir(os.path.dirname(request["folder"]))),
                             "processes": sorted(name for name in os.listdir("/proc") if name.isdigit()),
                             "tmp": sorted(os.listdir("/tmp")), "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}
    import course_utils

    from course_utils.grading import lms_names  # noqa: F401  (a module the zygote never imported: the package is still there)

    writable = []
    for place in ("/", "/dev", os.path.dirname(request["folder"]), "/proc", "/usr", os.path.dirname(course_utils.__file__)):
        try:
            with open(os.path.join(place, "selftest-probe"), "w"):
                writable.append(place)
        except OSError:
            pass
    facts["writable"] = writable
    try:
        ns.unshare(ns.CLONE_NEWUSER)
        facts["user_namespace"] = "created"
    except OSError as error:
        facts["user_namespace"] = f"refused: {error}"
    Path(request["folder"], "selftest.json").write_text(json.dumps(facts))


ENTRIES: dict[str, Callable[[dict[str, Any]], None]] = {
    "recheck": _recheck_entry, "kernel": _kernel_entry, "selftest": _selftest_entry,
}


def _reply(**message: Any) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def _mounts_under(top: str, but: str) -> list[str]:
    """The outermost mount points below ``top`` (not ``but`` or below it), from /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4].encode().decode("unicode_escape") for line in handle]
    below = sorted({p for p in points if p.startswith(top + "/") and p != but and not p.startswith(but + "/")}, key=len)
    outermost: list[str] = []
    for point in below:
        if not any(point.startswith(kept + "/") for kept in outermost):
            outermost.append(point)
    return outermost


def _walls(root: str, folder: str, pid: int) -> None:
    """Put up the job's walls in this (new) mount namespace; ``pid``: the job's process, as the zygote sees it.

    Fresh /dev/shm and /tmp; ``root`` emptied but for ``folder`` (one of its children, at the same
    path); /proc replaced by a read-only folder with ``pid``'s own folder as ``self`` and the
    machine-wide files. What is kept is first bound into the new /dev/shm, which the job never sees
    holding anything, and moved into place once the old views are covered.
    """
    flags = ns.MS_NOSUID | ns.MS_NODEV
    ns.mount("tmpfs", "/dev/shm", "tmpfs", flags, "mode=1777")
    stage = "/dev/shm/.stage"
    os.mkdir(stage)
    kept: list[tuple[str, str]] = [(folder, "job")]  # (where it goes, its name in the stage)
    os.mkdir(f"{stage}/job")
    ns.bind(folder, f"{stage}/job")
    os.mkdir(f"{stage}/self")
    ns.bind(f"/proc/{pid}", f"{stage}/self")
    kept.append(("/proc/self", "self"))
    for name in _PROC_FILES:
        if os.path.isfile(f"/proc/{name}"):
            open(f"{stage}/{name}", "w").close()
            ns.bind(f"/proc/{name}", f"{stage}/{name}")
            kept.append((f"/proc/{name}", name))
    for name in _PROC_FOLDERS:
        if os.path.isdir(f"/proc/{name}"):
            flat = name.replace("/", "_")
            os.mkdir(f"{stage}/{flat}")
            ns.bind(f"/proc/{name}", f"{stage}/{flat}")
            kept.append((f"/proc/{name}", flat))
    # What bubblewrap bound under /tmp (the interpreter, the virtual environment, the course package, when
    # they live there) is kept, read-only as it was; the zygote's root is replaced below.
    for number, place in enumerate(_mounts_under("/tmp", but=root)):
        name = f"tmp{number}"
        if os.path.isdir(place):
            os.mkdir(f"{stage}/{name}")
        else:
            open(f"{stage}/{name}", "w").close()
        ns.mount(place, f"{stage}/{name}", None, ns.MS_BIND | ns.MS_REC)
        kept.append((place, name))

    ns.mount("tmpfs", "/tmp", "tmpfs", flags, "mode=1777")
    os.makedirs(root, exist_ok=True)  # covered by the new /tmp when it lives there
    ns.mount("tmpfs", root, "tmpfs", flags, "mode=0755,size=64k")
    ns.mount("tmpfs", "/proc", "tmpfs", flags | ns.MS_NOEXEC, "mode=0555,size=64k")
    for target, name in kept:
        staged = f"{stage}/{name}"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(staged):
            os.mkdir(target)
        else:
            open(target, "w").close()
        ns.move(staged, target)
        (os.rmdir if os.path.isdir(staged) else os.unlink)(staged)
    os.rmdir(stage)
    os.symlink("self", "/proc/2")  # the job is PID 2 of its namespace (its init, PID 1, is not shown)
    os.symlink("self", "/proc/thread-self")
    ns.make_read_only(root)
    ns.make_read_only("/proc")
    # bubblewrap's own root and /dev are folders in memory that the zygote and every child share: read-only
    # here, or two jobs could leave each other files. /dev/pts gets a terminal namespace of its own.
    if os.path.isdir("/dev/pts"):
        ns.mount("devpts", "/dev/pts", "devpts", ns.MS_NOSUID | ns.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    ns.make_read_only("/dev")
    ns.make_read_only("/")


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


def _child(request: dict[str, Any], root: str, entry: Callable[[dict[str, Any]], None]) -> None:
    """The first child: new namespaces, an init and the job's process in them, the walls; exits as the job did.

    As bubblewrap does, the job is not PID 1 of its namespace: a small init is (it only waits), because
    the kernel drops the signals an init sends itself (``raise(SIGSEGV)``, ``os.kill(os.getpid(), ...)``),
    and a job must die of them as a process of its own would. When the init ends, so does everything in
    the namespace.
    """
    folder = request["folder"]
    uid, gid = os.getuid(), os.getgid()
    null = os.open(os.devnull, os.O_RDWR)
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if request.get("output") else null
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.closerange(3, 65536)  # the zygote's pipes among them
    ns.unshare(ns.CLONE_NEWUSER | ns.CLONE_NEWNS | ns.CLONE_NEWPID | ns.CLONE_NEWNET | ns.CLONE_NEWIPC | ns.CLONE_NEWUTS)
    ns.map_single_user(uid, gid)
    ns.make_mounts_private()
    ns.forbid_user_namespaces()
    go_read, go_write = os.pipe()  # this process -> the job: its walls are up
    pid_read, pid_write = os.pipe()  # the job -> this process: its PID as the zygote sees it
    status_read, status_write = os.pipe()  # the init -> this process: how the job ended
    init = os.fork()
    if init == 0:  # PID 1 of the new namespace
        try:
            ns.set_parent_death_signal(signal.SIGKILL)
            job = os.fork()
            if job == 0:  # PID 2: the job
                ns.set_parent_death_signal(signal.SIGKILL)
                for fd in (go_write, pid_read, status_read, status_write):
                    os.close(fd)
                os.write(pid_write, os.readlink("/proc/self").encode())  # still the zygote's /proc
                os.close(pid_write)
                if os.read(go_read, 2) != b"go":  # the first child died before the walls were up
                    os._exit(SETUP_FAILED)
                os.close(go_read)
                _run_job(request, entry)
            for fd in (go_read, go_write, pid_read, pid_write, status_read):
                os.close(fd)
            ns.set_no_new_privs()
            ns.drop_capabilities()
            ns.set_dumpable(False)
            while True:  # reap whatever the job leaves behind until the job itself ends
                pid, status = os.waitpid(-1, 0)
                if pid == job:
                    os.write(status_write, str(status).encode())
                    os._exit(0)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            os._exit(SETUP_FAILED)
    for fd in (go_read, pid_write, status_write):
        os.close(fd)
    try:
        job_pid = int(_read_all(pid_read).decode() or "0")
        if job_pid <= 0:
            raise RuntimeError("the job's process ended before it said who it is")
        _walls(root, folder, job_pid)
    except BaseException:  # noqa: BLE001 - the job never gets its go
        traceback.print_exc()
        os.kill(init, signal.SIGKILL)
        os._exit(SETUP_FAILED)
    os.write(go_write, b"go")
    os.close(go_write)
    reported = _read_all(status_read)
    os.waitpid(init, 0)
    if not reported:
        os._exit(SETUP_FAILED)
    status = int(reported)
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status))


def _run_job(request: dict[str, Any], entry: Callable[[dict[str, Any]], None]) -> None:
    """The job's process, walls up: its environment and limits, no privileges, then ``entry``; never returns."""
    try:
        _enter_job(request)
        entry(request)
        sys.stdout.flush()
        sys.stderr.flush()
    except SystemExit as done:
        os._exit(done.code if isinstance(done.code, int) else 1)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _enter_job(request: dict[str, Any]) -> None:
    """The job's own environment, folder, limits, and no privileges left."""
    from course_utils.grading import bubblewrap

    import tempfile

    os.environ.clear()
    os.environ.update(request.get("env", {}))
    os.chdir(request["cwd"])
    tempfile.tempdir = None  # found again on first use, as in a process of its own (the zygote's was its /tmp)
    if "numpy" in sys.modules:  # Python's random reseeds itself in a forked child; numpy's global generator does not
        sys.modules["numpy"].random.seed()
    bubblewrap.apply_limits(bubblewrap.Limits(memory_mb=int(request.get("memory_mb", 0)),
                                              file_mb=int(request.get("file_mb", 256))))
    ns.set_no_new_privs()
    ns.drop_capabilities()
    ns.set_dumpable(False)


def _valid(request: dict[str, Any], root: str) -> str | None:
    folder = request.get("folder", "")
    if not isinstance(folder, str) or os.path.dirname(folder) != root or not _NAME.match(os.path.basename(folder)):
        return f"the folder must be a direct child of {root}"
    if not os.path.isdir(folder):
        return f"{folder} does not exist"
    cwd = request.get("cwd", folder)
    if not isinstance(cwd, str) or os.path.commonpath([folder, os.path.realpath(cwd)]) != folder:
        return "the working folder must be inside the job's folder"
    return None


def main(argv: list[str]) -> int:
    import warnings

    root = os.path.realpath(argv[0])
    with warnings.catch_warnings():  # each child sets its own filters
        _kernel_preload()
        _recheck_preload()
    if len(os.listdir("/proc/self/task")) != 1:
        _reply(error="importing the libraries started threads; forking them is not safe")
        return 1
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid -> request id
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    pending = b""
    _reply(ready=True)
    while True:
        for key, _ in selector.select():
            if key.fd == wake_read:
                os.read(wake_read, 4096)
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                for pid in children:
                    os.kill(pid, signal.SIGKILL)
                return 0
            pending += chunk
        while True:  # reap
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in children:
                _reply(id=children.pop(pid), exit=os.waitstatus_to_exitcode(status))
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            if request.get("op") == "kill":
                for pid, job in children.items():
                    if job == request.get("id"):
                        os.kill(pid, signal.SIGKILL)
                continue
            problem = _valid(request, root) or (None if request.get("entry") in ENTRIES else "no such entry")
            if problem is not None:
                _reply(id=request.get("id"), error=problem)
                continue
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                try:
                    ns.set_parent_death_signal(signal.SIGKILL)
                    _child(request, root, ENTRIES[request["entry"]])
                except BaseException:  # noqa: BLE001
                    traceback.print_exc()
                os._exit(SETUP_FAILED)
            children[pid] = request.get("id")
            _reply(id=request.get("id"), pid=pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
