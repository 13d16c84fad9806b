"""Checks for the graded exercises of ``04_param_groups``.

- ``SGD`` with parameter groups: the structure of ``param_groups`` (defaults filled in, the errors),
  the step (per-group hyper-parameters against ``torch.optim.SGD`` with the same groups, a group
  with ``lr=0``, a rate changed mid-training) and the usual optimizer contract;
- ``split_decay_groups``: which parameters are decayed, on a model with Linear, Embedding, LayerNorm
  and BatchNorm layers;
- ``Adagrad`` as a ``torch.optim.Optimizer`` subclass: numbers against ``torch.optim.Adagrad``, state
  in ``self.state``, and a ``state_dict()`` round trip that resumes training bit for bit.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from course_utils.checks.feedback import CheckFailed, first_mismatch, passed, quiet, tensors_equal, tolerance_for
from course_utils.checks.guards import require_own_implementation
from course_utils.checks.optimizer_contract import check_contract
from course_utils.checks.optimizer_harness import KnownMistake, OptimizerConfig, compare_optimizer, require_signature, student_error
from course_utils.checks.trajectory import require_student_function
from course_utils.device import get_device

__all__ = [
    "check_sgd_param_groups",
    "check_sgd_groups_step",
    "check_sgd_groups_contract",
    "check_split_decay_groups",
    "check_adagrad",
    "check_adagrad_resume",
    "CELL_CHECKS",
]

HYPERPARAMS = ("lr", "momentum", "weight_decay")


def _require_by_hand(SGD: Any) -> None:
    require_own_implementation(SGD, "SGD")
    if issubclass(SGD, torch.optim.Optimizer):
        raise CheckFailed("SGD subclasses torch.optim.Optimizer, which builds param_groups for you. This exercise asks you "
                          "to build them by hand (Adagrad, later in the chapter, is the one written as a subclass).")


def _build(SGD: Any, params: Any, what: str, **defaults: Any) -> Any:
    try:
        return SGD(params, **defaults)
    except Exception as error:
        raise student_error("SGD", f"when built with {what}", error) from None


def _tensors(n: int = 4) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(2 + i, generator=gen, dtype=torch.float64).requires_grad_(True) for i in range(n)]


def _expect_groups(optimizer: Any, expected: list[dict], what: str) -> None:
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise CheckFailed(f"SGD built with {what} has no param_groups list of dicts (got {type(groups).__name__}).")
    if len(groups) != len(expected):
        raise CheckFailed(f"SGD built with {what} has {len(groups)} param_groups; expected {len(expected)}.")
    for index, (got, want) in enumerate(zip(groups, expected)):
        params = got.get("params")
        if not isinstance(params, list) or len(params) != len(want["params"]) or any(a is not b for a, b in zip(params, want["params"])):
            raise CheckFailed(f"SGD built with {what}: group {index}'s 'params' should be a list of the same tensor objects, in order "
                              f"({len(want['params'])} tensors); got {type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}.")
        for key in HYPERPARAMS:
            if key not in got:
                raise CheckFailed(f"SGD built with {what}: group {index} has no '{key}'. Fill every hyper-parameter into every group "
                                  f"(from the group, else from the defaults, else momentum=0.0, weight_decay=0.0), as torch.optim does.")
            if got[key] != want[key]:
                raise CheckFailed(f"SGD built with {what}: group {index} has {key}={got[key]!r}; expected {want[key]!r} "
                                  f"(a group's own value wins over the defaults).")


def _expect_value_error(SGD: Any, params: Any, what: str, word: str, **defaults: Any) -> None:
    """SGD(params, **defaults) must raise ValueError whose message mentions ``word`` ("lr" also accepts "learning rate")."""
    accepted = (word, "learning rate") if word == "lr" else (word,)
    try:
        SGD(params, **defaults)
    except ValueError as error:
        if not any(w.lower() in str(error).lower() for w in accepted):
            raise CheckFailed(f"SGD built with {what} raised ValueError({str(error)!r}); the message should mention {word!r}.") from None
        return
    except Exception as error:
        raise CheckFailed(f"SGD built with {what} raised {type(error).__name__} ({error}); expected a ValueError mentioning {word!r}.") from None
    raise CheckFailed(f"SGD built with {what} was accepted; expected a ValueError mentioning {word!r}.")


def check_sgd_param_groups(SGD: Any, *, thorough: bool = False) -> None:
    """param_groups: one dict per group with 'params' (a list) and every hyper-parameter; the ValueErrors."""
    with quiet():
        _require_by_hand(SGD)
        ps = _tensors()
        _expect_groups(_build(SGD, ps, "a list of tensors and lr=0.1", lr=0.1), [{"params": ps, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}], "a list of tensors and lr=0.1")
        _expect_groups(_build(SGD, (p for p in ps), "a generator and lr=0.1", lr=0.1), [{"params": ps, "lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}], "a generator of tensors")
        groups = [{"params": ps[:2], "lr": 0.01}, {"params": ps[2:], "weight_decay": 0.1}]
        what = "[{'params': [p0, p1], 'lr': 0.01}, {'params': [p2, p3], 'weight_decay': 0.1}], lr=0.1, momentum=0.9"
        _expect_groups(_build(SGD, groups, what, lr=0.1, momentum=0.9),
                       [{"params": ps[:2], "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0}, {"params": ps[2:], "lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}], what)
        _expect_groups(_build(SGD, [{"params": ps[0], "lr": 0.5}], "a group whose 'params' is a single tensor"),
                       [{"params": ps[:1], "lr": 0.5, "momentum": 0.0, "weight_decay": 0.0}], "[{'params': p0, 'lr': 0.5}] (no defaults)")
        _expect_value_error(SGD, [{"params": ps[:2], "lr": 0.1}, {"params": ps[2:]}], "a group without lr and no default lr", "lr")
        _expect_value_error(SGD, [{"params": ps[:2]}, {"params": ps[1:]}], "p1 in two groups", "group", lr=0.1)
        if thorough:
            _expect_value_error(SGD, [{"params": [ps[0], ps[0]]}], "the same tensor twice in one group", "group", lr=0.1)
            _expect_value_error(SGD, [{"params": ps, "lr": -0.1}], "a group with lr=-0.1", "lr")
            _expect_groups(_build(SGD, [{"params": ps[:1]}, {"params": ps[1:], "momentum": 0.5, "lr": 0.0}], "a group with lr 0", lr=0.2),
                           [{"params": ps[:1], "lr": 0.2, "momentum": 0.0, "weight_decay": 0.0}, {"params": ps[1:], "lr": 0.0, "momentum": 0.5, "weight_decay": 0.0}],
                           "a group with lr=0.0 and momentum=0.5")
    passed("SGD builds param_groups like torch.optim: defaults filled into every group, the group's own values win, and the errors are raised.")


def _grouped(SGD: Any, layout: list[dict], defaults: Mapping[str, Any]) -> Any:
    """A factory ``make(params)`` that splits params into the groups of ``layout`` (slices of the parameter list)."""
    def make(params: list[torch.Tensor], **_: Any) -> Any:
        groups = [{**{k: v for k, v in g.items() if k != "slice"}, "params": params[g["slice"]]} for g in layout]
        return SGD(groups, **defaults)
    make.__name__ = getattr(SGD, "__name__", "SGD")
    return make


def _layout_text(layout: list[dict], defaults: Mapping[str, Any]) -> str:
    groups = ", ".join("{" + ", ".join(f"{k}={v!r}" for k, v in g.items() if k != "slice") + "}" for g in layout)
    return f"groups [{groups}] with defaults {dict(defaults)}"


def check_sgd_groups_step(SGD: Any, *, thorough: bool = False) -> None:
    """Each group steps with its own hyper-parameters, a group with lr=0 stays put, and a rate changed mid-training applies."""
    device = get_device()
    layouts = [
        ([{"slice": slice(0, 1), "lr": 0.1, "momentum": 0.9}, {"slice": slice(1, 3), "lr": 0.01, "weight_decay": 0.1}], {"lr": 0.05}),
        ([{"slice": slice(0, 2), "lr": 0.0, "momentum": 0.9}, {"slice": slice(2, 3)}], {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.01}),
    ]
    if thorough:
        layouts.append(([{"slice": slice(0, 1)}, {"slice": slice(1, 2), "momentum": 0.0}, {"slice": slice(2, 3), "lr": 0.3}], {"lr": 0.02, "momentum": 0.8}))
    with quiet():
        _require_by_hand(SGD)
        for index, (layout, defaults) in enumerate(layouts):
            config = OptimizerConfig(_layout_text(layout, defaults), {}, n_steps=6 if thorough else 4, seed=index)
            compare_optimizer(_grouped(SGD, layout, defaults), _grouped(torch.optim.SGD, layout, defaults), [config],
                              exercise="SGD", reference_name="torch.optim.SGD with the same groups", device=device)
        # A learning rate changed through param_groups mid-training applies from the next step on.
        runs = []
        for cls in (SGD, torch.optim.SGD):
            params = [p.detach().to(device).requires_grad_(True) for p in _tensors(2)]
            opt = cls([{"params": params[:1], "lr": 0.1}, {"params": params[1:], "lr": 0.05}], momentum=0.9)
            for step in range(6):
                if step == 3:
                    for group in opt.param_groups:
                        group["lr"] *= 0.1
                for p in params:
                    p.grad = p.detach() * 0.5 + 1.0
                try:
                    opt.step()
                except Exception as error:
                    raise student_error("SGD", "after its learning rates were changed through param_groups", error) from None
            runs.append(params)
        for i, (mine, ref) in enumerate(zip(*runs)):
            if first_mismatch(ref.detach(), mine.detach(), tolerance_for(ref.dtype)) is not None:
                raise CheckFailed("After `for g in opt.param_groups: g['lr'] *= 0.1` at step 4, SGD's parameters differ from torch.optim.SGD's "
                                  f"(parameter {i}). step() must read each group's hyper-parameters afresh at every call, not copies made in __init__.")
    passed(f"SGD steps every group with its own hyper-parameters: {len(layouts)} layouts (lr=0 included) and a mid-training change of lr.")


def check_sgd_groups_contract(SGD: Any, *, thorough: bool = False) -> None:
    """The grouped SGD still behaves like a PyTorch optimizer (in place, grad untouched, grad=None, state, zero_grad)."""
    with quiet():
        _require_by_hand(SGD)
        checked = check_contract(SGD, exercise="SGD", stateful_hyperparams={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
                                 invalid_hyperparams=[("lr", -0.1), ("momentum", -0.5), ("weight_decay", -0.01)],
                                 device=get_device(), thorough=thorough)
    passed("SGD with groups behaves like a PyTorch optimizer: " + "; ".join(checked) + ".")


# --- decay / no-decay split ------------------------------------------------------------------------------


class _Tagger(nn.Module):
    """A model with every kind of parameter the split must sort: Embedding, Linear, LayerNorm, BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.proj = nn.Linear(4, 8)
        self.norm = nn.LayerNorm(8)
        self.body = nn.Sequential(nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Linear(8, 3)
        self.frozen = nn.Linear(3, 3)
        self.frozen.requires_grad_(False)


def check_split_decay_groups(split_decay_groups: Any, *, thorough: bool = False) -> None:
    """Two groups: Linear weights decayed; biases, norm parameters and embeddings not; frozen parameters left out."""
    require_student_function(split_decay_groups, "split_decay_groups")
    with quiet():
        model = _Tagger()
        names = {id(p): n for n, p in model.named_parameters()}
        decay = {"proj.weight", "body.0.weight", "head.weight"}
        keep = {"embed.weight", "proj.bias", "norm.weight", "norm.bias", "body.1.weight", "body.1.bias", "head.bias"}
        for wd in ((0.05, 0.3) if thorough else (0.05,)):
            try:
                groups = split_decay_groups(model, wd)
            except Exception as error:
                raise student_error("split_decay_groups", f"on a model with Embedding, Linear, LayerNorm and BatchNorm1d layers (weight_decay={wd})", error) from None
            if not isinstance(groups, list) or len(groups) != 2 or not all(isinstance(g, dict) and "params" in g for g in groups):
                raise CheckFailed(f"split_decay_groups(model, {wd}) should return a list of two dicts, each with 'params' and 'weight_decay'; got {groups!r:.200}")
            if groups[0].get("weight_decay") != wd or groups[1].get("weight_decay") != 0.0:
                raise CheckFailed(f"split_decay_groups(model, {wd}): expected weight_decay={wd} in the first group and 0.0 in the second; "
                                  f"got {groups[0].get('weight_decay')!r} and {groups[1].get('weight_decay')!r}.")
            got = [[names.get(id(p), "<a tensor that is not one of the model's parameters>") for p in g["params"]] for g in groups]
            flat = got[0] + got[1]
            duplicates = sorted({n for n in flat if flat.count(n) > 1})
            if duplicates:
                raise CheckFailed(f"split_decay_groups puts these parameters in the groups more than once: {duplicates}. Each goes in exactly one group.")
            for name in sorted(set(flat) - decay - keep):
                raise CheckFailed(f"split_decay_groups includes {name}, which is frozen (requires_grad=False) or not a parameter of the model. Leave frozen parameters out.")
            wrongly_decayed = sorted(set(got[0]) & keep)
            if wrongly_decayed:
                raise CheckFailed(f"split_decay_groups decays {wrongly_decayed}. Biases, normalization layers' weights and biases "
                                  f"(LayerNorm, BatchNorm) and embedding tables belong in the no-decay group.")
            missing = sorted((decay | keep) - set(flat))
            if missing:
                raise CheckFailed(f"split_decay_groups leaves out {missing}: every trainable parameter must be in one of the two groups.")
            not_decayed = sorted(set(got[1]) & decay)
            if not_decayed:
                raise CheckFailed(f"split_decay_groups does not decay {not_decayed}: weights of Linear layers belong in the decayed group.")
    passed("split_decay_groups decays Linear weights only: biases, LayerNorm/BatchNorm parameters and embeddings are not decayed, frozen ones are left out.")


# --- Adagrad, the PyTorch way ----------------------------------------------------------------------------

ADAGRAD_DEFAULTS: Mapping[str, Any] = {"lr": 0.01, "eps": 1e-10}


def reference_adagrad(params: Any, **hyperparams: Any) -> torch.optim.Adagrad:
    return torch.optim.Adagrad(params, **{**ADAGRAD_DEFAULTS, **hyperparams}, lr_decay=0, weight_decay=0, initial_accumulator_value=0)


def _adagrad_rule(*, eps_inside: bool = False, no_history: bool = False):
    def rule(p: torch.Tensor, grad: torch.Tensor, state: dict, h: Mapping[str, Any]) -> None:
        total = grad * grad if no_history else state.get("sum", torch.zeros_like(p)) + grad * grad
        state["sum"] = total
        denom = (total + h["eps"]).sqrt() if eps_inside else total.sqrt() + h["eps"]
        p.add_(grad / denom, alpha=-h["lr"])
    return rule


ADAGRAD_MISTAKES = (
    KnownMistake("eps inside the square root", "Add eps after the square root: sum.sqrt() + eps.", _adagrad_rule(eps_inside=True), ADAGRAD_DEFAULTS),
    KnownMistake("the squared gradients are not accumulated", "Adagrad adds every step's g * g to a running sum kept in self.state[p].",
                 _adagrad_rule(no_history=True), ADAGRAD_DEFAULTS),
)


def _require_optimizer_subclass(Adagrad: Any) -> None:
    require_own_implementation(Adagrad, "Adagrad")
    if not issubclass(Adagrad, torch.optim.Optimizer):
        raise CheckFailed("Adagrad should subclass torch.optim.Optimizer (the base class), call super().__init__(params, defaults) "
                          "and keep its per-parameter state in self.state, so that state_dict() works.")


def check_adagrad(Adagrad: Any, *, thorough: bool = False) -> None:
    """Adagrad, a torch.optim.Optimizer subclass, matches torch.optim.Adagrad and keeps its state in self.state."""
    device = get_device()
    ladder = [OptimizerConfig("Adagrad", {"lr": 0.1}, n_steps=5), OptimizerConfig("large eps", {"lr": 0.05, "eps": 1e-3}, n_steps=5),
              OptimizerConfig("your class's defaults (expected lr=0.01, eps=1e-10)", {}, n_steps=3)]
    if thorough:
        ladder += [OptimizerConfig("many steps", {"lr": 0.5, "eps": 1e-2}, n_steps=20, seed=1), OptimizerConfig("float32", {"lr": 0.1}, n_steps=6, dtype=torch.float32, seed=2)]
    with quiet():
        _require_optimizer_subclass(Adagrad)
        require_signature(Adagrad, "Adagrad", ADAGRAD_DEFAULTS)
        steps = compare_optimizer(Adagrad, reference_adagrad, ladder, exercise="Adagrad", reference_name="torch.optim.Adagrad",
                                  mistakes=ADAGRAD_MISTAKES, device=device)
        params = [torch.randn(3, dtype=torch.float64, device=device).requires_grad_(True)]
        optimizer = Adagrad(params, lr=0.1)
        params[0].grad = torch.ones_like(params[0])
        optimizer.step()
        if not optimizer.state or params[0] not in optimizer.state:
            raise CheckFailed("After a step, Adagrad's self.state holds nothing for the parameter. Keep the running sum in self.state[p] "
                              "(the base class creates it as a defaultdict), or state_dict() will not save it.")
        for key in ("lr", "eps"):
            if key not in optimizer.param_groups[0]:
                raise CheckFailed(f"Adagrad's param_groups have no '{key}': pass defaults = dict(lr=lr, eps=eps) to super().__init__.")
    passed(f"Adagrad matches torch.optim.Adagrad: {len(ladder)} configurations, {steps} steps; state lives in self.state.")


def _resume_model(dtype: torch.dtype, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).to(device=device, dtype=dtype)


def check_adagrad_resume(Adagrad: Any, *, thorough: bool = False) -> None:
    """k steps, save model and optimizer, load into fresh objects, k more steps: bit for bit the uninterrupted run."""
    device = get_device()
    settings = [(torch.float64, 4, {"lr": 0.1})]
    if thorough:
        settings += [(torch.float32, 7, {"lr": 0.05, "eps": 1e-3})]
    with quiet():
        _require_optimizer_subclass(Adagrad)
        for dtype, k, hp in settings:
            gen = torch.Generator().manual_seed(1)
            inputs = torch.randn(16, 4, generator=gen, dtype=dtype).to(device)
            targets = torch.randn(16, 2, generator=gen, dtype=dtype).to(device)

            def train(model: nn.Module, optimizer: Any, steps: int) -> None:
                for _ in range(steps):
                    optimizer.zero_grad()
                    ((model(inputs) - targets) ** 2).mean().backward()
                    optimizer.step()

            try:
                straight = _resume_model(dtype, device)
                train(straight, Adagrad(straight.parameters(), **hp), 2 * k)
                first = _resume_model(dtype, device)
                first_opt = Adagrad(first.parameters(), **hp)
                train(first, first_opt, k)
                buffer = io.BytesIO()
                torch.save({"model": first.state_dict(), "optimizer": first_opt.state_dict()}, buffer)
                buffer.seek(0)
                saved = torch.load(buffer, weights_only=False)
                resumed = _resume_model(dtype, device)
                with torch.no_grad():
                    for p in resumed.parameters():
                        p.add_(1.0)  # fresh objects with other values: everything must come from the checkpoint
                resumed.load_state_dict(saved["model"])
                resumed_opt = Adagrad(resumed.parameters(), **hp)
                resumed_opt.load_state_dict(copy.deepcopy(saved["optimizer"]))
                train(resumed, resumed_opt, k)
            except CheckFailed:
                raise
            except Exception as error:
                raise student_error("Adagrad", f"during the save-and-resume run ({str(dtype).replace('torch.', '')}, {k} + {k} steps)", error) from None
            for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
                if not tensors_equal(a.detach(), b.detach()):
                    raise CheckFailed(
                        f"Training {k} steps, saving model and optimizer with state_dict(), loading them into fresh objects and training {k} "
                        f"more steps does not reproduce {2 * k} uninterrupted steps: parameter {name} differs "
                        f"(largest difference {float((a - b).abs().max()):.3g}).\nState kept outside self.state (another dict, an attribute) "
                        f"is not saved by state_dict(): keep the running sum and the step count in self.state[p]."
                    )
    passed("Adagrad resumes exactly: save, load into fresh objects, continue, and every parameter equals the uninterrupted run bit for bit.")


CELL_CHECKS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "test_SGD_param_groups": (check_sgd_param_groups, ("SGD",)),
    "test_SGD_groups_step": (check_sgd_groups_step, ("SGD",)),
    "test_SGD_groups_contract": (check_sgd_groups_contract, ("SGD",)),
    "test_split_decay_groups": (check_split_decay_groups, ("split_decay_groups",)),
    "test_Adagrad": (check_adagrad, ("Adagrad",)),
    "test_Adagrad_resume": (check_adagrad_resume, ("Adagrad",)),
}
"""Test cell grade_id -> (check, the notebook names it is called with, in order)."""
