"""Checks for the graded exercises of ``05_schedulers``.

The cases come from ``course_utils/specs/schedulers.py`` (visible rows, or all rows with
``thorough=True``), the runs from ``course_utils/schedule_harness.py`` and the known mistakes from
``course_utils/mistakes/schedulers.py``. Each scheduler is compared with ``torch.optim.lr_scheduler``
of the same name (warmup_cosine with the reference schedule of the mistakes module), step by step,
for two parameter groups with different base rates: the rates set by the constructor (epoch 0), then
after every ``step()``, each group's ``lr``, ``get_last_lr()`` and ``last_epoch``. The student's
scheduler runs on a ``torch.optim.Optimizer`` subclass and on a bare object that has nothing but
``param_groups``, so it must work for any optimizer. On a mismatch, the rates are compared with the
known mistakes (off by one, compounding on the current rate, only the first group updated, ...), each
a variant of the reference schedule run on the same case. Each constructor must also reject the spec's
invalid arguments (its ``errors`` rows: the rules of torch.optim.lr_scheduler where it has them, else
the chapter's) with a ValueError (:func:`expect_rejections`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch

from course_utils import schedule_harness as schedules
from course_utils.checks.feedback import CheckFailed, passed, quiet
from course_utils.checks.optimizer_harness import student_error
from course_utils.checks.trajectory import PathMistake, check_path_function, path_cases, require_student_function
from course_utils.device import get_device
from course_utils.harness import optimizer_path
from course_utils.mistakes import schedulers as mistakes
from course_utils.schedule_harness import GroupsOnly, PlainStep, ScheduleRun, run_schedule
from course_utils.specs import schedulers as spec
from course_utils.specs.schedulers import ScheduleErrorInput, ScheduleInput
from course_utils.tolerances import numbers_close, tolerance_for

ASSIGNMENT = spec.ASSIGNMENT
EXERCISES = spec.EXERCISES

__all__ = [
    "check_exponential_lr",
    "check_step_lr",
    "check_multistep_lr",
    "check_cosine_annealing_lr",
    "check_linear_lr",
    "check_warmup_cosine",
    "check_opt_fn_with_scheduler",
    "compare_schedule",
    "expect_rejections",
    "CELL_CHECKS",
]

_RATE_TOLERANCE = tolerance_for(torch.float64)  # rates are Python floats, computed in double precision


def _close(a: float, b: float) -> bool:
    return numbers_close(a, b, _RATE_TOLERANCE)


def _same(rows_a: list[list[float]], rows_b: list[list[float]]) -> bool:
    return len(rows_a) == len(rows_b) and all(len(a) == len(b) and all(map(_close, a, b)) for a, b in zip(rows_a, rows_b))


def _fmt(row: list[float]) -> str:
    return "[" + ", ".join(f"{v:.10g}" for v in row) + "]"


def _replay(variant: type, row: ScheduleInput) -> list[list[float]] | None:
    """The rates a known mistake sets on the row (on an object with only param_groups); None if it cannot run it."""
    try:
        return run_schedule(variant, GroupsOnly(row.base_lrs), row).lrs
    except Exception:  # noqa: BLE001 - a variant that cannot run this row matches nothing
        return None


def compare_schedule(student: Callable[..., Any], make_reference: Callable[..., Any], rows: Sequence[ScheduleInput], *,
                     exercise: str, mistakes: Sequence[type] = ()) -> int:
    """Compare ``student(optimizer, **kwargs)`` with ``make_reference(optimizer, **kwargs)`` on every row; the steps compared."""
    compared = 0
    for row in rows:
        reference_target = PlainStep(row.base_lrs)
        expected = run_schedule(make_reference, reference_target, row, stepper=reference_target.step)
        for target_name, build in schedules.TARGETS:
            target = build(row.base_lrs)
            where = f"{schedules.describe_schedule(exercise, row, row.base_lrs)}, on {target_name}"
            # No guard is needed here: torch's schedulers refuse the bare object, so a wrapper around one fails there.
            try:
                got = run_schedule(student, target, row)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error(exercise, f"in the case '{row.desc}': {where}", error) from None
            _explain_first_difference(expected, got, row, exercise, where, mistakes)
            compared += row.steps
    return compared


def _explain_first_difference(expected: ScheduleRun, got: ScheduleRun, row: ScheduleInput, exercise: str, where: str,
                              mistakes: Sequence[type]) -> None:
    for index, (exp_row, got_row) in enumerate(zip(expected.lrs, got.lrs)):
        when = "set by the constructor (epoch 0)" if index == 0 else f"after step {index}"
        if not _same([exp_row], [got_row]):
            lines = [f"{exercise} sets the wrong learning rates in the case '{row.desc}':", f"  {where}.",
                     f"  Rates {when}: expected {_fmt(exp_row)}, got {_fmt(got_row)} (one per group)."]
            for variant in mistakes:
                replay = _replay(variant, row)
                if replay is not None and _same(replay, got.lrs):
                    lines += [f"  Your rates match a known mistake: {variant.mistake}.", f"  Hint: {variant.hint}"]
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


# --- the arguments a constructor must reject ------------------------------------------------------------


def expect_rejections(student: Callable[..., Any], exercise: str, errors: Sequence[ScheduleErrorInput]) -> int:
    """Each row's call must raise its error (ValueError) when the scheduler is built; the rows tried."""
    for row in errors:
        call, kind = row.call(exercise), row.error_type.__name__
        target = PlainStep(spec.BASE_LRS)
        try:
            student(target, **schedules.fresh_kwargs(row.kwargs))
        except row.error_type:
            continue
        except CheckFailed:
            raise
        except Exception as error:
            raise CheckFailed(f"{call} raised {type(error).__name__} ({error}); expected a {kind}: {row.rule}. Check it in the "
                              f"constructor, before anything uses it, and raise {kind} with a message that names the value: "
                              f"raise {kind}(f\"Invalid {row.about}: {{{row.about}}}\").") from None
        raise CheckFailed(f"{call} was accepted, but {row.rule}. Check it in the constructor, before "
                          f"super().__init__(optimizer), and raise {kind} with a message that names the value: "
                          f"raise {kind}(f\"Invalid {row.about}: {{{row.about}}}\").")
    return len(errors)


