"""Figures of landscapes, optimizer trajectories and training curves.

Interactive figures use plotly (:func:`plot_landscape`, :func:`plot_trajectories`, :func:`plot_curves`);
their ``*_static`` twins use matplotlib for places where JavaScript does not run (PDF export, a
terminal, a test). Every function *returns* its figure and never calls ``show()``: a notebook displays
the figure when it is the last expression of a cell.

Conventions shared by all functions:

- A landscape is a :class:`~course_utils.landscapes.Landscape`, its name in
  :data:`~course_utils.landscapes.LANDSCAPES`, or a plain function ``f(x, y)`` of two tensors
  (then ``bounds=((x_min, x_max), (y_min, y_max))`` is needed, or is taken from the trajectories).
- A trajectory is a tensor or array of shape ``(n_steps, 2)``; row ``k`` is the point **before**
  step ``k``, so row 0 is the start.
- With ``log_scale`` the colours (and the height of the 3-D surface) show
  ``log10(f - f_min + eps)``, with ``f_min`` the landscape's known minimum value (else the lowest value
  seen) and ``eps`` a small offset (``1e-5`` times the median height above ``f_min``), so that the
  flat bottom of a valley keeps visible contours. Hover text always shows the loss ``f`` itself.
"""

from __future__ import annotations

import functools
import html
import io
import json
import math
import numbers
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.figure
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from .landscapes import Landscape, get_landscape
from .validation import require_positive_int

__all__ = [
    "configure_plotly_renderer",
    "CourseRenderer",
    "describe_optimizer",
    "plot_curves",
    "plot_curves_static",
    "plot_seed_bands",
    "plot_seed_points",
    "plot_landscape",
    "plot_trajectories",
    "plot_trajectories_static",
    "StaticFigure",
]

Bounds = tuple[tuple[float, float], tuple[float, float]]
LandscapeLike = Landscape | str | Callable[[Tensor, Tensor], Tensor]

# Path colours chosen to stand out on the viridis colour map (which runs purple -> green -> yellow).
PATH_COLOURS: tuple[str, ...] = (
    "#e6194b",  # red
    "#ff8c00",  # orange
    "#f032e6",  # magenta
    "#ffffff",  # white
    "#000000",  # black
    "#00e5ff",  # cyan
    "#9a6324",  # brown
    "#fabed4",  # pink
)
COLOUR_MAP = "Viridis"
_START_SYMBOL, _END_SYMBOL = "diamond", "x"


# --------------------------------------------------------------------------------------------------
# Renderer and labels
# --------------------------------------------------------------------------------------------------


class CourseRenderer(MimetypeRenderer):
    """plotly's own mimetype plus a light HTML twin, without embedding plotly.js in the notebook.

    JupyterLab draws the ``application/vnd.plotly.v1+json`` part with its plotly extension. The
    ``text/html`` part (a ``<div>`` and a ``Plotly.newPlot`` call, no plotly.js, no MathJax) is what
    nbconvert exports; the course's export template (:mod:`course_utils.offline`) puts plotly.js into
    the exported page once. Keeping the 4.7 MB library out of every saved notebook is what keeps a run
    notebook small enough for an LMS upload.
    """

    def to_mimebundle(self, fig_dict: dict) -> dict:
        from plotly.io import to_html, to_json

        return {
            "application/vnd.plotly.v1+json": json.loads(to_json(fig_dict, validate=False, remove_uids=False)),
            "text/html": to_html(
                fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                default_width="100%", default_height=525, validate=False,
            ),
        }


RENDERER_NAME = "course"


