"""Chapter 1's momentum section: the checks' rate against numpy and torch.optim, the text's claims, the heat map.

The rate the check expects (``course_utils/checks/sgd.py``'s ``heavy_ball_rate``, the quadratic formula) is
compared here with numpy's eigenvalues of the 2x2 matrix and with the contraction that torch.optim.SGD
itself shows on a quadratic; the stability limits and the best setting that chapter 1 states are run with
torch.optim.SGD (heavy ball and nesterov=True).
"""

from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from course_utils import momentum
from course_utils.checks import CheckFailed
from course_utils.checks import sgd as checks
from course_utils.mistakes import sgd as mistakes
from course_utils.specs import sgd as spec


def numpy_rate(eta: float, mu: float, eigenvalues) -> float:
    return max(float(np.abs(np.linalg.eigvals(np.array([[1 + mu - eta * lam, -mu], [1.0, 0.0]]))).max()) for lam in eigenvalues)


def torch_contraction(lr: float, momentum_: float, lam: float, *, nesterov: bool = False, steps: int = 600) -> float:
    """Per-step contraction of torch.optim.SGD on f(e) = lam * e**2 / 2 over the second half of a run (envelope of the state)."""
    e = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([e], lr=lr, momentum=momentum_, nesterov=nesterov)
    sizes, previous = [], 1.0
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * lam * e ** 2).sum().backward()
        optimizer.step()
        now = float(e.detach())
        sizes.append(math.hypot(now, previous))  # the size of the pair (e_t, e_(t-1)) never passes through zero
        previous = now
    # the largest size over a window longer than any swing here: the envelope, which shrinks at the rate itself
    window, half = 100, steps // 2
    return (max(sizes[-window:]) / max(sizes[half - window:half])) ** (1 / (steps - half))


def test_the_checks_rate_agrees_with_numpy_eigenvalues() -> None:
    gen = np.random.default_rng(0)
    for _ in range(300):
        eta, mu = float(gen.uniform(0, 0.1)), float(gen.uniform(0, 0.99))
        eigenvalues = tuple(gen.uniform(0.1, 60, size=int(gen.integers(1, 4))))
        assert checks.heavy_ball_rate(eta, mu, eigenvalues) == pytest.approx(numpy_rate(eta, mu, eigenvalues), rel=1e-7)


@pytest.mark.parametrize("lr, momentum_, lam", [(0.02, 0.0, 1.0), (0.01, 0.3, 1.0), (0.03, 0.9, 50.0), (0.03, 0.9, 1.0), (0.07, 0.5, 50.0)])
def test_the_rate_is_what_torch_optim_sgd_shows(lr: float, momentum_: float, lam: float) -> None:
    assert torch_contraction(lr, momentum_, lam) == pytest.approx(checks.heavy_ball_rate(lr, momentum_, (lam,)), abs=2e-3)


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_heavy_ball_is_stable_up_to_two_times_one_plus_mu(mu: float) -> None:
    lam = 50.0
    limit = momentum.heavy_ball_limit(mu, lam)
    assert torch_contraction(0.97 * limit, mu, lam) < 1 < torch_contraction(1.03 * limit, mu, lam)


@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_nesterov_is_stable_up_to_the_limit_the_chapter_states(mu: float) -> None:
    lam = 12.5
    limit = 2 * (1 + mu) / ((1 + 2 * mu) * lam)
    assert torch_contraction(0.97 * limit, mu, lam, nesterov=True) < 1 < torch_contraction(1.03 * limit, mu, lam, nesterov=True)


def test_the_best_setting_beats_every_point_of_a_fine_grid() -> None:
    eta, mu = momentum.best_heavy_ball(1.0, 50.0)
    best = checks.heavy_ball_rate(eta, mu, (1.0, 50.0))
    assert best == pytest.approx((math.sqrt(50) - 1) / (math.sqrt(50) + 1), rel=1e-6)
    grid = momentum.rate_grid(checks.heavy_ball_rate, np.linspace(0.001, 0.08, 120), np.linspace(0, 0.99, 120), (1.0, 50.0))
    assert grid.min() >= best - 1e-6
    assert (49 / 51) == pytest.approx(checks.heavy_ball_rate(2 / 51, 0.0, (1.0, 50.0)))


