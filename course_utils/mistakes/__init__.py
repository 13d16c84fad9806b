"""Known mistakes, each a small variant of one plain reference implementation.

A chapter's module (``course_utils/mistakes/sgd.py``) declares ``ASSIGNMENT`` and writes the reference
algorithm once, as a class whose ``step()`` is a few small methods; each known mistake is a subclass
that overrides exactly one of them and says, in ``mistake`` and ``hint``, what it is and how to fix it.

The same variants serve twice:

- the checks (``course_utils/checks/``) replay the ``NUMERIC`` variants on the configuration a student's
  answer failed, and name the one whose numbers match the student's;
- the demo class (``DEMO``, read by ``course_utils/grading/planted.py``) plants them as submissions, their
  cell's source being the reference's and the variant's own source text (:func:`variant_source`).

The module holds reference formulas, so the hardened re-check process hides this package too
(``course_utils/grading/recheck/sandbox.py``).
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PlantedSubmission", "variant_source", "reference_source", "REFERENCE", "BLANK", "BASELINE"]

REFERENCE = "reference"
BLANK = "blank"


@dataclass(frozen=True)
class PlantedSubmission:
    """One submission of the demo class: answer cells replaced, and the test cells that must lose their points."""

    student_id: str
    description: str
    replacements: Mapping[str, Any] = field(default_factory=dict)  # answer cell grade_id -> source, or edit(old, new) of the reference
    loses: frozenset[str] = frozenset()  # test cell grade_ids that must score zero ("*" = every one)
    blank: bool = False


BASELINE = (
    PlantedSubmission(REFERENCE, "the reference solution", loses=frozenset()),
    PlantedSubmission(BLANK, "the released notebook, unanswered", loses=frozenset({"*"}), blank=True),
)
"""Every demo class starts with these two: full marks and zero."""


def _source(cls: type) -> str:
    return textwrap.dedent(inspect.getsource(cls))


def reference_source(reference: type, class_name: str) -> str:
    """An answer cell defining ``class_name`` as the reference itself (its bases' source first)."""
    return _cell(reference, class_name)


def variant_source(variant: type, class_name: str) -> str:
    """An answer cell defining ``class_name`` as the mistake ``variant``.

    The cell holds the source text of the variant's base classes as written in ``course_utils/mistakes/``
    (the reference, and what it builds on), then the variant's own class renamed ``class_name``: what
    is planted is exactly what the checks replay.
    """
    return _cell(variant, class_name)


def _cell(cls: type, class_name: str) -> str:
    bases = [c for c in reversed(cls.__mro__[1:]) if c is not object]
    parts = [_source(base) for base in bases]
    own = _source(cls)
    head = f"class {cls.__name__}"
    if not own.startswith(head):
        raise ValueError(f"{cls.__name__}: its source must start with `{head}`")
    parts.append(f"class {class_name}" + own[len(head):])
    return "\n\n".join(parts)
