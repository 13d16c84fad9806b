"""Grading on Dask: the same scores as serial grading, on a local cluster and on separate processes with PostgreSQL.

A small class of 01_sgd (the reference and a planted mistake) is graded three ways:
serially by a plain ``nbgrader autograde`` run (the grading job runs inside nbgrader's own process), on a
``LocalCluster`` of two workers (``grade_assignment``), and through the instructors' command line against a
``dask scheduler`` and a ``dask worker`` started as separate processes, with the gradebook on a PostgreSQL
server this test starts (Debian's ``postgresql``; skipped when it is not installed). All three must give
every student the same score on every autograded cell, and the planted mistake loses exactly its cells.
Then: ``grade`` refuses to grade when ``notebooks/`` is not what ``solutions/`` releases, and what the
independent check could not run reaches the report.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from conftest import REPO
from course_utils.grading.autograde import StudentOutcome, format_outcomes, grade_assignment, read_outcome
from course_utils.grading.course import Course
from course_utils.grading.demo_class import SAMPLE_ATTACKS, demo_submissions
from course_utils.grading.planted import BLANK, REFERENCE, planted_for
from course_utils.grading.report import read_scores
from course_utils.grading.submissions import fill_submission, write_submission

pytestmark = pytest.mark.slow  # three gradings of a class: left out of make test-fast

ASSIGNMENT = "01_sgd"
SEED = 20261201
# Two students, so that each of two workers grades one; every planted mistake is scored in test_probes_planted.py.
CLASS = [p for p in planted_for(ASSIGNMENT) if p.student_id == REFERENCE] + \
        [p for p in planted_for(ASSIGNMENT) if p.student_id not in (REFERENCE, BLANK)][:1]
VENV_BIN = Path(sys.executable).parent


def make_course(root: Path, extra_config: str = "") -> Course:
    """A scratch course with the committed release and the small class submitted."""
    course = Course.scratch_copy(Course(REPO), root)
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    if extra_config:
        with open(root / "nbgrader_config.py", "a") as handle:
            handle.write("\n" + extra_config + "\n")
    release = nbformat.read(str(course.release_notebook(ASSIGNMENT)), as_version=4)
    source = nbformat.read(str(course.source_notebook(ASSIGNMENT)), as_version=4)
    for planted in CLASS:
        write_submission(fill_submission(release, source, planted.replacements, blank=planted.blank),
                         course.submission_path(planted.student_id, ASSIGNMENT))
    return course


def autograded_scores(db_url: str) -> dict[str, dict[str, float | None]]:
    table = read_scores(db_url, ASSIGNMENT)
    return {student: {cell: score.score for cell, score in row.items() if cell not in table.manual_cells}
            for student, row in table.rows.items()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> dict[str, dict[str, float | None]]:
    """The class graded by one plain ``nbgrader autograde`` run: no cluster, one student after the other."""
    course = make_course(tmp_path_factory.mktemp("serial"))
    assert course.check_release(ASSIGNMENT)
    course.nbgrader("autograde", ASSIGNMENT, "--force", "--log-level=WARN", env={"COURSE_RECHECK_SEED": str(SEED)})
    return autograded_scores(course.db_url)


def assert_same(got: dict, want: dict, how: str) -> None:
    assert set(got) == {p.student_id for p in CLASS}, f"{how}: graded {sorted(got)}"
    for student in want:
        assert got[student] == want[student], f"{student} graded {how}: {got[student]} != serial {want[student]}"


def test_serial_grading_gives_the_planted_scores(serial) -> None:
    for planted in CLASS:
        lost = {cell for cell, score in serial[planted.student_id].items() if score == 0}
        expected = set(serial[planted.student_id]) if planted.student_id == BLANK else set(planted.loses)
        assert lost == expected, f"{planted.student_id}: lost {sorted(lost)}, expected {sorted(expected)}"
    assert all(serial[REFERENCE][cell] for cell in serial[REFERENCE])


def test_a_local_cluster_of_two_workers_gives_the_serial_scores(serial, tmp_path) -> None:
    course = make_course(tmp_path / "local")
    course.check_release(ASSIGNMENT)
    students = [p.student_id for p in CLASS]
    outcomes = grade_assignment(course, ASSIGNMENT, students, jobs=2, seed=SEED)
    assert [o.student for o in outcomes] == students and all(o.graded for o in outcomes), format_outcomes(outcomes)
    assert_same(autograded_scores(course.db_url), serial, "on a LocalCluster of 2 workers")
    assert not list((course.root / "build" / "grading_results").glob("*/*")), "the workers' results were left behind"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on localhost (trust authentication); yields a database URL."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql); the shared gradebook is not tested")
    bin_dir = Path(binaries[-1]).parent
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="gradebook-pg-", dir="/tmp"))
    if as_postgres:
        shutil.chown(data, "postgres")
    port = _free_port()
    log = data / "server.log"

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        run(str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(log), "-w", "-t", "60", "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "gradebook")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/gradebook"  # psycopg2-binary, the course's driver
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory) -> Iterator[str]:
    """A ``dask scheduler`` and one ``dask worker`` (one thread), each its own process on localhost."""
    pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    scheduler = subprocess.Popen([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    worker = None
    try:
        _wait_for_port(port, scheduler, "dask scheduler")
        worker = subprocess.Popen([str(VENV_BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                   "--memory-limit", "0", "--no-dashboard", "--local-directory", str(folder)],
                                  cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def test_a_scheduler_and_a_worker_with_a_postgresql_gradebook_give_the_serial_scores(serial, postgres, dask_cluster, tmp_path) -> None:
    course = make_course(tmp_path / "shared", f'c.CourseDirectory.db_url = "{postgres}"')
    assert course.db_url == postgres
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "grade", "--course", str(course.root),
                             "--scheduler", dask_cluster, "--seed", str(SEED)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dask_cluster in result.stdout
    assert_same(autograded_scores(postgres), serial, "by a separate dask worker, gradebook on PostgreSQL")
    assert not (course.root / "gradebook.db").exists(), "a SQLite gradebook was written beside the PostgreSQL one"


def test_grade_stops_when_notebooks_are_not_what_solutions_release(tmp_path) -> None:
    course = make_course(tmp_path / "drifted")
    released = course.release_notebook(ASSIGNMENT)
    notebook = json.loads(released.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "An instruction edited by hand in notebooks/.\n"
    released.write_text(json.dumps(notebook, indent=1))
    before = released.read_bytes()
    result = subprocess.run([sys.executable, "-m", "course_utils.grading", "grade", "--course", str(course.root)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "make release" in result.stderr and f"notebooks/{ASSIGNMENT}" in result.stderr, result.stderr
    assert released.read_bytes() == before, "grade rewrote notebooks/"
    assert not (course.root / "autograded").exists(), "grade graded against a release the students never saw"


def test_what_the_independent_check_could_not_run_is_in_the_report() -> None:
    notebook = {"metadata": {"course_grading": {"cell_errors": {"answer_SGD": "Traceback ...\nNameError: name 'torch' is not defined"}}},
                "cells": []}
    outcome = StudentOutcome("someone", graded=True)
    read_outcome(notebook, outcome)
    report = format_outcomes([outcome])
    assert "someone" in report and "answer_SGD" in report and "NameError: name 'torch' is not defined" in report


def test_the_demo_sample_shows_each_kind_of_submission(repo) -> None:
    course = Course(repo)
    for assignment in course.assignments:
        planted, attacks = demo_submissions(assignment)
        ids = {p.student_id for p in planted}
        assert {REFERENCE, BLANK} <= ids and 2 <= len(ids - {REFERENCE, BLANK}) <= 3, f"{assignment}: {sorted(ids)}"
    _, attacks = demo_submissions(ASSIGNMENT)
    assert {a.student_id for a in attacks} == set(SAMPLE_ATTACKS)
    assert any(not a.graded for a in attacks), "no damaged notebook in the demo class"
    assert any(a.student_id.startswith("x_") for a in attacks)