def configure_plotly_renderer() -> str:
    """Choose how plotly figures are displayed, set it as plotly's default, and return its name.

    ``"colab"`` inside Google Colab (which loads plotly.js from its CDN); elsewhere ``"course"``
    (:class:`CourseRenderer`): JupyterLab's native plotly output plus an HTML twin for nbconvert, with
    plotly.js supplied by the export (``course_utils.offline``) rather than saved in the notebook. While
    nbgrader autogrades (``NBGRADER_EXECUTION=autograde``) it changes nothing and returns ``"json"``:
    nothing is shown there, and the renderers' set-up (loading nbformat and plotly.js) would cost every
    graded submission about two seconds.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return "json"  # plotly's default; touching pio.renderers at all loads the renderers' dependencies
    if "google.colab" in sys.modules:
        name = "colab"
    else:
        name = RENDERER_NAME
        pio.renderers[name] = CourseRenderer()
    pio.renderers.default = name
    return name


def _format_value(value: Any) -> str:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    if isinstance(value, tuple):
        inner = ", ".join(_format_value(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(item) for item in value) + "]"
    return repr(value)


def describe_optimizer(optimizer_class: Any, hyperparams: Mapping[str, Any]) -> str:
    """A short label such as ``"SGD(lr=0.01, momentum=0.9)"`` for legends and titles.

    The class's ``__name__`` (the wrapped function's for a ``functools.partial``) followed by the
    hyperparameters in the mapping's order; numbers use the compact ``:g`` format
    (``0.001`` -> ``0.001``, ``1e-05`` -> ``1e-05``), tuples such as ``betas`` are formatted item by item.
    """
    if not isinstance(hyperparams, Mapping):
        raise TypeError(
            f"hyperparams must be a mapping such as {{'lr': 0.01}}, got {type(hyperparams).__name__} {hyperparams!r}"
        )
    target = optimizer_class.func if isinstance(optimizer_class, functools.partial) else optimizer_class
    name = getattr(target, "__name__", None) or type(target).__name__
    arguments = ", ".join(f"{key}={_format_value(value)}" for key, value in hyperparams.items())
    return f"{name}({arguments})"


# --------------------------------------------------------------------------------------------------
# Shared machinery: resolving a landscape, evaluating it on a grid, colour transform, trajectories
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Surface:
    fn: Callable[[Tensor, Tensor], Tensor]
    title: str
    bounds: Bounds | None
    minima: tuple[tuple[float, float], ...]
    min_value: float | None
    log_scale: bool


def _check_resolution(resolution: Any) -> int:
    resolution = require_positive_int(resolution, "resolution")
    if resolution < 2:
        raise ValueError(f"Invalid resolution: {resolution} (expected at least 2 grid points per axis)")
    return resolution


def _check_bounds(bounds: Any) -> Bounds:
    try:
        (x_min, x_max), (y_min, y_max) = bounds
        x_min, x_max, y_min, y_max = (float(v) for v in (x_min, x_max, y_min, y_max))
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds must be ((x_min, x_max), (y_min, y_max)), got {bounds!r}"
        ) from None
    if not all(math.isfinite(v) for v in (x_min, x_max, y_min, y_max)) or not (x_min < x_max and y_min < y_max):
        raise ValueError(
            f"bounds must be finite with x_min < x_max and y_min < y_max, got {bounds!r}"
        )
    return (x_min, x_max), (y_min, y_max)


def _resolve(landscape: LandscapeLike, bounds: Any, log_scale: bool | None) -> _Surface:
    if isinstance(landscape, (str, Landscape)):
        found = get_landscape(landscape)
        return _Surface(
            fn=found.fn,
            title=found.title,
            bounds=_check_bounds(bounds if bounds is not None else found.bounds),
            minima=found.minima,
            min_value=found.min_value,
            log_scale=found.log_scale if log_scale is None else bool(log_scale),
        )
    if callable(landscape):
        return _Surface(
            fn=landscape,
            title=getattr(landscape, "__name__", "f(x, y)"),
            bounds=None if bounds is None else _check_bounds(bounds),
            minima=(),
            min_value=None,
            log_scale=bool(log_scale),
        )
    raise TypeError(
        "landscape must be a Landscape, the name of one (e.g. 'rosenbrock') or a function f(x, y), "
        f"got {type(landscape).__name__} {landscape!r}"
    )


def _evaluate(fn: Callable[[Tensor, Tensor], Tensor], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``fn`` at float64 points ``x``, ``y`` (same shape) as a float64 array; non-finite values -> NaN."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    with torch.no_grad():
        values = fn(xt, yt)
    values = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
    values = torch.broadcast_to(values, xt.shape).numpy().astype(np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan
    return values


def _grid(fn: Callable[[Tensor, Tensor], Tensor], bounds: Bounds, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``fn`` on a ``resolution x resolution`` grid: ``xs (W,)``, ``ys (H,)``, ``Z (H, W)``, ``Z[j, i] = f(xs[i], ys[j])``."""
    (x_min, x_max), (y_min, y_max) = bounds
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys, indexing="xy")
    return xs, ys, _evaluate(fn, grid_x, grid_y)


