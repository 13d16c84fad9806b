"""Start a grading kernel with limits: ``python -m course_utils.grading.kernel_launch [options] -- KERNEL CMD``.

Sets a memory limit (the data segment, so a memory bomb raises MemoryError instead of taking the
machine down), disables core dumps, passes the folders the kernel may not touch to the kernel's
guard (:mod:`course_utils.grading.kernel_guard`, run by IPython at start-up), drops the grading
seed from the environment, and then replaces itself with the kernel (same process id, so
interrupts and kills reach the kernel).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--protect", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no kernel command given after --")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.memory_mb > 0:
        limit = args.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    os.environ.pop("COURSE_RECHECK_SEED", None)
    os.environ["COURSE_GRADING_PROTECTED"] = os.pathsep.join(args.protect)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
