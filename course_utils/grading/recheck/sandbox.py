"""Hardening for the process that re-runs a student's answer cells (not an operating-system sandbox).

Applied in this order by the runner, after the libraries are imported and before any student code:

1. :func:`lock_torch_optim`: torch.optim's optimizers, learning-rate schedulers and functional kernels
   are replaced for good by classes and functions that raise :class:`TorchOptimUnavailable`.
2. :func:`hide_grading_modules`: ``course_utils.checks`` and ``course_utils.grading`` (which hold the
   reference formulas and known-mistake rules) are replaced by empty modules.
3. :func:`library_snapshot` remembers what torch, numpy and Python's builtins hold, so that
   :func:`tampered_names` can list what the student's code replaced.
4. :func:`install_audit_hook` (PEP 578; a hook cannot be removed once added): the process may not
   read the course's reference files, gradebook or other students' folders, may not write outside its
   scratch folder, start programs, load native code through ctypes, or open network sockets.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.optim
import torch.optim.lr_scheduler

__all__ = [
    "TorchOptimUnavailable",
    "lock_torch_optim",
    "hide_grading_modules",
    "library_snapshot",
    "tampered_names",
    "install_audit_hook",
    "GradingSandboxError",
]


class TorchOptimUnavailable(RuntimeError):
    """Raised when code reaches one of torch.optim's optimizers, schedulers or kernels during grading."""


class GradingSandboxError(PermissionError):
    """Raised by the audit hook for an operation the grading process does not allow."""


def _unavailable_class(name: str, base: type) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise TorchOptimUnavailable(
            f"{name} is not available while your answers are graded: this exercise asks for your own implementation."
        )

    return type(name.rsplit(".", 1)[-1], (base,), {"__init__": __init__, "__module__": "torch.optim (unavailable)"})


def _unavailable_function(name: str) -> Any:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise TorchOptimUnavailable(f"{name} is not available while your answers are graded.")

    unavailable.__name__ = name.rsplit(".", 1)[-1]
    return unavailable


_KERNEL_PREFIXES = ("_single_tensor_", "_multi_tensor_", "_fused_")


def lock_torch_optim(allowed: Iterable[str] = ()) -> list[str]:
    """Make torch.optim's optimizers, concrete schedulers and update kernels unusable; return what was locked.

    The base classes ``torch.optim.Optimizer`` and ``torch.optim.lr_scheduler.LRScheduler`` stay (a
    custom optimizer subclasses the first). ``allowed`` names classes to leave alone (e.g. ``"SGD"``).
    """
    allowed = set(allowed)
    if "*" in allowed:
        return []
    modules = [torch.optim, torch.optim.lr_scheduler]
    for info in pkgutil.iter_modules(torch.optim.__path__):
        try:
            modules.append(importlib.import_module(f"torch.optim.{info.name}"))
        except Exception:  # pragma: no cover - optional submodules
            continue
    optimizer_base, scheduler_base = torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler
    replacements: dict[int, Any] = {}
    locked: list[str] = []
    kernel_names = {name.lower() for name in dir(torch.optim)}
    for module in modules:
        for attr, value in list(vars(module).items()):
            if attr.startswith("__") or attr in allowed:
                continue
            if inspect.isclass(value) and value not in (optimizer_base, scheduler_base) and (
                issubclass(value, optimizer_base) or issubclass(value, scheduler_base)
            ):
                base = optimizer_base if issubclass(value, optimizer_base) else scheduler_base
                if id(value) not in replacements:
                    replacements[id(value)] = _unavailable_class(f"torch.optim.{value.__name__}", base)
                setattr(module, attr, replacements[id(value)])
                locked.append(f"{module.__name__}.{attr}")
            elif inspect.isfunction(value) and (attr.startswith(_KERNEL_PREFIXES) or attr in kernel_names) \
                    and module.__name__ != "torch.optim.lr_scheduler" \
                    and not any(name.lower() in attr.lower() for name in allowed):
                setattr(module, attr, _unavailable_function(f"{module.__name__}.{attr}"))
                locked.append(f"{module.__name__}.{attr}")
    for attr in dir(torch):
        if attr.startswith("_fused_") and any(k in attr for k in ("adam", "sgd", "adagrad")):
            setattr(torch, attr, _unavailable_function(f"torch.{attr}"))
            locked.append(f"torch.{attr}")
    return locked


