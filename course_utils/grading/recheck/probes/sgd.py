"""Independent probes for ``01_sgd``: gradient descent by hand, minibatch SGD, opt_fn_with_sgd, SGD, opt_fn, the challenge."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import OptimizerCase, lookup, record_trajectory
from course_utils.grading.recheck.probes.contract import record_contract
from course_utils.grading.recheck.probes.paths import PathCall, record_paths
from course_utils.landscapes import get_landscape


def probe_gradient_descent_by_hand(rec: Recorder, ns: Mapping[str, Any]) -> None:
    gd = lookup(ns, "gradient_descent_by_hand")
    record_paths(rec, gd, "gradient_descent_by_hand", [
        PathCall("Rosenbrock, small steps", "rosenbrock", (-1.5, 2.5), {"lr": 1e-3, "n_iters": 12}),
        PathCall("ravine", "ravine", (2.5, 1.0), {"lr": 0.05, "n_iters": 15}),
        PathCall("default n_iters", "quadratic", (1.0, -2.0), {"lr": 0.02}),
        PathCall("lr given by position", "trimodal", (0.5, 0.5), {"n_iters": 25}, positional=(0.3,)),
        PathCall("one iteration", "rosenbrock", (0.0, 0.0), {"lr": 1e-3, "n_iters": 1}),
    ])


def probe_sgd_epoch_by_hand(rec: Recorder, ns: Mapping[str, Any]) -> None:
    epoch = lookup(ns, "sgd_epoch_by_hand")
    sizes = [(10, 3, 10, 0.05), (10, 3, 4, 0.05), (7, 2, 1, 0.02), (23, 5, 8, 0.1), (5, 4, 16, 0.01), (12, 1, 5, 0.3)]
    for case, (n, d, batch_size, lr) in enumerate(sizes):
        gen = rec.generator(200 + case)
        X = torch.randn(n, d, generator=gen, dtype=torch.float64).to(rec.device)
        y = torch.randn(n, generator=gen, dtype=torch.float64).to(rec.device)
        w = torch.randn(d, generator=gen, dtype=torch.float64).to(rec.device).requires_grad_(True)
        b = torch.randn((), generator=gen, dtype=torch.float64).to(rec.device).requires_grad_(True)
        X_copy, y_copy = X.clone(), y.clone()
        where = f"sgd_epoch_by_hand(w, b, X of shape ({n}, {d}), y, lr={lr}, batch_size={batch_size})"
        losses = epoch(w, b, X, y, lr, batch_size)
        rec.record(f"{where}: the minibatch losses", [float(v) for v in losses])
        rec.record(f"{where}: w after the epoch", w.detach())
        rec.record(f"{where}: b after the epoch", b.detach())
        rec.record(f"{where}: X and y left unchanged", bool(torch.equal(X, X_copy) and torch.equal(y, y_copy)))


def probe_opt_fn_with_sgd(rec: Recorder, ns: Mapping[str, Any]) -> None:
    fn = lookup(ns, "opt_fn_with_sgd")
    record_paths(rec, fn, "opt_fn_with_sgd", [
        PathCall("defaults", "rosenbrock", (-1.5, 2.5)),
        PathCall("ravine with momentum", "ravine", (2.5, 1.0), {"lr": 0.02, "momentum": 0.9, "n_iters": 30}),
        PathCall("no momentum", "quadratic", (1.0, -2.0), {"lr": 0.05, "momentum": 0.0, "n_iters": 20}),
        PathCall("trimodal", "trimodal", (0.5, 0.5), {"lr": 0.1, "momentum": 0.5, "n_iters": 40}),
    ])


_SGD_PLAIN = [
    OptimizerCase("plain gradient step", {"lr": 0.1}, n_steps=3),
    OptimizerCase("weight decay", {"lr": 0.05, "weight_decay": 0.1}, n_steps=4),
    OptimizerCase("default hyper-parameters", {}, n_steps=2),
    OptimizerCase("explicit zeros", {"lr": 0.2, "momentum": 0.0, "weight_decay": 0.0}, n_steps=6),
    OptimizerCase("lr = 0 does not move", {"lr": 0.0, "weight_decay": 0.5}, n_steps=2),
    OptimizerCase("strong decay, many steps", {"lr": 0.02, "weight_decay": 0.5}, n_steps=12, shapes=((5,), (3, 3), (2, 1, 4), (1,))),
    OptimizerCase("float32", {"lr": 0.01, "weight_decay": 0.01}, n_steps=5, dtype=torch.float32),
]
_SGD_MOMENTUM = [
    OptimizerCase("momentum", {"lr": 0.1, "momentum": 0.9}, n_steps=5),
    OptimizerCase("momentum with weight decay", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}, n_steps=5),
    OptimizerCase("heavy momentum, many steps", {"lr": 0.01, "momentum": 0.99}, n_steps=20),
    OptimizerCase("light momentum and decay", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}, n_steps=10,
                  shapes=((7,), (2, 3), (3, 1, 2), (1, 1))),
    OptimizerCase("float32 momentum with decay", {"lr": 0.03, "momentum": 0.9, "weight_decay": 0.05}, n_steps=8, dtype=torch.float32),
]


def trajectory_probe(name: str, cases: list[OptimizerCase], tag: int) -> Probe:
    """A probe that records ``name``'s parameters after every step of every case."""

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        optimizer_class = lookup(ns, name)
        for index, case in enumerate(cases):
            record_trajectory(rec, optimizer_class, case, tag + index, class_name=name)

    return Probe(run, f"{name}'s parameters after every step of {len(cases)} configurations, from random starting values")


