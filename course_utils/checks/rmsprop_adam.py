"""Checks for the graded exercises of ``02_rmsprop_adam``: the building blocks, RMSprop and Adam.

The building blocks are checked on their own (``ema_``, ``bias_correction``) so a student can tell
which piece is wrong; the optimizers are compared with ``torch.optim.RMSprop`` (``centered=False``)
and ``torch.optim.Adam`` (``amsgrad=False``) on every parameter after every step, over ladders whose
``eps`` is large enough (1e-3) for its placement to matter and whose decay is non-zero. The cases are
the rows of ``course_utils/specs/rmsprop_adam.py``; the known mistakes are the variants of
``course_utils/mistakes/rmsprop_adam.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.generic import reference_builder
from course_utils.checks.guards import forbid_torch_optim, require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils import harness
from course_utils.checks.optimizer_harness import compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import require_student_function
from course_utils.device import get_device
from course_utils.mistakes import rmsprop_adam as mistakes
from course_utils.specs import rmsprop_adam as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = [
    "RMSPROP_DEFAULTS",
    "ADAM_DEFAULTS",
    "check_ema",
    "check_bias_correction",
    "check_rmsprop_plain",
    "check_rmsprop_momentum",
    "check_rmsprop_contract",
    "check_adam_plain",
    "check_adam_weight_decay",
    "check_adam_contract",
    "CELL_CHECKS",
]

RMSPROP_DEFAULTS: Mapping[str, Any] = spec.RMSPROP_DEFAULTS
ADAM_DEFAULTS: Mapping[str, Any] = spec.ADAM_DEFAULTS


reference_rmsprop = reference_builder(EXERCISES["test_RMSprop_plain"])
"""torch.optim.RMSprop with the exercise's defaults and fixed options (from the spec)."""


reference_adam = reference_builder(EXERCISES["test_Adam_plain"])
"""torch.optim.Adam with the exercise's defaults and fixed options (from the spec)."""


# --- building blocks ----------------------------------------------------------------------------------


def _call(exercise: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        with forbid_torch_optim(exercise):
            return fn(*args)
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, what, error) from None


def _expect_tensor(exercise: str, call: str, got: Any, expected: torch.Tensor, mistakes: list[tuple[str, str, torch.Tensor]]) -> None:
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{call}\n  returned {type(got).__name__}; expected a tensor of shape {tuple(expected.shape)}.")
    if got.shape != expected.shape:
        raise CheckFailed(f"{call}\n  returned shape {tuple(got.shape)}; expected {tuple(expected.shape)}.")
    tol = tolerance_for(expected.dtype)
    where = first_mismatch(expected, got, tol)
    if where is None:
        return
    lines = [f"{exercise} gives a wrong result:", f"  {call}", describe_mismatch(expected, got, where, tol)]
    for name, hint, replay in mistakes:
        if first_mismatch(replay, got, tol) is None:
            lines += [f"  Your numbers match a known mistake: {name}.", f"  Hint: {hint}"]
            break
    raise CheckFailed("\n".join(lines))


def check_ema(ema_: Any, *, thorough: bool = False) -> None:
    """ema_(avg, value, beta) sets avg <- beta * avg + (1 - beta) * value in place and returns avg."""
    require_student_function(ema_, "ema_")
    device = get_device()
    cases = EXERCISES["test_ema"].rows(thorough)
    with quiet():
        for row in cases:
            shape, beta, dtype = row.shape, row.beta, row.dtype
            avg0, value = harness.random_tensors([shape, shape], dtype, device, harness.fixed_seeds, row.seed)
            avg, value_copy = avg0.clone(), value.clone()
            call = f"ema_(avg, value, beta={beta}) with avg and value of shape {shape}, {str(dtype).replace('torch.', '')}"
            got = _call("ema_", f"in {call}", ema_, avg, value, beta)
            expected = beta * avg0 + (1 - beta) * value
            if not tensors_equal(value, value_copy):
                raise CheckFailed(f"{call}\n  changed `value`. Only `avg` is updated.")
            _expect_tensor("ema_", call, got, expected, [
                ("the weights are swapped", "The old average keeps the weight beta: beta * avg + (1 - beta) * value.",
                 (1 - beta) * avg0 + beta * value),
                ("the (1 - beta) factor is missing", "An average needs weights that sum to one: beta * avg + (1 - beta) * value.",
                 beta * avg0 + value),
            ])
            if got is not avg or first_mismatch(expected, avg, tolerance_for(dtype)) is not None:
                raise CheckFailed(
                    f"{call}\n  returned the right values but did not update `avg` in place and return it. Optimizer "
                    f"state lives in these tensors: use avg.mul_(beta).add_(value, alpha=1 - beta) and return avg."
                )
    passed(f"ema_ updates the average in place: {len(cases)} cases.")


