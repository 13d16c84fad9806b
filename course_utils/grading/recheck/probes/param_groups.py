"""Independent probes for ``04_param_groups``: SGD with parameter groups, split_decay_groups, Adagrad as an Optimizer subclass.

The groups, layouts and invalid inputs are those of the in-notebook checks, written here as data: a
group's ``"params"`` is a list of indices into the probe's tensors (or one index, for a group given a
single tensor). The tensors, gradients, model weights and data are drawn from the recorder's seed.
"""

from __future__ import annotations

import copy
import inspect
import io
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from course_utils.grading.recheck.observations import Recorder, plain
from course_utils.grading.recheck.probes import Probe
from course_utils.grading.recheck.probes.common import (
    OptimizerCase, gradient_recipe, lookup, random_params, record_trajectory, set_gradients,
)
from course_utils.grading.recheck.probes.contract import record_contract

_HYPERPARAMS = ("lr", "momentum", "weight_decay")
_MISSING = "<no such key>"


# --- SGD with parameter groups ----------------------------------------------------------------------------


def _record_by_hand(rec: Recorder, SGD: Any) -> None:
    """The exercise builds param_groups itself: a class, not a subclass of torch.optim.Optimizer."""
    rec.record("SGD is a class of your own (not a subclass of torch.optim.Optimizer, which would build param_groups for you)",
               inspect.isclass(SGD) and not issubclass(SGD, torch.optim.Optimizer))


def _spec_text(spec: Any) -> str:
    if spec in ("list", "generator"):
        return f"a {spec} of tensors [p0, p1, p2, p3]"
    if isinstance(spec, int):
        return f"p{spec}"
    return "[" + ", ".join(f"p{i}" for i in spec) + "]"


def _groups_text(groups: Any, defaults: Mapping[str, Any]) -> str:
    """``SGD(...)`` as it was called, with the probe's tensors named p0, p1, ..."""
    if isinstance(groups, str):
        head = _spec_text(groups)
    else:
        head = "[" + ", ".join("{" + ", ".join(f"'{k}': {_spec_text(v) if k == 'params' else repr(v)}" for k, v in g.items()) + "}"
                               for g in groups) + "]"
    rest = "".join(f", {k}={v!r}" for k, v in defaults.items())
    return f"SGD({head}{rest})"


def _build_groups(groups: Any, tensors: Sequence[torch.Tensor]) -> tuple[Any, list[list[torch.Tensor]]]:
    """(the params argument, the tensors each group was given, as lists)."""
    if groups == "list":
        return list(tensors), [list(tensors)]
    if groups == "generator":
        return (t for t in tensors), [list(tensors)]
    built, given = [], []
    for group in groups:
        spec = group["params"]
        chosen = tensors[spec] if isinstance(spec, int) else [tensors[i] for i in spec]
        built.append({**group, "params": chosen})
        given.append([chosen] if isinstance(spec, int) else list(chosen))
    return built, given


# (label, groups: "list" / "generator" / group dicts with "params" as indices, defaults)
_GROUP_STRUCTURES: list[tuple[str, Any, dict[str, Any]]] = [
    ("a list of tensors", "list", {"lr": 0.1}),
    ("a generator of tensors", "generator", {"lr": 0.1}),
    ("two groups over defaults", [{"params": [0, 1], "lr": 0.01}, {"params": [2, 3], "weight_decay": 0.1}], {"lr": 0.1, "momentum": 0.9}),
    ("a group whose 'params' is a single tensor, no defaults", [{"params": 0, "lr": 0.5}], {}),
    ("a group with lr=0.0 and momentum=0.5", [{"params": [0]}, {"params": [1, 2, 3], "momentum": 0.5, "lr": 0.0}], {"lr": 0.2}),
]

# (label, groups, defaults, the word the ValueError's message must mention)
_GROUP_ERRORS: list[tuple[str, Any, dict[str, Any], str]] = [
    ("a group without lr and no default lr", [{"params": [0, 1], "lr": 0.1}, {"params": [2, 3]}], {}, "lr"),
    ("p1 in two groups", [{"params": [0, 1]}, {"params": [1, 2, 3]}], {"lr": 0.1}, "group"),
    ("the same tensor twice in one group", [{"params": [0, 0]}], {"lr": 0.1}, "group"),
    ("a group with lr=-0.1", [{"params": [0, 1, 2, 3], "lr": -0.1}], {}, "lr"),
]


