"""The graded exercises of ``04_param_groups``: SGD with parameter groups, the decay split, Adagrad the PyTorch way.

Rows name the tensors they use by index: ``p0, p1, ...`` are the row's ``shapes`` drawn from its seed by
``course_utils/harness.py``; a group's ``"params"`` is a tuple of indices, or one index for a group given a
single tensor. The rows are described in words by :meth:`GroupsInput.call` (the same text in the check's
messages and the re-check's records). Nothing here says what SGD must produce: the checks compare with
``torch.optim``, the re-check with the reference solution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from course_utils.specs import ErrorOptimizerInput, ExerciseSpec, OptimizerInput, exercises

ASSIGNMENT = "04_param_groups"

GROUP_SHAPES: tuple[tuple[int, ...], ...] = ((2,), (3,), (4,), (5,))
"""p0..p3 of the structure rows."""

STEP_SHAPES: tuple[tuple[int, ...], ...] = ((3,), (2, 4), (4, 1, 2))
"""p0..p2 of the step rows."""

Groups = str | tuple[Mapping[str, Any], ...]  # "list", "generator", or group dicts with "params" as indices


def _index_text(spec: Any) -> str:
    return f"p{spec}" if isinstance(spec, int) else "[" + ", ".join(f"p{i}" for i in spec) + "]"


def groups_call(name: str, params: Groups, kwargs: Mapping[str, Any], n_tensors: int) -> str:
    """``SGD([{'params': [p0, p1], 'lr': 0.01}, ...], lr=0.1)``: the call a row makes, tensors named p0, p1, ..."""
    if params in ("list", "generator"):
        head = f"a {params} of tensors [" + ", ".join(f"p{i}" for i in range(n_tensors)) + "]"
    else:
        head = "[" + ", ".join("{" + ", ".join(f"'{k}': {_index_text(v) if k == 'params' else repr(v)}" for k, v in g.items()) + "}"
                               for g in params) + "]"
    rest = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return f"{name}({head}{rest})"


@dataclass(frozen=True)
class GroupsInput:
    """``SGD(params, **kwargs)`` with ``params`` a list or a generator of ``p0..pn``, or group dicts of indices."""

    desc: str
    params: Groups
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    shapes: tuple[tuple[int, ...], ...] = GROUP_SHAPES
    seed: int = 0
    hidden: bool = False

    def call(self, name: str = "SGD") -> str:
        return groups_call(name, self.params, self.kwargs, len(self.shapes))

    def tensors_row(self) -> OptimizerInput:
        """The row the harness draws ``p0..pn`` from (``course_utils.harness.make_params``)."""
        return OptimizerInput(self.desc, {}, steps=1, shapes=self.shapes, seed=self.seed)


@dataclass(frozen=True)
class GroupsErrorInput(GroupsInput):
    """Arguments SGD must reject with ``error_type`` whose message mentions one of ``mentions`` (any case)."""

    error_type: type[BaseException] = ValueError
    mentions: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        """The word a message is asked to mention, in the teaching text."""
        return self.mentions[0]

    def mentioned_in(self, message: str) -> bool:
        """Whether an error's message mentions one of the row's words (any case)."""
        return any(word.lower() in message.lower() for word in self.mentions)


@dataclass(frozen=True)
class GroupedStepInput(GroupsInput):
    """``steps`` steps of SGD on grouped ``p0..pn`` (noisy-quadratic gradients from ``seed``).

    ``rescale=(k, factor)``: before step ``k + 1``, every group's ``lr`` is multiplied by ``factor``
    through ``optimizer.param_groups``, as a scheduler would.
    """

    steps: int = 6
    shapes: tuple[tuple[int, ...], ...] = STEP_SHAPES
    rescale: tuple[int, float] | None = None

    def trajectory_row(self) -> OptimizerInput:
        """The row whose parameters and gradients the harness draws (``course_utils.harness.run_optimizer``)."""
        return OptimizerInput(self.desc, {}, steps=self.steps, shapes=self.shapes, seed=self.seed)


SPLIT_BASE_LAYERS: tuple[str, ...] = ("Embedding", "Linear", "LayerNorm", "BatchNorm1d", "Linear without bias", "frozen Linear")
"""The layers every decay-split model has (``course_utils/group_harness.py`` builds them)."""

SPLIT_EXTRA_LAYERS: Mapping[str, str] = {
    "tied": "an output Linear whose weight is the Embedding's table (tied weights)",
    "rmsnorm": "RMSNorm",
    "attention": "MultiheadAttention (in_proj_weight, in_proj_bias, out_proj)",
}
"""The layers a row may add, by key, each described in words."""


@dataclass(frozen=True)
class SplitInput:
    """``split_decay_groups(model, weight_decay)`` on the decay-split model (``course_utils/group_harness.py``).

    ``extras`` names the layers of :data:`SPLIT_EXTRA_LAYERS` the model has besides :data:`SPLIT_BASE_LAYERS`.
    ``RMSNorm`` is left out on a PyTorch without ``torch.nn.RMSNorm`` (before 2.4).
    """

    weight_decay: float
    extras: tuple[str, ...] = ()
    seed: int = 0
    hidden: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.extras) - set(SPLIT_EXTRA_LAYERS))
        if unknown:
            raise ValueError(f"SplitInput: unknown extra layers {unknown}; known: {sorted(SPLIT_EXTRA_LAYERS)}")

    @property
    def desc(self) -> str:
        return f"weight_decay={self.weight_decay}"

    @property
    def model_text(self) -> str:
        """The model in words, for the checks' messages and the re-check's records."""
        return "a model with " + ", ".join(SPLIT_BASE_LAYERS + tuple(SPLIT_EXTRA_LAYERS[key] for key in self.extras))


@dataclass(frozen=True)
class ResumeInput:
    """``k`` steps, save model and optimizer with state_dict(), load into fresh objects, ``k`` more steps."""

    dtype: torch.dtype
    k: int
    kwargs: Mapping[str, Any]
    seed: int = 0
    hidden: bool = False

    @property
    def desc(self) -> str:
        return f"{str(self.dtype).replace('torch.', '')}, {self.k} + {self.k} steps"


SGD_GROUP_DEFAULTS: Mapping[str, Any] = {"momentum": 0.0, "weight_decay": 0.0}
"""What a group gets when neither it nor the constructor sets a value; there is no default lr."""

ADAGRAD_DEFAULTS: Mapping[str, Any] = {"lr": 0.01, "eps": 1e-10}
ADAGRAD_DEFAULTS_DESC = "your class's defaults (expected " + ", ".join(f"{k}={v!r}" for k, v in ADAGRAD_DEFAULTS.items()) + ")"

_LR_WORDS = ("lr", "learning rate")

EXERCISES = exercises(
    ExerciseSpec(
        "test_SGD_param_groups", ("SGD",), "param_groups built from lists, generators and group dicts of random tensors; the ValueErrors",
        kind="custom", defaults=SGD_GROUP_DEFAULTS,
        cases=(
            GroupsInput("a list of tensors and lr=0.1", "list", {"lr": 0.1}, seed=100),
            GroupsInput("a generator of tensors and lr=0.1", "generator", {"lr": 0.1}, seed=101),
            GroupsInput("two groups over defaults", ({"params": (0, 1), "lr": 0.01}, {"params": (2, 3), "weight_decay": 0.1}),
                        {"lr": 0.1, "momentum": 0.9}, seed=102),
            GroupsInput("a group whose 'params' is a single tensor, no defaults", ({"params": 0, "lr": 0.5},), seed=103),
            GroupsInput("a group with lr=0.0 and momentum=0.5", ({"params": (0,)}, {"params": (1, 2, 3), "momentum": 0.5, "lr": 0.0}),
                        {"lr": 0.2}, seed=104, hidden=True),
        ),
        errors=(
            GroupsErrorInput("a group without lr and no default lr", ({"params": (0, 1), "lr": 0.1}, {"params": (2, 3)}),
                             seed=200, mentions=_LR_WORDS),
            GroupsErrorInput("p1 in two groups", ({"params": (0, 1)}, {"params": (1, 2, 3)}), {"lr": 0.1}, seed=201, mentions=("group",)),
            GroupsErrorInput("the same tensor twice in one group", ({"params": (0, 0)},), {"lr": 0.1}, seed=202, mentions=("group",),
                             hidden=True),
            GroupsErrorInput("a group with lr=-0.1", ({"params": (0, 1, 2, 3), "lr": -0.1},), seed=203, mentions=_LR_WORDS, hidden=True),
        )),
    ExerciseSpec(
        "test_SGD_groups_step", ("SGD",), "parameters after every step for three group layouts and a rate changed mid-training",
        kind="custom",
        cases=(
            GroupedStepInput("momentum in one group, decay in the other",
                             ({"params": (0,), "lr": 0.1, "momentum": 0.9}, {"params": (1, 2), "lr": 0.01, "weight_decay": 0.1}),
                             {"lr": 0.05}, seed=300),
            GroupedStepInput("a group with lr=0", ({"params": (0, 1), "lr": 0.0, "momentum": 0.9}, {"params": (2,)}),
                             {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.01}, seed=301),
            GroupedStepInput("three groups", ({"params": (0,)}, {"params": (1,), "momentum": 0.0}, {"params": (2,), "lr": 0.3}),
                             {"lr": 0.02, "momentum": 0.8}, seed=302, hidden=True),
            GroupedStepInput("every group's lr multiplied by 0.1 through param_groups before step 4",
                             ({"params": (0,), "lr": 0.1}, {"params": (1,), "lr": 0.05}), {"momentum": 0.9},
                             shapes=((2,), (3,)), seed=350, rescale=(3, 0.1)),
        )),
    ExerciseSpec(
        "test_SGD_groups_contract", ("SGD",), "in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad",
        kind="contract",
        contract_kwargs={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
        # A valid lr beside a bad momentum or weight_decay: SGD has no default lr, so without one the
        # missing-lr error would be raised first and a class that checks nothing else would pass.
        errors=(ErrorOptimizerInput({"lr": -0.1}),
                ErrorOptimizerInput({"lr": 0.1, "momentum": -0.5}, about="momentum"),
                ErrorOptimizerInput({"lr": 0.1, "weight_decay": -0.01}, about="weight_decay"))),
    ExerciseSpec(
        "test_split_decay_groups", ("split_decay_groups",),
        "which parameters of a model with every kind of layer (tied weights, RMSNorm and attention included) are decayed",
        kind="custom",
        cases=(SplitInput(0.05, seed=400),
               SplitInput(0.1, ("tied",), seed=402),
               SplitInput(0.2, ("tied", "rmsnorm", "attention"), seed=403),
               SplitInput(0.3, ("tied", "rmsnorm", "attention"), seed=401, hidden=True))),
    ExerciseSpec(
        "test_Adagrad", ("Adagrad",), "parameters after every step of five configurations; state in self.state",
        kind="optimizer", defaults=ADAGRAD_DEFAULTS,
        contract_kwargs={"lr": 0.1},  # one step with these, then self.state and param_groups are looked at
        cases=(
            OptimizerInput("Adagrad", {"lr": 0.1}, steps=5, seed=500),
            OptimizerInput("large eps", {"lr": 0.05, "eps": 1e-3}, steps=5, seed=501),
            OptimizerInput(ADAGRAD_DEFAULTS_DESC, {}, steps=3, seed=502),
            OptimizerInput("many steps", {"lr": 0.5, "eps": 1e-2}, steps=20, seed=503, hidden=True),
            OptimizerInput("float32", {"lr": 0.1}, steps=6, dtype=torch.float32, seed=504, hidden=True),
        )),
    ExerciseSpec(
        "test_Adagrad_resume", ("Adagrad",), "save, load into fresh objects and continue: the same as the uninterrupted run",
        kind="custom",
        cases=(ResumeInput(torch.float64, 4, {"lr": 0.1}, seed=600),
               ResumeInput(torch.float32, 7, {"lr": 0.05, "eps": 1e-3}, seed=601, hidden=True))),
)
