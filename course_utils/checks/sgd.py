"""Checks for the graded exercises of ``01_sgd``.

One function per graded test cell; each prints one line when the answer is right and raises
:class:`~course_utils.checks.feedback.CheckFailed` with a teaching message when it is wrong.
``thorough=True`` is what the hidden tests call: more configurations, dtypes and steps.

==============================  =====================================  ==================
test cell                       check                                  graded name
==============================  =====================================  ==================
test_gradient_descent_by_hand   :func:`check_gradient_descent_by_hand`  gradient_descent_by_hand
test_sgd_epoch_by_hand          :func:`check_sgd_epoch_by_hand`        sgd_epoch_by_hand
test_opt_fn_with_sgd            :func:`check_opt_fn_with_sgd`          opt_fn_with_sgd
test_SGD_plain                  :func:`check_sgd_plain`                SGD
test_SGD_momentum               :func:`check_sgd_momentum`             SGD
test_SGD_contract               :func:`check_sgd_contract`             SGD
test_opt_fn                     :func:`check_opt_fn`                   opt_fn
test_challenge                  :func:`check_rosenbrock_challenge`     challenge_*
==============================  =====================================  ==================
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.guards import forbid_torch_optim, require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import KnownMistake, OptimizerConfig, compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import PathCase, PathMistake, ascent, check_path_function, optimizer_path, require_student_function
from course_utils.device import get_device

__all__ = [
    "SGD_DEFAULTS",
    "check_gradient_descent_by_hand",
    "check_sgd_epoch_by_hand",
    "check_opt_fn_with_sgd",
    "check_sgd_plain",
    "check_sgd_momentum",
    "check_sgd_contract",
    "check_opt_fn",
    "check_rosenbrock_challenge",
    "CELL_CHECKS",
]

SGD_DEFAULTS: Mapping[str, float] = {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0}


def reference_sgd(params: Any, **hyperparams: Any) -> torch.optim.SGD:
    """torch.optim.SGD with the course's defaults, dampening=0 and nesterov=False."""
    return torch.optim.SGD(params, **{**SGD_DEFAULTS, **hyperparams}, dampening=0.0, nesterov=False)


# --- known mistakes of the SGD class, as update rules ---------------------------------------------------


def _sgd_rule(
    *,
    ema: bool = False,
    ema_zero_init: bool = False,
    decay_after_momentum: bool = False,
    forget_buffer: bool = False,
    decay_without_lr: bool = False,
    decay_sign: float = 1.0,
    direction: float = -1.0,
    nesterov: bool = False,
):
    def rule(p: torch.Tensor, grad: torch.Tensor, state: dict, h: Mapping[str, Any]) -> None:
        lr, momentum, wd = h["lr"], h["momentum"], h["weight_decay"]
        g = grad.clone()
        if wd and not decay_after_momentum and not decay_without_lr:
            g = g + decay_sign * wd * p
        if momentum:
            buf = state.get("buf")
            if buf is None or forget_buffer:
                buf = torch.zeros_like(g) if ema_zero_init else g.clone()
                if ema_zero_init:
                    buf = (1 - momentum) * g
            elif ema:
                buf = momentum * buf + (1 - momentum) * g
            else:
                buf = momentum * buf + g
            state["buf"] = buf
            g = g + momentum * buf if nesterov else buf
        if wd and decay_after_momentum:
            g = g + wd * p
        p.add_(g, alpha=direction * lr)
        if wd and decay_without_lr:
            p.add_(p, alpha=-wd)

    return rule


