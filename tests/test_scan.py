"""``scan``: a static scan of submitted cells for constructs an honest answer has no use for (flags, never scores)."""

from __future__ import annotations

import dataclasses
import textwrap

import nbformat
import pytest

from course_utils.grading.scan import Flag, format_flags, scan_notebook, scan_source


def found(source: str) -> set[tuple[int, str]]:
    """(line, construct) of every flag in ``source``."""
    return {(f.line, f.construct) for f in scan_source(textwrap.dedent(source))}


def code_cell(source: str | list[str], grade_id: str | None = None, locked: bool = False) -> dict:
    meta = {"nbgrader": {"grade_id": grade_id, "locked": locked, "solution": not locked}} if grade_id else {}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": [], "execution_count": None}


# (source, line, construct): each one a way to reach what an optimizer written by hand never needs.
POSITIVE = {
    "frames": [
        ("import sys\nframe = sys._getframe(1)", 2, "sys._getframe"),
        ("import sys\nsys._current_frames()", 2, "sys._current_frames"),
        ("import inspect\nframe = inspect.currentframe()", 2, "inspect.currentframe"),
        ("import inspect\nfor info in inspect.stack():\n    pass", 2, "inspect.stack"),
        ("import inspect\ninspect.getouterframes(frame)", 2, "inspect.getouterframes"),
        ("caller = frame.f_back", 1, ".f_back"),
        ("g = frame.f_globals['checks']", 1, ".f_globals"),
        ("probes = frame.f_locals.get('probes')", 1, ".f_locals"),
        ("try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame", 4, ".tb_frame"),
        ("f = gen.gi_frame", 1, ".gi_frame"),
        ("f = coro.cr_frame", 1, ".cr_frame"),
    ],
    "gc": [
        ("import gc\nfor o in gc.get_objects():\n    pass", 2, "gc.get_objects"),
        ("import gc\ngc.get_referrers(probe)", 2, "gc.get_referrers"),
        ("import gc\ngc.get_referents(namespace)", 2, "gc.get_referents"),
    ],
    "processes": [
        ("import _posixsubprocess", 1, "_posixsubprocess"),
        ("import os\npid = os.fork()", 2, "os.fork"),
        ("import os\npid, fd = os.forkpty()", 2, "os.forkpty"),
        ("import subprocess\nsubprocess.run(['ls'])", 1, "subprocess"),
        ("import subprocess\nsubprocess.run(['ls'])", 2, "subprocess"),
        ("import os\nos.system('cat solutions/01_sgd/01_sgd.ipynb')", 2, "os.system"),
        ("import os\nos.popen('ls').read()", 2, "os.popen"),
        ("import os\nos.execv('/bin/sh', ['sh'])", 2, "os.exec*"),
        ("import os\nos.spawnlp(os.P_NOWAIT, 'ls', 'ls')", 2, "os.spawn*"),
        ("import pty\npty.spawn('/bin/sh')", 1, "pty"),
        ("!cat /etc/passwd", 1, "shell command"),
    ],
    "kernels": [
        ("torch.ops.aten._fused_sgd_([p], [p.grad], [], weight_decay=0.0, momentum=0.0, lr=0.1)", 1, "_fused_*"),
        ("torch._fused_adamw_([p], [g], [m], [v], [], [s], lr=0.1)", 1, "_fused_*"),
        ("op = torch._C._jit_get_operation('aten::_foreach_add_')", 1, "torch._C._jit_get_operation"),
        ("torch._C._dispatch_call_boxed(handle, stack)", 1, "torch._C._dispatch*"),
    ],
    "class hierarchy": [
        ("real = [c for c in torch.optim.Optimizer.__subclasses__() if c.__name__ == 'SGD'][0]", 1, "__subclasses__"),
        ("for base in SGD.__mro__:\n    pass", 1, "__mro__"),
        ("SGD.__bases__ = (torch.optim.SGD,)", 1, "__bases__"),
    ],
    "file descriptors": [
        ("import os\nfd = os.open('solutions/01_sgd/01_sgd.ipynb', os.O_RDONLY, dir_fd=root)", 2, "dir_fd="),
        ("import os\nfd = os.open('/tmp', os.O_RDONLY)", 2, "os.open"),
        ("import os\nwith os.fdopen(3) as f:\n    pass", 2, "os.fdopen"),
    ],
    "databases and network": [
        ("import sqlite3\ndb = sqlite3.connect('gradebook.db')", 1, "sqlite3"),
        ("import socket\ns = socket.socket()", 1, "socket"),
        ("from urllib.request import urlopen\nurlopen('https://example.org')", 1, "urllib"),
        ("import http.client", 1, "http.client"),
        ("import requests\nrequests.get('https://example.org')", 1, "requests"),
    ],
    "native code": [
        ("import ctypes\nctypes.CDLL(None)", 1, "ctypes"),
        ("from cffi import FFI", 1, "cffi"),
        ("import mmap", 1, "mmap"),
    ],
    "patching": [
        ("import sys\nsys.settrace(tracer)", 2, "sys.settrace"),
        ("import sys\nsys.setprofile(profiler)", 2, "sys.setprofile"),
        ("import sys\nsys.addaudithook(hook)", 2, "sys.addaudithook"),
        ("import sys\nsys.modules['torch.optim'] = fake", 2, "sys.modules[...] ="),
        ("import builtins\nbuiltins.isinstance = lambda obj, cls: True", 2, "builtins assignment"),
        ("import importlib\nimportlib.reload(checks)", 2, "importlib.reload"),
        ("get_ipython().input_transformers_post.append(blank)", 1, "get_ipython().input_transformers"),
        ("get_ipython().ast_transformers.append(Swallow())", 1, "get_ipython().ast_transformers"),
        ("class T(torch.Tensor):\n    @classmethod\n    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
         "        return True", 3, "__torch_function__"),
        ("class M(torch.Tensor):\n    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):\n        pass",
         2, "__torch_dispatch__"),
    ],
    "reading source": [
        ("text = open('/opt/venv/lib/site-packages/torch/optim/sgd.py').read()", 1, "torch/optim"),
        ("text = open('/opt/venv/lib/site-packages/torch/optim/sgd.py').read()", 1, "site-packages"),
        ("import inspect\ncode = inspect.getsource(torch.optim.SGD)", 2, "inspect.getsource"),
        ("import inspect\npath = inspect.getsourcefile(torch.optim.SGD)", 2, "inspect.getsourcefile"),
        ("SGD.step.__code__ = reference.__code__", 1, "__code__"),
        ("import marshal\ncode = marshal.loads(blob)", 2, "marshal.loads"),
        ("with open(path) as f:\n    text = f.read()\nexec(text)", 3, "exec"),
        ("value = eval(open(path).read())", 1, "eval"),
        ("code = compile(open(path).read(), path, 'exec')\nexec(code)", 1, "compile"),
        ("code = compile(open(path).read(), path, 'exec')\nexec(code)", 2, "exec"),
    ],
    "grader's environment": [
        ("import os\nif os.environ.get('NBGRADER_EXECUTION'):\n    pass", 2, "NBGRADER_EXECUTION"),
        ("import os\nseed = os.environ['COURSE_RECHECK_SEED']", 2, "COURSE_RECHECK_SEED"),
    ],
}


