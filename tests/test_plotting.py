"""Behaviour of course_utils.plotting: figure structure, trajectories, validation, static twins."""

from __future__ import annotations

import functools
import json
import sys

import matplotlib.figure
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from course_utils.landscapes import LANDSCAPES
from course_utils.plotting import (
    configure_plotly_renderer,
    describe_optimizer,
    plot_curves,
    plot_curves_static,
    plot_landscape,
    plot_trajectories,
    plot_trajectories_static,
)


def trace_types(fig):
    return [type(trace).__name__ for trace in fig.data]


def short_path(start=(-1.5, 2.5), end=(1.0, 1.0), n=5):
    return torch.stack(
        [torch.linspace(start[0], end[0], n), torch.linspace(start[1], end[1], n)], dim=1
    ).double()


@pytest.fixture
def restore_renderer():
    previous = pio.renderers.default
    yield
    pio.renderers.default = previous


# ---------------------------------------------------------------------------- renderer and labels


def test_configure_plotly_renderer_outside_colab_shows_plotly_mimetype_and_html_without_plotly_js(restore_renderer, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert configure_plotly_renderer() == "course"
    assert pio.renderers.default == "course"
    bundle = pio.renderers._build_mime_bundle(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])).to_dict())
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["type"] == "scatter"
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html
    # plotly.js (megabytes) is not in each figure; the export adds it once (course_utils.offline)
    assert len(html) < 20_000 and "cdn.plot.ly" not in html and "MathJax" not in html


def test_configure_plotly_renderer_leaves_plotly_alone_while_autograding(restore_renderer, monkeypatch):
    before = pio.renderers.default
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert configure_plotly_renderer() == "json"
    assert pio.renderers.default == before


def test_configure_plotly_renderer_inside_colab_uses_colab(restore_renderer, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert configure_plotly_renderer() == "colab"
    assert pio.renderers.default == "colab"


def test_describe_optimizer_uses_the_class_name_and_compact_numbers():
    assert describe_optimizer(torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}) == "SGD(lr=0.01, momentum=0.9)"


def test_describe_optimizer_formats_small_floats_in_scientific_notation():
    assert describe_optimizer(torch.optim.Adam, {"lr": 1e-05}) == "Adam(lr=1e-05)"


def test_describe_optimizer_formats_tuples_ints_and_bools():
    label = describe_optimizer(torch.optim.Adam, {"betas": (0.9, 0.999), "foreach": False, "step": 3})
    assert label == "Adam(betas=(0.9, 0.999), foreach=False, step=3)"


def test_describe_optimizer_without_hyperparameters():
    assert describe_optimizer(torch.optim.SGD, {}) == "SGD()"


def test_describe_optimizer_names_the_function_inside_a_partial():
    assert describe_optimizer(functools.partial(torch.optim.SGD, lr=0.1), {"lr": 0.1}) == "SGD(lr=0.1)"


def test_describe_optimizer_rejects_hyperparams_that_are_not_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        describe_optimizer(torch.optim.SGD, [("lr", 0.1)])


# ---------------------------------------------------------------------------- plot_landscape


def test_plot_landscape_has_a_surface_a_contour_and_a_minimum_star():
    fig = plot_landscape("rosenbrock", resolution=20)
    assert isinstance(fig, go.Figure)
    assert trace_types(fig) == ["Surface", "Contour", "Scatter"]
    star = fig.data[2]
    assert star.marker.symbol == "star"
    assert (star.x[0], star.y[0]) == (1.0, 1.0)


def test_plot_landscape_puts_the_surface_left_and_the_contour_map_right():
    fig = plot_landscape("ravine", resolution=20)
    assert fig.data[0].scene == "scene"
    assert fig.layout.scene.domain.x[1] <= fig.layout.xaxis.domain[0]


def test_plot_landscape_grid_has_the_requested_resolution():
    fig = plot_landscape("quadratic", resolution=17)
    assert np.asarray(fig.data[1].z).shape == (17, 17)


def test_plot_landscape_uses_the_landscape_title_by_default():
    assert plot_landscape("trimodal", resolution=10).layout.title.text == LANDSCAPES["trimodal"].title


