"""Small models for the training demos.

Both builders are deterministic: the initial weights depend only on ``seed`` (drawn from a private
generator on the CPU in float64, then cast and moved), not on the global random state, the device or
the dtype. Two optimizers compared on models built with the same seed therefore start from the same
point, and the same seed gives the same model on a laptop and on a GPU box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .validation import require_positive_int

__all__ = ["make_linear_regression", "make_mlp"]


def _check_dtype(dtype: torch.dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {dtype!r}")
    return dtype


def make_mlp(
    in_features: int = 64,
    hidden_sizes: Sequence[int] = (64,),
    n_classes: int = 10,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    """A multilayer perceptron ``Linear -> ReLU -> ... -> Linear`` that outputs logits.

    Maps ``(batch, in_features)`` to ``(batch, n_classes)``; one hidden ``Linear + ReLU`` per entry of
    ``hidden_sizes`` (``()`` gives plain multinomial logistic regression). Every weight and bias is
    drawn uniformly from ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``, the range of PyTorch's default
    ``nn.Linear`` initialisation, but from a generator seeded with ``seed`` (see the module docstring).
    ``device=None`` means torch's default device (the CPU unless changed).
    """
    in_features = require_positive_int(in_features, "in_features")
    n_classes = require_positive_int(n_classes, "n_classes")
    if isinstance(hidden_sizes, (int, str)) or not isinstance(hidden_sizes, Sequence):
        raise TypeError(
            f"hidden_sizes must be a sequence of ints such as (64,) or (128, 64), got {hidden_sizes!r}"
        )
    hidden = [require_positive_int(size, f"hidden_sizes[{i}]") for i, size in enumerate(hidden_sizes)]
    seed = require_positive_int(seed, "seed", allow_zero=True)
    dtype = _check_dtype(dtype)

    sizes = [in_features, *hidden, n_classes]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        # The meta device allocates nothing and draws no random numbers; the weights are filled below.
        layers += [nn.Linear(fan_in, fan_out, device="meta", dtype=dtype), nn.ReLU()]
    target = device if device is not None else torch.empty(0).device  # torch's default device (the CPU)
    model = nn.Sequential(*layers[:-1]).to_empty(device=target)

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                for param in (layer.weight, layer.bias):
                    values = torch.empty(param.shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator)
                    param.copy_(values)
    return model


def make_linear_regression(
    in_features: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Parameters of a linear model ``y_hat = X @ w + b``, both zero and with ``requires_grad=True``.

    Returns ``(w, b)`` with ``w`` of shape ``(in_features,)`` and ``b`` a 0-d tensor.
    """
    in_features = require_positive_int(in_features, "in_features")
    dtype = _check_dtype(dtype)
    w = torch.zeros(in_features, dtype=dtype, device=device, requires_grad=True)
    b = torch.zeros((), dtype=dtype, device=device, requires_grad=True)
    return w, b
