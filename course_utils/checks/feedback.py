"""How checks report: the exception they raise and the formatting of tensors in messages.

Everything here captures the torch functions it needs at import time, so a student who later
replaces ``torch.allclose`` or ``torch.testing.assert_close`` in the notebook changes nothing here.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
import torch

from course_utils.tolerances import Tolerance, tolerance_for

__all__ = [
    "CheckFailed",
    "Tolerance",
    "tolerance_for",
    "first_mismatch",
    "describe_mismatch",
    "quiet",
    "passed",
    "tensors_equal",
]

# Captured once, before any student code runs in the kernel.
_isclose = torch.isclose
_abs = torch.abs
_isfinite = torch.isfinite
_equal = torch.equal


def tensors_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exact equality of values (``torch.equal`` as it was before any student code ran)."""
    return bool(_equal(a, b))


class CheckFailed(AssertionError):
    """A check found a wrong answer. The message says what was checked, what was expected and what came out."""

    def __init__(self, message: str) -> None:
        super().__init__("\n" + message.strip("\n"))

    def _render_traceback_(self) -> list[str]:
        """What IPython (JupyterLab, Colab, nbgrader's kernel) shows: the message alone, no traceback into the checks."""
        return ["CheckFailed:", *str(self.args[0]).strip("\n").splitlines()]


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """A detached, plain (non-subclass) CPU copy, so comparisons never run student-defined tensor code."""
    data = tensor.detach()
    if type(data) is not torch.Tensor:
        data = torch.Tensor._make_subclass(torch.Tensor, data)  # strip a subclass's overrides
    return data.to("cpu", copy=True)


def first_mismatch(expected: torch.Tensor, got: torch.Tensor, tol: Tolerance) -> tuple[int, ...] | None:
    """Index of the first element where ``got`` is not within ``tol`` of ``expected``; None when all match.

    Shapes must already agree. Non-finite values match only the same non-finite value.
    """
    e, g = _plain(expected), _plain(got).to(expected.dtype)
    if e.numel() == 0:
        return None
    close = _isclose(g, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    if bool(close.all()):
        return None
    flat = int((~close).reshape(-1).nonzero()[0, 0])
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), e.shape)) if e.dim() else ()


def _fmt(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.12g}"


def describe_mismatch(expected: torch.Tensor, got: torch.Tensor, index: tuple[int, ...], tol: Tolerance) -> str:
    """A few indented lines: the first differing element, expected vs got, and the largest difference."""
    e, g = _plain(expected), _plain(got).to(expected.dtype)
    where = f" at index {index}" if index else ""
    diff = _abs(g - e)
    finite = _isfinite(diff)
    largest = float(diff[finite].max()) if bool(finite.any()) else float("nan")
    lines = [
        f"    expected{where}: {_fmt(float(e[index]))}",
        f"    got{where}:      {_fmt(float(g[index]))}",
        f"    largest difference in this tensor: {largest:.3g} (allowed: {tol})",
    ]
    if not bool(_isfinite(g).all()):
        lines.append("    your result contains inf or nan values")
    return "\n".join(lines)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Python warnings while a check runs: any stderr in an nbgrader test cell scores zero."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def passed(message: str) -> None:
    """Report a passed check with one line on stdout (checks return None: a value would be read as partial credit)."""
    print(f"\u2714 {message}")