SGD_MISTAKES = (
    KnownMistake(
        "momentum as an average (the EMA form, buffer starting at the gradient)",
        "PyTorch's SGD sums, it does not average: buf = momentum * buf + grad, with no (1 - momentum) factor. "
        "The EMA form gives the same path only with lr divided by (1 - momentum).",
        _sgd_rule(ema=True), SGD_DEFAULTS),
    KnownMistake(
        "momentum as an average (the EMA form, buffer starting at zero)",
        "PyTorch's SGD starts the buffer at the first gradient (buf = grad.clone()) and then sums: "
        "buf = momentum * buf + grad, with no (1 - momentum) factor.",
        _sgd_rule(ema=True, ema_zero_init=True), SGD_DEFAULTS),
    KnownMistake(
        "weight decay added after momentum",
        "Add weight_decay * p to the gradient *before* it enters the momentum buffer: g = grad + weight_decay * p, "
        "then buf = momentum * buf + g, then p -= lr * buf.",
        _sgd_rule(decay_after_momentum=True), SGD_DEFAULTS),
    KnownMistake(
        "the momentum buffer is not kept between steps",
        "Keep the buffer in per-parameter state (self.state[p]['momentum_buffer']) and reuse it on the next step; "
        "recreating it from the gradient every step switches momentum off.",
        _sgd_rule(forget_buffer=True), SGD_DEFAULTS),
    KnownMistake(
        "weight decay not multiplied by the learning rate",
        "In torch.optim.SGD decay enters through the gradient (g = grad + weight_decay * p), so the parameter "
        "shrinks by lr * weight_decay * p per step, not by weight_decay * p.",
        _sgd_rule(decay_without_lr=True), SGD_DEFAULTS),
    KnownMistake(
        "weight decay with the wrong sign",
        "Decay pulls weights towards zero: its gradient is +weight_decay * p (the derivative of "
        "weight_decay / 2 * ||p||^2), added to grad.",
        _sgd_rule(decay_sign=-1.0), SGD_DEFAULTS),
    KnownMistake(
        "gradient ascent (a + where a - belongs)",
        "Step against the gradient: p -= lr * g.",
        _sgd_rule(direction=1.0), SGD_DEFAULTS),
    KnownMistake(
        "Nesterov momentum",
        "This exercise is plain (heavy-ball) momentum, nesterov=False: step with the buffer itself, p -= lr * buf.",
        _sgd_rule(nesterov=True), SGD_DEFAULTS),
)

_DEFAULTS_NOTE = "your class's defaults (expected lr=1e-3, momentum=0.0, weight_decay=0.0)"


def _plain_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("plain gradient step", {"lr": 0.1}, n_steps=3),
        OptimizerConfig("weight decay", {"lr": 0.05, "weight_decay": 0.1}, n_steps=4),
        OptimizerConfig(_DEFAULTS_NOTE, {}, n_steps=2),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("explicit zeros", {"lr": 0.2, "momentum": 0.0, "weight_decay": 0.0}, n_steps=6, seed=1),
            OptimizerConfig("lr = 0 does not move", {"lr": 0.0, "weight_decay": 0.5}, n_steps=2, seed=2),
            OptimizerConfig("strong decay, many steps", {"lr": 0.02, "weight_decay": 0.5}, n_steps=12, seed=3,
                            shapes=((5,), (3, 3), (2, 1, 4), (1,))),
            OptimizerConfig("float32", {"lr": 0.01, "weight_decay": 0.01}, n_steps=5, dtype=torch.float32, seed=4),
        ]
    return ladder


def _momentum_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("momentum", {"lr": 0.1, "momentum": 0.9}, n_steps=5),
        OptimizerConfig("momentum with weight decay", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}, n_steps=5),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("heavy momentum, many steps", {"lr": 0.01, "momentum": 0.99}, n_steps=20, seed=1),
            OptimizerConfig("light momentum and decay", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}, n_steps=10,
                            seed=2, shapes=((7,), (2, 3), (3, 1, 2), (1, 1))),
            OptimizerConfig("float32 momentum with decay", {"lr": 0.03, "momentum": 0.9, "weight_decay": 0.05},
                            n_steps=8, dtype=torch.float32, seed=3),
        ]
    return ladder


