"""Builds and runs the inputs of ``course_utils/specs/param_groups.py``: parameter groups, the decay split, a resumed run.

The parameter-groups part of the course's harness (``course_utils/harness.py`` draws the tensors and the
gradients), for the student-facing checks (``course_utils/checks/param_groups.py``) and the re-check's
probes (``course_utils/grading/recheck/probes/param_groups.py``) alike. It lives outside
``course_utils.checks`` and ``course_utils.grading`` because the re-check process hides those packages,
and it holds no expected value.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from course_utils import harness
from course_utils.harness import Seeds, fixed_seeds
from course_utils.specs.param_groups import GroupedStepInput, GroupsInput, ResumeInput, SplitInput

__all__ = [
    "group_tensors", "group_arguments", "owners", "run_grouped", "DecaySplitModel", "split_model", "parameter_uses", "ResumeRun", "run_resume",
]


def group_tensors(row: GroupsInput, device: torch.device, seeds: Seeds = fixed_seeds) -> list[torch.Tensor]:
    """``p0..pn``: leaf tensors of the row's shapes, drawn from ``seeds(row.seed)``."""
    return harness.make_params(row.tensors_row(), device, seeds)


def group_arguments(row: GroupsInput, tensors: Sequence[torch.Tensor]) -> tuple[Any, list[list[torch.Tensor]]]:
    """(the ``params`` argument of the row's call, the tensors each group was given, as lists)."""
    if row.params == "list":
        return list(tensors), [list(tensors)]
    if row.params == "generator":
        return (t for t in tensors), [list(tensors)]
    built, given = [], []
    for group in row.params:
        spec = group["params"]
        chosen = tensors[spec] if isinstance(spec, int) else [tensors[i] for i in spec]
        built.append({**group, "params": chosen})
        given.append([chosen] if isinstance(spec, int) else list(chosen))
    return built, given


def owners(row: GroupsInput) -> dict[int, int]:
    """``{tensor index: index of the group it is in}`` for a row of group dicts."""
    return {i: g_index for g_index, g in enumerate(row.params) for i in ((g["params"],) if isinstance(g["params"], int) else g["params"])}


def run_grouped(optimizer_class: Any, row: GroupedStepInput, device: torch.device, seeds: Seeds = fixed_seeds, *,
                on_step: Callable[[int, list[torch.Tensor]], None] | None = None) -> harness.Snapshots:
    """``optimizer_class(groups, **row.kwargs)`` stepped on the row's noisy quadratic; the parameters after each step.

    With ``row.rescale = (k, factor)``, every group's lr is multiplied by ``factor`` through
    ``param_groups`` before step ``k + 1``.
    """
    trajectory = row.trajectory_row()
    params = harness.make_params(trajectory, device, seeds)
    curvature, noise = harness.gradient_terms(trajectory, device, seeds)
    built, _ = group_arguments(row, params)
    optimizer = optimizer_class(built, **row.kwargs)
    snapshots: harness.Snapshots = []
    for step in range(row.steps):
        if row.rescale is not None and step == row.rescale[0]:
            for group in optimizer.param_groups:
                group["lr"] *= row.rescale[1]
        harness.set_gradients(params, curvature, noise[step])
        optimizer.step()
        snapshots.append([p.detach().clone() for p in params])
        if on_step is not None:
            on_step(step + 1, params)
    return snapshots


# --- the decay / no-decay split ---------------------------------------------------------------------------

SPLIT_SIZES = (10, 4, 8, 3)
"""(vocabulary, width, hidden, out) of the checks' model; the re-check draws its own from the seed."""


