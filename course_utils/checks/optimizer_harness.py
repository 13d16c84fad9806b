"""Run a student's optimizer and a reference side by side and explain the first difference.

The harness owns the parameters and the gradients, so both optimizers see exactly the same inputs:

- parameters: several tensors of different shapes, drawn from a seeded generator;
- gradients: at every step ``grad = c * p + noise_t`` for each parameter ``p`` (a noisy diagonal
  quadratic), computed from that run's *current* parameter, so a wrong step changes every later
  gradient too, and assigned as a fresh tensor (``p.grad = ...``) before each ``step()``.

Every parameter is compared after every step. When they differ, each :class:`KnownMistake` is run on
the same configuration, and a mistake whose parameters match the student's is named with its hint.
"""

from __future__ import annotations

import inspect
import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, tolerance_for
from course_utils.checks.guards import forbid_torch_optim

__all__ = [
    "OptimizerConfig",
    "KnownMistake",
    "RuleOptimizer",
    "make_params",
    "run_optimizer",
    "compare_optimizer",
    "format_call",
    "student_error",
    "require_signature",
]

Snapshots = list[list[torch.Tensor]]  # snapshots[step][param_index], taken after each step


@dataclass(frozen=True)
class OptimizerConfig:
    """One rung of a configuration ladder."""

    label: str
    hyperparams: Mapping[str, Any] = field(default_factory=dict)  # keyword arguments; {} means defaults
    n_steps: int = 5
    shapes: tuple[tuple[int, ...], ...] = ((3,), (2, 4), (4, 1, 2))
    dtype: torch.dtype = torch.float64
    seed: int = 0

    def describe(self, class_name: str, device: torch.device) -> str:
        shapes = ", ".join(str(tuple(s)) for s in self.shapes)
        dtype = str(self.dtype).replace("torch.", "")
        return (
            f"{format_call(class_name, self.hyperparams)}, {dtype} on {device.type}, "
            f"{len(self.shapes)} parameter{'s' if len(self.shapes) != 1 else ''} of shape {shapes}, "
            f"{self.n_steps} step{'s' if self.n_steps != 1 else ''}"
        )


Rule = Callable[[torch.Tensor, torch.Tensor, dict, Mapping[str, Any]], None]


@dataclass(frozen=True)
class KnownMistake:
    """A plausible wrong version of the algorithm, written as a per-parameter update rule.

    ``rule(p, grad, state, hyperparams)`` updates ``p`` in place (it runs under ``torch.no_grad``);
    ``defaults`` fills the hyperparameters a configuration leaves out.
    """

    name: str
    hint: str
    rule: Rule
    defaults: Mapping[str, Any]


class RuleOptimizer:
    """Minimal optimizer that applies a per-parameter rule; used to replay known mistakes."""

    def __init__(self, params: Sequence[torch.Tensor], rule: Rule, hyperparams: Mapping[str, Any]) -> None:
        self.params = list(params)
        self.rule = rule
        self.hyperparams = dict(hyperparams)
        self.state: dict[torch.Tensor, dict] = {}

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                self.rule(p, p.grad, self.state.setdefault(p, {}), self.hyperparams)


def format_call(class_name: str, hyperparams: Mapping[str, Any]) -> str:
    """``"SGD(lr=0.1, momentum=0.9)"``; ``"SGD(params)"`` with defaults only."""
    if not hyperparams:
        return f"{class_name}(params) with its default hyper-parameters"
    args = ", ".join(f"{k}={v!r}" for k, v in hyperparams.items())
    return f"{class_name}(params, {args})"


def make_params(config: OptimizerConfig, device: torch.device) -> list[torch.Tensor]:
    """Fresh leaf tensors (``requires_grad=True``) of ``config.shapes``, seeded by ``config.seed``."""
    gen = torch.Generator().manual_seed(config.seed)
    return [
        torch.randn(shape, generator=gen, dtype=config.dtype).to(device).requires_grad_(True)
        for shape in config.shapes
    ]


def _gradient_terms(config: OptimizerConfig, device: torch.device) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    gen = torch.Generator().manual_seed(10_000 + config.seed)
    curvature = [(0.5 + 1.5 * torch.rand(s, generator=gen, dtype=config.dtype)).to(device) for s in config.shapes]
    noise = [
        [(0.3 * torch.randn(s, generator=gen, dtype=config.dtype)).to(device) for s in config.shapes]
        for _ in range(config.n_steps)
    ]
    return curvature, noise


_COURSE_PACKAGE = str(Path(__file__).resolve().parents[1])


def _student_frames(error: BaseException, limit: int = 3) -> list[traceback.FrameSummary]:
    """The last ``limit`` frames of ``error``'s traceback that are not the course's own code.

    The checks call the student's code, so a traceback starts in ``course_utils``; those frames (with the
    machine's paths and the check's internals) say nothing to the student and are dropped.
    """
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_COURSE_PACKAGE)]
    return frames[-limit:]


def student_error(exercise: str, what: str, error: BaseException) -> CheckFailed:
    """A CheckFailed that reports an exception raised by the student's code, with its last own frames."""
    if type(error) is NotImplementedError:
        return CheckFailed(f"{exercise} is not written yet: it still raises NotImplementedError. Replace "
                           "`raise NotImplementedError()` in its cell with your code, run that cell, then this check.")
    frames = _student_frames(error)
    where = "".join(traceback.format_list(frames)).rstrip() if frames else "  (inside the course's check: see the message above)"
    return CheckFailed(f"{exercise} raised {type(error).__name__} {what}:\n  {error}\n\nWhere it happened:\n{where}")