def check_sgd_plain(SGD: type, *, thorough: bool = False) -> None:
    """SGD without momentum (plain steps and weight decay) matches torch.optim.SGD on every parameter after every step."""
    with quiet():
        require_own_implementation(SGD, "SGD")
        require_signature(SGD, "SGD", SGD_DEFAULTS)
        steps = compare_optimizer(SGD, reference_sgd, _plain_ladder(thorough), exercise="SGD",
                                  reference_name="torch.optim.SGD", mistakes=SGD_MISTAKES, device=get_device())
    n = len(_plain_ladder(thorough))
    passed(f"SGD without momentum matches torch.optim.SGD: {n} configurations, {steps} steps, every parameter after every step.")


def check_sgd_momentum(SGD: type, *, thorough: bool = False) -> None:
    """SGD with momentum (with and without weight decay) matches torch.optim.SGD step by step."""
    with quiet():
        require_own_implementation(SGD, "SGD")
        steps = compare_optimizer(SGD, reference_sgd, _momentum_ladder(thorough), exercise="SGD",
                                  reference_name="torch.optim.SGD", mistakes=SGD_MISTAKES, device=get_device())
    n = len(_momentum_ladder(thorough))
    passed(f"SGD with momentum matches torch.optim.SGD: {n} configurations, {steps} steps, every parameter after every step.")


