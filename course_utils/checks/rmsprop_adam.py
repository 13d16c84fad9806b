"""Checks for the graded exercises of ``02_rmsprop_adam``: the building blocks, RMSprop and Adam.

The building blocks are checked on their own (``ema_``, ``bias_correction``) so a student can tell
which piece is wrong; the optimizers are compared with ``torch.optim.RMSprop`` (``centered=False``)
and ``torch.optim.Adam`` (``amsgrad=False``) on every parameter after every step, over ladders whose
``eps`` is large enough (1e-3) for its placement to matter and whose decay is non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.guards import forbid_torch_optim, require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import KnownMistake, OptimizerConfig, compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import require_student_function
from course_utils.device import get_device

ASSIGNMENT = "02_rmsprop_adam"

__all__ = [
    "RMSPROP_DEFAULTS",
    "ADAM_DEFAULTS",
    "adam_rule",
    "check_ema",
    "check_bias_correction",
    "check_rmsprop_plain",
    "check_rmsprop_momentum",
    "check_rmsprop_contract",
    "check_adam_plain",
    "check_adam_weight_decay",
    "check_adam_contract",
    "CELL_CHECKS",
]

RMSPROP_DEFAULTS: Mapping[str, Any] = {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0}
ADAM_DEFAULTS: Mapping[str, Any] = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}


def reference_rmsprop(params: Any, **hyperparams: Any) -> torch.optim.RMSprop:
    return torch.optim.RMSprop(params, **{**RMSPROP_DEFAULTS, **hyperparams}, centered=False)


def reference_adam(params: Any, **hyperparams: Any) -> torch.optim.Adam:
    return torch.optim.Adam(params, **{**ADAM_DEFAULTS, **hyperparams}, amsgrad=False)


# --- building blocks ----------------------------------------------------------------------------------


def _call(exercise: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        with forbid_torch_optim(exercise):
            return fn(*args)
    except CheckFailed:
        raise
    except Exception as error:
        raise student_error(exercise, what, error) from None


def _expect_tensor(exercise: str, call: str, got: Any, expected: torch.Tensor, mistakes: list[tuple[str, str, torch.Tensor]]) -> None:
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{call}\n  returned {type(got).__name__}; expected a tensor of shape {tuple(expected.shape)}.")
    if got.shape != expected.shape:
        raise CheckFailed(f"{call}\n  returned shape {tuple(got.shape)}; expected {tuple(expected.shape)}.")
    tol = tolerance_for(expected.dtype)
    where = first_mismatch(expected, got, tol)
    if where is None:
        return
    lines = [f"{exercise} gives a wrong result:", f"  {call}", describe_mismatch(expected, got, where, tol)]
    for name, hint, replay in mistakes:
        if first_mismatch(replay, got, tol) is None:
            lines += [f"  Your numbers match a known mistake: {name}.", f"  Hint: {hint}"]
            break
    raise CheckFailed("\n".join(lines))


def check_ema(ema_: Any, *, thorough: bool = False) -> None:
    """ema_(avg, value, beta) sets avg <- beta * avg + (1 - beta) * value in place and returns avg."""
    require_student_function(ema_, "ema_")
    device = get_device()
    cases = [((3, 4), 0.9, torch.float64), ((5,), 0.5, torch.float64)]
    if thorough:
        cases += [((2, 3, 2), 0.999, torch.float64), ((4,), 0.0, torch.float64), ((6,), 0.9, torch.float32), ((0,), 0.9, torch.float64)]
    with quiet():
        for index, (shape, beta, dtype) in enumerate(cases):
            gen = torch.Generator().manual_seed(index)
            avg0 = torch.randn(shape, generator=gen, dtype=dtype).to(device)
            value = torch.randn(shape, generator=gen, dtype=dtype).to(device)
            avg, value_copy = avg0.clone(), value.clone()
            call = f"ema_(avg, value, beta={beta}) with avg and value of shape {shape}, {str(dtype).replace('torch.', '')}"
            got = _call("ema_", f"in {call}", ema_, avg, value, beta)
            expected = beta * avg0 + (1 - beta) * value
            if not tensors_equal(value, value_copy):
                raise CheckFailed(f"{call}\n  changed `value`. Only `avg` is updated.")
            _expect_tensor("ema_", call, got, expected, [
                ("the weights are swapped", "The old average keeps the weight beta: beta * avg + (1 - beta) * value.",
                 (1 - beta) * avg0 + beta * value),
                ("the (1 - beta) factor is missing", "An average needs weights that sum to one: beta * avg + (1 - beta) * value.",
                 beta * avg0 + value),
            ])
            if got is not avg or first_mismatch(expected, avg, tolerance_for(dtype)) is not None:
                raise CheckFailed(
                    f"{call}\n  returned the right values but did not update `avg` in place and return it. Optimizer "
                    f"state lives in these tensors: use avg.mul_(beta).add_(value, alpha=1 - beta) and return avg."
                )
    passed(f"ema_ updates the average in place: {len(cases)} cases.")


def check_bias_correction(bias_correction: Any, *, thorough: bool = False) -> None:
    """bias_correction(avg, beta, t) returns avg / (1 - beta ** t), t counted from 1; t < 1 raises ValueError."""
    require_student_function(bias_correction, "bias_correction")
    device = get_device()
    cases = [(0.9, 1), (0.9, 2), (0.999, 10)]
    if thorough:
        cases += [(0.9, 100), (0.5, 3), (0.999, 1)]
    with quiet():
        for index, (beta, t) in enumerate(cases):
            avg = torch.randn(3, 2, generator=torch.Generator().manual_seed(index), dtype=torch.float64).to(device)
            original = avg.clone()
            call = f"bias_correction(avg, beta={beta}, t={t})"
            got = _call("bias_correction", f"in {call}", bias_correction, avg, beta, t)
            if not tensors_equal(avg, original):
                raise CheckFailed(f"{call}\n  changed `avg` in place. Return a new tensor: the stored average must stay uncorrected for the next step.")
            zero_based = avg / (1 - beta ** (t - 1)) if t > 1 else torch.full_like(avg, float("nan"))
            _expect_tensor("bias_correction", call, got, original / (1 - beta ** t), [
                ("t counted from 0", "The first step is t = 1, so the first correction divides by 1 - beta.", zero_based),
                ("multiplying instead of dividing", "Divide: avg / (1 - beta ** t).", original * (1 - beta ** t)),
                ("1 - beta * t instead of 1 - beta ** t", "The correction is 1 - beta to the power t: beta ** t.", original / (1 - beta * t)),
            ])
        for bad_t in (0, -1):
            try:
                with forbid_torch_optim("bias_correction"):
                    bias_correction(torch.ones(2, dtype=torch.float64), 0.9, bad_t)
            except ValueError:
                continue
            except Exception as error:
                raise CheckFailed(f"bias_correction(avg, 0.9, t={bad_t}) raised {type(error).__name__}; expected ValueError naming t (steps count from 1).") from None
            raise CheckFailed(f"bias_correction(avg, 0.9, t={bad_t}) was accepted; steps count from 1, so raise ValueError(f\"Invalid step t: {{t}} (t counts from 1)\").")
    passed(f"bias_correction divides by 1 - beta ** t: {len(cases)} cases, and rejects t < 1.")


# --- RMSprop --------------------------------------------------------------------------------------------


def _rmsprop_rule(*, eps_inside: bool = False, momentum_on_raw: bool = False, start_at_g2: bool = False, swapped: bool = False):
    def rule(p: torch.Tensor, grad: torch.Tensor, state: dict, h: Mapping[str, Any]) -> None:
        lr, alpha, eps, wd, momentum = h["lr"], h["alpha"], h["eps"], h["weight_decay"], h["momentum"]
        g = grad + wd * p if wd else grad.clone()
        square = state.get("square")
        if square is None and start_at_g2:
            square = g * g
        else:
            square = torch.zeros_like(p) if square is None else square
            square = (1 - alpha) * square + alpha * g * g if swapped else alpha * square + (1 - alpha) * g * g
        state["square"] = square
        avg = (square + eps).sqrt() if eps_inside else square.sqrt() + eps
        if momentum:
            buf = state.get("buf", torch.zeros_like(p))
            buf = momentum * buf + (g if momentum_on_raw else g / avg)
            state["buf"] = buf
            p.add_(buf / avg if momentum_on_raw else buf, alpha=-lr)
        else:
            p.add_(g / avg, alpha=-lr)

    return rule


RMSPROP_MISTAKES = (
    KnownMistake("eps inside the square root",
                 "Add eps after the square root: avg = square_avg.sqrt() + eps. With eps = 1e-3 the two differ visibly.",
                 _rmsprop_rule(eps_inside=True), RMSPROP_DEFAULTS),
    KnownMistake("momentum applied to the raw gradient",
                 "RMSprop's momentum accumulates the already scaled step: buf = momentum * buf + g / avg, then p -= lr * buf.",
                 _rmsprop_rule(momentum_on_raw=True), RMSPROP_DEFAULTS),
    KnownMistake("the square average starts at g * g",
                 "square_avg starts at zero and is updated on every step, the first included: square_avg = alpha * square_avg + (1 - alpha) * g * g.",
                 _rmsprop_rule(start_at_g2=True), RMSPROP_DEFAULTS),
    KnownMistake("alpha and (1 - alpha) swapped",
                 "alpha is the weight of the old average: square_avg = alpha * square_avg + (1 - alpha) * g * g.",
                 _rmsprop_rule(swapped=True), RMSPROP_DEFAULTS),
)


def _rmsprop_plain_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("plain RMSprop", {"lr": 0.01}, n_steps=4),
        OptimizerConfig("large eps, smaller alpha", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3}, n_steps=5),
        OptimizerConfig("weight decay", {"lr": 0.005, "weight_decay": 0.1, "eps": 1e-3}, n_steps=4),
        OptimizerConfig("your class's defaults (expected lr=0.01, alpha=0.99, eps=1e-8)", {}, n_steps=3),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("many steps", {"lr": 0.003, "alpha": 0.95, "eps": 1e-2}, n_steps=20, seed=1, shapes=((5,), (3, 3), (1,))),
            OptimizerConfig("float32", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01}, n_steps=6, dtype=torch.float32, seed=2),
        ]
    return ladder


def _rmsprop_momentum_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("momentum", {"lr": 0.01, "momentum": 0.9, "eps": 1e-3}, n_steps=5),
        OptimizerConfig("momentum with decay", {"lr": 0.01, "momentum": 0.5, "alpha": 0.9, "weight_decay": 0.05, "eps": 1e-3}, n_steps=5),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("heavy momentum, many steps", {"lr": 0.002, "momentum": 0.95, "eps": 1e-2}, n_steps=15, seed=1),
            OptimizerConfig("float32 momentum", {"lr": 0.01, "momentum": 0.8, "eps": 1e-3}, n_steps=6, dtype=torch.float32, seed=2),
        ]
    return ladder


def check_rmsprop_plain(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop without momentum matches torch.optim.RMSprop step by step (eps placement, alpha, decay, defaults)."""
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        require_signature(RMSprop, "RMSprop", RMSPROP_DEFAULTS)
        steps = compare_optimizer(RMSprop, reference_rmsprop, _rmsprop_plain_ladder(thorough), exercise="RMSprop",
                                  reference_name="torch.optim.RMSprop", mistakes=RMSPROP_MISTAKES, device=get_device())
    passed(f"RMSprop without momentum matches torch.optim.RMSprop: {len(_rmsprop_plain_ladder(thorough))} configurations, {steps} steps.")