def _value_error_outcome(build: Any, word: str) -> str:
    accepted = (word, "learning rate") if word == "lr" else (word,)
    try:
        build()
    except ValueError as error:
        if any(w.lower() in str(error).lower() for w in accepted):
            return f"raises ValueError mentioning {word!r}"
        return f"raises ValueError whose message does not mention {word!r}"
    except Exception as error:  # noqa: BLE001
        return f"raises {type(error).__name__}"
    return "accepted"


def probe_sgd_param_groups(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    _record_by_hand(rec, SGD)
    for case, (label, groups, defaults) in enumerate(_GROUP_STRUCTURES):
        tensors = random_params(rec, 100 + case, [(2 + i,) for i in range(4)])
        params, given = _build_groups(groups, tensors)
        where = f"{_groups_text(groups, defaults)} [{label}]"
        optimizer = SGD(params, **defaults)
        found = getattr(optimizer, "param_groups", None)
        is_list = type(found) is list and all(isinstance(g, dict) for g in found)
        rec.record(f"{where}: param_groups is a list of dicts", is_list)
        if not is_list:
            return
        rec.record(f"{where}: the number of param_groups", len(found))
        for index, group in enumerate(found[:len(given)]):
            tensors_in = group.get("params")
            rec.record(f"{where}: group {index}'s 'params' is a list", type(tensors_in) is list)
            order = [next((i for i, t in enumerate(tensors) if t is p), -1) for p in tensors_in] if type(tensors_in) is list else []
            rec.record(f"{where}: group {index}'s 'params', as indices of the tensors p0..p3 (-1: another object)", order)
            for key in _HYPERPARAMS:
                rec.record(f"{where}: group {index}'s '{key}'", group.get(key, _MISSING))
    for case, (label, groups, defaults, word) in enumerate(_GROUP_ERRORS):
        tensors = random_params(rec, 200 + case, [(2 + i,) for i in range(4)])
        params, _ = _build_groups(groups, tensors)
        rec.record(f"{_groups_text(groups, defaults)} [{label}]", _value_error_outcome(lambda: SGD(params, **defaults), word))


# (label, groups with "params" as indices of the three parameters, defaults)
_STEP_LAYOUTS: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("momentum in one group, decay in the other", [{"params": [0], "lr": 0.1, "momentum": 0.9}, {"params": [1, 2], "lr": 0.01, "weight_decay": 0.1}],
     {"lr": 0.05}),
    ("a group with lr=0", [{"params": [0, 1], "lr": 0.0, "momentum": 0.9}, {"params": [2]}], {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.01}),
    ("three groups", [{"params": [0]}, {"params": [1], "momentum": 0.0}, {"params": [2], "lr": 0.3}], {"lr": 0.02, "momentum": 0.8}),
]
_STEP_SHAPES = ((3,), (2, 4), (4, 1, 2))
_STEP_COUNT = 6

# a rate changed through param_groups: two groups, momentum 0.9, every group's lr multiplied by 0.1 before step 4
_CHANGE_GROUPS = [{"params": [0], "lr": 0.1}, {"params": [1], "lr": 0.05}]
_CHANGE_DEFAULTS = {"momentum": 0.9}
_CHANGE_SHAPES = ((2,), (3,))
_CHANGE_AT, _CHANGE_FACTOR, _CHANGE_STEPS = 3, 0.1, 6