def check_sgd_contract(SGD: type, *, thorough: bool = False) -> None:
    """SGD behaves like a PyTorch optimizer: validation, in place, grad untouched, grad=None, odd tensors, state."""
    with quiet():
        require_own_implementation(SGD, "SGD")
        checked = check_contract(
            SGD, exercise="SGD",
            stateful_hyperparams={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
            invalid_hyperparams={"lr": -0.1, "momentum": -0.5, "weight_decay": -0.01},
            device=get_device(), thorough=thorough,
        )
    passed("SGD behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


# --- landscape paths ------------------------------------------------------------------------------------


def _gd(lr: float):
    return lambda ps: torch.optim.SGD(ps, lr=lr)


_PATH_AFTER = "rows hold the point after each step"
_PATH_AFTER_HINT = "Record the point before you step: row 0 must be the start, and the last step's result is not stored."
_NO_RESET = "gradients pile up across steps (grad never reset)"
_NO_RESET_HINT = "backward() adds to .grad. Reset it every iteration (xy.grad = None, or optimizer.zero_grad()) before backward()."


def _gd_mistakes() -> tuple[PathMistake, ...]:
    def lr_of(case: PathCase) -> float:
        return case.kwargs.get("lr", case.positional[0] if case.positional else None)

    return (
        PathMistake(_PATH_AFTER, _PATH_AFTER_HINT,
                    lambda fn, s, c: optimizer_path(fn, s, _gd(lr_of(c)), c.n_iters, record_after=True)),
        PathMistake(_NO_RESET, _NO_RESET_HINT,
                    lambda fn, s, c: optimizer_path(fn, s, _gd(lr_of(c)), c.n_iters, reset_grad=False)),
        PathMistake("gradient ascent", "Step against the gradient: xy -= lr * xy.grad.",
                    lambda fn, s, c: optimizer_path(fn, s, ascent(lr_of(c)), c.n_iters)),
    )


def check_gradient_descent_by_hand(gradient_descent_by_hand: Any, *, thorough: bool = False) -> None:
    """gradient_descent_by_hand(fn, xy, lr, n_iters) follows plain gradient descent, row k before step k."""
    cases = [
        PathCase("Rosenbrock, small steps", "rosenbrock", (-1.5, 2.5), {"lr": 1e-3, "n_iters": 12}, 12, _gd(1e-3)),
        PathCase("ravine", "ravine", (2.5, 1.0), {"lr": 0.05, "n_iters": 15}, 15, _gd(0.05)),
    ]
    if thorough:
        cases += [
            PathCase("default n_iters", "quadratic", (1.0, -2.0), {"lr": 0.02}, 100, _gd(0.02)),
            PathCase("lr given by position", "trimodal", (0.5, 0.5), {"n_iters": 25}, 25, _gd(0.3), positional=(0.3,)),
            PathCase("one iteration", "rosenbrock", (0.0, 0.0), {"lr": 1e-3, "n_iters": 1}, 1, _gd(1e-3)),
        ]
    with quiet():
        rows = check_path_function(gradient_descent_by_hand, cases, exercise="gradient_descent_by_hand",
                                   reference_name="plain gradient descent", mistakes=_gd_mistakes(),
                                   forbid_optim=True, device=get_device())
    passed(f"gradient_descent_by_hand follows gradient descent: {len(cases)} cases, {rows} rows.")


def _sgd_momentum(lr: float, momentum: float):
    return lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum)


def _momentum_mistakes(lr_key: str = "lr", momentum_key: str = "momentum", defaults=(1e-3, 0.98)) -> tuple[PathMistake, ...]:
    def hp(case: PathCase) -> tuple[float, float]:
        return case.kwargs.get(lr_key, defaults[0]), case.kwargs.get(momentum_key, defaults[1])

    return (
        PathMistake(_PATH_AFTER, _PATH_AFTER_HINT,
                    lambda fn, s, c: optimizer_path(fn, s, _sgd_momentum(*hp(c)), c.n_iters, record_after=True)),
        PathMistake(_NO_RESET, "Call optimizer.zero_grad() before loss.backward() in every iteration.",
                    lambda fn, s, c: optimizer_path(fn, s, _sgd_momentum(*hp(c)), c.n_iters, reset_grad=False)),
        PathMistake("momentum not passed to torch.optim.SGD", "Build the optimizer with torch.optim.SGD([xy], lr=lr, momentum=momentum).",
                    lambda fn, s, c: optimizer_path(fn, s, _sgd_momentum(hp(c)[0], 0.0), c.n_iters)),
    )


def check_opt_fn_with_sgd(opt_fn_with_sgd: Any, *, thorough: bool = False) -> None:
    """opt_fn_with_sgd(fn, xy, lr=0.001, momentum=0.98, n_iters=100) follows torch.optim.SGD, row k before step k."""
    cases = [
        PathCase("defaults", "rosenbrock", (-1.5, 2.5), {}, 100, _sgd_momentum(1e-3, 0.98)),
        PathCase("ravine with momentum", "ravine", (2.5, 1.0), {"lr": 0.02, "momentum": 0.9, "n_iters": 30}, 30, _sgd_momentum(0.02, 0.9)),
    ]
    if thorough:
        cases += [
            PathCase("no momentum", "quadratic", (1.0, -2.0), {"lr": 0.05, "momentum": 0.0, "n_iters": 20}, 20, _sgd_momentum(0.05, 0.0)),
            PathCase("trimodal", "trimodal", (0.5, 0.5), {"lr": 0.1, "momentum": 0.5, "n_iters": 40}, 40, _sgd_momentum(0.1, 0.5)),
        ]
    with quiet():
        rows = check_path_function(opt_fn_with_sgd, cases, exercise="opt_fn_with_sgd", reference_name="torch.optim.SGD",
                                   mistakes=_momentum_mistakes(), device=get_device())
    passed(f"opt_fn_with_sgd follows torch.optim.SGD: {len(cases)} cases (defaults included), {rows} rows.")


class _SignDescent:
    """A tiny optimizer defined here, so opt_fn is also tried on a class that is not torch's."""

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


def check_opt_fn(opt_fn: Any, *, thorough: bool = False) -> None:
    """opt_fn(fn, xy, optimizer_class, optimizer_hyperparams, n_iters=100) follows the given optimizer."""
    def case(label: str, landscape: str, start, cls: type, hp: dict, n: int | None) -> PathCase:
        kwargs = {"optimizer_class": cls, "optimizer_hyperparams": hp, **({"n_iters": n} if n is not None else {})}
        return PathCase(label, landscape, start, kwargs, n or 100, lambda ps: cls(ps, **hp))

    cases = [
        case("torch.optim.SGD with momentum", "ravine", (2.5, 1.0), torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}, 25),
        case("torch.optim.Adam", "rosenbrock", (-1.5, 2.5), torch.optim.Adam, {"lr": 0.05}, 30),
        case("a class that is not torch's", "quadratic", (1.0, -2.0), _SignDescent, {"lr": 0.1}, 20),
    ]
    if thorough:
        cases += [
            case("default n_iters", "trimodal", (0.5, 0.5), torch.optim.RMSprop, {"lr": 0.01}, None),
            case("torch.optim.SGD, no extras", "quadratic", (1.0, -2.0), torch.optim.SGD, {"lr": 0.05}, 15),
        ]
    mistakes = (
        PathMistake(_PATH_AFTER, _PATH_AFTER_HINT,
                    lambda fn, s, c: optimizer_path(fn, s, c.make_optimizer, c.n_iters, record_after=True)),
        PathMistake(_NO_RESET, "Call optimizer.zero_grad() before loss.backward() in every iteration.",
                    lambda fn, s, c: optimizer_path(fn, s, c.make_optimizer, c.n_iters, reset_grad=False)),
        PathMistake("optimizer_hyperparams ignored", "Build the optimizer with optimizer_class([xy], **optimizer_hyperparams).",
                    lambda fn, s, c: optimizer_path(fn, s, lambda ps: c.kwargs["optimizer_class"](ps), c.n_iters)),
    )
    with quiet():
        rows = check_path_function(opt_fn, cases, exercise="opt_fn", reference_name="the optimizer it was given",
                                   mistakes=mistakes, device=get_device())
    passed(f"opt_fn follows the optimizer it is given: {len(cases)} cases, {rows} rows.")


