"""A demonstration cell, skipped while grading, still provides the helpers it defines."""

from __future__ import annotations

import ast
import textwrap

from course_utils.grading.definitions import definitions_only

DEMONSTRATION = textwrap.dedent('''
    %matplotlib inline
    import functools
    import torch
    from course_utils import landscapes as ls

    SEED = 0
    LRS = (0.1, 0.01)
    SETTINGS = {"steps": 50, "betas": [0.9, -0.999]}
    SEED_TYPED: int = 3


    def cache(fn):
        return fn


    @cache
    @functools.wraps(print)
    def quadratic_loss(w):
        """Half the squared norm."""
        # a comment inside is kept
        return 0.5 * (w * w).sum()


    class Tracker:
        """Remembers losses."""

        def __init__(self):
            self.losses = []


    torch.manual_seed(SEED)
    model = torch.nn.Linear(2, 1)
    losses = train_for_ages(model)
    for lr in LRS:
        losses.append(train_for_ages(model, lr=lr))
    fig = plot(losses)
    fig.show()
    if SEED == 0:
        def only_sometimes():
            pass
    !nvidia-smi
    model.weight = None
    SEED += 1
''')


def kept_names(source: str) -> list[str]:
    names = []
    for statement in ast.parse(source).body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names += [alias.asname or alias.name for alias in statement.names]
        elif isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign):
            names += [target.id for target in statement.targets]
        elif isinstance(statement, ast.AnnAssign):
            names.append(statement.target.id)
    return names


def test_keeps_imports_constants_functions_with_decorators_and_classes() -> None:
    kept = definitions_only(DEMONSTRATION)
    assert kept_names(kept) == ["functools", "torch", "ls", "SEED", "LRS", "SETTINGS", "SEED_TYPED", "cache", "quadratic_loss", "Tracker"]
    assert "@cache\n@functools.wraps(print)\ndef quadratic_loss(w):" in kept
    assert "# a comment inside is kept" in kept and '"""Remembers losses."""' in kept


def test_drops_training_loops_plots_if_blocks_and_assignments_from_calls() -> None:
    kept = definitions_only(DEMONSTRATION)
    for dropped in ("manual_seed", "train_for_ages", "for lr", "plot(", "fig", "if SEED", "only_sometimes", "nvidia", "model",
                    "SEED += 1", "%matplotlib"):
        assert dropped not in kept, dropped


def test_executing_the_result_defines_the_helpers() -> None:
    namespace: dict = {}
    exec(compile(definitions_only(DEMONSTRATION), "<definitions>", "exec"), namespace)
    import torch

    assert namespace["quadratic_loss"](torch.tensor([1.0, 2.0])).item() == 2.5
    assert namespace["Tracker"]().losses == [] and namespace["LRS"] == (0.1, 0.01) and namespace["SEED"] == 0


def test_a_cell_that_does_not_parse_gives_nothing() -> None:
    assert definitions_only("def broken(:\n    return 1\n") == ""
    assert definitions_only("%%bash\necho hello\n") == ""
    assert definitions_only("plot(losses)\nfor x in y:\n    train(x)\n") == ""


def test_magic_lines_inside_a_definition_and_shared_lines() -> None:
    kept = definitions_only("%%time\nimport os; run_everything()\ndef helper():\n    %time x = 1\n    return 2\n")
    assert "run_everything" not in kept and "import os" in kept
    namespace: dict = {}
    exec(kept, namespace)
    assert namespace["helper"]() == 2


def test_only_literals_and_lookups_count_as_constants() -> None:
    kept = definitions_only("A = 1\nB = -2.5\nC = A\nD = [1, 2] * 10\nE = {1, 'x'}\nF = f'{A}'\nG, H = 1, 2\nobj.attr = 3\n")
    assert kept.splitlines() == ["A = 1", "B = -2.5", "C = A", "E = {1, 'x'}", "G, H = 1, 2"]


def test_keeps_assignments_that_only_look_things_up() -> None:
    source = 'rosenbrock = landscapes.LANDSCAPES["rosenbrock"]\nsine = math.sin\nfig = plotting.plot(rosenbrock)\n'
    kept = definitions_only(source)
    assert 'rosenbrock = landscapes.LANDSCAPES["rosenbrock"]' in kept and "sine = math.sin" in kept
    assert "fig" not in kept


def test_a_lookup_of_a_dropped_name_is_dropped_with_it() -> None:
    cell = textwrap.dedent('''\
        split = data.load_diabetes_split()
        n_train, n_features = split.X_train.shape
        shape = torch.Size
        LR = 0.1
        ''')
    kept = definitions_only(cell)
    assert "split" not in kept and "n_features" not in kept
    assert "shape = torch.Size" in kept and "LR = 0.1" in kept
    namespace: dict = {"torch": __import__("torch")}
    exec(kept, namespace)  # would raise NameError if the lookup of `split` had been kept
    assert namespace["LR"] == 0.1


def test_a_lookup_of_another_cells_skipped_result_leaves_its_name_unbound() -> None:
    kept = definitions_only('middle = decay["AdamW"][1]\nyour_model = results["AdamW"][1][1]\n')
    namespace: dict = {"decay": {"AdamW": [0.0, 0.1]}}
    exec(kept, namespace)  # `results` came from a training loop that grading skips
    assert namespace["middle"] == 0.1 and "your_model" not in namespace