@pytest.mark.parametrize(
    "source, line, construct",
    [pytest.param(*case, id=f"{family}: {case[2]} line {case[1]}") for family, cases in POSITIVE.items() for case in cases],
)
def test_each_construct_is_flagged_on_its_line(source: str, line: int, construct: str) -> None:
    assert (line, construct) in found(source)


@pytest.mark.parametrize("source, line, construct", [
    pytest.param("import sys as s\nf = s._getframe()", 2, "sys._getframe", id="import as"),
    pytest.param("from sys import _getframe\nf = _getframe()", 2, "sys._getframe", id="from import, used"),
    pytest.param("from sys import _getframe as gf", 1, "sys._getframe", id="from import, the import line"),
    pytest.param("import sys\nf = getattr(sys, '_getframe')()", 2, "sys._getframe", id="getattr string"),
    pytest.param("import inspect as i\ni.stack()", 2, "inspect.stack", id="inspect as"),
    pytest.param("import os as o\no.system('ls')", 2, "os.system", id="os as"),
    pytest.param("import sys\ns = sys\ns._getframe()", 3, "sys._getframe", id="assigned alias"),
    pytest.param("mod = __import__('ctypes')", 1, "ctypes", id="__import__ string"),
    pytest.param("import importlib\nimportlib.import_module('socket')", 2, "socket", id="import_module string"),
    pytest.param("import subprocess as sp\nsp.Popen(['ls'])", 2, "subprocess", id="module alias, used"),
    pytest.param("import torch as t\nt.ops.aten._fused_adam_(*args)", 2, "_fused_*", id="torch as t"),
    pytest.param("import sys\nsys.modules['sys']._getframe()", 2, "sys._getframe", id="through sys.modules"),
])
def test_aliases_are_followed(source: str, line: int, construct: str) -> None:
    assert (line, construct) in found(source)


