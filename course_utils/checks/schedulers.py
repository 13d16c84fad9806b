"""Checks for the graded exercises of ``05_schedulers``.

Each scheduler is compared with ``torch.optim.lr_scheduler`` of the same name, step by step, for two
parameter groups with different base rates: the rates set by the constructor (epoch 0), then after
every ``step()``, each group's ``lr``, ``get_last_lr()`` and ``last_epoch``. The student's scheduler
runs on a ``torch.optim.SGD`` and on a bare object that has nothing but ``param_groups``, so it must
work for any optimizer. On a mismatch, the rates are compared with the known mistakes (off by one,
compounding on the current rate, only the first group updated, ...), written as closed forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, passed, quiet
from course_utils.checks.optimizer_harness import student_error
from course_utils.checks.trajectory import PathCase, PathMistake, check_path_function, optimizer_path, require_student_function
from course_utils.device import get_device

__all__ = [
    "check_exponential_lr",
    "check_step_lr",
    "check_multistep_lr",
    "check_cosine_annealing_lr",
    "check_linear_lr",
    "check_warmup_cosine",
    "check_opt_fn_with_scheduler",
    "warmup_cosine_factor",
    "CELL_CHECKS",
]

BASE_LRS = (0.1, 0.02)
Factor = Callable[[int, Mapping[str, Any]], float]  # (t, hyperparams) -> lr / base_lr


class GroupsOnly:
    """The least an optimizer can be for a scheduler: a list of parameter groups holding ``lr``."""

    def __init__(self, lrs: Sequence[float]) -> None:
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]


def _torch_sgd(lrs: Sequence[float]) -> torch.optim.SGD:
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0])


@dataclass(frozen=True)
class ScheduleCase:
    label: str
    hyperparams: Mapping[str, Any]
    n_steps: int
    base_lrs: tuple[float, ...] = BASE_LRS


@dataclass(frozen=True)
class ScheduleMistake:
    name: str
    hint: str
    lrs: Callable[[ScheduleCase], list[list[float]]]  # rates per record (construction, then each step), per group


@dataclass
class Record:
    lrs: list[list[float]] = field(default_factory=list)  # group lrs at construction and after each step
    last: list[list[float]] = field(default_factory=list)  # get_last_lr()
    epochs: list[int] = field(default_factory=list)


def _record(scheduler: Any, target: Any, n_steps: int, stepper: Callable[[], None] | None = None) -> Record:
    record = Record()

    def snap() -> None:
        record.lrs.append([float(g["lr"]) for g in target.param_groups])
        last = scheduler.get_last_lr()
        record.last.append([float(v) for v in last])
        record.epochs.append(int(scheduler.last_epoch))

    snap()
    for _ in range(n_steps):
        if stepper is not None:
            stepper()
        scheduler.step()
        snap()
    return record


def closed_form_lrs(factor: Factor, case: ScheduleCase) -> list[list[float]]:
    return [[base * factor(t, case.hyperparams) for base in case.base_lrs] for t in range(case.n_steps + 1)]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) or (math.isnan(a) and math.isnan(b))


def _same(rows_a: list[list[float]], rows_b: list[list[float]]) -> bool:
    return len(rows_a) == len(rows_b) and all(len(a) == len(b) and all(map(_close, a, b)) for a, b in zip(rows_a, rows_b))


def generic_mistakes(factor: Factor) -> list[ScheduleMistake]:
    """Mistakes any scheduler can make, derived from its correct closed form."""

    def only_first(case: ScheduleCase) -> list[list[float]]:
        return [[row[0], *case.base_lrs[1:]] for row in closed_form_lrs(factor, case)]

    def frozen(case: ScheduleCase) -> list[list[float]]:
        return [list(case.base_lrs) for _ in range(case.n_steps + 1)]

    def compounding(case: ScheduleCase) -> list[list[float]]:
        rows, current = [], list(case.base_lrs)
        for t in range(case.n_steps + 1):
            current = [lr * factor(t, case.hyperparams) for lr in current]
            rows.append(list(current))
        return rows

    def shifted(offset: int) -> Callable[[ScheduleCase], list[list[float]]]:
        return lambda case: [[b * factor(max(t + offset, 0), case.hyperparams) for b in case.base_lrs] for t in range(case.n_steps + 1)]

    return [
        ScheduleMistake("only the first parameter group is updated", "Loop over every group: for group, base in zip(optimizer.param_groups, self.base_lrs).", only_first),
        ScheduleMistake("the groups' learning rates never change (an attribute such as optimizer.lr is set instead)",
                        "Write the new rate into each group: group['lr'] = ...; the optimizer reads param_groups at every step.", frozen),
        ScheduleMistake("compounding on the current rate instead of the base rate",
                        "Compute each rate from the base rate stored at construction: group['lr'] = base_lr * factor(last_epoch).", compounding),
        ScheduleMistake("off by one: one step ahead", "last_epoch is 0 after construction and becomes 1 after the first step(); use it as is.", shifted(1)),
        ScheduleMistake("off by one: one step behind", "Increment last_epoch before computing the new rate in step().", shifted(-1)),
    ]


def _describe(name: str, case: ScheduleCase) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in case.hyperparams.items())
    return f"{name}(optimizer{', ' + args if args else ''}) on two groups with base lrs {list(case.base_lrs)}, {case.n_steps} steps"


def _fmt(row: list[float]) -> str:
    return "[" + ", ".join(f"{v:.10g}" for v in row) + "]"


def compare_schedule(
    student: Callable[..., Any],
    make_reference: Callable[..., Any] | None,
    cases: Sequence[ScheduleCase],
    *,
    exercise: str,
    expected_lrs: Callable[[ScheduleCase], list[list[float]]] | None = None,
    mistakes: Sequence[ScheduleMistake] = (),
) -> int:
    """Compare ``student(optimizer, **hp)`` with ``make_reference(optimizer, **hp)`` (or ``expected_lrs``) on every case."""
    compared = 0
    for case in cases:
        if make_reference is not None:
            ref_opt = _torch_sgd(case.base_lrs)
            expected = _record(make_reference(ref_opt, **case.hyperparams), ref_opt, case.n_steps, ref_opt.step)
        else:
            rows = expected_lrs(case)
            expected = Record(rows, rows, list(range(case.n_steps + 1)))
        for target_name, target in (("a torch.optim.SGD", _torch_sgd(case.base_lrs)), ("an object with only param_groups", GroupsOnly(case.base_lrs))):
            where = f"{_describe(exercise, case)}, on {target_name}"
            # No guard is needed here: torch's schedulers refuse the bare object, so a wrapper around one fails there.
            try:
                got = _record(student(target, **case.hyperparams), target, case.n_steps)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error(exercise, f"in the case '{case.label}': {where}", error) from None
            for index, (exp_row, got_row) in enumerate(zip(expected.lrs, got.lrs)):
                when = "set by the constructor (epoch 0)" if index == 0 else f"after step {index}"
                if not _same([exp_row], [got_row]):
                    lines = [f"{exercise} sets the wrong learning rates in the case '{case.label}':", f"  {where}.",
                             f"  Rates {when}: expected {_fmt(exp_row)}, got {_fmt(got_row)} (one per group)."]
                    for mistake in mistakes:
                        if _same(mistake.lrs(case), got.lrs):
                            lines += [f"  Your rates match a known mistake: {mistake.name}.", f"  Hint: {mistake.hint}"]
                            break
                    else:
                        lines.append("  No known mistake matches: print your rates step by step next to the formula.")
                    raise CheckFailed("\n".join(lines))
                if not _same([expected.last[index]], [got.last[index]]):
                    raise CheckFailed(f"{exercise}.get_last_lr() {when} returned {_fmt(got.last[index])}; expected {_fmt(expected.last[index])}, "
                                      f"the current rate of every group.\n  {where}.")
                if got.epochs[index] != expected.epochs[index]:
                    raise CheckFailed(f"{exercise}.last_epoch {when} is {got.epochs[index]}; expected {expected.epochs[index]} "
                                      f"(0 after construction, +1 per step()).\n  {where}.")
            compared += case.n_steps
    return compared


# --- the five schedulers --------------------------------------------------------------------------------

def _exponential(t: int, h: Mapping[str, Any]) -> float:
    return h["gamma"] ** t


def _step(t: int, h: Mapping[str, Any]) -> float:
    return h.get("gamma", 0.1) ** (t // h["step_size"])


def _multistep(t: int, h: Mapping[str, Any]) -> float:
    return h.get("gamma", 0.1) ** sum(1 for m in h["milestones"] if m <= t)


def _cosine(t: int, h: Mapping[str, Any], *, period: float = 1.0, half: bool = True) -> float:
    # returned as a factor of base for eta_min = 0; eta_min is handled in _cosine_lrs
    return (1 + math.cos(math.pi * t / (h["T_max"] * period))) / 2 if half else math.cos(math.pi * t / (h["T_max"] * period))


def _linear(t: int, h: Mapping[str, Any], *, denominator_extra: int = 0, clamp: bool = True) -> float:
    start, end, total = h.get("start_factor", 1 / 3), h.get("end_factor", 1.0), h.get("total_iters", 5)
    return start + (end - start) * (min(t, total) if clamp else t) / (total + denominator_extra)


def _cosine_lrs(case: ScheduleCase, **variant: Any) -> list[list[float]]:
    eta = case.hyperparams.get("eta_min", 0.0)
    return [[eta + (b - eta) * _cosine(t, case.hyperparams, **variant) for b in case.base_lrs] for t in range(case.n_steps + 1)]


def _check_scheduler(student: Any, name: str, cases: list[ScheduleCase], mistakes: list[ScheduleMistake]) -> int:
    if not callable(student):
        raise CheckFailed(f"{name} must be a class, got {student!r}")
    if isinstance(student, type) and issubclass(student, torch.optim.lr_scheduler.LRScheduler):
        raise CheckFailed(f"{name} subclasses torch.optim.lr_scheduler.LRScheduler: write the scheduler yourself (a small base class of your own is fine).")
    reference = getattr(torch.optim.lr_scheduler, name)
    with quiet():
        return compare_schedule(student, reference, cases, exercise=name, mistakes=mistakes)


def check_exponential_lr(ExponentialLR: Any, *, thorough: bool = False) -> None:
    """ExponentialLR(optimizer, gamma): lr = base * gamma ** t for every group."""
    cases = [ScheduleCase("gamma 0.9", {"gamma": 0.9}, 6), ScheduleCase("gamma 0.5, other base rates", {"gamma": 0.5}, 5, (1.0, 0.3))]
    if thorough:
        cases += [ScheduleCase("gamma 0.99, many steps", {"gamma": 0.99}, 25), ScheduleCase("gamma 1", {"gamma": 1.0}, 3)]
    steps = _check_scheduler(ExponentialLR, "ExponentialLR", cases, generic_mistakes(_exponential))
    passed(f"ExponentialLR matches torch.optim.lr_scheduler.ExponentialLR: {len(cases)} cases, {steps} steps, two groups, two kinds of optimizer.")


def check_step_lr(StepLR: Any, *, thorough: bool = False) -> None:
    """StepLR(optimizer, step_size, gamma=0.1): lr = base * gamma ** (t // step_size)."""
    cases = [ScheduleCase("step_size 3, gamma 0.5", {"step_size": 3, "gamma": 0.5}, 10), ScheduleCase("default gamma (0.1)", {"step_size": 2}, 5)]
    if thorough:
        cases += [ScheduleCase("step_size 1", {"step_size": 1, "gamma": 0.7}, 6, (0.5, 0.05)), ScheduleCase("long step", {"step_size": 7, "gamma": 0.3}, 22)]
    steps = _check_scheduler(StepLR, "StepLR", cases, generic_mistakes(_step))
    passed(f"StepLR matches torch.optim.lr_scheduler.StepLR: {len(cases)} cases, {steps} steps, two groups, two kinds of optimizer.")


def check_multistep_lr(MultiStepLR: Any, *, thorough: bool = False) -> None:
    """MultiStepLR(optimizer, milestones, gamma=0.1): lr = base * gamma ** (milestones passed)."""
    cases = [ScheduleCase("milestones [2, 5, 6]", {"milestones": [2, 5, 6], "gamma": 0.5}, 10),
             ScheduleCase("default gamma, unsorted milestones", {"milestones": [4, 1]}, 6)]
    if thorough:
        cases += [ScheduleCase("one milestone", {"milestones": [3], "gamma": 0.2}, 8, (1.0, 0.01)),
                  ScheduleCase("milestones as a tuple", {"milestones": (1, 2, 3), "gamma": 0.9}, 6)]
    def again_after_last(case: ScheduleCase) -> list[list[float]]:
        h = case.hyperparams
        last = max(h["milestones"])
        return closed_form_lrs(lambda t, _: h.get("gamma", 0.1) ** (sum(1 for m in h["milestones"] if m <= t) + max(0, t - last)), case)

    mistakes = [
        ScheduleMistake("decaying again at every step after the last milestone",
                        "Count the milestones passed (bisect.bisect_right(sorted_milestones, last_epoch)) and use gamma ** count: after the last milestone the rate stays put.",
                        again_after_last),
        *generic_mistakes(_multistep),
    ]
    steps = _check_scheduler(MultiStepLR, "MultiStepLR", cases, mistakes)
    passed(f"MultiStepLR matches torch.optim.lr_scheduler.MultiStepLR: {len(cases)} cases, {steps} steps, past every milestone.")


def check_cosine_annealing_lr(CosineAnnealingLR: Any, *, thorough: bool = False) -> None:
    """CosineAnnealingLR(optimizer, T_max, eta_min=0.0): eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2."""
    cases = [ScheduleCase("T_max 6, eta_min 0.001", {"T_max": 6, "eta_min": 0.001}, 6), ScheduleCase("T_max 4, default eta_min", {"T_max": 4}, 4)]
    if thorough:
        cases += [ScheduleCase("long period", {"T_max": 20, "eta_min": 0.0005}, 20, (1.0, 0.01))]
    mistakes = [
        ScheduleMistake("cosine period twice too long", "The rate reaches eta_min at t = T_max: cos(pi * t / T_max).",
                        lambda c: _cosine_lrs(c, period=2.0)),
        ScheduleMistake("cos(...) without the (1 + cos) / 2 form", "Map cos from [-1, 1] to [0, 1]: (1 + cos(pi * t / T_max)) / 2.",
                        lambda c: _cosine_lrs(c, half=False)),
        ScheduleMistake("eta_min ignored", "Interpolate between eta_min and the base rate: eta_min + (base - eta_min) * (1 + cos) / 2.",
                        lambda c: closed_form_lrs(lambda t, h: _cosine(t, h), c)),
        *generic_mistakes(lambda t, h: _cosine(t, h)),
    ]
    steps = _check_scheduler(CosineAnnealingLR, "CosineAnnealingLR", cases, mistakes)
    passed(f"CosineAnnealingLR matches torch.optim.lr_scheduler.CosineAnnealingLR: {len(cases)} cases, {steps} steps.")


def check_linear_lr(LinearLR: Any, *, thorough: bool = False) -> None:
    """LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5): linear from start to end factor, then constant."""
    cases = [ScheduleCase("warm-up over 4 steps", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}, 8),
             ScheduleCase("defaults (1/3 to 1 over 5 steps)", {}, 7)]
    if thorough:
        cases += [ScheduleCase("decay from 1 to 0.1", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 6}, 9, (1.0, 0.2))]
    mistakes = [
        ScheduleMistake("never reaches end_factor (divides by total_iters + 1)", "At t = total_iters the factor must be exactly end_factor: divide by total_iters.",
                        lambda c: closed_form_lrs(lambda t, h: _linear(t, h, denominator_extra=1), c)),
        ScheduleMistake("overshoots end_factor after total_iters", "Stop at total_iters: use min(last_epoch, total_iters).",
                        lambda c: closed_form_lrs(lambda t, h: _linear(t, h, clamp=False), c)),
        *generic_mistakes(_linear),
    ]
    steps = _check_scheduler(LinearLR, "LinearLR", cases, mistakes)
    passed(f"LinearLR matches torch.optim.lr_scheduler.LinearLR: {len(cases)} cases, {steps} steps.")