# --- minibatch SGD by hand -------------------------------------------------------------------------------


def _epoch_reference(w, b, X, y, lr, batch_size, *, reset=True, reduce="mean", record_after=False, drop_last=False):
    """One epoch of minibatch SGD on linear regression with torch.optim.SGD; returns (losses, w, b)."""
    w, b = w.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    losses = []
    n = X.shape[0]
    for start in range(0, n, batch_size):
        Xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        if drop_last and Xb.shape[0] < batch_size:
            break
        if reset:
            optimizer.zero_grad()
        residual = Xb @ w + b - yb
        loss = (residual ** 2).mean() if reduce == "mean" else (residual ** 2).sum()
        loss.backward()
        optimizer.step()
        if record_after:
            with torch.no_grad():
                after = ((Xb @ w + b - yb) ** 2).mean() if reduce == "mean" else ((Xb @ w + b - yb) ** 2).sum()
            losses.append(float(after))
        else:
            losses.append(float(loss))
    return losses, w.detach(), b.detach()


_EPOCH_MISTAKES = (
    ("gradients pile up across minibatches (grad never reset)", {"reset": False},
     "After each update set w.grad = None and b.grad = None (or .zero_()): backward() adds to .grad."),
    ("the loss is a sum instead of a mean", {"reduce": "sum"},
     "Use the mean squared error, ((X_b @ w + b - y_b) ** 2).mean(), so the step size does not grow with the batch."),
    ("the loss is recorded after the update", {"record_after": True},
     "Append loss.item() for the loss you called backward() on, before the update."),
    ("the last, smaller minibatch is dropped", {"drop_last": True},
     "Walk with range(0, n, batch_size) and slice X[start:start + batch_size]: the last chunk may be smaller and still counts."),
)