class DecaySplitModel(nn.Module):
    """A model with every kind of parameter the split must sort (the layers of ``course_utils/specs/param_groups.py``).

    Always: Embedding, Linear, LayerNorm, a Linear without bias and BatchNorm, a Linear head, a frozen Linear.
    ``extras`` may add ``"tied"`` (a decoder Linear whose weight *is* the embedding table, registered after
    it, as in GPT-2), ``"rmsnorm"`` (when ``torch.nn.RMSNorm`` exists) and ``"attention"``
    (``nn.MultiheadAttention``, whose ``in_proj_weight`` and ``in_proj_bias`` belong to the module itself).
    """

    def __init__(self, vocabulary: int, width: int, hidden: int, out: int, extras: Sequence[str] = ()) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        if "attention" in extras:
            self.attention = nn.MultiheadAttention(width, num_heads=1)
        self.proj = nn.Linear(width, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.body = nn.Sequential(nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU())
        if "rmsnorm" in extras and hasattr(nn, "RMSNorm"):
            self.rms = nn.RMSNorm(hidden)
        self.head = nn.Linear(hidden, out)
        self.frozen = nn.Linear(out, out)
        self.frozen.requires_grad_(False)
        if "tied" in extras:
            self.decoder = nn.Linear(width, vocabulary)
            self.decoder.weight = self.embed.weight


def split_model(row: SplitInput, seeds: Seeds | None = None) -> DecaySplitModel:
    """The model for a split row: the fixed sizes, or (with ``seeds``) sizes and values drawn from ``seeds(row.seed)``."""
    if seeds is None:
        return DecaySplitModel(*SPLIT_SIZES, extras=row.extras)
    gen = seeds(row.seed)
    model = DecaySplitModel(*(int(v) for v in torch.randint(3, 10, (4,), generator=gen)), extras=row.extras)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def parameter_uses(model: nn.Module) -> list[tuple[str, nn.Module, str, torch.Tensor]]:
    """(module's name, module, the parameter's local name, the parameter) for every use of a parameter by a module.

    A tied tensor appears once per module that holds it, where ``model.named_parameters()`` gives it once.
    """
    return [(module_name, module, local, p) for module_name, module in model.named_modules()
            for local, p in module.named_parameters(recurse=False)]


# --- save, load, continue ---------------------------------------------------------------------------------

_RESUME_WIDTHS = (4, 6, 2)


def _resume_model(initial: Sequence[torch.Tensor], dtype: torch.dtype, device: torch.device) -> nn.Module:
    a, b, c = _RESUME_WIDTHS
    model = nn.Sequential(nn.Linear(a, b), nn.Tanh(), nn.Linear(b, c)).to(dtype=dtype)
    with torch.no_grad():
        for p, value in zip(model.parameters(), initial):
            p.copy_(value)
    return model.to(device)


class ResumeRun:
    """The uninterrupted model and the one saved after ``k`` steps, loaded into fresh objects and trained ``k`` more."""

    def __init__(self, straight: nn.Module, resumed: nn.Module) -> None:
        self.straight, self.resumed = straight, resumed

    def pairs(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """(name, uninterrupted value, resumed value) for every parameter."""
        return [(name, a.detach(), b.detach()) for (name, a), b in zip(self.straight.named_parameters(), self.resumed.parameters())]


def run_resume(optimizer_class: Any, row: ResumeInput, device: torch.device, seeds: Seeds = fixed_seeds) -> ResumeRun:
    """Train ``2k`` steps straight; train ``k``, save model and optimizer, load both into fresh objects, train ``k`` more.

    The model's starting weights and the data are drawn from ``seeds(row.seed)``; the fresh objects start
    from other values, so everything after loading must come from the checkpoint.
    """
    gen = seeds(row.seed)
    a, b, c = _RESUME_WIDTHS
    shapes = [(b, a), (b,), (c, b), (c,)]
    initial = [torch.randn(s, generator=gen, dtype=row.dtype) for s in shapes]
    inputs = torch.randn(16, a, generator=gen, dtype=row.dtype).to(device)
    targets = torch.randn(16, c, generator=gen, dtype=row.dtype).to(device)

    def train(model: nn.Module, optimizer: Any, steps: int) -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            ((model(inputs) - targets) ** 2).mean().backward()
            optimizer.step()

    straight = _resume_model(initial, row.dtype, device)
    train(straight, optimizer_class(straight.parameters(), **row.kwargs), 2 * row.k)
    first = _resume_model(initial, row.dtype, device)
    first_opt = optimizer_class(first.parameters(), **row.kwargs)
    train(first, first_opt, row.k)
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "optimizer": first_opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    resumed = _resume_model([v + 1.0 for v in initial], row.dtype, device)
    resumed.load_state_dict(saved["model"])
    resumed_opt = optimizer_class(resumed.parameters(), **row.kwargs)
    resumed_opt.load_state_dict(copy.deepcopy(saved["optimizer"]))
    train(resumed, resumed_opt, row.k)
    return ResumeRun(straight, resumed)