@dataclass(frozen=True)
class _Colouring:
    """Maps loss values to what is coloured and drawn as height: ``f`` or ``log10(f - f_min + eps)``."""

    log_scale: bool
    f_min: float = 0.0
    eps: float = 1.0

    @classmethod
    def fit(cls, log_scale: bool, values: np.ndarray, min_value: float | None) -> _Colouring:
        finite = values[np.isfinite(values)]
        if not log_scale or finite.size == 0:
            return cls(log_scale=False)
        f_min = float(finite.min()) if min_value is None else min(float(min_value), float(finite.min()))
        median = float(np.median(finite - f_min))
        eps = 1e-5 * median if median > 0 else 1e-12
        return cls(log_scale=True, f_min=f_min, eps=eps)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if not self.log_scale:
            return values
        with np.errstate(invalid="ignore"):
            return np.log10(np.maximum(values - self.f_min, 0.0) + self.eps)

    @property
    def label(self) -> str:
        return "log10(f − f_min + ε)" if self.log_scale else "f(x, y)"


@dataclass(frozen=True)
class _Path:
    """A validated trajectory: its finite prefix, the loss along it, and the legend name."""

    name: str
    xy: np.ndarray  # (n, 2), finite
    loss: np.ndarray  # (n,)
    diverged_at: int | None


def _as_points(key: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value.detach().to("cpu", torch.float64).numpy()
    elif isinstance(value, np.ndarray):
        array = value
    else:
        raise TypeError(
            f"trajectory {key!r} must be a torch.Tensor or numpy array of shape (n_steps, 2), "
            f"got {type(value).__name__}"
        )
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
        raise ValueError(
            f"trajectory {key!r} must have shape (n_steps, 2) with n_steps >= 1 (row k = the point before "
            f"step k), got shape {tuple(array.shape)}"
        )
    try:
        return np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"trajectory {key!r} must hold real numbers, got dtype {array.dtype}") from None


def _prepare_paths(fn: Callable[[Tensor, Tensor], Tensor], trajectories: Mapping[str, Any]) -> list[_Path]:
    if not isinstance(trajectories, Mapping):
        raise TypeError(
            "trajectories must be a mapping from a label to a tensor of shape (n_steps, 2), "
            f"e.g. {{'SGD(lr=0.01)': path}}, got {type(trajectories).__name__}"
        )
    paths = []
    for key, value in trajectories.items():
        points = _as_points(str(key), value)
        loss = _evaluate(fn, points[:, 0], points[:, 1])
        finite = np.isfinite(points).all(axis=1) & np.isfinite(loss)
        bad = np.flatnonzero(~finite)
        diverged_at = int(bad[0]) if bad.size else None
        name = str(key) if diverged_at is None else f"{key} — diverged at step {diverged_at}"
        keep = slice(None) if diverged_at is None else slice(0, diverged_at)
        paths.append(_Path(name=name, xy=points[keep], loss=loss[keep], diverged_at=diverged_at))
    return paths


def _widen(bounds: Bounds | None, paths: Sequence[_Path], margin: float = 0.05) -> Bounds:
    """The region to draw: ``bounds`` grown until every path point fits.

    A side that had to grow gets a margin of ``margin`` times the new span. Without ``bounds`` (a plain
    function) the region frames the paths with that margin on every side.
    """
    points = np.concatenate([path.xy for path in paths] + [np.empty((0, 2))])
    if bounds is None and not len(points):
        raise ValueError("bounds=((x_min, x_max), (y_min, y_max)) is needed to plot a plain function f(x, y)")
    result = []
    for axis in range(2):
        if bounds is None:
            lo, hi = float(points[:, axis].min()), float(points[:, axis].max())
            if hi == lo:
                lo, hi = lo - 1.0, hi + 1.0
            pad = margin * (hi - lo)
            result.append((lo - pad, hi + pad))
            continue
        lo, hi = bounds[axis]
        new_lo = min(lo, float(points[:, axis].min())) if len(points) else lo
        new_hi = max(hi, float(points[:, axis].max())) if len(points) else hi
        pad = margin * (new_hi - new_lo)
        result.append((new_lo - pad if new_lo < lo else lo, new_hi + pad if new_hi > hi else hi))
    return result[0], result[1]


