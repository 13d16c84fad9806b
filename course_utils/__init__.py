"""Helpers for the course *Optimizers, by hand*.

Submodules (imported on first use, so ``import course_utils`` stays fast):

- ``landscapes``  loss surfaces of two variables with their known minima
- ``plotting``    plotly and matplotlib figures of landscapes, trajectories and curves
- ``widgets``     ipywidgets explorers
- ``data``        scikit-learn's bundled data sets as tensors
- ``models``      small models used in the notebooks
- ``training``    a plain training loop with a progress bar
- ``device``      device selection and seeding
- ``validation``  argument checks with messages that say what was expected
- ``checks``      student-facing checks for every graded exercise
- ``grading``     the nbgrader pipeline (release, grade, feedback, export)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "checks",
    "data",
    "device",
    "grading",
    "landscapes",
    "models",
    "plotting",
    "training",
    "validation",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