def test_the_heat_map_draws_the_students_rates_and_the_stability_line() -> None:
    calls = []

    def rate(eta, mu, eigenvalues):
        calls.append((eta, mu))
        return checks.heavy_ball_rate(eta, mu, eigenvalues)

    etas, mus = np.linspace(0.001, 0.09, 12), np.linspace(0, 0.95, 9)
    fig = momentum.rate_heatmap(rate, (1.0, 50.0), etas=etas, mus=mus, points={"A": (0.02, 0.0)})
    assert isinstance(fig, go.Figure) and len(calls) == 12 * 9
    heat = next(t for t in fig.data if isinstance(t, go.Heatmap))
    z = np.array(heat.z, dtype=float)
    unstable = etas[None, :] * 50 >= 2 * (1 + mus[:, None]) + 1e-9
    assert np.isnan(z[unstable]).all() and np.isfinite(z[~unstable]).all()
    line = next(t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "lines")
    assert np.allclose(np.array(line.x) * 50, 2 * (1 + np.array(line.y)))
    marks = next(t for t in fig.data if isinstance(t, go.Scatter) and t.mode == "markers+text")
    assert "A" in marks.text


def test_rate_arguments_jitter_only_with_a_generator_and_keep_zeros() -> None:
    row = spec.RateInput("row", 0.03, 0.0, (1.0, 50.0), as_tensor=True)
    assert momentum.rate_arguments(row)[:2] == (0.03, 0.0)
    eta, mu, eigenvalues = momentum.rate_arguments(row, torch.Generator().manual_seed(3))
    assert eta != 0.03 and abs(eta / 0.03 - 1) <= row.jitter and mu == 0.0
    assert isinstance(eigenvalues, torch.Tensor) and eigenvalues.dtype == torch.float64


@pytest.mark.parametrize("variant", mistakes.RATE_NUMERIC, ids=lambda v: v.__name__)
def test_each_rate_mistake_is_caught_by_a_visible_row_and_named(variant: type) -> None:
    namespace = {"torch": torch}
    exec(mistakes.rate_source(variant), namespace)  # noqa: S102 - the mistakes module's own source
    with pytest.raises(CheckFailed, match=re.escape(f"known mistake: {variant.mistake}.")):
        checks.check_momentum_rate(namespace["momentum_rate"])


def test_a_complex_return_value_is_explained() -> None:
    with pytest.raises(CheckFailed, match="modulus"):
        checks.check_momentum_rate(lambda eta, mu, eigenvalues: complex(0.5, 0.5))


def test_the_checks_measurement_of_a_geometric_path_is_its_ratio() -> None:
    for n in (50, 51):
        path = torch.tensor([[0.8 ** k, 0.0] for k in range(n)], dtype=torch.float64)
        assert checks._contraction(path + 1.0, torch.ones(2, dtype=torch.float64)) == pytest.approx(0.8, rel=1e-12)


def test_the_measured_rate_of_a_heavy_ball_run_is_close_to_the_predicted_one() -> None:
    for row in spec.EXERCISES["test_measured_contraction"].rows(thorough=False)[:1]:  # point A: real roots
        path, x_star = momentum.contraction_path(row, torch.device("cpu"))
        assert checks._contraction(path, x_star) == pytest.approx(checks.heavy_ball_rate(row.lr, row.momentum, spec.KAPPA_50), abs=1e-4)


@pytest.mark.parametrize("variant", mistakes.CONTRACTION_NUMERIC, ids=lambda v: v.__name__)
def test_each_contraction_mistake_is_caught_by_a_visible_row_and_named(variant: type) -> None:
    namespace = {"torch": torch}
    exec(mistakes.contraction_source(variant), namespace)  # noqa: S102 - the mistakes module's own source
    with pytest.raises(CheckFailed, match=re.escape(f"known mistake: {variant.mistake}.")):
        checks.check_measured_contraction(namespace["measured_contraction"])


def test_a_measurement_that_changes_the_path_is_reported() -> None:
    def measure(path, x_star):
        value = checks._contraction(path, x_star)
        path.zero_()
        return value

    with pytest.raises(CheckFailed, match="changed the path"):
        checks.check_measured_contraction(measure)
