"""What a probe records about a notebook's code, and how two records are compared.

A probe exercises a student's function or class on inputs drawn from a seed and *records* what comes
out: a list of ``(where, value)`` pairs in the order they happened. ``where`` says in words which
situation the value belongs to ("SGD(params, lr=0.05), float64: parameter 1 after step 3"); ``value``
is plain data: a ``torch.Tensor`` (always a plain tensor, on the CPU), a number, a bool, a string,
``None``, or a list/tuple/dict of those.

The same probe runs on the reference solution in another process with the same seed; the grader
compares the two records with :func:`compare_records` and never runs student code itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from course_utils.tolerances import numbers_close, recheck_tolerance_for

__all__ = ["Recorder", "plain", "compare_records", "read_shared_memory", "memory_facts", "RECORD_ERROR", "TAMPERED", "MEMORY"]

RECORD_ERROR = "__raised__"
"""``where`` of the entry a recorder adds when the probe stopped on an exception."""

TAMPERED = "__tampered__"
"""``where`` of the entry that lists library functions the notebook's code replaced."""

_PLAIN_SCALARS = (bool, int, float, str, type(None))

_DisableTorchFunction = getattr(torch._C, "DisableTorchFunctionSubclass", None)


def _plain_tensor(value: torch.Tensor) -> torch.Tensor:
    """A plain CPU copy of ``value``'s data, whatever tensor subclass or ``__torch_function__`` it has."""
    if _DisableTorchFunction is not None:
        with _DisableTorchFunction():
            copy = torch.Tensor.detach(value).clone().cpu()
    else:  # pragma: no cover - older torch
        copy = torch.Tensor.detach(value).clone().cpu()
    return torch.Tensor.as_subclass(copy, torch.Tensor) if type(copy) is not torch.Tensor else copy


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data that survives ``torch.load(weights_only=True)`` unchanged.

    Tensors (subclasses included) become plain CPU tensors; exact bool/int/float/str/None stay; lists,
    tuples and string-keyed dicts are converted element-wise. Anything else (an object with a
    surprising ``__eq__``, a float subclass, a generator) is recorded only by its type name.
    """
    if depth > 6:
        return "<nested too deeply>"
    kind = type(value)
    if isinstance(value, torch.Tensor):
        return _plain_tensor(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind in (list, tuple):
        return [plain(v, depth + 1) for v in value] if kind is list else tuple(plain(v, depth + 1) for v in value)
    if kind is dict and all(type(k) is str for k in value):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    return f"<object of type {kind.__module__}.{kind.__qualname__}>"


@dataclass
class Recorder:
    """Collects ``(where, value)`` pairs for one probe; handed to the probe as ``rec``."""

    seed: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    entries: list[tuple[str, Any]] = field(default_factory=list)
    memory_dir: Path | None = None  # where shared() puts tensors the grader reads back from outside the process

    def shared(self, values: torch.Tensor, what: str, *, expect: str) -> torch.Tensor:
        """A CPU tensor equal to ``values`` whose memory is a file the grader reads after the process has ended.

        What the code under test does to this tensor's storage is seen from outside, where no code of the
        notebook runs, so the facts it decides cannot be forged by rewriting the record: ``expect="moves"``
        (a parameter: an in-place update changes its memory, a step that swaps in a new tensor leaves it as
        it was) or ``expect="unchanged"`` (a gradient the step must leave alone). The grader judges them
        against the *reference* run's starting values (:func:`memory_facts`). ``what`` names the tensor
        in words. Without ``memory_dir``: a plain copy, and no fact.
        """
        if expect not in MEMORY_EXPECTATIONS:
            raise ValueError(f"expect must be one of {sorted(MEMORY_EXPECTATIONS)}, got {expect!r}")
        values = _plain_tensor(values)
        if self.memory_dir is None:
            return values.clone()
        self.memory_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{len(list(self.memory_dir.glob('*.bin'))):03d}"
        with open(self.memory_dir / f"{stem}.json", "w") as handle:
            json.dump({"what": what, "expect": expect, "dtype": str(values.dtype).replace("torch.", ""),
                       "shape": list(values.shape)}, handle)
        torch.save(values.clone(), self.memory_dir / f"{stem}.start.pt")
        path = self.memory_dir / f"{stem}.bin"
        with open(path, "wb") as handle:
            handle.truncate(max(1, values.numel()) * values.element_size())
        tensor = torch.from_file(str(path), shared=True, size=values.numel(), dtype=values.dtype).view(values.shape)
        tensor.copy_(values)
        return tensor

    def generator(self, tag: int = 0) -> torch.Generator:
        """A CPU generator seeded from the grading run's seed and ``tag`` (the same in both processes)."""
        return torch.Generator().manual_seed((self.seed * 1_000_003 + tag) % (2**63 - 1))

    def record(self, where: str, value: Any) -> None:
        self.entries.append((where, plain(value)))

    def raised(self, error: BaseException) -> None:
        message = str(error)
        self.entries.append((RECORD_ERROR, [type(error).__name__, message[:2000]]))


