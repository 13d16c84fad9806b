"""Checks for the graded exercise of ``03_adamw``: AdamW against ``torch.optim.AdamW``.

``test_AdamW_plain`` runs without decay (it is Adam then), ``test_AdamW_decay`` with decoupled decay
(the default 0.01 included), so coupled decay, unscaled decay and decay after the step lose the decay
cell only, while a broken Adam core loses both. The cases are the rows of ``course_utils/specs/adamw.py``; the
known mistakes are the variants of ``course_utils/mistakes/adamw.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from course_utils.checks.feedback import passed, quiet
from course_utils.checks.generic import reference_builder
from course_utils.checks.guards import require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import compare_optimizer, require_signature
from course_utils.device import get_device
from course_utils.mistakes import adamw as mistakes
from course_utils.specs import adamw as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = ["ADAMW_DEFAULTS", "check_adamw_plain", "check_adamw_decay", "check_adamw_contract", "CELL_CHECKS"]

ADAMW_DEFAULTS: Mapping[str, Any] = spec.ADAMW_DEFAULTS
ADAMW_MISTAKES = mistakes.NUMERIC


reference_adamw = reference_builder(EXERCISES["test_AdamW_plain"])
"""torch.optim.AdamW with the exercise's defaults and fixed options (from the spec)."""


def check_adamw_plain(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW with weight_decay=0 matches torch.optim.AdamW step by step (the Adam core)."""
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        require_signature(AdamW, "AdamW", ADAMW_DEFAULTS)
        rows = EXERCISES["test_AdamW_plain"].rows(thorough)
        steps = compare_optimizer(AdamW, reference_adamw, rows, exercise="AdamW",
                                  reference_name="torch.optim.AdamW", mistakes=ADAMW_MISTAKES, device=get_device())
    passed(f"AdamW without decay matches torch.optim.AdamW: {len(rows)} configurations, {steps} steps.")


def check_adamw_decay(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW's decoupled decay (p *= 1 - lr * weight_decay, first) matches torch.optim.AdamW, defaults included."""
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        rows = EXERCISES["test_AdamW_decay"].rows(thorough)
        steps = compare_optimizer(AdamW, reference_adamw, rows, exercise="AdamW",
                                  reference_name="torch.optim.AdamW", mistakes=ADAMW_MISTAKES, device=get_device())
    passed(f"AdamW's decoupled decay matches torch.optim.AdamW: {len(rows)} configurations, {steps} steps.")


def check_adamw_contract(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    contract = EXERCISES["test_AdamW_contract"]
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        checked = check_contract(AdamW, exercise="AdamW", stateful_hyperparams=contract.contract_kwargs,
                                 invalid_hyperparams=contract.errors, device=get_device(), thorough=thorough)
    passed("AdamW behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


_CHECKS: dict[str, Any] = {
    "test_AdamW_plain": check_adamw_plain,
    "test_AdamW_decay": check_adamw_decay,
    "test_AdamW_contract": check_adamw_contract,
}

CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {cell: (check, EXERCISES[cell].names) for cell, check in _CHECKS.items() if cell in EXERCISES}
"""Test cell grade_id -> (check, the notebook names it is called with, in order; from the spec)."""