def probe_sgd_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    record_contract(rec, lookup(ns, "SGD"), name="SGD", hyperparams={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
                    invalid=[("lr", -0.1), ("momentum", -0.5), ("weight_decay", -0.01)])


class _SignDescent:
    """A small optimizer that is not torch's: steps against the sign of the gradient."""

    def __init__(self, params: Any, lr: float = 0.01) -> None:
        self.params, self.lr = list(params), lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.sub_(torch.sign(p.grad), alpha=self.lr)


class _HeavyBall:
    """Heavy-ball momentum (PyTorch's form), written here so opt_fn is tried without torch.optim."""

    def __init__(self, params: Any, lr: float = 0.01, momentum: float = 0.0) -> None:
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.buffers: dict[int, torch.Tensor] = {}

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            buf = self.buffers.get(id(p))
            buf = p.grad.clone() if buf is None else buf.mul_(self.momentum).add_(p.grad)
            self.buffers[id(p)] = buf
            p.sub_(buf, alpha=self.lr)


def probe_opt_fn(rec: Recorder, ns: Mapping[str, Any]) -> None:
    fn = lookup(ns, "opt_fn")

    def call(label: str, landscape: str, start: tuple[float, float], cls: type, hp: dict, n: int | None) -> PathCall:
        kwargs = {"optimizer_class": cls, "optimizer_hyperparams": hp, **({"n_iters": n} if n is not None else {})}
        return PathCall(label, landscape, start, kwargs)

    record_paths(rec, fn, "opt_fn", [
        call("heavy-ball momentum", "ravine", (2.5, 1.0), _HeavyBall, {"lr": 0.02, "momentum": 0.9}, 25),
        call("sign descent", "quadratic", (1.0, -2.0), _SignDescent, {"lr": 0.1}, 20),
        call("default n_iters", "trimodal", (0.5, 0.5), _HeavyBall, {"lr": 0.01}, None),
        call("plain steps", "rosenbrock", (-1.5, 2.5), _HeavyBall, {"lr": 1e-3}, 15),
    ])


CHALLENGE_TOLERANCE = 1e-2
CHALLENGE_MAX_ITERS = 1000


def _torch_optimizers() -> tuple[type, ...]:
    """torch.optim's optimizer classes whose step() needs no closure, captured when the probes are imported
    (before any student code runs), so a class the notebook slips into torch.optim is not among them."""
    classes = {value for value in vars(torch.optim).values()
               if isinstance(value, type) and issubclass(value, torch.optim.Optimizer)
               and value not in (torch.optim.Optimizer, torch.optim.LBFGS)}
    return tuple(sorted(classes, key=lambda cls: cls.__name__))


_CHALLENGE_CLASSES = _torch_optimizers()
_TORCH_SGD = torch.optim.SGD


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
    landscape = get_landscape("rosenbrock")
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


PROBES: dict[str, Probe] = {
    "test_gradient_descent_by_hand": Probe(probe_gradient_descent_by_hand, "paths from random starts on four landscapes"),
    "test_sgd_epoch_by_hand": Probe(probe_sgd_epoch_by_hand, "losses, w and b after an epoch on random data"),
    "test_opt_fn_with_sgd": Probe(probe_opt_fn_with_sgd, "paths from random starts", allow_torch_optim=("SGD",)),
    "test_SGD_plain": trajectory_probe("SGD", _SGD_PLAIN, 300),
    "test_SGD_momentum": trajectory_probe("SGD", _SGD_MOMENTUM, 400),
    "test_SGD_contract": Probe(probe_sgd_contract, "in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad"),
    "test_opt_fn": Probe(probe_opt_fn, "paths with optimizers defined by the grader"),
    "test_challenge": Probe(probe_challenge, "the chosen optimizer on Rosenbrock", allow_torch_optim=("*",)),
}
