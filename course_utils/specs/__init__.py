"""One declarative table per chapter: what each graded test cell exercises, and on which inputs.

Modelled on PyTorch's own optimizer test database (its ``OptimizerInfo``, ``OptimizerInput(params,
kwargs, desc)`` and ``ErrorOptimizerInput(error_type, error_regex)``). A chapter's module (``course_utils/specs/sgd.py``) declares ``ASSIGNMENT = "01_sgd"``
and ``EXERCISES``, one :class:`ExerciseSpec` per graded test cell keyed by its grade_id. Each spec
holds the cell's cases (rows; ``hidden=True`` rows run only in the hidden test and the re-check),
defaults, contract hyper-parameters and the inputs that must be rejected.

A spec holds **no expected values** and no reference formula, so it is safe to import in the
student's kernel and in the hardened re-check process. The student-facing checks
(``course_utils/checks/``) and the re-check's probes (``course_utils/grading/recheck/probes/``) both
read it through :func:`spec_for`; the inputs are built and run by ``course_utils/harness.py``.

Discovery: :func:`spec_for` scans this package for the module whose ``ASSIGNMENT`` matches; there is
no list to keep. :func:`modules_declaring` does the same for any package (checks, probes, mistakes).
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "OptimizerInput",
    "ErrorOptimizerInput",
    "PathInput",
    "EpochInput",
    "ExerciseSpec",
    "exercises",
    "spec_for",
    "modules_declaring",
    "module_for",
    "assignments",
]

DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((3,), (2, 4), (4, 1, 2))


@dataclass(frozen=True)
class OptimizerInput:
    """One configuration of an optimizer class: its keyword arguments and the parameters it steps.

    ``kwargs`` empty means the class's own defaults. The harness draws ``shapes`` parameters of
    ``dtype`` and a gradient per step from ``seed`` (``course_utils/harness.py``).
    """

    desc: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 5
    shapes: tuple[tuple[int, ...], ...] = DEFAULT_SHAPES
    dtype: torch.dtype = torch.float64
    seed: int = 0
    hidden: bool = False


@dataclass(frozen=True)
class ErrorOptimizerInput:
    """Constructor arguments that must be rejected with ``error_type`` whose message matches ``error_regex``.

    An empty ``error_regex`` accepts any message (the course's exercises do not prescribe the wording).
    ``about``: the argument the row is about, when ``kwargs`` also holds valid ones (a row about
    ``momentum`` gives a valid ``lr`` too, so that a missing lr is not the error raised); by default
    the first key of ``kwargs``.
    """

    kwargs: Mapping[str, Any]
    error_type: type[BaseException] = ValueError
    error_regex: str = ""
    desc: str = ""
    about: str = ""

    @property
    def argument(self) -> str:
        """The name of the argument whose value must be rejected (named in the checks' messages)."""
        return self.about or next(iter(self.kwargs), "argument")


@dataclass(frozen=True)
class PathInput:
    """One call ``fn(landscape, xy, *positional, **kwargs)`` of a function that returns a path.

    ``start`` is the point the visible and hidden checks use as it is; the re-check moves it by up to
    ``jitter`` in each coordinate, drawn from the grading run's seed. An ``optimizer_class`` in
    ``kwargs`` is written as a name (``"torch.optim.Adam"``, or one of the harness's own classes,
    ``"HeavyBall"``) that :func:`course_utils.harness.grader_optimizer` resolves.
    """

    desc: str
    landscape: str
    start: tuple[float, float]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    positional: tuple[Any, ...] = ()
    hidden: bool = False
    jitter: float = 0.2

    @property
    def needs_torch_optim(self) -> bool:
        """Whether the call hands the student's function one of torch.optim's classes."""
        return str(self.kwargs.get("optimizer_class", "")).startswith("torch.optim.")


@dataclass(frozen=True)
class EpochInput:
    """One epoch of minibatch SGD by hand on linear regression: ``n`` samples of ``d`` features."""

    n: int
    d: int
    batch_size: int
    lr: float
    seed: int = 0
    hidden: bool = False


@dataclass(frozen=True)
class ExerciseSpec:
    """Everything one graded test cell exercises, without a single expected value.

    ``names``: the notebook names its check is called with, in order. ``kind``: ``"optimizer"``
    (trajectories of :class:`OptimizerInput`), ``"contract"``, ``"path"`` (:class:`PathInput`),
    ``"epoch"`` (:class:`EpochInput`) or ``"custom"``. ``defaults``: the defaults the exercise's
    signature must have. ``contract_kwargs``: hyper-parameters that switch every piece of state on, for
    the contract. ``errors``: inputs the constructor must reject. ``allow_torch_optim``: torch.optim
    classes the exercise is meant to use (``"*"``: any). ``limits``: the exercise's stated bounds
    (the challenge's distance and step budget). ``check_defaults``: this cell also grades the
    constructor's signature against ``defaults``. ``reference``: for an ``"optimizer"`` cell, the
    torch.optim class the student's class is compared with (``"torch.optim.NAdam"``), built with
    ``defaults``, ``reference_kwargs`` (fixed options such as ``nesterov=False``) and the row's kwargs;
    a chapter whose cells are all ``"optimizer"`` and ``"contract"`` ones needs no checks or probes
    module of its own (``course_utils/checks/generic.py``).
    """

    grade_id: str
    names: tuple[str, ...]
    summary: str
    kind: str = "custom"
    cases: tuple[Any, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    contract_kwargs: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[ErrorOptimizerInput, ...] = ()
    allow_torch_optim: tuple[str, ...] = ()
    limits: Mapping[str, Any] = field(default_factory=dict)
    check_defaults: bool = False
    reference: str = ""
    reference_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def rows(self, thorough: bool) -> tuple[Any, ...]:
        """The visible rows, or every row (the hidden test and the re-check)."""
        return tuple(self.cases) if thorough else tuple(c for c in self.cases if not getattr(c, "hidden", False))

    def error_rows(self, thorough: bool) -> tuple[Any, ...]:
        """The visible rejected-input rows, or every one (the hidden test and the re-check)."""
        return tuple(self.errors) if thorough else tuple(e for e in self.errors if not getattr(e, "hidden", False))


def exercises(*specs: ExerciseSpec) -> dict[str, ExerciseSpec]:
    """``{grade_id: spec}``, refusing two specs for one test cell."""
    table: dict[str, ExerciseSpec] = {}
    for spec in specs:
        if spec.grade_id in table:
            raise ValueError(f"two specs for the test cell {spec.grade_id!r}")
        table[spec.grade_id] = spec
    return table


def modules_declaring(package: str) -> dict[str, types.ModuleType]:
    """``{ASSIGNMENT: module}`` for every module directly inside ``package`` that declares ``ASSIGNMENT``."""
    root = importlib.import_module(package)
    found: dict[str, types.ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        assignment = getattr(module, "ASSIGNMENT", None)
        if isinstance(assignment, str):
            if assignment in found:
                raise ValueError(f"{package}: both {found[assignment].__name__} and {module.__name__} declare {assignment!r}")
            found[assignment] = module
    return found


def module_for(package: str, assignment: str) -> types.ModuleType | None:
    """The module of ``package`` that declares ``ASSIGNMENT = assignment``; None when there is none."""
    return modules_declaring(package).get(assignment)


def spec_for(assignment: str) -> Mapping[str, ExerciseSpec]:
    """``{test cell grade_id: ExerciseSpec}`` for ``assignment``; empty for a chapter without a spec."""
    module = module_for(__name__, assignment)
    return {} if module is None else module.EXERCISES


def assignments() -> list[str]:
    """Every assignment that has a spec module."""
    return sorted(modules_declaring(__name__))
