"""Every graded exercise is found, not registered: a spec, a check and a probe per test cell, a demo class per chapter.

Also: the specs and the harness import nothing that holds reference formulas (they run in the student's
kernel and in the hardened re-check process), the re-check hides the checks, grading and mistakes
packages with an import hook, and the re-check compares with the documented tolerance table.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import ASSIGNMENTS, REPO, nbgrader_meta, source_notebook
from course_utils.checks import checks_for
from course_utils.grading.planted import BASELINE, planted_for
from course_utils.grading.recheck.observations import compare_records
from course_utils.grading.recheck.probes import probes_for
from course_utils.specs import assignments, spec_for
from course_utils.tolerances import RECHECK_FACTOR, recheck_tolerance_for, tolerance_for


def graded_test_cells(assignment: str) -> set[str]:
    return {nbgrader_meta(c)["grade_id"] for c in source_notebook(assignment).cells
            if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_test_cell_has_a_spec_a_check_and_a_probe(assignment: str) -> None:
    cells = graded_test_cells(assignment)
    assert cells, f"{assignment} has no graded test cell"
    missing = {
        "spec": cells - set(spec_for(assignment)),
        "check": cells - set(getattr(checks_for(assignment), "CELL_CHECKS", {})),
        "probe": cells - set(probes_for(assignment)),
    }
    assert not any(missing.values()), f"{assignment}: test cells without {missing}"
    extra = {"spec": set(spec_for(assignment)) - cells, "probe": set(probes_for(assignment)) - cells}
    assert not any(extra.values()), f"{assignment}: entries for no test cell {extra}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_is_called_with_the_names_its_spec_lists(assignment: str) -> None:
    spec, registry = spec_for(assignment), checks_for(assignment).CELL_CHECKS
    for cell, (_, names) in registry.items():
        assert tuple(names) == tuple(spec[cell].names), f"{assignment}:{cell}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_chapter_has_demo_entries_beyond_the_reference_and_a_blank(assignment: str) -> None:
    demo = planted_for(assignment)
    assert len(demo) > len(BASELINE), f"{assignment} has no planted submission besides the reference and a blank notebook"
    cells = graded_test_cells(assignment)
    for planted in demo:
        assert set(planted.loses) <= cells | {"*"}, f"{assignment}:{planted.student_id} loses cells that do not exist"


def test_every_chapter_with_a_notebook_has_a_spec_module() -> None:
    assert set(ASSIGNMENTS) <= set(assignments())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_spec_with_rows_has_visible_rows(assignment: str) -> None:
    for cell, exercise in spec_for(assignment).items():
        if exercise.cases:
            assert exercise.rows(thorough=False), f"{assignment}:{cell}: every row is hidden, so the visible check tests nothing"
            assert len(exercise.rows(thorough=True)) == len(exercise.cases)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_specs_and_the_harness_import_no_reference_code() -> None:
    result = _run("""
        import sys
        import course_utils.harness, course_utils.tolerances
        from course_utils.specs import assignments, spec_for
        for assignment in assignments():
            spec_for(assignment)
        loaded = sorted(m for m in sys.modules if m.startswith(("course_utils.checks", "course_utils.grading", "course_utils.mistakes")))
        print(loaded)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_the_recheck_hides_checks_grading_and_mistakes_with_an_import_hook() -> None:
    result = _run("""
        import course_utils.checks.sgd
        from course_utils.grading.recheck import sandbox
        sandbox.hide_grading_modules()
        import course_utils.checks.sgd as again
        import course_utils.mistakes.sgd as mistakes
        import course_utils.grading.a_module_added_later as later
        from course_utils.checks import rmsprop_adam
        for module in (again, mistakes, later, rmsprop_adam):
            try:
                module.CELL_CHECKS
            except AttributeError as error:
                print("hidden:", module.__name__, "not available" in str(error))
        import course_utils.harness
        from course_utils.specs import spec_for
        print("specs:", sorted(spec_for("01_sgd"))[:1])
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [f"hidden: {name} True" for name in ("course_utils.checks.sgd", "course_utils.mistakes.sgd",
                                                             "course_utils.grading.a_module_added_later", "course_utils.checks.rmsprop_adam")]
    assert lines[4].startswith("specs: ['test_")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_recheck_compares_with_the_table_doubled(dtype: torch.dtype) -> None:
    tol = tolerance_for(dtype)
    assert recheck_tolerance_for(dtype) == tol.scaled(RECHECK_FACTOR)
    expected = torch.tensor([1.0, -2.0, 3.0], dtype=dtype)
    step = expected.abs() * tol.rtol + tol.atol
    within = expected + 1.5 * step  # beyond the check's tolerance, within the re-check's
    beyond = expected + 3.0 * step
    assert compare_records([("x", expected)], [("x", within)]) is None
    assert compare_records([("x", expected)], [("x", beyond)]) is not None


def test_recorded_floats_use_the_float64_table_doubled() -> None:
    tol = recheck_tolerance_for(torch.float64)
    assert compare_records([("loss", 2.0)], [("loss", 2.0 * (1 + 0.5 * tol.rtol))]) is None
    assert compare_records([("loss", 2.0)], [("loss", 2.0 * (1 + 3 * tol.rtol))]) is not None