def check_sgd_epoch_by_hand(sgd_epoch_by_hand: Any, *, thorough: bool = False) -> None:
    """sgd_epoch_by_hand(w, b, X, y, lr, batch_size) does one in-order epoch of minibatch SGD in place."""
    require_student_function(sgd_epoch_by_hand, "sgd_epoch_by_hand")
    device = get_device()
    sizes = [(10, 3, 10, 0.05), (10, 3, 4, 0.05), (7, 2, 1, 0.02)]
    if thorough:
        sizes += [(23, 5, 8, 0.1), (5, 4, 16, 0.01), (12, 1, 5, 0.3)]
    with quiet():
        for case_index, (n, d, batch_size, lr) in enumerate(sizes):
            gen = torch.Generator().manual_seed(100 + case_index)
            X = torch.randn(n, d, generator=gen, dtype=torch.float64).to(device)
            y = torch.randn(n, generator=gen, dtype=torch.float64).to(device)
            w0 = torch.randn(d, generator=gen, dtype=torch.float64).to(device)
            b0 = torch.tensor(0.5, dtype=torch.float64, device=device)
            w, b = w0.clone().requires_grad_(True), b0.clone().requires_grad_(True)
            X_copy, y_copy = X.clone(), y.clone()
            kind = "batch gradient descent" if batch_size >= n else ("stochastic gradient descent" if batch_size == 1 else "minibatch SGD")
            call = f"sgd_epoch_by_hand(w, b, X, y, lr={lr}, batch_size={batch_size}) with X of shape ({n}, {d}) ({kind})"
            try:
                with forbid_torch_optim("sgd_epoch_by_hand"):
                    losses = sgd_epoch_by_hand(w, b, X, y, lr, batch_size)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error("sgd_epoch_by_hand", f"in {call}", error) from None
            expected_losses, w_expected, b_expected = _epoch_reference(w0, b0, X, y, lr, batch_size)
            n_batches = math.ceil(n / batch_size)
            try:
                got_losses = [float(v) for v in losses]
            except Exception:
                raise CheckFailed(f"{call}\n  returned {type(losses).__name__}; expected a list of {n_batches} floats (loss.item() per minibatch).") from None
            if len(got_losses) != n_batches:
                raise CheckFailed(
                    f"{call}\n  returned {len(got_losses)} losses; expected {n_batches}, one per minibatch "
                    f"(ceil({n} / {batch_size}); the last minibatch may be smaller)."
                )
            if not (tensors_equal(X, X_copy) and tensors_equal(y, y_copy)):
                raise CheckFailed(f"{call}\n  changed X or y. The data must be left as it is.")
            tol = tolerance_for(torch.float64)
            got_tensor = torch.tensor(got_losses, dtype=torch.float64)
            bad = first_mismatch(torch.tensor(expected_losses, dtype=torch.float64), got_tensor, tol)
            problems = []
            if bad is not None:
                problems.append(f"  minibatch losses differ first at minibatch {bad[0]}:\n"
                                + describe_mismatch(torch.tensor(expected_losses, dtype=torch.float64), got_tensor, bad, tol))
            for name, expected, tensor in (("w", w_expected, w), ("b", b_expected, b)):
                where = first_mismatch(expected, tensor.detach(), tol)
                if where is not None:
                    unchanged = tensors_equal(tensor.detach(), (w0 if name == "w" else b0))
                    problems.append(
                        f"  {name} after the epoch differs from the reference:\n"
                        + describe_mismatch(expected, tensor.detach(), where, tol)
                        + (f"\n  {name} was not changed at all: update the tensors passed in, in place "
                           f"(`with torch.no_grad(): {name} -= lr * {name}.grad`), not a copy." if unchanged else "")
                    )
            if problems:
                lines = [f"sgd_epoch_by_hand does not match minibatch SGD:\n  {call}", *problems]
                for name, options, hint in _EPOCH_MISTAKES:
                    replay, _, _ = _epoch_reference(w0, b0, X, y, lr, batch_size, **options)
                    if len(replay) == len(got_losses) and first_mismatch(torch.tensor(replay, dtype=torch.float64), got_tensor, tol) is None:
                        lines += [f"  Your numbers match a known mistake: {name}.", f"  Hint: {hint}"]
                        break
                raise CheckFailed("\n".join(lines))
    passed(f"sgd_epoch_by_hand matches minibatch SGD: {len(sizes)} cases (batch, minibatch and stochastic), losses and parameters.")


