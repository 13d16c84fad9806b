"""The independent re-check's parts: records and their comparison, the hardened process, the probe registry."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
import torch

from conftest import ASSIGNMENTS, REPO
from course_utils.grading.recheck.observations import RECORD_ERROR, TAMPERED, compare_records, plain
from course_utils.grading.recheck.probes import probes_for
from course_utils.grading.recheck.supervisor import RecheckSettings, notebook_cells, run_job


# --- records ------------------------------------------------------------------------------------------------


class Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("equal", "allclose"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_plain_strips_tensor_subclasses_and_keeps_the_true_values() -> None:
    sneaky = torch.tensor([1.0, 2.0]).as_subclass(Agreeable)
    assert torch.equal(sneaky, torch.zeros(2))  # the subclass lies...
    value = plain(sneaky)
    assert type(value) is torch.Tensor and value.tolist() == [1.0, 2.0]  # ...its plain copy does not


def test_plain_records_odd_objects_by_type_only() -> None:
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class Sneaky(float):
        pass

    assert plain(AlwaysEqual()).startswith("<object of type")
    assert plain(Sneaky(1.0)).startswith("<object of type")
    assert plain({"a": [1, 2.5, None, True]}) == {"a": [1, 2.5, None, True]}


def test_compare_records_accepts_rounding_and_names_the_first_difference() -> None:
    expected = [("step 1", torch.tensor([1.0, 2.0], dtype=torch.float64)), ("flag", True)]
    assert compare_records(expected, [("step 1", torch.tensor([1.0, 2.0 + 1e-13], dtype=torch.float64)), ("flag", True)]) is None
    message = compare_records(expected, [("step 1", torch.tensor([1.0, 2.5], dtype=torch.float64)), ("flag", True)])
    assert message.startswith("step 1:") and "index [1]" in message and "2.5" in message
    assert "dtype" in compare_records(expected, [("step 1", torch.tensor([1.0, 2.0])), ("flag", True)])
    assert "flag" in compare_records(expected, [expected[0], ("flag", False)])


def test_compare_records_reports_exceptions_tampering_and_early_stops() -> None:
    expected = [("a", 1.0), ("b", 2.0)]
    assert "raised ValueError: bad" in compare_records(expected, [("a", 1.0), (RECORD_ERROR, ["ValueError", "bad"])])
    assert "torch.allclose" in compare_records(expected, [(TAMPERED, ["torch.allclose"]), ("a", 1.0), ("b", 2.0)])
    assert "stopped before" in compare_records(expected, [("a", 1.0)])
    assert compare_records(expected, [("a", 1.0), ("b", 2.0), (RECORD_ERROR, ["RuntimeError", "late"])]) is not None


def test_compare_records_treats_nan_as_nan_but_not_as_a_number() -> None:
    nan = torch.tensor([float("nan")], dtype=torch.float64)
    assert compare_records([("x", nan)], [("x", nan.clone())]) is None
    assert compare_records([("x", torch.zeros(1, dtype=torch.float64))], [("x", nan)]) is not None


# --- the hardened process ------------------------------------------------------------------------------------


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_torch_optim_is_unusable_once_locked_except_what_is_allowed(tmp_path: Path) -> None:
    result = run_python("""
        import sys, torch
        from course_utils.grading.recheck.sandbox import lock_torch_optim, TorchOptimUnavailable
        lock_torch_optim(allowed=("SGD",))
        adam_module = sys.modules["torch.optim.adam"]
        p = torch.zeros(2, requires_grad=True); p.grad = torch.ones(2)
        for attempt in (lambda: torch.optim.Adam([p]), lambda: adam_module.Adam([p]),
                        lambda: type("Sub", (torch.optim.AdamW,), {})([p]),
                        lambda: adam_module.adam([p], [p.grad], [p], [p], [], [torch.tensor(1.)], foreach=False,
                                                      capturable=False, differentiable=False, fused=None, grad_scale=None,
                                                      found_inf=None, has_complex=False, amsgrad=False, beta1=0.9, beta2=0.9,
                                                      lr=0.1, weight_decay=0.0, eps=1e-8, maximize=False),
                        lambda: torch.optim.lr_scheduler.StepLR(None, 1)):
            try:
                attempt()
                print("USABLE")
            except TorchOptimUnavailable:
                print("locked")
        optimizer = torch.optim.SGD([p], lr=0.5); optimizer.step(); print("SGD", p.tolist())
        class Mine(torch.optim.Optimizer):
            def __init__(self, params): super().__init__(params, {})
        Mine([p]); print("base ok")
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["locked"] * 5 + ["SGD [-0.5, -0.5]", "base ok"]


