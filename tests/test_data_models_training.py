"""Behaviour of course_utils.data, course_utils.models and course_utils.training."""

from __future__ import annotations

import pytest
import torch

from course_utils.data import Split, iterate_minibatches, load_diabetes_split, load_digits_split
from course_utils.models import make_linear_regression, make_mlp
from course_utils.training import TrainingHistory, accuracy, compare_optimizers_on_digits, train_classifier


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


# ---------------------------------------------------------------------------- digits


def test_digits_split_shapes_and_dtypes(digits):
    assert digits.X_train.shape == (1347, 64) and digits.X_test.shape == (450, 64)
    assert digits.y_train.shape == (1347,) and digits.y_test.shape == (450,)
    assert digits.X_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert digits.n_features == 64


def test_digits_pixels_are_scaled_to_the_unit_interval(digits):
    for X in (digits.X_train, digits.X_test):
        assert X.min().item() == 0.0 and X.max().item() == 1.0


def test_digits_labels_are_the_ten_digits(digits):
    assert set(digits.y_train.tolist()) == set(range(10)) == set(digits.y_test.tolist())


def test_digits_split_is_reproducible_for_a_seed(digits):
    again = load_digits_split()
    assert torch.equal(digits.X_train, again.X_train) and torch.equal(digits.y_test, again.y_test)


def test_digits_split_changes_with_the_seed(digits):
    other = load_digits_split(seed=1)
    assert not torch.equal(digits.X_train, other.X_train)


def test_digits_split_is_stratified(digits):
    train_share = torch.bincount(digits.y_train, minlength=10) / len(digits.y_train)
    test_share = torch.bincount(digits.y_test, minlength=10) / len(digits.y_test)
    assert (train_share - test_share).abs().max().item() < 0.005


def test_digits_train_and_test_do_not_overlap_and_cover_the_data(digits):
    rows = torch.cat([digits.X_train, digits.X_test])
    assert len(rows) == 1797
    assert len(torch.unique(torch.cat([rows, torch.cat([digits.y_train, digits.y_test])[:, None]], 1), dim=0)) >= 1790


def test_digits_test_fraction_sets_the_test_size():
    assert len(load_digits_split(test_fraction=0.5).y_test) in (898, 899)


def test_digits_dtype_float64():
    assert load_digits_split(dtype=torch.float64).X_train.dtype == torch.float64


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_digits_rejects_a_test_fraction_outside_zero_one(bad):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(test_fraction=bad)


def test_digits_rejects_an_integer_dtype():
    with pytest.raises(TypeError, match="floating-point"):
        load_digits_split(dtype=torch.int64)


def test_split_is_not_compared_elementwise(digits):
    assert digits == digits and digits != load_digits_split()


# ---------------------------------------------------------------------------- diabetes


def test_diabetes_split_shapes():
    split = load_diabetes_split()
    assert split.X_train.shape == (331, 10) and split.X_test.shape == (111, 10)
    assert split.y_train.shape == (331,) and split.y_train.dtype == torch.float32


def test_diabetes_is_standardised_with_train_statistics():
    split = load_diabetes_split(dtype=torch.float64)
    assert torch.allclose(split.X_train.mean(0), torch.zeros(10, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(split.X_train.std(0, unbiased=False), torch.ones(10, dtype=torch.float64))
    assert split.y_train.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert split.y_train.std(unbiased=False).item() == pytest.approx(1.0)
    # the test part uses the train statistics, so it is close to standard but not exactly
    assert split.y_test.mean().abs().item() > 1e-6


def test_diabetes_split_is_reproducible_for_a_seed():
    assert torch.equal(load_diabetes_split(seed=3).y_test, load_diabetes_split(seed=3).y_test)


# ---------------------------------------------------------------------------- minibatches


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 5), (10, 20), (1, 1)])
def test_minibatches_cover_every_index_once(n, batch_size):
    batches = list(iterate_minibatches(n, batch_size, generator=torch.Generator().manual_seed(0)))
    assert sorted(torch.cat(batches).tolist()) == list(range(n))
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size


