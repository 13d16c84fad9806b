"""The operating-system boundary around every process that runs a student's code: bubblewrap.

Each grading kernel and each re-check process starts as ``bwrap [options] -- COMMAND``, in its own
user, PID, network, IPC, UTS and mount namespaces. Inside it sees:

- read-only: the operating system's programs and libraries (``/usr`` and its ``/bin``, ``/lib``
  links), a few files of ``/etc`` the dynamic linker and fonts need, the Python installation and the
  virtual environment, and the ``course_utils`` package;
- read-write: the folders the caller names (one scratch folder, plus the kernel's socket folder);
- an empty ``/tmp``, its own ``/proc`` and a minimal ``/dev`` (GPU device nodes when there are any).

Nothing else exists there: no ``solutions/``, no gradebook, no other student, no reference record,
no course source it could rewrite, no network. The process runs as an unprivileged user with no
capabilities and cannot create further user namespaces. ``--die-with-parent`` and the PID namespace
tie everything it starts to the sandbox: when the sandbox ends (or is killed), every process in it
ends too, whatever session or process group it put itself in.

:func:`available` tells whether bubblewrap works on this machine (it does not on macOS, Windows, or a
Linux without unprivileged user namespaces); callers then fall back to the Python-level guards and
the grade report says so in its first line. ``COURSE_SANDBOX=off`` forces that fallback.
"""

from __future__ import annotations

import functools
import glob
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "available", "unavailable_reason", "sandbox_command", "apply_limits", "limits_preexec", "student_env",
           "NO_SANDBOX_NOTICE", "python_roots"]

NO_SANDBOX_NOTICE = (
    "NO SANDBOX: bubblewrap is not available here ({reason}). Student code ran behind the course's "
    "Python-level guards only, which a determined student can get around: grades of an untrusted class "
    "graded this way may be forged. Grade on Linux with bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)."
)

# /etc files a Python process with torch, matplotlib and IPython reads; the rest of /etc stays outside.
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "fonts", "ssl/openssl.cnf",
        "nsswitch.conf", "passwd", "group", "hosts", "mime.types", "matplotlibrc")
_SANDBOX_UID = 1000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process (0: no limit)."""

    memory_mb: int = 6144  # RLIMIT_DATA: a memory bomb gets MemoryError, not the machine
    file_mb: int = 256  # RLIMIT_FSIZE: the largest file it may write (output logs included)
    open_files: int = 1024  # RLIMIT_NOFILE
    cpu_seconds: int = 0  # RLIMIT_CPU; the wall clock is the caller's job


def apply_limits(limits: Limits) -> None:
    """Set ``limits`` on this process (call it in the child, before exec); no core dumps."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for which, value in ((resource.RLIMIT_DATA, limits.memory_mb * 1024 * 1024),
                         (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
                         (resource.RLIMIT_NOFILE, limits.open_files),
                         (resource.RLIMIT_CPU, limits.cpu_seconds)):
        if value > 0:
            soft, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))


_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "COURSE_DEVICE", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "SYSTEMROOT")


def student_env(scratch: Path | str, **extra: str) -> dict[str, str]:
    """The whole environment of a process that runs student code: what the grading machine's says about
    locale, device and threads, a home in ``scratch``, and ``extra``; nothing about the grader."""
    env = {key: os.environ[key] for key in _KEEP_ENV if key in os.environ}
    env.update(HOME=str(scratch), MPLCONFIGDIR=os.path.join(str(scratch), ".mpl"), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def limits_preexec(limits: Limits) -> Callable[[], None]:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: a session of its own, then ``limits``."""
    def apply() -> None:
        os.setsid()
        apply_limits(limits)

    return apply


def _bwrap() -> str | None:
    return shutil.which("bwrap")


def python_roots() -> list[Path]:
    """What the interpreter needs: its installation, the virtual environment, the course package."""
    import course_utils

    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix),
             Path(os.path.realpath(sys.executable)).parent.parent, Path(course_utils.__file__).resolve().parent}
    return sorted({root.resolve() for root in roots if root.exists()})


def _covered(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _gpu_devices() -> list[str]:
    return sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/renderD*"))


@functools.lru_cache(maxsize=1)
def _supports_disable_userns() -> bool:
    bwrap = _bwrap()
    if bwrap is None:
        return False
    help_text = subprocess.run([bwrap, "--help"], capture_output=True, text=True).stdout
    return "--disable-userns" in help_text


def sandbox_command(command: Sequence[str], *, writable: Sequence[Path | str] = (), readable: Sequence[Path | str] = (),
                    cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
                    allow_user_namespaces: bool = False) -> list[str]:
    """``command`` wrapped in bubblewrap; every path appears inside at the same place as outside.

    ``writable`` folders are bound read-write, ``readable`` files or folders read-only (the course
    package and the interpreter are always readable). ``env`` replaces the whole environment.
    ``allow_user_namespaces``: leave out ``--disable-userns``, for the fork server's zygote alone
    (:mod:`course_utils.grading.zygote`), which runs no student code and whose every child makes its
    own user namespace and then forbids further ones in it.
    """
    bwrap = _bwrap()
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed")
    args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", str(_SANDBOX_UID), "--gid", str(_SANDBOX_UID)]
    if _supports_disable_userns() and not allow_user_namespaces:
        args.append("--disable-userns")
    args += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin", "lib32"):
        target = Path("/") / link
        if target.is_symlink():
            args += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            args += ["--ro-bind", str(target), str(target)]
    for name in _ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for device in _gpu_devices():
        args += ["--dev-bind-try", device, device]
    if Path("/proc/driver/nvidia").exists():
        args += ["--ro-bind-try", "/proc/driver/nvidia", "/proc/driver/nvidia"]
    roots = python_roots()
    for root in roots:
        if not _covered(root, [Path("/usr")]):
            args += ["--ro-bind", str(root), str(root)]
    for path in readable:
        path = Path(path).resolve()
        if not _covered(path, roots):
            args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        path = Path(path).resolve()
        args += ["--bind", str(path), str(path)]
    if cwd is not None:
        args += ["--chdir", str(Path(cwd).resolve())]
    args.append("--clearenv")
    for key, value in (env if env is not None else {}).items():
        args += ["--setenv", key, value]
    return [*args, "--", *command]


@functools.lru_cache(maxsize=1)
def _probe() -> str | None:
    """None when a sandboxed Python starts and cannot see this folder; else why not."""
    if os.environ.get("COURSE_SANDBOX", "").lower() in ("0", "off", "no", "false"):
        return "turned off with COURSE_SANDBOX=off"
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux, this is {sys.platform}"
    if _bwrap() is None:
        return "the bwrap program is not installed"
    code = "import course_utils, os; print('/etc/shadow' if os.path.exists('/etc/shadow') else 'ok')"
    try:
        result = subprocess.run(sandbox_command([sys.executable, "-I", "-c", code], env={"PATH": "/usr/bin:/bin"}),
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start: {error}"
    if result.returncode != 0:
        return "bwrap could not start a sandbox (are unprivileged user namespaces turned off?): " + \
            (result.stderr.strip().splitlines() or ["no message"])[-1]
    if result.stdout.strip() != "ok":
        return "the sandbox could see files it must not (" + result.stdout.strip() + ")"
    return None


def unavailable_reason() -> str | None:
    """Why there is no sandbox here, or None when bubblewrap works."""
    return _probe()


def available() -> bool:
    """True when student code can run inside bubblewrap on this machine."""
    return _probe() is None
