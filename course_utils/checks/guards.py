"""Guards that make an exercise score nothing when it hands the work to ``torch.optim``.

Two ways to use ``torch.optim`` in place of one's own update are caught here:

- subclassing one of its optimizers (``class SGD(torch.optim.SGD)``), found in the class's MRO;
- calling one, directly or through a wrapper (an object that builds ``torch.optim.SGD`` inside, or a
  call to the functional kernels such as ``torch.optim.sgd.sgd``), found by :func:`forbid_torch_optim`,
  which swaps every optimizer's ``__init__``/``step`` and every functional kernel for a tripwire while
  the student's code runs, and records each hit even when the student catches the exception.

Subclassing the *base* class ``torch.optim.Optimizer`` is allowed: that is how PyTorch says custom
optimizers should be written.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import torch
import torch.optim

from course_utils.checks.feedback import CheckFailed

__all__ = ["TorchOptimUsed", "torch_optimizer_classes", "require_own_implementation", "forbid_torch_optim"]


class TorchOptimUsed(RuntimeError):
    """Raised by a tripwire when student code reaches ``torch.optim`` during a check."""


def torch_optimizer_classes() -> list[type]:
    """Every concrete optimizer class that ``torch.optim`` exports (the base ``Optimizer`` excluded)."""
    found = []
    for name in dir(torch.optim):
        value = getattr(torch.optim, name)
        if inspect.isclass(value) and issubclass(value, torch.optim.Optimizer) and value is not torch.optim.Optimizer:
            found.append(value)
    return found


_KERNEL_PREFIXES = ("_single_tensor_", "_multi_tensor_", "_fused_")


def _functional_kernels() -> list[tuple[Any, str]]:
    """(module, attribute) pairs for torch.optim's functional update kernels (``sgd``, ``_single_tensor_adam``, ...)."""
    targets: list[tuple[Any, str]] = []
    optimizer_names = {cls.__name__.lower() for cls in torch_optimizer_classes()}
    modules = [torch.optim]
    for info in pkgutil.iter_modules(torch.optim.__path__):
        if info.name.startswith("_") and info.name != "_functional":
            continue
        try:
            modules.append(importlib.import_module(f"torch.optim.{info.name}"))
        except Exception:  # pragma: no cover - optional submodules
            continue
    for module in modules:
        for attr, value in vars(module).items():
            if not inspect.isfunction(value):
                continue
            if attr in optimizer_names or attr.startswith(_KERNEL_PREFIXES):
                targets.append((module, attr))
    return targets


def require_own_implementation(candidate: Any, exercise: str) -> None:
    """Fail when ``candidate`` (a class) subclasses one of torch.optim's optimizers."""
    if not inspect.isclass(candidate):
        raise CheckFailed(f"{exercise} must be a class, got {type(candidate).__name__}: {candidate!r}")
    forbidden = tuple(torch_optimizer_classes())
    if issubclass(candidate, forbidden):
        base = next(cls for cls in candidate.__mro__ if cls in forbidden)
        raise CheckFailed(
            f"{exercise} subclasses torch.optim.{base.__name__}.\n"
            f"This exercise asks you to write the update yourself: a subclass or wrapper of torch.optim's "
            f"optimizers scores nothing here. Subclassing the base class torch.optim.Optimizer is fine; "
            f"inheriting {base.__name__}'s step() is not."
        )


class _Tripwire:
    """Callable that records the hit and raises :class:`TorchOptimUsed`."""

    def __init__(self, name: str, hits: list[str]) -> None:
        self.name = name
        self.hits = hits

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.hits.append(self.name)
        raise TorchOptimUsed(f"{self.name} was called")

    def __get__(self, instance: Any, owner: Any) -> Any:  # behave like a function when set on a class
        return self


@contextlib.contextmanager
def forbid_torch_optim(exercise: str) -> Iterator[list[str]]:
    """Run a block with torch.optim's optimizers and kernels unusable; fail if the block touched them.

    Yields the list of hits (for tests). On exit, everything is restored, and :class:`CheckFailed`
    is raised if anything in the block reached torch.optim, even if that code caught the error.
    """
    hits: list[str] = []
    saved: list[tuple[Any, str, Any]] = []

    def swap(owner: Any, attr: str, label: str) -> None:
        saved.append((owner, attr, owner.__dict__[attr] if attr in owner.__dict__ else getattr(owner, attr)))
        setattr(owner, attr, _Tripwire(label, hits))

    def report() -> CheckFailed:
        used = ", ".join(dict.fromkeys(hits))
        return CheckFailed(
            f"{exercise} calls torch.optim ({used}).\n"
            f"This exercise asks you to write the update yourself: wrapping or calling torch.optim's "
            f"optimizers or their functional kernels scores nothing here."
        )

    try:
        for cls in torch_optimizer_classes():
            for method in ("__init__", "step"):
                if method in cls.__dict__:
                    swap(cls, method, f"torch.optim.{cls.__name__}.{method}")
        for module, attr in _functional_kernels():
            swap(module, attr, f"{module.__name__}.{attr}")
        yield hits
    except BaseException as error:
        if hits:  # whatever the block raised, reaching torch.optim is the failure to report
            raise report() from error
        raise
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
    if hits:
        raise report()
