"""The graded exercises of ``02_rmsprop_adam``: the building blocks (ema_, bias_correction), RMSprop and Adam.

The optimizers' rows use an ``eps`` large enough (1e-3) for its placement to matter and non-zero decay.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_utils.specs import ErrorOptimizerInput, ExerciseSpec, OptimizerInput, exercises

ASSIGNMENT = "02_rmsprop_adam"

RMSPROP_DEFAULTS = {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}
ADAM_DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}

ADAM_ERRORS = (
    ErrorOptimizerInput({"lr": -0.1}), ErrorOptimizerInput({"eps": -1e-8}), ErrorOptimizerInput({"weight_decay": -0.1}),
    ErrorOptimizerInput({"betas": (1.0, 0.999)}), ErrorOptimizerInput({"betas": (0.9, 1.0)}), ErrorOptimizerInput({"betas": (-0.1, 0.999)}),
)
"""Constructor inputs Adam and AdamW (chapter 3) must reject."""

ADAM_CONTRACT = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}


@dataclass(frozen=True)
class EmaInput:
    """``ema_(avg, value, beta)`` with ``avg`` and ``value`` of ``shape`` drawn from ``seed``."""

    shape: tuple[int, ...]
    beta: float
    dtype: torch.dtype = torch.float64
    seed: int = 0
    hidden: bool = False


@dataclass(frozen=True)
class BiasCorrectionInput:
    """``bias_correction(avg, beta, t)`` with ``avg`` of shape (3, 2), float64, drawn from ``seed``."""

    beta: float
    t: int
    seed: int = 0
    hidden: bool = False


_CONTRACT_SUMMARY = "validation, in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad"

EXERCISES = exercises(
    ExerciseSpec(
        "test_ema", ("ema_",), "the returned tensor, avg and value after ema_ on random tensors",
        cases=(
            EmaInput((3, 4), 0.9, seed=0),
            EmaInput((5,), 0.5, seed=1),
            EmaInput((2, 3, 2), 0.999, seed=2, hidden=True),
            EmaInput((4,), 0.0, seed=3, hidden=True),
            EmaInput((6,), 0.9, torch.float32, seed=4, hidden=True),
            EmaInput((0,), 0.9, seed=5, hidden=True),
        )),
    ExerciseSpec(
        "test_bias_correction", ("bias_correction",), "the corrected tensor for random averages, avg left alone, t < 1 rejected",
        cases=(
            BiasCorrectionInput(0.9, 1, seed=0),
            BiasCorrectionInput(0.9, 2, seed=1),
            BiasCorrectionInput(0.999, 10, seed=2),
            BiasCorrectionInput(0.9, 100, seed=3, hidden=True),
            BiasCorrectionInput(0.5, 3, seed=4, hidden=True),
            BiasCorrectionInput(0.999, 1, seed=5, hidden=True),
        ),
        errors=(ErrorOptimizerInput({"beta": 0.9, "t": 0}), ErrorOptimizerInput({"beta": 0.9, "t": -1}))),
    ExerciseSpec(
        "test_RMSprop_plain", ("RMSprop",), "RMSprop's default hyper-parameters; its parameters after every step, from random starting values",
        kind="optimizer", defaults=RMSPROP_DEFAULTS, reference="torch.optim.RMSprop", reference_kwargs={"centered": False}, check_defaults=True,
        cases=(
            OptimizerInput("plain RMSprop", {"lr": 0.01}, steps=4),
            OptimizerInput("large eps, smaller alpha", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3}, steps=5),
            OptimizerInput("weight decay", {"lr": 0.005, "weight_decay": 0.1, "eps": 1e-3}, steps=4),
            OptimizerInput("your class's defaults (expected lr=0.01, alpha=0.99, eps=1e-8)", {}, steps=3),
            OptimizerInput("many steps", {"lr": 0.003, "alpha": 0.95, "eps": 1e-2}, steps=20, seed=1, shapes=((5,), (3, 3), (1,)), hidden=True),
            OptimizerInput("float32", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01}, steps=6, dtype=torch.float32, seed=2,
                           hidden=True),
        )),
    ExerciseSpec(
        "test_RMSprop_momentum", ("RMSprop",), "RMSprop's parameters after every step of every configuration, from random starting values",
        kind="optimizer", defaults=RMSPROP_DEFAULTS, reference="torch.optim.RMSprop", reference_kwargs={"centered": False},
        cases=(
            OptimizerInput("momentum", {"lr": 0.01, "momentum": 0.9, "eps": 1e-3}, steps=5),
            OptimizerInput("momentum with decay", {"lr": 0.01, "momentum": 0.5, "alpha": 0.9, "weight_decay": 0.05, "eps": 1e-3}, steps=5),
            OptimizerInput("heavy momentum, many steps", {"lr": 0.002, "momentum": 0.95, "eps": 1e-2}, steps=15, seed=1, hidden=True),
            OptimizerInput("float32 momentum", {"lr": 0.01, "momentum": 0.8, "eps": 1e-3}, steps=6, dtype=torch.float32, seed=2, hidden=True),
        )),
    ExerciseSpec(
        "test_RMSprop_contract", ("RMSprop",), _CONTRACT_SUMMARY, kind="contract", defaults=RMSPROP_DEFAULTS,
        contract_kwargs={"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1, "eps": 1e-3},
        errors=(ErrorOptimizerInput({"lr": -0.1}), ErrorOptimizerInput({"alpha": -0.5}), ErrorOptimizerInput({"eps": -1e-8}),
                ErrorOptimizerInput({"weight_decay": -0.1}), ErrorOptimizerInput({"momentum": -0.5}))),
    ExerciseSpec(
        "test_Adam_plain", ("Adam",), "Adam's default hyper-parameters; its parameters after every step, from random starting values",
        kind="optimizer", defaults=ADAM_DEFAULTS, reference="torch.optim.Adam", reference_kwargs={"amsgrad": False}, check_defaults=True,
        cases=(
            OptimizerInput("plain Adam", {"lr": 0.01}, steps=5),
            OptimizerInput("large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3}, steps=5),
            OptimizerInput("your class's defaults (expected lr=1e-3, betas=(0.9, 0.999), eps=1e-8)", {}, steps=3),
            OptimizerInput("many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2}, steps=25, seed=1, shapes=((5,), (2, 3, 2), (1,)),
                           hidden=True),
            OptimizerInput("float32", {"lr": 0.01, "eps": 1e-3}, steps=8, dtype=torch.float32, seed=2, hidden=True),
        )),
    ExerciseSpec(
        "test_Adam_weight_decay", ("Adam",), "Adam's parameters after every step with L2 decay, from random starting values",
        kind="optimizer", defaults=ADAM_DEFAULTS, reference="torch.optim.Adam", reference_kwargs={"amsgrad": False},
        cases=(
            OptimizerInput("L2 weight decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, steps=5),
            OptimizerInput("strong decay, other betas", {"lr": 0.02, "betas": (0.9, 0.99), "weight_decay": 0.5}, steps=5, seed=1),
            OptimizerInput("float32 decay", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-3}, steps=8, dtype=torch.float32, seed=2, hidden=True),
        )),
    ExerciseSpec(
        "test_Adam_contract", ("Adam",), _CONTRACT_SUMMARY, kind="contract", defaults=ADAM_DEFAULTS,
        contract_kwargs=ADAM_CONTRACT, errors=ADAM_ERRORS),
)
