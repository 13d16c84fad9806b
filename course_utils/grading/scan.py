"""A static scan of a submitted notebook for constructs that have no place in an honest answer.

Walking the grader's stack frames, calling torch's fused optimizer kernels, opening the gradebook,
patching ``sys.modules``: none of these is needed to write an optimizer by hand. The grade report
lists what this scan finds so that the instructor can look at the submission. These are flags for a
person to look at, not a verdict, and the scan never changes a score.

Each cell is parsed with :mod:`ast`, and names are followed through imports and simple assignments
(``import sys as s; s._getframe()``, ``from sys import _getframe``, ``getattr(sys, "_getframe")``).
A cell that does not parse, even without its IPython magics, is searched with regular expressions
instead, so a syntax error cannot hide anything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Flag", "scan_source", "scan_notebook", "format_flags"]


@dataclass(frozen=True)
class Flag:
    """One suspicious construct: where it is, what it is, and why an instructor should look."""

    cell: str  # the cell's nbgrader grade_id, or ``cell-<index>``
    line: int  # 1-based, within the cell
    construct: str  # a short name, such as ``sys._getframe``
    why: str  # one sentence for the instructor


_WHY = {
    "frames": "walks the interpreter's call stack (the grader's frames)",
    "gc": "searches the garbage collector's object graph, which reaches the grader's own objects",
    "process": "starts another process, outside the notebook's audit events",
    "kernel": "calls torch's own optimizer kernels or raw operators instead of doing the arithmetic",
    "hierarchy": "walks the class hierarchy, a way to reach torch.optim's own classes",
    "fd": "opens files through descriptors, relative to a folder and around the usual path checks",
    "net": "opens a database or a network connection (the gradebook, or help from outside)",
    "native": "loads native code or maps memory directly",
    "patch": "patches the interpreter, torch, the checks or the grading kernel",
    "source": "reads source code or files that are not the student's (torch's optimizers, the course's)",
    "exec": "runs, as code, text that the cell reads from a file",
    "env": "looks for the grader's environment, to behave differently when graded",
}


def _by_family(table: dict[str, str]) -> dict[str, str]:
    """{name: family} from {family: "name name ..."}."""
    return {name: family for family, names in table.items() for name in names.split()}


# Qualified names, the construct reported as written (a trailing * matches any ending).
_NAMES = _by_family({
    "frames": "sys._getframe sys._current_frames inspect.currentframe inspect.stack inspect.trace "
              "inspect.getouterframes inspect.getinnerframes traceback.walk_stack traceback.walk_tb",
    "gc": "gc.get_objects gc.get_referrers gc.get_referents",
    "process": "os.fork os.forkpty os.openpty os.system os.popen os.exec* os.spawn* os.posix_spawn* "
               "get_ipython().system get_ipython().getoutput",
    "kernel": "torch._C._jit_get_operation torch._C._dispatch* torch.optim._functional*",
    "fd": "os.open os.fdopen",
    "native": "torch.utils.cpp_extension*",
    "patch": "sys.settrace sys.setprofile sys.addaudithook threading.settrace threading.setprofile importlib.reload "
             "sys.meta_path sys.path_hooks sys.modules.update sys.modules.setdefault sys.modules.__setitem__",
    "hierarchy": "inspect.getmro",
    "source": "inspect.getsource inspect.getsourcelines inspect.getsourcefile inspect.getfile marshal.loads __file__",
})
# Modules flagged wherever they are imported or used; the module is the construct.
_MODULES = _by_family({
    "process": "_posixsubprocess subprocess pty",
    "net": "sqlite3 _sqlite3 socket _socket urllib urllib3 http.client requests ftplib smtplib",
    "native": "ctypes _ctypes cffi _cffi_backend mmap",
})
# Attribute names with no honest use, whatever they are read from: name -> construct, family.
_ATTRS = {
    "_getframe": ("sys._getframe", "frames"), "_current_frames": ("sys._current_frames", "frames"),
    **{a: (f".{a}", "frames") for a in "f_back f_globals f_locals f_builtins tb_frame gi_frame cr_frame ag_frame".split()},
    "get_referrers": ("gc.get_referrers", "gc"), "get_referents": ("gc.get_referents", "gc"),
    **{a: (a, "kernel") for a in ("_fused_*", "_single_tensor_*", "_multi_tensor_*")},
    "_jit_get_operation": ("torch._C._jit_get_operation", "kernel"),
    **{a: (a, "hierarchy") for a in ("__subclasses__", "__mro__", "__bases__")}, "__base__": ("__bases__", "hierarchy"),
    "input_transformers*": ("get_ipython().input_transformers", "patch"),
    "ast_transformers": ("get_ipython().ast_transformers", "patch"), "addaudithook": ("sys.addaudithook", "patch"),
    **{a: (a, "patch") for a in ("__torch_function__", "__torch_dispatch__", "__code__", "__globals__")},
    "__file__": ("__file__", "source"),
}
# Text inside string literals: substring -> construct, family.
_STRINGS = {
    "torch/optim": ("torch/optim", "source"), "torch\\optim": ("torch/optim", "source"),
    "site-packages": ("site-packages", "source"), "gradebook": ("course files", "source"),
    "solutions/": ("course files", "source"), ".recheck": ("course files", "source"),
    "_fused_": ("_fused_*", "kernel"), "NBGRADER": ("NBGRADER_EXECUTION", "env"),
    "COURSE_RECHECK": ("COURSE_RECHECK_SEED", "env"),
}
_IMPORTERS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}
_OPENERS = {"open", "io.open", "builtins.open", "codecs.open", "os.open", "os.fdopen"}
_RUNNERS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"}
_ATTR_FUNCS = {"getattr", "setattr", "delattr", "hasattr", "builtins.getattr", "builtins.setattr"}


def _match(line: int, name: str | None, attr: str | None, store: bool) -> Iterator[tuple[int, str, str]]:
    """(line, construct, family) for each rule that the qualified ``name`` or the attribute ``attr`` meets."""
    if name:
        for key, family in _NAMES.items():
            if name == key or (key.endswith("*") and name.startswith(key[:-1])):
                yield line, key, family
        parts = name.split(".")
        for module in {parts[0], ".".join(parts[:2])} & _MODULES.keys():
            yield line, module, _MODULES[module]
        if len(parts) == 4 and parts[:2] == ["torch", "optim"] and parts[2] == parts[3]:
            yield line, name, "kernel"  # torch.optim.sgd.sgd: the function behind torch.optim.SGD
        if store and parts[0] in ("builtins", "__builtins__"):
            yield line, "builtins assignment", "patch"
        elif store and parts[0] == "torch" and parts[1:2] != ["backends"]:
            yield line, "torch assignment", "patch"
        elif store and parts[0] in ("checks", "course_utils"):
            yield line, "checks assignment", "patch"
    for key, (construct, family) in _ATTRS.items() if attr else ():
        if attr == key or (key.endswith("*") and attr.startswith(key[:-1])):
            yield line, construct, family


def _text(node: ast.AST | None) -> str | None:
    """The value of a string literal, else None."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