# --- the closing challenge ------------------------------------------------------------------------------

CHALLENGE_TOLERANCE = 1e-2
CHALLENGE_MAX_ITERS = 1000


def check_rosenbrock_challenge(optimizer_class: Any, hyperparams: Any, n_iters: Any, *, thorough: bool = False) -> None:
    """The chosen optimizer reaches within 1e-2 of Rosenbrock's minimum (1, 1) from the landscape's start in <= 1000 steps."""
    from course_utils.landscapes import get_landscape

    if not inspect.isclass(optimizer_class):
        raise CheckFailed(f"challenge_optimizer_class must be a class (e.g. torch.optim.Adam or your SGD), got {optimizer_class!r}.")
    if not isinstance(hyperparams, Mapping):
        raise CheckFailed(f"challenge_hyperparams must be a dict of keyword arguments, got {type(hyperparams).__name__}.")
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or not 1 <= n_iters <= CHALLENGE_MAX_ITERS:
        raise CheckFailed(f"challenge_n_iters must be an int from 1 to {CHALLENGE_MAX_ITERS}, got {n_iters!r}.")
    landscape = get_landscape("rosenbrock")
    start = torch.tensor(landscape.start, dtype=torch.float64, device=get_device())
    runs = 2 if thorough else 1
    finals = []
    with quiet():
        for _ in range(runs):
            try:
                path = optimizer_path(landscape, start, lambda ps: optimizer_class(ps, **hyperparams), n_iters + 1)
            except Exception as error:
                raise student_error("the challenge optimizer", f"when run as {optimizer_class.__name__}(params, **{dict(hyperparams)})", error) from None
            finals.append(path[-1])  # the point after n_iters steps
    final = finals[0]
    target = torch.tensor(landscape.minima[0], dtype=torch.float64, device=final.device)
    distance = float(torch.linalg.vector_norm(final - target))
    if not math.isfinite(distance) or distance > CHALLENGE_TOLERANCE:
        raise CheckFailed(
            f"After {n_iters} steps of {optimizer_class.__name__}(**{dict(hyperparams)}) from {landscape.start}, the point is "
            f"({float(final[0]):.6g}, {float(final[1]):.6g}), {distance:.3g} away from the minimum (1, 1); "
            f"the target is within {CHALLENGE_TOLERANCE}. Try more steps, a different learning rate, or momentum."
        )
    if thorough and not tensors_equal(finals[0], finals[1]):
        raise CheckFailed("The challenge run is not deterministic: two runs ended at different points.")
    passed(f"Challenge met: within {distance:.2e} of (1, 1) after {n_iters} steps of {optimizer_class.__name__}.")


# --- registry: which check grades which test cell, on which names of the notebook ----------------------

CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_gradient_descent_by_hand": (check_gradient_descent_by_hand, ("gradient_descent_by_hand",)),
    "test_sgd_epoch_by_hand": (check_sgd_epoch_by_hand, ("sgd_epoch_by_hand",)),
    "test_opt_fn_with_sgd": (check_opt_fn_with_sgd, ("opt_fn_with_sgd",)),
    "test_SGD_plain": (check_sgd_plain, ("SGD",)),
    "test_SGD_momentum": (check_sgd_momentum, ("SGD",)),
    "test_SGD_contract": (check_sgd_contract, ("SGD",)),
    "test_opt_fn": (check_opt_fn, ("opt_fn",)),
    "test_challenge": (check_rosenbrock_challenge, ("challenge_optimizer_class", "challenge_hyperparams", "challenge_n_iters")),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
