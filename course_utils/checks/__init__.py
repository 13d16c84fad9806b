"""Student-facing checks for every graded exercise.

Each assignment has a module (``course_utils.checks.sgd`` for ``01_sgd``) with one function per
graded test cell. A check prints one line when the answer is right and raises :class:`CheckFailed`
(an ``AssertionError``) with a message that teaches when it is wrong: which configuration, which step,
which parameter, expected against got, and the name of the known mistake the numbers match.

``thorough=True`` runs the longer ladder used by the hidden tests; the visible check already covers
every known mistake, so it never passes an answer the hidden tests would reject for those.

Each chapter's module declares ``ASSIGNMENT`` and is found by it (:func:`checks_for`); its cases come from
the chapter's spec (``course_utils/specs/``) and its known mistakes from ``course_utils/mistakes/``. A
chapter whose cells are all optimizer and contract cells has its checks built from the spec instead
(``course_utils/checks/generic.py``), imported the same way: ``from course_utils.checks import nadam as checks``.
"""

from __future__ import annotations

import importlib
import types

from course_utils.checks.feedback import CheckFailed
from course_utils.specs import module_for

__all__ = ["CheckFailed", "checks_for"]

_BUILT: dict[str, types.ModuleType] = {}


def checks_for(assignment: str) -> types.ModuleType | None:
    """The checks of ``assignment``: the module that declares ``ASSIGNMENT = assignment``, else one built from its spec.

    A chapter whose cells are all ``"optimizer"`` and ``"contract"`` ones needs no module of its own
    (``course_utils/checks/generic.py``); None when there is neither.
    """
    module = module_for(__name__, assignment)
    if module is None:
        from course_utils.checks.generic import spec_checks

        if assignment not in _BUILT:
            built = spec_checks(assignment)
            if built is None:
                return None
            _BUILT[assignment] = built
        module = _BUILT[assignment]
    return module


def __getattr__(name: str) -> types.ModuleType:
    """``from course_utils.checks import nadam as checks``: the checks of the chapter whose spec is ``course_utils/specs/nadam.py``.

    Only for a chapter without a checks module of its own; its checks are built from the spec
    (``course_utils/checks/generic.py``). In the re-check process this package is hidden, and the same
    line gets an empty stand-in, as for every other chapter.
    """
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        spec_module = importlib.import_module(f"course_utils.specs.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"course_utils.specs.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    assignment = getattr(spec_module, "ASSIGNMENT", None)
    module = checks_for(assignment) if isinstance(assignment, str) else None
    if module is None:
        raise AttributeError(f"no checks for course_utils/specs/{name}.py: a cell of another kind than optimizer or contract needs "
                             "a checks module (course_utils/checks/<name>.py)")
    return module
