"""Probes: the independent checks of every autograded test cell, one registry per assignment.

A :class:`Probe` exercises the notebook's objects (looked up by name in the namespace the answer cells
filled) on inputs drawn from the recorder's seed, and records what comes out. It holds no expected
value and no reference formula: the same probe runs on the reference solution in a separate process,
and the grader compares the two records. Probes use only torch and the public parts of course_utils,
so they run in the hardened student process where torch.optim and ``course_utils.checks`` are gone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from course_utils.grading.recheck.observations import Recorder

__all__ = ["Probe", "probes_for", "PROBE_MODULES"]


@dataclass(frozen=True)
class Probe:
    """The independent check of one test cell.

    ``run(rec, namespace)`` records observations; ``allow_torch_optim`` names torch.optim classes the
    exercise is meant to use (those probes run in a second student process where they are left alone).
    """

    run: Callable[[Recorder, Mapping[str, Any]], None]
    summary: str
    allow_torch_optim: tuple[str, ...] = ()


PROBE_MODULES: Mapping[str, str] = {
    "01_sgd": "course_utils.grading.recheck.probes.sgd",
    "02_rmsprop_adam": "course_utils.grading.recheck.probes.rmsprop_adam",
    "03_adamw": "course_utils.grading.recheck.probes.adamw",
    "04_param_groups": "course_utils.grading.recheck.probes.param_groups",
    "05_schedulers": "course_utils.grading.recheck.probes.schedulers",
}


def probes_for(assignment: str) -> Mapping[str, Probe]:
    """``{test cell grade_id: Probe}`` for ``assignment``; empty for an assignment without probes."""
    name = PROBE_MODULES.get(assignment)
    if name is None:
        return {}
    return importlib.import_module(name).PROBES
