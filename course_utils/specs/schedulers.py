"""The graded exercises of ``05_schedulers``: five schedulers, warmup_cosine, and an optimizer stepped with its scheduler.

Each scheduler row drives two parameter groups with the row's ``base_lrs`` (the re-check scales each by
a factor in [0.5, 1.5) drawn from its seed) for ``steps`` steps; what is recorded at construction and
after every ``step()`` is written in ``course_utils/schedule_harness.py``. The opt_fn_with_scheduler
rows name their optimizer and scheduler classes: ``"torch.optim.SGD"``,
``"torch.optim.lr_scheduler.StepLR"``, or one of the grader's own torch-free classes
(``course_utils.schedule_harness.GRADER_CLASSES``), which the re-check uses where torch.optim is locked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from course_utils.specs import ExerciseSpec, PathInput, exercises

ASSIGNMENT = "05_schedulers"

BASE_LRS: tuple[float, ...] = (0.1, 0.02)


@dataclass(frozen=True)
class ScheduleInput:
    """``Scheduler(optimizer, **kwargs)`` on two groups with ``base_lrs``, stepped ``steps`` times."""

    desc: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 5
    base_lrs: tuple[float, ...] = BASE_LRS
    seed: int = 0
    hidden: bool = False


@dataclass(frozen=True)
class ScheduleErrorInput:
    """``Scheduler(optimizer, **kwargs)`` that must raise ``error_type`` when it is built (on two groups with ``BASE_LRS``).

    ``about``: the argument whose value breaks ``rule`` (what the chapter's text, or torch.optim.lr_scheduler,
    asks of it: a sentence); the other arguments of ``kwargs`` are valid, so the error raised is the row's.
    """

    kwargs: Mapping[str, Any]
    about: str
    rule: str
    error_type: type[BaseException] = ValueError
    hidden: bool = False

    @property
    def desc(self) -> str:
        return f"an invalid {self.about}"

    def call(self, name: str) -> str:
        """``StepLR(optimizer, step_size=0)``: the call the row makes."""
        return f"{name}(optimizer" + "".join(f", {k}={v!r}" for k, v in self.kwargs.items()) + ")"


_GAMMA = "gamma must be positive"
_POSITIVE = "{} must be a positive integer"
_START = "start_factor must lie in (0, 1], as torch.optim.lr_scheduler.LinearLR requires"
_END = "end_factor must lie in [0, 1], as torch.optim.lr_scheduler.LinearLR requires"
_WARMUP = "warmup_steps must satisfy 0 <= warmup_steps < total_steps"


def _rejects(about: str, rule: str, hidden: bool = False, **kwargs: Any) -> ScheduleErrorInput:
    return ScheduleErrorInput(kwargs, about, rule, hidden=hidden)


def _scheduled(desc: str, landscape: str, start: tuple[float, float], optimizer: str, optimizer_hyperparams: Mapping[str, Any],
               scheduler: str, scheduler_hyperparams: Mapping[str, Any], n_iters: int | None, *, hidden: bool = False) -> PathInput:
    kwargs = {"optimizer_class": optimizer, "optimizer_hyperparams": dict(optimizer_hyperparams),
              "scheduler_class": scheduler, "scheduler_hyperparams": dict(scheduler_hyperparams),
              **({"n_iters": n_iters} if n_iters is not None else {})}
    return PathInput(desc, landscape, start, kwargs, hidden=hidden)


def _scheduler_spec(name: str, defaults: Mapping[str, Any], cases: tuple[ScheduleInput, ...],
                    errors: tuple[ScheduleErrorInput, ...]) -> ExerciseSpec:
    return ExerciseSpec(f"test_{name}", (name,), f"{name}'s group rates, get_last_lr() and last_epoch after every step of "
                        f"{len(cases)} cases, random base rates; {len(errors)} invalid arguments rejected", kind="schedule",
                        defaults=defaults, cases=cases, errors=errors)


_LR = "torch.optim.lr_scheduler."

EXERCISES = exercises(
    _scheduler_spec("ExponentialLR", {}, (
        ScheduleInput("gamma 0.9", {"gamma": 0.9}, 6, seed=100),
        ScheduleInput("gamma 0.5, other base rates", {"gamma": 0.5}, 5, (1.0, 0.3), seed=101),
        ScheduleInput("gamma 0.99, many steps", {"gamma": 0.99}, 25, seed=102, hidden=True),
        ScheduleInput("gamma 1", {"gamma": 1.0}, 3, seed=103, hidden=True),
    ), (
        _rejects("gamma", _GAMMA, gamma=0.0),
        _rejects("gamma", _GAMMA, hidden=True, gamma=-0.5),
    )),
    _scheduler_spec("StepLR", {"gamma": 0.1}, (
        ScheduleInput("step_size 3, gamma 0.5", {"step_size": 3, "gamma": 0.5}, 10, seed=200),
        ScheduleInput("default gamma (0.1)", {"step_size": 2}, 5, seed=201),
        ScheduleInput("step_size 1", {"step_size": 1, "gamma": 0.7}, 6, (0.5, 0.05), seed=202, hidden=True),
        ScheduleInput("long step", {"step_size": 7, "gamma": 0.3}, 22, seed=203, hidden=True),
    ), (
        _rejects("step_size", _POSITIVE.format("step_size"), step_size=0),
        _rejects("step_size", _POSITIVE.format("step_size"), hidden=True, step_size=-3, gamma=0.5),
        _rejects("gamma", _GAMMA, hidden=True, step_size=2, gamma=-0.1),
    )),
    _scheduler_spec("MultiStepLR", {"gamma": 0.1}, (
        ScheduleInput("milestones [2, 5, 6]", {"milestones": [2, 5, 6], "gamma": 0.5}, 10, seed=300),
        ScheduleInput("default gamma, unsorted milestones", {"milestones": [4, 1]}, 6, seed=301),
        ScheduleInput("one milestone", {"milestones": [3], "gamma": 0.2}, 8, (1.0, 0.01), seed=302, hidden=True),
        ScheduleInput("milestones as a tuple", {"milestones": (1, 2, 3), "gamma": 0.9}, 6, seed=303, hidden=True),
    ), (
        _rejects("gamma", _GAMMA, milestones=[2, 5], gamma=-0.5),
        _rejects("gamma", _GAMMA, hidden=True, milestones=[3], gamma=0.0),
    )),
    _scheduler_spec("CosineAnnealingLR", {"eta_min": 0.0}, (
        ScheduleInput("T_max 6, eta_min 0.001", {"T_max": 6, "eta_min": 0.001}, 6, seed=400),
        ScheduleInput("T_max 4, default eta_min", {"T_max": 4}, 4, seed=401),
        ScheduleInput("long period", {"T_max": 20, "eta_min": 0.0005}, 20, (1.0, 0.01), seed=402, hidden=True),
    ), (
        _rejects("T_max", _POSITIVE.format("T_max"), T_max=0),
        _rejects("T_max", _POSITIVE.format("T_max"), hidden=True, T_max=-5, eta_min=0.001),
    )),
    _scheduler_spec("LinearLR", {"start_factor": 1 / 3, "end_factor": 1.0, "total_iters": 5}, (
        ScheduleInput("warm-up over 4 steps", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}, 8, seed=500),
        ScheduleInput("defaults (1/3 to 1 over 5 steps)", {}, 7, seed=501),
        ScheduleInput("decay from 1 to 0.1", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 6}, 9, (1.0, 0.2), seed=502, hidden=True),
    ), (
        _rejects("start_factor", _START, start_factor=0.0),
        _rejects("start_factor", _START, hidden=True, start_factor=1.5),
        _rejects("end_factor", _END, hidden=True, end_factor=-0.1),
        _rejects("end_factor", _END, hidden=True, start_factor=0.5, end_factor=1.5),
        _rejects("total_iters", _POSITIVE.format("total_iters"), hidden=True, total_iters=0),
    )),
    _scheduler_spec("warmup_cosine", {"start_factor": 0.1, "eta_min": 0.0}, (
        ScheduleInput("3 warm-up steps of 10", {"warmup_steps": 3, "total_steps": 10, "start_factor": 0.1, "eta_min": 0.001}, 10, seed=600),
        ScheduleInput("defaults", {"warmup_steps": 2, "total_steps": 6}, 6, seed=601),
        ScheduleInput("no warm-up", {"warmup_steps": 0, "total_steps": 5}, 5, seed=602, hidden=True),
        ScheduleInput("long", {"warmup_steps": 5, "total_steps": 30, "start_factor": 0.01}, 30, (1.0, 0.1), seed=603, hidden=True),
    ), (
        _rejects("warmup_steps", _WARMUP, warmup_steps=6, total_steps=6),
        _rejects("warmup_steps", _WARMUP, hidden=True, warmup_steps=-1, total_steps=5),
        _rejects("start_factor", _START, hidden=True, warmup_steps=2, total_steps=6, start_factor=0.0),
        _rejects("start_factor", _START, hidden=True, warmup_steps=2, total_steps=6, start_factor=1.5),
    )),
    ExerciseSpec(
        "test_opt_fn_with_scheduler", ("opt_fn_with_scheduler",), "paths with optimizers and schedulers defined by the grader",
        kind="path", defaults={"n_iters": 100},
        cases=(
            _scheduled("SGD with step decay", "ravine", (2.5, 1.0), "torch.optim.SGD", {"lr": 0.1, "momentum": 0.5},
                       _LR + "StepLR", {"step_size": 5, "gamma": 0.5}, 20),
            _scheduled("Adam with cosine", "rosenbrock", (-1.5, 2.5), "torch.optim.Adam", {"lr": 0.1}, _LR + "CosineAnnealingLR", {"T_max": 30}, 30),
            _scheduled("default n_iters", "quadratic", (1.0, -2.0), "torch.optim.SGD", {"lr": 0.05}, _LR + "ExponentialLR", {"gamma": 0.97}, None,
                       hidden=True),
            _scheduled("heavy ball, halved every 5 steps", "ravine", (2.5, 1.0), "GroupHeavyBall", {"lr": 0.1, "momentum": 0.5},
                       "Halving", {"every": 5}, 20, hidden=True),
            _scheduled("sign descent, sawtooth", "rosenbrock", (-1.5, 2.5), "GroupSignDescent", {"lr": 0.1}, "Sawtooth", {"period": 10}, 30,
                       hidden=True),
            _scheduled("heavy ball, shrinking, default n_iters", "quadratic", (1.0, -2.0), "GroupHeavyBall", {"lr": 0.05},
                       "Shrinking", {"ratio": 0.97}, None, hidden=True),
        )),
)