# --- warm-up then cosine ---------------------------------------------------------------------------------

def warmup_cosine_factor(t: int, h: Mapping[str, Any]) -> float:
    """The factor of the base rate at step t: linear warm-up from start_factor, then cosine down to eta_min (as a factor)."""
    w, total, start = h["warmup_steps"], h["total_steps"], h.get("start_factor", 0.1)
    if t < w:
        return start + (1 - start) * t / w
    return (1 + math.cos(math.pi * (t - w) / (total - w))) / 2


def _warmup_lrs(case: ScheduleCase, *, cosine_from_zero: bool = False) -> list[list[float]]:
    h, eta = case.hyperparams, case.hyperparams.get("eta_min", 0.0)
    rows = []
    for t in range(case.n_steps + 1):
        if t < h["warmup_steps"]:
            rows.append([b * warmup_cosine_factor(t, h) for b in case.base_lrs])
        else:
            phase = t if cosine_from_zero else t - h["warmup_steps"]
            span = h["total_steps"] if cosine_from_zero else h["total_steps"] - h["warmup_steps"]
            rows.append([eta + (b - eta) * (1 + math.cos(math.pi * phase / span)) / 2 for b in case.base_lrs])
    return rows


def check_warmup_cosine(warmup_cosine: Any, *, thorough: bool = False) -> None:
    """warmup_cosine(optimizer, warmup_steps, total_steps, start_factor=0.1, eta_min=0.0): linear warm-up, then cosine."""
    require_student_function(warmup_cosine, "warmup_cosine")
    cases = [ScheduleCase("3 warm-up steps of 10", {"warmup_steps": 3, "total_steps": 10, "start_factor": 0.1, "eta_min": 0.001}, 10),
             ScheduleCase("defaults", {"warmup_steps": 2, "total_steps": 6}, 6)]
    if thorough:
        cases += [ScheduleCase("no warm-up", {"warmup_steps": 0, "total_steps": 5}, 5), ScheduleCase("long", {"warmup_steps": 5, "total_steps": 30, "start_factor": 0.01}, 30, (1.0, 0.1))]
    mistakes = [ScheduleMistake("the cosine phase starts at step 0 instead of after the warm-up",
                                "Shift the cosine: t - warmup_steps over total_steps - warmup_steps.", lambda c: _warmup_lrs(c, cosine_from_zero=True))]
    with quiet():
        steps = compare_schedule(warmup_cosine, None, cases, exercise="warmup_cosine", expected_lrs=_warmup_lrs, mistakes=mistakes)
    passed(f"warmup_cosine warms up linearly, then follows the cosine: {len(cases)} cases, {steps} steps.")