def _marker_style(n: int, small: float, large: float) -> tuple[list[str], list[float]]:
    symbols = ["circle"] * n
    sizes = [small] * n
    if n:
        symbols[-1], sizes[-1] = _END_SYMBOL, large
        symbols[0], sizes[0] = _START_SYMBOL, large
    return symbols, sizes


# Hover over a path point: ``customdata`` holds ``[step, loss]`` per point.
_HOVER = "step %{customdata[0]}<br>x = %{x:.5g}<br>y = %{y:.5g}<br>loss = %{customdata[1]:.5g}"


def _minima_trace(minima: Sequence[tuple[float, float]], min_value: float | None) -> go.Scatter:
    value = "" if min_value is None else f"<br>f = {min_value:.6g}"
    return go.Scatter(
        x=[m[0] for m in minima],
        y=[m[1] for m in minima],
        mode="markers",
        marker=dict(symbol="star", size=16, color="#ffd700", line=dict(color="black", width=1.5)),
        name="global minimum",
        hovertext=[f"global minimum<br>x = {m[0]:.6g}<br>y = {m[1]:.6g}{value}" for m in minima],
        hoverinfo="text",
    )


def _surface_figure(
    surface: _Surface,
    bounds: Bounds,
    colouring: _Colouring,
    xs: np.ndarray,
    ys: np.ndarray,
    heights: np.ndarray,
    title: str,
    show_surface: bool,
) -> go.Figure:
    """The empty frame: surface (left, optional) + contour map (right) + the minima star.

    The grid goes into the figure as float32: plotly encodes it as a base64 typed array, and single
    precision looks the same on screen at half the bytes of a saved notebook.
    """
    largest = float(np.finfo(np.float32).max)  # a height beyond float32 (a diverging landscape) is clipped, not inf
    xs, ys, heights = (np.clip(a, -largest, largest).astype(np.float32) for a in (xs, ys, heights))
    if show_surface:
        fig = make_subplots(
            rows=1,
            cols=2,
            specs=[[{"type": "surface"}, {"type": "xy"}]],
            column_widths=[0.5, 0.5],
            horizontal_spacing=0.08,
            subplot_titles=("surface", "contour map"),
        )
        contour_position: dict[str, int] = dict(row=1, col=2)
        fig.add_trace(
            go.Surface(
                x=xs,
                y=ys,
                z=heights,
                colorscale=COLOUR_MAP,
                showscale=False,
                opacity=0.9,
                name="surface",
                hovertemplate="x = %{x:.3g}<br>y = %{y:.3g}<br>" + colouring.label + " = %{z:.3g}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.update_scenes(
            xaxis=dict(title="x", range=list(bounds[0])),
            yaxis=dict(title="y", range=list(bounds[1])),
            zaxis=dict(title=colouring.label),
            camera=dict(eye=dict(x=-1.4, y=-1.6, z=1.1)),
            aspectmode="cube",
        )
    else:
        fig = go.Figure()
        contour_position = {}
    fig.add_trace(
        go.Contour(
            x=xs,
            y=ys,
            z=heights,
            colorscale=COLOUR_MAP,
            ncontours=30,
            line=dict(width=0.5),
            colorbar=dict(title=dict(text=colouring.label, side="right"), len=0.9),
            name="contours",
            hovertemplate="x = %{x:.3g}<br>y = %{y:.3g}<br>" + colouring.label + " = %{z:.3g}<extra></extra>",
        ),
        **contour_position,
    )
    if surface.minima:
        fig.add_trace(_minima_trace(surface.minima, surface.min_value), **contour_position)
    fig.update_xaxes(title_text="x", range=list(bounds[0]), **contour_position)
    fig.update_yaxes(title_text="y", range=list(bounds[1]), **contour_position)
    fig.update_layout(
        title=dict(text=title),
        height=500,
        margin=dict(l=20, r=20, t=70, b=20),
        legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="center", x=0.5),
    )
    return fig


