"""Run by IPython when a grading kernel starts (``--IPKernelApp.exec_files``), before any notebook cell.

Adds an audit hook (PEP 578: it cannot be removed) so the notebook's code cannot read the course's
reference files or the gradebook, nor write to the gradebook, the submitted folders or other
students' work: everything under the folders in ``COURSE_GRADING_PROTECTED`` is off limits. The
kernel itself works in an empty scratch folder.
This is a guard against mischief, not an operating-system sandbox.
"""


def _install_course_guard() -> None:
    import os
    import sys

    protected = tuple(p for p in os.environ.pop("COURSE_GRADING_PROTECTED", "").split(os.pathsep) if p)
    if not protected:
        return
    path_events = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.truncate",
                             "shutil.rmtree", "shutil.move", "os.link", "os.symlink", "os.utime"})

    def inside(path: str) -> bool:
        return any(path == root or path.startswith(root + os.sep) for root in protected)

    def resolve(value: object) -> str | None:
        if isinstance(value, int):
            return None
        try:
            return os.path.realpath(os.fsdecode(os.fspath(value)))  # type: ignore[arg-type]
        except TypeError:
            return None

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path = resolve(args[0])
            if path is not None and inside(path):
                raise PermissionError(f"{path} is off limits while notebooks are graded")
        elif event in path_events:
            for value in args[:2]:
                path = resolve(value) if isinstance(value, (str, bytes, os.PathLike)) else None
                if path is not None and inside(path):
                    raise PermissionError(f"{event} on {path} is off limits while notebooks are graded")
        elif event == "sqlite3.connect" and args:
            path = resolve(args[0])
            if path is not None and inside(path):
                raise PermissionError(f"opening the database {path} is off limits while notebooks are graded")
        elif event in ("os.listdir", "os.scandir") and args:
            path = resolve(args[0])
            if path is not None and inside(path):
                raise PermissionError(f"listing {path} is off limits while notebooks are graded")
        elif event in ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn"):
            command = " ".join(map(str, args[1] if event == "subprocess.Popen" and len(args) > 1 and isinstance(args[1], (list, tuple)) else args[:1]))
            if any(root in command for root in protected) or "sqlite" in command:
                raise PermissionError(f"{event} touching the course's files is off limits while notebooks are graded")

    sys.addaudithook(hook)


_install_course_guard()
del _install_course_guard
