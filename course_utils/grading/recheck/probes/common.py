"""Building blocks shared by the probes: looking names up, describing calls, recording optimizer runs.

The inputs come from ``course_utils/harness.py`` (the same recipe as the student-facing checks), drawn
from the recorder's seed; everything here works on plain torch and on the notebook's objects only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from course_utils import harness
from course_utils.grading.recheck.observations import Recorder
from course_utils.specs import ExerciseSpec, OptimizerInput

__all__ = ["lookup", "describe_call", "outcome", "random_params", "gradient_recipe", "set_gradients", "record_trajectory",
           "trajectory_probe"]


def lookup(namespace: Mapping[str, Any], name: str) -> Any:
    """The notebook's object called ``name``; NameError (recorded as such) when the notebook lacks it."""
    if name not in namespace:
        raise NameError(f"name '{name}' is not defined by your answer cells")
    return namespace[name]


def outcome(fn: Callable[[], Any]) -> str:
    """What calling ``fn`` does, in words: ``"accepted"``, ``"raises ValueError"``, ``"raises TypeError"``..."""
    try:
        fn()
    except ValueError:
        return "raises ValueError"
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return f"raises {type(error).__name__}"
    return "accepted"


def describe_call(name: str, hyperparams: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in hyperparams.items())
    return f"{name}(params{', ' + args if args else ''})"


def _row(tag: int, shapes: Sequence[tuple[int, ...]], n_steps: int = 1, dtype: torch.dtype = torch.float64) -> OptimizerInput:
    return OptimizerInput("", {}, steps=n_steps, shapes=tuple(tuple(s) for s in shapes), dtype=dtype, seed=tag)


def random_params(rec: Recorder, tag: int, shapes: Sequence[tuple[int, ...]], dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    """Parameters of ``shapes`` drawn from the recorder's seed (:func:`course_utils.harness.make_params`)."""
    return harness.make_params(_row(tag, shapes, dtype=dtype), rec.device, rec.generator)


def gradient_recipe(rec: Recorder, tag: int, shapes: Sequence[tuple[int, ...]], n_steps: int, dtype: torch.dtype = torch.float64):
    """(curvature per parameter, noise[step][parameter]) drawn from the seed (:func:`course_utils.harness.gradient_terms`)."""
    return harness.gradient_terms(_row(tag, shapes, n_steps, dtype), rec.device, rec.generator)


set_gradients = harness.set_gradients


def record_trajectory(rec: Recorder, optimizer_class: Any, case: OptimizerInput, tag: int | None = None, *, class_name: str) -> None:
    """Step ``optimizer_class(params, **kwargs)`` on the row and record every parameter after every step.

    The draws use ``tag`` when given (chapters not yet on a spec), else the row's own seed.
    """
    row = case if tag is None else OptimizerInput(case.desc, case.kwargs, steps=case.steps, shapes=case.shapes, dtype=case.dtype, seed=tag)
    where = f"{describe_call(class_name, row.kwargs)} ({row.desc}, {str(row.dtype).replace('torch.', '')})"

    def record(step: int, params: list[torch.Tensor]) -> None:
        for index, p in enumerate(params):
            rec.record(f"{where}: parameter {index} (shape {tuple(p.shape)}) after step {step}", p)

    harness.run_optimizer(lambda ps: optimizer_class(ps, **row.kwargs), row, rec.device, seeds=rec.generator, on_step=record)


def trajectory_probe(spec: ExerciseSpec):
    """The probe of an ``"optimizer"`` spec: the class's parameters after every step of every row.

    With ``spec.check_defaults`` it first records what is wrong with the constructor's defaults (None
    for the reference), as the check reads them.
    """
    from course_utils.grading.recheck.probes import Probe

    name = spec.names[0]
    rows = spec.rows(thorough=True)

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        optimizer_class = lookup(ns, name)
        if spec.check_defaults:
            rec.record(f"{name}'s constructor takes the exercise's hyper-parameters with their defaults",
                       harness.signature_problem(optimizer_class, name, spec.defaults))
        for row in rows:
            record_trajectory(rec, optimizer_class, row, class_name=name)

    return Probe(run, spec.summary, allow_torch_optim=spec.allow_torch_optim)