def test_a_construct_is_reported_once_per_line() -> None:
    flags = scan_source("import sys\nf = sys._getframe().f_back.f_back.f_back\ng = f.f_back")
    assert [(f.line, f.construct) for f in flags if f.construct == ".f_back"] == [(2, ".f_back"), (3, ".f_back")]


def test_flags_name_the_cell_and_count_lines_from_one() -> None:
    (flag,) = scan_source("x = 1\n\nimport ctypes", cell="SGD")
    assert (flag.cell, flag.line, flag.construct) == ("SGD", 3, "ctypes")


def test_flags_give_the_instructor_a_reason() -> None:
    flags = scan_source("import sys\nsys._getframe()\nimport socket\nimport gc\ngc.get_objects()")
    assert flags and all(len(f.why.split()) >= 4 for f in flags)
    assert "call stack" in next(f.why for f in flags if f.construct == "sys._getframe")


def test_flag_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Flag("SGD", 1, "sys._getframe", "why").line = 2


def test_a_syntax_error_does_not_hide_a_construct() -> None:
    source = "def step(self:\n    frame = sys._getframe()\n    import sqlite3"
    assert {(2, "sys._getframe"), (3, "sqlite3")} <= found(source)


def test_magic_lines_are_stripped_and_line_numbers_kept() -> None:
    assert (3, "sys._getframe") in found("%timeit -n1 pass\nimport sys\nframe = sys._getframe()\nx?")


def test_shell_commands_inside_a_cell_are_flagged() -> None:
    assert {(1, "shell command"), (3, "shell command")} <= found("!ls\nx = 1\nfiles = !ls solutions\n")


def test_a_bash_cell_body_is_searched() -> None:
    assert {(1, "shell command"), (2, "sqlite3")} <= found("%%bash\nsqlite3 gradebook.db 'select 1'\n")


def test_exec_of_text_not_read_from_a_file_is_not_flagged() -> None:
    assert found("exec(code)\nresult = eval(expression)\nexec('x = 1')") == set()


def test_exec_of_a_string_literal_is_not_flagged_even_beside_a_file() -> None:
    assert found("with open('log.txt', 'w') as f:\n    f.write('x')\nexec('y = 2')") == set()


@pytest.mark.parametrize("source", [
    "import os",
    "import torch",
    "import math\nx = math.sqrt(2.0)",
    "import torch\nbuf = torch.zeros_like(p)",
    "with torch.no_grad():\n    p.add_(g, alpha=-0.1)",
    "from tqdm import tqdm\nfor i in tqdm(range(3), desc='steps'):\n    print(i)",
    "rows = torch.stack(rows)",
    "import os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\npath = os.path.join('data', 'x.pt')",
    "torch.backends.cudnn.deterministic = True",
    "with open('losses.txt', 'w') as f:\n    f.write(str(losses))",
    "opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)",
    "sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)",
    "frame = {'a': 1}\nstack = []\nstack.append(frame)",
    "import re\npattern = re.compile(r'\\d+')",
    "print(f'step {i}: loss {loss.item():.4f}')",
    "x = 10 % 3\ny = a != b",
])
def test_ordinary_code_is_not_flagged(source: str) -> None:
    assert scan_source(source) == []


