"""Independent probes for ``05_schedulers``: the five schedulers, warmup_cosine, opt_fn_with_scheduler.

Each scheduler drives two parameter groups whose base rates are drawn from the recorder's seed, on two
optimizers defined here (a ``torch.optim.Optimizer`` subclass and a bare object that has nothing but
``param_groups``), so it must work for any optimizer. The probe records, at construction and after
every ``step()``, each group's ``lr``, ``get_last_lr()`` and ``last_epoch``. opt_fn_with_scheduler is
tried with optimizers and schedulers defined here, so no torch.optim class is needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import lookup
from course_utils.grading.recheck.probes.paths import PathCall, record_paths

_BASE_LRS = (0.1, 0.02)


# --- the optimizers a scheduler drives --------------------------------------------------------------------


class _GroupsOnly:
    """The least an optimizer can be for a scheduler: a list of parameter groups holding ``lr``."""

    def __init__(self, lrs: Sequence[float]) -> None:
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]


class _PlainStep(torch.optim.Optimizer):
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


_TARGETS: list[tuple[str, Callable[[Sequence[float]], Any]]] = [
    ("a torch.optim.Optimizer subclass", _PlainStep),
    ("an object with only param_groups", _GroupsOnly),
]


# --- the cases of the in-notebook checks ------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleCase:
    """One configuration; ``base_lrs`` are scaled by a factor in [0.5, 1.5) drawn from the seed, per group."""

    label: str
    hyperparams: Mapping[str, Any]
    n_steps: int
    base_lrs: tuple[float, ...] = _BASE_LRS


_EXPONENTIAL = [
    ScheduleCase("gamma 0.9", {"gamma": 0.9}, 6),
    ScheduleCase("gamma 0.5, other base rates", {"gamma": 0.5}, 5, (1.0, 0.3)),
    ScheduleCase("gamma 0.99, many steps", {"gamma": 0.99}, 25),
    ScheduleCase("gamma 1", {"gamma": 1.0}, 3),
]
_STEP = [
    ScheduleCase("step_size 3, gamma 0.5", {"step_size": 3, "gamma": 0.5}, 10),
    ScheduleCase("default gamma", {"step_size": 2}, 5),
    ScheduleCase("step_size 1", {"step_size": 1, "gamma": 0.7}, 6, (0.5, 0.05)),
    ScheduleCase("long step", {"step_size": 7, "gamma": 0.3}, 22),
]
_MULTISTEP = [
    ScheduleCase("milestones [2, 5, 6]", {"milestones": [2, 5, 6], "gamma": 0.5}, 10),
    ScheduleCase("default gamma, unsorted milestones", {"milestones": [4, 1]}, 6),
    ScheduleCase("one milestone", {"milestones": [3], "gamma": 0.2}, 8, (1.0, 0.01)),
    ScheduleCase("milestones as a tuple", {"milestones": (1, 2, 3), "gamma": 0.9}, 6),
]
_COSINE = [
    ScheduleCase("T_max 6, eta_min 0.001", {"T_max": 6, "eta_min": 0.001}, 6),
    ScheduleCase("T_max 4, default eta_min", {"T_max": 4}, 4),
    ScheduleCase("long period", {"T_max": 20, "eta_min": 0.0005}, 20, (1.0, 0.01)),
]
_LINEAR = [
    ScheduleCase("warm-up over 4 steps", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}, 8),
    ScheduleCase("defaults", {}, 7),
    ScheduleCase("decay from 1 to 0.1", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 6}, 9, (1.0, 0.2)),
]
_WARMUP = [
    ScheduleCase("3 warm-up steps of 10", {"warmup_steps": 3, "total_steps": 10, "start_factor": 0.1, "eta_min": 0.001}, 10),
    ScheduleCase("defaults", {"warmup_steps": 2, "total_steps": 6}, 6),
    ScheduleCase("no warm-up", {"warmup_steps": 0, "total_steps": 5}, 5),
    ScheduleCase("long", {"warmup_steps": 5, "total_steps": 30, "start_factor": 0.01}, 30, (1.0, 0.1)),
]


def _base_lrs(rec: Recorder, tag: int, case: ScheduleCase) -> list[float]:
    scale = 0.5 + torch.rand(len(case.base_lrs), generator=rec.generator(tag), dtype=torch.float64)
    return [round(b * float(s), 6) for b, s in zip(case.base_lrs, scale)]


def _fresh(hyperparams: Mapping[str, Any]) -> dict[str, Any]:
    """The hyper-parameters with fresh copies of lists, so one call cannot change what the next one gets."""
    return {k: list(v) if type(v) is list else v for k, v in hyperparams.items()}


def _record_schedule(rec: Recorder, make: Callable[..., Any], name: str, cases: Sequence[ScheduleCase], tag: int) -> None:
    """Group lrs, get_last_lr() and last_epoch at construction and after every step(), on both optimizers."""
    for index, case in enumerate(cases):
        lrs = _base_lrs(rec, tag + index, case)
        args = "".join(f", {k}={v!r}" for k, v in case.hyperparams.items())
        for target_name, build in _TARGETS:
            optimizer = build(lrs)
            where = f"{name}(optimizer{args}) [{case.label}] on {target_name} with two groups, base lrs {lrs}"
            scheduler = make(optimizer, **_fresh(case.hyperparams))
            for step in range(case.n_steps + 1):
                if step > 0:
                    scheduler.step()
                when = "set by the constructor (epoch 0)" if step == 0 else f"after step {step}"
                for group_index, group in enumerate(optimizer.param_groups):
                    rec.record(f"{where}: group {group_index}'s lr {when}", float(group["lr"]))
                rec.record(f"{where}: get_last_lr() {when} (one rate per group)", [float(v) for v in scheduler.get_last_lr()])
                rec.record(f"{where}: last_epoch {when}", int(scheduler.last_epoch))


def scheduler_probe(name: str, cases: list[ScheduleCase], tag: int) -> Probe:
    """A probe that records the rates ``name`` sets, step by step, for every case."""

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        scheduler_class = lookup(ns, name)
        rec.record(f"{name} is a class of your own (not a subclass of torch.optim.lr_scheduler.LRScheduler)",
                   callable(scheduler_class) and not (inspect.isclass(scheduler_class)
                                                      and issubclass(scheduler_class, torch.optim.lr_scheduler.LRScheduler)))
        _record_schedule(rec, scheduler_class, name, cases, tag)

    return Probe(run, f"{name}'s group rates, get_last_lr() and last_epoch after every step of {len(cases)} cases, random base rates")


def probe_warmup_cosine(rec: Recorder, ns: Mapping[str, Any]) -> None:
    _record_schedule(rec, lookup(ns, "warmup_cosine"), "warmup_cosine", _WARMUP, 600)


# --- a schedule on a landscape ----------------------------------------------------------------------------


class _GroupHeavyBall:
    """Heavy-ball momentum that reads each group's lr at every step, written here so no torch.optim class is needed."""

    def __init__(self, params: Any, lr: float = 0.01, momentum: float = 0.0) -> None:
        self.param_groups = [{"params": list(params), "lr": lr, "momentum": momentum}]
        self.buffers: dict[int, torch.Tensor] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
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


