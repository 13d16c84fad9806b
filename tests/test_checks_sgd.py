"""The 01_sgd checks accept the reference, reject each known mistake in the right cell, and say why."""

from __future__ import annotations

import pytest
import torch

from conftest import answer_namespace
from course_utils.checks import CheckFailed
from course_utils.checks import sgd as checks
from course_utils.grading.adversarial import ADVERSARIAL
from course_utils.grading.planted import BLANK, REFERENCE, planted_for, sgd_source
from course_utils.grading.submissions import edit

PLANTED_WRONG = [p for p in planted_for("01_sgd") if p.student_id not in (REFERENCE, BLANK)]

# Planted answers really patch torch and numpy (that is their point); undo it after each test.
pytestmark = pytest.mark.usefixtures("restore_patched_modules")


@pytest.fixture(scope="module")
def reference() -> dict:
    return answer_namespace("01_sgd")


def run_cell_check(cell: str, namespace: dict, *, thorough: bool) -> None:
    check, names = checks.CELL_CHECKS[cell]
    check(*(namespace[name] for name in names), thorough=thorough)


MESSAGES = {
    "momentum_as_average": ("test_SGD_momentum", "momentum as an average"),
    "decay_after_momentum": ("test_SGD_momentum", "weight decay added after momentum"),
    "not_in_place": ("test_SGD_contract", "in place"),
    "crash_on_grad_none": ("test_SGD_contract", "AttributeError"),
    "modifies_grad": ("test_SGD_contract", "modified a gradient in place"),
    "subclass_torch_sgd": ("test_SGD_plain", "subclasses torch.optim.SGD"),
    "x_patch_allclose": ("test_SGD_momentum", "momentum as an average"),  # comparisons captured before it patched them
}


@pytest.mark.parametrize("student", sorted(MESSAGES))
def test_failure_message_names_the_mistake(student: str) -> None:
    planted = next(p for p in (*PLANTED_WRONG, *ADVERSARIAL) if p.student_id == student)
    cell, phrase = MESSAGES[student]
    namespace = answer_namespace("01_sgd", dict(planted.replacements))
    with pytest.raises(CheckFailed, match=phrase):
        run_cell_check(cell, namespace, thorough=False)


def test_path_mistakes_are_named(reference: dict) -> None:
    planted = next(p for p in PLANTED_WRONG if p.student_id == "path_mistakes")
    namespace = answer_namespace("01_sgd", dict(planted.replacements))
    expected = {
        "test_gradient_descent_by_hand": "rows hold the point after each step",
        "test_sgd_epoch_by_hand": "gradients pile up",
        "test_opt_fn_with_sgd": "momentum not passed",
        "test_opt_fn": "optimizer_hyperparams ignored",
    }
    for cell, phrase in expected.items():
        with pytest.raises(CheckFailed, match=phrase):
            run_cell_check(cell, namespace, thorough=False)


def test_message_reports_configuration_step_parameter_and_values() -> None:
    namespace = answer_namespace("01_sgd", {"SGD": sgd_source("ema", momentum="buf.mul_(self.momentum).add_(g, alpha=1 - self.momentum)")})
    with pytest.raises(CheckFailed) as caught:
        checks.check_sgd_momentum(namespace["SGD"])
    message = str(caught.value)
    for fragment in ("configuration 'momentum'", "lr=0.1, momentum=0.9", "after step 2 of 5", "parameter 0", "expected", "got", "Hint:"):
        assert fragment in message


# --- mistakes that are not in the demo class ------------------------------------------------------------

SGD_VARIANTS = {
    "decay not scaled by lr": (checks.check_sgd_plain, "weight decay not multiplied by the learning rate",
                               {"decay": "pass", "apply": "p.add_(g, alpha=-self.lr)\n            p.mul_(1 - self.weight_decay)"}),
    "decay sign": (checks.check_sgd_plain, "weight decay with the wrong sign", {"decay": "g = g.add(p, alpha=-self.weight_decay)"}),
    "ascent": (checks.check_sgd_plain, "gradient ascent", {"apply": "p.add_(g, alpha=self.lr)"}),
    "buffer forgotten": (checks.check_sgd_momentum, "not kept between steps",
                         {"momentum": "buf = self.state[p] = g.clone()"}),
    "nesterov": (checks.check_sgd_momentum, "Nesterov",
                 {"apply": "p.add_(p.grad.add(p, alpha=self.weight_decay).add(buf, alpha=self.momentum) if self.momentum else g, alpha=-self.lr)"}),
    "state on the cpu": (checks.check_sgd_contract, "meta", {"skip": "if p.grad is None:\n                continue\n            if self.momentum and p not in self.state:\n                self.state[p] = torch.zeros(p.shape, dtype=p.dtype)"}),
    "state in float32": (checks.check_sgd_contract, "float32", {"skip": "if p.grad is None:\n                continue\n            if self.momentum and p not in self.state:\n                self.state[p] = torch.zeros_like(p, dtype=torch.float32)"}),
    "no validation": (checks.check_sgd_contract, "was accepted", {"prelude": ""}),
}


@pytest.mark.parametrize("name", sorted(SGD_VARIANTS))
def test_sgd_variant_is_rejected_with_its_name(name: str) -> None:
    check, phrase, changes = SGD_VARIANTS[name]
    source = sgd_source(name, **changes)
    if name == "no validation":
        source = source.replace("raise ValueError", "pass  #")
    namespace = answer_namespace("01_sgd", {"SGD": source})
    with pytest.raises(CheckFailed, match=phrase):
        check(namespace["SGD"])


