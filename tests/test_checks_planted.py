"""For every assignment: the reference passes every check, visible and hidden, and each planted
mistake fails exactly the checks of the cells it must lose (so the visible check catches it too)."""

from __future__ import annotations

import pytest

from conftest import ASSIGNMENTS, answer_namespace
from course_utils.checks import CheckFailed, checks_for
from course_utils.grading.planted import BLANK, REFERENCE, planted_for

pytestmark = pytest.mark.usefixtures("restore_patched_modules")


def registry(assignment: str) -> dict:
    return checks_for(assignment).CELL_CHECKS


def run_cell_check(assignment: str, cell: str, namespace: dict, *, thorough: bool) -> None:
    check, names = registry(assignment)[cell]
    check(*(namespace[name] for name in names), thorough=thorough)


CELLS = [(a, c) for a in ASSIGNMENTS for c in sorted(registry(a))]
WRONG = [(a, p) for a in ASSIGNMENTS for p in planted_for(a) if p.student_id not in (REFERENCE, BLANK)]


@pytest.fixture(scope="module")
def references() -> dict:
    return {assignment: answer_namespace(assignment) for assignment in ASSIGNMENTS}


@pytest.mark.parametrize("thorough", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("assignment, cell", CELLS, ids=[f"{a}:{c}" for a, c in CELLS])
def test_reference_solution_passes(references, assignment: str, cell: str, thorough: bool, capsys) -> None:
    run_cell_check(assignment, cell, references[assignment], thorough=thorough)
    assert capsys.readouterr().out.startswith("\u2714")


@pytest.mark.parametrize("assignment, planted", WRONG, ids=[f"{a}:{p.student_id}" for a, p in WRONG])
def test_planted_mistake_fails_exactly_its_cells_visible_and_hidden(assignment: str, planted) -> None:
    namespace = answer_namespace(assignment, dict(planted.replacements))
    for level, thorough in (("visible", False), ("hidden", True)):
        failed = set()
        for cell in registry(assignment):
            try:
                run_cell_check(assignment, cell, namespace, thorough=thorough)
            except CheckFailed:
                failed.add(cell)
        assert failed == set(planted.loses), f"{level} checks failed {sorted(failed)}"
