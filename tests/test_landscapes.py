"""Behaviour of course_utils.landscapes: minima, gradients, conditioning, lookup."""

from __future__ import annotations

import math

import pytest
import torch

from course_utils.landscapes import (
    LANDSCAPES,
    Landscape,
    get_landscape,
    make_ill_conditioned_quadratic,
    neg_trimodal_gauss,
    ravine,
    rosenbrock,
)


def grad_at(fn, point, dtype=torch.float64):
    xy = torch.tensor(point, dtype=dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(xy[0], xy[1]), xy)
    return grad


def hessian_at(fn, point):
    return torch.autograd.functional.hessian(
        lambda xy: fn(xy[0], xy[1]), torch.tensor(point, dtype=torch.float64)
    )


def newton_minimum(fn, point, steps=30):
    xy = torch.tensor(point, dtype=torch.float64)
    for _ in range(steps):
        xy = xy - torch.linalg.solve(hessian_at(fn, xy.tolist()), grad_at(fn, xy.tolist()))
    return xy


def test_registry_has_exactly_the_four_documented_keys():
    assert set(LANDSCAPES) == {"ravine", "rosenbrock", "trimodal", "quadratic"}


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_landscape_name_matches_its_key(name):
    assert LANDSCAPES[name].name == name


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_min_value_is_the_value_at_every_listed_minimum(name):
    landscape = LANDSCAPES[name]
    for point in landscape.minima:
        value = landscape.at(torch.tensor(point, dtype=torch.float64))
        assert value.item() == pytest.approx(landscape.min_value, abs=1e-12)


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_gradient_vanishes_at_every_listed_minimum(name):
    landscape = LANDSCAPES[name]
    assert landscape.minima, f"{name} lists no minimum"
    for point in landscape.minima:
        assert grad_at(landscape, point).abs().max().item() < 1e-9


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_hessian_is_positive_definite_at_every_listed_minimum(name):
    landscape = LANDSCAPES[name]
    for point in landscape.minima:
        assert torch.linalg.eigvalsh(hessian_at(landscape, point)).min().item() > 0


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_no_grid_point_is_below_the_min_value(name):
    landscape = LANDSCAPES[name]
    (x0, x1), (y0, y1) = landscape.bounds
    x, y = torch.meshgrid(
        torch.linspace(x0, x1, 201, dtype=torch.float64),
        torch.linspace(y0, y1, 201, dtype=torch.float64),
        indexing="xy",
    )
    assert landscape(x, y).min().item() >= landscape.min_value - 1e-12


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_start_lies_inside_the_bounds_and_is_not_a_minimum(name):
    landscape = LANDSCAPES[name]
    (x0, x1), (y0, y1) = landscape.bounds
    x, y = landscape.start
    assert x0 <= x <= x1 and y0 <= y <= y1
    assert landscape.at(landscape.start_tensor()).item() > landscape.min_value + 1e-3


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_landscapes_keep_the_input_dtype(name, dtype):
    x = torch.zeros(3, dtype=dtype)
    assert LANDSCAPES[name](x, x).dtype == dtype


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_landscapes_broadcast_x_and_y(name):
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    y = torch.linspace(-1, 1, 3, dtype=torch.float64)
    grid = LANDSCAPES[name](x[None, :], y[:, None])
    assert grid.shape == (3, 5)
    assert grid[2, 4].item() == pytest.approx(LANDSCAPES[name](x[4], y[2]).item())


def test_landscapes_evaluate_on_the_meta_device():
    x = torch.zeros(4, device="meta")
    for landscape in LANDSCAPES.values():
        assert landscape(x, x).device.type == "meta"


def test_ravine_minimum_is_the_origin_with_value_zero():
    zero = torch.zeros((), dtype=torch.float64)
    assert ravine(zero, zero).item() == 0.0
    assert LANDSCAPES["ravine"].minima == ((0.0, 0.0),)


def test_ravine_is_much_steeper_across_than_along():
    eigenvalues = torch.linalg.eigvalsh(hessian_at(ravine, (0.0, 0.0)))
    assert eigenvalues.max() / eigenvalues.min() > 100


def test_ravine_floor_follows_the_sine_curve():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    on_floor = ravine(x, 0.5 * torch.sin(x))
    assert torch.allclose(on_floor, 0.05 * x**2)


def test_rosenbrock_minimum_moves_with_its_parameters():
    a, b = 2.0, 10.0
    point = torch.tensor([a, a**2], dtype=torch.float64)
    assert rosenbrock(point[0], point[1], a=a, b=b).item() == 0.0
    assert grad_at(lambda x, y: rosenbrock(x, y, a=a, b=b), (a, a**2)).abs().max() == 0.0


def test_trimodal_listed_minimum_matches_a_newton_refinement_to_1e_6():
    (point,) = LANDSCAPES["trimodal"].minima
    refined = newton_minimum(neg_trimodal_gauss, point)
    assert torch.allclose(refined, torch.tensor(point, dtype=torch.float64), atol=1e-6)


def test_trimodal_global_minimum_is_lower_than_the_other_two_basins():
    (global_point,) = LANDSCAPES["trimodal"].minima
    global_value = LANDSCAPES["trimodal"].min_value
    others = [newton_minimum(neg_trimodal_gauss, start) for start in [(1.4, 0.8), (0.2, -1.4)]]
    for other in others:
        assert grad_at(neg_trimodal_gauss, other.tolist()).abs().max() < 1e-9  # a genuine critical point
        assert torch.linalg.eigvalsh(hessian_at(neg_trimodal_gauss, other.tolist())).min() > 0  # a minimum
        assert torch.dist(other, torch.tensor(global_point, dtype=torch.float64)) > 1.0  # a different basin
        assert neg_trimodal_gauss(other[0], other[1]).item() > global_value + 0.1


@pytest.mark.parametrize("condition_number, angle", [(1.0, 0.0), (50.0, math.pi / 6), (1000.0, -1.0)])
def test_quadratic_hessian_eigenvalues_are_one_and_the_condition_number(condition_number, angle):
    fn = make_ill_conditioned_quadratic(condition_number, angle)
    eigenvalues = torch.linalg.eigvalsh(hessian_at(fn, (0.3, -0.7)))
    assert torch.allclose(eigenvalues, torch.tensor([1.0, condition_number], dtype=torch.float64))


def test_quadratic_flat_direction_points_along_the_angle():
    angle = math.pi / 6
    fn = make_ill_conditioned_quadratic(50.0, angle)
    eigenvalues, eigenvectors = torch.linalg.eigh(hessian_at(fn, (0.0, 0.0)))
    flat = eigenvectors[:, 0]
    expected = torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
    assert abs(torch.dot(flat, expected).item()) == pytest.approx(1.0)


def test_registered_quadratic_has_condition_number_50_and_is_rotated():
    hessian = hessian_at(LANDSCAPES["quadratic"], (0.0, 0.0))
    eigenvalues = torch.linalg.eigvalsh(hessian)
    assert (eigenvalues.max() / eigenvalues.min()).item() == pytest.approx(50.0)
    assert abs(hessian[0, 1].item()) > 1.0  # not axis-aligned


@pytest.mark.parametrize("bad", [0.5, 0.0, -3.0])
def test_quadratic_rejects_condition_number_below_one(bad):
    with pytest.raises(ValueError, match="condition_number"):
        make_ill_conditioned_quadratic(bad)


def test_quadratic_rejects_a_non_numeric_angle():
    with pytest.raises(TypeError, match="angle"):
        make_ill_conditioned_quadratic(10.0, "pi")


def test_at_evaluates_a_point_of_shape_2():
    landscape = LANDSCAPES["rosenbrock"]
    assert landscape.at(torch.tensor([0.0, 0.0], dtype=torch.float64)).item() == 1.0


def test_at_rejects_a_point_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        LANDSCAPES["rosenbrock"].at(torch.zeros(3))


def test_at_rejects_an_integer_tensor():
    with pytest.raises(TypeError, match="floating-point"):
        LANDSCAPES["rosenbrock"].at(torch.tensor([1, 2]))


def test_start_tensor_is_a_fresh_tensor_with_the_requested_dtype():
    landscape = LANDSCAPES["ravine"]
    first = landscape.start_tensor(dtype=torch.float32)
    first.add_(1.0)
    second = landscape.start_tensor(dtype=torch.float32)
    assert second.dtype == torch.float32 and second.shape == (2,)
    assert second.tolist() == pytest.approx(list(landscape.start))


def test_get_landscape_finds_a_name():
    assert get_landscape("rosenbrock") is LANDSCAPES["rosenbrock"]


def test_get_landscape_passes_a_landscape_through():
    custom = Landscape("custom", "Custom", lambda x, y: x**2 + y**2, ((-1, 1), (-1, 1)), (0.5, 0.5))
    assert get_landscape(custom) is custom


def test_get_landscape_unknown_name_lists_the_valid_names():
    with pytest.raises(KeyError) as info:
        get_landscape("banana")
    message = str(info.value)
    assert "banana" in message
    for name in LANDSCAPES:
        assert repr(name) in message


def test_get_landscape_rejects_a_non_string():
    with pytest.raises(TypeError, match="name"):
        get_landscape(3)


def test_landscape_rejects_bounds_with_min_above_max():
    with pytest.raises(ValueError, match="bounds"):
        Landscape("bad", "Bad", lambda x, y: x, ((1.0, -1.0), (0.0, 1.0)), (0.0, 0.0))
