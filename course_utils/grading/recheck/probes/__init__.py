"""Probes: the independent checks of every autograded test cell, one module per assignment.

A chapter's probe module declares ``ASSIGNMENT`` and ``PROBES`` (``{test cell grade_id: Probe}``), and is
found by that declaration (:func:`probes_for` scans this package): nothing to register. The inputs of
each probe are the rows of the chapter's spec (``course_utils/specs/``), built and run by
``course_utils/harness.py``, the same as the student-facing checks.

A :class:`Probe` exercises the notebook's objects (looked up by name in the namespace the answer cells
filled) on inputs drawn from the recorder's seed, and records what comes out. It holds no expected
value and no reference formula: the same probe runs on the reference solution in a separate process,
and the grader compares the two records. Probes use only torch and the public parts of course_utils,
so they run in the hardened student process where torch.optim and ``course_utils.checks`` are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from course_utils.grading.recheck.observations import Recorder
from course_utils.specs import module_for

__all__ = ["Probe", "probes_for"]


@dataclass(frozen=True)
class Probe:
    """The independent check of one test cell.

    ``run(rec, namespace)`` records observations; ``allow_torch_optim`` names torch.optim classes the
    exercise is meant to use (those probes run in a second student process where they are left alone).
    """

    run: Callable[[Recorder, Mapping[str, Any]], None]
    summary: str
    allow_torch_optim: tuple[str, ...] = ()


def probes_for(assignment: str) -> Mapping[str, Probe]:
    """``{test cell grade_id: Probe}`` for ``assignment``; empty for an assignment without probes.

    Without a module of its own, a chapter's ``"optimizer"``, ``"contract"`` and ``"path"`` cells get the
    probes their spec describes (a cell of another kind then has none, which tests/test_specs.py reports).
    """
    module = module_for(__name__, assignment)
    if module is not None:
        return module.PROBES
    from course_utils.grading.recheck.probes.common import trajectory_probe
    from course_utils.grading.recheck.probes.contract import contract_probe
    from course_utils.grading.recheck.probes.paths import path_probe
    from course_utils.specs import spec_for

    build = {"optimizer": trajectory_probe, "contract": contract_probe, "path": path_probe}
    return {cell: build[e.kind](e) for cell, e in spec_for(assignment).items() if e.kind in build}
