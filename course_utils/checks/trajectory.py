"""Checks for functions that return an optimizer's path on a landscape, shape ``(n_iters, 2)``.

Convention: row ``k`` is the point *before* step ``k``; row 0 is the start. The
expected path always comes from ``torch.optim`` (plain gradient descent is ``torch.optim.SGD`` with
no momentum), run by :func:`course_utils.harness.optimizer_path`; known mistakes are the same loop with one thing changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.checks.feedback import CheckFailed, first_mismatch, tensors_equal, tolerance_for
from course_utils.checks.guards import forbid_torch_optim
from course_utils.checks.optimizer_harness import RuleOptimizer, student_error
from course_utils.harness import optimizer_path, path_call_kwargs, path_n_iters
from course_utils.specs import ExerciseSpec, PathInput

__all__ = ["PathCase", "PathMistake", "optimizer_path", "path_cases", "check_path_function", "require_student_function",
           "CALLER_GRAD_MISTAKE", "CALLER_GRAD_HINT"]

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MakeOptimizer = Callable[[list[torch.Tensor]], Any]


def ascent(lr: float) -> MakeOptimizer:
    """Gradient *ascent* with step ``lr`` (a sign mistake)."""
    return lambda ps: RuleOptimizer(ps, lambda p, g, s, h: p.add_(g, alpha=lr), {})


@dataclass(frozen=True)
class PathCase:
    """One call of the student's function and how to compute the path it must return."""

    label: str
    landscape: str
    start: tuple[float, float]
    kwargs: Mapping[str, Any]  # keyword arguments of the student's call, besides fn and xy
    n_iters: int
    make_optimizer: MakeOptimizer  # the reference: builds a torch.optim optimizer for [xy]
    positional: tuple[Any, ...] = field(default_factory=tuple)  # positional arguments after fn and xy


def path_cases(spec: ExerciseSpec, thorough: bool, reference: Callable[[PathInput, Mapping[str, Any]], MakeOptimizer]) -> list[PathCase]:
    """The spec's rows (visible, or all) as cases; ``reference(row, call_kwargs)`` builds the row's reference optimizer."""
    cases = []
    for row in spec.rows(thorough):
        kwargs = path_call_kwargs(row)
        cases.append(PathCase(row.desc, row.landscape, row.start, kwargs, path_n_iters(row, spec.defaults),
                              reference(row, kwargs), positional=tuple(row.positional)))
    return cases


@dataclass(frozen=True)
class PathMistake:
    name: str
    hint: str
    path: Callable[[Fn, torch.Tensor, PathCase], torch.Tensor]


def require_student_function(candidate: Any, exercise: str) -> None:
    """The answer must be the student's own callable, not one of course_utils' or torch's."""
    if not callable(candidate):
        raise CheckFailed(f"{exercise} must be a function, got {type(candidate).__name__}: {candidate!r}")
    module = getattr(candidate, "__module__", "") or ""
    if module.split(".")[0] in {"course_utils", "torch"}:
        raise CheckFailed(f"{exercise} is {module}.{getattr(candidate, '__name__', '?')}; write your own function.")


def _row(tensor: torch.Tensor, k: int) -> str:
    x, y = (float(v) for v in tensor[k])
    return f"({x:.12g}, {y:.12g})"


CALLER_GRAD_MISTAKE = ("it assumes the caller's xy already requires grad and moves that tensor in place "
                       "(the convention of ARENA's version of this exercise)")
CALLER_GRAD_HINT = ("Here the caller hands over a plain tensor, without requires_grad, and expects it back unchanged; "
                    "your function must return the path instead. Which tensor should autograd track, and whose is it?")


def _works_when_caller_gives_grad(run: Callable[[torch.Tensor], Any], start: torch.Tensor) -> bool:
    """Whether the function, which failed on a plain xy, runs when xy already requires grad (ARENA's convention)."""
    try:
        run(start.clone().requires_grad_(True))
    except Exception:  # noqa: BLE001 - the student's code may raise anything; it then is not that mistake
        return False
    return True


