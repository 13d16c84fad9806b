"""Independent probes for ``01_sgd``: gradient descent by hand, minibatch SGD, opt_fn_with_sgd, SGD, opt_fn, the challenge.

Every input is a row of ``course_utils/specs/sgd.py``, built by ``course_utils/harness.py`` from the
recorder's seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from course_utils import harness
from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import describe_call, lookup, outcome, trajectory_probe
from course_utils.grading.recheck.probes.contract import contract_probe
from course_utils.grading.recheck.probes.paths import path_probe
from course_utils.landscapes import get_landscape
from course_utils.momentum import contraction_path, rate_arguments
from course_utils.specs import sgd as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES


def probe_sgd_epoch_by_hand(rec: Recorder, ns: Mapping[str, Any]) -> None:
    epoch = lookup(ns, "sgd_epoch_by_hand")
    for row in EXERCISES["test_sgd_epoch_by_hand"].rows(thorough=True):
        X, y, w, b = harness.epoch_data(row, rec.device, rec.generator)
        w, b = w.requires_grad_(True), b.requires_grad_(True)
        X_copy, y_copy = X.clone(), y.clone()
        where = f"sgd_epoch_by_hand(w, b, X of shape ({row.n}, {row.d}), y, lr={row.lr}, batch_size={row.batch_size})"
        losses = epoch(w, b, X, y, row.lr, row.batch_size)
        rec.record(f"{where}: the minibatch losses", [float(v) for v in losses])
        rec.record(f"{where}: w after the epoch", w.detach())
        rec.record(f"{where}: b after the epoch", b.detach())
        rec.record(f"{where}: X and y left unchanged", bool(torch.equal(X, X_copy) and torch.equal(y, y_copy)))


def _torch_optimizers() -> tuple[type, ...]:
    """torch.optim's optimizer classes whose step() needs no closure, captured when the probes are imported
    (before any student code runs), so a class the notebook slips into torch.optim is not among them."""
    classes = {value for value in vars(torch.optim).values()
               if isinstance(value, type) and issubclass(value, torch.optim.Optimizer)
               and value not in (torch.optim.Optimizer, torch.optim.LBFGS)}
    return tuple(sorted(classes, key=lambda cls: cls.__name__))


_CHALLENGE_CLASSES = _torch_optimizers()
_TORCH_SGD = torch.optim.SGD
_CHALLENGE = EXERCISES["test_challenge"].limits
CHALLENGE_TOLERANCE: float = _CHALLENGE["distance"]
CHALLENGE_MAX_ITERS: int = _CHALLENGE["max_iters"]


def probe_challenge(rec: Recorder, ns: Mapping[str, Any]) -> None:
    """The outcome, for any budget up to the limit, with torch.optim's own classes only.

    The notebook's own ``SGD`` is accepted as a choice and run as ``torch.optim.SGD`` with the same
    hyper-parameters: the SGD exercise is graded on its own, and a class that is not an optimizer
    (one that writes the minimum into the parameter) cannot earn the point.
    """
    optimizer_class = lookup(ns, "challenge_optimizer_class")
    hyperparams = lookup(ns, "challenge_hyperparams")
    n_iters = lookup(ns, "challenge_n_iters")
    if isinstance(optimizer_class, type) and optimizer_class is ns.get("SGD"):
        optimizer_class = _TORCH_SGD
    valid = (any(optimizer_class is allowed for allowed in _CHALLENGE_CLASSES) and type(hyperparams) is dict
             and type(n_iters) is int and 1 <= n_iters <= CHALLENGE_MAX_ITERS)
    rec.record(f"the challenge settings: one of torch.optim's optimizers (or your SGD), a dict of hyper-parameters, and 1 to "
               f"{CHALLENGE_MAX_ITERS} steps", valid)
    if not valid:
        return
    landscape = get_landscape(_CHALLENGE["landscape"])
    xy = torch.tensor(landscape.start, dtype=torch.float64, device=rec.device).requires_grad_(True)
    optimizer = optimizer_class([xy], **hyperparams)
    for _ in range(n_iters):
        xy.grad = None
        landscape(xy[0], xy[1]).backward()
        optimizer.step()
    target = torch.tensor(landscape.minima[0], dtype=torch.float64, device=rec.device)
    distance = float(torch.linalg.vector_norm(xy.detach() - target))
    rec.record(f"after your number of steps the point is within {CHALLENGE_TOLERANCE} of (1, 1)",
               math.isfinite(distance) and distance <= CHALLENGE_TOLERANCE)


_NESTEROV_TRAJECTORIES = trajectory_probe(EXERCISES["test_SGD_nesterov"])


def probe_sgd_nesterov(rec: Recorder, ns: Mapping[str, Any]) -> None:
    """The Nesterov rows' trajectories (the spec's optimizer probe), then what each rejected input does."""
    _NESTEROV_TRAJECTORIES.run(rec, ns)
    optimizer_class = lookup(ns, "SGD")
    for row in EXERCISES["test_SGD_nesterov"].error_rows(True):
        params = [torch.zeros(2, dtype=torch.float64, device=rec.device, requires_grad=True)]
        rec.record(f"{describe_call('SGD', row.kwargs)} ({row.desc})", outcome(lambda: optimizer_class(params, **row.kwargs)))


def probe_momentum_rate(rec: Recorder, ns: Mapping[str, Any]) -> None:
    """momentum_rate on every row, eta and mu moved a little by the recorder's seed; the value as a float."""
    rate = lookup(ns, "momentum_rate")
    for row in EXERCISES["test_momentum_rate"].rows(thorough=True):
        eta, mu, eigenvalues = rate_arguments(row, rec.generator(20_000 + EXERCISES["test_momentum_rate"].cases.index(row)))
        value = rate(eta, mu, eigenvalues)
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
            value = value.item()
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        rec.record(f"momentum_rate(eta={eta:.6g}, mu={mu:.6g}, {len(eigenvalues)} eigenvalues) [{row.desc}]: a real number", ok)
        if ok:
            rec.record(f"momentum_rate(eta={eta:.6g}, mu={mu:.6g}, {len(eigenvalues)} eigenvalues) [{row.desc}]",
                       torch.tensor(float(value), dtype=torch.float64))