def test_torch_optim_classes_reached_through_the_hierarchy_and_fused_kernels_are_locked_too(tmp_path: Path) -> None:
    result = run_python("""
        import torch
        from course_utils.grading.recheck.sandbox import lock_torch_optim, TorchOptimUnavailable
        lock_torch_optim()
        p = torch.zeros(3, requires_grad=True); p.grad = torch.ones(3)
        optimizers = [c for c in torch.optim.Optimizer.__subclasses__() if c.__module__.startswith("torch.optim.")]
        schedulers = [c for c in torch.optim.lr_scheduler.LRScheduler.__subclasses__()  # _LRScheduler: the base's old name
                      if c.__module__ == "torch.optim.lr_scheduler" and c.__name__ != "_LRScheduler"]
        opened = []
        for cls in optimizers:
            try:
                cls([p], lr=0.1)
                opened.append(cls.__name__)
            except TorchOptimUnavailable:
                pass
            except Exception as error:
                opened.append(f"{cls.__name__}: {type(error).__name__}")
        class Groups:
            param_groups = [{"lr": 0.1, "initial_lr": 0.1, "params": [p]}]
        for cls in schedulers:
            try:
                cls(Groups(), 1)
                opened.append(cls.__name__)
            except TorchOptimUnavailable:
                pass
            except Exception as error:
                opened.append(f"{cls.__name__}: {type(error).__name__}")
        for call in (lambda: torch.ops.aten._fused_sgd_([p], [p.grad], [], weight_decay=0.0, momentum=0.0, lr=0.1,
                                                        dampening=0.0, nesterov=False, maximize=False, is_first_step=True),
                     lambda: torch._C._jit_get_operation("aten::_fused_adamw_")[0](
                         [p], [p.grad], [torch.zeros(3)], [torch.zeros(3)], [], [torch.tensor(1.0)], lr=0.1, beta1=0.9,
                         beta2=0.99, weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)):
            try:
                call()
                opened.append("fused kernel")
            except TorchOptimUnavailable:
                pass
            except Exception as error:
                if "not available" not in str(error):
                    opened.append(f"fused: {type(error).__name__}")
        print(len(optimizers) >= 10, len(schedulers) >= 10, opened, p.tolist())
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True [] [0.0, 0.0, 0.0]", result.stdout


def test_audit_hook_keeps_code_away_from_course_files(tmp_path: Path) -> None:
    secret = tmp_path / "solutions" / "answer.txt"
    secret.parent.mkdir()
    secret.write_text("the reference")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = run_python(f"""
        import os, subprocess, sqlite3
        from pathlib import Path
        from course_utils.grading.recheck.sandbox import install_audit_hook, GradingSandboxError
        install_audit_hook(Path({str(scratch)!r}), [Path({str(secret.parent)!r})])
        attempts = {{
            "read": lambda: open({str(secret)!r}).read(),
            "list": lambda: os.listdir({str(secret.parent)!r}),
            "write outside": lambda: open({str(tmp_path / 'elsewhere.txt')!r}, "w"),
            "remove": lambda: os.remove({str(secret)!r}),
            "program": lambda: subprocess.run(["true"]),
            "database": lambda: sqlite3.connect({str(tmp_path / 'gradebook.db')!r}),
            "ctypes": lambda: __import__("ctypes").CDLL(None),
        }}
        for name, attempt in attempts.items():
            try:
                attempt()
                print(name, "ALLOWED")
            except (GradingSandboxError, PermissionError):
                print(name, "denied")
            except Exception as error:
                print(name, "denied" if "not allowed" in str(error) else f"other {{type(error).__name__}}: {{error}}")
        open({str(scratch / 'ok.txt')!r}, "w").write("fine"); print("scratch ok")
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(line.endswith("denied") for line in lines[:-1]), lines
    assert lines[-1] == "scratch ok"
    assert secret.read_text() == "the reference"


def test_patched_libraries_are_detected(tmp_path: Path) -> None:
    result = run_python("""
        import torch, numpy
        from course_utils.grading.recheck.sandbox import library_snapshot, tampered_names
        snapshot = library_snapshot()
        torch.new_helper = 1                       # adding is fine
        assert tampered_names(snapshot) == [], tampered_names(snapshot)
        torch.allclose = lambda *a, **k: True
        torch.Tensor.__eq__ = lambda self, other: True
        numpy.testing = None
        print(sorted(tampered_names(snapshot)))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "torch.allclose" in result.stdout and "torch.Tensor.__eq__" in result.stdout and "numpy.testing" in result.stdout


def containment_job(cells: list[tuple[str, str]]) -> dict:
    """A job that runs ``cells`` then 01_sgd's gradient-descent probe (which needs the answer cell)."""
    setup = "import torch\nfrom course_utils import landscapes\n"
    answer = notebook_cells(nbformat.read(str(REPO / "solutions/01_sgd/01_sgd.ipynb"), as_version=4), strip_markers=True)
    gd = next(source for label, source in answer if label == "gradient_descent_by_hand")
    return {"role": "student", "assignment": "01_sgd", "seed": 3, "probes": ["test_gradient_descent_by_hand"],
            "cells": [("setup", setup), *cells, ("gradient_descent_by_hand", gd)], "protected": []}


@pytest.mark.slow  # each restarts a re-check process at least once
@pytest.mark.parametrize("label, source, event", [
    ("loop", "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass", "no progress"),
    ("exit", "import os\nos._exit(3)", "exit code 3"),
    ("crash", "import faulthandler\nfaulthandler._sigsegv()", "SIGSEGV"),
    ("memory", "blocks = []\nwhile True:\n    blocks.append(bytearray(100 * 1024 * 1024))", None),
])
def test_a_cell_that_hangs_or_kills_the_process_costs_only_itself(tmp_path: Path, label: str, source: str, event: str | None) -> None:
    settings = RecheckSettings(item_timeout=5, memory_mb=1024)
    records, events, errors = run_job(containment_job([(label, source)]), tmp_path / "run", settings)
    assert "test_gradient_descent_by_hand" in records, events
    assert records["test_gradient_descent_by_hand"][0][0] != RECORD_ERROR
    if event is None:  # a memory bomb under the limit is just a MemoryError in its own cell
        assert "MemoryError" in errors.get(label, ""), (errors, events)
    else:
        assert any(label in e and event in e for e in events), events


# --- the registry -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_autograded_test_cell_has_a_probe(assignment: str) -> None:
    source = nbformat.read(str(REPO / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)
    tests = {c.metadata.nbgrader.grade_id for c in source.cells
             if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    assert tests and tests == set(probes_for(assignment))


def test_notebook_cells_are_the_locked_setup_and_the_answers() -> None:
    source = nbformat.read(str(REPO / "solutions/01_sgd/01_sgd.ipynb"), as_version=4)
    labels = [label for label, _ in notebook_cells(source)]
    assert labels[0] == "setup" and "SGD" in labels and "gradient_descent_by_hand" in labels
    assert not any(label.startswith("test_") for label in labels)
    assert json.dumps(notebook_cells(source, strip_markers=True)).count("BEGIN SOLUTION") == 0


# --- torch's own patches are not the student's ----------------------------------------------------------------

COMPILE_AND_PATCH = r'''
import builtins, functools, json, sys, types
import numpy, numpy.testing, torch, torch.testing
from course_utils.grading.recheck.sandbox import library_snapshot, tampered_names

snapshot = library_snapshot()
report = {}

# an honest answer: compile a loss, a module and a step function that calls backward(), then use them
loss = torch.compile(lambda x: (x * x).sum(), backend="eager")
loss(torch.randn(3))
model = torch.compile(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()), backend="eager")
model(torch.randn(4, 3)).sum().backward()

def step(w):
    value = (w * w).sum()
    value.backward()
    return value

w = torch.randn(3, requires_grad=True)
torch.compile(step, backend="eager")(w)

@torch.compile(backend="eager")
def seeded(x):
    torch.manual_seed(0)
    return torch.randn(3) + x

seeded(torch.ones(3))
torch.func.grad(lambda x: (x ** 3).sum())(torch.randn(3))
report["compiled"] = tampered_names(snapshot)

def cheat(*args, **kwargs):
    return True

def spoofed_module():
    fake = lambda *args, **kwargs: True
    fake.__module__, fake.__qualname__, fake.__wrapped__ = "torch.foo", "allclose", torch.allclose
    return fake

def spoofed_filename():
    import torch._compile
    fake = eval(compile("lambda *args, **kwargs: True", torch._compile.__file__, "eval"))
    fake.__module__, fake.__wrapped__ = "torch._compile", torch.allclose
    return fake

def torch_code_around_a_cheat():  # torch's real wrapper code, closing over the student's function
    import torch._compile
    fake = types.FunctionType(torch.manual_seed.__code__, vars(torch._compile), "inner", None,
                              (types.CellType(cheat), types.CellType(True)))
    fake.__module__, fake.__wrapped__ = "torch.random", torch.allclose
    return fake

assert_close = torch.testing.assert_close
saved = (dict(vars(torch)), dict(vars(torch.testing)), dict(vars(numpy.testing)), builtins.isinstance,
         assert_close.__code__, dict(assert_close.__kwdefaults__), torch.nn.Module.__dict__["__init__"])

def undo():
    sys.settrace(None)
    builtins.isinstance = saved[3]
    for module, attributes in zip((torch, torch.testing, numpy.testing), saved[:3]):
        for name, value in attributes.items():
            if vars(module).get(name) is not value:
                setattr(module, name, value)
    if "__eq__" in vars(torch.Tensor):
        del torch.Tensor.__eq__
    assert_close.__code__ = saved[4]
    assert_close.__kwdefaults__.update(saved[5])
    torch.nn.Module.__init__ = saved[6]

patches = {
    "torch.allclose": lambda: setattr(torch, "allclose", lambda *a, **k: True),
    "torch.Tensor.__eq__": lambda: setattr(torch.Tensor, "__eq__", lambda self, other: True),
    "numpy.testing.assert_allclose": lambda: setattr(numpy.testing, "assert_allclose", lambda *a, **k: None),
    "builtins.isinstance": lambda: setattr(builtins, "isinstance", lambda *a: True),
    "sys.settrace": lambda: sys.settrace(lambda *a: None),
    "torch.testing.assert_close": lambda: setattr(torch.testing, "assert_close", lambda *a, **k: None),
    "torch.nn.modules.module.Module.__init__": lambda: setattr(torch.nn.Module, "__init__", cheat),
}
spoofs = {
    "module": lambda: setattr(torch, "allclose", spoofed_module()),
    "functools.wraps": lambda: setattr(torch.testing, "assert_close", functools.wraps(assert_close)(lambda *a, **k: None)),
    "filename": lambda: setattr(torch, "allclose", spoofed_filename()),
    "torch code, student closure": lambda: setattr(torch, "allclose", torch_code_around_a_cheat()),
    "another torch function": lambda: setattr(torch, "allclose", torch.is_tensor),
    "partial": lambda: setattr(torch, "allclose", functools.partial(torch.allclose, atol=1e9)),
    "torch wrapper of a cheat": lambda: setattr(torch, "allclose", torch._disable_dynamo(cheat)),
    "code swapped in place": lambda: setattr(assert_close, "__code__", (lambda actual, expected, **k: None).__code__),
    "defaults changed in place": lambda: assert_close.__kwdefaults__.__setitem__("atol", 1e9),
}
for group, attempts in (("patches", patches), ("spoofs", spoofs)):
    report[group] = {}
    for name, attempt in attempts.items():
        attempt()
        report[group][name] = tampered_names(snapshot)
        undo()
report["undone"] = tampered_names(snapshot)
print("REPORT" + json.dumps(report))
'''


@pytest.fixture(scope="module")
def compile_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """torch.compile used the way an honest answer would, then each patch tried and undone, in a process of its own
    (torch._dynamo patches torch when it loads, which must not leak into the other tests)."""
    result = run_python(COMPILE_AND_PATCH, tmp_path_factory.mktemp("compile"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def test_torch_compile_is_not_tampering(compile_report: dict) -> None:
    assert compile_report["compiled"] == []
    assert compile_report["undone"] == []


@pytest.mark.parametrize("name", ["torch.allclose", "torch.Tensor.__eq__", "numpy.testing.assert_allclose", "builtins.isinstance",
                                  "sys.settrace", "torch.testing.assert_close", "torch.nn.modules.module.Module.__init__"])
def test_patches_after_torch_compile_are_still_tampering(compile_report: dict, name: str) -> None:
    assert name in compile_report["patches"][name]


@pytest.mark.parametrize("how", ["module", "functools.wraps", "filename", "torch code, student closure", "another torch function",
                                 "partial", "torch wrapper of a cheat", "code swapped in place", "defaults changed in place"])
def test_a_replacement_dressed_up_as_torch_is_still_tampering(compile_report: dict, how: str) -> None:
    changed = compile_report["spoofs"][how]
    assert "torch.allclose" in changed or "torch.testing.assert_close" in changed, changed


# --- memory the grader lends out and reads back from outside the student's process -------------------------

def _memory_entry(tmp_path, final_values, expect: str, start_values=None):
    """The grader's entry for one shared tensor whose memory ends as ``final_values``."""
    from course_utils.grading.recheck.observations import Recorder, read_shared_memory

    rec = Recorder(seed=1, memory_dir=tmp_path)
    tensor = rec.shared(torch.tensor(start_values if start_values is not None else [1.0, 2.0], dtype=torch.float64),
                        "SGD.step(): parameter 0", expect=expect)
    with torch.no_grad():
        tensor.copy_(torch.tensor(final_values, dtype=torch.float64))
    return read_shared_memory(tmp_path)


def test_memory_facts_tell_an_in_place_update_from_a_replaced_tensor(tmp_path) -> None:
    from course_utils.grading.recheck.observations import memory_facts

    reference = _memory_entry(tmp_path / "reference", [0.5, 1.5], "moves")
    moved = _memory_entry(tmp_path / "moved", [0.7, 1.1], "moves")
    untouched = _memory_entry(tmp_path / "untouched", [1.0, 2.0], "moves")
    assert memory_facts(reference, reference)[0][1] is True
    assert memory_facts(moved, reference)[0][1] is True  # in place, whatever the values: the rule is judged elsewhere
    assert memory_facts(untouched, reference)[0][1] is False
    assert "not in place" in memory_facts(untouched, reference)[0][0]


def test_memory_facts_judge_against_the_references_start_not_the_students(tmp_path) -> None:
    from course_utils.grading.recheck.observations import memory_facts

    reference = _memory_entry(tmp_path / "reference", [3.0, 4.0], "unchanged")
    # The student's process rewrote its own record of the start to match what it left in memory.
    forged = _memory_entry(tmp_path / "forged", [9.0, 9.0], "unchanged", start_values=[9.0, 9.0])
    assert memory_facts(reference, reference)[0][1] is False  # the reference's gradient memory changed: 3, 4 != 1, 2
    assert memory_facts(forged, reference)[0][1] is False


def test_memory_that_was_deleted_or_damaged_is_a_failed_fact(tmp_path) -> None:
    from course_utils.grading.recheck.observations import memory_facts, read_shared_memory

    reference = _memory_entry(tmp_path / "reference", [1.0, 2.0], "unchanged")
    damaged = _memory_entry(tmp_path / "damaged", [1.0, 2.0], "unchanged")
    for path in (tmp_path / "damaged").glob("*.bin"):
        path.write_bytes(b"x")
    assert memory_facts(reference, reference)[0][1] is True
    assert memory_facts(read_shared_memory(tmp_path / "damaged"), reference)[0][1] is False
    assert memory_facts(read_shared_memory(tmp_path / "nothing"), reference) == []
