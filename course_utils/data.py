"""Small real data sets as tensors, and minibatch indices.

Both data sets ship inside scikit-learn, so nothing is downloaded at run time:

- :func:`load_digits_split`: 1,797 handwritten digits, 8x8 pixels, 10 classes (classification).
- :func:`load_diabetes_split`: 442 patients, 10 measurements, a disease-progression score (regression).

Conventions: features ``X`` have shape ``(n, n_features)``; targets ``y`` have shape ``(n,)``. The split
into train and test is random but reproducible: the same ``seed`` gives the same split.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .validation import require_number, require_positive_int

__all__ = ["Split", "iterate_minibatches", "load_diabetes_split", "load_digits_split"]


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split of one data set.

    Attributes:
        X_train: ``(n_train, n_features)`` floating-point features.
        y_train: ``(n_train,)`` targets: int64 class labels for classification, floats for regression.
        X_test: ``(n_test, n_features)``.
        y_test: ``(n_test,)``.
    """

    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor

    @property
    def n_features(self) -> int:
        """Number of input features (columns of ``X``)."""
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return int(self.X_test.shape[0])


@functools.lru_cache(maxsize=None)
def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one of scikit-learn's bundled data sets once per process (callers must not modify it)."""
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "diabetes": datasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _check_split_args(test_fraction: float, seed: int, dtype: torch.dtype) -> float:
    test_fraction = require_number(
        test_fraction, "test_fraction", minimum=0.0, maximum=1.0, min_inclusive=False, max_inclusive=False
    )
    require_positive_int(seed, "seed", allow_zero=True)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {dtype!r}")
    return test_fraction


def _split_indices(n: int, test_fraction: float, seed: int, stratify: np.ndarray | None) -> tuple[Tensor, Tensor]:
    from sklearn.model_selection import train_test_split

    indices = np.arange(n)
    train, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=stratify)
    return torch.from_numpy(np.sort(train)), torch.from_numpy(np.sort(test))


def load_digits_split(
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Split:
    """scikit-learn's handwritten digits, split into train and test sets.

    ``X`` has shape ``(n, 64)``: the 8x8 grey levels (0..16) divided by 16, so every value lies in
    ``[0, 1]``; ``dtype`` sets its precision. ``y`` has shape ``(n,)``, dtype int64, the digit 0..9.
    The split is stratified (every digit keeps its share in both parts) and depends only on ``seed``;
    ``test_fraction`` of the 1,797 images go to the test set (450 with the default 0.25).
    """
    test_fraction = _check_split_args(test_fraction, seed, dtype)
    X, y = _bundled("digits")
    train, test = _split_indices(len(y), test_fraction, seed, stratify=y)
    features = torch.tensor(X / 16.0, dtype=dtype)
    labels = torch.tensor(y, dtype=torch.int64)
    return Split(
        X_train=features[train].to(device),
        y_train=labels[train].to(device),
        X_test=features[test].to(device),
        y_test=labels[test].to(device),
    )


def load_diabetes_split(
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Split:
    """scikit-learn's diabetes regression data (442 patients, 10 features), split into train and test.

    Features and target are standardised with the **training** set's mean and standard deviation
    (applied to both parts, so no test information leaks into training): on the train set every
    column of ``X`` and ``y`` has mean 0 and standard deviation 1. ``X`` has shape ``(n, 10)``, ``y``
    has shape ``(n,)``, both of ``dtype``. The split (not stratified) depends only on ``seed``.
    """
    test_fraction = _check_split_args(test_fraction, seed, dtype)
    X, y = _bundled("diabetes")
    train, test = _split_indices(len(y), test_fraction, seed, stratify=None)
    train, test = train.numpy(), test.numpy()
    X_mean, X_std = X[train].mean(axis=0), X[train].std(axis=0)
    y_mean, y_std = y[train].mean(), y[train].std()
    X_scaled = (X - X_mean) / X_std
    y_scaled = (y - y_mean) / y_std

    def tensor(values: np.ndarray) -> Tensor:
        return torch.tensor(values, dtype=dtype, device=device)

    return Split(
        X_train=tensor(X_scaled[train]),
        y_train=tensor(y_scaled[train]),
        X_test=tensor(X_scaled[test]),
        y_test=tensor(y_scaled[test]),
    )


def iterate_minibatches(
    n: int,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[Tensor]:
    """Yield int64 index tensors that cover ``range(n)`` exactly once, ``batch_size`` at a time.

    The last batch holds the remainder and may be smaller. With ``shuffle`` the order comes from
    ``torch.randperm(n, generator=generator)``: pass a seeded CPU generator for a reproducible order.
    Index the data with each batch: ``X[idx]`` (the indices live on the CPU; indexing a CUDA tensor
    with them works).
    """
    n = require_positive_int(n, "n", allow_zero=True)
    batch_size = require_positive_int(batch_size, "batch_size")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    # A separate generator function, so that bad arguments raise here rather than at the first next().
    return _chunks(order, batch_size)


def _chunks(order: Tensor, batch_size: int) -> Iterator[Tensor]:
    for begin in range(0, len(order), batch_size):
        yield order[begin : begin + batch_size]
