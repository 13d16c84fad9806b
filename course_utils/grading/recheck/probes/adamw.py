"""Independent probes for ``03_adamw``: AdamW without decay (its Adam core), with decoupled decay, and its contract.

As in the hidden in-notebook checks, ``test_AdamW_plain`` steps AdamW with ``weight_decay=0`` (and
records the constructor's default hyper-parameters), ``test_AdamW_decay`` with decay, the class's own
defaults included; every parameter is recorded after every step, from random starting values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import OptimizerCase, lookup
from course_utils.grading.recheck.probes.contract import record_contract
from course_utils.grading.recheck.probes.rmsprop_adam import ADAM_HYPERPARAMETERS, ADAM_INVALID, trajectory_probe

ASSIGNMENT = "03_adamw"

_ADAMW_PLAIN = [
    OptimizerCase("no decay", {"lr": 0.01, "weight_decay": 0.0}, n_steps=5),
    OptimizerCase("no decay, large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3, "weight_decay": 0.0}, n_steps=5),
    OptimizerCase("no decay, many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2, "weight_decay": 0.0}, n_steps=25),
    OptimizerCase("no decay, float32", {"lr": 0.01, "eps": 1e-3, "weight_decay": 0.0}, n_steps=8, dtype=torch.float32),
]
_ADAMW_DECAY = [
    OptimizerCase("decoupled decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, n_steps=5),
    OptimizerCase("strong decay, large lr", {"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.5}, n_steps=5),
    OptimizerCase("the class's default hyper-parameters", {}, n_steps=4),
    OptimizerCase("decay, many steps", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-2}, n_steps=20, shapes=((5,), (3, 3), (1,))),
    OptimizerCase("float32 decay", {"lr": 0.02, "weight_decay": 0.1, "eps": 1e-3}, n_steps=8, dtype=torch.float32),
]

ADAMW_STATEFUL = {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}


def probe_adamw_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    record_contract(rec, lookup(ns, "AdamW"), name="AdamW", hyperparams=ADAMW_STATEFUL, invalid=ADAM_INVALID)


PROBES: dict[str, Probe] = {
    "test_AdamW_plain": trajectory_probe("AdamW", _ADAMW_PLAIN, 1100, signature=ADAM_HYPERPARAMETERS),
    "test_AdamW_decay": trajectory_probe("AdamW", _ADAMW_DECAY, 1200),
    "test_AdamW_contract": Probe(probe_adamw_contract, "validation, in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad"),
}
