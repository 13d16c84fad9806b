"""Heavy-ball momentum on a quadratic: the inputs of ``01_sgd``'s ``momentum_rate`` and its (eta, mu) heat map.

On a quadratic with curvatures (Hessian eigenvalues) ``lambda_i``, PyTorch's heavy-ball momentum moves
each eigen-direction on its own, by a linear recurrence of order two whose 2x2 matrix has two roots;
the asymptotic rate is the largest modulus of those roots over all directions. ``01_sgd`` asks the
student to compute that rate (``momentum_rate(eta, mu, eigenvalues)``); this module holds no formula for
it. :func:`rate_heatmap` draws the rate of *any* such function over a grid of (eta, mu), with the
stability boundary ``eta * lambda_max = 2 (1 + mu)`` that chapter 1 derives, and :func:`rate_arguments`
builds the arguments of one row of the spec (``course_utils/specs/sgd.py``) for the checks and the
re-check's probe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:  # plotly is imported by rate_heatmap only: the re-check's probe imports this module for rate_arguments
    import plotly.graph_objects as go

__all__ = ["rate_arguments", "contraction_path", "rate_grid", "heavy_ball_limit", "best_heavy_ball", "rate_heatmap"]

RateFn = Callable[[float, float, Any], Any]


def rate_arguments(row: Any, generator: torch.Generator | None = None) -> tuple[float, float, Any]:
    """``(eta, mu, eigenvalues)`` of a ``RateInput`` row; with ``generator``, eta and mu moved by up to ``row.jitter``.

    The eigenvalues are a tuple of floats, or a float64 CPU tensor when ``row.as_tensor``. A moved
    ``mu`` stays in ``[0, 1)``; a zero ``eta`` or ``mu`` stays zero (the row is about that case).
    """
    eta, mu = float(row.eta), float(row.mu)
    if generator is not None:
        u = (2 * torch.rand(2, generator=generator, dtype=torch.float64) - 1) * row.jitter
        eta, mu = eta * (1 + float(u[0])), min(mu * (1 + float(u[1])), 0.999)
    eigenvalues = tuple(float(v) for v in row.eigenvalues)
    return eta, mu, (torch.tensor(eigenvalues, dtype=torch.float64) if row.as_tensor else eigenvalues)


def contraction_path(row: Any, device: torch.device, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(path, x_star)`` of a ``ContractionInput`` row: heavy-ball momentum on the ``quadratic`` landscape.

    The path has ``row.n_iters`` rows (row k before step k), from the landscape's start, moved by up to
    ``row.jitter`` in each coordinate when a ``generator`` is given; ``x_star`` is the bowl's minimum.
    """
    from course_utils.harness import HeavyBall, optimizer_path
    from course_utils.landscapes import get_landscape

    bowl = get_landscape("quadratic")
    start = torch.tensor(bowl.start, dtype=torch.float64)
    if generator is not None:
        start = start + (torch.rand(2, generator=generator, dtype=torch.float64) * 2 - 1) * row.jitter
    start = start.to(device)
    path = optimizer_path(bowl, start, lambda ps: HeavyBall(ps, lr=row.lr, momentum=row.momentum), row.n_iters)
    return path, torch.tensor(bowl.minima[0], dtype=torch.float64, device=device)


def rate_grid(rate_fn: RateFn, etas: Sequence[float], mus: Sequence[float], eigenvalues: Sequence[float]) -> np.ndarray:
    """``rate_fn(eta, mu, eigenvalues)`` for every (mu, eta) of the grid: an array of shape ``(len(mus), len(etas))``."""
    values = tuple(float(v) for v in eigenvalues)
    return np.array([[float(rate_fn(float(eta), float(mu), values)) for eta in etas] for mu in mus], dtype=np.float64)


def heavy_ball_limit(mu: float | np.ndarray, lam_max: float) -> float | np.ndarray:
    """The largest stable learning rate of heavy-ball momentum on a quadratic: ``2 (1 + mu) / lambda_max``."""
    return 2 * (1 + mu) / lam_max


def best_heavy_ball(lam_min: float, lam_max: float) -> tuple[float, float]:
    """The (eta, mu) that give heavy-ball momentum its fastest rate on a quadratic with these extreme curvatures.

    ``eta = (2 / (sqrt(L) + sqrt(m)))**2`` and ``mu = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2``, as
    chapter 1 derives: both extreme curvatures then sit on the edge of the complex-root band.
    """
    root_l, root_m = math.sqrt(lam_max), math.sqrt(lam_min)
    return (2 / (root_l + root_m)) ** 2, ((root_l - root_m) / (root_l + root_m)) ** 2


def rate_heatmap(
    rate_fn: RateFn,
    eigenvalues: Sequence[float],
    *,
    etas: Sequence[float] | None = None,
    mus: Sequence[float] | None = None,
    points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "Heavy-ball momentum: rate per step on the quadratic",
) -> "go.Figure":
    """A heat map of ``rate_fn`` over (eta, mu), with the stability boundary and the best setting marked.

    ``rate_fn(eta, mu, eigenvalues)`` is the student's function; rates of 1 or more (no convergence)
    are left blank. The dashed line is ``eta * lambda_max = 2 (1 + mu)``; ``points`` adds labelled
    markers ``{label: (eta, mu)}``.
    """
    import plotly.graph_objects as go

    values = tuple(float(v) for v in eigenvalues)
    lam_min, lam_max = min(values), max(values)
    etas = np.linspace(0.0005, 1.1 * heavy_ball_limit(0.99, lam_max), 70) if etas is None else np.asarray(etas, dtype=float)
    mus = np.linspace(0.0, 0.99, 67) if mus is None else np.asarray(mus, dtype=float)
    rates = rate_grid(rate_fn, etas, mus, values)
    shown = np.where(rates < 1.0, rates, np.nan)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(
        x=etas, y=mus, z=shown, zmin=max(0.0, float(np.nanmin(shown)) if np.isfinite(shown).any() else 0.0), zmax=1.0,
        colorscale="Viridis", reversescale=True, colorbar={"title": "rate"},
        customdata=rates, hovertemplate="lr %{x:.4f}<br>momentum %{y:.3f}<br>rate %{customdata:.4f}<extra></extra>",
        name="rate",
    ))
    boundary_mus = np.linspace(0.0, float(mus.max()), 50)
    fig.add_trace(go.Scatter(
        x=heavy_ball_limit(boundary_mus, lam_max), y=boundary_mus, mode="lines", line={"color": "black", "dash": "dash"},
        name="stability limit: lr * lambda_max = 2 (1 + momentum)",
    ))
    best_eta, best_mu = best_heavy_ball(lam_min, lam_max)
    marks = {"best (lr, momentum)": (best_eta, best_mu), **(dict(points) if points else {})}
    fig.add_trace(go.Scatter(
        x=[eta for eta, _ in marks.values()], y=[mu for _, mu in marks.values()], mode="markers+text",
        text=list(marks), textposition="top center", marker={"color": "red", "size": 9, "symbol": "x"}, name="marked settings",
    ))
    fig.update_layout(
        title=title, xaxis_title="learning rate (lr)", yaxis_title="momentum", template="plotly_white",
        legend={"orientation": "h", "y": -0.2}, height=520,
    )
    fig.update_xaxes(range=[float(etas.min()), float(etas.max())])
    fig.update_yaxes(range=[float(mus.min()), float(mus.max())])
    return fig