def check_rmsprop_momentum(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop with momentum matches torch.optim.RMSprop step by step."""
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        steps = compare_optimizer(RMSprop, reference_rmsprop, _rmsprop_momentum_ladder(thorough), exercise="RMSprop",
                                  reference_name="torch.optim.RMSprop", mistakes=RMSPROP_MISTAKES, device=get_device())
    passed(f"RMSprop with momentum matches torch.optim.RMSprop: {len(_rmsprop_momentum_ladder(thorough))} configurations, {steps} steps.")


def check_rmsprop_contract(RMSprop: type, *, thorough: bool = False) -> None:
    """RMSprop behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    with quiet():
        require_own_implementation(RMSprop, "RMSprop")
        checked = check_contract(
            RMSprop, exercise="RMSprop",
            stateful_hyperparams={"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1, "eps": 1e-3},
            invalid_hyperparams=[("lr", -0.1), ("alpha", -0.5), ("eps", -1e-8), ("weight_decay", -0.1), ("momentum", -0.5)],
            device=get_device(), thorough=thorough,
        )
    passed("RMSprop behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


# --- Adam (also used by AdamW's checks) -----------------------------------------------------------------


def adam_rule(
    *,
    decay: str = "l2",
    bias: str = "both",
    t_mode: str = "normal",
    eps_inside: bool = False,
    betas_swapped: bool = False,
):
    """An Adam/AdamW update with one thing changed, for replaying mistakes.

    decay: "l2" (Adam: added to the gradient), "decoupled" (AdamW: p *= 1 - lr * wd first),
    "decoupled_no_lr" (p *= 1 - wd), "decoupled_after" (decay applied after the Adam step);
    bias: "both", "none", "m_only"; t_mode: "normal", "frozen" (t stays 1), "from_zero" (t counts from 0).
    """

    def rule(p: torch.Tensor, grad: torch.Tensor, state: dict, h: Mapping[str, Any]) -> None:
        lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
        if betas_swapped:
            b1, b2 = b2, b1
        state["t"] = 1 if t_mode == "frozen" else state.get("t", 0) + 1
        t = state["t"] - 1 if t_mode == "from_zero" else state["t"]
        g = grad.clone()
        if wd and decay == "l2":
            g = g + wd * p
        if wd and decay == "decoupled":
            p.mul_(1 - lr * wd)
        if wd and decay == "decoupled_no_lr":
            p.mul_(1 - wd)
        m = b1 * state.get("m", torch.zeros_like(p)) + (1 - b1) * g
        v = b2 * state.get("v", torch.zeros_like(p)) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        m_hat = m / (1 - b1 ** t) if bias in ("both", "m_only") else m
        v_hat = v / (1 - b2 ** t) if bias == "both" else v
        denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
        p.add_(m_hat / denom, alpha=-lr)
        if wd and decay == "decoupled_after":
            p.mul_(1 - lr * wd)

    return rule


def adam_mistakes(decay: str, defaults: Mapping[str, Any]) -> tuple[KnownMistake, ...]:
    """The known mistakes of Adam (decay="l2") or AdamW (decay="decoupled") as replayable rules."""
    common = (
        KnownMistake("no bias correction", "Divide the moments by (1 - beta1 ** t) and (1 - beta2 ** t): without it the first steps are far too small.",
                     adam_rule(decay=decay, bias="none"), defaults),
        KnownMistake("bias correction on the first moment only", "Correct both moments: m / (1 - beta1 ** t) and v / (1 - beta2 ** t).",
                     adam_rule(decay=decay, bias="m_only"), defaults),
        KnownMistake("t never incremented", "Keep a step count per parameter in its state and add one at the start of every step.",
                     adam_rule(decay=decay, t_mode="frozen"), defaults),
        KnownMistake("t starting at 0", "Increment t before using it, so the first step has t = 1 (1 - beta ** 0 would be zero).",
                     adam_rule(decay=decay, t_mode="from_zero"), defaults),
        KnownMistake("eps inside the square root", "Add eps after the square root: v_hat.sqrt() + eps.",
                     adam_rule(decay=decay, eps_inside=True), defaults),
        KnownMistake("beta1 and beta2 swapped", "beta1 (0.9) averages the gradients, beta2 (0.999) the squared gradients.",
                     adam_rule(decay=decay, betas_swapped=True), defaults),
    )
    if decay == "l2":
        return common + (
            KnownMistake("decoupled (AdamW-style) decay in Adam",
                         "torch.optim.Adam's weight_decay is an L2 penalty: add weight_decay * p to the gradient before the moments. "
                         "Decoupled decay is AdamW's (chapter 3).",
                         adam_rule(decay="decoupled"), defaults),
        )
    return common + (
        KnownMistake("coupled (L2) decay", "AdamW does not touch the gradient: shrink the parameter first, p.mul_(1 - lr * weight_decay), "
                     "then take the Adam step with the raw gradient.", adam_rule(decay="l2"), defaults),
        KnownMistake("decay not scaled by the learning rate", "PyTorch's AdamW multiplies p by (1 - lr * weight_decay), not (1 - weight_decay).",
                     adam_rule(decay="decoupled_no_lr"), defaults),
        KnownMistake("decay applied after the Adam step", "PyTorch's AdamW shrinks p first, then applies the Adam update.",
                     adam_rule(decay="decoupled_after"), defaults),
    )


ADAM_MISTAKES = adam_mistakes("l2", ADAM_DEFAULTS)


def _adam_plain_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("plain Adam", {"lr": 0.01}, n_steps=5),
        OptimizerConfig("large eps, other betas", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-3}, n_steps=5),
        OptimizerConfig("your class's defaults (expected lr=1e-3, betas=(0.9, 0.999), eps=1e-8)", {}, n_steps=3),
    ]
    if thorough:
        ladder += [
            OptimizerConfig("many steps", {"lr": 0.005, "betas": (0.9, 0.99), "eps": 1e-2}, n_steps=25, seed=1, shapes=((5,), (2, 3, 2), (1,))),
            OptimizerConfig("float32", {"lr": 0.01, "eps": 1e-3}, n_steps=8, dtype=torch.float32, seed=2),
        ]
    return ladder


def _adam_decay_ladder(thorough: bool) -> list[OptimizerConfig]:
    ladder = [
        OptimizerConfig("L2 weight decay", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3}, n_steps=5),
        OptimizerConfig("strong decay, other betas", {"lr": 0.02, "betas": (0.9, 0.99), "weight_decay": 0.5}, n_steps=5, seed=1),
    ]
    if thorough:
        ladder += [OptimizerConfig("float32 decay", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-3}, n_steps=8, dtype=torch.float32, seed=2)]
    return ladder


