"""A plain training loop for classifiers, with a progress bar, and a helper to compare optimizers.

The loop is the one the course teaches, written out in full::

    for each epoch:
        for each minibatch (X, y):
            optimizer.zero_grad()
            loss = cross_entropy(model(X), y)
            loss.backward()
            optimizer.step()

``optimizer`` only needs ``zero_grad()`` and ``step()``, so ``torch.optim`` optimizers and the ones
written in the notebooks are used the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Split, iterate_minibatches, load_digits_split
from .device import get_device
from .models import make_mlp
from .validation import require_callable, require_positive_int, require_tensor, require_xy

__all__ = [
    "TrainingHistory", "accuracy", "compare_optimizers_on_digits", "compare_optimizers_over_seeds", "final_values",
    "landscape_path", "mean_and_std", "train_classifier",
]


@dataclass
class TrainingHistory:
    """What :func:`train_classifier` measured, one entry per epoch.

    Attributes:
        train_loss: mean cross-entropy over the epoch's minibatches (weighted by batch size), measured
            while training, i.e. with the weights as they were at each step.
        test_loss: cross-entropy on the test set after the epoch.
        train_accuracy: accuracy on the whole training set after the epoch.
        test_accuracy: accuracy on the test set after the epoch.
        val_loss: cross-entropy on the validation set after the epoch (empty when the split has none).
        val_accuracy: accuracy on the validation set after the epoch (empty when the split has none).
    """

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose largest logit is at the true label.

    ``logits`` has shape ``(n, C)`` (one row of class scores per example), ``labels`` shape ``(n,)``
    with integer classes in ``0..C-1``. Returns a Python float in ``[0, 1]``.
    """
    logits = require_tensor(logits, "logits", shape=(None, None))
    labels = require_tensor(labels, "labels", shape=(logits.shape[0],))
    if logits.shape[0] == 0:
        raise ValueError("accuracy of an empty batch is undefined: logits has 0 rows")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"labels must hold integer class indices (e.g. int64), got {labels.dtype}")
    return (logits.argmax(dim=1) == labels).to(torch.float64).mean().item()


def _check_optimizer(optimizer: Any) -> None:
    for method in ("zero_grad", "step"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(
                f"optimizer must have zero_grad() and step() methods (like torch.optim.SGD), "
                f"but {type(optimizer).__name__} has no {method}()"
            )


@torch.no_grad()
def _evaluate(model: nn.Module, X: Tensor, y: Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(X)
    return F.cross_entropy(logits, y).item(), accuracy(logits, y)


def train_classifier(
    model: nn.Module,
    optimizer: Any,
    split: Split,
    *,
    n_epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    description: str = "",
) -> TrainingHistory:
    """Train ``model`` (which maps ``(batch, n_features)`` to logits ``(batch, C)``) with cross-entropy.

    Each epoch visits the training set once in minibatches of ``batch_size`` (the order comes from a
    generator seeded with ``seed``, so a rerun repeats it), doing ``zero_grad``, forward + loss,
    ``backward``, ``step`` on each. After each epoch the model is evaluated (``model.eval()``, no
    gradients) on the whole training and test sets, and on the validation set when ``split`` has one
    (:func:`course_utils.data.load_digits_split` with ``validation_fraction``). The data is moved to the device and dtype of the
    model's parameters. ``progress`` shows a ``tqdm`` bar over epochs, labelled ``description``
    (a :class:`~course_utils.progress.ProgressBar`: in a notebook its final line stays readable once saved).

    Returns:
        A :class:`TrainingHistory` whose four lists have ``n_epochs`` entries each.
    """
    from .progress import ProgressBar

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_optimizer(optimizer)
    if not isinstance(split, Split):
        raise TypeError(f"split must be a course_utils.data.Split (e.g. load_digits_split()), got {type(split).__name__}")
    n_epochs = require_positive_int(n_epochs, "n_epochs")
    batch_size = require_positive_int(batch_size, "batch_size")
    seed = require_positive_int(seed, "seed", allow_zero=True)

    reference = next(model.parameters(), None)
    device = reference.device if reference is not None else split.X_train.device
    dtype = reference.dtype if reference is not None and reference.is_floating_point() else split.X_train.dtype
    X_train, X_test = split.X_train.to(device, dtype), split.X_test.to(device, dtype)
    y_train, y_test = split.y_train.to(device), split.y_test.to(device)
    validation = None if split.X_val is None or split.y_val is None else (split.X_val.to(device, dtype), split.y_val.to(device))

    generator = torch.Generator().manual_seed(seed)
    history = TrainingHistory()
    epochs = ProgressBar(range(n_epochs), desc=description or "training", unit="epochs", leave=False,
                         disable=not progress)
    for _ in epochs:
        model.train()
        total, count = 0.0, 0
        for idx in iterate_minibatches(len(y_train), batch_size, generator=generator):
            idx = idx.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history.train_loss.append(total / count)
        _, train_accuracy = _evaluate(model, X_train, y_train)
        test_loss, test_accuracy = _evaluate(model, X_test, y_test)
        history.train_accuracy.append(train_accuracy)
        history.test_loss.append(test_loss)
        history.test_accuracy.append(test_accuracy)
        if validation is not None:
            val_loss, val_accuracy = _evaluate(model, *validation)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_accuracy)
        if validation is not None:  # settings are chosen on the validation set: the bar does not show the test set
            epochs.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val_acc=f"{history.val_accuracy[-1]:.3f}")
        else:
            epochs.set_postfix(loss=f"{history.train_loss[-1]:.3f}", test_acc=f"{test_accuracy:.3f}")
    model.train()
    return history


