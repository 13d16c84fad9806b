"""The graded exercise of ``03_adamw``: AdamW without decay (its Adam core), with decoupled decay, and its contract.

``test_AdamW_plain`` runs with ``weight_decay=0`` (AdamW is Adam then), ``test_AdamW_decay`` with decay, the
class's own defaults (0.01) included, so a decay mistake loses the decay cell only.
"""

from __future__ import annotations

import torch

from course_utils.specs import ExerciseSpec, OptimizerInput, exercises
from course_utils.specs.rmsprop_adam import ADAM_CONTRACT, ADAM_ERRORS

ASSIGNMENT = "03_adamw"

ADAMW_DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}

EXERCISES = exercises(
    ExerciseSpec(
        "test_AdamW_plain", ("AdamW",), "AdamW's default hyper-parameters; its parameters after every step without decay",
        kind="optimizer", defaults=ADAMW_DEFAULTS, reference="torch.optim.AdamW", reference_kwargs={"amsgrad": False}, check_defaults=True,
        cases=(
            OptimizerInput("no decay", {"lr": 0.01, "weight_decay": 0.0}, steps=5),
            OptimizerInput("no decay, large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.0}, steps=5),
            OptimizerInput("no decay, many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2, "weight_decay": 0.0}, steps=25, seed=1,
                           hidden=True),
            OptimizerInput("no decay, float32", {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.0}, steps=8, dtype=torch.float32, seed=2, hidden=True),
        )),
    ExerciseSpec(
        "test_AdamW_decay", ("AdamW",), "AdamW's parameters after every step with decoupled decay, its defaults included",
        kind="optimizer", defaults=ADAMW_DEFAULTS, reference="torch.optim.AdamW", reference_kwargs={"amsgrad": False},
        cases=(
            OptimizerInput("decoupled decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, steps=5),
            OptimizerInput("strong decay, large lr", {"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.5}, steps=5, seed=1),
            OptimizerInput("your class's defaults (expected lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)", {}, steps=4),
            OptimizerInput("decay, many steps", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-2}, steps=20, seed=3, shapes=((5,), (3, 3), (1,)),
                           hidden=True),
            OptimizerInput("float32 decay", {"lr": 0.02, "weight_decay": 0.1, "eps": 1e-3}, steps=8, dtype=torch.float32, seed=4, hidden=True),
        )),
    ExerciseSpec(
        "test_AdamW_contract", ("AdamW",), "validation, in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad",
        kind="contract", defaults=ADAMW_DEFAULTS, contract_kwargs=ADAM_CONTRACT, errors=ADAM_ERRORS),
)
