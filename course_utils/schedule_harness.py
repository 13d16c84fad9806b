"""Runs learning-rate schedules on the rows of ``course_utils/specs/schedulers.py`` and records what they set.

The schedules' part of the course's harness (``course_utils/harness.py`` holds the optimizers' part), for
the student-facing checks (``course_utils/checks/schedulers.py``) and the re-check's probes
(``course_utils/grading/recheck/probes/schedulers.py``) alike. It lives outside ``course_utils.checks``
and ``course_utils.grading`` because the re-check process hides those packages, and it holds no
expected value.

- :func:`run_schedule`: a scheduler built on a target optimizer, stepped ``row.steps`` times; each
  group's ``lr``, ``get_last_lr()`` and ``last_epoch`` at construction and after every ``step()``;
- the targets a scheduler must drive: a ``torch.optim.Optimizer`` subclass written here
  (:class:`PlainStep`) and :class:`GroupsOnly`, an object with nothing but ``param_groups``;
- the torch-free optimizers and schedulers an opt_fn_with_scheduler row may name
  (:data:`GRADER_CLASSES`), and :class:`Scheduled`, an optimizer stepped together with its scheduler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.harness import Seeds
from course_utils.specs import PathInput
from course_utils.specs.schedulers import ScheduleInput

__all__ = [
    "GroupsOnly", "PlainStep", "TARGETS", "ScheduleRun", "run_schedule", "base_lrs", "fresh_kwargs", "describe_schedule",
    "GroupHeavyBall", "GroupSignDescent", "FactorSchedule", "Halving", "Shrinking", "Sawtooth", "GRADER_CLASSES",
    "resolve_class", "resolved_call", "needs_torch_optim", "Scheduled",
]


# --- the optimizers a scheduler drives ------------------------------------------------------------------


class GroupsOnly:
    """The least an optimizer can be for a scheduler: a list of parameter groups holding ``lr``."""

    def __init__(self, lrs: Sequence[float]) -> None:
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]


class PlainStep(torch.optim.Optimizer):
    """A plain gradient step written on torch.optim.Optimizer (the base class), one group per base rate."""

    def __init__(self, lrs: Sequence[float]) -> None:
        super().__init__([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], {"lr": lrs[0]})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])
        return None


TARGETS: tuple[tuple[str, Callable[[Sequence[float]], Any]], ...] = (
    ("a torch.optim.Optimizer subclass", PlainStep),
    ("an object with only param_groups", GroupsOnly),
)
"""(name in words, builder from the groups' rates): every scheduler is run on both."""


# --- running a schedule ---------------------------------------------------------------------------------


@dataclass
class ScheduleRun:
    """What a scheduler set: one entry at construction, then one after every ``step()``."""

    lrs: list[list[float]] = field(default_factory=list)  # each group's lr
    last: list[list[float]] = field(default_factory=list)  # get_last_lr()
    epochs: list[int] = field(default_factory=list)  # last_epoch


def base_lrs(row: ScheduleInput, seeds: Seeds | None = None) -> list[float]:
    """The row's base rates; with ``seeds``, each scaled by a factor in [0.5, 1.5) drawn from ``seeds(row.seed)``."""
    if seeds is None:
        return list(row.base_lrs)
    scale = 0.5 + torch.rand(len(row.base_lrs), generator=seeds(row.seed), dtype=torch.float64)
    return [round(b * float(s), 6) for b, s in zip(row.base_lrs, scale)]


def fresh_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments with fresh copies of lists, so one call cannot change what the next one gets."""
    return {k: list(v) if type(v) is list else v for k, v in kwargs.items()}


def describe_schedule(name: str, row: ScheduleInput, lrs: Sequence[float]) -> str:
    """``StepLR(optimizer, step_size=3, gamma=0.5) on two groups with base lrs [0.1, 0.02], 10 steps``."""
    args = "".join(f", {k}={v!r}" for k, v in row.kwargs.items())
    return f"{name}(optimizer{args}) on two groups with base lrs {list(lrs)}, {row.steps} steps"


def run_schedule(make_scheduler: Callable[..., Any], target: Any, row: ScheduleInput, *,
                 stepper: Callable[[], None] | None = None, on_record: Callable[[int, ScheduleRun], None] | None = None) -> ScheduleRun:
    """Build ``make_scheduler(target, **row.kwargs)`` and step it ``row.steps`` times, recording what it set.

    ``stepper`` runs before every ``scheduler.step()`` (``optimizer.step()``, as in a training loop).
    ``on_record(index, run)`` sees the run after each entry (0: construction), so a probe records what
    happened before a crash.
    """
    run = ScheduleRun()
    scheduler = make_scheduler(target, **fresh_kwargs(row.kwargs))

    def snap(index: int) -> None:
        run.lrs.append([float(g["lr"]) for g in target.param_groups])
        run.last.append([float(v) for v in scheduler.get_last_lr()])
        run.epochs.append(int(scheduler.last_epoch))
        if on_record is not None:
            on_record(index, run)

    snap(0)
    for step in range(row.steps):
        if stepper is not None:
            stepper()
        scheduler.step()
        snap(step + 1)
    return run


# --- torch-free optimizers and schedulers for opt_fn_with_scheduler -------------------------------------


class GroupHeavyBall:
    """Heavy-ball momentum (torch.optim.SGD's form) that reads each group's lr at every step; no torch.optim needed."""

    def __init__(self, params: Any, lr: float = 0.01, momentum: float = 0.0) -> None:
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.buffers: dict[int, torch.Tensor] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in (p for group in self.param_groups for p in group["params"]):
            p.grad = None

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.buffers.get(id(p))
                buf = p.grad.clone() if buf is None else buf.mul_(group["momentum"]).add_(p.grad)
                self.buffers[id(p)] = buf
                p.sub_(buf, alpha=group["lr"])
        return None


class GroupSignDescent(GroupHeavyBall):
    """Steps of size lr against the sign of the gradient (lr read from the group at every step)."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(torch.sign(p.grad), alpha=group["lr"])
        return None


class FactorSchedule:
    """A scheduler written by the grader: sets every group's lr to its first lr times ``factor(last_epoch)``."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def factor(self, t: int) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * self.factor(self.last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class Halving(FactorSchedule):
    """Halves the rate every ``every`` steps."""

    def __init__(self, optimizer: Any, every: int) -> None:
        self.every = every
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return 0.5 ** (t // self.every)


class Shrinking(FactorSchedule):
    """Multiplies the rate by ``ratio`` at every step."""

    def __init__(self, optimizer: Any, ratio: float) -> None:
        self.ratio = ratio
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return self.ratio ** t


class Sawtooth(FactorSchedule):
    """Falls linearly from 1 to ``low`` over ``period`` steps, then starts again."""

    def __init__(self, optimizer: Any, period: int, low: float = 0.1) -> None:
        self.period, self.low = period, low
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return 1 - (1 - self.low) * (t % self.period) / self.period


GRADER_CLASSES: Mapping[str, type] = {cls.__name__: cls for cls in (GroupHeavyBall, GroupSignDescent, Halving, Shrinking, Sawtooth)}
"""The torch-free classes a row may name; the re-check runs only rows made of these."""

_TORCH_OPTIM = torch.optim  # bound now: the re-check later replaces torch.optim's classes, not these module objects
_TORCH_SCHEDULERS = torch.optim.lr_scheduler
_CLASS_KEYS = ("optimizer_class", "scheduler_class")


def resolve_class(name: str | type) -> type:
    """The class a row names: ``"torch.optim.SGD"``, ``"torch.optim.lr_scheduler.StepLR"`` or one of :data:`GRADER_CLASSES`."""
    if isinstance(name, type):
        return name
    if name.startswith("torch.optim.lr_scheduler."):
        return getattr(_TORCH_SCHEDULERS, name.rsplit(".", 1)[-1])
    if name.startswith("torch.optim."):
        return getattr(_TORCH_OPTIM, name.rsplit(".", 1)[-1])
    return GRADER_CLASSES[name]


def needs_torch_optim(row: PathInput) -> bool:
    """Whether the row hands the function under test one of torch.optim's optimizers or schedulers."""
    return any(str(row.kwargs.get(key, "")).startswith("torch.optim.") for key in _CLASS_KEYS)


def resolved_call(row: PathInput) -> PathInput:
    """The row with its class names replaced by the classes (the optimizer's and the scheduler's)."""
    kwargs = dict(row.kwargs)
    for key in _CLASS_KEYS:
        if key in kwargs:
            kwargs[key] = resolve_class(kwargs[key])
    return dataclasses.replace(row, kwargs=kwargs)


class Scheduled:
    """One iteration of a training loop with a schedule: ``optimizer.step()``, then ``scheduler.step()``.

    Built from an opt_fn_with_scheduler call's (resolved) keyword arguments; the reference the check
    compares a path with. Known mistakes (``course_utils/mistakes/schedulers.py``) override :meth:`step`.
    """

    mistake = ""
    hint = ""

    def __init__(self, params: list[torch.Tensor], call: Mapping[str, Any]) -> None:
        self.optimizer = call["optimizer_class"](params, **call["optimizer_hyperparams"])
        self.scheduler = call["scheduler_class"](self.optimizer, **call["scheduler_hyperparams"])

    def step(self) -> None:
        self.optimizer.step()
        self.scheduler.step()
