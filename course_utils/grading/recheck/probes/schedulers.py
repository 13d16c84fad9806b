"""Independent probes for ``05_schedulers``: the five schedulers, warmup_cosine, opt_fn_with_scheduler.

Every row of ``course_utils/specs/schedulers.py`` (visible and hidden), run by
``course_utils/schedule_harness.py``. Each scheduler drives two parameter groups whose base rates are
the row's scaled by factors drawn from the recorder's seed, on both of the harness's targets (a
``torch.optim.Optimizer`` subclass and a bare object that has nothing but ``param_groups``), so it must
work for any optimizer. The probe records, at construction and after every ``step()``, each group's
``lr``, ``get_last_lr()`` and ``last_epoch``, then what each of the spec's invalid calls (its ``errors``
rows, hidden ones included) does: rejected with a ValueError, accepted, or another error. opt_fn_with_scheduler is tried on the rows made of the
harness's own optimizers and schedulers, so no torch.optim class is needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch

from course_utils import schedule_harness as schedules
from course_utils.grading.recheck.observations import Recorder
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import lookup, outcome
from course_utils.grading.recheck.probes.paths import record_paths
from course_utils.schedule_harness import ScheduleRun
from course_utils.specs import ExerciseSpec
from course_utils.specs import schedulers as spec

ASSIGNMENT = spec.ASSIGNMENT


def _record_schedule(rec: Recorder, make: Callable[..., Any], name: str, exercise: ExerciseSpec) -> None:
    """Group lrs, get_last_lr() and last_epoch at construction and after every step(), on both targets, for every row."""
    for row in exercise.rows(thorough=True):
        lrs = schedules.base_lrs(row, rec.generator)
        args = "".join(f", {k}={v!r}" for k, v in row.kwargs.items())
        for target_name, build in schedules.TARGETS:
            target = build(lrs)
            where = f"{name}(optimizer{args}) [{row.desc}] on {target_name} with two groups, base lrs {lrs}"

            def record(index: int, run: ScheduleRun, where: str = where, target: Any = target) -> None:
                when = "set by the constructor (epoch 0)" if index == 0 else f"after step {index}"
                for group_index, rate in enumerate(run.lrs[index]):
                    rec.record(f"{where}: group {group_index}'s lr {when}", rate)
                rec.record(f"{where}: get_last_lr() {when} (one rate per group)", run.last[index])
                rec.record(f"{where}: last_epoch {when}", run.epochs[index])

            schedules.run_schedule(make, target, row, on_record=record)


def _record_rejections(rec: Recorder, make: Callable[..., Any], name: str, exercise: ExerciseSpec) -> None:
    """What building ``name`` with each invalid call of the spec does: "raises ValueError", "accepted", ..."""
    for row in exercise.errors:
        target = schedules.PlainStep(spec.BASE_LRS)
        kwargs = schedules.fresh_kwargs(row.kwargs)
        rec.record(f"{row.call(name)} [{row.desc}] on a torch.optim.Optimizer subclass with two groups",
                   outcome(lambda: make(target, **kwargs)))


def scheduler_probe(name: str) -> Probe:
    """The probe of ``test_<name>``: the rates ``name`` sets, step by step, for every row."""
    exercise = spec.EXERCISES[f"test_{name}"]

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        scheduler_class = lookup(ns, name)
        rec.record(f"{name} is a class of your own (not a subclass of torch.optim.lr_scheduler.LRScheduler)",
                   callable(scheduler_class) and not (inspect.isclass(scheduler_class)
                                                      and issubclass(scheduler_class, torch.optim.lr_scheduler.LRScheduler)))
        _record_schedule(rec, scheduler_class, name, exercise)
        _record_rejections(rec, scheduler_class, name, exercise)

    return Probe(run, exercise.summary)


def probe_warmup_cosine(rec: Recorder, ns: Mapping[str, Any]) -> None:
    warmup_cosine, exercise = lookup(ns, "warmup_cosine"), spec.EXERCISES["test_warmup_cosine"]
    _record_schedule(rec, warmup_cosine, "warmup_cosine", exercise)
    _record_rejections(rec, warmup_cosine, "warmup_cosine", exercise)


def probe_opt_fn_with_scheduler(rec: Recorder, ns: Mapping[str, Any]) -> None:
    rows = [schedules.resolved_call(row) for row in spec.EXERCISES["test_opt_fn_with_scheduler"].rows(thorough=True)
            if not schedules.needs_torch_optim(row)]
    record_paths(rec, lookup(ns, "opt_fn_with_scheduler"), "opt_fn_with_scheduler", rows)


PROBES: dict[str, Probe] = {
    **{f"test_{name}": scheduler_probe(name) for name in ("ExponentialLR", "StepLR", "MultiStepLR", "CosineAnnealingLR", "LinearLR")},
    "test_warmup_cosine": Probe(probe_warmup_cosine, spec.EXERCISES["test_warmup_cosine"].summary),
    "test_opt_fn_with_scheduler": Probe(probe_opt_fn_with_scheduler, spec.EXERCISES["test_opt_fn_with_scheduler"].summary),
}