def compare_optimizers_on_digits(
    optimizers: Mapping[str, Callable[[Iterable[Tensor]], Any]],
    *,
    n_epochs: int = 15,
    batch_size: int = 64,
    hidden_sizes: Sequence[int] = (64,),
    seed: int = 0,
    progress: bool = True,
) -> dict[str, TrainingHistory]:
    """Train the same MLP on the digits once per optimizer and return ``{label: TrainingHistory}``.

    ``optimizers`` maps a label to a factory that builds an optimizer from ``model.parameters()``,
    e.g. ``{"SGD": lambda params: torch.optim.SGD(params, lr=0.1)}``. Every run uses the same split,
    the same initial weights and the same minibatch order (all from ``seed``), so the curves differ
    only because of the optimizer. Runs on :func:`course_utils.device.get_device`.
    """
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError(
            "optimizers must be a non-empty mapping from a label to a factory, e.g. "
            "{'SGD': lambda params: torch.optim.SGD(params, lr=0.1)}, "
            f"got {type(optimizers).__name__} {optimizers!r}"
        )
    for label, factory in optimizers.items():
        require_callable(factory, f"optimizers[{label!r}]")
    device = get_device()
    split = load_digits_split(seed=seed, device=device)
    histories = {}
    for label, factory in optimizers.items():
        model = make_mlp(split.n_features, hidden_sizes, 10, seed=seed, device=device)
        optimizer = factory(model.parameters())
        histories[label] = train_classifier(
            model, optimizer, split, n_epochs=n_epochs, batch_size=batch_size, seed=seed,
            progress=progress, description=str(label),
        )
    return histories


def compare_optimizers_over_seeds(
    optimizers: Mapping[str, Callable[[Iterable[Tensor]], Any]],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    n_epochs: int = 10,
    batch_size: int = 64,
    hidden_sizes: Sequence[int] = (64,),
    validation_fraction: float = 0.2,
    progress: bool = True,
) -> dict[str, list[TrainingHistory]]:
    """:func:`compare_optimizers_on_digits` repeated for every seed: ``{label: [history per seed]}``.

    The split is the same for every run (``seed=0`` of :func:`~course_utils.data.load_digits_split`, with a
    validation part of ``validation_fraction``); a seed sets the initial weights and the minibatch order,
    the same for every optimizer, so run ``i`` of two labels differs only by the optimizer. The spread over
    seeds is the noise a difference between optimizers has to rise above.
    """
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError(f"optimizers must be a non-empty mapping from a label to a factory, got {type(optimizers).__name__}")
    for label, factory in optimizers.items():
        require_callable(factory, f"optimizers[{label!r}]")
    seeds = [require_positive_int(seed, "seed", allow_zero=True) for seed in seeds]
    if len(seeds) < 2:
        raise ValueError(f"give at least two seeds: a spread over one run is not defined, got {seeds}")
    device = get_device()
    split = load_digits_split(validation_fraction=validation_fraction, device=device)
    histories: dict[str, list[TrainingHistory]] = {label: [] for label in optimizers}
    for seed in seeds:
        for label, factory in optimizers.items():
            model = make_mlp(split.n_features, hidden_sizes, 10, seed=seed, device=device)
            histories[label].append(train_classifier(model, factory(model.parameters()), split, n_epochs=n_epochs,
                                                     batch_size=batch_size, seed=seed, progress=progress,
                                                     description=f"{label}, seed {seed}"))
    return histories


def final_values(histories: Sequence[TrainingHistory], metric: str) -> list[float]:
    """The last epoch's ``metric`` (``"val_accuracy"``, ``"test_loss"``, ...) of every history, one per seed."""
    values = []
    for history in histories:
        series = getattr(history, metric, None)
        if not isinstance(series, list):
            raise ValueError(f"metric must be one of the TrainingHistory lists (train_loss, val_accuracy, ...), got {metric!r}")
        if not series:
            raise ValueError(f"a history has no {metric} (was the split made without a validation part?)")
        values.append(series[-1])
    return values


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (divided by n - 1) of at least two numbers."""
    numbers = [float(v) for v in values]
    if len(numbers) < 2:
        raise ValueError(f"mean_and_std needs at least two values (one per seed), got {len(numbers)}")
    mean = sum(numbers) / len(numbers)
    return mean, (sum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1)) ** 0.5


def landscape_path(
    fn: Callable[[Tensor, Tensor], Tensor],
    start: Tensor,
    optimizer_class: type,
    hyperparams: Mapping[str, Any],
    n_iters: int = 100,
) -> Tensor:
    """The points an optimizer visits minimising ``fn(x, y)`` from ``start``: shape ``(n_iters, 2)``.

    Row ``k`` is the point before step ``k`` (row 0 is ``start``), the convention of chapter 1's
    ``opt_fn``; later chapters use this helper to draw trajectories. ``start`` is not modified.
    """
    from course_utils.checks.trajectory import optimizer_path

    require_callable(fn, "fn")
    require_xy(start, "start")
    n_iters = require_positive_int(n_iters, "n_iters")
    return optimizer_path(fn, start, lambda params: optimizer_class(params, **hyperparams), n_iters)