def _errors(grade_id: str, thorough: bool) -> tuple[ScheduleErrorInput, ...]:
    return EXERCISES[grade_id].error_rows(thorough)


# --- the five schedulers --------------------------------------------------------------------------------


def _check_scheduler(student: Any, name: str, thorough: bool) -> tuple[int, int]:
    """(cases, steps) compared; raises CheckFailed on the first difference."""
    if not callable(student):
        raise CheckFailed(f"{name} must be a class, got {student!r}")
    if isinstance(student, type) and issubclass(student, torch.optim.lr_scheduler.LRScheduler):
        raise CheckFailed(f"{name} subclasses torch.optim.lr_scheduler.LRScheduler: write the scheduler yourself (a small base class of your own is fine).")
    rows = EXERCISES[f"test_{name}"].rows(thorough)
    reference = getattr(torch.optim.lr_scheduler, name)
    with quiet():
        steps = compare_schedule(student, reference, rows, exercise=name, mistakes=mistakes.MISTAKES[name])
        expect_rejections(student, name, _errors(f"test_{name}", thorough))
    return len(rows), steps


def check_exponential_lr(ExponentialLR: Any, *, thorough: bool = False) -> None:
    """ExponentialLR(optimizer, gamma): lr = base * gamma ** t for every group."""
    cases, steps = _check_scheduler(ExponentialLR, "ExponentialLR", thorough)
    passed(f"ExponentialLR matches torch.optim.lr_scheduler.ExponentialLR: {cases} cases, {steps} steps, two groups, two kinds of optimizer; invalid arguments rejected.")


def check_step_lr(StepLR: Any, *, thorough: bool = False) -> None:
    """StepLR(optimizer, step_size, gamma=0.1): lr = base * gamma ** (t // step_size)."""
    cases, steps = _check_scheduler(StepLR, "StepLR", thorough)
    passed(f"StepLR matches torch.optim.lr_scheduler.StepLR: {cases} cases, {steps} steps, two groups, two kinds of optimizer; invalid arguments rejected.")


def check_multistep_lr(MultiStepLR: Any, *, thorough: bool = False) -> None:
    """MultiStepLR(optimizer, milestones, gamma=0.1): lr = base * gamma ** (milestones passed)."""
    cases, steps = _check_scheduler(MultiStepLR, "MultiStepLR", thorough)
    passed(f"MultiStepLR matches torch.optim.lr_scheduler.MultiStepLR: {cases} cases, {steps} steps, past every milestone; invalid arguments rejected.")


