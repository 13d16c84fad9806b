"""The fork server's walls, tried from inside a forked job as an attacker past every Python guard would.

Each job here runs as the reference's role (no torch.optim lock, no audit hook): what it can or cannot
do is what the operating system lets it, which is what the fork server (course_utils/grading/zygote.py)
promises. Everything is observed from this, the coordinator's, side.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from course_utils.grading import bubblewrap, forkserver

pytestmark = [pytest.mark.slow, pytest.mark.skipif(forkserver.usable() is not None, reason=str(forkserver.usable()))]


@pytest.fixture(scope="module")
def server() -> forkserver.ForkServer:
    started = forkserver.server()
    assert started is not None, forkserver.failure()
    return started


def spawn(server: forkserver.ForkServer, code: str) -> tuple[forkserver.ForkedProcess, Path]:
    """Fork a job that runs ``code`` as its one cell, unhardened; its folder."""
    folder = server.new_folder("test-")
    job = {"role": "reference", "assignment": "01_sgd", "seed": 1, "probes": [], "cells": [["attack", code]]}
    (folder / "job.json").write_text(json.dumps(job))
    process = server.spawn(folder, env=bubblewrap.student_env(folder), limits=bubblewrap.Limits(memory_mb=2048),
                           output=folder / "output.log")
    return process, folder


def finish(process: forkserver.ForkedProcess, folder: Path, timeout: float = 60) -> dict:
    """Wait for the job; what its cell wrote to ``facts.json`` (its cell's error, if any, under "error")."""
    code = process.wait(timeout)
    facts = json.loads((folder / "facts.json").read_text()) if (folder / "facts.json").exists() else {}
    for line in (folder / "progress.jsonl").read_text().splitlines() if (folder / "progress.jsonl").exists() else []:
        entry = json.loads(line)
        if entry.get("error"):
            facts["error"] = entry["error"]
    facts["exit"] = code
    return facts


def test_the_server_starts_and_passes_its_self_test(server) -> None:
    assert server.alive() and forkserver.failure() is None


def test_a_job_sees_only_its_own_folder_process_and_nothing_writable_it_shares(server) -> None:
    other, other_folder = spawn(server, "import time; time.sleep(20)")
    code = (
        "import os, json, signal\n"
        "facts = {'pid': os.getpid(), 'processes': sorted(p for p in os.listdir('/proc') if p.isdigit()),\n"
        f"         'root': sorted(os.listdir({str(server.root)!r})), 'other': os.path.exists({str(other_folder)!r})}}\n"
        "written = []\n"
        "for place in ('/', '/dev', '/usr', '/proc', os.path.dirname(os.getcwd())):\n"
        "    try:\n"
        "        open(os.path.join(place, 'planted'), 'w').close(); written.append(place)\n"
        "    except OSError:\n"
        "        pass\n"
        "facts['written'] = written\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)  # every process it may signal: none but its own\n"
        "except OSError:\n"
        "    pass\n"
        "json.dump(facts, open('facts.json', 'w'))\n"
    )
    try:
        process, folder = spawn(server, code)
        facts = finish(process, folder)
        assert facts["exit"] == 0, facts
        assert facts["pid"] == 2 and facts["processes"] == ["2"], facts
        assert facts["root"] == [folder.name] and facts["other"] is False, facts
        assert facts["written"] == [], facts
        assert other.poll() is None, "a sibling job was killed"
        assert server.alive(), "the zygote was killed"
        assert not (server.root / "planted").exists()
    finally:
        other.kill()
        shutil.rmtree(other_folder, ignore_errors=True)


def test_what_one_job_leaves_in_tmp_and_shared_memory_the_next_does_not_see(server) -> None:
    first, first_folder = spawn(server, "open('/tmp/left', 'w').write('x'); open('/dev/shm/left', 'w').write('x')\n"
                                        "import json; json.dump({}, open('facts.json', 'w'))")
    assert finish(first, first_folder)["exit"] == 0
    second, second_folder = spawn(server, "import os, json\n"
                                          "json.dump({'seen': [p for p in ('/tmp/left', '/dev/shm/left') if os.path.exists(p)],\n"
                                          "           'tmp': os.listdir('/tmp')}, open('facts.json', 'w'))")
    facts = finish(second, second_folder)
    assert facts["seen"] == [], facts


def test_a_job_can_neither_make_namespaces_nor_keep_privileges(server) -> None:
    code = (
        "import ctypes, json, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "facts = {'unshare_user': libc.unshare(0x10000000), 'unshare_mount': libc.unshare(0x00020000),\n"
        "         'cap_eff': status['CapEff'].strip(), 'cap_bnd': status['CapBnd'].strip(),\n"
        "         'no_new_privs': status['NoNewPrivs'].strip(), 'fds': sorted(os.listdir('/proc/self/fd'))}\n"
        "json.dump(facts, open('facts.json', 'w'))\n"
    )
    process, folder = spawn(server, code)
    facts = finish(process, folder)
    assert facts["unshare_user"] == -1 and facts["unshare_mount"] == -1, facts
    assert int(facts["cap_eff"], 16) == 0 and int(facts["cap_bnd"], 16) == 0, facts
    assert facts["no_new_privs"] == "1", facts
    assert len(facts["fds"]) <= 5, facts  # 0-2, the progress file, and the one listing them


def test_killing_a_job_ends_everything_it_started_even_in_a_session_of_its_own(server) -> None:
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True:\\n    open(\"beat\", \"a\").write(\"x\"); time.sleep(0.05)'],\n"
        "                 start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    process, folder = spawn(server, code)
    deadline = time.monotonic() + 60
    while not (folder / "beat").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (folder / "beat").exists(), (folder / "output.log").read_text()
    process.kill()
    time.sleep(0.5)
    size = (folder / "beat").stat().st_size
    time.sleep(1.0)
    assert (folder / "beat").stat().st_size == size, "a process the job started outlived it"
    assert server.alive()


def test_a_job_dies_of_the_signals_it_sends_itself_as_a_process_of_its_own_would(server) -> None:
    process, folder = spawn(server, "import faulthandler\nfaulthandler._sigsegv()")
    assert finish(process, folder)["exit"] == -11
    process, folder = spawn(server, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)")
    assert finish(process, folder)["exit"] == -15
    process, folder = spawn(server, "import os\nos._exit(3)")
    assert finish(process, folder)["exit"] == 3
