"""The operating-system sandbox around student code (course_utils/grading/bubblewrap.py), tested from outside.

Each test starts a sandboxed Python the way the grader does and asserts what it can and cannot reach.
Where bubblewrap cannot run (macOS, a Linux without user namespaces) these tests are skipped, except
in CI, where the repository's own set-up installs it and a missing sandbox is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils.grading import bubblewrap

pytestmark = [pytest.mark.skipif(not bubblewrap.available() and not os.environ.get("CI"),
                                 reason=f"no sandbox here: {bubblewrap.unavailable_reason()}"),
              pytest.mark.slow]  # sandboxed kernels and re-check processes: left out of make test-fast

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


# --- kernels and re-check processes started ahead of need (kernel_pool, recheck/runner_pool) ----------------------


def _kernel_spec():
    from course_utils.grading import kernel_pool

    guard = Path(kernel_pool.__file__).with_name("kernel_guard.py")
    return kernel_pool.KernelSpec(kernel_name="python3", memory_mb=2048, protected=(), sandboxed=True,
                                  extra_arguments=("--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_files=['{guard}']"),
                                  environment=())


def _run_in_kernel(kernel, code: str) -> str:
    """Run ``code`` in an already started kernel; its stdout."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = NotebookClient(notebook, km=kernel.km, timeout=120, startup_timeout=120, allow_errors=True)
    client.execute()
    if client.kc is not None:
        client.kc.stop_channels()
    return "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.get("output_type") == "stream")


def test_kernels_started_ahead_of_need_see_neither_each_other_nor_each_others_files() -> None:
    from course_utils.grading import kernel_pool

    spec = _kernel_spec()
    first = kernel_pool.take(spec, keep_warm=1)  # started now; a second one starts in the background
    second = kernel_pool.take(spec, keep_warm=0)  # the one started ahead of need
    try:
        assert first.scratch != second.scratch and first.kernel_dir != second.kernel_dir
        assert _run_in_kernel(first, "import os\nopen('secret.txt', 'w').write('mine')\nprint(os.getcwd())").strip() == str(first.scratch)
        seen = _run_in_kernel(second, "import os\n"
                                      f"print(os.getcwd(), os.listdir('.'), os.path.exists({str(first.scratch)!r}),\n"
                                      f"      os.path.exists({str(first.kernel_dir)!r}), sorted(p for p in os.listdir('/proc') if p.isdigit()))\n")
        cwd, listing, *rest = seen.split(" ", 2)
        assert cwd == str(second.scratch) and listing in ("[]", "['.ipython']"), seen  # its own fresh scratch folder
        assert rest[0].startswith("False False"), seen  # the other kernel's folders do not exist in its sandbox
        assert len(rest[0].split("[", 1)[1].split(",")) <= 3, seen  # its own pid namespace: a handful of processes
    finally:
        first.discard()
        second.discard()
    assert not first.scratch.exists() and not second.scratch.exists() and not first.alive() and not second.alive()


def test_a_cell_past_its_time_limit_stops_the_kernel_and_the_rest_is_not_run(tmp_path) -> None:
    import nbformat

    from course_utils.grading.contained_execute import NOT_RUN, ContainedExecute, grading_metadata

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('before')"),
        nbformat.v4.new_code_cell("print('looping', flush=True)\nwhile True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"),
        nbformat.v4.new_code_cell("print('after')"),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    from traitlets.config import Config

    config = Config()
    config.Execute.interrupt_on_timeout = True  # as nbgrader_config.py sets it: the kernel is still stopped, not interrupted
    config.Execute.timeout = 4
    executor = ContainedExecute(config=config, memory_mb=2048, warm_kernels=0)
    started = time.monotonic()
    notebook, _ = executor.preprocess(notebook, {"metadata": {"path": str(tmp_path)}})
    assert time.monotonic() - started < 90
    looping = notebook.cells[1].outputs
    assert any(o.get("text", "").startswith("looping") for o in looping), looping  # what it printed is kept
    assert looping[-1]["ename"] == "CellTimeoutError" and "longer than 4 s" in looping[-1]["evalue"], looping
    assert notebook.cells[2].outputs[0]["ename"] == NOT_RUN, notebook.cells[2].outputs
    assert grading_metadata(notebook)["events"] == ["a cell ran longer than 4 s; the kernel was stopped"]


def test_recheck_processes_started_ahead_of_need_see_only_their_own_folder(tmp_path) -> None:
    from course_utils.grading.recheck import runner_pool
    from course_utils.grading.recheck.supervisor import RecheckSettings, run_job

    spec = runner_pool.RunnerSpec(sandboxed=True, memory_mb=2048, file_mb=64)
    first = runner_pool.take(spec, keep_warm=1)
    second = runner_pool.take(spec, keep_warm=0)
    try:
        assert first.scratch != second.scratch and first.alive() and second.alive()
        look = ("import os\n"
                f"assert os.getcwd() == {str(second.scratch)!r}, os.getcwd()\n"
                f"assert not os.path.exists({str(first.scratch)!r}), 'sees the other process folder'\n"
                "assert len([p for p in os.listdir('/proc') if p.isdigit()]) <= 3, 'sees processes outside its sandbox'\n"
                "raise RuntimeError('looked')\n")
        job = {"role": "student", "assignment": "01_sgd", "seed": 1, "probes": [], "cells": [("look", look)], "protected": []}
        _, events, errors = run_job(job, second.scratch, RecheckSettings(item_timeout=30), second)
        assert errors == {"look": "RuntimeError: looked"}, (errors, events)
        assert not second.alive()
    finally:
        for runner in (first, second):
            runner.kill()
            shutil.rmtree(runner.scratch, ignore_errors=True)