def check_adam_plain(Adam: type, *, thorough: bool = False) -> None:
    """Adam without weight decay matches torch.optim.Adam step by step (bias correction, t, eps, betas, defaults)."""
    with quiet():
        require_own_implementation(Adam, "Adam")
        require_signature(Adam, "Adam", ADAM_DEFAULTS)
        steps = compare_optimizer(Adam, reference_adam, _adam_plain_ladder(thorough), exercise="Adam",
                                  reference_name="torch.optim.Adam", mistakes=ADAM_MISTAKES, device=get_device())
    passed(f"Adam matches torch.optim.Adam: {len(_adam_plain_ladder(thorough))} configurations, {steps} steps.")


def check_adam_weight_decay(Adam: type, *, thorough: bool = False) -> None:
    """Adam's weight_decay is an L2 penalty added to the gradient, as in torch.optim.Adam."""
    with quiet():
        require_own_implementation(Adam, "Adam")
        steps = compare_optimizer(Adam, reference_adam, _adam_decay_ladder(thorough), exercise="Adam",
                                  reference_name="torch.optim.Adam", mistakes=ADAM_MISTAKES, device=get_device())
    passed(f"Adam's L2 weight decay matches torch.optim.Adam: {len(_adam_decay_ladder(thorough))} configurations, {steps} steps.")