def test_plot_landscape_log_scale_colours_by_the_log_of_the_gap_to_the_minimum():
    linear = np.asarray(plot_landscape("rosenbrock", resolution=15, log_scale=False).data[1].z)
    logged = np.asarray(plot_landscape("rosenbrock", resolution=15, log_scale=True).data[1].z)
    assert linear.max() > 1000
    assert logged.max() < 4 and logged.min() < 0


def test_plot_landscape_accepts_a_plain_function_with_bounds():
    fig = plot_landscape(lambda x, y: x**2 + y**2, bounds=((-1, 1), (-2, 2)), resolution=9)
    assert trace_types(fig) == ["Surface", "Contour"]
    assert list(fig.layout.yaxis.range) == [-2.0, 2.0]


def test_plot_landscape_plain_function_without_bounds_says_bounds_are_needed():
    with pytest.raises(ValueError, match="bounds"):
        plot_landscape(lambda x, y: x + y)


def test_plot_landscape_rejects_something_that_is_not_a_landscape():
    with pytest.raises(TypeError, match="landscape"):
        plot_landscape(42)


def test_plot_landscape_rejects_reversed_bounds():
    with pytest.raises(ValueError, match="x_min < x_max"):
        plot_landscape("ravine", bounds=((1, -1), (0, 1)))


# ---------------------------------------------------------------------------- plot_trajectories


def test_plot_trajectories_adds_a_2d_and_a_3d_trace_per_path():
    fig = plot_trajectories("rosenbrock", {"a": short_path(), "b": short_path(end=(0, 0))}, resolution=15)
    assert trace_types(fig) == ["Surface", "Contour", "Scatter", "Scatter", "Scatter3d", "Scatter", "Scatter3d"]


def test_plot_trajectories_has_one_legend_entry_per_path_named_by_its_key():
    fig = plot_trajectories("rosenbrock", {"SGD": short_path(), "Adam": short_path(end=(0, 0))}, resolution=15)
    paths = [t for t in fig.data if t.name in ("SGD", "Adam")]
    shown = [t.name for t in paths if t.showlegend is not False]
    assert shown == ["SGD", "Adam"]
    for name in ("SGD", "Adam"):
        twins = [t for t in paths if t.name == name]
        assert len({t.legendgroup for t in twins}) == 1
        assert len({t.line.color for t in twins}) == 1


def test_plot_trajectories_without_surface_has_no_3d_traces():
    fig = plot_trajectories("ravine", {"a": short_path()}, resolution=15, show_surface=False)
    assert trace_types(fig) == ["Contour", "Scatter", "Scatter"]


def test_plot_trajectories_draws_the_path_points_on_the_map():
    path = short_path()
    fig = plot_trajectories("rosenbrock", {"p": path}, resolution=15)
    trace = next(t for t in fig.data if t.name == "p" and isinstance(t, go.Scatter))
    assert np.allclose(trace.x, path[:, 0].numpy()) and np.allclose(trace.y, path[:, 1].numpy())
    assert trace.mode == "lines+markers"


def test_plot_trajectories_lifts_the_3d_path_above_the_surface():
    path = short_path()
    fig = plot_trajectories("quadratic", {"p": path}, resolution=15, log_scale=False)
    trace3d = next(t for t in fig.data if isinstance(t, go.Scatter3d))
    loss = LANDSCAPES["quadratic"](path[:, 0], path[:, 1]).numpy()
    assert np.all(np.asarray(trace3d.z) > loss)


def test_plot_trajectories_marks_start_and_end_differently_from_the_middle():
    fig = plot_trajectories("rosenbrock", {"p": short_path(n=6)}, resolution=15)
    trace = next(t for t in fig.data if t.name == "p" and isinstance(t, go.Scatter))
    symbols = list(trace.marker.symbol)
    assert symbols[0] != symbols[1] and symbols[-1] != symbols[1] and symbols[0] != symbols[-1]
    assert trace.marker.size[0] > trace.marker.size[1]


