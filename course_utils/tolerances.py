"""The course's one tolerance table: how close a computed tensor must be to the one it is compared with.

Every numeric comparison of the course reads :func:`tolerance_for`: the student-facing checks
(``course_utils/checks/``), the contract facts the harness measures (``course_utils/harness.py``), and the
independent re-check's comparison of two records (``course_utils/grading/recheck/observations.py``).

==========  =========  =========  ================================================================
dtype       rtol       atol       why
==========  =========  =========  ================================================================
float64     1e-9       1e-12      room only for a different but equivalent order of operations
float32     2e-5       1e-6       a few units in the last place after tens of steps
other       1e-2       1e-3       float16 / bfloat16 (no exercise uses them yet)
==========  =========  =========  ================================================================

One written difference: the re-check compares the student's run with the *reference solution's* run,
not with ``torch.optim``. Both are within the table's tolerance of ``torch.optim`` when the checks pass,
so by the triangle inequality they are within twice it of each other; :func:`recheck_tolerance_for`
is the table with both terms doubled (``RECHECK_FACTOR``), never looser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Tolerance", "tolerance_for", "recheck_tolerance_for", "RECHECK_FACTOR", "numbers_close"]


@dataclass(frozen=True)
class Tolerance:
    """Elementwise tolerance ``|got - expected| <= atol + rtol * |expected|``."""

    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"

    def scaled(self, factor: float) -> "Tolerance":
        return Tolerance(self.rtol * factor, self.atol * factor)


_TABLE: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(rtol=1e-9, atol=1e-12),
    torch.float32: Tolerance(rtol=2e-5, atol=1e-6),
}
_OTHER = Tolerance(rtol=1e-2, atol=1e-3)

RECHECK_FACTOR = 2.0
"""The re-check compares two implementations that each sit within the table of torch.optim (see above)."""


def tolerance_for(dtype: torch.dtype) -> Tolerance:
    """The tolerance for comparing a computation against its reference in ``dtype``."""
    return _TABLE.get(dtype, _OTHER)


def recheck_tolerance_for(dtype: torch.dtype) -> Tolerance:
    """The tolerance for comparing the student's record with the reference solution's (twice the table)."""
    return tolerance_for(dtype).scaled(RECHECK_FACTOR)


def numbers_close(expected: float, got: float, tol: Tolerance) -> bool:
    """Python floats (a loss, a learning rate) compared like float64 tensors; NaN matches NaN."""
    if expected == got or (math.isnan(expected) and math.isnan(got)):
        return True
    return abs(got - expected) <= tol.atol + tol.rtol * abs(expected)