# --------------------------------------------------------------------------------------------------
# Interactive (plotly) figures
# --------------------------------------------------------------------------------------------------


def plot_landscape(
    landscape: LandscapeLike,
    *,
    bounds: Bounds | None = None,
    log_scale: bool | None = None,
    resolution: int = 60,
    title: str | None = None,
) -> go.Figure:
    """A landscape as a 3-D surface (left panel) and a contour map (right panel) of one plotly figure.

    Args:
        landscape: a ``Landscape``, its name, or a function ``f(x, y)`` (then ``bounds`` is required).
        bounds: ``((x_min, x_max), (y_min, y_max))``; defaults to the landscape's own.
        log_scale: colour by ``log10(f - f_min + eps)``; ``None`` uses ``landscape.log_scale``.
        resolution: grid points per axis.
        title: figure title; defaults to the landscape's title.

    Returns:
        A figure with traces ``[Surface, Contour]``, plus a ``Scatter`` star at the known minima.
    """
    resolution = _check_resolution(resolution)
    surface = _resolve(landscape, bounds, log_scale)
    if surface.bounds is None:
        raise ValueError(
            "bounds=((x_min, x_max), (y_min, y_max)) is required to plot a plain function f(x, y)"
        )
    xs, ys, values = _grid(surface.fn, surface.bounds, resolution)
    colouring = _Colouring.fit(surface.log_scale, values, surface.min_value)
    return _surface_figure(
        surface, surface.bounds, colouring, xs, ys, colouring(values), title or surface.title, show_surface=True
    )


def plot_trajectories(
    landscape: LandscapeLike,
    trajectories: Mapping[str, Tensor | np.ndarray],
    *,
    log_scale: bool | None = None,
    resolution: int = 60,
    title: str | None = None,
    show_surface: bool = True,
    bounds: Bounds | None = None,
) -> go.Figure:
    """Optimizer paths drawn over a landscape: contour map (right) and, if ``show_surface``, the 3-D surface (left).

    Args:
        landscape: a ``Landscape``, its name, or a function ``f(x, y)``.
        trajectories: ``{label: path}`` with each path of shape ``(n_steps, 2)`` (row ``k`` is the point
            before step ``k``), a tensor (detached and moved to the CPU here) or a numpy array.
        log_scale, resolution, title: as in :func:`plot_landscape`.
        show_surface: draw the 3-D panel; without it the figure has the contour map only (lighter).
        bounds: the region to show at least; defaults to the landscape's. It is widened, with a margin,
            until every finite point of every path fits.

    Each path gets one ``Scatter`` (lines and markers) on the map and, with ``show_surface``, one
    ``Scatter3d`` twin lifted slightly above the surface; both share the colour and the legend entry
    (the label). The start is marked with a diamond, the end with a cross; hovering shows the step,
    ``x``, ``y`` and the loss. A path with non-finite rows (or whose loss overflows), i.e. a run that
    diverged, is drawn up to its first bad row ``k`` and labelled ``"<label> — diverged at step k"``.

    Raises:
        ValueError: a path whose shape is not ``(n_steps, 2)`` (the message names its label).
    """
    resolution = _check_resolution(resolution)
    surface = _resolve(landscape, bounds, log_scale)
    paths = _prepare_paths(surface.fn, trajectories)
    shown = _widen(surface.bounds, paths)
    xs, ys, values = _grid(surface.fn, shown, resolution)
    path_losses = [path.loss for path in paths if len(path.loss)]
    colouring = _Colouring.fit(
        surface.log_scale, np.concatenate([values.ravel(), *path_losses]), surface.min_value
    )
    heights = colouring(values)
    fig = _surface_figure(surface, shown, colouring, xs, ys, heights, title or surface.title, show_surface)

    finite_heights = heights[np.isfinite(heights)]
    lift = 0.01 * float(np.ptp(finite_heights)) if finite_heights.size else 0.0
    contour_position = dict(row=1, col=2) if show_surface else {}
    for index, path in enumerate(paths):
        colour = PATH_COLOURS[index % len(PATH_COLOURS)]
        group = f"path{index}"
        # Hover shows the step and the loss from customdata (a typed array of numbers): per-point text
        # strings would weigh several times more in a saved notebook.
        steps_and_loss = np.column_stack([np.arange(len(path.loss)), path.loss])
        hover = _HOVER + "<extra>" + html.escape(str(path.name)) + "</extra>"
        symbols, sizes = _marker_style(len(path.xy), 5, 12)
        fig.add_trace(
            go.Scatter(
                x=path.xy[:, 0],
                y=path.xy[:, 1],
                mode="lines+markers",
                name=path.name,
                legendgroup=group,
                line=dict(color=colour, width=2),
                marker=dict(color=colour, symbol=symbols, size=sizes, line=dict(color="black", width=0.5)),
                customdata=steps_and_loss,
                hovertemplate=hover,
            ),
            **contour_position,
        )
        if show_surface:
            symbols3d, sizes3d = _marker_style(len(path.xy), 2.5, 6)
            fig.add_trace(
                go.Scatter3d(
                    x=path.xy[:, 0],
                    y=path.xy[:, 1],
                    z=colouring(path.loss) + lift,
                    mode="lines+markers",
                    name=path.name,
                    legendgroup=group,
                    showlegend=False,
                    line=dict(color=colour, width=4),
                    marker=dict(color=colour, symbol=symbols3d, size=sizes3d),
                    customdata=steps_and_loss,
                    hovertemplate=hover,
                ),
                row=1,
                col=1,
            )
    return fig