def test_plot_trajectories_hover_text_gives_step_coordinates_and_loss():
    path = short_path()
    fig = plot_trajectories("rosenbrock", {"p": path}, resolution=15)
    loss = LANDSCAPES["rosenbrock"].at(path[2]).item()
    for kind in (go.Scatter, go.Scatter3d):
        trace = next(t for t in fig.data if t.name == "p" and isinstance(t, kind))
        # plotly fills %{customdata[i]} and %{x} per point: the template must name them, the data must hold them
        template = trace.hovertemplate
        assert "step %{customdata[0]}" in template and "loss = %{customdata[1]" in template and "x = %{x" in template
        step, point_loss = np.asarray(trace.customdata)[2]
        assert step == 2 and point_loss == pytest.approx(loss)
        assert np.asarray(trace.x)[2] == pytest.approx(path[2, 0].item())


def test_figure_data_is_stored_as_compact_typed_arrays():
    """Saved notebooks stay small: the grid is single precision and no per-point hover strings are stored."""
    fig = plot_trajectories("rosenbrock", {"p": short_path(n=50)}, resolution=30)
    as_json = json.loads(fig.to_json())
    surface = next(t for t in as_json["data"] if t["type"] == "surface")
    assert surface["z"]["dtype"] == "f4"
    assert all("text" not in t for t in as_json["data"] if t["type"] in ("scatter", "scatter3d") and t.get("name") == "p")


def test_plot_trajectories_widens_the_axes_to_a_far_away_point():
    path = torch.tensor([[-1.5, 2.5], [30.0, -40.0], [1.0, 1.0]], dtype=torch.float64)
    fig = plot_trajectories("rosenbrock", {"far": path}, resolution=15)
    x_range, y_range = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x_range[0] <= -2.0 and x_range[1] > 30.0
    assert y_range[0] < -40.0 and y_range[1] >= 3.0
    assert fig.layout.scene.xaxis.range[1] > 30.0


def test_plot_trajectories_keeps_the_default_bounds_for_a_path_inside_them():
    fig = plot_trajectories("rosenbrock", {"inside": short_path()}, resolution=15)
    assert list(fig.layout.xaxis.range) == [-2.0, 2.0]
    assert list(fig.layout.yaxis.range) == [-1.0, 3.0]


def test_plot_trajectories_truncates_a_diverged_path_and_says_where():
    path = short_path(n=6)
    path[4] = float("nan")
    path[5] = float("inf")
    fig = plot_trajectories("rosenbrock", {"SGD(lr=1)": path}, resolution=15)
    traces = [t for t in fig.data if isinstance(t, (go.Scatter, go.Scatter3d)) and t.name.startswith("SGD")]
    assert {t.name for t in traces} == {"SGD(lr=1) — diverged at step 4"}
    for trace in traces:
        assert len(trace.x) == 4 and np.all(np.isfinite(trace.x))


def test_plot_trajectories_diverged_at_step_zero_leaves_an_empty_labelled_trace():
    path = torch.full((3, 2), float("nan"), dtype=torch.float64)
    fig = plot_trajectories("ravine", {"bad": path}, resolution=15)
    trace = next(t for t in fig.data if isinstance(t, go.Scatter) and t.name.startswith("bad"))
    assert trace.name == "bad — diverged at step 0" and len(trace.x) == 0


def test_plot_trajectories_accepts_numpy_float32_and_grad_tensors():
    as_numpy = short_path().numpy()
    as_float32 = short_path().float()
    needs_grad = short_path().requires_grad_()
    fig = plot_trajectories("rosenbrock", {"np": as_numpy, "f32": as_float32, "grad": needs_grad}, resolution=10)
    assert sum(isinstance(t, go.Scatter3d) for t in fig.data) == 3


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(5, 3), torch.zeros(0, 2), torch.zeros(2, 5, 2)])
def test_plot_trajectories_wrong_shape_error_names_the_key_and_the_expected_shape(bad):
    with pytest.raises(ValueError, match=r"'my run'.*\(n_steps, 2\)"):
        plot_trajectories("ravine", {"ok": short_path(), "my run": bad}, resolution=10)


def test_plot_trajectories_rejects_a_list_of_points_naming_the_key():
    with pytest.raises(TypeError, match="'listed'"):
        plot_trajectories("ravine", {"listed": [[0.0, 0.0]]}, resolution=10)


def test_plot_trajectories_rejects_a_bare_tensor_instead_of_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        plot_trajectories("ravine", short_path(), resolution=10)


