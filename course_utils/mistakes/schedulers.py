"""``05_schedulers``'s known mistakes: each schedule written once as small steps, each mistake one step changed.

:class:`ReferenceSchedule` is a scheduler in five small steps: the arguments checked
(:meth:`~ReferenceSchedule.validate`), the base rates read at construction, the epoch a rate is
computed for (:meth:`~ReferenceSchedule.epoch`), the rate of one group
(:meth:`~ReferenceSchedule.rate`, from the schedule's closed-form :meth:`~ReferenceSchedule.factor`)
and the writing of the rates into the groups (:meth:`~ReferenceSchedule.write`). Each schedule of the
chapter subclasses it with its factor (:class:`ExponentialLR` ... :class:`WarmupCosine`, with the
defaults of ``course_utils/specs/schedulers.py``). A mistake overrides one step: the mistakes every
schedule can make are mixins (:data:`GENERIC`) combined with each schedule by :func:`with_mistake`;
the others subclass one schedule. :data:`MISTAKES` lists, per exercise, the variants the checks
(``course_utils/checks/schedulers.py``) try in order. :data:`PATH_MISTAKES` are the training-loop
mistakes of opt_fn_with_scheduler, variants of :class:`course_utils.schedule_harness.Scheduled`.

The chapter's demo class (:func:`demo`) is made of edits of the solution's own answers (its schedulers
share a base class), read by ``course_utils/grading/planted.py``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

from course_utils.mistakes import PlantedSubmission
from course_utils.schedule_harness import Scheduled
from course_utils.specs.schedulers import EXERCISES

ASSIGNMENT = "05_schedulers"


class ReferenceSchedule:
    """A learning-rate schedule: every group's rate is its base rate times ``factor(last_epoch)``."""

    mistake = ""
    hint = ""
    exercise = ""  # the test cell's scheduler name; its spec's defaults fill what a call leaves out

    def __init__(self, optimizer: Any, **kwargs: Any) -> None:
        defaults = EXERCISES[f"test_{self.exercise}"].defaults if self.exercise else {}
        self.h: Mapping[str, Any] = {**defaults, **kwargs}
        self.validate()
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self.write()

    def validate(self) -> None:
        """Raise ValueError for arguments the schedule must reject (torch.optim.lr_scheduler's rules, else the chapter's)."""

    def factor(self, t: int) -> float:  # pragma: no cover - every schedule defines it
        raise NotImplementedError

    def rate(self, base: float, current: float, t: int) -> float:
        return base * self.factor(t)

    def epoch(self) -> int:
        return self.last_epoch

    def write(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.rate(base, group["lr"], self.epoch())

    def step(self) -> None:
        self.last_epoch += 1
        self.write()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


def _require(ok: bool, name: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"Invalid {name}: {value!r}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class ExponentialLR(ReferenceSchedule):
    exercise = "ExponentialLR"

    def validate(self) -> None:
        _require(self.h["gamma"] > 0, "gamma", self.h["gamma"])

    def factor(self, t: int) -> float:
        return self.h["gamma"] ** t


class StepLR(ReferenceSchedule):
    exercise = "StepLR"

    def validate(self) -> None:
        _require(_positive_int(self.h["step_size"]), "step_size", self.h["step_size"])
        _require(self.h["gamma"] > 0, "gamma", self.h["gamma"])

    def factor(self, t: int) -> float:
        return self.h["gamma"] ** (t // self.h["step_size"])


class MultiStepLR(ReferenceSchedule):
    exercise = "MultiStepLR"

    def validate(self) -> None:
        _require(self.h["gamma"] > 0, "gamma", self.h["gamma"])

    def passed(self, t: int) -> int:
        return bisect.bisect_right(sorted(self.h["milestones"]), t)

    def factor(self, t: int) -> float:
        return self.h["gamma"] ** self.passed(t)


class CosineAnnealingLR(ReferenceSchedule):
    exercise = "CosineAnnealingLR"

    def validate(self) -> None:
        _require(_positive_int(self.h["T_max"]), "T_max", self.h["T_max"])

    def factor(self, t: int) -> float:
        return (1 + math.cos(math.pi * t / self.h["T_max"])) / 2

    def rate(self, base: float, current: float, t: int) -> float:
        eta = self.h["eta_min"]
        return eta + (base - eta) * self.factor(t)


class LinearLR(ReferenceSchedule):
    exercise = "LinearLR"

    def validate(self) -> None:
        _require(0 < self.h["start_factor"] <= 1, "start_factor", self.h["start_factor"])
        _require(0 <= self.h["end_factor"] <= 1, "end_factor", self.h["end_factor"])
        _require(_positive_int(self.h["total_iters"]), "total_iters", self.h["total_iters"])

    def progress(self, t: int) -> float:
        return min(t, self.h["total_iters"]) / self.h["total_iters"]

    def factor(self, t: int) -> float:
        start, end = self.h["start_factor"], self.h["end_factor"]
        return start + (end - start) * self.progress(t)


class WarmupCosine(ReferenceSchedule):
    """Linear warm-up from ``start_factor`` over ``warmup_steps`` steps, then a cosine down to ``eta_min`` at ``total_steps``."""

    exercise = "warmup_cosine"

    def validate(self) -> None:
        _require(0 <= self.h["warmup_steps"] < self.h["total_steps"], "warmup_steps", self.h["warmup_steps"])
        _require(0 < self.h["start_factor"] <= 1, "start_factor", self.h["start_factor"])

    def cosine(self, t: int) -> float:
        w, total = self.h["warmup_steps"], self.h["total_steps"]
        return (1 + math.cos(math.pi * (t - w) / (total - w))) / 2

    def rate(self, base: float, current: float, t: int) -> float:
        start, eta = self.h["start_factor"], self.h["eta_min"]
        if t < self.h["warmup_steps"]:
            return base * (start + (1 - start) * t / self.h["warmup_steps"])
        return eta + (base - eta) * self.cosine(t)


# --- mistakes any schedule can make (mixins, one step each) --------------------------------------------------


class OnlyFirstGroup:
    mistake = "only the first parameter group is updated"
    hint = "Loop over every group: for group, base in zip(optimizer.param_groups, self.base_lrs)."

    def write(self) -> None:
        group = self.optimizer.param_groups[0]
        group["lr"] = self.rate(self.base_lrs[0], group["lr"], self.epoch())


class RatesNeverWritten:
    mistake = "the groups' learning rates never change (an attribute such as optimizer.lr is set instead)"
    hint = "Write the new rate into each group: group['lr'] = ...; the optimizer reads param_groups at every step."

    def write(self) -> None:
        self.optimizer.lr = self.rate(self.base_lrs[0], self.base_lrs[0], self.epoch())


class Compounding:
    mistake = "compounding on the current rate instead of the base rate"
    hint = "Compute each rate from the base rate stored at construction: group['lr'] = base_lr * factor(last_epoch)."

    def rate(self, base: float, current: float, t: int) -> float:
        return current * self.factor(t)


class OneStepAhead:
    mistake = "off by one: one step ahead"
    hint = "last_epoch is 0 after construction and becomes 1 after the first step(); use it as is."

    def epoch(self) -> int:
        return self.last_epoch + 1


class OneStepBehind:
    mistake = "off by one: one step behind"
    hint = "Increment last_epoch before computing the new rate in step()."

    def epoch(self) -> int:
        return max(self.last_epoch - 1, 0)


GENERIC: tuple[type, ...] = (OnlyFirstGroup, RatesNeverWritten, Compounding, OneStepAhead, OneStepBehind)


def with_mistake(reference: type, mixin: type) -> type:
    """The schedule ``reference`` with the one step ``mixin`` overrides changed."""
    return type(f"{reference.__name__}{mixin.__name__}", (mixin, reference), {})


# --- mistakes of one schedule -----------------------------------------------------------------------------


class DecaysAfterLastMilestone(MultiStepLR):
    mistake = "decaying again at every step after the last milestone"
    hint = ("Count the milestones passed (bisect.bisect_right(sorted_milestones, last_epoch)) and use gamma ** count: "
            "after the last milestone the rate stays put.")

    def passed(self, t: int) -> int:
        return super().passed(t) + max(0, t - max(self.h["milestones"]))


class CosinePeriodDoubled(CosineAnnealingLR):
    mistake = "cosine period twice too long"
    hint = "The rate reaches eta_min at t = T_max: cos(pi * t / T_max)."

    def factor(self, t: int) -> float:
        return (1 + math.cos(math.pi * t / (2 * self.h["T_max"]))) / 2


class CosineWithoutHalf(CosineAnnealingLR):
    mistake = "cos(...) without the (1 + cos) / 2 form"
    hint = "Map cos from [-1, 1] to [0, 1]: (1 + cos(pi * t / T_max)) / 2."

    def factor(self, t: int) -> float:
        return math.cos(math.pi * t / self.h["T_max"])


class CosineIgnoresEtaMin(CosineAnnealingLR):
    mistake = "eta_min ignored"
    hint = "Interpolate between eta_min and the base rate: eta_min + (base - eta_min) * (1 + cos) / 2."

    def rate(self, base: float, current: float, t: int) -> float:
        return base * self.factor(t)


class LinearNeverReachesEnd(LinearLR):
    mistake = "never reaches end_factor (divides by total_iters + 1)"
    hint = "At t = total_iters the factor must be exactly end_factor: divide by total_iters."

    def progress(self, t: int) -> float:
        return min(t, self.h["total_iters"]) / (self.h["total_iters"] + 1)


class LinearOvershoots(LinearLR):
    mistake = "overshoots end_factor after total_iters"
    hint = "Stop at total_iters: use min(last_epoch, total_iters)."

    def progress(self, t: int) -> float:
        return t / self.h["total_iters"]


class CosineFromStepZero(WarmupCosine):
    mistake = "the cosine phase starts at step 0 instead of after the warm-up"
    hint = "Shift the cosine: t - warmup_steps over total_steps - warmup_steps."

    def cosine(self, t: int) -> float:
        return (1 + math.cos(math.pi * t / self.h["total_steps"])) / 2


def _generic(reference: type) -> tuple[type, ...]:
    return tuple(with_mistake(reference, mixin) for mixin in GENERIC)


REFERENCES: Mapping[str, type] = {cls.exercise: cls for cls in (ExponentialLR, StepLR, MultiStepLR, CosineAnnealingLR, LinearLR, WarmupCosine)}

MISTAKES: Mapping[str, tuple[type, ...]] = {
    "ExponentialLR": _generic(ExponentialLR),
    "StepLR": _generic(StepLR),
    "MultiStepLR": (DecaysAfterLastMilestone, *_generic(MultiStepLR)),
    "CosineAnnealingLR": (CosinePeriodDoubled, CosineWithoutHalf, CosineIgnoresEtaMin, *_generic(CosineAnnealingLR)),
    "LinearLR": (LinearNeverReachesEnd, LinearOvershoots, *_generic(LinearLR)),
    "warmup_cosine": (CosineFromStepZero,),
}
"""Per exercise, the variants the checks try in order: the first whose rates match the student's is named."""


# --- opt_fn_with_scheduler: the training loop ----------------------------------------------------------------


class SchedulerFirst(Scheduled):
    mistake = "the scheduler steps before the optimizer"
    hint = "Call optimizer.step() first, then scheduler.step(): otherwise the first step never uses the initial rate."

    def step(self) -> None:
        self.scheduler.step()
        self.optimizer.step()


class SchedulerNeverStepped(Scheduled):
    mistake = "the scheduler is never stepped"
    hint = "Call scheduler.step() once per iteration, after optimizer.step()."

    def step(self) -> None:
        self.optimizer.step()


class RecordsAfterStep(Scheduled):
    mistake = "rows hold the point after each step"
    hint = "Record the point before you step: row 0 is the start."
    record_after = True  # the loop is right; the path keeps the point after each iteration


PATH_MISTAKES: tuple[type, ...] = (SchedulerFirst, SchedulerNeverStepped, RecordsAfterStep)


# --- the demo class -----------------------------------------------------------------------------------------

_OWN_SCHEDULER_CELLS = frozenset({"test_ExponentialLR", "test_StepLR", "test_MultiStepLR", "test_CosineAnnealingLR", "test_LinearLR",
                                  "test_warmup_cosine"})


def accepts_any_argument(reference: str) -> str:
    """The answer with every ``raise ValueError(...)`` turned into a bare ``ValueError(...)`` expression.

    The known mistake "accepts any argument": the constructors still compute their rates, but reject
    nothing (a ``gamma`` of 0, a ``step_size`` of 0, a ``start_factor`` outside (0, 1], ``warmup_steps``
    not below ``total_steps``), so only the cells that try invalid calls are lost.
    """
    if "raise ValueError(" not in reference:
        raise ValueError("accepts_any_argument expects the reference answer to raise ValueError somewhere")
    return reference.replace("raise ValueError(", "ValueError(")


def demo() -> tuple[PlantedSubmission, ...]:
    """05_schedulers's demo class after the reference and the blank notebook: edits of the solution's answers."""
    from course_utils.grading.submissions import edit, edits

    write_groups = 'for group, lr in zip(self.optimizer.param_groups, self.get_lr()):\n            group["lr"] = lr'
    return (
        PlantedSubmission(
            "steplr_off_by_one", "StepLR decays one step early",
            {"schedulers": edit("base * self.gamma ** (self.last_epoch // self.step_size)",
                                "base * self.gamma ** ((self.last_epoch + 1) // self.step_size)")},
            frozenset({"test_StepLR"})),
        PlantedSubmission(
            "linear_overshoots", "LinearLR keeps changing after total_iters",
            {"schedulers": edit("progress = min(self.last_epoch, self.total_iters) / self.total_iters",
                                "progress = self.last_epoch / self.total_iters")},
            frozenset({"test_LinearLR"})),
        PlantedSubmission(
            "cosine_period_doubled", "CosineAnnealingLR with a period of 2 * T_max",
            {"schedulers": edit("math.cos(math.pi * self.last_epoch / self.T_max)", "math.cos(math.pi * self.last_epoch / (2 * self.T_max))")},
            frozenset({"test_CosineAnnealingLR"})),
        PlantedSubmission(
            "compounding_and_multistep", "StepLR compounds on the current rate; MultiStepLR keeps decaying after its last milestone",
            {"schedulers": edits(
                ("base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs",
                 "group['lr'] * self.gamma ** (self.last_epoch // self.step_size) for group in self.optimizer.param_groups"),
                ("n_passed = bisect.bisect_right(self.milestones, self.last_epoch)",
                 "n_passed = bisect.bisect_right(self.milestones, self.last_epoch) + max(0, self.last_epoch - self.milestones[-1])"))},
            frozenset({"test_StepLR", "test_MultiStepLR"})),
        PlantedSubmission(
            "lr_attribute_not_groups", "the base class's step() sets optimizer.lr instead of each group's lr",
            {"schedulers": edit(write_groups, "self.optimizer.lr = self.get_lr()[0]")},
            _OWN_SCHEDULER_CELLS),
        PlantedSubmission(
            "first_group_only", "the base class's step() updates only the first parameter group",
            {"schedulers": edit(write_groups, 'self.optimizer.param_groups[0]["lr"] = self.get_lr()[0]')},
            _OWN_SCHEDULER_CELLS),
        PlantedSubmission(
            "accepts_any_argument", "the schedulers and warmup_cosine accept any argument: nothing raises ValueError",
            {"schedulers": accepts_any_argument, "warmup_cosine": accepts_any_argument},
            _OWN_SCHEDULER_CELLS),
        PlantedSubmission(
            "scheduler_before_optimizer", "opt_fn_with_scheduler steps the scheduler before the optimizer",
            {"opt_fn_with_scheduler": edit("        optimizer.step()\n        scheduler.step()", "        scheduler.step()\n        optimizer.step()")},
            frozenset({"test_opt_fn_with_scheduler"})),
    )
