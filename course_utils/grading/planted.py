"""The demo class: typical submissions for each assignment, with the score each must get.

Each chapter's demo class is found, not registered: :func:`planted_for` reads ``demo()`` from the
chapter's module in ``course_utils/mistakes/`` (whose wrong optimizers are the same variant classes the
checks replay, planted as their source text).

``make grade`` with nothing under ``submitted/`` grades these, and the end-to-end tests plant them
through nbgrader. Each :class:`PlantedSubmission` replaces some answer cells of the reference with
wrong code and names the test cells that must lose their points; every other autograded cell must
keep full marks. ``reference`` answers everything with the solution; ``blank`` answers nothing.
"""

from __future__ import annotations

from course_utils.mistakes import BASELINE, BLANK, REFERENCE, PlantedSubmission
from course_utils.specs import module_for

__all__ = ["BASELINE", "PlantedSubmission", "REFERENCE", "BLANK", "planted_for"]


def planted_for(assignment: str) -> tuple[PlantedSubmission, ...]:
    """The demo class of ``assignment``: the reference, a blank notebook, then the chapter's planted mistakes.

    The mistakes come from the ``demo()`` of the ``course_utils/mistakes/`` module that declares
    ``ASSIGNMENT = assignment``; an assignment without one gets only the reference and a blank notebook.
    """
    module = module_for("course_utils.mistakes", assignment)
    return (*BASELINE, *module.demo()) if module is not None else BASELINE
