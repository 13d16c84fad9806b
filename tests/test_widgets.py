"""Behaviour of course_utils.widgets.trajectory_explorer, built and driven without a browser."""

from __future__ import annotations

import ipywidgets
import plotly.graph_objects as go
import pytest
import torch

from course_utils.landscapes import LANDSCAPES
from course_utils.widgets import TrajectoryExplorer, trajectory_explorer


def opt_fn(fn, xy, optimizer_class, hyperparams, n_iters=100):
    """The notebook's exercise, solved: row k is the point before step k."""
    xy = xy.clone().requires_grad_(True)  # a leaf only if the explorer passes a start without grad
    path = torch.zeros((n_iters, 2), dtype=xy.dtype)
    optimizer = optimizer_class([xy], **hyperparams)
    for k in range(n_iters):
        path[k] = xy.detach()
        optimizer.zero_grad()
        fn(xy[0], xy[1]).backward()
        optimizer.step()
    return path


class Recorder:
    """A ``run`` that records its arguments and returns a fixed short path."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn, xy, optimizer_class, hyperparams, n_iters):
        self.calls.append((fn, xy, optimizer_class, hyperparams, n_iters))
        return torch.zeros((n_iters, 2), dtype=torch.float64)


def path_traces(explorer):
    return [t for t in explorer.figure.data if isinstance(t, go.Scatter) and t.name.startswith("SGD")]


def test_explorer_is_a_vbox_drawn_once_on_construction():
    explorer = trajectory_explorer(opt_fn, "ravine", n_iters=(10, 100, 30))
    assert isinstance(explorer, ipywidgets.VBox)
    assert isinstance(explorer, TrajectoryExplorer)
    assert isinstance(explorer.figure, go.Figure)
    assert explorer.output in explorer.children and explorer.status in explorer.children


def test_redraw_puts_a_plotly_figure_into_the_output_widget():
    explorer = trajectory_explorer(opt_fn, "ravine", n_iters=(10, 100, 30))
    explorer.output.outputs = ()
    figure = explorer.redraw()
    assert figure is explorer.figure
    (output,) = explorer.output.outputs
    assert output["output_type"] == "display_data"
    assert "application/vnd.plotly.v1+json" in output["data"]


def test_redraw_labels_the_path_with_the_optimizer_and_slider_values():
    explorer = trajectory_explorer(opt_fn, "rosenbrock", lr=(1e-4, 1e-1, 1e-3), momentum=(0.0, 0.99, 0.9))
    assert [t.name for t in path_traces(explorer)] == ["SGD(lr=0.001, momentum=0.9)"]


def test_status_reports_the_final_point_and_loss():
    explorer = trajectory_explorer(opt_fn, "quadratic", lr=(1e-3, 1e-1, 1e-2), n_iters=(10, 500, 50))
    final = explorer.path[-1].double()
    loss = LANDSCAPES["quadratic"].at(final).item()
    assert "after 50 steps" in explorer.status.value
    assert f"loss = {loss:.6g}" in explorer.status.value
    assert f"x = {final[0].item():.6g}" in explorer.status.value


def test_moving_a_slider_redraws_with_the_new_value():
    explorer = trajectory_explorer(opt_fn, "ravine", n_iters=(10, 100, 30))
    explorer.sliders["n_iters"].value = 40
    assert len(explorer.path) == 40
    assert len(path_traces(explorer)[0].x) == 40


def test_run_receives_the_landscape_a_fresh_start_and_the_hyperparameters():
    recorder = Recorder()
    explorer = trajectory_explorer(
        recorder, "trimodal", torch.optim.SGD, lr=(1e-3, 1.0, 0.1), momentum=(0.0, 0.9, 0.5), n_iters=(5, 50, 20)
    )
    explorer.redraw()
    (fn_1, xy_1, cls, hyperparams, n_iters), (_, xy_2, *_) = recorder.calls
    assert fn_1(torch.tensor(0.0), torch.tensor(0.0)) == LANDSCAPES["trimodal"](torch.tensor(0.0), torch.tensor(0.0))
    assert xy_1.tolist() == list(LANDSCAPES["trimodal"].start) and xy_1.dtype == torch.float64
    assert not xy_1.requires_grad and xy_1 is not xy_2
    assert cls is torch.optim.SGD
    assert hyperparams == pytest.approx({"lr": 0.1, "momentum": 0.5})
    assert n_iters == 20


def test_lr_from_the_log_slider_is_rounded_to_three_significant_digits():
    recorder = Recorder()
    explorer = trajectory_explorer(recorder, "ravine", momentum=(0.0, 0.99, 0.9))
    explorer.sliders["lr"].value = 10**-2.95
    assert recorder.calls[-1][3] == {"lr": 0.00112, "momentum": 0.9}
    assert [t.name for t in path_traces(explorer)] == ["SGD(lr=0.00112, momentum=0.9)"]


def test_a_custom_start_is_used():
    recorder = Recorder()
    trajectory_explorer(recorder, "ravine", start=(1.0, -1.0))
    assert recorder.calls[0][1].tolist() == [1.0, -1.0]


def test_momentum_none_leaves_momentum_out_of_sliders_and_hyperparameters():
    recorder = Recorder()
    explorer = trajectory_explorer(recorder, "ravine", momentum=None)
    assert set(explorer.sliders) == {"lr", "n_iters"}
    assert recorder.calls[0][3].keys() == {"lr"}


def test_sliders_use_a_log_scale_for_lr_and_update_on_release_only():
    explorer = trajectory_explorer(Recorder(), "ravine", lr=(1e-4, 1e-1, 1e-3))
    lr = explorer.sliders["lr"]
    assert isinstance(lr, ipywidgets.FloatLogSlider)
    assert (lr.min, lr.max) == pytest.approx((-4, -1)) and lr.value == pytest.approx(1e-3)
    assert isinstance(explorer.sliders["momentum"], ipywidgets.FloatSlider)
    assert isinstance(explorer.sliders["n_iters"], ipywidgets.IntSlider)
    assert all(slider.continuous_update is False for slider in explorer.sliders.values())


def test_a_diverging_run_is_reported_in_the_status():
    explorer = trajectory_explorer(opt_fn, "quadratic", lr=(1e-3, 1.0, 0.5), momentum=None, n_iters=(10, 500, 400))
    assert "diverged at step" in explorer.status.value
    assert "diverged at step" in path_traces(explorer)[0].name


def test_an_exception_in_run_is_shown_instead_of_raised():
    def broken(fn, xy, optimizer_class, hyperparams, n_iters):
        raise RuntimeError("forgot to call backward")

    explorer = trajectory_explorer(broken, "ravine")
    assert explorer.figure is None and isinstance(explorer.error, RuntimeError)
    assert "forgot to call backward" in explorer.status.value and "RuntimeError" in explorer.status.value


def test_a_run_returning_the_wrong_shape_is_explained_in_the_status():
    explorer = trajectory_explorer(lambda fn, xy, cls, hp, n: torch.zeros(n), "ravine")
    assert "(n_steps, 2)" in explorer.status.value


def test_rejects_an_lr_range_starting_at_zero():
    with pytest.raises(ValueError, match="min > 0"):
        trajectory_explorer(Recorder(), lr=(0.0, 0.1, 0.01))


def test_rejects_an_initial_value_outside_its_range():
    with pytest.raises(ValueError, match="min <= initial <= max"):
        trajectory_explorer(Recorder(), momentum=(0.0, 0.9, 0.95))


def test_rejects_momentum_above_one():
    with pytest.raises(ValueError, match="momentum"):
        trajectory_explorer(Recorder(), momentum=(0.0, 1.5, 0.9))


def test_rejects_a_run_that_is_not_callable():
    with pytest.raises(TypeError, match="run must be callable"):
        trajectory_explorer("opt_fn")


def test_rejects_an_unknown_landscape_listing_valid_names():
    with pytest.raises(KeyError, match="rosenbrock"):
        trajectory_explorer(Recorder(), "himmelblau")


def test_rejects_a_start_that_is_not_a_point():
    with pytest.raises(ValueError, match=r"start must be a finite point"):
        trajectory_explorer(Recorder(), start=(1.0, 2.0, 3.0))