def _curve_values(key: str, values: Any) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"curve {key!r} must be a sequence of numbers, got {type(values).__name__}") from None
    if array.ndim != 1:
        raise ValueError(f"curve {key!r} must be one-dimensional (one value per step), got shape {array.shape}")
    return array


def _check_curves(curves: Any) -> dict[str, np.ndarray]:
    if not isinstance(curves, Mapping):
        raise TypeError(
            "curves must be a mapping from a label to a sequence of values, e.g. {'SGD': [2.3, 1.9, ...]}, "
            f"got {type(curves).__name__}"
        )
    return {str(key): _curve_values(str(key), values) for key, values in curves.items()}


def _curves_layout(fig: go.Figure, title: str, xaxis_title: str, yaxis_title: str, **extra: Any) -> go.Figure:
    """The layout :func:`plot_curves` and :func:`plot_seed_bands` share: titles, height, margins (``extra`` adds to it)."""
    fig.update_layout(
        title=dict(text=title),
        xaxis_title=xaxis_title,
        yaxis_title=yaxis_title,
        height=400,
        margin=dict(l=20, r=20, t=60 if title else 30, b=20),
        **extra,
    )
    return fig


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xaxis_title: str = "step",
    yaxis_title: str = "loss",
    log_y: bool = False,
) -> go.Figure:
    """One line per entry of ``curves`` (``{label: values}``), value ``i`` plotted at ``x = i``.

    Values may be lists, 1-D arrays or 1-D tensors; NaN or infinite values leave a gap.
    ``log_y`` puts the y axis on a log scale (non-positive values are then not shown).
    """
    checked = _check_curves(curves)
    fig = go.Figure()
    for key, values in checked.items():
        shown = np.where(np.isfinite(values), values, np.nan)
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(values)),
                y=shown,
                mode="lines",
                name=key,
            )
        )
    _curves_layout(fig, title, xaxis_title, yaxis_title, hovermode="x unified")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


