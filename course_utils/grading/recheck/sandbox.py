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

import functools
import importlib
import importlib.abc
import importlib.machinery
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
    replacements_of: list[type] = []  # the original classes, disabled in place at the end
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
                    replacements_of.append(value)
                setattr(module, attr, replacements[id(value)])
                locked.append(f"{module.__name__}.{attr}")
            elif inspect.isfunction(value) and (attr.startswith(_KERNEL_PREFIXES) or attr in kernel_names) \
                    and module.__name__ != "torch.optim.lr_scheduler" \
                    and not any(name.lower() in attr.lower() for name in allowed):
                setattr(module, attr, _unavailable_function(f"{module.__name__}.{attr}"))
                locked.append(f"{module.__name__}.{attr}")
    for attr in dir(torch):
        if attr.startswith("_fused_") and any(k in attr for k in _FUSED_KINDS):
            setattr(torch, attr, _unavailable_function(f"torch.{attr}"))
            locked.append(f"torch.{attr}")
    for original in replacements_of:
        _disable_in_place(original)
    locked += _disable_fused_kernels()
    return locked


_FUSED_KINDS = ("adam", "sgd", "adagrad")
_KERNEL_LIBRARY: list[Any] = []  # keeps the dispatcher registrations of _disable_fused_kernels alive


def _disable_in_place(cls: type) -> None:
    """Make the methods ``cls`` defines itself raise, so the class is useless however it is reached.

    Replacing module attributes is not enough: ``Optimizer.__subclasses__()`` and references kept
    elsewhere still reach the original class.
    """
    name = f"torch.optim.{cls.__name__}"
    for attr, value in list(vars(cls).items()):
        if attr in ("__init__", "__new__") or inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod)):
            if attr in ("__repr__", "__module__", "__doc__", "__init_subclass__"):
                continue
            def unavailable(*args: Any, _name: str = name, **kwargs: Any) -> Any:
                raise TorchOptimUnavailable(
                    f"{_name} is not available while your answers are graded: this exercise asks for your own implementation.")
            try:
                type.__setattr__(cls, attr, unavailable)
            except (TypeError, AttributeError):  # pragma: no cover - a C-level slot
                continue


