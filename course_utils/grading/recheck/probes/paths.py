"""Probes for functions that return a path on a 2-D landscape, shape ``(n_iters, 2)``, row k before step k."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from course_utils import harness
from course_utils.grading.recheck.observations import Recorder
from course_utils.landscapes import get_landscape
from course_utils.specs import ExerciseSpec, PathInput

__all__ = ["record_paths", "path_probe"]


def _describe(name: str, call: PathInput, start: torch.Tensor) -> str:
    args = [*(repr(a) for a in call.positional), *(f"{k}={getattr(v, '__name__', v)!r}" for k, v in call.kwargs.items())]
    point = ", ".join(f"{float(v):.4f}" for v in start)
    return f"{name}({call.landscape}, xy=({point}){', ' + ', '.join(args) if args else ''}) [{call.desc}]"


def record_paths(rec: Recorder, fn_under_test: Any, name: str, calls: Sequence[PathInput]) -> None:
    """Record each call's returned path, whether it is detached on xy's device and dtype, and whether xy was left alone."""
    for tag, call in enumerate(calls):
        start = harness.path_start(call, rec.device, rec.generator, tag)
        xy = start.clone()
        kwargs = harness.path_call_kwargs(call)
        where = _describe(name, PathInput(call.desc, call.landscape, call.start, kwargs, call.positional), start)
        got = fn_under_test(get_landscape(call.landscape), xy, *call.positional, **kwargs)
        rec.record(f"{where}: the path is detached, on xy's device and in xy's dtype",
                   isinstance(got, torch.Tensor) and not got.requires_grad and got.device == start.device and got.dtype == start.dtype)
        if isinstance(got, torch.Tensor):
            got = got.detach()
        rec.record(f"{where}: the returned path", got)
        rec.record(f"{where}: xy left unchanged", (not xy.requires_grad) and bool(torch.equal(xy.detach(), start)))


def path_probe(spec: ExerciseSpec):
    """The probe of a ``"path"`` spec: every row's returned path from a start drawn near the row's.

    Rows that hand the function one of torch.optim's classes are left out unless the spec allows
    torch.optim: the probe then runs where torch.optim is locked (``course_utils/grading/recheck/sandbox.py``).
    """
    from course_utils.grading.recheck.probes import Probe
    from course_utils.grading.recheck.probes.common import lookup

    name = spec.names[0]
    rows = [row for row in spec.rows(thorough=True) if spec.allow_torch_optim or not row.needs_torch_optim]

    def run(rec: Recorder, ns: Mapping[str, Any]) -> None:
        record_paths(rec, lookup(ns, name), name, rows)

    return Probe(run, spec.summary, allow_torch_optim=spec.allow_torch_optim)