class _GroupSignDescent(_GroupHeavyBall):
    """Steps of size lr against the sign of the gradient (lr read from the group at every step)."""

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(torch.sign(p.grad), alpha=group["lr"])
        return None


class _FactorSchedule:
    """A scheduler written here: sets every group's lr to its first lr times ``factor(last_epoch)``."""

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


class _Halving(_FactorSchedule):
    """Halves the rate every ``every`` steps."""

    def __init__(self, optimizer: Any, every: int) -> None:
        self.every = every
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return 0.5 ** (t // self.every)


class _Shrinking(_FactorSchedule):
    """Multiplies the rate by ``ratio`` at every step."""

    def __init__(self, optimizer: Any, ratio: float) -> None:
        self.ratio = ratio
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return self.ratio ** t


class _Sawtooth(_FactorSchedule):
    """Falls linearly from 1 to ``low`` over ``period`` steps, then starts again."""

    def __init__(self, optimizer: Any, period: int, low: float = 0.1) -> None:
        self.period, self.low = period, low
        super().__init__(optimizer)

    def factor(self, t: int) -> float:
        return 1 - (1 - self.low) * (t % self.period) / self.period


def probe_opt_fn_with_scheduler(rec: Recorder, ns: Mapping[str, Any]) -> None:
    fn = lookup(ns, "opt_fn_with_scheduler")

    def call(label: str, landscape: str, start: tuple[float, float], opt: type, opt_hp: dict, sched: type, sched_hp: dict,
             n: int | None) -> PathCall:
        kwargs = {"optimizer_class": opt, "optimizer_hyperparams": opt_hp, "scheduler_class": sched, "scheduler_hyperparams": sched_hp,
                  **({"n_iters": n} if n is not None else {})}
        return PathCall(label, landscape, start, kwargs)

    record_paths(rec, fn, "opt_fn_with_scheduler", [
        call("heavy ball, halved every 5 steps", "ravine", (2.5, 1.0), _GroupHeavyBall, {"lr": 0.1, "momentum": 0.5}, _Halving, {"every": 5}, 20),
        call("sign descent, sawtooth", "rosenbrock", (-1.5, 2.5), _GroupSignDescent, {"lr": 0.1}, _Sawtooth, {"period": 10}, 30),
        call("default n_iters", "quadratic", (1.0, -2.0), _GroupHeavyBall, {"lr": 0.05}, _Shrinking, {"ratio": 0.97}, None),
    ])


PROBES: dict[str, Probe] = {
    "test_ExponentialLR": scheduler_probe("ExponentialLR", _EXPONENTIAL, 100),
    "test_StepLR": scheduler_probe("StepLR", _STEP, 200),
    "test_MultiStepLR": scheduler_probe("MultiStepLR", _MULTISTEP, 300),
    "test_CosineAnnealingLR": scheduler_probe("CosineAnnealingLR", _COSINE, 400),
    "test_LinearLR": scheduler_probe("LinearLR", _LINEAR, 500),
    "test_warmup_cosine": Probe(probe_warmup_cosine, f"group rates, get_last_lr() and last_epoch after every step of {len(_WARMUP)} cases, random base rates"),
    "test_opt_fn_with_scheduler": Probe(probe_opt_fn_with_scheduler, "paths with optimizers and schedulers defined by the grader"),
}