def run_optimizer(
    make_optimizer: Callable[[list[torch.Tensor]], Any],
    config: OptimizerConfig,
    device: torch.device,
    *,
    params: list[torch.Tensor] | None = None,
) -> Snapshots:
    """Step ``make_optimizer(params)`` for ``config.n_steps`` steps and return the parameters after each step."""
    params = make_params(config, device) if params is None else params
    curvature, noise = _gradient_terms(config, device)
    optimizer = make_optimizer(params)
    snapshots: Snapshots = []
    for step in range(config.n_steps):
        with torch.no_grad():
            for p, c, n in zip(params, curvature, noise[step]):
                p.grad = c * p.detach() + n
        optimizer.step()
        snapshots.append([p.detach().clone() for p in params])
    return snapshots


def _first_difference(
    expected: Snapshots, got: Snapshots, dtype: torch.dtype
) -> tuple[int, int, tuple[int, ...]] | None:
    tol = tolerance_for(dtype)
    for step, (exp_step, got_step) in enumerate(zip(expected, got)):
        for index, (e, g) in enumerate(zip(exp_step, got_step)):
            if e.shape != g.shape:
                return step, index, ()
            where = first_mismatch(e, g, tol)
            if where is not None:
                return step, index, where
    return None


def _matching_mistake(
    mistakes: Sequence[KnownMistake], config: OptimizerConfig, got: Snapshots, device: torch.device
) -> KnownMistake | None:
    for mistake in mistakes:
        hyperparams = {**mistake.defaults, **config.hyperparams}
        replay = run_optimizer(lambda ps: RuleOptimizer(ps, mistake.rule, hyperparams), config, device)
        if _first_difference(replay, got, config.dtype) is None:
            return mistake
    return None


def compare_optimizer(
    student_class: type,
    reference: Callable[..., Any],
    configs: Sequence[OptimizerConfig],
    *,
    exercise: str,
    reference_name: str,
    mistakes: Sequence[KnownMistake] = (),
    device: torch.device,
) -> int:
    """Compare ``student_class`` with ``reference`` on every configuration; raise CheckFailed at the first difference.

    ``reference(params, **hyperparams)`` builds the reference optimizer; the student's class is built the
    same way with torch.optim made unusable. Returns the number of steps compared.
    """
    class_name = getattr(student_class, "__name__", exercise)
    compared = 0
    for config in configs:
        where = config.describe(class_name, device)
        expected = run_optimizer(lambda ps: reference(ps, **config.hyperparams), config, device)
        try:
            with forbid_torch_optim(exercise):
                got = run_optimizer(lambda ps: student_class(ps, **config.hyperparams), config, device)
        except CheckFailed:
            raise
        except Exception as error:  # the student's code crashed
            raise student_error(exercise, f"in the configuration '{config.label}': {where}", error) from None
        difference = _first_difference(expected, got, config.dtype)
        if difference is None:
            compared += config.n_steps
            continue
        step, index, element = difference
        e, g = expected[step][index], got[step][index]
        lines = [
            f"{exercise} does not match {reference_name} in the configuration '{config.label}':",
            f"  {where}.",
            f"  First difference after step {step + 1} of {config.n_steps}, parameter {index} "
            f"(shape {tuple(e.shape)}):",
        ]
        if e.shape != g.shape:
            lines.append(f"    the parameter's shape changed to {tuple(g.shape)}")
        else:
            lines.append(describe_mismatch(e, g, element, tolerance_for(config.dtype)))
        if step > 0:
            lines.append(
                f"  Every parameter matched after {'step 1' if step == 1 else f'steps 1 to {step}'}, so the "
                "first update is right and something carried from one step to the next is not."
            )
        mistake = _matching_mistake(mistakes, config, got, device)
        if mistake is not None:
            lines += [f"  Your numbers match a known mistake: {mistake.name}.", f"  Hint: {mistake.hint}"]
        else:
            lines.append(
                "  No known mistake matches these numbers: work through one step by hand with these "
                "hyper-parameters and compare it with your code line by line."
            )
        raise CheckFailed("\n".join(lines))
    return compared


def require_signature(student_class: type, exercise: str, defaults: Mapping[str, Any]) -> None:
    """The constructor takes ``params`` and every hyper-parameter of ``defaults``, with those defaults."""
    expected = f"{exercise}(params, " + ", ".join(f"{k}={v!r}" for k, v in defaults.items()) + ")"
    try:
        parameters = inspect.signature(student_class).parameters
    except (TypeError, ValueError):
        return
    for name, default in defaults.items():
        if name not in parameters:
            raise CheckFailed(f"{exercise}'s constructor has no argument '{name}'. Expected {expected}.")
        given = parameters[name].default
        if given is inspect.Parameter.empty:
            continue
        same = (
            math.isclose(given, default)
            if isinstance(given, (int, float)) and isinstance(default, (int, float))
            else given == default
        )
        if not same:
            raise CheckFailed(f"{exercise}'s default {name} is {given!r}; expected {default!r}, as in torch.optim. Expected {expected}.")
