"""Compare a student's optimizer with a reference on a spec's rows, and explain the first difference.

The inputs (seeded parameters, the noisy-quadratic gradients) and the runs come from
``course_utils/harness.py``, the rows from the chapter's spec (``course_utils/specs/``): the student's
class and the reference see exactly the same inputs. Every parameter is compared after every step.
When they differ, each known mistake (a variant class of ``course_utils/mistakes/``) is run on the
same row, and a mistake whose parameters match the student's is named with its hint.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from course_utils import harness
from course_utils.checks.feedback import CheckFailed, describe_mismatch, first_mismatch, tolerance_for
from course_utils.checks.guards import forbid_torch_optim
from course_utils.harness import format_call
from course_utils.specs import OptimizerInput

__all__ = [
    "RuleOptimizer",
    "make_params",
    "run_optimizer",
    "compare_optimizer",
    "format_call",
    "student_error",
    "require_signature",
]

Snapshots = harness.Snapshots


Rule = Callable[[torch.Tensor, torch.Tensor, dict, Mapping[str, Any]], None]


class RuleOptimizer:
    """Minimal optimizer that applies a per-parameter rule (a path mistake such as gradient ascent)."""

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


def _mistake_optimizer(mistake: type, row: OptimizerInput) -> Callable[[list[torch.Tensor]], Any]:
    return lambda ps: mistake(ps, **row.kwargs)


def make_params(config: OptimizerInput, device: torch.device) -> list[torch.Tensor]:
    """Fresh leaf tensors for a row, from the checks' fixed seeds."""
    return harness.make_params(config, device)


def run_optimizer(make_optimizer: Callable[[list[torch.Tensor]], Any], config: OptimizerInput,
                  device: torch.device, *, params: list[torch.Tensor] | None = None) -> Snapshots:
    """:func:`course_utils.harness.run_optimizer` with the checks' fixed seeds."""
    return harness.run_optimizer(make_optimizer, config, device, params=params)


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


def _first_difference(expected: Snapshots, got: Snapshots, dtype: torch.dtype) -> tuple[int, int, tuple[int, ...]] | None:
    tol = tolerance_for(dtype)
    for step, (exp_step, got_step) in enumerate(zip(expected, got)):
        for index, (e, g) in enumerate(zip(exp_step, got_step)):
            if e.shape != g.shape:
                return step, index, ()
            where = first_mismatch(e, g, tol)
            if where is not None:
                return step, index, where
    return None


def _matching_mistake(mistakes: Sequence[type], row: OptimizerInput, got: Snapshots, device: torch.device) -> type | None:
    for mistake in mistakes:
        try:
            replay = harness.run_optimizer(_mistake_optimizer(mistake, row), row, device)
        except Exception:  # a variant that cannot run this row (a crash mistake) matches nothing
            continue
        if _first_difference(replay, got, row.dtype) is None:
            return mistake
    return None


def compare_optimizer(
    student_class: type,
    reference: Callable[..., Any],
    configs: Sequence[OptimizerInput],
    *,
    exercise: str,
    reference_name: str,
    mistakes: Sequence[type] = (),
    device: torch.device,
) -> int:
    """Compare ``student_class`` with ``reference`` on every row; raise CheckFailed at the first difference.

    ``reference(params, **kwargs)`` builds the reference optimizer; the student's class is built the
    same way with torch.optim made unusable. ``mistakes`` are variant classes of
    ``course_utils/mistakes/`` (with ``mistake`` and ``hint``). Returns the number of steps compared.
    """
    class_name = getattr(student_class, "__name__", exercise)
    compared = 0
    for row in configs:
        where = harness.describe_row(class_name, row, device)
        expected = harness.run_optimizer(lambda ps: reference(ps, **row.kwargs), row, device)
        try:
            with forbid_torch_optim(exercise):
                got = harness.run_optimizer(lambda ps: student_class(ps, **row.kwargs), row, device)
        except CheckFailed:
            raise
        except Exception as error:  # the student's code crashed
            raise student_error(exercise, f"in the configuration '{row.desc}': {where}", error) from None
        difference = _first_difference(expected, got, row.dtype)
        if difference is None:
            compared += row.steps
            continue
        step, index, element = difference
        e, g = expected[step][index], got[step][index]
        lines = [
            f"{exercise} does not match {reference_name} in the configuration '{row.desc}':",
            f"  {where}.",
            f"  First difference after step {step + 1} of {row.steps}, parameter {index} (shape {tuple(e.shape)}):",
        ]
        if e.shape != g.shape:
            lines.append(f"    the parameter's shape changed to {tuple(g.shape)}")
        else:
            lines.append(describe_mismatch(e, g, element, tolerance_for(row.dtype)))
        if step > 0:
            lines.append(
                f"  Every parameter matched after {'step 1' if step == 1 else f'steps 1 to {step}'}, so the "
                "first update is right and something carried from one step to the next is not."
            )
        mistake = _matching_mistake(mistakes, row, got, device)
        if mistake is not None:
            lines += [f"  Your numbers match a known mistake: {mistake.mistake}.", f"  Hint: {mistake.hint}"]
        else:
            lines.append(
                "  No known mistake matches these numbers: work through one step by hand with these "
                "hyper-parameters and compare it with your code line by line."
            )
        raise CheckFailed("\n".join(lines))
    return compared


def require_signature(student_class: type, exercise: str, defaults: Mapping[str, Any]) -> None:
    """The constructor takes ``params`` and every hyper-parameter of ``defaults``, with those defaults."""
    problem = harness.signature_problem(student_class, exercise, defaults)
    if problem is not None:
        raise CheckFailed(problem)
