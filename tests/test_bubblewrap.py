"""The operating-system sandbox around student code (course_utils/grading/bubblewrap.py), tested from outside.

Each test starts a sandboxed Python the way the grader does and asserts what it can and cannot reach.
Where bubblewrap cannot run (macOS, a Linux without user namespaces) these tests are skipped, except
in CI, where the repository's own set-up installs it and a missing sandbox is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils.grading import bubblewrap

pytestmark = pytest.mark.skipif(not bubblewrap.available() and not os.environ.get("CI"),
                                reason=f"no sandbox here: {bubblewrap.unavailable_reason()}")

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}


def run_inside(code: str, tmp_path: Path, *, writable: list[Path] = (), limits: bubblewrap.Limits | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = bubblewrap.sandbox_command([sys.executable, "-I", "-c", code], writable=list(writable), cwd=writable[0] if writable else None,
                                         env=ENV)
    preexec = bubblewrap.limits_preexec(limits) if limits else None
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)


def test_the_sandbox_is_available_in_ci() -> None:
    assert bubblewrap.available(), bubblewrap.unavailable_reason()


def test_a_sandboxed_process_sees_no_file_of_the_machine_but_the_interpreter(tmp_path) -> None:
    secret = tmp_path / "solutions" / "answer.txt"
    secret.parent.mkdir()
    secret.write_text("the reference")
    repo = Path(__file__).resolve().parents[1]
    code = ("import os, sys\n"
            f"for path in {[str(secret), str(secret.parent), '/etc/shadow', '/root/.bash_history', str(repo / 'solutions'), str(repo / 'tests')]!r}:\n"
            "    print(path, os.path.exists(path))\n")
    result = run_inside(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(line.endswith(" False") for line in result.stdout.splitlines()), result.stdout


def test_only_the_named_folder_is_writable_and_the_course_package_is_read_only(tmp_path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    import course_utils

    package = Path(course_utils.__file__).resolve().parent
    code = ("import os\n"
            "open('mine.txt', 'w').write('ok')\n"
            f"try:\n    open({str(package / 'planted_by_student.py')!r}, 'w')\n    print('package writable')\n"
            "except OSError as error:\n    print('package read-only', error.errno)\n")
    result = run_inside(code, tmp_path, writable=[scratch])
    assert result.returncode == 0, result.stderr
    assert (scratch / "mine.txt").read_text() == "ok"
    assert "package read-only" in result.stdout
    assert not (package / "planted_by_student.py").exists()


def test_there_is_no_network_not_even_the_grading_machines_loopback(tmp_path) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = ("import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('connected')\n"
            "except OSError as error:\n    print('refused', error)\n")
    try:
        result = run_inside(code, tmp_path)
    finally:
        server.close()
    assert "refused" in result.stdout, result.stdout + result.stderr


def test_a_file_limit_stops_a_process_that_writes_too_much(tmp_path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    code = "open('big', 'wb').write(b'x' * (8 * 1024 * 1024))\n"
    result = run_inside(code, tmp_path, writable=[scratch], limits=bubblewrap.Limits(memory_mb=0, file_mb=2))
    assert result.returncode != 0
    assert (scratch / "big").stat().st_size <= 2 * 1024 * 1024


def test_killing_the_sandbox_ends_what_it_started_in_a_session_of_its_own(tmp_path) -> None:
    marker = f"sandbox-test-marker-{os.getpid()}"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}], start_new_session=True)\n"
            "print('started', flush=True)\n"
            "time.sleep(120)\n")
    command = bubblewrap.sandbox_command([sys.executable, "-I", "-c", code], env=ENV)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, preexec_fn=bubblewrap.limits_preexec(bubblewrap.Limits()))
    assert process.stdout.readline().strip() == "started"
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0, "the child did not start"
    os.killpg(process.pid, 9)
    process.wait()
    for _ in range(50):
        if subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0, "a process outlived its sandbox"


def test_the_fallback_is_announced_when_the_sandbox_is_turned_off() -> None:
    code = "from course_utils.grading.__main__ import sandbox_line; print(sandbox_line())"
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "COURSE_SANDBOX": "off"})
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "COURSE_SANDBOX"})
    assert off.stdout.startswith("NO SANDBOX") and "COURSE_SANDBOX=off" in off.stdout
    assert on.stdout.startswith("Sandbox: bubblewrap"), on.stdout + on.stderr