def _group_of(groups: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    return {i: g_index for g_index, g in enumerate(groups) for i in g["params"]}


def _record_grouped_run(rec: Recorder, SGD: Any, label: str, groups: list[dict[str, Any]], defaults: dict[str, Any],
                        shapes: Sequence[tuple[int, ...]], n_steps: int, tag: int, change: tuple[int, float] | None = None) -> None:
    params = random_params(rec, tag, shapes)
    curvature, noise = gradient_recipe(rec, tag, shapes, n_steps)
    built, _ = _build_groups(groups, params)
    optimizer = SGD(built, **defaults)
    owner = _group_of(groups)
    where = f"{_groups_text(groups, defaults)} [{label}]"
    for step in range(n_steps):
        if change is not None and step == change[0]:
            for group in optimizer.param_groups:
                group["lr"] *= change[1]
        set_gradients(params, curvature, noise[step])
        optimizer.step()
        for index, p in enumerate(params):
            rec.record(f"{where}: group {owner[index]}, parameter p{index} (shape {tuple(p.shape)}) after step {step + 1}", p)


def probe_sgd_groups_step(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    _record_by_hand(rec, SGD)
    for case, (label, groups, defaults) in enumerate(_STEP_LAYOUTS):
        _record_grouped_run(rec, SGD, label, groups, defaults, _STEP_SHAPES, _STEP_COUNT, 300 + case)
    _record_grouped_run(rec, SGD, f"every group's lr multiplied by {_CHANGE_FACTOR} through param_groups before step {_CHANGE_AT + 1}",
                        _CHANGE_GROUPS, _CHANGE_DEFAULTS, _CHANGE_SHAPES, _CHANGE_STEPS, 350, change=(_CHANGE_AT, _CHANGE_FACTOR))


def probe_sgd_groups_contract(rec: Recorder, ns: Mapping[str, Any]) -> None:
    SGD = lookup(ns, "SGD")
    _record_by_hand(rec, SGD)
    record_contract(rec, SGD, name="SGD", hyperparams={"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1},
                    invalid=[("lr", -0.1), ("momentum", -0.5), ("weight_decay", -0.01)])


# --- decay / no-decay split -------------------------------------------------------------------------------


class _Tagger(nn.Module):
    """A model with every kind of parameter the split must sort: Embedding, Linear, LayerNorm, BatchNorm, a frozen Linear."""

    def __init__(self, vocabulary: int, width: int, hidden: int, out: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.proj = nn.Linear(width, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.body = nn.Sequential(nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out)
        self.frozen = nn.Linear(out, out)
        self.frozen.requires_grad_(False)


_SPLIT_DECAYS = (0.05, 0.3)


def _placement(param: torch.Tensor, members: Sequence[Sequence[torch.Tensor]]) -> str:
    """Where ``param`` went: "group 0 (decayed)", "group 1 (not decayed)", "left out", or every place it appears."""
    places = [index for index, tensors in enumerate(members) for p in tensors if p is param]
    if not places:
        return "left out"
    if len(places) == 1:
        return f"group {places[0]} ({'decayed' if places[0] == 0 else 'not decayed'})"
    return "more than once: in groups " + ", ".join(map(str, places))


def probe_split_decay_groups(rec: Recorder, ns: Mapping[str, Any]) -> None:
    split = lookup(ns, "split_decay_groups")
    for case, wd in enumerate(_SPLIT_DECAYS):
        gen = rec.generator(400 + case)
        sizes = [int(v) for v in torch.randint(3, 10, (4,), generator=gen)]
        model = _Tagger(*sizes)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
        names = {id(p): n for n, p in model.named_parameters()}
        where = f"split_decay_groups(model, {wd}) on a model with Embedding, Linear, LayerNorm, BatchNorm1d and a frozen Linear"
        groups = split(model, wd)
        shaped = type(groups) is list and len(groups) == 2 and all(isinstance(g, dict) and "params" in g for g in groups)
        rec.record(f"{where}: returns a list of two dicts, each with 'params'", shaped)
        if not shaped:
            return
        rec.record(f"{where}: the groups' weight_decay (first, second)", [groups[0].get("weight_decay", _MISSING), groups[1].get("weight_decay", _MISSING)])
        members = [list(group["params"]) for group in groups]
        rec.record(f"{where}: tensors in the groups that are not parameters of the model",
                   sum(1 for tensors in members for p in tensors if id(p) not in names))
        for name, param in model.named_parameters():
            rec.record(f"{where}: the group of {name}{'' if param.requires_grad else ' (frozen)'}", _placement(param, members))


# --- Adagrad, the PyTorch way -----------------------------------------------------------------------------

_ADAGRAD_LADDER = [
    OptimizerCase("Adagrad", {"lr": 0.1}, n_steps=5),
    OptimizerCase("large eps", {"lr": 0.05, "eps": 1e-3}, n_steps=5),
    OptimizerCase("the class's defaults", {}, n_steps=3),
    OptimizerCase("many steps", {"lr": 0.5, "eps": 1e-2}, n_steps=20),
    OptimizerCase("float32", {"lr": 0.1}, n_steps=6, dtype=torch.float32),
]
_ADAGRAD_ARGUMENTS = ("lr", "eps")


def _record_optimizer_subclass(rec: Recorder, Adagrad: Any) -> None:
    rec.record("Adagrad is a subclass of torch.optim.Optimizer (the base class)",
               inspect.isclass(Adagrad) and issubclass(Adagrad, torch.optim.Optimizer))


def _signature_defaults(cls: Any) -> dict[str, Any] | str:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return "<signature not readable>"
    found: dict[str, Any] = {}
    for name in _ADAGRAD_ARGUMENTS:
        if name not in parameters:
            found[name] = "<no such argument>"
        elif parameters[name].default is inspect.Parameter.empty:
            found[name] = "<no default>"
        else:
            found[name] = parameters[name].default
    return found


def probe_adagrad(rec: Recorder, ns: Mapping[str, Any]) -> None:
    Adagrad = lookup(ns, "Adagrad")
    _record_optimizer_subclass(rec, Adagrad)
    rec.record("Adagrad(params, lr=..., eps=...): the constructor's default lr and eps", _signature_defaults(Adagrad))
    for index, case in enumerate(_ADAGRAD_LADDER):
        record_trajectory(rec, Adagrad, case, 500 + index, class_name="Adagrad")
    params = random_params(rec, 550, [(3,)])
    optimizer = Adagrad(params, lr=0.1)
    params[0].grad = torch.ones_like(params[0])
    optimizer.step()
    state = getattr(optimizer, "state", None)
    rec.record("Adagrad(params, lr=0.1) after one step: self.state holds an entry for the parameter",
               state is not None and bool(state) and params[0] in state)
    group = optimizer.param_groups[0]
    for key in _ADAGRAD_ARGUMENTS:
        rec.record(f"Adagrad(params, lr=0.1): param_groups[0] has '{key}'", key in group)


# (dtype, k: steps before and after the checkpoint, hyper-parameters)
_RESUME_SETTINGS = [(torch.float64, 4, {"lr": 0.1}), (torch.float32, 7, {"lr": 0.05, "eps": 1e-3})]


def _resume_model(initial: Sequence[torch.Tensor], dtype: torch.dtype, device: torch.device) -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).to(dtype=dtype)
    with torch.no_grad():
        for p, value in zip(model.parameters(), initial):
            p.copy_(value)
    return model.to(device)


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit the same, compared on plain copies so that a tensor subclass cannot answer for itself."""
    a, b = plain(a), plain(b)
    return type(a) is torch.Tensor and type(b) is torch.Tensor and a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def probe_adagrad_resume(rec: Recorder, ns: Mapping[str, Any]) -> None:
    Adagrad = lookup(ns, "Adagrad")
    _record_optimizer_subclass(rec, Adagrad)
    device = rec.device
    for case, (dtype, k, hp) in enumerate(_RESUME_SETTINGS):
        gen = rec.generator(600 + case)
        shapes = [p.shape for p in nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).parameters()]
        initial = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
        inputs = torch.randn(16, 4, generator=gen, dtype=dtype).to(device)
        targets = torch.randn(16, 2, generator=gen, dtype=dtype).to(device)

        def train(model: nn.Module, optimizer: Any, steps: int) -> None:
            for _ in range(steps):
                optimizer.zero_grad()
                ((model(inputs) - targets) ** 2).mean().backward()
                optimizer.step()

        straight = _resume_model(initial, dtype, device)
        train(straight, Adagrad(straight.parameters(), **hp), 2 * k)
        first = _resume_model(initial, dtype, device)
        first_opt = Adagrad(first.parameters(), **hp)
        train(first, first_opt, k)
        buffer = io.BytesIO()
        torch.save({"model": first.state_dict(), "optimizer": first_opt.state_dict()}, buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=False)
        resumed = _resume_model([v + 1.0 for v in initial], dtype, device)  # other values: everything must come from the checkpoint
        resumed.load_state_dict(saved["model"])
        resumed_opt = Adagrad(resumed.parameters(), **hp)
        resumed_opt.load_state_dict(copy.deepcopy(saved["optimizer"]))
        train(resumed, resumed_opt, k)
        label = str(dtype).replace("torch.", "")
        args = ", ".join(f"{key}={value!r}" for key, value in hp.items())
        where = (f"Adagrad(model.parameters(), {args}), {label}: {k} steps, save model and optimizer with state_dict(), "
                 f"load into fresh objects, {k} more steps")
        for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
            rec.record(f"{where}: parameter {name} equals the uninterrupted {2 * k} steps bit for bit", _identical(a, b))


PROBES: dict[str, Probe] = {
    "test_SGD_param_groups": Probe(probe_sgd_param_groups, "param_groups built from lists, generators and group dicts of random tensors; the ValueErrors"),
    "test_SGD_groups_step": Probe(probe_sgd_groups_step, "parameters after every step for three group layouts and a rate changed mid-training"),
    "test_SGD_groups_contract": Probe(probe_sgd_groups_contract, "in place, grad untouched, grad=None, frozen layer, odd tensors, state, generator, zero_grad"),
    "test_split_decay_groups": Probe(probe_split_decay_groups, "which parameters of a model with every kind of layer are decayed"),
    "test_Adagrad": Probe(probe_adagrad, "parameters after every step of five configurations; state in self.state"),
    "test_Adagrad_resume": Probe(probe_adagrad_resume, "save, load into fresh objects and continue: the same as the uninterrupted run"),
}
