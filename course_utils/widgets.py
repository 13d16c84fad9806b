"""Interactive explorers built from ipywidgets.

:func:`trajectory_explorer` puts sliders for the learning rate, the momentum and the number of steps
next to a plot of the resulting optimizer path, so the effect of each hyperparameter can be felt
rather than read. The widget is an ordinary ``ipywidgets.VBox`` (a :class:`TrajectoryExplorer`) with
a documented ``redraw()`` method, so it can also be driven from code and tested without a browser.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets
import plotly.graph_objects as go
import torch
from torch import Tensor

from .landscapes import Landscape, get_landscape
from .plotting import CourseRenderer, describe_optimizer, plot_trajectories
from .validation import require_callable, require_number, require_positive_int

__all__ = ["TrajectoryExplorer", "trajectory_explorer"]

RunFn = Callable[[Callable[[Tensor, Tensor], Tensor], Tensor, type, dict, int], Tensor]


def _show_figure(output: ipywidgets.Output, fig: go.Figure) -> None:
    """Replace what ``output`` shows by ``fig``.

    The figure is written straight into ``output.outputs`` rather than with ``with output: display(fig)``:
    under nbclient (headless execution, nbgrader) that display can block until the cell times out
    (jupyter/nbclient#312). The bundle is the course renderer's (:class:`~course_utils.plotting.CourseRenderer`):
    plotly's own mimetype, which JupyterLab renders, and a light HTML twin without plotly.js, so each
    redraw does not save another copy of the library in the notebook's widget state. Colab renders
    only the HTML and brings no plotly.js of its own, so there the HTML loads it from plotly's CDN.
    """
    bundle = CourseRenderer().to_mimebundle(fig.to_dict())
    if "google.colab" in sys.modules:
        bundle["text/html"] = fig.to_html(full_html=False, include_plotlyjs="cdn")
    bundle["text/plain"] = f"<plotly Figure with {len(fig.data)} traces>"
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)


def _slider_range(value: Any, name: str, *, minimum: float, maximum: float | None = None) -> tuple[float, float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise TypeError(f"{name} must be a tuple (min, max, initial), got {value!r}")
    low, high, initial = (require_number(v, f"{name} {part}") for v, part in zip(value, ("min", "max", "initial")))
    if low < minimum or (maximum is not None and high > maximum):
        upper = "" if maximum is None else f" and max <= {maximum}"
        raise ValueError(f"Invalid {name} range {value!r}: expected min >= {minimum}{upper}")
    if not low <= initial <= high or low == high:
        raise ValueError(f"Invalid {name} range {value!r}: expected min <= initial <= max and min < max")
    return low, high, initial


class TrajectoryExplorer(ipywidgets.VBox):
    """Sliders, a one-line summary and a plot of the optimizer path (see :func:`trajectory_explorer`).

    Attributes:
        sliders: ``{"lr": ..., "momentum": ..., "n_iters": ...}`` (no ``"momentum"`` when it is off).
        status: an ``HTML`` widget with the final point and loss, or the error ``run`` raised.
        output: the ``Output`` widget the figure is drawn into.
        figure: the latest plotly figure (``None`` before the first draw or after a failed run).
        path: the latest path returned by ``run``, shape ``(n_iters, 2)``.
        error: the exception from the latest ``run`` call, or ``None``.
    """

    def __init__(
        self,
        run: RunFn,
        landscape: Landscape,
        optimizer_class: type,
        sliders: dict[str, ipywidgets.ValueWidget],
        start: tuple[float, float],
    ) -> None:
        self._run = run
        self.landscape = landscape
        self.optimizer_class = optimizer_class
        self.start = start
        self.sliders = sliders
        self.status = ipywidgets.HTML()
        self.output = ipywidgets.Output()
        self.figure: go.Figure | None = None
        self.path: Tensor | None = None
        self.error: Exception | None = None
        super().__init__(
            children=[ipywidgets.HBox(list(sliders.values())), self.status, self.output]
        )
        for slider in sliders.values():
            slider.observe(lambda change: self.redraw(), names="value")

    def hyperparams(self) -> dict[str, float]:
        """The optimizer's keyword arguments as the sliders set them now, e.g. ``{"lr": 0.001, "momentum": 0.9}``.

        ``lr`` is rounded to 3 significant digits and ``momentum`` to 3 decimals, so that the legend
        shows the value the optimizer really used (``lr=0.00112`` rather than ``lr=0.0011220184543``).
        """
        values = {"lr": float(f"{self.sliders['lr'].value:.3g}")}
        if "momentum" in self.sliders:
            values["momentum"] = round(float(self.sliders["momentum"].value), 3)
        return values

    def redraw(self) -> go.Figure | None:
        """Run the optimizer with the current slider values and redraw; return the figure (``None`` if ``run`` failed).

        Called automatically whenever a slider is released. An exception from ``run`` is not raised
        here (a slider callback has nowhere to raise to) but shown in ``status`` and kept in ``error``.
        """
        hyperparams = self.hyperparams()
        n_iters = int(self.sliders["n_iters"].value)
        label = describe_optimizer(self.optimizer_class, hyperparams)
        xy = torch.tensor(self.start, dtype=torch.float64)  # fresh each call, like Landscape.start_tensor()
        try:
            path = self._run(self.landscape, xy, self.optimizer_class, dict(hyperparams), n_iters)
            figure = plot_trajectories(self.landscape, {label: path})
        except Exception as error:  # noqa: BLE001 - shown to the student instead of lost in a callback
            self.error, self.figure, self.path = error, None, None
            self.status.value = (
                f"<span style='color:#b00020'><b>run failed</b> with {type(error).__name__}: "
                f"{html.escape(str(error))}</span>"
            )
            self.output.outputs = ()
            return None
        self.error, self.figure, self.path = None, figure, path
        self.status.value = self._summary(path, n_iters)
        _show_figure(self.output, figure)
        return figure

    def _summary(self, path: Tensor, n_iters: int) -> str:
        points = torch.as_tensor(path).detach().to("cpu", torch.float64)
        losses = self.landscape(points[:, 0], points[:, 1])
        bad = (~(torch.isfinite(points).all(dim=1) & torch.isfinite(losses))).nonzero()
        if len(bad):
            return (
                f"the run diverged at step {int(bad[0])} (x, y or the loss stopped being finite): "
                "try a smaller learning rate"
            )
        x, y = points[-1].tolist()
        text = f"after {n_iters} steps: x = {x:.6g}, y = {y:.6g}, loss = {float(losses[-1]):.6g}"
        if self.landscape.min_value is not None:
            text += f" (the minimum is {self.landscape.min_value:.6g})"
        return text


def trajectory_explorer(
    run: RunFn,
    landscape: Landscape | str = "rosenbrock",
    optimizer_class: type = torch.optim.SGD,
    *,
    lr: tuple[float, float, float] = (1e-4, 1e-1, 1e-3),
    momentum: tuple[float, float, float] | None = (0.0, 0.99, 0.9),
    n_iters: tuple[int, int, int] = (10, 1000, 200),
    start: Sequence[float] | Tensor | None = None,
) -> TrajectoryExplorer:
    """Sliders for ``lr``, ``momentum`` and ``n_iters`` that redraw an optimizer's path on a landscape.

    Args:
        run: ``run(fn, xy, optimizer_class, hyperparams, n_iters) -> Tensor (n_iters, 2)``, e.g. the
            notebook's ``opt_fn``. It receives the landscape itself as ``fn`` (callable as
            ``fn(x, y)``), the start ``xy``: a fresh float64 tensor of shape ``(2,)`` without
            ``requires_grad`` (as ``Landscape.start_tensor()`` gives; ``run`` makes its own leaf), and
            ``hyperparams = {"lr": ..., "momentum": ...}``.
        landscape: a ``Landscape`` or its name.
        optimizer_class: passed to ``run`` unchanged (``torch.optim.SGD`` or the student's class).
        lr: ``(min, max, initial)`` of a log-scale slider; ``min > 0``.
        momentum: ``(min, max, initial)`` of a linear slider in ``[0, 1]``; ``None`` leaves momentum out
            of the sliders and of ``hyperparams`` (for optimizers without it).
        n_iters: ``(min, max, initial)`` of an integer slider.
        start: the start point ``(x, y)``; defaults to ``landscape.start``.

    Returns:
        A :class:`TrajectoryExplorer` (an ``ipywidgets.VBox``), already drawn once. Sliders redraw when
        released (``continuous_update=False``). Call ``explorer.redraw()`` to redraw from code; it
        returns the new figure, also kept in ``explorer.figure``. No browser is needed to build it.
    """
    run = require_callable(run, "run")
    found = get_landscape(landscape)
    lr_min, lr_max, lr_initial = _slider_range(lr, "lr", minimum=0.0)
    if lr_min <= 0:
        raise ValueError(f"Invalid lr range {lr!r}: expected min > 0 (the slider is on a log scale)")
    sliders: dict[str, ipywidgets.ValueWidget] = {
        "lr": ipywidgets.FloatLogSlider(
            value=lr_initial,
            base=10,
            min=math.log10(lr_min),
            max=math.log10(lr_max),
            step=0.05,
            description="lr",
            readout_format=".2e",
            continuous_update=False,
        )
    }
    if momentum is not None:
        m_min, m_max, m_initial = _slider_range(momentum, "momentum", minimum=0.0, maximum=1.0)
        sliders["momentum"] = ipywidgets.FloatSlider(
            value=m_initial,
            min=m_min,
            max=m_max,
            step=0.01,
            description="momentum",
            readout_format=".2f",
            continuous_update=False,
        )
    n_min, n_max, n_initial = _int_slider_range(n_iters, "n_iters")
    sliders["n_iters"] = ipywidgets.IntSlider(
        value=n_initial, min=n_min, max=n_max, step=1, description="n_iters", continuous_update=False
    )
    explorer = TrajectoryExplorer(run, found, optimizer_class, sliders, _start_point(start, found))
    explorer.redraw()
    return explorer


def _int_slider_range(value: Any, name: str) -> tuple[int, int, int]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise TypeError(f"{name} must be a tuple (min, max, initial) of ints, got {value!r}")
    low, high, initial = (
        require_positive_int(v, f"{name} {part}") for v, part in zip(value, ("min", "max", "initial"))
    )
    if not low <= initial <= high or low == high:
        raise ValueError(f"Invalid {name} range {value!r}: expected min <= initial <= max and min < max")
    return low, high, initial


def _start_point(start: Any, landscape: Landscape) -> tuple[float, float]:
    if start is None:
        return landscape.start
    try:
        values = torch.as_tensor(start, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"start must be a point (x, y) of two numbers, got {start!r}") from None
    if values.numel() != 2 or not bool(torch.isfinite(values).all()):
        raise ValueError(f"start must be a finite point (x, y) of two numbers, got {start!r}")
    return float(values[0]), float(values[1])
