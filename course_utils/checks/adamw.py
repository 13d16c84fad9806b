"""Checks for the graded exercise of ``03_adamw``: AdamW against ``torch.optim.AdamW``.

``test_AdamW_plain`` runs without decay (it is Adam then), ``test_AdamW_decay`` with decoupled decay
(the default 0.01 included), so coupled decay, unscaled decay and decay after the step lose the decay
cell only, while a broken Adam core loses both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from course_utils.checks.feedback import passed, quiet
from course_utils.checks.guards import require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import OptimizerConfig, compare_optimizer, require_signature
from course_utils.checks.rmsprop_adam import ADAM_INVALID, adam_mistakes
from course_utils.device import get_device

ASSIGNMENT = "03_adamw"

__all__ = ["ADAMW_DEFAULTS", "check_adamw_plain", "check_adamw_decay", "check_adamw_contract", "CELL_CHECKS"]

ADAMW_DEFAULTS: Mapping[str, Any] = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}
ADAMW_MISTAKES = adam_mistakes("decoupled", ADAMW_DEFAULTS)


def reference_adamw(params: Any, **hyperparams: Any) -> torch.optim.AdamW:
    return torch.optim.AdamW(params, **{**ADAMW_DEFAULTS, **hyperparams}, amsgrad=False)


def _plain_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("no decay", {"lr": 0.01, "weight_decay": 0.0}, n_steps=5),
        OptimizerConfig("no decay, large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.0}, n_steps=5),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("no decay, many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2, "weight_decay": 0.0}, n_steps=25, seed=1),
            OptimizerConfig("no decay, float32", {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.0}, n_steps=8, dtype=torch.float32, seed=2),
        ]
    return ladder


def _decay_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("decoupled decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, n_steps=5),
        OptimizerConfig("strong decay, large lr", {"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.5}, n_steps=5, seed=1),
        OptimizerConfig("your class's defaults (expected lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)", {}, n_steps=4),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("decay, many steps", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-2}, n_steps=20, seed=3, shapes=((5,), (3, 3), (1,))),
            OptimizerConfig("float32 decay", {"lr": 0.02, "weight_decay": 0.1, "eps": 1e-3}, n_steps=8, dtype=torch.float32, seed=4),
        ]
    return ladder


def check_adamw_plain(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW with weight_decay=0 matches torch.optim.AdamW step by step (the Adam core)."""
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        require_signature(AdamW, "AdamW", ADAMW_DEFAULTS)
        steps = compare_optimizer(AdamW, reference_adamw, _plain_ladder(thorough), exercise="AdamW",
                                  reference_name="torch.optim.AdamW", mistakes=ADAMW_MISTAKES, device=get_device())
    passed(f"AdamW without decay matches torch.optim.AdamW: {len(_plain_ladder(thorough))} configurations, {steps} steps.")


def check_adamw_decay(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW's decoupled decay (p *= 1 - lr * weight_decay, first) matches torch.optim.AdamW, defaults included."""
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        steps = compare_optimizer(AdamW, reference_adamw, _decay_ladder(thorough), exercise="AdamW",
                                  reference_name="torch.optim.AdamW", mistakes=ADAMW_MISTAKES, device=get_device())
    passed(f"AdamW's decoupled decay matches torch.optim.AdamW: {len(_decay_ladder(thorough))} configurations, {steps} steps.")


def check_adamw_contract(AdamW: type, *, thorough: bool = False) -> None:
    """AdamW behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    with quiet():
        require_own_implementation(AdamW, "AdamW")
        checked = check_contract(AdamW, exercise="AdamW", stateful_hyperparams={"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3},
                                 invalid_hyperparams=ADAM_INVALID, device=get_device(), thorough=thorough)
    passed("AdamW behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_AdamW_plain": (check_adamw_plain, ("AdamW",)),
    "test_AdamW_decay": (check_adamw_decay, ("AdamW",)),
    "test_AdamW_contract": (check_adamw_contract, ("AdamW",)),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