class _Cell:
    """One parsed cell: what its names stand for (``aliases`` is shared along a notebook), and its flags."""

    def __init__(self, tree: ast.AST, aliases: dict[str, str]) -> None:
        self.aliases, self.nodes = aliases, list(ast.walk(tree))
        self.bound = {n.id for n in self.nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        self.bound |= {n.arg for n in self.nodes if isinstance(n, ast.arg)}
        self.bound |= {n.name for n in self.nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in self.nodes:
            for a in node.names if isinstance(node, ast.Import) else ():
                top = a.name.partition(".")[0]  # import os.path binds os
                aliases[a.asname or top] = a.name if a.asname else top
            for a in node.names if isinstance(node, ast.ImportFrom) and node.module and not node.level else ():
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in sorted((n for n in self.nodes if isinstance(n, ast.Assign)), key=lambda n: n.lineno):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and (name := self.qualify(node.value)):
                aliases[node.targets[0].id] = name  # s = sys; s._getframe()

    def qualify(self, node: ast.AST) -> str | None:
        """The dotted name that ``node`` stands for (``s._getframe`` after ``import sys as s``: ``sys._getframe``)."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id) or (None if node.id in self.bound else node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript) and self.qualify(node.value) == "sys.modules":
            return _text(node.slice)
        if isinstance(node, ast.Call):
            func = self.qualify(node.func)
            if func in _IMPORTERS and node.args:
                return _text(node.args[0])
            if func in _ATTR_FUNCS and len(node.args) >= 2 and (attr := _text(node.args[1])):
                base = self.qualify(node.args[0])
                return f"{base}.{attr}" if base else None
            if func == "get_ipython":
                return "get_ipython()"
        return None

    def flags(self) -> Iterator[tuple[int, str, str]]:
        """(line, construct, family) for every suspicious construct in the cell, repeats included."""
        for node in self.nodes:
            line = getattr(node, "lineno", 1)
            if isinstance(node, ast.Attribute):
                yield from _match(line, self.qualify(node), node.attr, not isinstance(node.ctx, ast.Load))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                yield from _match(line, self.qualify(node), None, False)
            elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
                base = self.qualify(node.value)
                if base == "sys.modules":
                    yield line, "sys.modules[...] =", "patch"
                elif base in ("__builtins__", "builtins.__dict__"):
                    yield line, "builtins assignment", "patch"
            elif isinstance(node, ast.Import):
                for name in (a.name for a in node.names):
                    yield from _match(line, name, name.rpartition(".")[2], False)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:  # from sys import _getframe
                for name in [node.module] + [f"{node.module}.{a.name}" for a in node.names]:
                    yield from _match(line, name, name.rpartition(".")[2], False)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("__"):
                yield from _match(line, None, node.name, False)
            elif (value := _text(node)) is not None:
                yield from ((line, *rule) for text, rule in _STRINGS.items() if text in value)
                if value.isidentifier():  # vars(sys)["_getframe"], operator.attrgetter("f_back")
                    yield from _match(line, None, value, False)
            elif isinstance(node, ast.Call):
                yield from self._call(node, line)
        if any(self._reads_files(n) for n in self.nodes):
            for node in self.nodes:
                if isinstance(node, ast.Call) and (func := self.qualify(node.func)) in _RUNNERS and node.args \
                        and _text(node.args[0]) is None:
                    yield node.lineno, func.rpartition(".")[2], "exec"

    def _call(self, node: ast.Call, line: int) -> Iterator[tuple[int, str, str]]:
        if any(k.arg and k.arg.endswith("dir_fd") for k in node.keywords):
            yield line, "dir_fd=", "fd"
        func = self.qualify(node.func)
        if func in _ATTR_FUNCS and len(node.args) >= 2:
            attr, base = _text(node.args[1]) or "*", self.qualify(node.args[0])
            yield from _match(line, f"{base}.{attr}" if base else None, attr, func.endswith(("setattr", "delattr")))
        elif func in _IMPORTERS:
            yield from _match(line, self.qualify(node), None, False)

    def _reads_files(self, node: ast.AST) -> bool:
        """Whether ``node`` opens a file, reads ``__file__`` or fetches source code."""
        if isinstance(node, ast.Call):
            func = self.qualify(node.func) or ""
            return func in _OPENERS or func.startswith("inspect.getsource") or (
                isinstance(node.func, ast.Attribute) and node.func.attr in ("open", "read_text", "read_bytes"))
        return "__file__" in (getattr(node, "id", None), getattr(node, "attr", None))


def _word(name: str) -> str:
    """A regular expression for ``name`` as a whole word (a trailing * matches any ending)."""
    ending = r"\w*" if name.endswith("*") else ""
    return r"(?<!\w)" + re.escape(name.rstrip("*")) + ending + r"(?!\w)"


_ASSIGNED = r"^\s*(?:[\w.]+\s*=\s*)?"  # IPython also runs ``files = !ls`` and ``t = %time f()``
_PATTERNS = [(re.compile(_word(k)), k, f) for k, f in {**_NAMES, **_MODULES}.items()] + [
    (re.compile(_word(k)), *rule) for k, rule in _ATTRS.items()] + [
    (re.compile(re.escape(k)), *rule) for k, rule in _STRINGS.items()] + [
    (re.compile(p), c, f) for p, c, f in (
        (r"dir_fd\s*=", "dir_fd=", "fd"),
        (r"sys\.modules\s*\[[^\]]*\]\s*=(?!=)", "sys.modules[...] =", "patch"),
        (r"(?<!\w)(?:__)?builtins(?:__)?\.\w+\s*=(?!=)", "builtins assignment", "patch"),
        (r"(?<!\w)torch\.(?!backends)[\w.]+\s*=(?!=)", "torch assignment", "patch"),
        (r"(?<!\w)checks\.\w+\s*=(?!=)", "checks assignment", "patch"),
        (_ASSIGNED + r"(?:!|%%?(?:bash|sh|script|system|sx)\b)", "shell command", "process"))]
_READS = re.compile(r"(?<!\w)(?:fd)?open\s*\(|__file__|read_text|read_bytes|getsource")
_RUN = re.compile(r"(?<![\w.])(exec|eval|compile)\s*\(\s*(?![\"'])")


def _regex_scan(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str, str]]:
    """(line, construct, family) found by searching the text of numbered lines, for what does not parse."""
    numbered = list(lines)
    reads = _READS.search("\n".join(text for _, text in numbered))
    for number, text in numbered:
        yield from ((number, construct, family) for pattern, construct, family in _PATTERNS if pattern.search(text))
        if reads and (run := _RUN.search(text)):
            yield number, run.group(1), "exec"


def _parse(source: str) -> ast.AST | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _scan(source: str, cell: str, aliases: dict[str, str]) -> list[Flag]:
    """Flags for one cell; ``aliases`` (what names stand for) is carried from cell to cell."""
    lines = list(enumerate(source.splitlines(), 1))
    magic = [(n, text) for n, text in lines if re.match(_ASSIGNED + "[%!]", text)
             or (text.rstrip().endswith("?") and not text.lstrip().startswith("#"))]
    tree = _parse(source)
    if tree is None and magic:  # IPython-only lines become ``pass``, so line numbers stay put
        kept = dict(lines) | {n: text[: len(text) - len(text.lstrip())] + "pass" for n, text in magic}
        tree = _parse("\n".join(kept[n] for n, _ in lines))
    else:
        magic = []  # the cell parses as it is: those lines are Python
    try:
        found = list(_Cell(tree, aliases).flags()) if tree is not None else []
    except RecursionError:  # absurdly deep expressions: the text is still searched
        tree, found = None, []
    cell_magic = bool(lines) and lines[0][1].lstrip().startswith("%%")  # its body may not be Python
    found += _regex_scan(lines if tree is None or cell_magic else magic)
    unique: dict[tuple[int, str], Flag] = {}
    for line, construct, family in sorted(found, key=lambda f: f[0]):
        unique.setdefault((line, construct), Flag(cell, line, construct, _WHY[family]))
    return list(unique.values())


def scan_source(source: str, cell: str = "cell") -> list[Flag]:
    """Flags for one cell's source, in line order, each construct once per line; ``cell`` names the cell."""
    return _scan(source, cell, {})


def scan_notebook(notebook: Mapping[str, Any]) -> list[Flag]:
    """Flags for every code cell of ``notebook`` (an ``nbformat.NotebookNode`` or a dict with ``cells``).

    Cells that nbgrader locks (the released set-up and test cells) are the course's own code and are
    not reported; their imports still tell what names in later cells stand for.
    """
    aliases: dict[str, str] = {}
    flags: list[Flag] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        source = cell.get("source") or ""
        found = _scan("".join(source) if isinstance(source, list) else source,
                      str(meta.get("grade_id") or f"cell-{index}"), aliases)
        if meta.get("locked") is not True:
            flags += found
    return flags


def format_flags(flags: Sequence[Flag], limit: int = 8) -> list[str]:
    """One line per flag for the grade report, at most ``limit`` of them, then ``… and N more``."""
    shown = max(limit, 0)
    lines = [f"{f.cell} line {f.line}: {f.construct} — {f.why}" for f in flags[:shown]]
    if len(flags) > shown:
        lines.append(f"… and {len(flags) - shown} more")
    return lines
