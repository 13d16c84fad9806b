"""The independent check on every planted submission, through the probes directly (no kernel, no nbgrader).

For each chapter, the re-check's own job (:func:`course_utils.grading.recheck.runner.execute_job`: the
submission's set-up, answer and demonstration-definition cells, then every probe) runs here, unhardened,
on the reference and on each planted mistake of its demo class; the records are compared as the grader
compares them (:func:`course_utils.grading.recheck.supervisor.verdict_for`). Each mistake must be caught
by exactly the probed cells it must lose, and the reference by none. With ``test_checks_planted.py``
(the visible and hidden checks, the kernel's half of a score) this is every planted submission's score
without a grading run; ``test_grading_e2e.py`` grades the demo class's sample through nbgrader, and
``test_dask_grading.py`` part of it on a cluster.

The hardening (torch.optim locked, the audit hook) is left out on purpose: it is irreversible for the
process, and planted mistakes are honest code; the attacks, which need it, are ``test_adversarial.py``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENTS, REPO
from course_utils.grading.planted import REFERENCE, planted_for
from course_utils.grading.recheck.probes import probes_for
from course_utils.grading.recheck.runner import execute_job
from course_utils.grading.recheck.supervisor import (demonstration_sources, notebook_cells, probe_groups, read_records,
                                                     verdict_for)
from course_utils.grading.submissions import fill_submission

pytestmark = [pytest.mark.usefixtures("restore_patched_modules"),
              pytest.mark.slow]  # about a minute: a process per chapter and probe group, every notebook's cells

SEED = 20261201
PLANTED = [(a, p) for a in ASSIGNMENTS for p in planted_for(a) if p.student_id != REFERENCE and probes_for(a)]


def _notebook(folder: str, assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(str(REPO / folder / assignment / f"{assignment}.ipynb"), as_version=4)


def record(assignment: str, cells: list[tuple[str, str]], scratch: Path, monkeypatch) -> tuple[dict[str, list], list[str]]:
    """Every probe's record of ``assignment`` after running ``cells`` in this process, in ``scratch``."""
    from course_utils import plotting

    scratch.mkdir(parents=True)
    monkeypatch.chdir(scratch)
    monkeypatch.setattr(plotting, "configure_plotly_renderer", lambda: "json")  # as the runner does: nothing is shown
    probes = sorted(probes_for(assignment))
    execute_job({"role": "reference", "assignment": assignment, "seed": SEED, "probes": probes, "cells": cells},
                scratch, harden=False)
    return read_records(scratch, probes)


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, dict[str, list]]:
    """The reference record of each chapter, as the grader computes it (the solution notebook's cells)."""
    out = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for assignment in ASSIGNMENTS:
            if not probes_for(assignment):
                continue
            cells = notebook_cells(_notebook("solutions", assignment), strip_markers=True)
            records, unreadable = record(assignment, cells, tmp_path_factory.mktemp(assignment) / "reference", monkeypatch)
            assert not unreadable, unreadable
            assert set(records) == set(probes_for(assignment)), f"{assignment}: probes that recorded nothing"
            out[assignment] = records
    return out


ANSWERED = "release-answered-with-the-reference"
SUBMISSIONS = {a: [(p.student_id, dict(p.replacements), p.blank) for p in planted_for(a) if p.student_id != REFERENCE]
               + [(ANSWERED, {}, False)] for a in ASSIGNMENTS if probes_for(a)}


@pytest.fixture(scope="module")
def caught(references, tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    """Per (chapter, student): the probed cells whose record differs from the reference's, with the message.

    Each chapter's submissions are recorded by one process per probe group (tests/helpers/record_many.py),
    torch.optim locked but for what the group allows, as the grader runs them.
    """
    out: dict[tuple[str, str], dict[str, str]] = {}
    root = tmp_path_factory.mktemp("planted")
    for assignment, submissions in SUBMISSIONS.items():
        release, source = _notebook("notebooks", assignment), _notebook("solutions", assignment)
        demonstrations = demonstration_sources(release)
        cells = {sid: notebook_cells(fill_submission(release, source, replacements, blank=blank), demonstrations=demonstrations)
                 for sid, replacements, blank in submissions}
        records: dict[str, dict[str, list]] = {sid: {} for sid in cells}
        probes = probes_for(assignment)
        for allowed, grade_ids in probe_groups(probes, sorted(probes)).items():
            jobs = [{"scratch": str(root / assignment / ("-".join(allowed).replace("*", "all") or "locked") / sid),
                     "job": {"role": "planted", "assignment": assignment, "seed": SEED, "probes": grade_ids, "cells": cells[sid]}}
                    for sid in cells]
            result = subprocess.run([sys.executable, str(REPO / "tests" / "helpers" / "record_many.py")],
                                    input=json.dumps({"allowed": list(allowed), "jobs": jobs}), text=True,
                                    capture_output=True, cwd=root, env={**os.environ, "PYTHONPATH": str(REPO)})
            assert result.returncode == 0, result.stderr[-3000:]
            for item in jobs:
                got, unreadable = read_records(Path(item["scratch"]), grade_ids)
                assert not unreadable, unreadable
                records[Path(item["scratch"]).name].update(got)
        for sid, got in records.items():
            flagged = {}
            for grade_id, expected in references[assignment].items():
                verdict = verdict_for(expected, got[grade_id]) if grade_id in got else None
                if verdict is None or not verdict.passed:
                    flagged[grade_id] = verdict.message if verdict else "no record"
            out[(assignment, sid)] = flagged
    return out


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if probes_for(a)])
def test_the_released_notebook_answered_with_the_reference_records_what_the_solutions_do(assignment: str, caught) -> None:
    # A student's notebook is the release with the answers filled in: its demonstration cells contribute only
    # their definitions, and torch.optim is locked, yet it must record exactly what the solution notebook does.
    assert caught[(assignment, ANSWERED)] == {}


@pytest.mark.parametrize("assignment, planted", PLANTED, ids=[f"{a}:{p.student_id}" for a, p in PLANTED])
def test_the_independent_check_catches_exactly_the_probed_cells_a_planted_mistake_loses(
        assignment: str, planted, references, caught) -> None:
    probed = set(references[assignment])
    must_lose = probed if "*" in planted.loses else probed & set(planted.loses)
    found = caught[(assignment, planted.student_id)]
    assert set(found) == must_lose, f"{planted.student_id}: caught {sorted(found)}, expected {sorted(must_lose)}; messages: {found}"
