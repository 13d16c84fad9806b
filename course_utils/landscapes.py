"""Loss surfaces of two variables, with their known minima.

A *landscape* is a function ``f(x, y)`` of two tensors that works elementwise: ``x`` and ``y``
broadcast against each other, the result has their broadcast shape, and everything is built from
torch operations, so autograd can differentiate it, in float32 or float64, on any device. That lets
one function serve both purposes of the course: a point ``xy`` of shape ``(2,)`` is optimised with
``f(xy[0], xy[1])``, and a whole grid of shape ``(H, W)`` is evaluated at once for the plots.

The four landscapes the notebooks use live in :data:`LANDSCAPES` (see :func:`get_landscape`):

- ``"ravine"``      a curved, ill-conditioned valley: steep across, nearly flat along it
- ``"rosenbrock"``  the banana-shaped classic, minimum at ``(1, 1)``
- ``"trimodal"``    three Gaussian wells of different depths; only one is the global minimum
- ``"quadratic"``   a rotated quadratic bowl with condition number 50
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .validation import require_callable, require_number, require_xy

__all__ = [
    "LANDSCAPES",
    "Landscape",
    "get_landscape",
    "make_ill_conditioned_quadratic",
    "neg_trimodal_gauss",
    "ravine",
    "rosenbrock",
]

Bounds = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Landscape:
    """A named loss surface ``f(x, y)`` together with what the plots and checks need to know about it.

    Attributes:
        name: short key, as in :data:`LANDSCAPES` (``"ravine"``).
        title: human-readable name for plot titles (``"Curved ravine"``).
        fn: the function ``f(x, y) -> Tensor``; elementwise, broadcasting, differentiable.
        bounds: ``((x_min, x_max), (y_min, y_max))``, the region the plots show by default.
        start: a starting point that makes an instructive demo.
        minima: the known global minimiser(s) as ``(x, y)`` pairs; ``()`` when none is known.
        min_value: ``f`` at the global minimum, or ``None`` when unknown.
        log_scale: whether plots read better coloured by ``log10(f - f_min + eps)`` than by ``f``.
    """

    name: str
    title: str
    fn: Callable[[Tensor, Tensor], Tensor]
    bounds: Bounds
    start: tuple[float, float]
    minima: tuple[tuple[float, float], ...] = ()
    min_value: float | None = None
    log_scale: bool = False

    def __post_init__(self) -> None:
        require_callable(self.fn, "fn")
        (x_min, x_max), (y_min, y_max) = self.bounds
        if not (x_min < x_max and y_min < y_max):
            raise ValueError(
                f"bounds must be ((x_min, x_max), (y_min, y_max)) with min < max, got {self.bounds!r}"
            )

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        """Evaluate ``f(x, y)`` elementwise; ``x`` and ``y`` broadcast against each other."""
        return self.fn(x, y)

    def at(self, xy: Tensor) -> Tensor:
        """Evaluate ``f`` at one point: ``xy`` has shape ``(2,)``, the result is a 0-d tensor."""
        xy = require_xy(xy)
        return self.fn(xy[0], xy[1])

    def start_tensor(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> Tensor:
        """The suggested start as a fresh tensor of shape ``(2,)`` (no ``requires_grad``)."""
        return torch.tensor(self.start, dtype=dtype, device=device)


def ravine(x: Tensor, y: Tensor) -> Tensor:
    r"""A curved, ill-conditioned valley: :math:`f(x, y) = 0.05\,x^2 + 5\,(y - \tfrac12 \sin x)^2`.

    The floor of the valley follows the curve ``y = sin(x) / 2``. Across the valley the curvature is
    about 12.5, along it about 0.08 (a condition number near 160 at the minimum), so plain gradient
    descent with a learning rate close to its stability limit ``2 / 12.5 = 0.16`` bounces from wall to
    wall while creeping along the floor. The global minimum is ``f(0, 0) = 0``: both terms are
    squares, and they vanish together only at ``x = 0, y = 0``.
    """
    return 0.05 * x**2 + 5.0 * (y - 0.5 * torch.sin(x)) ** 2


def rosenbrock(x: Tensor, y: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    r"""Rosenbrock's function :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`.

    A narrow, curved, flat-bottomed valley around the parabola ``y = x**2``. The global minimum is
    ``f(a, a**2) = 0``.
    """
    return (a - x) ** 2 + b * (y - x**2) ** 2


# (depth, centre x, centre y, width sigma) of each well of the trimodal landscape.
_TRIMODAL_WELLS: tuple[tuple[float, float, float, float], ...] = (
    (1.00, -1.2, 1.0, 0.55),  # the deepest and narrowest: it holds the global minimum
    (0.80, 1.4, 0.8, 0.90),  # wide and shallower
    (0.65, 0.2, -1.4, 0.75),  # the shallowest
)


def neg_trimodal_gauss(x: Tensor, y: Tensor) -> Tensor:
    r"""Three Gaussian wells: :math:`f(x, y) = -\sum_i d_i \exp\!\big(-\lVert (x, y) - c_i \rVert^2 / 2\sigma_i^2\big)`.

    ===========  ============  =====  ===============================
    depth d_i    centre c_i    sigma  local minimum (found by Newton)
    ===========  ============  =====  ===============================
    1.00         (-1.2, 1.0)   0.55   (-1.187363, 0.998160), f = -1.0130 (global)
    0.80         (1.4, 0.8)    0.90   (1.394342, 0.789853),  f = -0.8025
    0.65         (0.2, -1.4)   0.75   (0.224380, -1.355253), f = -0.6679
    ===========  ============  =====  ===============================

    The wells overlap a little, so each minimum sits slightly off its centre. Far from the wells the
    surface is almost flat at 0, where gradients nearly vanish.
    """
    depths = [
        depth * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2.0 * sigma**2))
        for depth, cx, cy, sigma in _TRIMODAL_WELLS
    ]
    return -(depths[0] + depths[1] + depths[2])


# The global minimiser of neg_trimodal_gauss, found with Newton's method in float64 from the centre
# of the deepest well (gradient below 1e-15 there); tests/test_landscapes.py re-checks it.
TRIMODAL_MINIMUM: tuple[float, float] = (-1.1873629803317705, 0.9981599714394013)
TRIMODAL_MIN_VALUE: float = -1.012966326755107


def make_ill_conditioned_quadratic(
    condition_number: float = 50.0, angle: float = 0.0
) -> Callable[[Tensor, Tensor], Tensor]:
    r"""Build a rotated quadratic bowl whose Hessian has eigenvalues exactly ``1`` and ``condition_number``.

    With rotated coordinates :math:`u = x\cos\theta + y\sin\theta` and
    :math:`v = -x\sin\theta + y\cos\theta` the function is
    :math:`f(x, y) = \tfrac12\,(u^2 + \kappa\, v^2)`, i.e. :math:`\tfrac12 p^\top R^\top
    \operatorname{diag}(1, \kappa) R\, p` with :math:`R` the rotation by :math:`-\theta`.
    The flat direction (curvature 1) points along angle ``angle`` (radians, counter-clockwise from
    the x axis); the steep direction (curvature ``condition_number``) is perpendicular to it.
    The minimum is ``f(0, 0) = 0``. Gradient descent is stable for ``lr < 2 / condition_number``.

    Raises:
        ValueError: if ``condition_number < 1`` or either argument is not finite.
    """
    kappa = require_number(condition_number, "condition_number", minimum=1.0)
    theta = require_number(angle, "angle")
    c, s = math.cos(theta), math.sin(theta)

    def quadratic(x: Tensor, y: Tensor) -> Tensor:
        u = c * x + s * y
        v = -s * x + c * y
        return 0.5 * (u**2 + kappa * v**2)

    quadratic.__name__ = "ill_conditioned_quadratic"
    quadratic.__doc__ = (
        f"0.5 * (u**2 + {kappa:g} * v**2) with (u, v) = (x, y) rotated by -{theta:g} rad; "
        f"Hessian eigenvalues 1 and {kappa:g}; minimum f(0, 0) = 0."
    )
    return quadratic


LANDSCAPES: dict[str, Landscape] = {
    "ravine": Landscape(
        name="ravine",
        title="Curved ravine",
        fn=ravine,
        bounds=((-4.0, 4.0), (-2.0, 2.0)),
        start=(-3.5, -1.5),
        minima=((0.0, 0.0),),
        min_value=0.0,
        log_scale=True,
    ),
    "rosenbrock": Landscape(
        name="rosenbrock",
        title="Rosenbrock's banana valley",
        fn=rosenbrock,
        bounds=((-2.0, 2.0), (-1.0, 3.0)),
        start=(-1.5, 2.5),
        minima=((1.0, 1.0),),
        min_value=0.0,
        log_scale=True,
    ),
    "trimodal": Landscape(
        name="trimodal",
        title="Three Gaussian wells",
        fn=neg_trimodal_gauss,
        bounds=((-3.0, 3.0), (-3.0, 3.0)),
        start=(-0.5, -0.5),
        minima=(TRIMODAL_MINIMUM,),
        min_value=TRIMODAL_MIN_VALUE,
        log_scale=False,
    ),
    "quadratic": Landscape(
        name="quadratic",
        title="Rotated quadratic, condition number 50",
        fn=make_ill_conditioned_quadratic(50.0, math.pi / 6),
        bounds=((-3.0, 3.0), (-3.0, 3.0)),
        start=(-2.5, -0.5),
        minima=((0.0, 0.0),),
        min_value=0.0,
        log_scale=False,
    ),
}


def get_landscape(name: str | Landscape) -> Landscape:
    """Look a landscape up by its key in :data:`LANDSCAPES`; a :class:`Landscape` is returned unchanged.

    Raises:
        KeyError: for an unknown name (the message lists the valid ones).
        TypeError: for anything that is neither a string nor a :class:`Landscape`.
    """
    if isinstance(name, Landscape):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"landscape must be a name (str) or a Landscape, got {type(name).__name__} {name!r}"
        )
    try:
        return LANDSCAPES[name]
    except KeyError:
        valid = ", ".join(repr(key) for key in LANDSCAPES)
        raise KeyError(f"Unknown landscape {name!r}; expected one of {valid}") from None