def check_path_function(
    student_fn: Callable[..., Any],
    cases: Sequence[PathCase],
    *,
    exercise: str,
    reference_name: str,
    mistakes: Sequence[PathMistake] = (),
    forbid_optim: bool = False,
    device: torch.device,
) -> int:
    """Call ``student_fn(fn, xy, *positional, **kwargs)`` for each case and compare with the reference path.

    Returns the number of rows compared. Raises CheckFailed on a wrong type, a path still attached to
    autograd, on another device, of a wrong shape or dtype, a modified ``xy``, a wrong start row, or the
    first differing row (naming a matching known mistake). A function that fails on a plain ``xy`` but
    runs on one that requires grad is named as ARENA's convention (:data:`CALLER_GRAD_MISTAKE`).
    """
    from course_utils.landscapes import get_landscape

    require_student_function(student_fn, exercise)
    compared = 0
    for case in cases:
        fn = get_landscape(case.landscape)
        start = torch.tensor(case.start, dtype=torch.float64, device=device)
        xy = start.clone()
        args = ", ".join([*(repr(a) for a in case.positional), *(f"{k}={v!r}" for k, v in case.kwargs.items())])
        call = f"{exercise}({case.landscape}, xy=torch.tensor({case.start}, dtype=torch.float64){', ' + args if args else ''})"
        def run(point: torch.Tensor) -> Any:
            if forbid_optim:
                with forbid_torch_optim(exercise):
                    return student_fn(fn, point, *case.positional, **case.kwargs)
            return student_fn(fn, point, *case.positional, **case.kwargs)

        intro = f"{exercise}, case '{case.label}':\n  {call}\n"
        try:
            got = run(xy)
        except CheckFailed:
            raise
        except Exception as error:
            if _works_when_caller_gives_grad(run, start):
                raise CheckFailed(
                    f"{intro}  raised {type(error).__name__}: {error}\n"
                    f"  Your function matches a known mistake: {CALLER_GRAD_MISTAKE}.\n"
                    f"  Hint: {CALLER_GRAD_HINT}"
                ) from None
            raise student_error(exercise, f"in the case '{case.label}': {call}", error) from None
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"{intro}  returned {type(got).__name__}; expected a torch.Tensor of shape ({case.n_iters}, 2). Use torch.stack on the list of points.")
        if got.requires_grad:
            raise CheckFailed(
                f"{intro}  returned a path that is still attached to autograd (requires_grad=True, grad_fn="
                f"{type(got.grad_fn).__name__ if got.grad_fn is not None else None}). The path is a record of points, "
                f"not part of a computation: store detached copies of the points, so that the caller holds no graph."
            )
        if got.device != start.device:
            raise CheckFailed(
                f"{intro}  returned a path on {got.device}, but xy is on {start.device}. Build the path on xy's device "
                f"(the points you store are already there)."
            )
        got = got.detach()
        if tuple(got.shape) != (case.n_iters, 2):
            raise CheckFailed(
                f"{intro}  returned shape {tuple(got.shape)}; expected ({case.n_iters}, 2): one row (x, y) per iteration, "
                f"row k being the point before step k."
            )
        if got.dtype != start.dtype:
            raise CheckFailed(
                f"{intro}  returned {got.dtype}, but the start point is {start.dtype}. Keep the start's dtype "
                f"(clone the points, or build the output with dtype=xy.dtype) so no precision is lost."
            )
        if xy.requires_grad or not tensors_equal(xy.detach(), start):
            raise CheckFailed(
                f"{intro}  changed the caller's xy tensor (now {_row(xy.detach().unsqueeze(0), 0)}, requires_grad={xy.requires_grad}). "
                f"Work on a copy: `xy = xy.detach().clone().requires_grad_(True)`."
            )
        expected = optimizer_path(fn, start, case.make_optimizer, case.n_iters)
        tol = tolerance_for(start.dtype)
        bad_rows = [k for k in range(case.n_iters) if first_mismatch(expected[k], got[k].to(device), tol) is not None]
        if not bad_rows:
            compared += case.n_iters
            continue
        k = bad_rows[0]
        lines = [
            f"{exercise} does not match {reference_name} in the case '{case.label}':",
            f"  {call}",
            f"  First difference in row {k} ({'the start point' if k == 0 else f'the point before step {k}'}):",
            f"    expected: {_row(expected, k)}",
            f"    got:      {_row(got, k)}",
        ]
        for mistake in mistakes:
            replay = mistake.path(fn, start, case)
            if replay.shape == got.shape and all(first_mismatch(replay[r], got[r].to(device), tol) is None for r in range(case.n_iters)):
                lines += [f"  Your numbers match a known mistake: {mistake.name}.", f"  Hint: {mistake.hint}"]
                break
        else:
            lines.append("  No known mistake matches: print the first few rows and redo the first step by hand.")
        raise CheckFailed("\n".join(lines))
    return compared
