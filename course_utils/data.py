"""Small real data sets as tensors, and minibatch indices.

Both data sets ship inside scikit-learn, so nothing is downloaded at run time:

- :func:`load_digits_split`: 1,797 handwritten digits, 8x8 pixels, 10 classes (classification).
- :func:`load_diabetes_split`: 442 patients, 10 measurements, a disease-progression score (regression).

Conventions: features ``X`` have shape ``(n, n_features)``; targets ``y`` have shape ``(n,)``. The split
into train and test is random but reproducible: the same ``seed`` gives the same split. The digits can
also keep a validation part apart (``validation_fraction``): settings are chosen on it, and the test
set is looked at once, for the chosen ones.
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
    """A train/test split of one data set, with an optional validation part.

    Attributes:
        X_train: ``(n_train, n_features)`` floating-point features.
        y_train: ``(n_train,)`` targets: int64 class labels for classification, floats for regression.
        X_test: ``(n_test, n_features)``.
        y_test: ``(n_test,)``.
        X_val: ``(n_val, n_features)``, or ``None`` when the split has no validation part.
        y_val: ``(n_val,)``, or ``None``.
    """

    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor
    X_val: Tensor | None = None
    y_val: Tensor | None = None

    @property
    def has_validation(self) -> bool:
        """Whether the split keeps a validation part apart from the training examples."""
        return self.X_val is not None

    @property
    def n_val(self) -> int:
        """Number of validation examples (0 without a validation part)."""
        return 0 if self.X_val is None else int(self.X_val.shape[0])

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
    validation_fraction: float = 0.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Split:
    """scikit-learn's handwritten digits, split into train and test sets, and optionally a validation set.

    ``X`` has shape ``(n, 64)``: the 8x8 grey levels (0..16) divided by 16, so every value lies in
    ``[0, 1]``; ``dtype`` sets its precision. ``y`` has shape ``(n,)``, dtype int64, the digit 0..9.
    The split is stratified (every digit keeps its share in every part) and depends only on ``seed``;
    ``test_fraction`` of the 1,797 images go to the test set (450 with the default 0.25).

    With ``validation_fraction > 0``, that fraction of all the images is taken out of the training part
    (stratified again) into ``X_val, y_val``: 360 images with 0.2. The test set is the same whatever
    ``validation_fraction`` is, and the three parts are disjoint.
    """
    test_fraction = _check_split_args(test_fraction, seed, dtype)
    validation_fraction = require_number(validation_fraction, "validation_fraction", minimum=0.0, maximum=1.0, max_inclusive=False)
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError(f"test_fraction + validation_fraction must be below 1 (some images must be left for training), "
                         f"got {test_fraction} + {validation_fraction}")
    X, y = _bundled("digits")
    train, test = _split_indices(len(y), test_fraction, seed, stratify=y)
    validation = None
    if validation_fraction > 0:
        share = validation_fraction / (1.0 - test_fraction)  # of the training part
        kept, held = _split_indices(len(train), share, seed, stratify=y[train.numpy()])
        train, validation = train[kept], train[held]
    features = torch.tensor(X / 16.0, dtype=dtype)
    labels = torch.tensor(y, dtype=torch.int64)
    return Split(
        X_train=features[train].to(device),
        y_train=labels[train].to(device),
        X_test=features[test].to(device),
        y_test=labels[test].to(device),
        X_val=None if validation is None else features[validation].to(device),
        y_val=None if validation is None else labels[validation].to(device),
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
