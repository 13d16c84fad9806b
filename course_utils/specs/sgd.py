"""The graded exercises of ``01_sgd``: gradient descent by hand, minibatch SGD, the SGD class, momentum's rate, opt_fn, the challenge."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_utils.specs import EpochInput, ErrorOptimizerInput, ExerciseSpec, OptimizerInput, PathInput, exercises

ASSIGNMENT = "01_sgd"

SGD_DEFAULTS = {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0}
SGD_REFERENCE_OPTIONS = {"dampening": 0.0, "nesterov": False}
DEFAULTS_DESC = "your class's defaults (expected lr=1e-3, momentum=0.0, weight_decay=0.0)"
SGD_NESTEROV_DEFAULTS = {**SGD_DEFAULTS, "nesterov": False}
"""The Nesterov cell also grades the ``nesterov=False`` keyword; the other SGD cells do not ask for it."""


@dataclass(frozen=True)
class RateInput:
    """One call ``momentum_rate(eta, mu, eigenvalues)``: heavy-ball momentum on a quadratic with these curvatures.

    ``as_tensor``: the eigenvalues are handed over as a float64 tensor instead of a tuple. The re-check
    moves ``eta`` and ``mu`` by up to ``jitter`` (relative), drawn from the grading run's seed
    (``course_utils/momentum.py``'s ``rate_arguments``). No row sits exactly on a double root, where the
    eigenvalues of the 2x2 matrix are known only to about 1e-8.
    """

    desc: str
    eta: float
    mu: float
    eigenvalues: tuple[float, ...]
    as_tensor: bool = False
    hidden: bool = False
    jitter: float = 0.02


@dataclass(frozen=True)
class ContractionInput:
    """One call ``measured_contraction(path, x_star)`` on a heavy-ball run of ``n_iters`` rows on the quadratic bowl.

    The path starts at the landscape's start, moved by up to ``jitter`` in each coordinate in the re-check
    (``course_utils/momentum.py``'s ``contraction_path`` builds it, with the harness's HeavyBall).
    """

    desc: str
    lr: float
    momentum: float
    n_iters: int
    hidden: bool = False
    jitter: float = 0.2


KAPPA_50 = (1.0, 50.0)
"""The curvatures of the ``quadratic`` landscape (condition number 50)."""


def _opt_fn_input(desc: str, landscape: str, start: tuple[float, float], optimizer: str, hyperparams: dict,
                  n_iters: int | None, *, hidden: bool = False) -> PathInput:
    kwargs = {"optimizer_class": optimizer, "optimizer_hyperparams": hyperparams, **({"n_iters": n_iters} if n_iters is not None else {})}
    return PathInput(desc, landscape, start, kwargs, hidden=hidden)


EXERCISES = exercises(
    ExerciseSpec(
        "test_gradient_descent_by_hand", ("gradient_descent_by_hand",), "paths from random starts on four landscapes",
        kind="path", defaults={"n_iters": 100},
        cases=(
            PathInput("Rosenbrock, small steps", "rosenbrock", (-1.5, 2.5), {"lr": 1e-3, "n_iters": 12}),
            PathInput("ravine", "ravine", (2.5, 1.0), {"lr": 0.05, "n_iters": 15}),
            PathInput("default n_iters", "quadratic", (1.0, -2.0), {"lr": 0.02}, hidden=True),
            PathInput("lr given by position", "trimodal", (0.5, 0.5), {"n_iters": 25}, positional=(0.3,), hidden=True),
            PathInput("one iteration", "rosenbrock", (0.0, 0.0), {"lr": 1e-3, "n_iters": 1}, hidden=True),
        )),
    ExerciseSpec(
        "test_sgd_epoch_by_hand", ("sgd_epoch_by_hand",), "losses, w and b after an epoch on random data",
        kind="epoch",
        cases=(
            EpochInput(10, 3, 10, 0.05, seed=100),
            EpochInput(10, 3, 4, 0.05, seed=101),
            EpochInput(7, 2, 1, 0.02, seed=102),
            EpochInput(23, 5, 8, 0.1, seed=103, hidden=True),
            EpochInput(5, 4, 16, 0.01, seed=104, hidden=True),
            EpochInput(12, 1, 5, 0.3, seed=105, hidden=True),
        )),
    ExerciseSpec(
        "test_opt_fn_with_sgd", ("opt_fn_with_sgd",), "paths from random starts",
        kind="path", defaults={"lr": 1e-3, "momentum": 0.98, "n_iters": 100}, allow_torch_optim=("SGD",),
        cases=(
            PathInput("defaults", "rosenbrock", (-1.5, 2.5)),
            PathInput("ravine with momentum", "ravine", (2.5, 1.0), {"lr": 0.02, "momentum": 0.9, "n_iters": 30}),
            PathInput("no momentum", "quadratic", (1.0, -2.0), {"lr": 0.05, "momentum": 0.0, "n_iters": 20}, hidden=True),
            PathInput("trimodal", "trimodal", (0.5, 0.5), {"lr": 0.1, "momentum": 0.5, "n_iters": 40}, hidden=True),
        )),
    ExerciseSpec(
        "test_SGD_plain", ("SGD",), "SGD's parameters after every step of every configuration, from random starting values",
        kind="optimizer", defaults=SGD_DEFAULTS, reference="torch.optim.SGD", reference_kwargs=SGD_REFERENCE_OPTIONS, check_defaults=True,
        cases=(
            OptimizerInput("plain gradient step", {"lr": 0.1}, steps=3),
            OptimizerInput("weight decay", {"lr": 0.05, "weight_decay": 0.1}, steps=4),
            OptimizerInput(DEFAULTS_DESC, {}, steps=2),
            OptimizerInput("explicit zeros", {"lr": 0.2, "momentum": 0.0, "weight_decay": 0.0}, steps=6, seed=1, hidden=True),
            OptimizerInput("lr = 0 does not move", {"lr": 0.0, "weight_decay": 0.5}, steps=2, seed=2, hidden=True),
            OptimizerInput("strong decay, many steps", {"lr": 0.02, "weight_decay": 0.5}, steps=12, seed=3,
                           shapes=((5,), (3, 3), (2, 1, 4), (1,)), hidden=True),
            OptimizerInput("float32", {"lr": 0.01, "weight_decay": 0.01}, steps=5, dtype=torch.float32, seed=4, hidden=True),
        )),
    ExerciseSpec(
        "test_SGD_momentum", ("SGD",), "SGD's parameters after every step of every configuration, from random starting values",
        kind="optimizer", defaults=SGD_DEFAULTS, reference="torch.optim.SGD", reference_kwargs=SGD_REFERENCE_OPTIONS,
        cases=(
            OptimizerInput("momentum", {"lr": 0.1, "momentum": 0.9}, steps=5),
            OptimizerInput("momentum with weight decay", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}, steps=5),
            OptimizerInput("heavy momentum, many steps", {"lr": 0.01, "momentum": 0.99}, steps=20, seed=1, hidden=True),
            OptimizerInput("light momentum and decay", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}, steps=10, seed=2,
                           shapes=((7,), (2, 3), (3, 1, 2), (1, 1)), hidden=True),
            OptimizerInput("float32 momentum with decay", {"lr": 0.03, "momentum": 0.9, "weight_decay": 0.05}, steps=8,
                           dtype=torch.float32, seed=3, hidden=True),
        )),
    ExerciseSpec(
        "test_SGD_contract", ("SGD",), "in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad",
        kind="contract", defaults=SGD_DEFAULTS,
        contract_kwargs={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
        errors=(ErrorOptimizerInput({"lr": -0.1}), ErrorOptimizerInput({"momentum": -0.5}), ErrorOptimizerInput({"weight_decay": -0.01}))),
    # Weight decay is left out of the Nesterov rows: it is graded in test_SGD_plain and test_SGD_momentum,
    # and a decay mistake should not cost this cell too.
    ExerciseSpec(
        "test_SGD_nesterov", ("SGD",), "SGD with nesterov=True after every step, from random starting values; nesterov without momentum rejected",
        kind="optimizer", defaults=SGD_NESTEROV_DEFAULTS, reference="torch.optim.SGD", reference_kwargs={"dampening": 0.0},
        check_defaults=True,
        cases=(
            OptimizerInput("Nesterov momentum", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, steps=5),
            OptimizerInput("Nesterov, light momentum", {"lr": 0.05, "momentum": 0.5, "nesterov": True}, steps=6, seed=1),
            OptimizerInput("heavy Nesterov momentum, many steps", {"lr": 0.01, "momentum": 0.99, "nesterov": True}, steps=20, seed=2,
                           hidden=True),
            OptimizerInput("float32 Nesterov", {"lr": 0.03, "momentum": 0.8, "nesterov": True}, steps=8, dtype=torch.float32, seed=4,
                           shapes=((7,), (2, 3), (3, 1, 2), (1, 1)), hidden=True),
        ),
        errors=(ErrorOptimizerInput({"lr": 0.1, "momentum": 0.0, "nesterov": True}, about="nesterov",
                                    desc="Nesterov momentum needs momentum > 0"),)),
    ExerciseSpec(
        "test_momentum_rate", ("momentum_rate",), "heavy-ball momentum's asymptotic rate on quadratics, inside and outside the stable region",
        kind="custom",
        cases=(
            RateInput("plain gradient descent (mu = 0)", 0.02, 0.0, KAPPA_50),
            RateInput("complex roots in both directions", 0.03, 0.9, KAPPA_50),
            RateInput("real roots along the flat direction", 0.01, 0.3, KAPPA_50),
            RateInput("beyond the stability limit", 0.09, 0.5, KAPPA_50),
            RateInput("close to the best setting", 0.06, 0.55, KAPPA_50, hidden=True),
            RateInput("one eigenvalue", 0.1, 0.5, (4.0,), hidden=True),
            RateInput("three eigenvalues, as a tensor", 0.05, 0.8, (0.5, 3.0, 20.0), as_tensor=True, hidden=True),
            RateInput("lr = 0 does not move", 0.0, 0.6, KAPPA_50, hidden=True),
            RateInput("heavy momentum", 0.02, 0.99, KAPPA_50, hidden=True),
            RateInput("a negative real root in the steep direction", 0.039, 0.05, KAPPA_50, as_tensor=True, hidden=True),
        )),
    ExerciseSpec(
        "test_measured_contraction", ("measured_contraction",), "the measured contraction per step of heavy-ball runs on the bowl",
        kind="custom",
        cases=(
            ContractionInput("point A: gradient descent", 0.02, 0.0, 400),
            ContractionInput("point B: complex roots", 0.03, 0.9, 400),
            ContractionInput("an odd number of rows", 0.01, 0.5, 51),
            ContractionInput("close to the best setting", 0.06, 0.55, 81, hidden=True),
            ContractionInput("real roots, a short run", 0.05, 0.3, 120, hidden=True),
            ContractionInput("heavy momentum", 0.02, 0.95, 201, hidden=True),
        )),
    ExerciseSpec(
        "test_opt_fn", ("opt_fn",), "paths with optimizers defined by the grader",
        kind="path", defaults={"n_iters": 100},
        cases=(
            _opt_fn_input("torch.optim.SGD with momentum", "ravine", (2.5, 1.0), "torch.optim.SGD", {"lr": 0.02, "momentum": 0.9}, 25),
            _opt_fn_input("torch.optim.Adam", "rosenbrock", (-1.5, 2.5), "torch.optim.Adam", {"lr": 0.05}, 30),
            _opt_fn_input("a class that is not torch's", "quadratic", (1.0, -2.0), "SignDescent", {"lr": 0.1}, 20),
            _opt_fn_input("default n_iters", "trimodal", (0.5, 0.5), "torch.optim.RMSprop", {"lr": 0.01}, None, hidden=True),
            _opt_fn_input("torch.optim.SGD, no extras", "quadratic", (1.0, -2.0), "torch.optim.SGD", {"lr": 0.05}, 15, hidden=True),
            _opt_fn_input("heavy-ball momentum", "ravine", (2.5, 1.0), "HeavyBall", {"lr": 0.02, "momentum": 0.9}, 25, hidden=True),
            _opt_fn_input("heavy ball, default n_iters", "trimodal", (0.5, 0.5), "HeavyBall", {"lr": 0.01}, None, hidden=True),
            _opt_fn_input("heavy ball, plain steps", "rosenbrock", (-1.5, 2.5), "HeavyBall", {"lr": 1e-3}, 15, hidden=True),
        )),
    ExerciseSpec(
        "test_challenge", ("challenge_optimizer_class", "challenge_hyperparams", "challenge_n_iters"),
        "the chosen optimizer on Rosenbrock", allow_torch_optim=("*",),
        limits={"distance": 1e-2, "max_iters": 1000, "landscape": "rosenbrock"}),
)