def test_wrong_default_learning_rate_is_named() -> None:
    namespace = answer_namespace("01_sgd", {"SGD": sgd_source("default lr").replace("lr=1e-3", "lr=0.01", 1)})
    with pytest.raises(CheckFailed, match="default lr is 0.01; expected 0.001"):
        checks.check_sgd_plain(namespace["SGD"])


def test_wrapper_around_torch_sgd_scores_nothing() -> None:
    source = '''class SGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self.inner = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    def zero_grad(self):
        self.inner.zero_grad()
    def step(self):
        self.inner.step()
'''
    namespace = answer_namespace("01_sgd", {"SGD": source})
    for check in (checks.check_sgd_plain, checks.check_sgd_momentum, checks.check_sgd_contract):
        with pytest.raises(CheckFailed, match="calls torch.optim"):
            check(namespace["SGD"])


def test_calling_the_functional_kernel_scores_nothing() -> None:
    source = sgd_source("functional", prelude="import torch.optim.sgd as _functional_sgd",
                        apply="_functional_sgd.sgd([p], [g], [None], weight_decay=0.0, momentum=0.0, lr=self.lr, dampening=0.0, nesterov=False, maximize=False)")
    namespace = answer_namespace("01_sgd", {"SGD": source})
    with pytest.raises(CheckFailed, match="calls torch.optim"):
        checks.check_sgd_plain(namespace["SGD"])


def test_torch_optim_is_restored_after_a_check(reference: dict) -> None:
    before = (torch.optim.SGD.step, torch.optim.Adam.__init__)
    checks.check_sgd_contract(reference["SGD"])
    assert (torch.optim.SGD.step, torch.optim.Adam.__init__) == before


def test_subclass_of_optimizer_base_class_is_allowed(reference: dict) -> None:
    base = reference["SGD"]
    Derived = type("SGD", (base, torch.optim.Optimizer), {})
    checks.check_sgd_plain(Derived)


def test_gradient_descent_must_not_use_torch_optim() -> None:
    namespace = answer_namespace("01_sgd", {"gradient_descent_by_hand": edit(
        "with torch.no_grad():\n            xy -= lr * xy.grad", "torch.optim.SGD([xy], lr=lr).step()")})
    with pytest.raises(CheckFailed, match="calls torch.optim"):
        checks.check_gradient_descent_by_hand(namespace["gradient_descent_by_hand"])

def test_returning_float32_path_is_explained() -> None:
    namespace = answer_namespace("01_sgd", {"gradient_descent_by_hand": edit(
        "torch.empty(n_iters, 2, dtype=xy.dtype, device=xy.device)", "torch.zeros(n_iters, 2)")})
    with pytest.raises(CheckFailed, match="returned torch.float32"):
        checks.check_gradient_descent_by_hand(namespace["gradient_descent_by_hand"])

def test_modifying_the_callers_start_point_is_reported() -> None:
    namespace = answer_namespace("01_sgd", {"opt_fn": edit("xy = xy.detach().clone().requires_grad_(True)", "xy.requires_grad_(True)")})
    with pytest.raises(CheckFailed, match="changed the caller's xy"):
        checks.check_opt_fn(namespace["opt_fn"])

def test_course_utils_helper_is_not_accepted_as_an_answer() -> None:
    from course_utils.checks.trajectory import optimizer_path

    with pytest.raises(CheckFailed, match="write your own function"):
        checks.check_opt_fn(optimizer_path)


def test_challenge_rejects_a_setting_that_stops_short(reference: dict) -> None:
    with pytest.raises(CheckFailed, match="away from the minimum"):
        checks.check_rosenbrock_challenge(torch.optim.SGD, {"lr": 1e-4}, 10)


@pytest.mark.parametrize("n_iters", [0, 1001, 2.5, True])
def test_challenge_rejects_bad_step_counts(n_iters) -> None:
    with pytest.raises(CheckFailed, match="challenge_n_iters"):
        checks.check_rosenbrock_challenge(torch.optim.Adam, {"lr": 0.1}, n_iters)


def test_checks_ignore_a_patched_torch_allclose_and_equal(reference: dict, monkeypatch) -> None:
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "equal", lambda *a, **k: True)
    namespace = answer_namespace("01_sgd", {"SGD": sgd_source("modifies grad", decay="g = p.grad.add_(p, alpha=self.weight_decay)")})
    with pytest.raises(CheckFailed, match="modified a gradient"):
        checks.check_sgd_contract(namespace["SGD"])


def test_an_unanswered_exercise_says_so_without_a_traceback() -> None:
    def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
        raise NotImplementedError()

    with pytest.raises(CheckFailed) as failure:
        checks.check_gradient_descent_by_hand(gradient_descent_by_hand)
    message = str(failure.value)
    assert "not written yet" in message and "raise NotImplementedError()" in message
    assert "Traceback" not in message and "course_utils" not in message


def test_an_error_in_the_answer_shows_the_answer_s_frames_only() -> None:
    def helper_of_the_student(xy):
        raise ValueError("shapes do not line up")

    def gradient_descent_by_hand(fn, xy, lr, n_iters=100):
        return helper_of_the_student(xy)

    with pytest.raises(CheckFailed) as failure:
        checks.check_gradient_descent_by_hand(gradient_descent_by_hand)
    message = str(failure.value)
    assert "raised ValueError" in message and "shapes do not line up" in message
    assert "helper_of_the_student" in message and "in gradient_descent_by_hand" in message
    assert "/course_utils/" not in message, "the check's own frames (and the machine's paths) are not the student's"