def probe_measured_contraction(rec: Recorder, ns: Mapping[str, Any]) -> None:
    """measured_contraction on heavy-ball runs from starts moved by the recorder's seed; the value, and the path left alone."""
    measure = lookup(ns, "measured_contraction")
    cases = EXERCISES["test_measured_contraction"].cases
    for row in EXERCISES["test_measured_contraction"].rows(thorough=True):
        path, x_star = contraction_path(row, rec.device, rec.generator(30_000 + cases.index(row)))
        path_copy = path.clone()
        value = measure(path, x_star)
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
            value = value.item()
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        where = f"measured_contraction on {row.n_iters} rows of heavy ball (lr={row.lr}, momentum={row.momentum}) [{row.desc}]"
        rec.record(f"{where}: a real number", ok)
        if ok:
            rec.record(where, torch.tensor(float(value), dtype=torch.float64))
        rec.record(f"{where}: the path left unchanged", bool(torch.equal(path, path_copy)))


def _custom(grade_id: str, run) -> Probe:
    exercise = EXERCISES[grade_id]
    return Probe(run, exercise.summary, allow_torch_optim=exercise.allow_torch_optim)


PROBES: dict[str, Probe] = {
    "test_gradient_descent_by_hand": path_probe(EXERCISES["test_gradient_descent_by_hand"]),
    "test_sgd_epoch_by_hand": _custom("test_sgd_epoch_by_hand", probe_sgd_epoch_by_hand),
    "test_opt_fn_with_sgd": path_probe(EXERCISES["test_opt_fn_with_sgd"]),
    "test_SGD_plain": trajectory_probe(EXERCISES["test_SGD_plain"]),
    "test_SGD_momentum": trajectory_probe(EXERCISES["test_SGD_momentum"]),
    "test_SGD_contract": contract_probe(EXERCISES["test_SGD_contract"]),
    "test_SGD_nesterov": _custom("test_SGD_nesterov", probe_sgd_nesterov),
    "test_momentum_rate": _custom("test_momentum_rate", probe_momentum_rate),
    "test_measured_contraction": _custom("test_measured_contraction", probe_measured_contraction),
    "test_opt_fn": path_probe(EXERCISES["test_opt_fn"]),
    "test_challenge": _custom("test_challenge", probe_challenge),
}
