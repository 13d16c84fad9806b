"""Argument checks shared by ``course_utils``.

Each function raises ``TypeError`` or ``ValueError`` with a message that names the argument, says
what it got and what was expected, in the style of ``torch.optim`` (``Invalid learning rate: -1.0``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__ = [
    "require_callable",
    "require_iterable_of_tensors",
    "require_learning_rate",
    "require_number",
    "require_positive_int",
    "require_tensor",
    "require_xy",
]


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def require_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a float after checking it is a finite real number inside the given bounds."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"Invalid {name}: {value} (expected a finite number)")
    if minimum is not None and (value < minimum or (value == minimum and not min_inclusive)):
        bound = ">=" if min_inclusive else ">"
        raise ValueError(f"Invalid {name}: {value} (expected {name} {bound} {minimum})")
    if maximum is not None and (value > maximum or (value == maximum and not max_inclusive)):
        bound = "<=" if max_inclusive else "<"
        raise ValueError(f"Invalid {name}: {value} (expected {name} {bound} {maximum})")
    return value


def require_learning_rate(lr: Any, name: str = "learning rate") -> float:
    """Return ``lr`` as a float; it must be a finite number >= 0."""
    return require_number(lr, name, minimum=0.0)


def require_positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an int; it must be a whole number > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_describe(value)}")
    value = int(value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"Invalid {name}: {value} (expected {'>= 0' if allow_zero else '> 0'})")
    return value


def require_tensor(
    value: Any,
    name: str,
    *,
    shape: Sequence[int | None] | None = None,
    floating: bool = False,
) -> torch.Tensor:
    """Check ``value`` is a tensor, optionally of a given shape (``None`` matches any size) and floating dtype."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(value)}")
    if shape is not None:
        ok = value.dim() == len(shape) and all(
            want is None or got == want for got, want in zip(value.shape, shape)
        )
        if not ok:
            wanted = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ValueError(f"{name} must have shape {wanted}, got shape {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype (float32 or float64), got {value.dtype}")
    return value


def require_xy(xy: Any, name: str = "xy") -> torch.Tensor:
    """Check ``xy`` is a floating-point tensor of shape ``(2,)``: a point ``(x, y)`` on a landscape."""
    return require_tensor(xy, name, shape=(2,), floating=True)


def require_callable(value: Any, name: str) -> Callable[..., Any]:
    """Check ``value`` can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {_describe(value)}")
    return value


def require_iterable_of_tensors(params: Any, name: str = "params") -> list[torch.Tensor]:
    """Materialise ``params`` (any iterable of tensors, a generator included) into a list.

    A single tensor is rejected, as ``torch.optim`` does: iterating over it would yield its rows.
    """
    if isinstance(params, torch.Tensor):
        raise TypeError(
            f"{name} must be an iterable of tensors, got a single tensor of shape {tuple(params.shape)}; "
            f"wrap it in a list: [{name}]"
        )
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(f"{name} must be an iterable of tensors, got {_describe(params)}")
    items = list(params)
    if not items:
        raise ValueError(f"{name} is empty: an optimizer needs at least one tensor to update")
    for index, item in enumerate(items):
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"{name}[{index}] must be a torch.Tensor, got {_describe(item)}")
    return items
