"""Checks for the graded exercises of ``01_sgd``.

One function per graded test cell; its cases come from ``course_utils/specs/sgd.py`` (visible rows,
or all rows with ``thorough=True``) and its known mistakes from ``course_utils/mistakes/sgd.py``. Each prints one line when the answer is right and raises
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
test_SGD_nesterov               :func:`check_sgd_nesterov`             SGD
test_momentum_rate              :func:`check_momentum_rate`            momentum_rate
test_measured_contraction       :func:`check_measured_contraction`     measured_contraction
test_opt_fn                     :func:`check_opt_fn`                   opt_fn
test_challenge                  :func:`check_rosenbrock_challenge`     challenge_*
==============================  =====================================  ==================
"""

from __future__ import annotations

import cmath
import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch

from course_utils import harness
from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.generic import reference_builder
from course_utils.checks.guards import forbid_torch_optim, require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import PathCase, PathMistake, ascent, check_path_function, optimizer_path, path_cases, require_student_function
from course_utils.device import get_device
from course_utils.momentum import contraction_path, rate_arguments
from course_utils.mistakes import sgd as mistakes
from course_utils.specs import PathInput
from course_utils.specs import sgd as spec

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = [
    "SGD_DEFAULTS",
    "check_gradient_descent_by_hand",
    "check_sgd_epoch_by_hand",
    "check_opt_fn_with_sgd",
    "check_sgd_plain",
    "check_sgd_momentum",
    "check_sgd_contract",
    "check_sgd_nesterov",
    "check_momentum_rate",
    "check_measured_contraction",
    "check_opt_fn",
    "check_rosenbrock_challenge",
    "CELL_CHECKS",
]

SGD_DEFAULTS: Mapping[str, float] = spec.SGD_DEFAULTS


reference_sgd = reference_builder(EXERCISES["test_SGD_plain"])
"""torch.optim.SGD with the exercise's defaults and fixed options (from the spec)."""

reference_nesterov_sgd = reference_builder(EXERCISES["test_SGD_nesterov"])
"""torch.optim.SGD with dampening=0 and the Nesterov rows' own ``nesterov`` (from the spec)."""


SGD_MISTAKES = mistakes.NUMERIC
"""Variants of the reference SGD whose numbers the checks recognise, in the order they are tried."""


def check_sgd_plain(SGD: type, *, thorough: bool = False) -> None:
    """SGD without momentum (plain steps and weight decay) matches torch.optim.SGD on every parameter after every step."""
    with quiet():
        require_own_implementation(SGD, "SGD")
        require_signature(SGD, "SGD", SGD_DEFAULTS)
        rows = EXERCISES["test_SGD_plain"].rows(thorough)
        steps = compare_optimizer(SGD, reference_sgd, rows, exercise="SGD",
                                  reference_name="torch.optim.SGD", mistakes=SGD_MISTAKES, device=get_device())
    n = len(rows)
    passed(f"SGD without momentum matches torch.optim.SGD: {n} configurations, {steps} steps, every parameter after every step.")


def check_sgd_momentum(SGD: type, *, thorough: bool = False) -> None:
    """SGD with momentum (with and without weight decay) matches torch.optim.SGD step by step."""
    with quiet():
        require_own_implementation(SGD, "SGD")
        rows = EXERCISES["test_SGD_momentum"].rows(thorough)
        steps = compare_optimizer(SGD, reference_sgd, rows, exercise="SGD",
                                  reference_name="torch.optim.SGD", mistakes=SGD_MISTAKES, device=get_device())
    n = len(rows)
    passed(f"SGD with momentum matches torch.optim.SGD: {n} configurations, {steps} steps, every parameter after every step.")