class _HiddenModule(types.ModuleType):
    """Stands in for a grading module: any attribute access explains that it is not available."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{self.__name__}.{name} is not available while your answers are graded: the checks run separately."
        )


def hide_grading_modules(prefixes: tuple[str, ...] = ("course_utils.checks", "course_utils.grading")) -> None:
    """Replace the check and grading packages (and every submodule) with empty stand-ins."""
    import course_utils

    names = {name for name in sys.modules if name.startswith(prefixes)} | set(prefixes)
    names |= {f"course_utils.checks.{known}" for known in _CHECK_MODULES}
    for name in names:
        stub = _HiddenModule(name)
        stub.__path__ = []  # a package, so "from course_utils.checks import sgd" finds the stand-in below
        sys.modules[name] = stub
    for name in sorted(names):
        parent, _, child = name.rpartition(".")
        owner = course_utils if parent == "course_utils" else sys.modules.get(parent)
        if owner is not None:
            object.__setattr__(owner, child, sys.modules[name])


_CHECK_MODULES = ("sgd", "rmsprop_adam", "adamw", "param_groups", "schedulers", "feedback", "guards",
                  "optimizer_harness", "optimizer_contract", "trajectory")


# --- libraries the student's code must leave alone ---------------------------------------------------------

_WATCHED = ("builtins", "math", "torch", "torch.testing", "torch.nn.functional", "torch.linalg", "numpy", "numpy.testing",
            "inspect", "copy", "operator", "functools")


def _watched_namespaces() -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{name: (module or class, its namespace)}`` of what the student's code must leave alone."""
    import numpy.testing  # noqa: F401  (imported now, so that replacing it later shows)
    import torch.testing  # noqa: F401

    spaces: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name in _WATCHED:
        module = sys.modules.get(name)
        if module is not None:
            spaces[name] = (module, vars(module))
    for cls in (torch.Tensor, torch.nn.Parameter, torch.nn.Module, torch.optim.Optimizer, torch.Generator):
        spaces[f"{cls.__module__}.{cls.__qualname__}"] = (cls, cls.__dict__)
    return spaces


def library_snapshot() -> dict[str, dict[str, int]]:
    """Identity of every attribute of the watched modules and classes."""
    return {space: {attr: id(value) for attr, value in list(ns.items())} for space, (_, ns) in _watched_namespaces().items()}


def _wraps(value: Any, identity: int) -> bool:
    """True for torch's own wrappers (torch._dynamo wraps torch.manual_seed on first use of an optimizer)."""
    inner = getattr(value, "__wrapped__", None)
    module = getattr(value, "__module__", "") or ""
    return inner is not None and id(inner) == identity and module.startswith("torch")


def tampered_names(snapshot: dict[str, dict[str, int]]) -> list[str]:
    """Watched attributes replaced or deleted since ``snapshot``, and class attributes added over inherited ones.

    New module attributes are fine (a student may store things on torch); a new ``Tensor.__eq__``
    that hides the inherited one is not.
    """
    changed = []
    spaces = _watched_namespaces()
    for space, before in snapshot.items():
        owner, now = spaces.get(space, (None, {}))
        for attr, identity in before.items():
            if attr in ("__builtins__", "_", "__", "___") or space == "builtins" and attr in ("_", "__IPYTHON__"):
                continue
            if attr not in now:
                changed.append(f"{space}.{attr}")
            elif id(now[attr]) != identity and not _wraps(now[attr], identity):
                changed.append(f"{space}.{attr}")
        if isinstance(owner, type):
            for attr in set(now) - set(before):
                if any(attr in vars(base) for base in owner.__mro__[1:]):
                    changed.append(f"{space}.{attr}")
    if sys.gettrace() is not None:
        changed.append("sys.settrace")
    if sys.getprofile() is not None:
        changed.append("sys.setprofile")
    return changed


# --- the audit hook ----------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_DENIED_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                  "pty.spawn", "os.startfile", "os.kill", "os.killpg", "signal.pthread_kill", "sys.addaudithook",
                  "winreg.", "_winapi.")
_DENIED_PREFIXES = ("ctypes.", "socket.", "sqlite3.", "webbrowser.", "urllib.", "http.client.", "ftplib.", "smtplib.")
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.link", "os.symlink",
                "os.truncate", "os.utime", "shutil.rmtree", "shutil.move", "shutil.copyfile", "shutil.copytree"}


def _resolved(path: Any) -> str | None:
    if isinstance(path, int):
        return None
    try:
        raw = os.fsdecode(os.fspath(path))
    except TypeError:
        return None
    return os.path.realpath(raw)


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == folder or path.startswith(folder + os.sep) for folder in folders)


def install_audit_hook(scratch: Path, protected: Iterable[Path]) -> None:
    """Deny reads under ``protected``, writes outside ``scratch``, programs, ctypes and sockets, for good."""
    writable = (os.path.realpath(scratch),)
    hidden = tuple(sorted({os.path.realpath(p) for p in protected}))
    denied_events = _DENIED_EVENTS
    denied_prefixes = _DENIED_PREFIXES
    path_events = frozenset(_PATH_EVENTS)
    error = GradingSandboxError

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path = _resolved(args[0])
            if path is None:
                return
            mode, flags = args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
            if writing and not _inside(path, writable):
                raise error(f"writing {path} is not allowed while your answers are graded")
            if _inside(path, hidden):
                raise error(f"reading {path} is not allowed while your answers are graded")
            return
        if event in path_events:
            for arg in args[:2]:
                path = _resolved(arg) if isinstance(arg, (str, bytes, os.PathLike)) else None
                if path is not None and not _inside(path, writable):
                    raise error(f"{event} on {path} is not allowed while your answers are graded")
            return
        if event in ("os.listdir", "os.scandir", "glob.glob", "os.walk") and args:
            path = _resolved(args[0])
            if path is not None and _inside(path, hidden):
                raise error(f"listing {path} is not allowed while your answers are graded")
            return
        if event.startswith(denied_events) or event.startswith(denied_prefixes):
            raise error(f"{event} is not allowed while your answers are graded")

    sys.addaudithook(hook)