def test_minibatches_without_shuffle_are_in_order():
    assert [b.tolist() for b in iterate_minibatches(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]


def test_minibatches_shuffle_reproducibly_with_a_generator():
    first = torch.cat(list(iterate_minibatches(50, 8, generator=torch.Generator().manual_seed(1))))
    second = torch.cat(list(iterate_minibatches(50, 8, generator=torch.Generator().manual_seed(1))))
    assert torch.equal(first, second) and not torch.equal(first, torch.arange(50))


def test_minibatches_of_nothing_are_empty():
    assert list(iterate_minibatches(0, 4)) == []


def test_minibatches_reject_a_zero_batch_size_when_called():
    with pytest.raises(ValueError, match="batch_size"):
        iterate_minibatches(10, 0)


def test_minibatches_reject_a_generator_of_the_wrong_type():
    with pytest.raises(TypeError, match="torch.Generator"):
        iterate_minibatches(10, 2, generator=0)


# ---------------------------------------------------------------------------- models


def test_mlp_maps_features_to_logits():
    model = make_mlp(64, (32, 16), 10)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert model(torch.zeros(5, 64)).shape == (5, 10)


def test_mlp_without_hidden_layers_is_a_single_linear_layer():
    assert [type(m).__name__ for m in make_mlp(8, (), 3)] == ["Linear"]


def test_mlp_is_deterministic_for_a_seed():
    first, second = make_mlp(seed=7), make_mlp(seed=7)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_mlp_differs_between_seeds():
    assert not torch.equal(make_mlp(seed=0)[0].weight, make_mlp(seed=1)[0].weight)


def test_mlp_ignores_and_keeps_the_global_random_state():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    model = make_mlp(seed=0)
    assert torch.equal(torch.rand(1), expected)
    torch.manual_seed(999)
    assert torch.equal(make_mlp(seed=0)[0].weight, model[0].weight)


def test_mlp_weights_stay_in_the_default_init_range():
    model = make_mlp(64, (64,), 10)
    bound = 1 / 64**0.5
    assert model[0].weight.abs().max().item() <= bound and model[0].weight.abs().max().item() > 0.9 * bound


def test_mlp_float64_is_the_float32_model_in_higher_precision():
    single, double = make_mlp(dtype=torch.float32), make_mlp(dtype=torch.float64)
    assert double[0].weight.dtype == torch.float64
    assert torch.allclose(single[0].weight.double(), double[0].weight, atol=1e-7)


def test_mlp_rejects_an_int_for_hidden_sizes():
    with pytest.raises(TypeError, match="hidden_sizes"):
        make_mlp(64, 64, 10)


def test_mlp_rejects_a_zero_width_layer():
    with pytest.raises(ValueError, match=r"hidden_sizes\[1\]"):
        make_mlp(64, (32, 0), 10)


def test_linear_regression_parameters_are_zero_leaves_that_need_grad():
    w, b = make_linear_regression(10)
    assert w.shape == (10,) and b.shape == ()
    assert w.dtype == torch.float64 and b.dtype == torch.float64
    assert w.requires_grad and b.requires_grad and w.is_leaf and b.is_leaf
    assert w.abs().sum().item() == 0.0 and b.item() == 0.0


def test_linear_regression_rejects_zero_features():
    with pytest.raises(ValueError, match="in_features"):
        make_linear_regression(0)


# ---------------------------------------------------------------------------- training


def test_accuracy_counts_argmax_matches():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.1, 0.2]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 0])) == pytest.approx(0.5)


def test_accuracy_rejects_labels_of_another_length():
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        accuracy(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))


def test_accuracy_rejects_float_labels():
    with pytest.raises(TypeError, match="integer class indices"):
        accuracy(torch.zeros(2, 3), torch.zeros(2))


def test_sgd_with_momentum_learns_the_digits(digits):
    model = make_mlp(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = train_classifier(model, optimizer, digits, n_epochs=10, progress=False)
    assert isinstance(history, TrainingHistory)
    assert history.test_accuracy[-1] > 0.85
    assert history.train_loss[-1] < history.train_loss[0] / 5


def test_history_has_one_entry_per_epoch(digits):
    model = make_mlp(seed=0)
    history = train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.05), digits, n_epochs=3, progress=False)
    for values in (history.train_loss, history.test_loss, history.train_accuracy, history.test_accuracy):
        assert len(values) == 3 and all(isinstance(v, float) for v in values)


def test_training_is_reproducible_for_a_seed(digits):
    histories = []
    for _ in range(2):
        model = make_mlp(seed=0)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        histories.append(train_classifier(model, optimizer, digits, n_epochs=2, progress=False))
    assert histories[0] == histories[1]


def test_training_works_with_a_hand_written_optimizer(digits):
    class PlainSGD:
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        @torch.no_grad()
        def step(self):
            for p in self.params:
                p -= self.lr * p.grad

    model = make_mlp(seed=0)
    history = train_classifier(model, PlainSGD(model.parameters(), lr=0.2), digits, n_epochs=3, progress=False)
    assert history.test_accuracy[-1] > 0.5


def test_training_calls_zero_grad_then_step_once_per_minibatch(digits):
    calls = []

    class Recording(torch.optim.SGD):
        def zero_grad(self, set_to_none=True):
            calls.append("zero_grad")
            super().zero_grad(set_to_none)

        def step(self, closure=None):
            calls.append("step")
            return super().step(closure)

    model = make_mlp(seed=0)
    train_classifier(model, Recording(model.parameters(), lr=0.1), digits, n_epochs=2, batch_size=500, progress=False)
    assert calls == ["zero_grad", "step"] * 6  # 1347 examples = 3 batches of <= 500, twice