def check_sgd_contract(SGD: type, *, thorough: bool = False) -> None:
    """SGD behaves like a PyTorch optimizer: validation, in place, grad untouched, grad=None, odd tensors, state."""
    contract = EXERCISES["test_SGD_contract"]
    with quiet():
        require_own_implementation(SGD, "SGD")
        checked = check_contract(
            SGD, exercise="SGD", stateful_hyperparams=contract.contract_kwargs, invalid_hyperparams=contract.errors,
            device=get_device(), thorough=thorough,
        )
    passed("SGD behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


def _require_rejected(SGD: type, exercise: Any, device: torch.device) -> None:
    """Every rejected-input row of ``exercise`` raises its error when SGD is built with it."""
    for row in exercise.error_rows(True):
        call = harness.format_call("SGD", row.kwargs)
        try:
            with forbid_torch_optim("SGD"):
                SGD([torch.zeros(2, dtype=torch.float64, device=device, requires_grad=True)], **row.kwargs)
        except row.error_type:
            continue
        except CheckFailed:
            raise
        except Exception as error:
            raise CheckFailed(
                f"{call} raised {type(error).__name__} ({error}); expected {row.error_type.__name__}: {row.desc}. "
                f"torch.optim.SGD raises ValueError here, before it stores anything."
            ) from None
        raise CheckFailed(
            f"{call} was accepted; expected {row.error_type.__name__}: {row.desc}. With momentum 0 there is no buffer "
            f"to look ahead along, so torch.optim.SGD refuses nesterov=True."
        )


def check_sgd_nesterov(SGD: type, *, thorough: bool = False) -> None:
    """SGD(..., nesterov=True) matches torch.optim.SGD(nesterov=True) step by step; nesterov without momentum is rejected."""
    exercise = EXERCISES["test_SGD_nesterov"]
    device = get_device()
    with quiet():
        require_own_implementation(SGD, "SGD")
        require_signature(SGD, "SGD", exercise.defaults)
        rows = exercise.rows(thorough)
        steps = compare_optimizer(SGD, reference_nesterov_sgd, rows, exercise="SGD",
                                  reference_name="torch.optim.SGD(nesterov=True)", mistakes=SGD_MISTAKES, device=device)
        _require_rejected(SGD, exercise, device)
    passed(f"SGD with nesterov=True matches torch.optim.SGD: {len(rows)} configurations, {steps} steps, every parameter "
           f"after every step; nesterov=True without momentum is rejected.")


# --- the rate of heavy-ball momentum on a quadratic ---------------------------------------------------


def heavy_ball_rate(eta: float, mu: float, eigenvalues: Any) -> float:
    """The checks' own rate: the roots of r**2 - (1 + mu - eta * lam) r + mu = 0 by the quadratic formula, largest modulus.

    Written independently of the reference solution (which takes the eigenvalues of the 2x2 matrix).
    """
    worst = 0.0
    for lam in [float(v) for v in eigenvalues]:
        trace = 1 + mu - eta * lam
        root = cmath.sqrt(trace * trace - 4 * mu)
        worst = max(worst, abs((trace + root) / 2), abs((trace - root) / 2))
    return worst


def _as_rate(value: Any, call: str) -> float:
    """The student's return value as a float, or a CheckFailed saying what it should be."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, complex) or (isinstance(value, torch.Tensor) and value.is_complex()):
        raise CheckFailed(f"{call} returned a complex number ({value}); the rate is the *modulus* of the roots, a real number (abs()).")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckFailed(f"{call} returned {type(value).__name__} ({value!r}); expected one number, the rate (a float).")
    return float(value)


def _rate_call(eta: float, mu: float, eigenvalues: Any) -> str:
    shown = eigenvalues.tolist() if isinstance(eigenvalues, torch.Tensor) else list(eigenvalues)
    kind = "a float64 tensor" if isinstance(eigenvalues, torch.Tensor) else "a tuple"
    return f"momentum_rate(eta={eta!r}, mu={mu!r}, eigenvalues={shown} as {kind})"


def check_momentum_rate(momentum_rate: Any, *, thorough: bool = False) -> None:
    """momentum_rate(eta, mu, eigenvalues) gives heavy-ball momentum's asymptotic rate per step on a quadratic."""
    require_student_function(momentum_rate, "momentum_rate")
    rows = EXERCISES["test_momentum_rate"].rows(thorough)
    tol = tolerance_for(torch.float64)
    with quiet():
        for row in rows:
            eta, mu, eigenvalues = rate_arguments(row)
            call = _rate_call(eta, mu, eigenvalues)
            try:
                with forbid_torch_optim("momentum_rate"):
                    got = _as_rate(momentum_rate(eta, mu, eigenvalues), call)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error("momentum_rate", f"in the case '{row.desc}': {call}", error) from None
            expected = heavy_ball_rate(eta, mu, eigenvalues)
            if math.isfinite(got) and abs(got - expected) <= tol.atol + tol.rtol * abs(expected):
                continue
            lines = [f"momentum_rate is wrong in the case '{row.desc}':", f"  {call}",
                     f"    expected: {expected:.12g}", f"    got:      {got:.12g}"]
            if mu == 0:
                lines.append("  With mu = 0 this is plain gradient descent: the rate is the largest |1 - lr * lambda|.")
            for variant in mistakes.RATE_NUMERIC:
                replay = variant().rate(eta, mu, eigenvalues)
                if abs(replay - got) <= tol.atol + tol.rtol * abs(replay):
                    lines += [f"  Your numbers match a known mistake: {variant.mistake}.", f"  Hint: {variant.hint}"]
                    break
            else:
                lines.append("  No known mistake matches: write the 2x2 matrix for this case by hand and compare its roots with yours.")
            raise CheckFailed("\n".join(lines))
    passed(f"momentum_rate gives heavy-ball momentum's rate: {len(rows)} cases, inside and outside the stable region.")


def _contraction(path: torch.Tensor, x_star: torch.Tensor) -> float:
    """The checks' own measurement: (d_(n-1) / d_h) ** (1 / (n - 1 - h)), h = n // 2, d_k = |path_k - x_star|."""
    n = path.shape[0]
    half = n // 2
    d_half = math.dist(path[half].tolist(), x_star.tolist())
    d_last = math.dist(path[n - 1].tolist(), x_star.tolist())
    return (d_last / d_half) ** (1 / (n - 1 - half))


def check_measured_contraction(measured_contraction: Any, *, thorough: bool = False) -> None:
    """measured_contraction(path, x_star) measures the contraction per step over the second half of the path."""
    require_student_function(measured_contraction, "measured_contraction")
    rows = EXERCISES["test_measured_contraction"].rows(thorough)
    tol = tolerance_for(torch.float64)
    device = get_device()
    with quiet():
        for row in rows:
            path, x_star = contraction_path(row, device)
            path_copy = path.clone()
            call = (f"measured_contraction(path, x_star) on a run of {row.n_iters} rows of SGD(lr={row.lr}, "
                    f"momentum={row.momentum}) on the quadratic bowl")
            try:
                with forbid_torch_optim("measured_contraction"):
                    got = _as_rate(measured_contraction(path, x_star), call)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error("measured_contraction", f"in the case '{row.desc}': {call}", error) from None
            if not tensors_equal(path, path_copy):
                raise CheckFailed(f"{call}\n  changed the path it was given. Measure it, do not modify it.")
            expected = _contraction(path, x_star)
            if math.isfinite(got) and abs(got - expected) <= tol.atol + tol.rtol * abs(expected):
                continue
            lines = [f"measured_contraction is wrong in the case '{row.desc}':", f"  {call}",
                     f"    expected: {expected:.12g}", f"    got:      {got:.12g}"]
            for variant in mistakes.CONTRACTION_NUMERIC:
                replay = variant().value(path, x_star)
                if abs(replay - got) <= tol.atol + tol.rtol * abs(replay):
                    lines += [f"  Your numbers match a known mistake: {variant.mistake}.", f"  Hint: {variant.hint}"]
                    break
            else:
                lines.append(f"  No known mistake matches: print d_k for k = {row.n_iters // 2} and k = {row.n_iters - 1} "
                             f"and redo the division and the root by hand.")
            raise CheckFailed("\n".join(lines))
    passed(f"measured_contraction measures the contraction per step: {len(rows)} heavy-ball runs on the bowl.")


# --- landscape paths ------------------------------------------------------------------------------------


def _gd(lr: float):
    return lambda ps: torch.optim.SGD(ps, lr=lr)


_PATH_AFTER = "rows hold the point after each step"
_PATH_AFTER_HINT = "Record the point before you step: row 0 must be the start, and the last step's result is not stored."
_NO_RESET = "gradients pile up across steps (grad never reset)"
_NO_RESET_HINT = "backward() adds to .grad. Reset it every iteration (xy.grad = None, or optimizer.zero_grad()) before backward()."


def _lr_of(case: PathCase | PathInput) -> float:
    """The learning rate of a call of gradient_descent_by_hand: by keyword, or the first positional argument."""
    return case.kwargs.get("lr", case.positional[0] if case.positional else None)


def _gd_mistakes() -> tuple[PathMistake, ...]:
    lr_of = _lr_of

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
    cases = path_cases(EXERCISES["test_gradient_descent_by_hand"], thorough, lambda row, kwargs: _gd(_lr_of(row)))
    with quiet():
        rows = check_path_function(gradient_descent_by_hand, cases, exercise="gradient_descent_by_hand",
                                   reference_name="plain gradient descent", mistakes=_gd_mistakes(),
                                   forbid_optim=True, device=get_device())
    passed(f"gradient_descent_by_hand follows gradient descent: {len(cases)} cases, {rows} rows.")


def _sgd_momentum(lr: float, momentum: float):
    return lambda ps: torch.optim.SGD(ps, lr=lr, momentum=momentum)


def _momentum_hyperparams(case: PathCase | PathInput) -> tuple[float, float]:
    """(lr, momentum) of a call of opt_fn_with_sgd, its defaults filled in from the spec."""
    defaults = EXERCISES["test_opt_fn_with_sgd"].defaults
    return case.kwargs.get("lr", defaults["lr"]), case.kwargs.get("momentum", defaults["momentum"])


def _momentum_mistakes() -> tuple[PathMistake, ...]:
    hp = _momentum_hyperparams

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
    cases = path_cases(EXERCISES["test_opt_fn_with_sgd"], thorough, lambda row, kwargs: _sgd_momentum(*_momentum_hyperparams(row)))
    with quiet():
        rows = check_path_function(opt_fn_with_sgd, cases, exercise="opt_fn_with_sgd", reference_name="torch.optim.SGD",
                                   mistakes=_momentum_mistakes(), device=get_device())
    passed(f"opt_fn_with_sgd follows torch.optim.SGD: {len(cases)} cases (defaults included), {rows} rows.")


def check_opt_fn(opt_fn: Any, *, thorough: bool = False) -> None:
    """opt_fn(fn, xy, optimizer_class, optimizer_hyperparams, n_iters=100) follows the given optimizer."""
    def given(row: PathInput, kwargs: Mapping[str, Any]):
        cls, hp = kwargs["optimizer_class"], kwargs["optimizer_hyperparams"]
        return lambda ps: cls(ps, **hp)

    cases = path_cases(EXERCISES["test_opt_fn"], thorough, given)
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
    sizes = EXERCISES["test_sgd_epoch_by_hand"].rows(thorough)
    with quiet():
        for row in sizes:
            n, d, batch_size, lr = row.n, row.d, row.batch_size, row.lr
            X, y, w0, b0 = harness.epoch_data(row, device)
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

CHALLENGE_TOLERANCE: float = EXERCISES["test_challenge"].limits["distance"]
CHALLENGE_MAX_ITERS: int = EXERCISES["test_challenge"].limits["max_iters"]


def check_rosenbrock_challenge(optimizer_class: Any, hyperparams: Any, n_iters: Any, *, thorough: bool = False) -> None:
    """The chosen optimizer reaches within 1e-2 of Rosenbrock's minimum (1, 1) from the landscape's start in <= 1000 steps."""
    from course_utils.landscapes import get_landscape

    if not inspect.isclass(optimizer_class):
        raise CheckFailed(f"challenge_optimizer_class must be a class (e.g. torch.optim.Adam or your SGD), got {optimizer_class!r}.")
    if not isinstance(hyperparams, Mapping):
        raise CheckFailed(f"challenge_hyperparams must be a dict of keyword arguments, got {type(hyperparams).__name__}.")
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or not 1 <= n_iters <= CHALLENGE_MAX_ITERS:
        raise CheckFailed(f"challenge_n_iters must be an int from 1 to {CHALLENGE_MAX_ITERS}, got {n_iters!r}.")
    landscape = get_landscape(EXERCISES["test_challenge"].limits["landscape"])
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

_CHECKS: dict[str, Any] = {
    "test_gradient_descent_by_hand": check_gradient_descent_by_hand,
    "test_sgd_epoch_by_hand": check_sgd_epoch_by_hand,
    "test_opt_fn_with_sgd": check_opt_fn_with_sgd,
    "test_SGD_plain": check_sgd_plain,
    "test_SGD_momentum": check_sgd_momentum,
    "test_SGD_contract": check_sgd_contract,
    "test_SGD_nesterov": check_sgd_nesterov,
    "test_momentum_rate": check_momentum_rate,
    "test_measured_contraction": check_measured_contraction,
    "test_opt_fn": check_opt_fn,
    "test_challenge": check_rosenbrock_challenge,
}

CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {cell: (check, EXERCISES[cell].names) for cell, check in _CHECKS.items() if cell in EXERCISES}
"""Test cell grade_id -> (check, the notebook names it is called with, in order; from the spec)."""