def check_cosine_annealing_lr(CosineAnnealingLR: Any, *, thorough: bool = False) -> None:
    """CosineAnnealingLR(optimizer, T_max, eta_min=0.0): eta_min + (base - eta_min) * (1 + cos(pi t / T_max)) / 2."""
    cases, steps = _check_scheduler(CosineAnnealingLR, "CosineAnnealingLR", thorough)
    passed(f"CosineAnnealingLR matches torch.optim.lr_scheduler.CosineAnnealingLR: {cases} cases, {steps} steps; invalid arguments rejected.")


def check_linear_lr(LinearLR: Any, *, thorough: bool = False) -> None:
    """LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5): linear from start to end factor, then constant."""
    cases, steps = _check_scheduler(LinearLR, "LinearLR", thorough)
    passed(f"LinearLR matches torch.optim.lr_scheduler.LinearLR: {cases} cases, {steps} steps; invalid arguments rejected.")


# --- warm-up then cosine ---------------------------------------------------------------------------------


def check_warmup_cosine(warmup_cosine: Any, *, thorough: bool = False) -> None:
    """warmup_cosine(optimizer, warmup_steps, total_steps, start_factor=0.1, eta_min=0.0): linear warm-up, then cosine."""
    require_student_function(warmup_cosine, "warmup_cosine")
    rows = EXERCISES["test_warmup_cosine"].rows(thorough)
    with quiet():
        steps = compare_schedule(warmup_cosine, mistakes.WarmupCosine, rows, exercise="warmup_cosine",
                                 mistakes=mistakes.MISTAKES["warmup_cosine"])
        rejected = expect_rejections(warmup_cosine, "warmup_cosine", _errors("test_warmup_cosine", thorough))
    passed(f"warmup_cosine warms up linearly, then follows the cosine: {len(rows)} cases, {steps} steps; "
           f"{rejected} invalid calls rejected.")


# --- a schedule on a landscape ---------------------------------------------------------------------------


def _path_mistake(variant: type) -> PathMistake:
    record_after = getattr(variant, "record_after", False)
    return PathMistake(variant.mistake, variant.hint,
                       lambda fn, start, case: optimizer_path(fn, start, lambda ps: variant(ps, case.kwargs), case.n_iters,
                                                              record_after=record_after))


def check_opt_fn_with_scheduler(opt_fn_with_scheduler: Any, *, thorough: bool = False) -> None:
    """opt_fn_with_scheduler(fn, xy, optimizer_class, optimizer_hyperparams, scheduler_class, scheduler_hyperparams, n_iters=100)."""
    exercise = EXERCISES["test_opt_fn_with_scheduler"]
    resolved = dataclasses.replace(exercise, cases=tuple(schedules.resolved_call(row) for row in exercise.cases))
    cases = path_cases(resolved, thorough, lambda row, kwargs: lambda ps: schedules.Scheduled(ps, kwargs))
    with quiet():
        rows = check_path_function(opt_fn_with_scheduler, cases, exercise="opt_fn_with_scheduler",
                                   reference_name="the optimizer and scheduler it was given",
                                   mistakes=tuple(map(_path_mistake, mistakes.PATH_MISTAKES)), device=get_device())
    passed(f"opt_fn_with_scheduler follows its optimizer and scheduler: {len(cases)} cases, {rows} rows.")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_ExponentialLR": (check_exponential_lr, EXERCISES["test_ExponentialLR"].names),
    "test_StepLR": (check_step_lr, EXERCISES["test_StepLR"].names),
    "test_MultiStepLR": (check_multistep_lr, EXERCISES["test_MultiStepLR"].names),
    "test_CosineAnnealingLR": (check_cosine_annealing_lr, EXERCISES["test_CosineAnnealingLR"].names),
    "test_LinearLR": (check_linear_lr, EXERCISES["test_LinearLR"].names),
    "test_warmup_cosine": (check_warmup_cosine, EXERCISES["test_warmup_cosine"].names),
    "test_opt_fn_with_scheduler": (check_opt_fn_with_scheduler, EXERCISES["test_opt_fn_with_scheduler"].names),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