BAND_COLOURS: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")
"""One colour per label of :func:`plot_seed_bands`: the mean line, and its band at 20 % opacity."""


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _check_runs(runs: Any) -> dict[str, np.ndarray]:
    """``{label: (n_seeds, n_points) array}`` from ``{label: [values of seed 0, values of seed 1, ...]}``."""
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError("runs must be a non-empty mapping from a label to one sequence of values per seed, "
                        f"e.g. {{'SGD': [[2.3, 1.9], [2.2, 1.8]]}}, got {type(runs).__name__}")
    checked = {}
    for key, per_seed in runs.items():
        key = str(key)
        if isinstance(per_seed, (str, bytes)) or not isinstance(per_seed, Sequence):
            raise TypeError(f"runs[{key!r}] must be a sequence with one sequence of values per seed, got {type(per_seed).__name__}")
        curves = [_curve_values(f"{key}, seed {i}", values) for i, values in enumerate(per_seed)]
        if len(curves) < 2:
            raise ValueError(f"runs[{key!r}] has {len(curves)} run(s): a band needs at least two seeds")
        if len({len(c) for c in curves}) != 1:
            raise ValueError(f"runs[{key!r}]: every seed's run must have the same length, got {[len(c) for c in curves]}")
        checked[key] = np.stack(curves)
    return checked


def plot_seed_bands(
    runs: Mapping[str, Sequence[Sequence[float]]],
    *,
    title: str = "",
    xaxis_title: str = "epoch",
    yaxis_title: str = "",
    x_start: int = 1,
) -> go.Figure:
    """Per label, the mean over seeds as a line and mean ± one standard deviation as a shaded band.

    ``runs`` maps a label to one curve per seed (``{"Adam": [curve of seed 0, curve of seed 1, ...]}``),
    all of the same length; value ``i`` is plotted at ``x = x_start + i`` (epochs count from 1). The
    standard deviation is the sample one (divided by n - 1); hovering a line shows the mean, the spread
    and the number of seeds. Two labels whose bands overlap have not been told apart by these seeds.
    """
    checked = _check_runs(runs)
    fig = go.Figure()
    for index, (key, values) in enumerate(checked.items()):
        colour = BAND_COLOURS[index % len(BAND_COLOURS)]
        mean, std = values.mean(axis=0), values.std(axis=0, ddof=1)
        x = np.arange(x_start, x_start + values.shape[1])
        fig.add_trace(go.Scatter(
            x=np.concatenate([x, x[::-1]]), y=np.concatenate([mean + std, (mean - std)[::-1]]),
            fill="toself", fillcolor=_rgba(colour, 0.2), line=dict(width=0), hoverinfo="skip",
            name=f"{key} ± 1 std", legendgroup=key, showlegend=False))
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=f"{key} ({values.shape[0]} seeds)", legendgroup=key,
            line=dict(color=colour), customdata=std,
            hovertemplate="%{y:.4g} ± %{customdata:.2g}<extra>" + html.escape(key) + "</extra>"))
    return _curves_layout(fig, title, xaxis_title, yaxis_title)


def plot_seed_points(
    runs: Mapping[str, Mapping[float, Sequence[float]]],
    *,
    title: str = "",
    xaxis_title: str = "",
    yaxis_title: str = "",
    log_x: bool = False,
) -> go.Figure:
    """Per label, one point per setting ``x``: the mean over seeds, with an error bar of one standard deviation.

    ``runs`` maps a label to ``{x: [value of seed 0, value of seed 1, ...]}`` (at least two seeds per
    point), e.g. ``{"AdamW": {0.1: [0.95, 0.94, 0.95], 1.0: [...]}}``; the points of a label are joined in
    the order of ``x``. The standard deviation is the sample one (divided by n - 1). ``log_x`` puts the x
    axis on a log scale (for a sweep over decades).
    """
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(f"runs must be a non-empty mapping from a label to {{setting: values per seed}}, got {type(runs).__name__}")
    fig = go.Figure()
    for index, (key, points) in enumerate(runs.items()):
        if not isinstance(points, Mapping) or not points:
            raise TypeError(f"runs[{key!r}] must be a non-empty mapping from a setting to one value per seed")
        xs = sorted(points)
        values = [_curve_values(f"{key} at {x!r}", points[x]) for x in xs]
        if min(len(v) for v in values) < 2:
            raise ValueError(f"runs[{key!r}]: every point needs at least two seeds for an error bar")
        fig.add_trace(go.Scatter(
            x=xs, y=[float(v.mean()) for v in values], mode="lines+markers", name=str(key),
            line=dict(color=BAND_COLOURS[index % len(BAND_COLOURS)]),
            error_y=dict(type="data", array=[float(v.std(ddof=1)) for v in values], visible=True)))
    _curves_layout(fig, title, xaxis_title, yaxis_title)
    if log_x:
        fig.update_xaxes(type="log")
    return fig