ADAM_INVALID = [("lr", -0.1), ("eps", -1e-8), ("weight_decay", -0.1), ("betas", (1.0, 0.999)), ("betas", (0.9, 1.0)), ("betas", (-0.1, 0.999))]


def check_adam_contract(Adam: type, *, thorough: bool = False) -> None:
    """Adam behaves like a PyTorch optimizer (validation, in place, grad untouched, grad=None, odd tensors, state)."""
    with quiet():
        require_own_implementation(Adam, "Adam")
        checked = check_contract(Adam, exercise="Adam", stateful_hyperparams={"lr": 0.01, "weight_decay": 0.1, "eps": 1e-3},
                                 invalid_hyperparams=ADAM_INVALID, device=get_device(), thorough=thorough)
    passed("Adam behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_ema": (check_ema, ("ema_",)),
    "test_bias_correction": (check_bias_correction, ("bias_correction",)),
    "test_RMSprop_plain": (check_rmsprop_plain, ("RMSprop",)),
    "test_RMSprop_momentum": (check_rmsprop_momentum, ("RMSprop",)),
    "test_RMSprop_contract": (check_rmsprop_contract, ("RMSprop",)),
    "test_Adam_plain": (check_adam_plain, ("Adam",)),
    "test_Adam_weight_decay": (check_adam_weight_decay, ("Adam",)),
    "test_Adam_contract": (check_adam_contract, ("Adam",)),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