def check_bias_correction(bias_correction: Any, *, thorough: bool = False) -> None:
    """bias_correction(avg, beta, t) returns avg / (1 - beta ** t), t counted from 1; t < 1 raises ValueError."""
    require_student_function(bias_correction, "bias_correction")
    device = get_device()
    exercise = EXERCISES["test_bias_correction"]
    cases = exercise.rows(thorough)
    with quiet():
        for row in cases:
            beta, t = row.beta, row.t
            (avg,) = harness.random_tensors([(3, 2)], torch.float64, device, harness.fixed_seeds, row.seed)
            original = avg.clone()
            call = f"bias_correction(avg, beta={beta}, t={t})"
            got = _call("bias_correction", f"in {call}", bias_correction, avg, beta, t)
            if not tensors_equal(avg, original):
                raise CheckFailed(f"{call}\n  changed `avg` in place. Return a new tensor: the stored average must stay uncorrected for the next step.")
            zero_based = avg / (1 - beta ** (t - 1)) if t > 1 else torch.full_like(avg, float("nan"))
            _expect_tensor("bias_correction", call, got, original / (1 - beta ** t), [
                ("t counted from 0", "The first step is t = 1, so the first correction divides by 1 - beta.", zero_based),
                ("multiplying instead of dividing", "Divide: avg / (1 - beta ** t).", original * (1 - beta ** t)),
                ("1 - beta * t instead of 1 - beta ** t", "The correction is 1 - beta to the power t: beta ** t.", original / (1 - beta * t)),
            ])
        for error_row in exercise.errors:
            bad_t = error_row.kwargs["t"]
            try:
                with forbid_torch_optim("bias_correction"):
                    bias_correction(torch.ones(2, dtype=torch.float64), error_row.kwargs["beta"], bad_t)
            except error_row.error_type:
                continue
            except Exception as error:
                raise CheckFailed(f"bias_correction(avg, 0.9, t={bad_t}) raised {type(error).__name__}; expected ValueError naming t (steps count from 1).") from None
            raise CheckFailed(f"bias_correction(avg, 0.9, t={bad_t}) was accepted; steps count from 1, so raise ValueError(f\"Invalid step t: {{t}} (t counts from 1)\").")
    passed(f"bias_correction divides by 1 - beta ** t: {len(cases)} cases, and rejects t < 1.")


# --- RMSprop --------------------------------------------------------------------------------------------


RMSPROP_MISTAKES = mistakes.RMSPROP_NUMERIC


def check_rmsprop_plain(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop without momentum matches torch.optim.RMSprop step by step (eps placement, alpha, decay, defaults)."""
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        require_signature(RMSprop, "RMSprop", RMSPROP_DEFAULTS)
        rows = EXERCISES["test_RMSprop_plain"].rows(thorough)
        steps = compare_optimizer(RMSprop, reference_rmsprop, rows, exercise="RMSprop",
                                  reference_name="torch.optim.RMSprop", mistakes=RMSPROP_MISTAKES, device=get_device())
    passed(f"RMSprop without momentum matches torch.optim.RMSprop: {len(rows)} configurations, {steps} steps.")


def check_rmsprop_momentum(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop with momentum matches torch.optim.RMSprop step by step."""
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        rows = EXERCISES["test_RMSprop_momentum"].rows(thorough)
        steps = compare_optimizer(RMSprop, reference_rmsprop, rows, exercise="RMSprop",
                                  reference_name="torch.optim.RMSprop", mistakes=RMSPROP_MISTAKES, device=get_device())
    passed(f"RMSprop with momentum matches torch.optim.RMSprop: {len(rows)} configurations, {steps} steps.")


def check_rmsprop_contract(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    contract = EXERCISES["test_RMSprop_contract"]
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        checked = check_contract(RMSprop, exercise="RMSprop", stateful_hyperparams=contract.contract_kwargs,
                                 invalid_hyperparams=contract.errors, device=get_device(), thorough=thorough)
    passed("RMSprop behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


# --- Adam (also used by AdamW's checks) -----------------------------------------------------------------


ADAM_MISTAKES = mistakes.ADAM_NUMERIC


def check_adam_plain(Adam: type, *, thorough: bool = False) -> None:
    """Adam without weight decay matches torch.optim.Adam step by step (bias correction, t, eps, betas, defaults)."""
    with quiet():
        require_own_implementation(Adam, "Adam")
        require_signature(Adam, "Adam", ADAM_DEFAULTS)
        rows = EXERCISES["test_Adam_plain"].rows(thorough)
        steps = compare_optimizer(Adam, reference_adam, rows, exercise="Adam",
                                  reference_name="torch.optim.Adam", mistakes=ADAM_MISTAKES, device=get_device())
    passed(f"Adam matches torch.optim.Adam: {len(rows)} configurations, {steps} steps.")


def check_adam_weight_decay(Adam: type, *, thorough: bool = False) -> None:
    """Adam's weight_decay is an L2 penalty added to the gradient, as in torch.optim.Adam."""
    with quiet():
        require_own_implementation(Adam, "Adam")
        rows = EXERCISES["test_Adam_weight_decay"].rows(thorough)
        steps = compare_optimizer(Adam, reference_adam, rows, exercise="Adam",
                                  reference_name="torch.optim.Adam", mistakes=ADAM_MISTAKES, device=get_device())
    passed(f"Adam's L2 weight decay matches torch.optim.Adam: {len(rows)} configurations, {steps} steps.")


def check_adam_contract(Adam: type, *, thorough: bool = False) -> None:
    """Adam behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    contract = EXERCISES["test_Adam_contract"]
    with quiet():
        require_own_implementation(Adam, "Adam")
        checked = check_contract(Adam, exercise="Adam", stateful_hyperparams=contract.contract_kwargs,
                                 invalid_hyperparams=contract.errors, device=get_device(), thorough=thorough)
    passed("Adam behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


_CHECKS: dict[str, Any] = {
    "test_ema": check_ema,
    "test_bias_correction": check_bias_correction,
    "test_RMSprop_plain": check_rmsprop_plain,
    "test_RMSprop_momentum": check_rmsprop_momentum,
    "test_RMSprop_contract": check_rmsprop_contract,
    "test_Adam_plain": check_adam_plain,
    "test_Adam_weight_decay": check_adam_weight_decay,
    "test_Adam_contract": check_adam_contract,
}

CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {cell: (check, EXERCISES[cell].names) for cell, check in _CHECKS.items() if cell in EXERCISES}
"""Test cell grade_id -> (check, the notebook names it is called with, in order; from the spec)."""
