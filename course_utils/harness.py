"""Builds the inputs a spec row describes, runs the code under test on them, and measures what comes out.

One harness for the student-facing checks (``course_utils/checks/``) and the re-check's probes
(``course_utils/grading/recheck/probes/``): both read the rows of ``course_utils/specs/`` and hand them
here. It lives outside ``course_utils.checks`` and ``course_utils.grading`` because the hardened re-check
process hides those packages, and it holds no expected value and no reference formula.

Seeds: every draw comes from a :data:`Seeds` callable, ``seeds(tag) -> torch.Generator``. The checks use
:func:`fixed_seeds` (the same numbers every run, so a message can be reproduced); the re-check passes
its recorder's ``generator`` (drawn from the grading run's seed, the same in the student's and the
reference's process).

- parameters: ``row.shapes`` tensors of ``row.dtype`` drawn from ``seeds(row.seed)``;
- gradients: at every step ``grad = c * p + noise_t`` for each parameter ``p`` (a noisy diagonal
  quadratic, ``c`` and ``noise`` drawn from ``seeds(10_000 + row.seed)``), computed from that run's
  *current* parameter, so a wrong step changes every later gradient too, and assigned as a fresh
  tensor (``p.grad = ...``) before each ``step()``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from course_utils.specs import EpochInput, OptimizerInput, PathInput

__all__ = [
    "Seeds",
    "Snapshots",
    "fixed_seeds",
    "make_params",
    "gradient_terms",
    "set_gradients",
    "run_optimizer",
    "format_call",
    "describe_row",
    "optimizer_path",
    "path_start",
    "path_n_iters",
    "path_call_kwargs",
    "grader_optimizer",
    "SignDescent",
    "HeavyBall",
    "epoch_data",
    "random_tensors",
    "signature_problem",
]

Seeds = Callable[[int], torch.Generator]
Snapshots = list[list[torch.Tensor]]  # snapshots[step][param_index], taken after each step


def fixed_seeds(tag: int) -> torch.Generator:
    """A CPU generator seeded with ``tag`` itself (the checks' seeds)."""
    return torch.Generator().manual_seed(tag)


# --- optimizers on a noisy quadratic ----------------------------------------------------------------------


def make_params(row: OptimizerInput, device: torch.device, seeds: Seeds = fixed_seeds) -> list[torch.Tensor]:
    """Fresh leaf tensors (``requires_grad=True``) of ``row.shapes``, drawn from ``seeds(row.seed)``."""
    gen = seeds(row.seed)
    return [torch.randn(shape, generator=gen, dtype=row.dtype).to(device).requires_grad_(True) for shape in row.shapes]


def gradient_terms(row: OptimizerInput, device: torch.device, seeds: Seeds = fixed_seeds) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """(curvature per parameter, noise[step][parameter]) of the row's gradients."""
    gen = seeds(10_000 + row.seed)
    curvature = [(0.5 + 1.5 * torch.rand(s, generator=gen, dtype=row.dtype)).to(device) for s in row.shapes]
    noise = [[(0.3 * torch.randn(s, generator=gen, dtype=row.dtype)).to(device) for s in row.shapes] for _ in range(row.steps)]
    return curvature, noise


def set_gradients(params: Sequence[torch.Tensor], curvature: Sequence[torch.Tensor], noise: Sequence[torch.Tensor]) -> None:
    """Give each parameter a fresh gradient ``c * p + noise`` from its current value (one step of the recipe)."""
    with torch.no_grad():
        for p, c, n in zip(params, curvature, noise):
            p.grad = c * p.detach() + n


def run_optimizer(
    make_optimizer: Callable[[list[torch.Tensor]], Any],
    row: OptimizerInput,
    device: torch.device,
    *,
    seeds: Seeds = fixed_seeds,
    params: list[torch.Tensor] | None = None,
    on_step: Callable[[int, list[torch.Tensor]], None] | None = None,
) -> Snapshots:
    """Step ``make_optimizer(params)`` ``row.steps`` times; the parameters after each step.

    ``on_step(step, params)`` (step counted from 1) sees them as they are right after each step, so a
    probe records the steps that happened before a crash.
    """
    params = make_params(row, device, seeds) if params is None else params
    curvature, noise = gradient_terms(row, device, seeds)
    optimizer = make_optimizer(params)
    snapshots: Snapshots = []
    for step in range(row.steps):
        set_gradients(params, curvature, noise[step])
        optimizer.step()
        snapshots.append([p.detach().clone() for p in params])
        if on_step is not None:
            on_step(step + 1, params)
    return snapshots


def format_call(class_name: str, kwargs: Mapping[str, Any]) -> str:
    """``"SGD(params, lr=0.1, momentum=0.9)"``; the class's defaults when ``kwargs`` is empty."""
    if not kwargs:
        return f"{class_name}(params) with its default hyper-parameters"
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{class_name}(params, {args})"


def describe_row(class_name: str, row: OptimizerInput, device: torch.device) -> str:
    """The row in words: the call, dtype and device, the parameters' shapes and the number of steps."""
    shapes = ", ".join(str(tuple(s)) for s in row.shapes)
    dtype = str(row.dtype).replace("torch.", "")
    return (
        f"{format_call(class_name, row.kwargs)}, {dtype} on {device.type}, "
        f"{len(row.shapes)} parameter{'s' if len(row.shapes) != 1 else ''} of shape {shapes}, "
        f"{row.steps} step{'s' if row.steps != 1 else ''}"
    )


def signature_problem(cls: Any, exercise: str, defaults: Mapping[str, Any]) -> str | None:
    """What is wrong with the constructor's signature against the exercise's ``defaults``; None when nothing is.

    It must take every hyper-parameter of ``defaults``, and those it gives a default must have that
    default. A signature Python cannot read is not judged (None).
    """
    expected = f"{exercise}(params, " + ", ".join(f"{k}={v!r}" for k, v in defaults.items()) + ")"
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    for name, default in defaults.items():
        if name not in parameters:
            return f"{exercise}'s constructor has no argument '{name}'. Expected {expected}."
        given = parameters[name].default
        if given is inspect.Parameter.empty:
            continue
        numbers = isinstance(given, (int, float)) and isinstance(default, (int, float))
        same = math.isclose(given, default) if numbers else given == default
        if not same:
            return f"{exercise}'s default {name} is {given!r}; expected {default!r}, as in torch.optim. Expected {expected}."
    return None


def random_tensors(shapes: Sequence[tuple[int, ...]], dtype: torch.dtype, device: torch.device, seeds: Seeds, tag: int) -> list[torch.Tensor]:
    """Tensors of ``shapes`` drawn one after the other from ``seeds(tag)`` (inputs of a function under test)."""
    gen = seeds(tag)
    return [torch.randn(shape, generator=gen, dtype=dtype).to(device) for shape in shapes]


# --- paths on a 2-D landscape -----------------------------------------------------------------------------

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MakeOptimizer = Callable[[list[torch.Tensor]], Any]


def optimizer_path(fn: Fn, start: torch.Tensor, make_optimizer: MakeOptimizer, n_iters: int, *,
                   reset_grad: bool = True, record_after: bool = False) -> torch.Tensor:
    """The points visited by ``make_optimizer([xy])`` minimising ``fn`` from ``start``; shape ``(n_iters, 2)``.

    Row ``k`` is the point before step ``k``; row 0 is the start. ``reset_grad=False`` lets gradients pile
    up across steps and ``record_after=True`` stores the point after each step: both replay mistakes.
    """
    xy = start.detach().clone().requires_grad_(True)
    optimizer = make_optimizer([xy])
    rows = []
    for _ in range(n_iters):
        if not record_after:
            rows.append(xy.detach().clone())
        if reset_grad:
            xy.grad = None
        fn(xy[0], xy[1]).backward()
        optimizer.step()
        if record_after:
            rows.append(xy.detach().clone())
    return torch.stack(rows)


def path_start(row: PathInput, device: torch.device, seeds: Seeds | None = None, tag: int = 0) -> torch.Tensor:
    """The row's start as a float64 tensor; with ``seeds``, moved by up to ``row.jitter`` drawn from ``seeds(100 + tag)``."""
    start = torch.tensor(row.start, dtype=torch.float64)
    if seeds is not None:
        start = start + (torch.rand(2, generator=seeds(100 + tag), dtype=torch.float64) * 2 - 1) * row.jitter
    return start.to(device)


def path_n_iters(row: PathInput, defaults: Mapping[str, Any]) -> int:
    """How many rows the call must return: its ``n_iters``, or the exercise's default."""
    return int(row.kwargs.get("n_iters", defaults.get("n_iters", 100)))


def path_call_kwargs(row: PathInput) -> dict[str, Any]:
    """The keyword arguments of the call, with an ``optimizer_class`` name resolved to its class."""
    kwargs = dict(row.kwargs)
    if "optimizer_class" in kwargs:
        kwargs["optimizer_class"] = grader_optimizer(kwargs["optimizer_class"])
    return kwargs


class SignDescent:
    """A tiny optimizer defined by the grader, so a function that takes an optimizer class is tried on one that is not torch's."""

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


class HeavyBall:
    """Heavy-ball momentum (PyTorch's form), defined by the grader so it runs where torch.optim is locked."""

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


_GRADER_OPTIMIZERS: dict[str, type] = {"SignDescent": SignDescent, "HeavyBall": HeavyBall}
_TORCH_OPTIM = torch.optim  # bound now: the re-check later replaces torch.optim's classes, not this module object


def grader_optimizer(name: str | type) -> type:
    """The class a spec names: ``"torch.optim.Adam"`` or one of the harness's (``"HeavyBall"``, ``"SignDescent"``)."""
    if isinstance(name, type):
        return name
    if name.startswith("torch.optim."):
        return getattr(_TORCH_OPTIM, name.rsplit(".", 1)[-1])
    return _GRADER_OPTIMIZERS[name]


# --- minibatch SGD by hand ----------------------------------------------------------------------------------


def epoch_data(row: EpochInput, device: torch.device, seeds: Seeds = fixed_seeds) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X, y, w, b)`` for one epoch on linear regression, float64, drawn from ``seeds(row.seed)``."""
    gen = seeds(row.seed)
    X = torch.randn(row.n, row.d, generator=gen, dtype=torch.float64).to(device)
    y = torch.randn(row.n, generator=gen, dtype=torch.float64).to(device)
    w = torch.randn(row.d, generator=gen, dtype=torch.float64).to(device)
    b = torch.randn((), generator=gen, dtype=torch.float64).to(device)
    return X, y, w, b
