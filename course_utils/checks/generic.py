"""Checks written by a chapter's spec alone, for ``"optimizer"`` and ``"contract"`` test cells.

A chapter whose graded cells are all of these two kinds needs no checks module: :func:`spec_checks`
builds one from ``course_utils/specs/<chapter>.py`` (the rows, the defaults, the reference class named by
``ExerciseSpec.reference``) and ``course_utils/mistakes/<chapter>.py`` (``NUMERIC``: the variants to
name), and :func:`course_utils.checks.checks_for` returns it. Each cell's check is called
``check_<grade id without "test_", in lower case>``: ``test_NAdam_plain`` -> ``checks.check_nadam_plain``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

from course_utils import harness
from course_utils.checks.feedback import passed, quiet
from course_utils.checks.guards import require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import compare_optimizer, require_signature
from course_utils.device import get_device
from course_utils.specs import ExerciseSpec, module_for, spec_for

__all__ = ["GENERIC_KINDS", "check_name", "reference_builder", "optimizer_check", "contract_check", "spec_checks"]

GENERIC_KINDS = ("optimizer", "contract")


def check_name(grade_id: str) -> str:
    """``test_NAdam_plain`` -> ``check_nadam_plain``."""
    return "check_" + grade_id.removeprefix("test_").lower()


def _mistakes(assignment: str, class_name: str) -> Sequence[type]:
    module = module_for("course_utils.mistakes", assignment)
    numeric = getattr(module, "NUMERIC", ())
    return numeric.get(class_name, ()) if isinstance(numeric, dict) else numeric


def reference_builder(spec: ExerciseSpec) -> Callable[..., Any]:
    """``reference(params, **kwargs)``: the spec's ``reference`` class with its defaults, fixed options and ``kwargs``."""

    def reference(params: Any, **kwargs: Any) -> Any:
        return harness.grader_optimizer(spec.reference)(params, **{**spec.defaults, **spec.reference_kwargs, **kwargs})

    return reference


def optimizer_check(spec: ExerciseSpec, assignment: str) -> Callable[..., None]:
    """The check of an ``"optimizer"`` cell: every row against ``spec.reference``, the chapter's mistakes named."""
    name = spec.names[0]
    reference_class = spec.reference
    reference = reference_builder(spec)

    def check(optimizer_class: type, *, thorough: bool = False) -> None:
        rows = spec.rows(thorough)
        with quiet():
            require_own_implementation(optimizer_class, name)
            if spec.check_defaults:
                require_signature(optimizer_class, name, spec.defaults)
            steps = compare_optimizer(optimizer_class, reference, rows, exercise=name, reference_name=reference_class,
                                      mistakes=_mistakes(assignment, name), device=get_device())
        passed(f"{name} matches {reference_class}: {len(rows)} configurations, {steps} steps, every parameter after every step.")

    check.__name__ = check.__qualname__ = check_name(spec.grade_id)
    check.__doc__ = f"{name} matches {reference_class} on the rows of {assignment}'s spec ({spec.grade_id})."
    return check


def contract_check(spec: ExerciseSpec, assignment: str) -> Callable[..., None]:
    """The check of a ``"contract"`` cell: the rejected inputs and the contract every optimizer must keep."""
    name = spec.names[0]

    def check(optimizer_class: type, *, thorough: bool = False) -> None:
        with quiet():
            require_own_implementation(optimizer_class, name)
            checked = check_contract(optimizer_class, exercise=name, stateful_hyperparams=spec.contract_kwargs,
                                     invalid_hyperparams=spec.errors, device=get_device(), thorough=thorough)
        passed(f"{name} behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")

    check.__name__ = check.__qualname__ = check_name(spec.grade_id)
    check.__doc__ = f"{name} behaves like a PyTorch optimizer ({assignment}'s spec, {spec.grade_id})."
    return check


def spec_checks(assignment: str) -> types.ModuleType | None:
    """A checks module built from ``assignment``'s spec; None when it has a cell of another kind (it needs its own module)."""
    exercises = spec_for(assignment)
    if not exercises or any(e.kind not in GENERIC_KINDS for e in exercises.values()):
        return None
    module = types.ModuleType(f"course_utils.checks.generic[{assignment}]", f"Checks of {assignment}, built from its spec.")
    module.ASSIGNMENT = assignment
    module.CELL_CHECKS = {}
    for grade_id, exercise in exercises.items():
        check = (optimizer_check if exercise.kind == "optimizer" else contract_check)(exercise, assignment)
        setattr(module, check.__name__, check)
        module.CELL_CHECKS[grade_id] = (check, exercise.names)
    return module