def test_plot_trajectories_on_a_plain_function_takes_bounds_from_the_paths():
    fig = plot_trajectories(lambda x, y: x**2 + y**2, {"p": short_path(start=(-3, -3), end=(5, 4))}, resolution=10)
    assert fig.layout.xaxis.range[0] < -3 and fig.layout.xaxis.range[1] > 5


# ---------------------------------------------------------------------------- plot_curves


def test_plot_curves_draws_one_line_per_key():
    fig = plot_curves({"SGD": [3.0, 2.0, 1.0], "Adam": np.array([3.0, 1.0]), "t": torch.tensor([1.0, 0.5])})
    assert trace_types(fig) == ["Scatter", "Scatter", "Scatter"]
    assert [t.name for t in fig.data] == ["SGD", "Adam", "t"]
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.data[0].y) == [3.0, 2.0, 1.0]


def test_plot_curves_sets_titles_and_log_axis():
    fig = plot_curves({"a": [1.0, 0.1]}, title="Loss", xaxis_title="epoch", yaxis_title="cross-entropy", log_y=True)
    assert fig.layout.title.text == "Loss"
    assert fig.layout.xaxis.title.text == "epoch" and fig.layout.yaxis.title.text == "cross-entropy"
    assert fig.layout.yaxis.type == "log"


def test_plot_curves_rejects_a_two_dimensional_curve_naming_it():
    with pytest.raises(ValueError, match="'grid'"):
        plot_curves({"grid": [[1.0, 2.0], [3.0, 4.0]]})


def test_plot_curves_rejects_a_list_instead_of_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        plot_curves([1.0, 2.0])


# ---------------------------------------------------------------------------- static twins


def test_plot_trajectories_static_returns_a_figure_with_one_labelled_line_per_path():
    fig = plot_trajectories_static("rosenbrock", {"SGD": short_path(), "Adam": short_path(end=(0, 0))}, resolution=20)
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["global minimum", "SGD", "Adam"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == labels


def test_plot_trajectories_static_widens_limits_and_labels_divergence():
    path = torch.tensor([[0.0, 0.0], [10.0, 10.0], [float("nan"), 0.0]], dtype=torch.float64)
    fig = plot_trajectories_static("ravine", {"run": path}, resolution=20)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] > 10.0 and ax.get_ylim()[1] > 10.0
    assert "run — diverged at step 2" in [line.get_label() for line in ax.get_lines()]


def test_plot_trajectories_static_does_not_register_a_pyplot_figure():
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    plot_trajectories_static("quadratic", {"p": short_path()}, resolution=10)
    assert plt.get_fignums() == before


def test_plot_curves_static_returns_a_figure_with_one_line_per_key_and_log_axis():
    fig = plot_curves_static({"a": [1.0, 0.5, 0.25], "b": [2.0, 1.0]}, title="T", xlabel="epoch", log_y=True)
    ax = fig.axes[0]
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and ax.get_title() == "T"


def test_static_figures_render_to_png_headless(tmp_path):
    fig = plot_trajectories_static("trimodal", {"p": short_path(start=(-0.5, -0.5), end=(0.2, -1.3))}, resolution=20)
    target = tmp_path / "plot.png"
    fig.savefig(target)
    assert target.stat().st_size > 1000


def test_plot_landscape_turns_undefined_values_into_gaps():
    fig = plot_landscape(lambda x, y: torch.log(x) + y, bounds=((-1, 1), (-1, 1)), resolution=10)
    z = np.asarray(fig.data[1].z, dtype=float)
    assert np.isnan(z[:, 0]).all() and np.isfinite(z[:, -1]).all()
    def reject(token):
        raise AssertionError(f"figure JSON holds a bare {token} token, which is not valid JSON")

    json.loads(fig.to_json(), parse_constant=reject)


def test_plot_landscape_rejects_a_resolution_below_two():
    with pytest.raises(ValueError, match="resolution"):
        plot_landscape("ravine", resolution=1)


def test_static_figures_display_as_png_in_a_notebook_without_pyplot():
    fig = plot_curves_static({"a": [1.0, 0.5]})
    assert fig._repr_png_().startswith(b"\x89PNG")
