"""Bad input gets an error that names the argument, what came in and what was expected."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from course_utils import validation as v
from course_utils.device import get_device, seed_everything


def test_negative_learning_rate_is_rejected_like_torch_optim() -> None:
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0.5 \(expected learning rate >= 0.0\)"):
        v.require_learning_rate(-0.5)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        v.require_number(value, "momentum")


@pytest.mark.parametrize("value", ["0.1", None, True, [0.1]])
def test_non_numbers_are_rejected_with_their_type(value) -> None:
    with pytest.raises(TypeError, match=f"lr must be a real number, got {type(value).__name__}"):
        v.require_number(value, "lr")


def test_one_element_tensor_counts_as_a_number() -> None:
    assert v.require_learning_rate(torch.tensor(0.25)) == 0.25


def test_exclusive_upper_bound_is_enforced() -> None:
    with pytest.raises(ValueError, match="momentum < 1.0"):
        v.require_number(1.0, "momentum", minimum=0.0, maximum=1.0, max_inclusive=False)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (False, TypeError)])
def test_positive_int(value, error) -> None:
    with pytest.raises(error, match="n_iters"):
        v.require_positive_int(value, "n_iters")


def test_xy_must_be_a_float_tensor_of_shape_two() -> None:
    with pytest.raises(TypeError, match=r"xy must be a torch.Tensor, got list"):
        v.require_xy([1.0, 2.0])
    with pytest.raises(ValueError, match=r"xy must have shape \(2,\), got shape \(3,\)"):
        v.require_xy(torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point dtype"):
        v.require_xy(torch.tensor([1, 2]))
    xy = torch.tensor([1.0, 2.0])
    assert v.require_xy(xy) is xy


def test_shape_with_free_dimension() -> None:
    v.require_tensor(torch.zeros(5, 3), "X", shape=(None, 3))
    with pytest.raises(ValueError, match=r"X must have shape \(N, 3\), got shape \(5, 4\)"):
        v.require_tensor(torch.zeros(5, 4), "X", shape=(None, 3))


def test_a_single_tensor_is_not_an_iterable_of_parameters() -> None:
    with pytest.raises(TypeError, match=r"got a single tensor of shape \(3,\); wrap it in a list"):
        v.require_iterable_of_tensors(torch.zeros(3))


def test_parameter_generators_are_materialised() -> None:
    params = [torch.zeros(2), torch.ones(3)]
    assert v.require_iterable_of_tensors(p for p in params) == params


def test_non_tensor_items_are_named_by_index() -> None:
    with pytest.raises(TypeError, match=r"params\[1\] must be a torch.Tensor, got float"):
        v.require_iterable_of_tensors([torch.zeros(1), 0.5])
    with pytest.raises(ValueError, match="params is empty"):
        v.require_iterable_of_tensors([])


def test_callable_required() -> None:
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        v.require_callable(3, "fn")


def test_device_defaults_to_cuda_only_when_available(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_course_device_overrides_and_explains_missing_cuda(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
            get_device()


def test_seed_everything_makes_draws_repeat_and_returns_a_generator() -> None:
    gen = seed_everything(7)
    first = (torch.rand(3), torch.rand(2, generator=gen))
    gen = seed_everything(7)
    assert torch.equal(first[0], torch.rand(3)) and torch.equal(first[1], torch.rand(2, generator=gen))
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


def test_importing_course_utils_does_not_import_torch() -> None:
    code = "import sys, course_utils; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_a_failing_check_shows_its_message_without_a_traceback_in_ipython() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from course_utils.checks.feedback import CheckFailed

    shell = InteractiveShell.instance()
    shown: list[list[str]] = []
    original = shell._showtraceback
    shell._showtraceback = lambda etype, evalue, stb: shown.append(stb)
    try:
        shell.user_ns["CheckFailed"] = CheckFailed
        shell.run_cell("def deep():\n    raise CheckFailed('SGD, step 2: expected 1.0, got 2.0')\ndeep()")
    finally:
        shell._showtraceback = original
    assert shown == [["CheckFailed:", "SGD, step 2: expected 1.0, got 2.0"]]
