"""Independent probes for ``02_rmsprop_adam``: ema_, bias_correction, RMSprop (plain, momentum, contract), Adam (plain, decay, contract).

The building blocks are called on random tensors and what they return (and leave behind) is recorded;
the optimizers are stepped over the same configurations as the hidden in-notebook checks (``eps`` large
enough for its placement to matter, non-zero decay, the class's own defaults) and every parameter is
recorded after every step. The ``..._plain`` probes also record the constructor's default
hyper-parameters, as the checks read them from its signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import OptimizerCase, lookup, outcome, record_trajectory
from course_utils.grading.recheck.probes.contract import record_contract

ASSIGNMENT = "02_rmsprop_adam"

__all__ = ["record_signature_defaults", "trajectory_probe", "ADAM_HYPERPARAMETERS", "ADAM_INVALID", "PROBES"]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


# --- building blocks -----------------------------------------------------------------------------------

_EMA_CASES: list[tuple[tuple[int, ...], float, torch.dtype]] = [
    ((3, 4), 0.9, torch.float64),
    ((5,), 0.5, torch.float64),
    ((2, 3, 2), 0.999, torch.float64),
    ((4,), 0.0, torch.float64),
    ((6,), 0.9, torch.float32),
    ((0,), 0.9, torch.float64),
]


def probe_ema(rec: Recorder, ns: Mapping[str, Any]) -> None:
    ema_ = lookup(ns, "ema_")
    for index, (shape, beta, dtype) in enumerate(_EMA_CASES):
        gen = rec.generator(500 + index)
        avg = torch.randn(shape, generator=gen, dtype=dtype).to(rec.device)
        value = torch.randn(shape, generator=gen, dtype=dtype).to(rec.device)
        value_copy = value.clone()
        where = f"ema_(avg, value, beta={beta}) with avg and value of shape {shape}, {_dtype_name(dtype)}"
        got = ema_(avg, value, beta)
        rec.record(f"{where}: value left unchanged", bool(torch.equal(value, value_copy)))
        rec.record(f"{where}: the returned tensor", got)
        rec.record(f"{where}: returns avg itself (the same tensor object)", got is avg)
        rec.record(f"{where}: avg after the call", avg)


_BIAS_CORRECTION_CASES: list[tuple[float, int]] = [(0.9, 1), (0.9, 2), (0.999, 10), (0.9, 100), (0.5, 3), (0.999, 1)]
_BIAS_CORRECTION_INVALID_T = (0, -1)


def probe_bias_correction(rec: Recorder, ns: Mapping[str, Any]) -> None:
    bias_correction = lookup(ns, "bias_correction")
    for index, (beta, t) in enumerate(_BIAS_CORRECTION_CASES):
        avg = torch.randn(3, 2, generator=rec.generator(600 + index), dtype=torch.float64).to(rec.device)
        original = avg.clone()
        where = f"bias_correction(avg, beta={beta}, t={t}) with avg of shape (3, 2), float64"
        got = bias_correction(avg, beta, t)
        rec.record(f"{where}: avg left unchanged", bool(torch.equal(avg, original)))
        rec.record(f"{where}: the returned tensor", got)
    for index, bad_t in enumerate(_BIAS_CORRECTION_INVALID_T):
        avg = torch.randn(2, generator=rec.generator(650 + index), dtype=torch.float64).to(rec.device)
        rec.record(f"bias_correction(avg, beta=0.9, t={bad_t})", outcome(lambda: bias_correction(avg, 0.9, bad_t)))


# --- optimizers ------------------------------------------------------------------------------------------

RMSPROP_HYPERPARAMETERS = ("lr", "alpha", "eps", "weight_decay", "momentum")
ADAM_HYPERPARAMETERS = ("lr", "betas", "eps", "weight_decay")


def record_signature_defaults(rec: Recorder, optimizer_class: Any, name: str, hyperparameters: Sequence[str]) -> None:
    """Record the default value of each of ``hyperparameters`` in ``optimizer_class``'s constructor."""
    parameters = inspect.signature(optimizer_class).parameters
    for key in hyperparameters:
        if key not in parameters:
            value: Any = "<no such argument>"
        elif parameters[key].default is inspect.Parameter.empty:
            value = "<required, no default>"
        else:
            value = parameters[key].default
        rec.record(f"{name}'s constructor: the default value of {key}", value)


