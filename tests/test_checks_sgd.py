"""The 01_sgd checks accept the reference, reject each known mistake in the right cell, and say why."""

from __future__ import annotations

import textwrap

import pytest
import torch

from conftest import answer_namespace
from course_utils.checks import CheckFailed
from course_utils.checks import sgd as checks
from course_utils.grading.adversarial import ADVERSARIAL
from course_utils.grading.planted import BLANK, REFERENCE, planted_for
from course_utils.grading.submissions import edit
from course_utils.mistakes import reference_source, variant_source
from course_utils.mistakes import sgd as mistakes

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
    "nesterov_into_buffer": ("test_SGD_nesterov", "look-ahead written into the momentum buffer"),
    "path_arena_convention": ("test_opt_fn_with_sgd", "already requires grad and moves that tensor in place"),
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
    namespace = answer_namespace("01_sgd", {"SGD": variant_source(mistakes.MomentumAsAverage, "SGD")})
    with pytest.raises(CheckFailed) as caught:
        checks.check_sgd_momentum(namespace["SGD"])
    message = str(caught.value)
    for fragment in ("configuration 'momentum'", "lr=0.1, momentum=0.9", "after step 2 of 5", "parameter 0", "expected", "got", "Hint:"):
        assert fragment in message


# --- mistakes that are not in the demo class ------------------------------------------------------------

def sgd_subclass(body: str, prelude: str = "") -> str:
    """An SGD cell: the mistakes module's reference SGD, then ``class SGD(ReferenceSGD)`` with ``body`` (a student's change)."""
    return (prelude + "\n" + reference_source(mistakes.ReferenceSGD, "ReferenceSGD") + "\n\nclass SGD(ReferenceSGD):\n"
            + textwrap.indent(textwrap.dedent(body), "    "))


@pytest.mark.parametrize("variant", mistakes.NUMERIC, ids=lambda v: v.__name__)
def test_each_known_mistake_planted_as_source_is_named(variant: type) -> None:
    """The variant's own source text, run as a student's SGD, fails a numeric check that names it."""
    namespace = answer_namespace("01_sgd", {"SGD": variant_source(variant, "SGD")})
    messages = []
    for check in (checks.check_sgd_plain, checks.check_sgd_momentum, checks.check_sgd_nesterov):
        try:
            check(namespace["SGD"])
        except CheckFailed as failure:
            messages.append(str(failure))
    assert messages, f"{variant.__name__} passed every numeric check"
    assert f"known mistake: {variant.mistake}." in messages[0], messages[0]


def test_the_mistakes_reference_passes_every_check() -> None:
    namespace = answer_namespace("01_sgd", {"SGD": reference_source(mistakes.ReferenceSGD, "SGD")})
    for check in (checks.check_sgd_plain, checks.check_sgd_momentum, checks.check_sgd_contract):
        check(namespace["SGD"], thorough=True)


def test_nesterov_variants_lose_only_the_nesterov_cell() -> None:
    """A Nesterov mistake leaves the heavy-ball cells alone: nesterov=False is exactly the reference."""
    for variant in (mistakes.IgnoresNesterov, mistakes.NesterovIntoBuffer):
        namespace = answer_namespace("01_sgd", {"SGD": variant_source(variant, "SGD")})
        for check in (checks.check_sgd_plain, checks.check_sgd_momentum, checks.check_sgd_contract):
            check(namespace["SGD"], thorough=True)
        with pytest.raises(CheckFailed, match="known mistake"):
            checks.check_sgd_nesterov(namespace["SGD"], thorough=True)


def test_nesterov_without_momentum_must_be_rejected() -> None:
    body = """
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr=lr, momentum=max(momentum, 0.0), weight_decay=weight_decay)
        self.nesterov = nesterov and momentum > 0
    """
    namespace = answer_namespace("01_sgd", {"SGD": sgd_subclass(body)})
    with pytest.raises(CheckFailed, match=r"nesterov=True\) was accepted"):
        checks.check_sgd_nesterov(namespace["SGD"])


def test_an_sgd_without_the_nesterov_keyword_is_told_so() -> None:
    namespace = answer_namespace("01_sgd", {"SGD": variant_source(mistakes.MomentumAsAverage, "SGD").replace(
        ", nesterov=False):", "):")})
    with pytest.raises(CheckFailed, match="no argument 'nesterov'"):
        checks.check_sgd_nesterov(namespace["SGD"])


CONTRACT_VARIANTS = {
    "state on the cpu": ("meta", "def first_buffer(self, g):\n    return torch.zeros(g.shape, dtype=g.dtype).add_(g)\n"),
    "state in float32": ("float32", "def first_buffer(self, g):\n    return torch.zeros_like(g, dtype=torch.float32).add_(g)\n"),
}


@pytest.mark.parametrize("name", sorted(CONTRACT_VARIANTS))
def test_contract_mistake_is_explained(name: str) -> None:
    phrase, body = CONTRACT_VARIANTS[name]
    namespace = answer_namespace("01_sgd", {"SGD": sgd_subclass(body)})
    with pytest.raises(CheckFailed, match=phrase):
        checks.check_sgd_contract(namespace["SGD"])


def test_missing_validation_is_explained() -> None:
    source = reference_source(mistakes.ReferenceSGD, "SGD").replace("raise ValueError", "pass  #")
    namespace = answer_namespace("01_sgd", {"SGD": source})
    with pytest.raises(CheckFailed, match="was accepted"):
        checks.check_sgd_contract(namespace["SGD"])


def test_wrong_default_learning_rate_is_named() -> None:
    namespace = answer_namespace("01_sgd", {"SGD": reference_source(mistakes.ReferenceSGD, "SGD").replace("lr=1e-3", "lr=0.01", 1)})
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
    source = sgd_subclass("def apply(self, p, g):\n    _functional_sgd.sgd([p], [g], [None], weight_decay=0.0, momentum=0.0, lr=self.lr, "
                          "dampening=0.0, nesterov=False, maximize=False)\n", prelude="import torch.optim.sgd as _functional_sgd")
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
    namespace = answer_namespace("01_sgd", {"SGD": variant_source(mistakes.ModifiesGrad, "SGD")})
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


# --- what a path function returns ------------------------------------------------------------------------

_ATTACHED_PATH = edit("    return trajectory", "    return trajectory.requires_grad_(True) * 1.0")


def test_a_path_still_attached_to_autograd_is_explained() -> None:
    namespace = answer_namespace("01_sgd", {"gradient_descent_by_hand": _ATTACHED_PATH})
    with pytest.raises(CheckFailed, match="still attached to autograd"):
        checks.check_gradient_descent_by_hand(namespace["gradient_descent_by_hand"])


def test_a_path_on_another_device_is_explained() -> None:
    namespace = answer_namespace("01_sgd", {"gradient_descent_by_hand": edit("    return trajectory", "    return trajectory.to('meta')")})
    with pytest.raises(CheckFailed, match="on meta, but xy is on cpu"):
        checks.check_gradient_descent_by_hand(namespace["gradient_descent_by_hand"])


def test_a_function_that_fails_for_another_reason_is_not_called_arena_s_convention() -> None:
    namespace = answer_namespace("01_sgd", {"opt_fn_with_sgd": edit("    return trajectory", "    raise RuntimeError('broken')")})
    with pytest.raises(CheckFailed) as caught:
        checks.check_opt_fn_with_sgd(namespace["opt_fn_with_sgd"])
    assert "broken" in str(caught.value) and "ARENA" not in str(caught.value)
