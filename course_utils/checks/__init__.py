"""Student-facing checks for every graded exercise.

Each assignment has a module (``course_utils.checks.sgd`` for ``01_sgd``) with one function per
graded test cell. A check prints one line when the answer is right and raises :class:`CheckFailed`
(an ``AssertionError``) with a message that teaches when it is wrong: which configuration, which step,
which parameter, expected against got, and the name of the known mistake the numbers match.

``thorough=True`` runs the longer ladder used by the hidden tests; the visible check already covers
every known mistake, so it never passes an answer the hidden tests would reject for those.

Each chapter's module declares ``ASSIGNMENT`` and is found by it (:func:`checks_for`); its cases come from
the chapter's spec (``course_utils/specs/``) and its known mistakes from ``course_utils/mistakes/``.
"""

from __future__ import annotations

import types

from course_utils.checks.feedback import CheckFailed
from course_utils.specs import module_for

__all__ = ["CheckFailed", "checks_for"]


def checks_for(assignment: str) -> types.ModuleType | None:
    """The checks module of ``assignment`` (the one that declares ``ASSIGNMENT = assignment``), or None."""
    return module_for(__name__, assignment)
