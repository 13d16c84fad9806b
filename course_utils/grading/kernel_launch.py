"""Start a grading kernel with limits: ``python -m course_utils.grading.kernel_launch [options] -- KERNEL CMD``.

Sets the resource limits (:class:`course_utils.grading.bubblewrap.Limits`: memory, file size, open
files, no core dumps), sends the kernel's own stdout and stderr to ``/dev/null`` (what a cell prints
reaches nbclient over the kernel's sockets, where its size is capped), passes the folders the kernel
may not touch to the kernel's guard (:mod:`course_utils.grading.kernel_guard`, run by IPython at
start-up), and then replaces itself with the kernel (same process id, so kills reach it).

With ``--sandbox-writable`` folders (the kernel's scratch folder and its sockets' folder), the kernel
runs inside bubblewrap (:mod:`course_utils.grading.bubblewrap`) with those folders and nothing else
of the machine's files but the interpreter and the course package, a clean environment, and no
network; killing this process ends the sandbox and everything in it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from course_utils.grading import bubblewrap

def kernel_env(scratch: str, passed: Mapping[str, str], protected: Sequence[str]) -> dict[str, str]:
    """A sandboxed kernel's whole environment: a student process's (bubblewrap.student_env), the ``passed``
    variables (nbgrader's marker, the warnings filter) and the guard's list of ``protected`` folders.
    Started here or forked (:class:`course_utils.grading.kernel_pool.ForkedProvisioner`), a kernel gets this."""
    return bubblewrap.student_env(scratch, **passed, COURSE_GRADING_PROTECTED=os.pathsep.join(protected))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--file-mb", type=int, default=256)
    parser.add_argument("--protect", action="append", default=[])
    parser.add_argument("--sandbox-writable", action="append", default=[],
                        help="run the kernel in bubblewrap with these folders writable (the first is its working folder)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no kernel command given after --")
    bubblewrap.apply_limits(bubblewrap.Limits(memory_mb=args.memory_mb, file_mb=args.file_mb))
    os.environ.pop("COURSE_RECHECK_SEED", None)
    os.environ["COURSE_GRADING_PROTECTED"] = os.pathsep.join(args.protect)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    if args.sandbox_writable:
        scratch = args.sandbox_writable[0]
        command = bubblewrap.sandbox_command(command, writable=args.sandbox_writable, cwd=scratch, env=kernel_env(
            scratch, {key: os.environ[key] for key in ("NBGRADER_EXECUTION", "PYTHONWARNINGS") if key in os.environ},
            args.protect))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