def _disable_fused_kernels() -> list[str]:
    """Register raising kernels for torch's fused optimizer operators (``torch.ops.aten._fused_sgd_`` and
    the like) with the dispatcher, so no route to them (``torch.ops``, ``torch._C``, ``torch.*``) works."""
    import warnings

    names = sorted({op.split("::", 1)[1].split(".", 1)[0] for op in torch._C._dispatch_get_all_op_names()
                    if op.startswith("aten::_fused_") and any(kind in op for kind in _FUSED_KINDS)})
    library = torch.library.Library("aten", "IMPL")
    _KERNEL_LIBRARY.append(library)
    locked = []
    for op in names:
        def unavailable(*args: Any, _op: str = op, **kwargs: Any) -> Any:
            raise TorchOptimUnavailable(f"torch's fused optimizer kernel aten::{_op} is not available while your answers are graded.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key in ("CPU", "CUDA"):
                try:
                    library.impl(op, unavailable, key)
                except Exception:  # noqa: BLE001 - an operator without a kernel for that device
                    continue
        locked.append(f"aten::{op}")
    return locked


class _HiddenModule(types.ModuleType):
    """Stands in for a grading module: any attribute access explains that it is not available."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{self.__name__}.{name} is not available while your answers are graded: the checks run separately."
        )


HIDDEN_PREFIXES: tuple[str, ...] = ("course_utils.checks", "course_utils.grading", "course_utils.mistakes")
"""Packages the re-check process hides: the checks, the grading code, and the known mistakes (reference formulas)."""


class _RefuseHidden(importlib.abc.MetaPathFinder):
    """A ``sys.meta_path`` finder that answers every import of a hidden package with an empty stand-in."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes

    def _hidden(self, name: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self.prefixes)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not self._hidden(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        stub = _HiddenModule(spec.name)
        stub.__path__ = []  # a package, so "from course_utils.checks import sgd" reaches this finder again
        return stub

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def hide_grading_modules(prefixes: tuple[str, ...] = HIDDEN_PREFIXES) -> None:
    """Hide the check and grading packages: loaded ones become empty stand-ins, later imports get stand-ins too.

    An import hook (a :data:`sys.meta_path` finder placed first) answers any import under ``prefixes``
    with an empty module, so a package added later is hidden without being named here.
    """
    import course_utils

    sys.meta_path.insert(0, _RefuseHidden(tuple(prefixes)))
    names = {name for name in sys.modules if any(name == p or name.startswith(p + ".") for p in prefixes)} | set(prefixes)
    for name in names:
        stub = _HiddenModule(name)
        stub.__path__ = []
        sys.modules[name] = stub
    for name in sorted(names):
        parent, _, child = name.rpartition(".")
        owner = course_utils if parent == "course_utils" else sys.modules.get(parent)
        if owner is not None:
            object.__setattr__(owner, child, sys.modules[name])


# --- libraries the student's code must leave alone ---------------------------------------------------------

# Bound now, so that a cell that replaces builtins.isinstance, os.path.realpath or sys.gettrace cannot blind
# the checks below (a module global is found before the builtin of the same name).
from builtins import (Exception, OSError, SyntaxError, ValueError, all, any, callable, compile, dict, getattr,  # noqa: E402
                      isinstance, list, open, set, str, type, vars)

_gettrace, _getprofile = sys.gettrace, sys.getprofile
_realpath, _isfile, _dirname = os.path.realpath, os.path.isfile, os.path.dirname
_FunctionType, _CodeType, _partial = types.FunctionType, types.CodeType, functools.partial
_import_module, _modules = importlib.import_module, sys.modules

_WATCHED = ("builtins", "math", "torch", "torch.testing", "torch.nn.functional", "torch.linalg", "numpy", "numpy.testing",
            "inspect", "copy", "operator", "functools")


def _watched_namespaces() -> dict[str, tuple[Any, dict[str, Any]]]:
    """``{name: (module or class, its namespace)}`` of what the student's code must leave alone."""
    for name in ("numpy.testing", "torch.testing"):  # imported now, so that replacing them later shows
        if name not in _modules:
            _import_module(name)

    spaces: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name in _WATCHED:
        module = _modules.get(name)
        if module is not None:
            spaces[name] = (module, vars(module))
    for cls in (torch.Tensor, torch.nn.Parameter, torch.nn.Module, torch.optim.Optimizer, torch.Generator):
        spaces[f"{cls.__module__}.{cls.__qualname__}"] = (cls, cls.__dict__)
    return spaces


class _Held(tuple):
    """What the snapshot keeps of one attribute: the object itself (a strong reference, so that its id is never
    reused by a replacement) and, for a Python function, the parts that can be swapped in place."""

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> "_Held":
        if isinstance(value, _FunctionType):
            kwdefaults = value.__kwdefaults__
            return cls((value, value.__code__, value.__defaults__, None if kwdefaults is None else dict(kwdefaults)))
        return cls((value, None, None, None))

    @property
    def value(self) -> Any:
        return self[0]

    def unchanged(self, now: Any) -> bool:
        value, code, defaults, kwdefaults = self
        if now is not value:
            return False
        if not isinstance(now, _FunctionType):
            return True
        current = now.__kwdefaults__
        same_kwdefaults = (current is None) == (kwdefaults is None) and (
            current is None or (current.keys() == kwdefaults.keys() and all(current[k] is kwdefaults[k] for k in current)))
        return now.__code__ is code and now.__defaults__ is defaults and same_kwdefaults


def library_snapshot() -> dict[str, dict[str, _Held]]:
    """Every attribute of the watched modules and classes (held, with a function's code and defaults)."""
    return {space: {attr: _Held.of(value) for attr, value in list(ns.items())}
            for space, (_, ns) in _watched_namespaces().items()}


# torch replaces a few of its own attributes the first time parts of it are used: importing torch._dynamo
# (``torch.compile``, ``torch.func``) wraps ``torch.manual_seed`` in ``torch._disable_dynamo``, and the
# first compiled call patches ``torch.nn.Module.__init__`` and ``__setstate__`` (torch/_dynamo/mutation_guard.py,
# closures over the originals, no ``__wrapped__``) and, for a guarded module, ``__setattr__``. Such a
# replacement is accepted only if it is torch's own code wrapped around the original; see ``_wraps``.

_TORCH_DIR = _realpath(_dirname(torch.__file__))
_TORCH_CODE: dict[str, dict[tuple[str, int], list[types.CodeType]]] = {}  # by file, filled on first use


def _torch_source(filename: str) -> str | None:
    """The real path of ``filename`` if it is a Python file inside the installed torch package, else None."""
    if not isinstance(filename, str) or not filename.endswith(".py") or filename.startswith("<"):
        return None
    path = _realpath(filename)
    return path if path.startswith(_TORCH_DIR + os.sep) and _isfile(path) else None


def _code_in_file(path: str) -> dict[tuple[str, int], list[types.CodeType]]:
    """Every code object that compiling torch's source file ``path`` gives, by (name, first line)."""
    if path not in _TORCH_CODE:
        found: dict[tuple[str, int], list[types.CodeType]] = {}
        try:
            with open(path, "rb") as handle:
                pending = [compile(handle.read(), path, "exec", dont_inherit=True)]
        except (OSError, SyntaxError, ValueError):
            pending = []
        while pending:
            code = pending.pop()
            found.setdefault((code.co_name, code.co_firstlineno), []).append(code)
            pending.extend(const for const in code.co_consts if isinstance(const, _CodeType))
        _TORCH_CODE[path] = found
    return _TORCH_CODE[path]


def _is_torch_function(fn: Any) -> bool:
    """True for a Python function that torch's own source defines.

    Neither ``__module__`` nor ``co_filename`` can be trusted on its own (both can be set from a notebook
    cell), so the function's code must also be, bytecode for bytecode, code that compiling that torch file
    gives, and its globals must be that torch module's.
    """
    if not isinstance(fn, _FunctionType):
        return False
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str) or not (module == "torch" or module.startswith("torch.")):
        return False
    code = fn.__code__
    path = _torch_source(code.co_filename)
    if path is None:
        return False
    home = _modules.get(fn.__globals__.get("__name__", ""))
    home_file = getattr(home, "__file__", None)
    if home is None or vars(home) is not fn.__globals__ or not home_file or _realpath(home_file) != path:
        return False
    return any(code == candidate for candidate in _code_in_file(path).get((code.co_name, code.co_firstlineno), ()))


def _wraps(value: Any, original: Any, owner: Any = None, depth: int = 0) -> bool:
    """True when ``value`` is torch's own wrapper around ``original``.

    That is: a function that torch's source defines (:func:`_is_torch_function`) and that reaches
    ``original`` through ``__wrapped__`` or the variables it closes over, directly or through more such
    wrappers, without reaching any other callable (``owner``, the class being patched, aside); or a
    ``functools.partial`` of one that binds no arguments. Anything compiled from a notebook cell, a
    student's function given torch's ``__module__`` or ``__wrapped__``, or one of torch's functions put in
    place of another fails.
    """
    if depth > 8:
        return False
    if isinstance(value, _partial):
        return not value.args and not value.keywords and (
            value.func is original or _wraps(value.func, original, owner, depth + 1))
    if not _is_torch_function(value):
        return False
    references = []
    for cell in value.__closure__ or ():
        try:
            references.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    if "__wrapped__" in vars(value):
        references.append(vars(value)["__wrapped__"])
    reached = False
    for reference in references:
        if reference is original:
            reached = True
        elif reference is owner or not callable(reference):
            continue
        elif _wraps(reference, original, owner, depth + 1):
            reached = True
        else:
            return False
    return reached


def _inherited(owner: type, attr: str) -> Any:
    for base in owner.__mro__[1:]:
        if attr in vars(base):
            return vars(base)[attr]
    return None


def _torch_replaced(value: Any, original: Any, owner: Any) -> bool:
    """:func:`_wraps`, False where looking raises (a cell may have broken what it needs, e.g. ``isinstance``)."""
    try:
        return value is not original and _wraps(value, original, owner)
    except Exception:  # noqa: BLE001 - whatever the cause, the replacement is not shown to be torch's
        return False


def tampered_names(snapshot: dict[str, dict[str, _Held]]) -> list[str]:
    """Watched attributes replaced or deleted since ``snapshot``, and class attributes added over inherited ones.

    New module attributes are fine (a student may store things on torch); a new ``Tensor.__eq__``
    that hides the inherited one is not. A function whose code or defaults were swapped in place counts
    as replaced. torch's own wrappers around the original (what ``torch.compile`` installs) do not count.
    """
    changed = []
    spaces = _watched_namespaces()
    for space, before in snapshot.items():
        owner, now = spaces.get(space, (None, {}))
        for attr, held in before.items():
            if attr in ("__builtins__", "_", "__", "___") or space == "builtins" and attr in ("_", "__IPYTHON__"):
                continue
            if attr not in now:
                changed.append(f"{space}.{attr}")
            elif not held.unchanged(now[attr]) and not _torch_replaced(now[attr], held.value, owner):
                changed.append(f"{space}.{attr}")
        if isinstance(owner, type):
            for attr in set(now) - set(before):
                if any(attr in vars(base) for base in owner.__mro__[1:]) \
                        and not _torch_replaced(now[attr], _inherited(owner, attr), owner):
                    changed.append(f"{space}.{attr}")
    if _gettrace() is not None:
        changed.append("sys.settrace")
    if _getprofile() is not None:
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