MEMORY = "__memory__"
"""``where`` prefix of the entries the grader adds for memory it lent out (see :meth:`Recorder.shared`)."""

MEMORY_EXPECTATIONS = {
    "moves": "changed in the memory it started in (an update that is not in place leaves that memory as it was)",
    "unchanged": "left as the grader gave it (its memory was changed: p.grad must stay untouched)",
}


def read_shared_memory(memory_dir: Path) -> list[tuple[str, Any]]:
    """Record entries for the tensors :meth:`Recorder.shared` lent out, read from their files by the grader.

    Each entry is ``(MEMORY + description, {"final": tensor or None, "start": tensor or None})``; turn them
    into facts with :func:`memory_facts`.
    """
    entries: list[tuple[str, Any]] = []
    if not memory_dir.is_dir():
        return entries
    for meta_path in sorted(memory_dir.glob("*.json")):
        final = start = None
        try:
            meta = json.loads(meta_path.read_text())
            what, expect = str(meta["what"]), str(meta["expect"])
            dtype, shape = getattr(torch, str(meta["dtype"])), tuple(int(n) for n in meta["shape"])
            if expect not in MEMORY_EXPECTATIONS or not isinstance(dtype, torch.dtype):
                raise ValueError("damaged")
        except (ValueError, KeyError, TypeError, AttributeError):
            entries.append((MEMORY + "a tensor the grader lent out: its description was damaged", {"final": None, "start": None}))
            continue
        count = math.prod(shape)
        data = meta_path.with_suffix(".bin")
        try:
            if data.stat().st_size >= max(1, count) * torch.empty((), dtype=dtype).element_size():
                final = torch.from_file(str(data), shared=False, size=count, dtype=dtype).view(shape).clone()
            start = torch.load(meta_path.with_suffix(".start.pt"), weights_only=True)
        except (OSError, RuntimeError, ValueError, EOFError):
            pass
        entries.append((f"{MEMORY}{what} {MEMORY_EXPECTATIONS[expect]}", {"final": final, "start": start, "expect": expect}))
    return entries