def test_training_moves_data_to_a_float64_model(digits):
    model = make_mlp(seed=0, dtype=torch.float64)
    history = train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), digits, n_epochs=1, progress=False)
    assert len(history.train_loss) == 1


def test_training_leaves_the_model_in_train_mode(digits):
    model = make_mlp(seed=0)
    train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), digits, n_epochs=1, progress=False)
    assert model.training


def test_training_rejects_an_optimizer_without_step(digits):
    with pytest.raises(TypeError, match=r"zero_grad\(\) and step\(\)"):
        train_classifier(make_mlp(), object(), digits, n_epochs=1, progress=False)


def test_training_rejects_a_tuple_instead_of_a_split():
    model = make_mlp()
    with pytest.raises(TypeError, match="Split"):
        train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), (1, 2, 3, 4), progress=False)


def test_training_rejects_zero_epochs(digits):
    model = make_mlp()
    with pytest.raises(ValueError, match="n_epochs"):
        train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), digits, n_epochs=0, progress=False)


def test_compare_optimizers_starts_every_run_from_the_same_model():
    seen = []

    def recording_sgd(params):
        params = list(params)
        seen.append([p.detach().clone() for p in params])
        return torch.optim.SGD(params, lr=0.1)

    histories = compare_optimizers_on_digits({"a": recording_sgd, "b": recording_sgd}, n_epochs=2, progress=False)
    assert list(histories) == ["a", "b"]
    assert all(torch.equal(x, y) for x, y in zip(*seen))
    assert histories["a"] == histories["b"]


def test_compare_optimizers_gives_different_curves_for_different_optimizers():
    histories = compare_optimizers_on_digits(
        {"SGD": lambda p: torch.optim.SGD(p, lr=0.1), "Adam": lambda p: torch.optim.Adam(p, lr=1e-3)},
        n_epochs=2,
        hidden_sizes=(16,),
        progress=False,
    )
    assert histories["SGD"].train_loss != histories["Adam"].train_loss
    assert all(len(h.test_accuracy) == 2 for h in histories.values())


def test_compare_optimizers_rejects_a_factory_that_is_not_callable():
    with pytest.raises(TypeError, match=r"optimizers\['SGD'\] must be callable"):
        compare_optimizers_on_digits({"SGD": torch.optim.SGD(make_mlp().parameters(), lr=0.1)}, progress=False)


def test_split_holds_its_four_tensors(digits):
    assert isinstance(digits, Split)
    assert digits.n_train == 1347 and digits.n_test == 450


# ---------------------------------------------------------------------------- progress bars


class FakeHandle:
    """Stands in for IPython's display handle: records every bundle the bar shows."""

    def __init__(self, bundle):
        self.shown = [bundle]

    def update(self, bundle, raw=False):
        assert raw
        self.shown.append(bundle)


def test_progress_bar_in_a_kernel_updates_one_display_output_in_place(monkeypatch):
    from course_utils import progress

    handles = []
    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    monkeypatch.setattr(progress, "_display", lambda bundle: handles.append(FakeHandle(bundle)) or handles[-1])
    with progress.ProgressBar(total=5, desc="training", unit="epochs", mininterval=0, miniters=1) as bar:
        for _ in range(5):
            bar.update()
    assert len(handles) == 1, "one output, updated in place"
    counts = [b["text/plain"] for b in handles[0].shown]
    assert any("2/5" in line for line in counts) and "training" in counts[0]
    last = handles[0].shown[-1]
    assert "5/5" in last["text/plain"] and '<progress value="5" max="5"' in last["text/html"]


def test_progress_bar_outside_a_kernel_is_tqdm_on_its_file(monkeypatch):
    import io

    from course_utils import progress

    monkeypatch.setattr(progress, "_in_kernel", lambda: False)
    sink = io.StringIO()
    for _ in progress.ProgressBar(range(3), desc="epochs", file=sink, mininterval=0):
        pass
    assert "3/3" in sink.getvalue()


@pytest.mark.slow
def test_a_trained_notebook_saves_a_readable_final_line_and_no_widget():
    """Run a training cell in a real kernel (nbclient) and read what the saved notebook keeps."""
    import nbformat
    from nbclient import NotebookClient

    source = (
        "import torch\n"
        "from course_utils import data, models, training\n"
        "digits = data.load_digits_split()\n"
        "model = models.make_mlp(seed=0)\n"
        "history = training.train_classifier(model, torch.optim.SGD(model.parameters(), lr=0.1), digits, n_epochs=4)"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    mimes = [set(o.get("data", {})) for o in outputs]
    assert not [m for m in mimes if "application/vnd.jupyter.widget-view+json" in m]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    lines = [o.data["text/plain"] for o in outputs if "text/plain" in o.get("data", {})]
    assert len(lines) == 1 and "training" in lines[0] and "4/4" in lines[0] and "epochs" in lines[0]