HONEST_SGD = '''
import math
import torch


class SGD(torch.optim.Optimizer):
    """SGD with momentum and (coupled) weight decay, written on torch.optim.Optimizer."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if lr < 0.0 or momentum < 0.0 or weight_decay < 0.0:
            raise ValueError(f"Invalid hyper-parameters: lr={lr}, momentum={momentum}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d_p = p.grad
                if weight_decay != 0:
                    d_p = d_p.add(p, alpha=weight_decay)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = torch.clone(d_p).detach()
                    else:
                        buf.mul_(momentum).add_(d_p)
                    d_p = buf
                p.add_(d_p, alpha=-lr)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None


def lr_at(step: int, base: float) -> float:
    return base * 0.5 * (1 + math.cos(math.pi * step / 100))
'''


def test_an_honest_sgd_is_not_flagged() -> None:
    assert scan_source(HONEST_SGD, cell="SGD") == []


def notebook(*cells: dict) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def test_locked_cells_are_not_scanned() -> None:
    nb = notebook(
        code_cell("import sys\nframe = sys._getframe()", grade_id="test_SGD_momentum", locked=True),
        code_cell("import socket", grade_id="SGD"),
    )
    assert [(f.cell, f.construct) for f in scan_notebook(nb)] == [("SGD", "socket")]


def test_cells_without_a_grade_id_are_named_by_index() -> None:
    nb = notebook({"cell_type": "markdown", "source": "Notes", "metadata": {}}, code_cell("import mmap"))
    assert [(f.cell, f.line) for f in scan_notebook(nb)] == [("cell-1", 1)]


def test_markdown_cells_are_not_scanned() -> None:
    nb = notebook({"cell_type": "markdown", "source": "Never call `sys._getframe()`.", "metadata": {}})
    assert scan_notebook(nb) == []


def test_a_source_given_as_a_list_of_lines_is_scanned() -> None:
    nb = notebook(code_cell(["import sys\n", "frame = sys._getframe()\n"], grade_id="SGD"))
    assert [(f.cell, f.line, f.construct) for f in scan_notebook(nb)] == [("SGD", 2, "sys._getframe")]


def test_an_alias_imported_in_an_earlier_cell_is_followed() -> None:
    nb = notebook(code_cell("import sys as s", grade_id="setup", locked=True), code_cell("f = s._getframe()", grade_id="SGD"))
    assert [(f.cell, f.line, f.construct) for f in scan_notebook(nb)] == [("SGD", 1, "sys._getframe")]


def test_an_nbformat_notebook_is_scanned() -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# SGD"),
        nbformat.v4.new_code_cell("import gc\nobjects = gc.get_objects()"),
    ])
    assert [(f.cell, f.line, f.construct) for f in scan_notebook(nb)] == [("cell-1", 2, "gc.get_objects")]


def test_format_flags_wording() -> None:
    flag = Flag("SGD", 3, "sys._getframe", "walks the interpreter's call stack (the grader's frames)")
    assert format_flags([flag]) == ["SGD line 3: sys._getframe — walks the interpreter's call stack (the grader's frames)"]


def test_format_flags_stops_at_the_limit_and_counts_the_rest() -> None:
    flags = [Flag("SGD", n, "ctypes", "loads native code") for n in range(1, 11)]
    lines = format_flags(flags, limit=8)
    assert len(lines) == 9
    assert lines[7].startswith("SGD line 8: ctypes")
    assert lines[-1] == "… and 2 more"


def test_format_flags_at_the_limit_adds_nothing() -> None:
    flags = [Flag("SGD", n, "mmap", "maps memory") for n in range(1, 4)]
    assert format_flags(flags, limit=3) == [f"SGD line {n}: mmap — maps memory" for n in range(1, 4)]


def test_format_flags_of_nothing_is_empty() -> None:
    assert format_flags([]) == []