def memory_facts(record: Sequence[tuple[str, Any]], reference: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``record`` with each memory entry replaced by its fact, judged against ``reference``'s starting values.

    The starting values come from the reference run (same seed, same inputs), never from the process
    under test, which could have rewritten its own copy.
    """
    starts = {where: value.get("start") for where, value in reference if where.startswith(MEMORY) and isinstance(value, dict)}
    facts: list[tuple[str, Any]] = []
    for where, value in record:
        if not where.startswith(MEMORY):
            facts.append((where, value))
            continue
        final = value.get("final") if isinstance(value, dict) else None
        start = starts.get(where)
        fact = False
        if type(final) is torch.Tensor and type(start) is torch.Tensor and final.shape == start.shape and final.dtype == start.dtype:
            same = bool(torch.isclose(final, start, rtol=0.0, atol=0.0, equal_nan=True).all())
            fact = same if value.get("expect") == "unchanged" else not same
        facts.append((where[len(MEMORY):], fact))
    return facts


# --- comparing a student's record with the reference's ----------------------------------------------------


def _tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """The course's table for ``dtype`` (``course_utils/tolerances.py``), doubled: two implementations are compared."""
    tol = recheck_tolerance_for(dtype)
    return tol.rtol, tol.atol


def _fmt(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor {[round(float(v), 6) for v in value.flatten()]} (shape {tuple(value.shape)}, {str(value.dtype).replace('torch.', '')})"
        return f"a tensor of shape {tuple(value.shape)} ({str(value.dtype).replace('torch.', '')})"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _difference(expected: Any, got: Any) -> str | None:
    """None when ``got`` matches ``expected``; otherwise what differs, in words."""
    if isinstance(expected, torch.Tensor):
        if type(got) is not torch.Tensor:
            return f"expected {_fmt(expected)}, got {_fmt(got)}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
        if got.dtype != expected.dtype:
            return f"expected dtype {expected.dtype}, got {got.dtype}"
        if expected.dtype == torch.bool or not (expected.is_floating_point() or expected.is_complex()):
            if torch.equal(expected, got):
                return None
            return f"expected {_fmt(expected)}, got {_fmt(got)}"
        rtol, atol = _tolerance(expected.dtype)
        e, g = expected.double(), got.double()
        close = torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        if bool(close.all()):
            return None
        index = tuple(int(i) for i in (~close).nonzero()[0]) if close.dim() else ()
        where = f" at index {list(index)}" if index else ""
        return f"expected {float(e[index]):.10g}, got {float(g[index]):.10g}{where} (tolerance rtol={rtol:g}, atol={atol:g})"
    if type(expected) is float:
        if type(got) not in (float, int) or type(got) is bool:
            return f"expected the number {expected!r}, got {_fmt(got)}"
        if numbers_close(expected, float(got), recheck_tolerance_for(torch.float64)):
            return None
        return f"expected {expected:.10g}, got {got:.10g}"
    if type(expected) in (list, tuple):
        if type(got) not in (list, tuple):
            return f"expected a sequence of {len(expected)}, got {_fmt(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            inner = _difference(e, g)
            if inner is not None:
                return f"item {i}: {inner}"
        return None
    if type(expected) is dict:
        if type(got) is not dict:
            return f"expected a dict, got {_fmt(got)}"
        if set(got) != set(expected):
            return f"expected keys {sorted(expected)}, got {sorted(got)}"
        for key in expected:
            inner = _difference(expected[key], got[key])
            if inner is not None:
                return f"[{key!r}]: {inner}"
        return None
    if type(got) is type(expected) and got == expected:
        return None
    if type(expected) is int and type(got) is float and float(expected) == got:
        return None
    return f"expected {_fmt(expected)}, got {_fmt(got)}"


def compare_records(expected: Sequence[tuple[str, Any]], got: Sequence[tuple[str, Any]]) -> str | None:
    """None when the student's record matches the reference's, else the first difference in words."""
    for index, (where, value) in enumerate(expected):
        if where == RECORD_ERROR:
            return "the reference solution failed this probe; tell the course maintainers: " + " ".join(map(str, value))
        if index >= len(got):
            return f"{where}: no value was recorded; your code stopped before this point."
        got_where, got_value = got[index]
        if got_where == TAMPERED:
            return ("your code replaced functions the grader relies on (" + ", ".join(map(str, got_value)) +
                    "). Submissions that patch torch, numpy or Python's builtins score nothing.")
        if got_where == RECORD_ERROR:
            type_name, message = (list(got_value) + ["", ""])[:2]
            return f"{where}: your code raised {type_name}: {message}"
        if got_where != where:
            return f"{where}: your code's run went a different way here ({got_where})."
        difference = _difference(value, got_value)
        if difference is not None:
            return f"{where}: {difference}"
    if len(got) > len(expected) and got[len(expected)][0] in (RECORD_ERROR, TAMPERED):
        return compare_records(list(expected) + [("after the last check", None)], got)
    return None
