"""Independent probes for ``02_rmsprop_adam``: ema_, bias_correction, RMSprop (plain, momentum, contract), Adam (plain, decay, contract).

Every input is a row of ``course_utils/specs/rmsprop_adam.py`` (the hidden rows included), drawn by
``course_utils/harness.py`` from the recorder's seed. The building blocks are called on random tensors
and what they return (and leave behind) is recorded; the optimizers are stepped and every parameter is
recorded after every step. The ``..._plain`` probes first record what is wrong with the constructor's
defaults, as the checks read them from its signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from course_utils import harness
from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import lookup, outcome, trajectory_probe
from course_utils.grading.recheck.probes.contract import contract_probe
from course_utils.specs import rmsprop_adam as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = ["PROBES"]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def probe_ema(rec: Recorder, ns: Mapping[str, Any]) -> None:
    ema_ = lookup(ns, "ema_")
    for row in EXERCISES["test_ema"].rows(thorough=True):
        avg, value = harness.random_tensors([row.shape, row.shape], row.dtype, rec.device, rec.generator, row.seed)
        value_copy = value.clone()
        where = f"ema_(avg, value, beta={row.beta}) with avg and value of shape {row.shape}, {_dtype_name(row.dtype)}"
        got = ema_(avg, value, row.beta)
        rec.record(f"{where}: value left unchanged", bool(torch.equal(value, value_copy)))
        rec.record(f"{where}: the returned tensor", got)
        rec.record(f"{where}: returns avg itself (the same tensor object)", got is avg)
        rec.record(f"{where}: avg after the call", avg)


def probe_bias_correction(rec: Recorder, ns: Mapping[str, Any]) -> None:
    bias_correction = lookup(ns, "bias_correction")
    exercise = EXERCISES["test_bias_correction"]
    for row in exercise.rows(thorough=True):
        (avg,) = harness.random_tensors([(3, 2)], torch.float64, rec.device, rec.generator, row.seed)
        original = avg.clone()
        where = f"bias_correction(avg, beta={row.beta}, t={row.t}) with avg of shape (3, 2), float64"
        got = bias_correction(avg, row.beta, row.t)
        rec.record(f"{where}: avg left unchanged", bool(torch.equal(avg, original)))
        rec.record(f"{where}: the returned tensor", got)
    for index, error in enumerate(exercise.errors):
        (avg,) = harness.random_tensors([(2,)], torch.float64, rec.device, rec.generator, 50 + index)
        beta, t = error.kwargs["beta"], error.kwargs["t"]
        rec.record(f"bias_correction(avg, beta={beta}, t={t})", outcome(lambda: bias_correction(avg, beta, t)))


def _custom(grade_id: str, run) -> Probe:
    exercise = EXERCISES[grade_id]
    return Probe(run, exercise.summary, allow_torch_optim=exercise.allow_torch_optim)


PROBES: dict[str, Probe] = {
    "test_ema": _custom("test_ema", probe_ema),
    "test_bias_correction": _custom("test_bias_correction", probe_bias_correction),
    "test_RMSprop_plain": trajectory_probe(EXERCISES["test_RMSprop_plain"]),
    "test_RMSprop_momentum": trajectory_probe(EXERCISES["test_RMSprop_momentum"]),
    "test_RMSprop_contract": contract_probe(EXERCISES["test_RMSprop_contract"]),
    "test_Adam_plain": trajectory_probe(EXERCISES["test_Adam_plain"]),
    "test_Adam_weight_decay": trajectory_probe(EXERCISES["test_Adam_weight_decay"]),
    "test_Adam_contract": contract_probe(EXERCISES["test_Adam_contract"]),
}