# --- a schedule on a landscape ---------------------------------------------------------------------------

class _Scheduled:
    """An optimizer and its scheduler stepped together, for replaying paths."""

    def __init__(self, params: list[torch.Tensor], case: PathCase, *, order: str = "optimizer first") -> None:
        k = case.kwargs
        self.optimizer = k["optimizer_class"](params, **k["optimizer_hyperparams"])
        self.scheduler = k["scheduler_class"](self.optimizer, **k["scheduler_hyperparams"])
        self.order = order

    def step(self) -> None:
        if self.order == "scheduler first":
            self.scheduler.step()
        self.optimizer.step()
        if self.order == "optimizer first":
            self.scheduler.step()


def check_opt_fn_with_scheduler(opt_fn_with_scheduler: Any, *, thorough: bool = False) -> None:
    """opt_fn_with_scheduler(fn, xy, optimizer_class, optimizer_hyperparams, scheduler_class, scheduler_hyperparams, n_iters=100)."""
    def case(label: str, landscape: str, start, opt, opt_hp, sched, sched_hp, n: int | None) -> PathCase:
        kwargs = {"optimizer_class": opt, "optimizer_hyperparams": opt_hp, "scheduler_class": sched, "scheduler_hyperparams": sched_hp,
                  **({"n_iters": n} if n is not None else {})}
        holder: dict = {}
        c = PathCase(label, landscape, start, kwargs, n or 100, lambda ps: _Scheduled(ps, holder["case"]))
        holder["case"] = c
        return c

    lr = torch.optim.lr_scheduler
    cases = [
        case("SGD with step decay", "ravine", (2.5, 1.0), torch.optim.SGD, {"lr": 0.1, "momentum": 0.5}, lr.StepLR, {"step_size": 5, "gamma": 0.5}, 20),
        case("Adam with cosine", "rosenbrock", (-1.5, 2.5), torch.optim.Adam, {"lr": 0.1}, lr.CosineAnnealingLR, {"T_max": 30}, 30),
    ]
    if thorough:
        cases += [case("default n_iters", "quadratic", (1.0, -2.0), torch.optim.SGD, {"lr": 0.05}, lr.ExponentialLR, {"gamma": 0.97}, None)]
    mistakes = (
        PathMistake("the scheduler steps before the optimizer", "Call optimizer.step() first, then scheduler.step(): otherwise the first step never uses the initial rate.",
                    lambda fn, s, c: optimizer_path(fn, s, lambda ps: _Scheduled(ps, c, order="scheduler first"), c.n_iters)),
        PathMistake("the scheduler is never stepped", "Call scheduler.step() once per iteration, after optimizer.step().",
                    lambda fn, s, c: optimizer_path(fn, s, lambda ps: _Scheduled(ps, c, order="never"), c.n_iters)),
        PathMistake("rows hold the point after each step", "Record the point before you step: row 0 is the start.",
                    lambda fn, s, c: optimizer_path(fn, s, c.make_optimizer, c.n_iters, record_after=True)),
    )
    with quiet():
        rows = check_path_function(opt_fn_with_scheduler, cases, exercise="opt_fn_with_scheduler", reference_name="the optimizer and scheduler it was given",
                                   mistakes=mistakes, device=get_device())
    passed(f"opt_fn_with_scheduler follows its optimizer and scheduler: {len(cases)} cases, {rows} rows.")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_ExponentialLR": (check_exponential_lr, ("ExponentialLR",)),
    "test_StepLR": (check_step_lr, ("StepLR",)),
    "test_MultiStepLR": (check_multistep_lr, ("MultiStepLR",)),
    "test_CosineAnnealingLR": (check_cosine_annealing_lr, ("CosineAnnealingLR",)),
    "test_LinearLR": (check_linear_lr, ("LinearLR",)),
    "test_warmup_cosine": (check_warmup_cosine, ("warmup_cosine",)),
    "test_opt_fn_with_scheduler": (check_opt_fn_with_scheduler, ("opt_fn_with_scheduler",)),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
