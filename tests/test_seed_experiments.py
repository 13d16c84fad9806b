"""Experiments that teach method: a validation split, runs over several seeds, and their mean ± std figure."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch

from course_utils import plotting
from course_utils.data import load_digits_split
from course_utils.training import (
    TrainingHistory,
    compare_optimizers_over_seeds,
    final_values,
    mean_and_std,
    train_classifier,
)
from course_utils.models import make_mlp


def _rows(X: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in X}


def test_the_three_parts_are_disjoint_and_cover_the_digits() -> None:
    split = load_digits_split(validation_fraction=0.2, dtype=torch.float64)
    assert (split.n_train, split.n_val, split.n_test) == (987, 360, 450)
    # Rows as bytes: the digits hold a few duplicate images, so compare by count as well as by content.
    assert split.n_train + split.n_val + split.n_test == 1797
    train, val, test = (np.concatenate([X.numpy(), y[:, None].numpy()], axis=1) for X, y in
                        ((split.X_train, split.y_train), (split.X_val, split.y_val), (split.X_test, split.y_test)))
    everything = np.concatenate([train, val, test])
    from sklearn import datasets

    X, y = datasets.load_digits(return_X_y=True)
    original = np.concatenate([X / 16.0, y[:, None]], axis=1)
    assert sorted(map(tuple, everything)) == sorted(map(tuple, original))  # each image exactly once


def test_the_validation_part_comes_out_of_training_and_leaves_the_test_set_alone() -> None:
    plain = load_digits_split()
    with_validation = load_digits_split(validation_fraction=0.2)
    assert torch.equal(plain.X_test, with_validation.X_test) and torch.equal(plain.y_test, with_validation.y_test)
    assert _rows(with_validation.X_train) | _rows(with_validation.X_val) == _rows(plain.X_train)
    assert not plain.has_validation and plain.n_val == 0 and with_validation.has_validation


def test_the_split_is_deterministic_and_depends_on_the_seed() -> None:
    a, b = load_digits_split(validation_fraction=0.2), load_digits_split(validation_fraction=0.2)
    assert torch.equal(a.X_val, b.X_val) and torch.equal(a.y_train, b.y_train)
    other = load_digits_split(validation_fraction=0.2, seed=1)
    assert not torch.equal(a.X_val, other.X_val)


def test_the_validation_part_is_stratified() -> None:
    split = load_digits_split(validation_fraction=0.2)
    counts = torch.bincount(split.y_val, minlength=10)
    assert int(counts.min()) >= 34 and int(counts.max()) <= 38  # 360 images, about 36 of each digit


@pytest.mark.parametrize("bad", [-0.1, 0.75, 1.0, float("nan")])
def test_impossible_validation_fractions_are_rejected(bad: float) -> None:
    with pytest.raises((ValueError, TypeError), match="validation_fraction|test_fraction"):
        load_digits_split(validation_fraction=bad)


def test_training_records_validation_curves_only_when_there_is_a_validation_part() -> None:
    split = load_digits_split(validation_fraction=0.2)
    model = make_mlp(seed=0)
    history = train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), split, n_epochs=2, progress=False)
    assert len(history.val_accuracy) == len(history.val_loss) == 2
    with torch.no_grad():
        accuracy = (model(split.X_val).argmax(dim=1) == split.y_val).double().mean().item()
    assert history.val_accuracy[-1] == pytest.approx(accuracy)
    plain = train_classifier(make_mlp(seed=0), torch.optim.SGD(make_mlp(seed=0).parameters(), lr=0.1), load_digits_split(),
                             n_epochs=1, progress=False)
    assert plain.val_accuracy == [] and plain.val_loss == []


def test_runs_over_seeds_differ_by_seed_and_pair_the_optimizers() -> None:
    same = lambda params: torch.optim.SGD(params, lr=0.1)  # noqa: E731
    runs = compare_optimizers_over_seeds({"a": same, "b": same}, seeds=(0, 1, 2), n_epochs=2, progress=False)
    assert [len(histories) for histories in runs.values()] == [3, 3]
    assert runs["a"][1].train_loss == runs["b"][1].train_loss  # the same seed: the same weights and minibatches
    assert len(set(final_values(runs["a"], "val_accuracy"))) > 1 or len(set(final_values(runs["a"], "train_loss"))) > 1


def test_a_single_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two seeds"):
        compare_optimizers_over_seeds({"a": lambda params: torch.optim.SGD(params, lr=0.1)}, seeds=(0,), progress=False)


def test_mean_and_std_agree_with_the_statistics_module() -> None:
    values = [0.91, 0.95, 0.88, 0.97]
    mean, std = mean_and_std(values)
    assert mean == pytest.approx(statistics.mean(values)) and std == pytest.approx(statistics.stdev(values))
    with pytest.raises(ValueError, match="at least two"):
        mean_and_std([0.9])


def test_final_values_reads_the_last_epoch_and_names_a_missing_metric() -> None:
    histories = [TrainingHistory(val_accuracy=[0.5, 0.8]), TrainingHistory(val_accuracy=[0.4, 0.7])]
    assert final_values(histories, "val_accuracy") == [0.8, 0.7]
    with pytest.raises(ValueError, match="no test_loss"):
        final_values(histories, "test_loss")
    with pytest.raises(ValueError, match="metric must be"):
        final_values(histories, "accuracy")


def test_the_seed_band_figure_has_one_band_and_one_mean_line_per_optimizer() -> None:
    runs = {"SGD": [[1.0, 0.5, 0.25], [1.2, 0.7, 0.35], [0.8, 0.3, 0.15]], "Adam": [[0.9, 0.2, 0.1], [0.7, 0.2, 0.1]]}
    fig = plotting.plot_seed_bands(runs, title="loss", yaxis_title="cross-entropy")
    bands = [trace for trace in fig.data if trace.fill == "toself"]
    lines = [trace for trace in fig.data if trace.fill != "toself"]
    assert len(bands) == len(lines) == 2
    sgd_line = next(trace for trace in lines if trace.legendgroup == "SGD")
    assert list(sgd_line.x) == [1, 2, 3]
    assert list(sgd_line.y) == pytest.approx([1.0, 0.5, 0.25])
    sgd_band = next(trace for trace in bands if trace.legendgroup == "SGD")
    upper = list(sgd_band.y)[:3]
    assert upper == pytest.approx([1.0 + statistics.stdev([1.0, 1.2, 0.8]), 0.5 + statistics.stdev([0.5, 0.7, 0.3]),
                                   0.25 + statistics.stdev([0.25, 0.35, 0.15])])
    assert not math.isclose(upper[0], 1.0)


@pytest.mark.parametrize("runs, error", [
    ({"SGD": [[1.0, 0.5]]}, "at least two seeds"),
    ({"SGD": [[1.0, 0.5], [1.0]]}, "same length"),
    ({}, "non-empty mapping"),
    ({"SGD": [1.0, 0.5]}, "must be one-dimensional|sequence of numbers"),
])
def test_the_seed_band_figure_rejects_what_it_cannot_draw(runs: dict, error: str) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        plotting.plot_seed_bands(runs)


def test_the_seed_points_figure_has_one_trace_per_method_with_sample_std_error_bars() -> None:
    runs = {"AdamW": {1.0: [0.9, 0.8, 0.7], 0.1: [0.95, 0.97, 0.96]}, "Adam + L2": {0.01: [0.9, 0.92]}}
    fig = plotting.plot_seed_points(runs, log_x=True)
    assert [trace.name for trace in fig.data] == ["AdamW", "Adam + L2"]
    adamw = fig.data[0]
    assert list(adamw.x) == [0.1, 1.0]  # in the order of the setting
    assert list(adamw.y) == pytest.approx([0.96, 0.8])
    assert list(adamw.error_y.array) == pytest.approx([statistics.stdev([0.95, 0.97, 0.96]), statistics.stdev([0.9, 0.8, 0.7])])
    assert fig.layout.xaxis.type == "log"
    with pytest.raises(ValueError, match="at least two seeds"):
        plotting.plot_seed_points({"AdamW": {1.0: [0.9]}})