# --------------------------------------------------------------------------------------------------
# Static (matplotlib) figures
# --------------------------------------------------------------------------------------------------


class StaticFigure(matplotlib.figure.Figure):
    """A matplotlib ``Figure`` that shows itself as a PNG when it ends a notebook cell.

    Figures built without ``pyplot`` are not registered with Jupyter's inline backend, so a bare
    ``Figure`` would print as text unless ``%matplotlib inline`` had run; ``_repr_png_`` removes
    that dependency. Otherwise it is an ordinary ``matplotlib.figure.Figure``.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()



def plot_trajectories_static(
    landscape: LandscapeLike,
    trajectories: Mapping[str, Tensor | np.ndarray],
    *,
    log_scale: bool | None = None,
    resolution: int = 120,
    title: str | None = None,
    bounds: Bounds | None = None,
) -> matplotlib.figure.Figure:
    """The contour map of :func:`plot_trajectories` as a matplotlib figure (no 3-D panel).

    Built on ``matplotlib.figure.Figure`` directly (a :class:`StaticFigure`), not ``pyplot``: it works
    without a display, leaves no figure open behind it, and still shows itself in a notebook. One line per path (label in the legend, diverged runs labelled as
    in :func:`plot_trajectories`), a diamond at each start, a cross at each end, a star at the minima.
    """
    resolution = _check_resolution(resolution)
    surface = _resolve(landscape, bounds, log_scale)
    paths = _prepare_paths(surface.fn, trajectories)
    shown = _widen(surface.bounds, paths)
    xs, ys, values = _grid(surface.fn, shown, resolution)
    colouring = _Colouring.fit(
        surface.log_scale, np.concatenate([values.ravel(), *(path.loss for path in paths)]), surface.min_value
    )
    heights = colouring(values)

    fig = StaticFigure(figsize=(7.0, 5.5), layout="constrained")
    ax = fig.add_subplot()
    filled = ax.contourf(xs, ys, heights, levels=30, cmap="viridis")
    ax.contour(xs, ys, heights, levels=30, colors="black", linewidths=0.3, alpha=0.4)
    fig.colorbar(filled, ax=ax, label=colouring.label)
    if surface.minima:
        mx, my = zip(*surface.minima)
        ax.plot(mx, my, linestyle="none", marker="*", markersize=16, color="#ffd700",
                markeredgecolor="black", label="global minimum")
    for index, path in enumerate(paths):
        colour = PATH_COLOURS[index % len(PATH_COLOURS)]
        ax.plot(path.xy[:, 0], path.xy[:, 1], color=colour, linewidth=1.8, marker="o", markersize=2.5,
                label=path.name)
        if len(path.xy):
            ax.plot(*path.xy[0], marker="D", markersize=8, color=colour, markeredgecolor="black",
                    linestyle="none", label="_start")
            ax.plot(*path.xy[-1], marker="X", markersize=9, color=colour, markeredgecolor="black",
                    linestyle="none", label="_end")
    ax.set(xlim=shown[0], ylim=shown[1], xlabel="x", ylabel="y", title=title or surface.title)
    if paths or surface.minima:
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return fig


def plot_curves_static(
    curves: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "step",
    ylabel: str = "loss",
    log_y: bool = False,
) -> matplotlib.figure.Figure:
    """The matplotlib twin of :func:`plot_curves`: one line per entry, legend, optional log y axis."""
    checked = _check_curves(curves)
    fig = StaticFigure(figsize=(7.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for key, values in checked.items():
        ax.plot(np.arange(len(values)), values, label=key)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if log_y:
        ax.set_yscale("log")
    if checked:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig
