"""Building blocks shared by the probes: drawing inputs from the recorder's seed and stepping optimizers.

Everything here works on plain torch and on the notebook's objects only. Gradients follow the same
recipe as the in-notebook checks: at every step ``grad = c * p + noise`` for each parameter (a noisy
diagonal quadratic), computed from that run's current parameter, and assigned as a fresh tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder

__all__ = ["lookup", "describe_call", "outcome", "random_params", "gradient_recipe", "set_gradients", "record_trajectory", "OptimizerCase"]


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


def random_params(rec: Recorder, tag: int, shapes: Sequence[tuple[int, ...]], dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    gen = rec.generator(tag)
    return [torch.randn(shape, generator=gen, dtype=dtype).to(rec.device).requires_grad_(True) for shape in shapes]


def gradient_recipe(rec: Recorder, tag: int, shapes: Sequence[tuple[int, ...]], n_steps: int, dtype: torch.dtype = torch.float64):
    """(curvature per parameter, noise[step][parameter]) drawn from the seed."""
    gen = rec.generator(10_000 + tag)
    curvature = [(0.5 + 1.5 * torch.rand(s, generator=gen, dtype=dtype)).to(rec.device) for s in shapes]
    noise = [[(0.3 * torch.randn(s, generator=gen, dtype=dtype)).to(rec.device) for s in shapes] for _ in range(n_steps)]
    return curvature, noise


def set_gradients(params: Sequence[torch.Tensor], curvature: Sequence[torch.Tensor], noise: Sequence[torch.Tensor]) -> None:
    """Give each parameter a fresh gradient ``c * p + noise`` from its current value (one step of the recipe)."""
    with torch.no_grad():
        for p, c, n in zip(params, curvature, noise):
            p.grad = c * p.detach() + n


class OptimizerCase:
    """One configuration: hyper-parameters, parameter shapes, number of steps and dtype."""

    def __init__(self, label: str, hyperparams: Mapping[str, Any], *, n_steps: int = 5,
                 shapes: Sequence[tuple[int, ...]] = ((3,), (2, 4), (4, 1, 2)), dtype: torch.dtype = torch.float64) -> None:
        self.label, self.hyperparams, self.n_steps, self.shapes, self.dtype = label, dict(hyperparams), n_steps, tuple(shapes), dtype


def record_trajectory(rec: Recorder, optimizer_class: Any, case: OptimizerCase, tag: int, *, class_name: str) -> None:
    """Step ``optimizer_class(params, **hyperparams)`` and record every parameter after every step."""
    params = random_params(rec, tag, case.shapes, case.dtype)
    curvature, noise = gradient_recipe(rec, tag, case.shapes, case.n_steps, case.dtype)
    optimizer = optimizer_class(params, **case.hyperparams)
    where = f"{describe_call(class_name, case.hyperparams)} ({case.label}, {str(case.dtype).replace('torch.', '')})"
    for step in range(case.n_steps):
        set_gradients(params, curvature, noise[step])
        optimizer.step()
        for index, p in enumerate(params):
            rec.record(f"{where}: parameter {index} (shape {tuple(p.shape)}) after step {step + 1}", p)
