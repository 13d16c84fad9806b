"""Probes for functions that return a path on a 2-D landscape, shape ``(n_iters, 2)``, row k before step k."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from course_utils.grading.recheck.observations import Recorder
from course_utils.landscapes import get_landscape

__all__ = ["PathCall", "record_paths", "random_start"]


class PathCall:
    """One call ``fn_under_test(landscape, xy, *positional, **kwargs)`` from a start near ``start``."""

    def __init__(self, label: str, landscape: str, start: tuple[float, float], kwargs: Mapping[str, Any] | None = None,
                 positional: Sequence[Any] = (), jitter: float = 0.2) -> None:
        self.label, self.landscape, self.start = label, landscape, start
        self.kwargs, self.positional, self.jitter = dict(kwargs or {}), tuple(positional), jitter


def random_start(rec: Recorder, tag: int, start: tuple[float, float], jitter: float) -> torch.Tensor:
    """``start`` moved by up to ``jitter`` in each coordinate, drawn from the grading run's seed."""
    offset = (torch.rand(2, generator=rec.generator(tag), dtype=torch.float64) * 2 - 1) * jitter
    return (torch.tensor(start, dtype=torch.float64) + offset).to(rec.device)


def _describe(name: str, call: PathCall, start: torch.Tensor) -> str:
    args = [*(repr(a) for a in call.positional), *(f"{k}={getattr(v, '__name__', v)!r}" for k, v in call.kwargs.items())]
    point = ", ".join(f"{float(v):.4f}" for v in start)
    return f"{name}({call.landscape}, xy=({point}){', ' + ', '.join(args) if args else ''}) [{call.label}]"


def record_paths(rec: Recorder, fn_under_test: Any, name: str, calls: Sequence[PathCall]) -> None:
    """Record each call's returned path and whether the caller's ``xy`` was left alone."""
    for tag, call in enumerate(calls):
        start = random_start(rec, 100 + tag, call.start, call.jitter)
        xy = start.clone()
        where = _describe(name, call, start)
        got = fn_under_test(get_landscape(call.landscape), xy, *call.positional, **call.kwargs)
        if isinstance(got, torch.Tensor):
            got = got.detach()
        rec.record(f"{where}: the returned path", got)
        rec.record(f"{where}: xy left unchanged", (not xy.requires_grad) and bool(torch.equal(xy.detach(), start)))