def trajectory_probe(name: str, cases: list[OptimizerCase], tag: int, *, signature: Sequence[str] = ()) -> Probe:
    """A probe that records ``name``'s parameters after every step of every case (and its defaults first)."""

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        optimizer_class = lookup(ns, name)
        if signature:
            record_signature_defaults(rec, optimizer_class, name, signature)
        for index, case in enumerate(cases):
            record_trajectory(rec, optimizer_class, case, tag + index, class_name=name)

    summary = f"{name}'s parameters after every step of {len(cases)} configurations, from random starting values"
    if signature:
        summary = f"{name}'s default hyper-parameters; " + summary
    return Probe(run, summary)


_RMSPROP_PLAIN = [
    OptimizerCase("plain RMSprop", {"lr": 0.01}, n_steps=4),
    OptimizerCase("large eps, smaller alpha", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3}, n_steps=5),
    OptimizerCase("weight decay", {"lr": 0.005, "weight_decay": 0.1, "eps": 1e-3}, n_steps=4),
    OptimizerCase("the class's default hyper-parameters", {}, n_steps=3),
    OptimizerCase("many steps", {"lr": 0.003, "alpha": 0.95, "eps": 1e-2}, n_steps=20, shapes=((5,), (3, 3), (1,))),
    OptimizerCase("float32", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01}, n_steps=6, dtype=torch.float32),
]
_RMSPROP_MOMENTUM = [
    OptimizerCase("momentum", {"lr": 0.01, "momentum": 0.9, "eps": 1e-3}, n_steps=5),
    OptimizerCase("momentum with decay", {"lr": 0.01, "momentum": 0.5, "alpha": 0.9, "weight_decay": 0.05, "eps": 1e-3}, n_steps=5),
    OptimizerCase("heavy momentum, many steps", {"lr": 0.002, "momentum": 0.95, "eps": 1e-2}, n_steps=15),
    OptimizerCase("float32 momentum", {"lr": 0.01, "momentum": 0.8, "eps": 1e-3}, n_steps=6, dtype=torch.float32),
]
_ADAM_PLAIN = [
    OptimizerCase("plain Adam", {"lr": 0.01}, n_steps=5),
    OptimizerCase("large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3}, n_steps=5),
    OptimizerCase("the class's default hyper-parameters", {}, n_steps=3),
    OptimizerCase("many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2}, n_steps=25, shapes=((5,), (2, 3, 2), (1,))),
    OptimizerCase("float32", {"lr": 0.01, "eps": 1e-3}, n_steps=8, dtype=torch.float32),
]
_ADAM_DECAY = [
    OptimizerCase("L2 weight decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, n_steps=5),
    OptimizerCase("strong decay, other betas", {"lr": 0.02, "betas": (0.9, 0.99), "weight_decay": 0.5}, n_steps=5),
    OptimizerCase("float32 decay", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-3}, n_steps=8, dtype=torch.float32),
]

RMSPROP_STATEFUL = {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1, "eps": 1e-3}
RMSPROP_INVALID = [("lr", -0.1), ("alpha", -0.5), ("eps", -1e-8), ("weight_decay", -0.1), ("momentum", -0.5)]
ADAM_STATEFUL = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}
ADAM_INVALID = [("lr", -0.1), ("eps", -1e-8), ("weight_decay", -0.1), ("betas", (1.0, 0.999)), ("betas", (0.9, 1.0)), ("betas", (-0.1, 0.999))]


def probe_rmsprop_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    record_contract(rec, lookup(ns, "RMSprop"), name="RMSprop", hyperparams=RMSPROP_STATEFUL, invalid=RMSPROP_INVALID)


def probe_adam_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    record_contract(rec, lookup(ns, "Adam"), name="Adam", hyperparams=ADAM_STATEFUL, invalid=ADAM_INVALID)


_CONTRACT_SUMMARY = "validation, in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad"

PROBES: dict[str, Probe] = {
    "test_ema": Probe(probe_ema, "the returned tensor, avg and value after ema_ on random tensors"),
    "test_bias_correction": Probe(probe_bias_correction, "the corrected tensor for random averages, avg left alone, t < 1 rejected"),
    "test_RMSprop_plain": trajectory_probe("RMSprop", _RMSPROP_PLAIN, 700, signature=RMSPROP_HYPERPARAMETERS),
    "test_RMSprop_momentum": trajectory_probe("RMSprop", _RMSPROP_MOMENTUM, 800),
    "test_RMSprop_contract": Probe(probe_rmsprop_contract, _CONTRACT_SUMMARY),
    "test_Adam_plain": trajectory_probe("Adam", _ADAM_PLAIN, 900, signature=ADAM_HYPERPARAMETERS),
    "test_Adam_weight_decay": trajectory_probe("Adam", _ADAM_DECAY, 1000),
    "test_Adam_contract": Probe(probe_adam_contract, _CONTRACT_SUMMARY),
}
